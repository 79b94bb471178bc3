"""What a scoring run is asked to do: the options of ``seqlift score``, checked.

:class:`ScoreOptions` holds the options; :func:`check_numbers` checks the
numbers and choices among them before anything is read; :func:`parse_shard`
and :func:`shard_rows` say which input rows a shard scores; and
:func:`parameter_differences` says how two runs' recorded parameters differ
(resuming and merging refuse runs that differ in anything but
:data:`OUTPUT_ONLY_PARAMETERS`).
"""
from __future__ import annotations

import json
import numbers
from dataclasses import dataclass
from typing import Any

from seqlift.errors import SeqliftError
from seqlift.genome.windows import OFF_CHROM_POLICIES
from seqlift.inputs import INT64_MAX, check_positive_int, parse_window
from seqlift.scoring.outputs import bigwig_available

__all__ = [
    "ScoreOptions",
    "check_numbers",
    "references_per_sequence",
    "parse_shard",
    "shard_rows",
    "parameter_differences",
    "GENOME_ENV",
    "REVCOMP_MODES",
    "NONFINITE_POLICIES",
    "OUTPUT_ONLY_PARAMETERS",
]

#: environment variable naming the genome FASTA when ``--genome`` is not given
GENOME_ENV = "SEQLIFT_GENOME"
REVCOMP_MODES = ("none", "average")
#: what to do with a region whose scores are not finite: stop the run, or list it among the dropped
NONFINITE_POLICIES = ("error", "drop")
#: parameters that do not change the scores of the regions scored, ignored when resuming and merging:
#: the bigWig output, and the policy for regions with non-finite scores (under "error" a run stops at
#: the first, so its finished chunks hold none, and "drop" may finish it)
OUTPUT_ONLY_PARAMETERS = ("bigwig", "nonfinite")


@dataclass
class ScoreOptions:
    """What to score and how: the options of ``seqlift score``.

    Attributes
    ----------
    regions : str
        BED/narrowPeak file (plain or gzip), or FASTA of equal-length sequences.
    model : str
        Keras model file (see :func:`seqlift.model.load_model`).
    weights : str, optional
        Weights file, for a model given as a Keras 2 JSON config (or weights
        replacing those of a full-model file).
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
        Windows running off a contig end (see :mod:`seqlift.genome.windows`).
    revcomp : {"none", "average"}
        Also score reverse complements and average (see :mod:`seqlift.scoring.run`).
    seed : int
        Seed of the shuffles, a 64-bit signed integer.
    max_unknown : float
        Regions whose window has a larger share of unknown bases (not A, C,
        G or T: N, IUPAC codes, padding) are not scored but listed in
        ``PREFIX.dropped.tsv``; 1 (the default) scores every region.
    nonfinite : {"error", "drop"}
        A region whose scores are not finite (NaN or infinity, from the
        model's output): stop the run naming it (the finished chunks are
        kept for ``resume``), or list it in ``PREFIX.dropped.tsv``.
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
    ism_window : str or (int, int), optional
        ``method="ism"`` only: ``"START:END"``, the positions of each window
        (0-based, end exclusive, on the forward strand) to mutate; the others
        score 0. Default: all of them.
    """

    regions: str
    model: str
    weights: str | None = None
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
    max_unknown: float = 1.0
    nonfinite: str = "error"
    batch_size: int | None = None
    chunk_size: int | None = None
    bigwig: bool = False
    resume: bool = False
    shard: str | tuple[int, int] | None = None
    ism_window: str | tuple[int, int] | None = None


def check_numbers(options: ScoreOptions) -> None:
    """Fail on a number or choice of ``options`` out of range, naming the option."""
    for what, value in (("shuffles", options.shuffles), ("batch size", options.batch_size),
                        ("chunk size", options.chunk_size), ("width", options.width)):
        if value is not None:
            if check_positive_int(value, what) > INT64_MAX:
                raise SeqliftError(f"{what} {value} is beyond the 64-bit integer range")
    if isinstance(options.seed, bool) or not isinstance(options.seed, numbers.Integral) \
            or not -INT64_MAX - 1 <= options.seed <= INT64_MAX:
        raise SeqliftError(f"--seed must be a 64-bit signed integer (-2^63 to 2^63 - 1), got {options.seed!r}")
    if not isinstance(options.max_unknown, numbers.Real) or not 0 <= options.max_unknown <= 1:
        raise SeqliftError(f"--max-unknown must be a fraction from 0 to 1, got {options.max_unknown!r}")
    if options.nonfinite not in NONFINITE_POLICIES:
        raise SeqliftError(f"--nonfinite must be one of {', '.join(NONFINITE_POLICIES)}, not {options.nonfinite!r}")
    if options.revcomp not in REVCOMP_MODES:
        raise SeqliftError(f"--revcomp must be one of {', '.join(REVCOMP_MODES)}, not {options.revcomp!r}")
    if options.off_chrom not in OFF_CHROM_POLICIES:
        raise SeqliftError(f"--off-chrom must be one of {', '.join(OFF_CHROM_POLICIES)}, not {options.off_chrom!r}")
    from seqlift.engine.methods import METHODS

    window = parse_window(options.ism_window)
    method = METHODS.get(options.method)
    if window is not None and method is not None and not method.windowed:
        raise SeqliftError(f"--ism-window is for --method ism, not {options.method}")
    if options.bigwig and not bigwig_available():
        raise SeqliftError("--bigwig needs the pyBigWig package (pip install pyBigWig)")


def references_per_sequence(options: ScoreOptions) -> int:
    """References each sequence is scored against: ``shuffles``, or 1 (the sequence itself) for a method
    without references (in-silico mutagenesis)."""
    from seqlift.engine.methods import METHODS

    method = METHODS.get(options.method)
    return options.shuffles if method is None or method.uses_references else 1


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
    if count > INT64_MAX:
        raise SeqliftError(f"--shard {text}: N is beyond the 64-bit integer range")
    if count < 1 or not 1 <= index <= count:
        raise SeqliftError(f"--shard {index}/{count}: I must be between 1 and N (shards are numbered from 1)")
    return index, count


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
