"""The plan of a scoring run: everything decided, and checked, before anything is written.

:func:`prepare` checks the options, the output prefix, the model files, the
input (a BED file on a genome: every line, chromosome and, when the window
width can be told from the options or the model file's config, every
window's fit on its chromosome; or a FASTA of equal-length sequences), the
model and its input shape, the window width, the memory a pass needs and the
tasks (by a one-sequence dry run of the engine), in order of cost: what can
be checked without TensorFlow comes before the model is loaded. It returns
the :class:`Plan`: the input rows to score, the batch and chunk sizes, the
output names and the parameters recorded in the score file. A run asked to
resume is refused here, before the model is loaded, when its parameters
differ from the unfinished run's.
"""
from __future__ import annotations

import logging
import os
import platform
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqlift.errors import SeqliftError
from seqlift.inputs import input_kind, parse_tasks, parse_window
from seqlift.model_peek import check_model_files, declared_input_shape
from seqlift.scoring.lock import lock_name
from seqlift.scoring.options import (
    GENOME_ENV,
    ScoreOptions,
    check_numbers,
    parameter_differences,
    parse_shard,
    references_per_sequence,
    shard_rows,
)
from seqlift.scoring.outputs import check_not_an_input, check_output_prefix, output_names, partial_name
from seqlift.scoring.store import ScoreStore

__all__ = ["Plan", "prepare", "output_prefix", "default_batch_size", "default_chunk_size", "package_versions",
           "open_partial", "refuse_different"]

log = logging.getLogger(__name__)

#: memory the arrays of one chunk may use, for the default chunk size
CHUNK_BYTES = 128 * 2**20
#: most input rows per chunk by default
MAX_DEFAULT_CHUNK = 1024
#: most units ``--task all`` explains when it was not asked for (a profile output has 1,000)
MAX_DEFAULT_TASKS = 64
_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz")
_BED_SUFFIXES = (".bed", ".bed.gz", ".narrowpeak", ".narrowpeak.gz", ".broadpeak", ".txt", ".gz")


@dataclass
class Plan:
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
    #: the targets scored, one per task axis entry (:class:`seqlift.engine.targets.ScoreSet`)
    score_sets: list[Any]


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


def _survey_bed(path: str, genome: Any, width: int | None, off_chrom: str) -> tuple[int, Counter]:
    """Count the regions of a BED file, checking every line and chromosome (and window, when ``width`` is known).

    A malformed line, a chromosome the genome lacks or, under ``--off-chrom
    error``, a window off its chromosome stops the run here, before the model
    is loaded and before any output exists. Off a terminal a progress line is
    logged at a steady interval (:mod:`seqlift.progress`).

    Returns
    -------
    (int, Counter)
        The number of regions, and those whose windows will be dropped off
        their chromosomes (by reason; empty unless ``width`` is given and the
        policy is ``"drop"``).
    """
    from seqlift.genome.regions import iter_bed, resize
    from seqlift.genome.windows import off_chrom_error, off_chrom_reason, off_chrom_side
    from seqlift.progress import Progress

    sizes = genome.chrom_sizes()
    count = 0
    off = Counter()
    with Progress(f"checking {path}", os.path.getsize(path), "bytes") as progress:
        for region in iter_bed(path, progress=lambda done, lines: progress.update(done, f"{lines:,} lines")):
            size = sizes.get(region.chrom)
            if size is None:
                raise SeqliftError(genome.unknown_chrom_message(region.chrom, f"{path}:{region.line}"))
            if width is not None and off_chrom != "pad":
                window = resize(region, width)
                if off_chrom_side(window, size) is not None:
                    if off_chrom == "error":
                        raise off_chrom_error(path, region, window, size)
                    off[off_chrom_reason(window, size)] += 1
            count += 1
    return count, off


def all_dropped_message(rows_total: int, regions: str, reasons: Counter) -> str:
    """The error of a run whose every region is dropped."""
    shown = "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common(3))
    return f"all {rows_total} regions of {regions} were dropped ({shown}); nothing to score"


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


def _input_length(shape: tuple | None, path: str) -> int | None:
    """The length of a one-hot DNA input shape ``(length, 4)``, or one line saying what the shape is."""
    if shape is None or len(shape) != 2 or shape[1] != 4:
        shown = "(" + ", ".join("None" if d is None else str(d) for d in shape or ()) + ("," if len(shape or ()) == 1 else "") + ")"
        raise SeqliftError(f"model {path} takes input of shape {shown}, not one-hot DNA: "
                           "seqlift score needs an input of shape (length, 4), bases A, C, G, T")
    return shape[0]


def _load_checked_model(path: str, weights: str | None,
                        lambdas: dict[str, str] | None = None) -> tuple[Any, int | None]:
    """The model, and its input length (None when any length is accepted)."""
    from seqlift.model import load_model

    model = load_model(path, weights=weights, lambdas=lambdas)
    if len(model.inputs) != 1:
        raise SeqliftError(f"model {path} has {len(model.inputs)} inputs; seqlift score scores models with one "
                           "one-hot DNA input of shape (length, 4)")
    return model, _input_length(tuple(model.input_shapes[0]), path)


def _fix_input_length(model: Any, width: int) -> None:
    """Specialise a model that accepts any length to windows of ``width`` bases.

    The input shape becomes ``(width, 4)``, and every node shape that
    depended on the length is computed from it (:meth:`Model.node_shapes`
    fills open lengths by a pass on zeros once the inputs are fixed), so that
    the engine sees fixed shapes throughout.
    """
    model.input_shapes = [(width, 4)]
    model.node_shapes()


def _resolve_width(option: int | None, model_length: int | None, model_path: str) -> int:
    if model_length is None:
        if option is None:
            raise SeqliftError(f"model {model_path} accepts sequences of any length; give the window width with --width")
        return option
    if option is not None and option != model_length:
        raise SeqliftError(f"--width {option} disagrees with the model's input length {model_length} "
                           f"({model_path}); leave --width out or set it to {model_length}")
    return model_length


def _resolve_targets(model: Any, options: ScoreOptions, width: int) -> list[Any]:
    """The score sets of the run (:class:`seqlift.engine.targets.ScoreSet`), checked by a one-sequence dry run.

    ``--task`` (default all) selects units of ``--target unit`` (the
    default); a default that would explain more than
    :data:`MAX_DEFAULT_TASKS` units (a profile output's positions) is
    refused, saying what to choose. The dry run raises the engine's own
    one-line errors (unknown method, target, output or layer, a model with
    several outputs and no choice, a task out of range) before any output
    exists, and compiles the function the run then uses.
    """
    from seqlift.engine import attribute
    from seqlift.engine.targets import PRESETS, TARGET_KINDS, parse_target_list, resolve_targets

    target = options.target or "unit"
    entries = parse_target_list(target)
    per_unit = any(TARGET_KINDS[PRESETS.get(e.partition("@")[0], (e.partition("@")[0],))[0]].per_unit
                   for e in entries)
    probe = np.zeros((1, width, 4), np.float32)
    wanted = None
    if per_unit:
        wanted = "all" if options.task is None else parse_tasks(options.task)
    elif options.task is not None:
        raise SeqliftError(f"--task selects units of --target unit; --target {target} has no units to select")
    if wanted == "all":
        first, _ = resolve_targets(model, target, options.output, None, options.target_layer)
        nodes = list(dict.fromkeys(s.node for s in first if TARGET_KINDS[s.kind].per_unit))
        values = model.forward(probe, keep=nodes)
        units = {node: int(np.prod(values[node].shape[1:])) for node in nodes}
        if options.task is None and sum(units.values()) > MAX_DEFAULT_TASKS:
            node, count = max(units.items(), key=lambda item: item[1])
            raise SeqliftError(
                f"{node!r} has {count} units: --task all (the default) would explain each one, {count} backward "
                f"passes per pair and {count} score files; choose --target profile,counts (BPNet, ChromBPNet), "
                "--target sum, or --task I,J (--task all explains every unit)")
        if len(nodes) == 1 and any(d is None for d in model.node_shapes()[nodes[0]]):
            wanted = list(range(units[nodes[0]]))  # a free-length model: the units at this width
    sets, _ = resolve_targets(model, target, options.output, wanted, options.target_layer)
    attribute(model, probe, references=np.zeros((1, 1, width, 4), np.float32), method=options.method,
              target=sets, batch_size=1, ism_window=parse_window(options.ism_window))
    return sets


def default_batch_size(model: Any, width: int, shuffles: int, target: str | list[str], method: str) -> int:
    """Sequences per pass: the engine's pairs per batch (:func:`seqlift.engine.pairs_per_batch`)
    divided by the number of references, at least 1, or down to half as many where those fill the
    batch-invariant kernels' blocks better (:func:`seqlift.engine.budget.sequences_per_pass`)."""
    from seqlift.engine import pairs_per_batch
    from seqlift.engine.budget import sequences_per_pass

    return sequences_per_pass(shuffles, max(1, pairs_per_batch(model, target, method, width) // shuffles))


def default_chunk_size(width: int, n_tasks: int, revcomp: bool) -> int:
    """Input rows per chunk: the chunk's arrays stay within :data:`CHUNK_BYTES`."""
    per_row = width * 4 * 4 * (2 + 4 * n_tasks * (2 if revcomp else 1))
    return int(max(1, min(MAX_DEFAULT_CHUNK, CHUNK_BYTES // per_row)))


def _survey_input(options: ScoreOptions, width: int | None) -> tuple[str, str | None, dict[str, int], int, Counter]:
    """What the input is: (``"bed"`` or ``"fasta"``, genome path, contig sizes, number of regions, windows off).

    Every BED line and chromosome (and window, when ``width`` is known) is
    checked here, before anything slow; see :func:`_survey_bed`.
    """
    from seqlift.genome.fasta import Genome

    kind = input_kind(options.regions)
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
        length = next(iter(lengths))
        if width is not None and length != width:
            raise SeqliftError(f"the sequences in {options.regions} are {length} bp long but the model takes {width} bp")
        return kind, None, sizes, len(sizes), Counter()
    genome_path = options.genome or os.environ.get(GENOME_ENV) or None
    if genome_path is None:
        raise SeqliftError(f"{options.regions} is a BED file: give the genome FASTA with --genome "
                           f"or the {GENOME_ENV} environment variable")
    with Genome(genome_path) as genome:
        sizes = genome.chrom_sizes()
        rows_total, off = _survey_bed(options.regions, genome, width, options.off_chrom)
    if rows_total == 0:
        raise SeqliftError(f"{options.regions} holds no regions (no BED lines besides headers and comments)")
    if sum(off.values()) == rows_total and options.shard is None:
        raise SeqliftError(all_dropped_message(rows_total, options.regions, off))
    return kind, genome_path, sizes, rows_total, off


def open_partial(path: str, mode: str) -> ScoreStore:
    """The unfinished run at ``path`` (a truncated one padded, see :meth:`ScoreStore.open`), or a one-line
    error saying how to start again."""
    try:
        return ScoreStore.open(path, mode, pad_truncated=True)
    except SeqliftError as err:
        raise SeqliftError(f"cannot resume: {err}; delete it, or leave out --resume, to start again") from None


def refuse_different(path: str, stored: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to resume when a parameter of ``current`` differs from the stored run's, naming each."""
    differences = parameter_differences({key: stored.get(key) for key in current}, current)
    if differences:
        raise SeqliftError(f"cannot resume {path}: it was run with different parameters: "
                           f"{'; '.join(differences)} (leave out --resume to start again)")


def output_prefix(options: ScoreOptions) -> str:
    """The run's output prefix (``--out``, or the regions file's name), checked to be writable."""
    shard = parse_shard(options.shard)
    prefix = options.out or _default_prefix(options.regions, shard)
    check_output_prefix(prefix)
    return prefix


def _written_paths(prefix: str, targets: list[int | str], layout: str) -> list[str]:
    """Every file a run with ``targets`` may write under ``prefix``: outputs, their temporary names, the lock."""
    names = list(output_names(prefix, targets, True, layout).values())
    return names + [partial_name(name) for name in names] + [lock_name(prefix)]


def _declared_width(options: ScoreOptions) -> int | None:
    """The window width told by ``--width`` or the model file's config, without loading the model."""
    shape = declared_input_shape(options.model)
    if shape is None:
        return options.width
    length = _input_length(shape, options.model)
    return _resolve_width(options.width, length, options.model)


def _check_memory(options: ScoreOptions, width: int, batch: int, chunk: int, n_tasks: int, rows: int) -> None:
    """Refuse sizes whose arrays cannot fit in this machine's memory, naming the options to lower."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    strands = 2 if options.revcomp == "average" else 1
    references = batch * options.shuffles * width * 4 * 4 * strands
    chunk_arrays = min(chunk, rows) * width * 4 * 4 * (2 + 4 * n_tasks)
    from seqlift.scoring.space import size_text

    if references > memory:
        raise SeqliftError(f"--batch-size {batch} x --shuffles {options.shuffles} x width {width} needs "
                           f"{size_text(references)} for one pass's references alone (this machine has "
                           f"{size_text(memory)}): lower --shuffles or --batch-size")
    if chunk_arrays > memory:
        raise SeqliftError(f"--chunk-size {chunk} x width {width} x {n_tasks} tasks needs {size_text(chunk_arrays)} "
                           f"of arrays per chunk (this machine has {size_text(memory)}): lower --chunk-size")


def prepare(options: ScoreOptions) -> Plan:
    """Check everything that can be checked before writing, in order of cost; the plan of the run."""
    check_numbers(options)
    shard = parse_shard(options.shard)
    window = parse_window(options.ism_window)
    if options.task is not None:
        parse_tasks(options.task)
    prefix = output_prefix(options)
    check_model_files(options.model, options.weights)
    declared = _declared_width(options)
    kind, genome_path, sizes, rows_total, _ = _survey_input(options, declared)
    h5_partial = partial_name(output_names(prefix, [], False)["h5"])
    inputs = {"regions": options.regions, "--genome": genome_path, "--model": options.model,
              "--weights": options.weights}
    for tasks in ([0], [0, 1]):  # the names of one task's outputs, and of several tasks'
        check_not_an_input(_written_paths(prefix, tasks, options.layout), inputs)
    rows = shard_rows(*shard, rows_total) if shard else (0, rows_total)
    parameters = {
        "input": kind,
        "regions": os.path.abspath(options.regions),
        "regions_file": _fingerprint(options.regions),
        "genome": os.path.abspath(genome_path) if genome_path else None,
        "genome_file": _fingerprint(genome_path) if genome_path else None,
        "model": os.path.abspath(options.model),
        "model_file": _fingerprint(options.model),
        "weights": os.path.abspath(options.weights) if options.weights else None,
        "weights_file": _fingerprint(options.weights) if options.weights else None,
        "shuffles": int(options.shuffles),
        "method": options.method,
        "off_chrom": options.off_chrom,
        "revcomp": options.revcomp,
        "seed": int(options.seed),
        "max_unknown": float(options.max_unknown),
        "nonfinite": options.nonfinite,
        "shard": f"{shard[0]}/{shard[1]}" if shard else None,
        "rows": list(rows),
        "rows_total": rows_total,
        "bigwig": bool(options.bigwig),
        "ism_window": list(window) if window else None,
        "output": options.output,
        "target": options.target,
        "lambdas": dict(sorted((options.lambdas or {}).items())) or None,
        "layout": options.layout,
    }
    if options.resume and os.path.exists(h5_partial):  # refuse before the (slow) model is loaded
        with open_partial(h5_partial, "r") as store:
            refuse_different(h5_partial, store.parameters, parameters)

    model, model_length = _load_checked_model(options.model, options.weights, options.lambdas)
    width = _resolve_width(options.width, model_length, options.model)
    if model_length is None:
        _fix_input_length(model, width)
    if width != declared:  # the regions were checked without the width: check their windows now
        kind, genome_path, sizes, rows_total, _ = _survey_input(options, width)
    parse_window(window, "--ism-window", width)
    score_sets = _resolve_targets(model, options, width)
    tasks = [-1 if s.unit is None else s.unit for s in score_sets]
    labels = [s.label for s in score_sets]
    check_not_an_input(_written_paths(prefix, labels, options.layout), inputs)
    nodes = list(dict.fromkeys(s.node for s in score_sets))
    batch = options.batch_size or default_batch_size(model, width, references_per_sequence(options), nodes,
                                                     options.method)
    chunk = options.chunk_size or default_chunk_size(width, len(tasks), options.revcomp == "average")
    chunk = -(-chunk // batch) * batch  # whole passes per chunk
    _check_memory(options, width, batch, chunk, len(tasks), rows[1] - rows[0])
    parameters.update(tasks=tasks, targets=labels, target_layer=", ".join(nodes), width=width, batch_size=batch)
    return Plan(options, prefix, kind, genome_path, sizes, rows_total, rows, model, width, tasks, ", ".join(nodes),
                batch, chunk, parameters, output_names(prefix, labels, options.bigwig, options.layout), score_sets)
