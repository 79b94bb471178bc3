"""Sequences out of FASTA files: a reference genome, and the streaming loader.

:class:`Genome` opens an indexed FASTA through pyfaidx (building the ``.fai``
index when it is missing or stale) and fetches 0-based half-open intervals.

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

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyfaidx

from seqlift.errors import SeqliftError, check_positive_int, read_head
from seqlift.sequences.onehot import one_hot, reverse_complement
from seqlift.genome.regions import Region, chunked, read_bed, resize

__all__ = [
    "Genome",
    "RegionChunk",
    "load_regions",
    "load_fasta_sequences",
    "OFF_CHROM_POLICIES",
    "WINDOW_COLUMNS",
    "DROPPED_COLUMNS",
]

log = logging.getLogger(__name__)

#: accepted values of the ``off_chrom`` argument
OFF_CHROM_POLICIES = ("drop", "pad", "error")
OffChromPolicy = Literal["drop", "pad", "error"]

#: columns of :attr:`RegionChunk.windows`
WINDOW_COLUMNS = ("chrom", "start", "end", "name", "strand", "line", "row")
#: columns of :attr:`RegionChunk.dropped`
DROPPED_COLUMNS = ("row", "line", "chrom", "start", "end", "name", "reason")

#: how many contig names an "unknown chromosome" message lists
_CONTIGS_SHOWN = 3

_GZIP_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------- files


def _check_fasta_file(path: str) -> None:
    """Fail with a one-line message naming ``path`` unless it is a readable plain FASTA."""
    if read_head(path, 2, "FASTA") == _GZIP_MAGIC:
        try:
            import Bio.bgzf  # noqa: F401  (pyfaidx reads bgzip'd FASTA through biopython)
        except ImportError:
            raise SeqliftError(
                f"FASTA file {path} is gzip-compressed; decompress it (gunzip) first"
            ) from None


def _can_create_file_in(directory: str) -> bool:
    """Whether a file can be created in ``directory`` (tried, not guessed)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def _index_is_current(index_path: str, fasta_path: str) -> bool:
    """Whether ``index_path`` exists, is readable and is not older than the FASTA."""
    try:
        return (
            os.path.getmtime(index_path) >= os.path.getmtime(fasta_path)
            and os.access(index_path, os.R_OK)
        )
    except OSError:
        return False


def default_index_dir() -> str:
    """Where indexes go when a FASTA's own directory is not writable.

    ``$SEQLIFT_INDEX_DIR`` if set, else ``$XDG_CACHE_HOME/seqlift/fai``
    (``~/.cache/seqlift/fai`` when ``XDG_CACHE_HOME`` is unset).
    """
    explicit = os.environ.get("SEQLIFT_INDEX_DIR")
    if explicit:
        return explicit
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "seqlift", "fai")


def _choose_index_path(fasta_path: str, index_dir: str | os.PathLike | None) -> str:
    """The ``.fai`` to use: beside the FASTA when possible, else in ``index_dir``.

    An up-to-date ``<fasta>.fai`` is used as it is. Otherwise the index is
    (re)built beside the FASTA when its directory is writable, and in
    ``index_dir`` (default :func:`default_index_dir`) when it is not, under a
    name made unique by a hash of the FASTA's absolute path.
    """
    beside = fasta_path + ".fai"
    if _index_is_current(beside, fasta_path):
        return beside
    if _can_create_file_in(os.path.dirname(os.path.abspath(fasta_path))):
        return beside
    directory = os.fspath(index_dir) if index_dir is not None else default_index_dir()
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        pass
    if not _can_create_file_in(directory):
        raise SeqliftError(
            f"cannot build the index of {fasta_path}: its directory is not writable and "
            f"neither is the index directory {directory} (set SEQLIFT_INDEX_DIR or pass "
            "index_dir to a writable directory, or run 'samtools faidx' where you can write)"
        )
    digest = hashlib.sha1(os.path.abspath(fasta_path).encode()).hexdigest()[:12]
    index_path = os.path.join(directory, f"{os.path.basename(fasta_path)}.{digest}.fai")
    log.info("%s is in a read-only directory; its index is kept at %s", fasta_path, index_path)
    return index_path


# --------------------------------------------------------------------------- genome


class Genome:
    """A FASTA file opened for random access by chromosome and coordinates.

    Parameters
    ----------
    path : str or os.PathLike
        A FASTA file (plain text; bgzip'd only when biopython is installed).
        Lines within a record must have equal lengths, as for ``samtools faidx``.
    index_dir : str or os.PathLike, optional
        Where to build the ``.fai`` index when it is missing or stale and the
        FASTA's own directory is not writable. Default: :func:`default_index_dir`.

    Attributes
    ----------
    path : str
        The FASTA path as given.
    index_path : str
        The ``.fai`` index in use.

    Raises
    ------
    SeqliftError
        If the file is missing, unreadable, gzip'd, not valid FASTA, or
        cannot be indexed; the message names the path.

    Examples
    --------
    >>> with Genome("hg38.fa") as genome:  # doctest: +SKIP
    ...     genome.chrom_sizes()["chr1"]
    248956422
    """

    def __init__(self, path: str | os.PathLike, index_dir: str | os.PathLike | None = None) -> None:
        self.path = os.fspath(path)
        _check_fasta_file(self.path)
        self.index_path = _choose_index_path(self.path, index_dir)
        gzi_path = self.index_path[: -len(".fai")] + ".gzi"
        try:
            self._faidx = pyfaidx.Faidx(
                self.path,
                indexname=self.index_path,
                gzi_indexname=gzi_path,
                as_raw=True,
                strict_bounds=False,
                rebuild=True,
                build_index=True,
            )
        except pyfaidx.FastaIndexingError as err:
            raise SeqliftError(f"cannot index FASTA file {self.path}: {err}") from None
        except pyfaidx.UnsupportedCompressionFormat:
            raise SeqliftError(
                f"FASTA file {self.path} is gzip'd but not with bgzip; decompress it (gunzip) first"
            ) from None
        except pyfaidx.IndexNotFoundError:
            raise SeqliftError(f"cannot read the FASTA index {self.index_path}") from None
        except ValueError as err:  # duplicate record names, malformed .fai lines
            raise SeqliftError(
                f"cannot index FASTA file {self.path} (index {self.index_path}): {err}"
            ) from None
        except OSError as err:
            raise SeqliftError(f"cannot index FASTA file {self.path}: {err}") from None
        self._sizes = {name: record.rlen for name, record in self._faidx.index.items()}

    def __repr__(self) -> str:
        return f"Genome({self.path!r}, {len(self._sizes)} contigs)"

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the FASTA file."""
        self._faidx.close()

    def __contains__(self, chrom: object) -> bool:
        return chrom in self._sizes

    @property
    def contigs(self) -> list[str]:
        """Contig names, in file order."""
        return list(self._sizes)

    def chrom_sizes(self) -> dict[str, int]:
        """Length of every contig, in file order.

        Returns
        -------
        dict of str to int
            A new dict ``{contig name: length in bases}``.
        """
        return dict(self._sizes)

    def unknown_chrom_message(self, chrom: str, where: str | None = None) -> str:
        """The one-line message for a chromosome this FASTA does not have.

        Parameters
        ----------
        chrom : str
            The missing chromosome name.
        where : str, optional
            ``file:line`` of the request, put first in the message.

        Returns
        -------
        str
            E.g. ``"peaks.bed:12: chromosome 'chrZ' is not in genome.fa (file
            has 25 contigs: chr1, chr2, chrX, ...)"``, with a hint when only a
            ``chr`` prefix differs.
        """
        shown = ", ".join(self.contigs[:_CONTIGS_SHOWN])
        more = ", ..." if len(self._sizes) > _CONTIGS_SHOWN else ""
        count = f"{len(self._sizes)} contig{'s' if len(self._sizes) != 1 else ''}"
        message = f"chromosome {chrom!r} is not in {self.path} (file has {count}: {shown}{more})"
        alternative = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
        if alternative in self._sizes:
            message += f"; did you mean {alternative!r}? (BED and FASTA use different naming)"
        return f"{where}: {message}" if where else message

    def length(self, chrom: str) -> int:
        """Length of ``chrom``; :class:`SeqliftError` if the FASTA does not have it."""
        try:
            return self._sizes[chrom]
        except KeyError:
            raise SeqliftError(self.unknown_chrom_message(chrom)) from None

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases ``[start, end)`` of ``chrom`` (0-based, half-open) as stored.

        Soft-masked (lower-case) bases are returned as they are. Positions
        before 0 or past the chromosome end come back as ``N``, so the result
        always has ``end - start`` characters.

        Parameters
        ----------
        chrom : str
            Contig name.
        start, end : int
            0-based half-open interval, ``start <= end``; may extend off the
            chromosome.

        Returns
        -------
        str
            The sequence, ``end - start`` characters long.

        Raises
        ------
        SeqliftError
            If ``chrom`` is not in the FASTA, or the file is shorter than its
            index says (it changed after indexing).
        """
        size = self.length(chrom)
        inside_start, inside_end = max(start, 0), min(end, size)
        if inside_start >= inside_end:
            return "N" * max(end - start, 0)
        # pyfaidx takes 1-based closed coordinates
        bases = self._faidx.fetch(chrom, inside_start + 1, inside_end)
        if len(bases) != inside_end - inside_start:
            raise SeqliftError(
                f"FASTA file {self.path} is shorter than its index {self.index_path} says at "
                f"{chrom}:{inside_start}-{inside_end}; delete the index to rebuild it"
            )
        if inside_start == start and inside_end == end:
            return bases
        return "N" * (inside_start - start) + bases + "N" * (end - inside_end)


# --------------------------------------------------------------------------- loaders


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
                if window.start < 0 or window.end > size:
                    side = "before the start" if window.start < 0 else "past the end"
                    reason = f"window runs {side} of {window.chrom} (length {size})"
                    if off_chrom == "error":
                        raise SeqliftError(
                            f"{bed_name}:{region.line}: window {window.chrom}:{window.start}-{window.end} "
                            f"(width {width}) runs {side} of {window.chrom} (length {size}); "
                            "the off-chromosome policy is 'error' (use 'drop' or 'pad')"
                        )
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
        At call time: bad ``chunk_size``; a missing, unreadable or malformed
        FASTA; or records of unequal length (naming the first record whose
        length differs from the first record's).
    """
    check_positive_int(chunk_size, "chunk size")
    genome = Genome(path, index_dir=index_dir)
    sizes = genome.chrom_sizes()
    records = list(sizes.items())
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
