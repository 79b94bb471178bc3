"""Score a BED file (or a FASTA of sequences) end to end: ``seqlift score``.

:func:`score` checks everything it can before writing anything (options,
output directory, the regions file and genome, the model, its input shape,
the tasks), then streams the input in chunks of regions: each chunk is
fetched from the genome, one-hot encoded, scored with
:func:`seqlift.engine.attribute` and appended to ``PREFIX.h5.partial``
(:class:`~seqlift.scoring.store.ScoreStore`) with a record that it is done.
When every chunk is in, the derived outputs are written and published
(:func:`seqlift.scoring.outputs.write_outputs`). Memory is bounded by the chunk size
and the batch size, whatever the number of regions.

Reproducibility
---------------
The references of a sequence depend only on the sequence and the seed
(:mod:`seqlift.sequences.shuffle`), and the engine computes each (sequence, reference)
pair with kernels whose result for a row does not depend on the batch
(:mod:`seqlift.model.invariant`), summing over references in a fixed order.
The arrays are therefore bit for bit identical whatever the batch size, and
whether the input is scored whole, in shards, in chunks of any size or resumed
after an interruption. As a second guard, the sequences are scored in *passes
aligned to the input*: pass ``g`` holds the input rows ``g*B .. g*B+B-1``
(``B`` the batch size, in sequences), each in its own slot, with all-zero
sequences in the slots of dropped rows, of rows outside the run (another
shard's, or already done) and past the end, so every call has the same shapes.

Each pass evaluates ``B * S`` (sequence, reference) pairs (twice with
``revcomp="average"``), ``S`` the number of shuffles.

Reverse complements
-------------------
With ``revcomp="average"`` each sequence ``x`` is also scored as its reverse
complement ``x[::-1, ::-1]`` against the reverse complements of its own
references (``r[..., ::-1, ::-1]`` for every shuffle ``r`` of ``x``: a
dinucleotide shuffle of ``x`` reverse-complemented is one of the reverse
complement, and pairing them keeps the two strands' references in
correspondence), and the two results are averaged after mapping the reverse
strand's back (``a[..., ::-1, ::-1]``). Residuals and target differences are
averaged too. Windows are otherwise always read on the genome's forward
strand, whatever the BED strand column says, so that the scores line up
with genome coordinates.

Interruption and resuming
-------------------------
Ctrl-C and SIGTERM (what SLURM and Snakemake send first) stop the run
between two HDF5 writes; the partial file then holds every completed chunk
and ``resume=True`` continues from the last one, refusing if any parameter
differs. A hard kill (SIGKILL) while a chunk is being written can leave the
HDF5 file damaged; resuming then says so. A run that fails on its input
removes its partial file: nothing is left behind.

For tests, the environment variable :data:`TEST_SIGNAL_ENV` set to
``K:NAME`` makes the run send itself signal ``SIGNAME`` (``INT``, ``TERM``
or ``KILL``) right after chunk ``K`` is recorded.
"""
from __future__ import annotations

import contextlib
import gzip
import json
import logging
import math
import os
import platform
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqlift.errors import SeqliftError, read_head
from seqlift.scoring.outputs import (
    bigwig_available,
    check_output_prefix,
    discard,
    output_names,
    partial_name,
    write_outputs,
)
from seqlift.scoring.store import ScoreStore

__all__ = [
    "ScoreOptions",
    "ScoreResult",
    "score",
    "parse_shard",
    "parse_tasks",
    "shard_rows",
    "parameter_differences",
    "TEST_SIGNAL_ENV",
    "GENOME_ENV",
]

log = logging.getLogger("seqlift.scoring.run")

#: environment variable naming the genome FASTA when ``--genome`` is not given
GENOME_ENV = "SEQLIFT_GENOME"
#: testing hook: ``K:NAME`` sends SIG<NAME> to the run once chunk K is recorded
TEST_SIGNAL_ENV = "SEQLIFT_TEST_SIGNAL_AFTER_CHUNK"
REVCOMP_MODES = ("none", "average")
#: activation memory one pass may use, for the default batch size
PASS_BYTES = 256 * 2**20
#: most sequences per pass by default (more gains nothing on a CPU)
MAX_DEFAULT_BATCH = 256
#: memory the arrays of one chunk may use, for the default chunk size
CHUNK_BYTES = 128 * 2**20
#: most input rows per chunk by default
MAX_DEFAULT_CHUNK = 1024
#: parameters that do not change the scores, ignored when resuming and merging
OUTPUT_ONLY_PARAMETERS = ("bigwig",)
_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz")
_BED_SUFFIXES = (".bed", ".bed.gz", ".narrowpeak", ".narrowpeak.gz", ".broadpeak", ".txt", ".gz")


@dataclass
class ScoreOptions:
    """What to score and how: the options of ``seqlift score``.

    Attributes
    ----------
    regions : str
        BED/narrowPeak file (plain or gzip), or FASTA of equal-length sequences.
    model : str
        Keras model file (see :func:`seqlift.model.load_model`).
    out : str, optional
        Output prefix. Default: the regions file's name without its
        extension, in the current directory (``.shard<I>of<N>`` added for a shard).
    genome : str, optional
        Genome FASTA for BED input; default ``$SEQLIFT_GENOME``.
    shuffles : int
        Dinucleotide-shuffled references per sequence.
    method : str
        One of :data:`seqlift.engine.METHODS`.
    task : str or list of int
        ``"all"`` (every unit of the target) or unit indices.
    target_layer : str, optional
        Node to explain (default: the output's pre-activation).
    width : int, optional
        Window width; default the model's input length.
    off_chrom : {"drop", "pad", "error"}
        Windows running off a contig end (see :mod:`seqlift.genome.fasta`).
    revcomp : {"none", "average"}
        Also score reverse complements and average (see the module docstring).
    seed : int
        Seed of the shuffles.
    batch_size : int, optional
        Sequences per pass (each with all its references); default from the
        model's size.
    chunk_size : int, optional
        Input regions per chunk (the unit of writing and resuming); rounded
        up to a multiple of the batch size. Default: about 1,000, fewer for
        long windows or many tasks.
    bigwig : bool
        Also write bigWig tracks.
    resume : bool
        Continue an interrupted run with the same parameters.
    shard : str or (int, int), optional
        ``"I/N"``: score only the I-th (1-based) of N contiguous pieces of
        the input rows.
    """

    regions: str
    model: str
    out: str | None = None
    genome: str | None = None
    shuffles: int = 10
    method: str = "genomics_default"
    task: str | list[int] = "all"
    target_layer: str | None = None
    width: int | None = None
    off_chrom: str = "drop"
    revcomp: str = "none"
    seed: int = 0
    batch_size: int | None = None
    chunk_size: int | None = None
    bigwig: bool = False
    resume: bool = False
    shard: str | tuple[int, int] | None = None


@dataclass
class ScoreResult:
    """What a run did.

    Attributes
    ----------
    scored : int
        Windows scored (in this shard; all of them after a resume).
    dropped : Counter
        Regions not scored, counted by reason.
    rows : int
        Input rows this invocation went through.
    seconds : float
        Wall time of this invocation.
    paths : list of str
        The output files.
    """

    scored: int
    dropped: Counter
    rows: int
    seconds: float
    paths: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The one-line account printed at the end of a run."""
        n_dropped = sum(self.dropped.values())
        if n_dropped:
            reasons = "; ".join(f"{count} x {reason}" for reason, count in self.dropped.most_common(3))
            more = "; ..." if len(self.dropped) > 3 else ""
            dropped = f"dropped {n_dropped} ({reasons}{more})"
        else:
            dropped = "dropped none"
        rate = self.rows / self.seconds if self.seconds > 0 else float("inf")
        return (f"scored {self.scored} regions, {dropped}, in {self.seconds:.1f} s ({rate:.1f} regions/s); "
                f"wrote {', '.join(self.paths)}")


# --------------------------------------------------------------------------- parsing
def parse_shard(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"I/N"`` as ``(I, N)`` with ``1 <= I <= N``; None stays None."""
    if text is None:
        return None
    if isinstance(text, tuple):
        index, count = text
    else:
        parts = str(text).split("/")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise SeqliftError(f"--shard {text!r} is not of the form I/N (e.g. 2/8)")
        index, count = int(parts[0]), int(parts[1])
    if count < 1 or not 1 <= index <= count:
        raise SeqliftError(f"--shard {index}/{count}: I must be between 1 and N (shards are numbered from 1)")
    return index, count


def parse_tasks(task: str | int | list[int]) -> str | list[int]:
    """``"all"``, or the task indices of ``"0,2"`` / a list, checked to be distinct non-negative ints."""
    if isinstance(task, str):
        text = task.strip()
        if text.lower() == "all":
            return "all"
        try:
            values = [int(part) for part in text.split(",")]
        except ValueError:
            raise SeqliftError(f"--task {task!r} is not 'all' or a comma-separated list of indices such as 0,2") from None
    elif isinstance(task, (int, np.integer)):
        values = [int(task)]
    else:
        values = [int(t) for t in task]
    if not values or any(v < 0 for v in values):
        raise SeqliftError(f"--task {task!r}: task indices are 0 or more")
    if len(set(values)) != len(values):
        raise SeqliftError(f"--task {task!r} names a task twice")
    return values


def shard_rows(index: int, count: int, total: int) -> tuple[int, int]:
    """Input rows ``[start, stop)`` of shard ``index`` (1-based) of ``count`` over ``total`` rows.

    Shard ``i`` gets rows ``floor((i-1) * total / count)`` to
    ``floor(i * total / count)``: contiguous, in order, sizes differing by
    at most one, together every row exactly once.
    """
    return (index - 1) * total // count, index * total // count


def parameter_differences(old: dict[str, Any], new: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """Human-readable differences between two runs' parameters.

    Parameters
    ----------
    old, new : dict
        Parameters as stored in score files.
    ignore : tuple of str
        Keys not to compare (besides :data:`OUTPUT_ONLY_PARAMETERS`).

    Returns
    -------
    list of str
        One phrase per differing parameter, e.g. ``"shuffles 10 (now 20)"``
        or ``"the model file changed (size or modification time)"``.
    """
    skip = set(ignore) | set(OUTPUT_ONLY_PARAMETERS)
    differences = []
    for key in sorted(set(old) | set(new)):
        if key in skip or old.get(key) == new.get(key):
            continue
        if key.endswith("_file"):
            differences.append(f"the {key[:-5]} file changed (size or modification time)")
        else:
            differences.append(f"{key} {_show(old.get(key))} (now {_show(new.get(key))})")
    return differences


def _show(value: Any) -> str:
    return "none" if value is None else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


# --------------------------------------------------------------------------- inputs
def _input_kind(path: str) -> str:
    """``"fasta"`` if the file's first non-blank character is ``>``, else ``"bed"``."""
    head = read_head(path, 4096, "regions")
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(4096)
        except (OSError, EOFError):
            return "bed"  # the BED reader reports the damage with a line number
    return "fasta" if head.lstrip()[:1] == b">" else "bed"


def _fingerprint(path: str) -> dict[str, int]:
    stat = os.stat(path)
    return {"size": int(stat.st_size), "mtime_ns": int(stat.st_mtime_ns)}


def _default_prefix(regions: str, shard: tuple[int, int] | None) -> str:
    name = os.path.basename(regions)
    lower = name.lower()
    for suffix in sorted(_FASTA_SUFFIXES + _BED_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name + (f".shard{shard[0]}of{shard[1]}" if shard else "")


def _survey_bed(path: str, genome: Any) -> int:
    """Count the regions of a BED file, checking every line and chromosome first.

    A malformed line or a chromosome the genome lacks stops the run here,
    before the model is loaded and before any output exists.
    """
    from seqlift.genome.regions import iter_bed

    sizes = genome.chrom_sizes()
    count = 0
    for region in iter_bed(path):
        if region.chrom not in sizes:
            raise SeqliftError(genome.unknown_chrom_message(region.chrom, f"{path}:{region.line}"))
        count += 1
    return count


def package_versions() -> dict[str, str]:
    """Versions of seqlift, Python and the libraries a run's scores depend on."""
    from importlib import metadata

    from seqlift import __version__

    versions = {"seqlift": __version__, "python": platform.python_version()}
    for package in ("numpy", "tensorflow", "keras", "h5py", "pyfaidx", "numba"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


# --------------------------------------------------------------------------- plan
@dataclass
class _Plan:
    """A checked run: everything :func:`score` needs, decided before writing."""

    options: ScoreOptions
    prefix: str
    kind: str
    genome_path: str | None
    chrom_sizes: dict[str, int]
    rows_total: int
    rows: tuple[int, int]
    model: Any
    width: int
    tasks: list[int]
    target: str
    batch: int
    chunk: int
    parameters: dict[str, Any]
    names: dict[str, str]


def _check_numbers(options: ScoreOptions) -> None:
    checks = (("shuffles", options.shuffles, 1), ("batch size", options.batch_size, 1),
              ("chunk size", options.chunk_size, 1), ("width", options.width, 1))
    for what, value, least in checks:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least):
            raise SeqliftError(f"{what} must be an integer of at least {least}, got {value!r}")
    if options.revcomp not in REVCOMP_MODES:
        raise SeqliftError(f"--revcomp must be one of {', '.join(REVCOMP_MODES)}, not {options.revcomp!r}")
    from seqlift.genome.fasta import OFF_CHROM_POLICIES

    if options.off_chrom not in OFF_CHROM_POLICIES:
        raise SeqliftError(f"--off-chrom must be one of {', '.join(OFF_CHROM_POLICIES)}, not {options.off_chrom!r}")
    if options.bigwig and not bigwig_available():
        raise SeqliftError("--bigwig needs the pyBigWig package (pip install pyBigWig)")


def _load_checked_model(path: str) -> tuple[Any, int | None]:
    """The model, and its input length (None when any length is accepted)."""
    from seqlift.model import load_model

    model = load_model(path)
    if len(model.inputs) != 1:
        raise SeqliftError(f"model {path} has {len(model.inputs)} inputs; seqlift score scores models with one "
                           "one-hot DNA input of shape (length, 4)")
    shape = tuple(model.input_shapes[0])
    if len(shape) != 2 or shape[1] != 4:
        shown = "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
        raise SeqliftError(f"model {path} takes input of shape {shown}, not one-hot DNA: "
                           "seqlift score needs an input of shape (length, 4), bases A, C, G, T")
    return model, shape[0]


def _resolve_width(option: int | None, model_length: int | None, model_path: str) -> int:
    if model_length is None:
        if option is None:
            raise SeqliftError(f"model {model_path} accepts sequences of any length; give the window width with --width")
        return option
    if option is not None and option != model_length:
        raise SeqliftError(f"--width {option} disagrees with the model's input length {model_length} "
                           f"({model_path}); leave --width out or set it to {model_length}")
    return model_length


def _known_units(model: Any, target_layer: str | None) -> int | None:
    """Units of the target from the model's static shapes, when they tell."""
    if target_layer is None:
        return model.output_units()[0]  # the default target (the output or its logit) has the output's shape
    shape = model.shapes.get(target_layer)
    if shape is None or any(d is None for d in shape):
        return None
    return math.prod(shape)


def _resolve_tasks(model: Any, options: ScoreOptions, width: int) -> tuple[list[int], str]:
    """The task list and the resolved target node, checked by a one-sequence dry run.

    The dry run raises the engine's own one-line errors (unknown method or
    layer, task out of range, naming the number of outputs) before any
    output exists, and compiles the function the run then uses.
    """
    from seqlift.engine import attribute

    wanted = parse_tasks(options.task)
    if wanted == "all":
        units = _known_units(model, options.target_layer)
        wanted = list(range(units)) if units else "all"
    probe = np.zeros((1, width, 4), np.float32)
    reference = np.zeros((1, 1, width, 4), np.float32)
    trial = attribute(model, probe, references=reference, method=options.method,
                      task=[0] if wanted == "all" else wanted, target_layer=options.target_layer, batch_size=1)
    target = trial.target
    if wanted == "all":
        wanted = list(range(int(np.prod(model.forward(probe, keep=[target])[target].shape[1:]))))
    return wanted, target


def default_batch_size(model: Any, width: int, shuffles: int) -> int:
    """Sequences per pass: as many as fit in :data:`PASS_BYTES` of activations.

    Counts every node's values per (sequence, reference) pair, with eight
    float32 copies for the forward and backward passes of both, and divides
    by the number of references; between 1 and :data:`MAX_DEFAULT_BATCH`.
    It depends only on the model, the width and ``shuffles``, never on the
    machine, so runs on different machines use the same passes.
    """
    floats = 0
    for shape in model.shapes.values():
        dims = [width if d is None else int(d) for d in (shape or ())]
        floats += math.prod(dims) if dims else 1
    pairs = PASS_BYTES // (4 * 8 * max(floats, 1))
    return int(min(MAX_DEFAULT_BATCH, max(1, pairs // shuffles)))


def default_chunk_size(width: int, n_tasks: int, revcomp: bool) -> int:
    """Input rows per chunk: the chunk's arrays stay within :data:`CHUNK_BYTES`."""
    per_row = width * 4 * 4 * (2 + 4 * n_tasks * (2 if revcomp else 1))
    return int(max(1, min(MAX_DEFAULT_CHUNK, CHUNK_BYTES // per_row)))


def _survey_input(options: ScoreOptions) -> tuple[str, str | None, dict[str, int], int]:
    """What the input is: (``"bed"`` or ``"fasta"``, genome path, contig sizes, number of regions).

    Every BED line and chromosome is checked here, before anything slow.
    """
    from seqlift.genome.fasta import Genome

    kind = _input_kind(options.regions)
    if kind == "fasta":
        if options.genome:
            log.info("%s is a FASTA of sequences; --genome is not used", options.regions)
        with Genome(options.regions) as records:
            sizes = records.chrom_sizes()
        lengths = set(sizes.values())
        if not sizes:
            raise SeqliftError(f"{options.regions} holds no sequences")
        if len(lengths) > 1:
            raise SeqliftError(f"the sequences in {options.regions} have different lengths "
                               f"({', '.join(map(str, sorted(lengths)[:4]))}); they must all have the model's length")
        return kind, None, sizes, len(sizes)
    genome_path = options.genome or os.environ.get(GENOME_ENV) or None
    if genome_path is None:
        raise SeqliftError(f"{options.regions} is a BED file: give the genome FASTA with --genome "
                           f"or the {GENOME_ENV} environment variable")
    with Genome(genome_path) as genome:
        sizes = genome.chrom_sizes()
        rows_total = _survey_bed(options.regions, genome)
    if rows_total == 0:
        raise SeqliftError(f"{options.regions} holds no regions (no BED lines besides headers and comments)")
    return kind, genome_path, sizes, rows_total


def _prepare(options: ScoreOptions) -> _Plan:
    """Check everything that can be checked before writing, in order of cost; the plan of the run."""
    _check_numbers(options)
    shard = parse_shard(options.shard)
    parse_tasks(options.task)
    prefix = options.out or _default_prefix(options.regions, shard)
    check_output_prefix(prefix)
    kind, genome_path, sizes, rows_total = _survey_input(options)
    if not os.path.exists(options.model):
        raise SeqliftError(f"model file {options.model} does not exist")
    rows = shard_rows(*shard, rows_total) if shard else (0, rows_total)
    parameters = {
        "input": kind,
        "regions": os.path.abspath(options.regions),
        "regions_file": _fingerprint(options.regions),
        "genome": os.path.abspath(genome_path) if genome_path else None,
        "genome_file": _fingerprint(genome_path) if genome_path else None,
        "model": os.path.abspath(options.model),
        "model_file": _fingerprint(options.model),
        "shuffles": int(options.shuffles),
        "method": options.method,
        "off_chrom": options.off_chrom,
        "revcomp": options.revcomp,
        "seed": int(options.seed),
        "shard": f"{shard[0]}/{shard[1]}" if shard else None,
        "rows": list(rows),
        "rows_total": rows_total,
        "bigwig": bool(options.bigwig),
    }
    h5_partial = partial_name(output_names(prefix, [], False)["h5"])
    if options.resume and os.path.exists(h5_partial):  # refuse before the (slow) model is loaded
        with _open_partial(h5_partial, "r") as store:
            _refuse_different(h5_partial, store.parameters, parameters)

    model, model_length = _load_checked_model(options.model)
    width = _resolve_width(options.width, model_length, options.model)
    if kind == "fasta" and next(iter(sizes.values())) != width:
        raise SeqliftError(f"the sequences in {options.regions} are {next(iter(sizes.values()))} bp long "
                           f"but the model takes {width} bp")
    tasks, target = _resolve_tasks(model, options, width)
    batch = options.batch_size or default_batch_size(model, width, options.shuffles)
    chunk = options.chunk_size or default_chunk_size(width, len(tasks), options.revcomp == "average")
    chunk = -(-chunk // batch) * batch  # whole passes per chunk
    parameters.update(tasks=tasks, target_layer=target, width=width, batch_size=batch)
    return _Plan(options, prefix, kind, genome_path, sizes, rows_total, rows, model, width, tasks, target,
                 batch, chunk, parameters, output_names(prefix, tasks, options.bigwig))


# --------------------------------------------------------------------------- scoring
def _stream(plan: _Plan) -> Iterator[Any]:
    from seqlift.genome.fasta import load_fasta_sequences, load_regions

    if plan.kind == "fasta":
        return load_fasta_sequences(plan.options.regions, chunk_size=plan.chunk)
    return load_regions(plan.options.regions, plan.genome_path, plan.width, off_chrom=plan.options.off_chrom,
                        revcomp_minus=False, chunk_size=plan.chunk)


def _flip(array: np.ndarray) -> np.ndarray:
    """Reverse complement along the last two axes (length, base)."""
    return np.ascontiguousarray(array[..., ::-1, ::-1])


def _score_pass(plan: _Plan, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Contributions, hypothetical contributions, residuals and target differences of one pass.

    ``x`` is (B, L, 4); results are (T, B, L, 4), (T, B, L, 4), (T, B), (T, B).
    """
    from seqlift.engine import attribute
    from seqlift.sequences.references import resolve

    options = plan.options
    references = resolve(options.shuffles, x, options.seed)

    def run(inputs: np.ndarray, refs: np.ndarray) -> Any:
        return attribute(plan.model, inputs, references=refs, method=options.method, task=plan.tasks,
                         target_layer=plan.target, batch_size=plan.batch * options.shuffles, seed=options.seed)

    forward = run(x, references)
    if options.revcomp != "average":
        return forward.contributions, forward.hypothetical, forward.deltas, forward.target_deltas
    reverse = run(_flip(x), _flip(references))
    return (
        (forward.contributions + _flip(reverse.contributions)) / 2,
        (forward.hypothetical + _flip(reverse.hypothetical)) / 2,
        (forward.deltas + reverse.deltas) / 2,
        (forward.target_deltas + reverse.target_deltas) / 2,
    )


def _score_rows(plan: _Plan, onehot: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """Score sequences ``onehot`` (n, L, 4) of input rows ``rows`` in input-aligned passes."""
    n_tasks, batch, width = len(plan.tasks), plan.batch, plan.width
    contributions = np.zeros((n_tasks, len(rows), width, 4), np.float32)
    hypothetical = np.zeros_like(contributions)
    deltas = np.zeros((n_tasks, len(rows)), np.float32)
    target_deltas = np.zeros_like(deltas)
    passes = rows // batch
    for g in np.unique(passes):
        members = np.flatnonzero(passes == g)
        slots = rows[members] - g * batch
        x = np.zeros((batch, width, 4), np.float32)
        x[slots] = onehot[members]
        c, h, d, t = _score_pass(plan, x)
        contributions[:, members] = c[:, slots]
        hypothetical[:, members] = h[:, slots]
        deltas[:, members] = d[:, slots]
        target_deltas[:, members] = t[:, slots]
    return contributions, hypothetical, deltas, target_deltas


def _test_signal(chunks_done: int) -> None:
    spec = os.environ.get(TEST_SIGNAL_ENV)
    if not spec:
        return
    count, _, name = spec.partition(":")
    if count.strip().isdigit() and int(count) == chunks_done:
        os.kill(os.getpid(), getattr(signal, "SIG" + (name.strip().upper() or "INT")))


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while scoring, so the partial file is closed cleanly."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_chunks(plan: _Plan, store: ScoreStore) -> int:
    """Score and append every chunk from the store's next row; return the input rows gone through."""
    from tqdm import tqdm

    low, high = max(plan.rows[0], store.next_row), plan.rows[1]
    if low >= high:
        return 0
    log.info("scoring input rows %d-%d of %d: chunks of %d regions, %d sequences x %d references per pass%s",
             low + 1, high, plan.rows_total, plan.chunk, plan.batch, plan.options.shuffles,
             " (x2 strands)" if plan.options.revcomp == "average" else "")
    stream = _stream(plan)
    bar = tqdm(total=high - low, unit="region", desc="seqlift score", file=sys.stderr,
               disable=not sys.stderr.isatty(), dynamic_ncols=True)
    try:
        for index, chunk in enumerate(stream):
            first, end = index * plan.chunk, min((index + 1) * plan.chunk, plan.rows_total)
            if end <= low:
                continue
            a, b = max(first, low), min(end, high)
            windows = chunk.windows
            keep = ((windows["row"] >= a) & (windows["row"] < b)).to_numpy()
            windows = windows[keep].reset_index(drop=True)
            dropped = chunk.dropped[(chunk.dropped["row"] >= a) & (chunk.dropped["row"] < b)].reset_index(drop=True)
            onehot = chunk.onehot[keep]
            scores = _score_rows(plan, onehot, windows["row"].to_numpy(np.int64))
            store.append(onehot, *scores, windows, dropped, rows=(a, b))
            log.debug("chunk %d recorded: input rows %d-%d, %d windows, %d dropped",
                      store.n_chunks, a + 1, b, len(windows), len(dropped))
            bar.update(b - a)
            _test_signal(store.n_chunks)
            if b >= high:
                break
    finally:
        bar.close()
        stream.close()
    return high - low


def _open_partial(path: str, mode: str) -> ScoreStore:
    """The unfinished run at ``path``, or a one-line error saying how to start again."""
    try:
        return ScoreStore.open(path, mode)
    except SeqliftError as err:
        raise SeqliftError(f"cannot resume: {err}; delete it, or leave out --resume, to start again") from None


def _refuse_different(path: str, stored: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to resume when a parameter of ``current`` differs from the stored run's, naming each."""
    differences = parameter_differences({key: stored.get(key) for key in current}, current)
    if differences:
        raise SeqliftError(f"cannot resume {path}: it was run with different parameters: "
                           f"{'; '.join(differences)} (leave out --resume to start again)")


def _open_store(plan: _Plan, path: str) -> ScoreStore:
    """The partial file to continue (``resume``) or a fresh one."""
    if plan.options.resume and os.path.exists(path):
        store = _open_partial(path, "r+")
        try:
            _refuse_different(path, store.parameters, plan.parameters)
        except SeqliftError:
            store.close()
            raise
        store.truncate_to_record()
        done = store.next_row - plan.rows[0]
        log.info("resuming %s: %d chunks done, %d of %d input rows", path, store.n_chunks, done,
                 plan.rows[1] - plan.rows[0])
        return store
    if plan.options.resume:
        log.info("no unfinished run at %s; starting from the beginning", path)
    elif os.path.exists(path):
        log.info("replacing the unfinished run at %s (use --resume to continue it instead)", path)
    return ScoreStore.create(path, plan.parameters, plan.tasks, plan.width, plan.chrom_sizes,
                             package_versions(), plan.rows, plan.rows_total)


def score(options: ScoreOptions) -> ScoreResult:
    """Score every region of ``options.regions`` and write the outputs.

    Parameters
    ----------
    options : ScoreOptions
        What to score and how.

    Returns
    -------
    ScoreResult
        Counts, time and output paths (:meth:`ScoreResult.summary` is the
        one-line account).

    Raises
    ------
    SeqliftError
        For any fault of the input, with one line naming it; no output is
        left behind.
    KeyboardInterrupt
        On Ctrl-C or SIGTERM; completed chunks stay in ``PREFIX.h5.partial``
        for ``resume=True``.
    """
    started = time.perf_counter()
    plan = _prepare(options)
    h5_partial = partial_name(plan.names["h5"])
    created = _make_directories(os.path.dirname(os.path.abspath(h5_partial)))
    try:
        store = _open_store(plan, h5_partial)
    except BaseException:
        _remove_empty(created)
        raise
    had_chunks = store.n_chunks > 0
    with _terminate_as_interrupt():
        return _score_into(plan, store, h5_partial, created, had_chunks, started)


def _score_into(plan: _Plan, store: ScoreStore, h5_partial: str, created: list[str], had_chunks: bool,
                started: float) -> ScoreResult:
    """Fill ``store`` (the partial file), then publish the outputs; clean up on failure."""
    options = plan.options
    try:
        rows_done = 0
        if not store.complete:
            rows_done = _run_chunks(plan, store)
            if store.n_windows == 0 and plan.parameters["shard"] is None:
                raise SeqliftError(f"all {plan.rows_total} regions of {options.regions} were dropped "
                                   f"({_reasons_text(store)}); nothing to score")
            if store.n_windows == 0:
                log.warning("every region of shard %s was dropped; its outputs are empty", plan.parameters["shard"])
            store.mark_complete()
        scored = store.n_windows
        dropped = Counter(store.read_table("dropped")["reason"])
    except SeqliftError:
        store.close()
        discard([h5_partial])
        _remove_empty(created)
        raise
    except BaseException:
        kept = store.n_chunks > 0 if store.file.id.valid else had_chunks
        store.close()
        if kept:
            log.warning("the unfinished run is kept in %s; run the same command with --resume to continue it",
                        h5_partial)
        else:
            discard([h5_partial])
            _remove_empty(created)
        raise
    store.close()
    try:
        paths = write_outputs(h5_partial, plan.prefix, options.bigwig)
    except OSError as err:
        raise SeqliftError(f"writing the outputs failed ({err.strerror or err}); the scores are kept in "
                           f"{h5_partial}: run the same command with --resume to write them") from None
    except KeyboardInterrupt:
        log.warning("the finished scores are kept in %s; run the same command with --resume to write the outputs",
                    h5_partial)
        raise
    return ScoreResult(scored, dropped, rows_done, time.perf_counter() - started, paths)


def _make_directories(directory: str) -> list[str]:
    """Create ``directory`` and missing parents; return those created, outermost first."""
    missing = []
    while not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    missing.reverse()
    for path in missing:
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        except OSError as err:
            _remove_empty(missing[: missing.index(path)])
            raise SeqliftError(f"cannot create the output directory {path}: {err.strerror or err}") from None
    return missing


def _remove_empty(directories: list[str]) -> None:
    """Remove the directories a failed run created, innermost first, if they are empty."""
    for path in reversed(directories):
        with contextlib.suppress(OSError):
            os.rmdir(path)


def _reasons_text(store: ScoreStore) -> str:
    reasons = Counter(store.read_table("dropped")["reason"])
    return "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common(2)) or "no reason recorded"

