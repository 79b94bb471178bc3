"""Genomic regions read from BED files, streamed in bounded chunks.

A BED file is read line by line and handed out in lists of at most
``chunk_size`` :class:`Region` objects, so a file of millions of lines never
sits in memory whole. The format accepted:

* tab-separated, at least three columns: ``chrom``, ``start``, ``end``
  (0-based, half-open: ``start < end``, both non-negative integers no larger
  than :data:`MAX_COORDINATE`);
* optional ``name`` (column 4) and ``strand`` (column 6: ``+``, ``-`` or ``.``;
  ``.`` when the column is absent);
* narrowPeak files: the summit offset (column 10, relative to ``start``,
  ``-1`` for none) is used when the column is present;
* ``track`` and ``browser`` lines, lines starting with ``#`` and blank lines
  are skipped (but still counted in line numbers);
* gzip-compressed files (``.gz`` or bgzip; recognised by their content) are
  read transparently.

Every malformed line raises :class:`~seqlift.errors.SeqliftError` with a
one-line message ``path:line: what is wrong``.

:func:`resize` turns a region into a fixed-width window centred on its summit
(or midpoint).
"""
from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TypeVar

from seqlift.errors import SeqliftError
from seqlift.inputs import check_positive_int, is_gzip, open_text

__all__ = ["Region", "read_bed", "iter_bed", "chunked", "resize", "STRANDS", "MAX_COORDINATE"]

#: strand values accepted in column 6
STRANDS = ("+", "-", ".")
#: the largest start or end accepted: windows around it (and their ends) stay within 64-bit integers
MAX_COORDINATE = 2**62 - 1
#: lines between two calls of :func:`iter_bed`'s ``progress``
_PROGRESS_LINES = 8192

#: first words of header lines that carry no region
_HEADER_WORDS = ("track", "browser")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Region:
    """One genomic interval.

    Attributes
    ----------
    chrom : str
        Chromosome (contig) name.
    start, end : int
        0-based half-open coordinates: the region covers ``start .. end-1``.
        A region from :func:`resize` may have a negative ``start`` or run past
        the chromosome end; the genome loader's off-chromosome policy decides
        what happens to it.
    name : str or None
        Column 4 of the BED line, None when the line has fewer columns.
    strand : str
        ``'+'``, ``'-'`` or ``'.'`` (column 6; ``'.'`` when absent).
    summit : int or None
        Offset of the summit from ``start`` (narrowPeak column 10), None when
        there is none.
    line : int or None
        1-based line number in the source file (None for regions made in code).
    """

    chrom: str
    start: int
    end: int
    name: str | None = None
    strand: str = "."
    summit: int | None = None
    line: int | None = None

    @property
    def width(self) -> int:
        """Number of bases covered, ``end - start``."""
        return self.end - self.start

    @property
    def centre(self) -> int:
        """The position :func:`resize` centres on.

        ``start + summit`` when there is a summit, else the midpoint
        ``(start + end) // 2`` (rounded down, so for an even-length region it
        is the first base of the right half).
        """
        if self.summit is not None:
            return self.start + self.summit
        return (self.start + self.end) // 2


def resize(region: Region, width: int) -> Region:
    """A window of exactly ``width`` bases centred on the region's summit or midpoint.

    The centre ``c`` is :attr:`Region.centre` (``start + summit``, or the
    rounded-down midpoint). The window is ``[c - width // 2, c - width // 2 + width)``:
    for an odd width ``c`` is its middle base; for an even width there are
    ``width // 2`` bases before ``c`` and ``width // 2 - 1`` after it. An
    even-width window around the midpoint of an even-length region is thus
    exactly symmetric.

    Parameters
    ----------
    region : Region
        The region to resize.
    width : int
        Window width in bases, positive.

    Returns
    -------
    Region
        A copy of ``region`` with the new ``start`` and ``end`` (``start`` may
        be negative, ``end`` may run past the chromosome) and ``summit`` set to
        the centre's offset in the window (``width // 2``) when the region had
        a summit, else None. ``name``, ``strand`` and ``line`` are kept.

    Raises
    ------
    SeqliftError
        If ``width`` is not a positive integer.
    """
    check_positive_int(width, "window width")
    start = region.centre - width // 2
    summit = width // 2 if region.summit is not None else None
    return Region(region.chrom, start, start + width, region.name, region.strand, summit, region.line)


def _quote(text: str, limit: int = 40) -> str:
    """``text`` quoted for an error message, shortened when long."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def _is_integer(text: str) -> bool:
    """Whether ``text`` is a plain ASCII decimal integer, optionally with a leading ``-``."""
    digits = text[1:] if text[:1] == "-" else text
    return digits.isascii() and digits.isdigit()


def _non_negative_int(text: str, what: str, where: str) -> int:
    """Parse a BED integer column; ``what`` and ``where`` name it in errors."""
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        value = int(stripped)
        if value > MAX_COORDINATE:
            raise SeqliftError(f"{where}: {what} {_quote(stripped)} is beyond the largest coordinate seqlift "
                               f"reads (2^62 - 1); no genome is that long")
        return value
    if _is_integer(stripped):
        raise SeqliftError(f"{where}: {what} {stripped} is negative")
    raise SeqliftError(f"{where}: {what} {_quote(text)} is not an integer")


def _parse_line(text: str, source: str, line: int) -> Region | None:
    """The region on one BED line, or None for a header, comment or blank line."""
    if not text or text.isspace() or text.startswith("#"):
        return None
    fields = text.split("\t")
    first_word = fields[0].split(None, 1)[0] if fields[0].strip() else ""
    if first_word in _HEADER_WORDS:
        return None
    where = f"{source}:{line}"
    if len(fields) < 3:
        raise SeqliftError(
            f"{where}: too few columns: found {len(fields)}, a BED line needs "
            "chrom, start and end separated by tabs"
        )
    chrom = fields[0].strip()
    if not chrom:
        raise SeqliftError(f"{where}: the chromosome name (column 1) is empty")
    start = _non_negative_int(fields[1], "start (column 2)", where)
    end = _non_negative_int(fields[2], "end (column 3)", where)
    if start >= end:
        raise SeqliftError(f"{where}: start {start} is not less than end {end}")
    name = fields[3].strip() if len(fields) >= 4 else None
    strand = "."
    if len(fields) >= 6:
        strand = fields[5].strip()
        if strand not in STRANDS:
            raise SeqliftError(f"{where}: strand (column 6) {_quote(strand)} is not '+', '-' or '.'")
    summit = None
    if len(fields) >= 10:
        summit_text = fields[9].strip()
        if summit_text != "-1":
            if not _is_integer(summit_text):
                raise SeqliftError(f"{where}: summit (column 10) {_quote(fields[9])} is not an integer")
            summit = int(summit_text)
            if not 0 <= summit < end - start:
                raise SeqliftError(
                    f"{where}: summit (column 10) {summit} lies outside the region "
                    f"{chrom}:{start}-{end} (offset must be 0..{end - start - 1}, or -1 for none)"
                )
    return Region(chrom, start, end, name, strand, summit, line)


def iter_bed(path: str | os.PathLike, progress: Callable[[int, int], None] | None = None) -> Iterator[Region]:
    """Stream the regions of a BED file one at a time.

    Parameters
    ----------
    path : str or os.PathLike
        A BED or narrowPeak file, plain or gzip-compressed.
    progress : callable, optional
        Called every few thousand lines as ``progress(bytes_read, lines)``:
        the bytes of the file read so far (compressed bytes for a gzip
        file, so that they compare with its size) and the lines gone through.

    Returns
    -------
    Iterator[Region]
        The regions in file order, each with its 1-based :attr:`Region.line`.
        The file is checked (exists, readable) when this is called; lines are
        parsed as the iterator is consumed.

    Raises
    ------
    SeqliftError
        If the file is missing or unreadable (at call time), or when a
        malformed line is reached (``path:line: what is wrong``).
    """
    compressed = is_gzip(path, "BED")
    return _iter_regions(path, compressed, progress)


def _raw_position(handle: IO[str]) -> Callable[[], int]:
    """A function giving how many bytes of the file under a text handle have been read."""
    binary = getattr(handle, "buffer", None)
    raw = getattr(binary, "fileobj", None) or binary  # a gzip file's compressed stream, or the plain file
    return (lambda: raw.tell()) if raw is not None else (lambda: 0)


def _iter_regions(path: str | os.PathLike, compressed: bool,
                  progress: Callable[[int, int], None] | None) -> Iterator[Region]:
    source = os.fspath(path)
    line = 0
    with open_text(path, compressed) as handle:
        position = _raw_position(handle)
        try:
            for line, text in enumerate(handle, start=1):
                region = _parse_line(text.rstrip("\r\n"), source, line)
                if progress is not None and line % _PROGRESS_LINES == 0:
                    progress(position(), line)
                if region is not None:
                    yield region
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise SeqliftError(f"{source}:{line + 1}: corrupt or truncated gzip data ({err})") from None


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Group an iterable into lists of ``size`` items (the last may be shorter).

    Parameters
    ----------
    items : iterable
        Any iterable; it is consumed lazily, one chunk at a time.
    size : int
        Maximum number of items per list, positive.

    Returns
    -------
    Iterator[list]
        Non-empty lists of at most ``size`` items, in order.

    Raises
    ------
    SeqliftError
        If ``size`` is not a positive integer.
    """
    check_positive_int(size, "chunk size")
    return _chunks(iter(items), size)


def _chunks(iterator: Iterator[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in iterator:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_bed(path: str | os.PathLike, chunk_size: int = 10_000) -> Iterator[list[Region]]:
    """Stream a BED file as lists of at most ``chunk_size`` regions.

    Parameters
    ----------
    path : str or os.PathLike
        A BED or narrowPeak file, plain or gzip-compressed (see the module
        documentation for the accepted format).
    chunk_size : int, default 10000
        Maximum number of regions per list. Only one list is held at a time.

    Returns
    -------
    Iterator[list[Region]]
        Lists of regions in file order; ``list(itertools.chain(*read_bed(p)))``
        is every region of the file.

    Raises
    ------
    SeqliftError
        If ``chunk_size`` is not a positive integer or the file is missing or
        unreadable (at call time), or when a malformed line is reached, with a
        one-line ``path:line: what is wrong`` message.

    Examples
    --------
    >>> for regions in read_bed("peaks.narrowPeak.gz", chunk_size=5000):  # doctest: +SKIP
    ...     windows = [resize(region, 1000) for region in regions]
    """
    return chunked(iter_bed(path), chunk_size)
