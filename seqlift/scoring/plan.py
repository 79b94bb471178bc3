"""The plan of a scoring run: everything decided, and checked, before anything is written.

:func:`prepare` checks the options, the output prefix, the input (a BED file
on a genome, every line and chromosome, or a FASTA of equal-length
sequences), the model and its input shape, the window width and the tasks
(by a one-sequence dry run of the engine), in order of cost, and returns the
:class:`Plan`: the input rows to score, the batch and chunk sizes, the output
names and the parameters recorded in the score file. A run asked to resume is
refused here, before the model is loaded, when its parameters differ from the
unfinished run's.
"""
from __future__ import annotations

import logging
import os
import platform
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqlift.errors import SeqliftError
from seqlift.inputs import input_kind, parse_tasks
from seqlift.scoring.options import (
    GENOME_ENV,
    ScoreOptions,
    check_numbers,
    parameter_differences,
    parse_shard,
    shard_rows,
)
from seqlift.scoring.outputs import check_output_prefix, output_names, partial_name
from seqlift.scoring.store import ScoreStore

__all__ = ["Plan", "prepare", "default_batch_size", "default_chunk_size", "package_versions",
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


def _load_checked_model(path: str, lambdas: dict[str, str] | None = None) -> tuple[Any, int | None]:
    """The model, and its input length (None when any length is accepted)."""
    from seqlift.model import load_model

    model = load_model(path, lambdas=lambdas)
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
              target=sets, batch_size=1)
    return sets


def default_batch_size(model: Any, width: int, shuffles: int, target: str | list[str], method: str) -> int:
    """Sequences per pass: the engine's pairs per batch (:func:`seqlift.engine.pairs_per_batch`)
    divided by the number of references, at least 1."""
    from seqlift.engine import pairs_per_batch

    return max(1, pairs_per_batch(model, target, method, width) // shuffles)


def default_chunk_size(width: int, n_tasks: int, revcomp: bool) -> int:
    """Input rows per chunk: the chunk's arrays stay within :data:`CHUNK_BYTES`."""
    per_row = width * 4 * 4 * (2 + 4 * n_tasks * (2 if revcomp else 1))
    return int(max(1, min(MAX_DEFAULT_CHUNK, CHUNK_BYTES // per_row)))


def _survey_input(options: ScoreOptions) -> tuple[str, str | None, dict[str, int], int]:
    """What the input is: (``"bed"`` or ``"fasta"``, genome path, contig sizes, number of regions).

    Every BED line and chromosome is checked here, before anything slow.
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


def open_partial(path: str, mode: str) -> ScoreStore:
    """The unfinished run at ``path``, or a one-line error saying how to start again."""
    try:
        return ScoreStore.open(path, mode)
    except SeqliftError as err:
        raise SeqliftError(f"cannot resume: {err}; delete it, or leave out --resume, to start again") from None


def refuse_different(path: str, stored: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to resume when a parameter of ``current`` differs from the stored run's, naming each."""
    differences = parameter_differences({key: stored.get(key) for key in current}, current)
    if differences:
        raise SeqliftError(f"cannot resume {path}: it was run with different parameters: "
                           f"{'; '.join(differences)} (leave out --resume to start again)")


def prepare(options: ScoreOptions) -> Plan:
    """Check everything that can be checked before writing, in order of cost; the plan of the run."""
    check_numbers(options)
    shard = parse_shard(options.shard)
    if options.task is not None:
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
        "output": options.output,
        "target": options.target,
        "lambdas": dict(sorted((options.lambdas or {}).items())) or None,
        "layout": options.layout,
    }
    h5_partial = partial_name(output_names(prefix, [], False)["h5"])
    if options.resume and os.path.exists(h5_partial):  # refuse before the (slow) model is loaded
        with open_partial(h5_partial, "r") as store:
            refuse_different(h5_partial, store.parameters, parameters)

    model, model_length = _load_checked_model(options.model, options.lambdas)
    width = _resolve_width(options.width, model_length, options.model)
    if kind == "fasta" and next(iter(sizes.values())) != width:
        raise SeqliftError(f"the sequences in {options.regions} are {next(iter(sizes.values()))} bp long "
                           f"but the model takes {width} bp")
    score_sets = _resolve_targets(model, options, width)
    tasks = [-1 if s.unit is None else s.unit for s in score_sets]
    nodes = list(dict.fromkeys(s.node for s in score_sets))
    batch = options.batch_size or default_batch_size(model, width, options.shuffles, nodes, options.method)
    chunk = options.chunk_size or default_chunk_size(width, len(tasks), options.revcomp == "average")
    chunk = -(-chunk // batch) * batch  # whole passes per chunk
    labels = [s.label for s in score_sets]
    parameters.update(tasks=tasks, targets=labels, target_layer=", ".join(nodes), width=width, batch_size=batch)
    return Plan(options, prefix, kind, genome_path, sizes, rows_total, rows, model, width, tasks, ", ".join(nodes),
                 batch, chunk, parameters, output_names(prefix, labels, options.bigwig, options.layout), score_sets)
