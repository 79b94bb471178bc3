"""The stream of one-hot windows a model is given: BED regions through a genome, or a FASTA of sequences.

:func:`load_regions` streams a BED file through a genome: each region is
resized to a fixed-width window (:func:`seqlift.genome.regions.resize`), fetched,
one-hot encoded and handed out in bounded :class:`RegionChunk` batches.
:func:`load_fasta_sequences` hands out a FASTA of equal-length sequences in the
same batches.

Windows that run off a chromosome end follow the ``off_chrom`` policy:

``"drop"`` (default)
    The window is skipped and recorded, with the reason, in the chunk's
    ``dropped`` table, so outputs stay aligned with what was scored.
``"pad"``
    Positions off the chromosome are all-zero one-hot rows (as for ``N``).
``"error"``
    :class:`~seqlift.errors.SeqliftError` naming the BED file and line, the
    window and the chromosome length.

A chromosome that is not in the FASTA is always an error, whatever the policy:
it means the BED file and the genome disagree (another assembly, ``chr1`` vs
``1``), and silently dropping such regions would hide that.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from seqlift.errors import SeqliftError
from seqlift.genome.fasta import Genome
from seqlift.genome.regions import Region, chunked, read_bed, resize
from seqlift.inputs import check_positive_int
from seqlift.sequences.onehot import one_hot, reverse_complement

__all__ = [
    "RegionChunk",
    "load_regions",
    "off_chrom_side",
    "off_chrom_reason",
    "off_chrom_error",
    "load_fasta_sequences",
    "OFF_CHROM_POLICIES",
    "WINDOW_COLUMNS",
    "DROPPED_COLUMNS",
]

#: accepted values of the ``off_chrom`` argument
OFF_CHROM_POLICIES = ("drop", "pad", "error")
OffChromPolicy = Literal["drop", "pad", "error"]

#: columns of :attr:`RegionChunk.windows`
WINDOW_COLUMNS = ("chrom", "start", "end", "name", "strand", "line", "row")
#: columns of :attr:`RegionChunk.dropped`
DROPPED_COLUMNS = ("row", "line", "chrom", "start", "end", "name", "reason")


@dataclass
class RegionChunk:
    """One batch of fixed-width sequences ready for a model.

    Attributes
    ----------
    onehot : numpy.ndarray
        Shape ``(n, width, 4)``, one-hot in ``A, C, G, T`` order; row ``i``
        is the window in row ``i`` of :attr:`windows`. Minus-strand windows are
        reverse-complemented when the loader was asked to.
    windows : pandas.DataFrame
        ``n`` rows, columns :data:`WINDOW_COLUMNS`: ``chrom``, ``start``,
        ``end`` (the window actually encoded, 0-based half-open; with the
        ``pad`` policy it may extend off the chromosome), ``name``, ``strand``,
        ``line`` (1-based BED line; for FASTA input the 1-based record number)
        and ``row`` (0-based position of the region among all regions of the
        input, counting dropped ones).
    dropped : pandas.DataFrame
        Regions of this batch that were not encoded, columns
        :data:`DROPPED_COLUMNS`: ``row``, ``line``, ``chrom``, ``start``,
        ``end`` (the window that was attempted), ``name`` and ``reason``.
    """

    onehot: np.ndarray
    windows: pd.DataFrame
    dropped: pd.DataFrame

    def __len__(self) -> int:
        """Number of encoded windows."""
        return len(self.windows)


def off_chrom_side(window: Region, size: int) -> str | None:
    """``"before the start"`` or ``"past the end"`` when ``window`` runs off its contig of length ``size``, else None."""
    if window.start < 0:
        return "before the start"
    if window.end > size:
        return "past the end"
    return None


def off_chrom_reason(window: Region, size: int) -> str:
    """Why a window off its contig is dropped, as ``PREFIX.dropped.tsv`` says it."""
    return f"window runs {off_chrom_side(window, size)} of {window.chrom} (length {size})"


def off_chrom_error(bed_name: str, region: Region, window: Region, size: int) -> SeqliftError:
    """The one-line error for a window off its contig under the ``"error"`` policy, naming the BED line."""
    return SeqliftError(
        f"{bed_name}:{region.line}: window {window.chrom}:{window.start}-{window.end} "
        f"(width {window.width}) runs {off_chrom_side(window, size)} of {window.chrom} (length {size}); "
        "the off-chromosome policy is 'error' (use 'drop' or 'pad')"
    )


def _frame(columns: tuple[str, ...], rows: list[tuple], integer_columns: tuple[str, ...]) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` (even when empty) and int64 integer columns."""
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    return frame.astype({column: "int64" for column in integer_columns})


def load_regions(
    bed_path: str | os.PathLike,
    genome: Genome | str | os.PathLike,
    width: int,
    off_chrom: OffChromPolicy = "drop",
    revcomp_minus: bool = False,
    chunk_size: int = 10_000,
    dtype: npt.DTypeLike = np.float32,
) -> Iterator[RegionChunk]:
    """Stream the regions of a BED file as one-hot windows of a fixed width.

    Each region is resized to ``width`` bases around its summit (narrowPeak)
    or midpoint (see :func:`seqlift.genome.regions.resize`), fetched from the genome
    and one-hot encoded. The BED file is read ``chunk_size`` regions at a time,
    so memory stays bounded however long it is.

    Parameters
    ----------
    bed_path : str or os.PathLike
        BED or narrowPeak file, plain or gzip'd.
    genome : Genome, str or os.PathLike
        The reference: an open :class:`Genome`, or a FASTA path (opened here
        and closed when the iterator is exhausted).
    width : int
        Window width in bases.
    off_chrom : {"drop", "pad", "error"}, default "drop"
        What to do with windows that run off a chromosome end (see the module
        documentation). Dropped windows are listed in each chunk's ``dropped``.
    revcomp_minus : bool, default False
        Reverse-complement the windows of ``-`` strand regions.
    chunk_size : int, default 10000
        Number of input regions per chunk; a chunk encodes at most this many
        windows (fewer when some are dropped; possibly none).
    dtype : numpy dtype, default float32
        Element type of the one-hot arrays.

    Returns
    -------
    Iterator[RegionChunk]
        One chunk per ``chunk_size`` input regions, in file order.

    Raises
    ------
    SeqliftError
        At call time for a bad argument or a missing/unreadable BED or FASTA;
        while iterating for a malformed BED line, a chromosome the FASTA does
        not have (always an error: the message names it, the BED file:line and
        some contigs the FASTA has), or an off-chromosome window under the
        ``"error"`` policy.
    """
    check_positive_int(width, "window width")
    check_positive_int(chunk_size, "chunk size")
    if off_chrom not in OFF_CHROM_POLICIES:
        raise SeqliftError(
            f"off-chromosome policy must be one of {', '.join(OFF_CHROM_POLICIES)}; got {off_chrom!r}"
        )
    chunks = read_bed(bed_path, chunk_size=chunk_size)
    owns_genome = not isinstance(genome, Genome)
    opened = Genome(genome) if owns_genome else genome
    return _stream_regions(chunks, os.fspath(bed_path), opened, owns_genome, width, off_chrom, revcomp_minus, dtype)


def _stream_regions(
    chunks: Iterator[list[Region]],
    bed_name: str,
    genome: Genome,
    owns_genome: bool,
    width: int,
    off_chrom: str,
    revcomp_minus: bool,
    dtype: npt.DTypeLike,
) -> Iterator[RegionChunk]:
    sizes = genome.chrom_sizes()
    row = 0
    try:
        for regions in chunks:
            sequences: list[str] = []
            windows: list[tuple] = []
            dropped: list[tuple] = []
            for region in regions:
                size = sizes.get(region.chrom)
                if size is None:
                    raise SeqliftError(genome.unknown_chrom_message(region.chrom, f"{bed_name}:{region.line}"))
                window = resize(region, width)
                side = off_chrom_side(window, size)
                if side is not None:
                    reason = off_chrom_reason(window, size)
                    if off_chrom == "error":
                        raise off_chrom_error(bed_name, region, window, size)
                    if off_chrom == "drop":
                        dropped.append((row, region.line, window.chrom, window.start, window.end, region.name, reason))
                        row += 1
                        continue
                sequences.append(genome.fetch(window.chrom, window.start, window.end))
                windows.append((window.chrom, window.start, window.end, region.name, region.strand, region.line, row))
                row += 1
            onehot = one_hot(sequences, dtype=dtype) if sequences else np.zeros((0, width, 4), dtype=dtype)
            if revcomp_minus:
                minus = np.fromiter((window[4] == "-" for window in windows), dtype=bool, count=len(windows))
                if minus.any():
                    onehot[minus] = reverse_complement(onehot[minus])
            yield RegionChunk(
                onehot=onehot,
                windows=_frame(WINDOW_COLUMNS, windows, ("start", "end", "line", "row")),
                dropped=_frame(DROPPED_COLUMNS, dropped, ("row", "line", "start", "end")),
            )
    finally:
        if owns_genome:
            genome.close()


def load_fasta_sequences(
    path: str | os.PathLike,
    chunk_size: int = 10_000,
    dtype: npt.DTypeLike = np.float32,
    index_dir: str | os.PathLike | None = None,
) -> Iterator[RegionChunk]:
    """Stream a FASTA of equal-length sequences as one-hot chunks.

    Every record is one input sequence, encoded whole. The chunks have the
    same form as :func:`load_regions`'s: in ``windows``, ``chrom`` and
    ``name`` are the record name, ``start`` is 0, ``end`` the length,
    ``strand`` is ``'.'``, ``line`` the 1-based record number and ``row`` the
    0-based one; ``dropped`` is always empty.

    Parameters
    ----------
    path : str or os.PathLike
        FASTA file whose records all have the same length.
    chunk_size : int, default 10000
        Records per chunk.
    dtype : numpy dtype, default float32
        Element type of the one-hot arrays.
    index_dir : str or os.PathLike, optional
        Passed to :class:`Genome`.

    Returns
    -------
    Iterator[RegionChunk]
        Chunks of at most ``chunk_size`` sequences, in file order.

    Raises
    ------
    SeqliftError
        At call time: bad ``chunk_size``; a missing, unreadable, malformed or
        empty FASTA; or records of unequal length (naming the first record whose
        length differs from the first record's).
    """
    check_positive_int(chunk_size, "chunk size")
    genome = Genome(path, index_dir=index_dir)
    sizes = genome.chrom_sizes()
    records = list(sizes.items())
    if not records:
        genome.close()
        raise SeqliftError(f"{genome.path} holds no sequences")
    first_name, length = records[0]
    for number, (name, size) in enumerate(records, start=1):
        if size != length:
            genome.close()
            raise SeqliftError(
                f"{genome.path}: record {name!r} (record {number}) has length {size} but the first "
                f"record {first_name!r} has length {length}; sequences given as FASTA must all "
                "have the same length"
            )
    return _stream_records(genome, records, chunk_size, dtype)


def _stream_records(
    genome: Genome, records: list[tuple[str, int]], chunk_size: int, dtype: npt.DTypeLike
) -> Iterator[RegionChunk]:
    row = 0
    try:
        for batch in chunked(records, chunk_size):
            sequences = [genome.fetch(name, 0, size) for name, size in batch]
            windows = []
            for name, size in batch:
                windows.append((name, 0, size, name, ".", row + 1, row))
                row += 1
            yield RegionChunk(
                onehot=one_hot(sequences, dtype=dtype),
                windows=_frame(WINDOW_COLUMNS, windows, ("start", "end", "line", "row")),
                dropped=_frame(DROPPED_COLUMNS, [], ("row", "line", "start", "end")),
            )
    finally:
        genome.close()
