"""A reference genome: a FASTA file opened for random access through pyfaidx.

:class:`Genome` opens an indexed FASTA (building the ``.fai`` index when it is
missing or does not describe the file, see :func:`index_mismatch`, beside the
FASTA or, when that directory is read-only, in :func:`default_index_dir`) and fetches 0-based half-open intervals; positions
off a chromosome come back as ``N``. A chromosome the FASTA does not have is an
error naming it, the file and some contigs it does have.
"""
from __future__ import annotations

import hashlib
import logging
import mmap
import os
import tempfile

import pyfaidx

from seqlift.errors import SeqliftError
from seqlift.inputs import is_gzip

__all__ = ["Genome", "default_index_dir", "read_fasta", "index_mismatch"]

log = logging.getLogger(__name__)

#: how many contig names an "unknown chromosome" message lists
_CONTIGS_SHOWN = 3
#: the most bytes of blank lines accepted after a FASTA's last record
_TAIL_BYTES = 4096


# --------------------------------------------------------------------------- files


def _check_fasta_file(path: str) -> None:
    """Fail with a one-line message naming ``path`` unless it is a readable plain FASTA."""
    if is_gzip(path, "FASTA"):
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


def _cached_index_path(fasta_path: str, index_dir: str | os.PathLike | None) -> str:
    """Where the index of ``fasta_path`` goes when its own directory is read-only.

    In ``index_dir`` (default :func:`default_index_dir`), under a name made
    unique by a hash of the FASTA's absolute path.
    """
    directory = os.fspath(index_dir) if index_dir is not None else default_index_dir()
    digest = hashlib.sha1(os.path.abspath(fasta_path).encode()).hexdigest()[:12]
    return os.path.join(directory, f"{os.path.basename(fasta_path)}.{digest}.fai")


def _read_fai(index_path: str) -> list[tuple[str, int, int, int, int]] | None:
    """The records of a ``.fai`` file (name, length, offset, bases per line, bytes per line); None if unreadable."""
    records = []
    try:
        with open(index_path, encoding="utf-8") as handle:
            for line in handle:
                fields = line.rstrip("\r\n").split("\t")
                if len(fields) < 5:
                    return None
                records.append((fields[0], *(int(v) for v in fields[1:5])))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return records


def index_mismatch(fasta_path: str, index_path: str) -> str | None:
    """What shows that an index does not describe a plain FASTA file, or None when it does.

    A ``.fai`` line says where a record's bases start (``offset``), how many
    there are (``length``) and how lines are laid out (``bases`` per line,
    ``bytes`` per line with the line end). For every record the file must
    agree: its header line ``>name ...`` ends just before ``offset``; a full
    first line ends with a line end at ``offset + bytes - 1``; the last line
    ends with a line end (or the file's end) where ``length`` says; and after
    the last record only blank lines may follow. These are the facts a
    fetch relies on, so a FASTA replaced after indexing (a different line
    width, other records, another length) is told apart whatever the files'
    modification times say; the bases themselves are not in the index.

    Parameters
    ----------
    fasta_path, index_path : str
        The FASTA (plain text, not bgzip) and its candidate ``.fai``.

    Returns
    -------
    str or None
        The first disagreement found, in words, or None.
    """
    records = _read_fai(index_path)
    if not records:
        return "it cannot be read as an index" if records is None else "it lists no records"
    try:
        with open(fasta_path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return "the FASTA file is empty"
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _layout_mismatch(data, size, records)
    except (OSError, ValueError) as err:
        return f"the FASTA file cannot be read ({err})"


def _layout_mismatch(data: mmap.mmap, size: int, records: list[tuple[str, int, int, int, int]]) -> str | None:
    end = 0
    for name, length, offset, bases, line_bytes in records:
        where = f"record {name!r}"
        if length < 0 or offset < 1 or offset > size or (length and not 0 < bases < line_bytes <= bases + 2):
            return f"{where} has an impossible entry"
        if data[offset - 1] != 0x0A:
            return f"{where}: no line end where its sequence should start (byte {offset})"
        header = data.rfind(b"\n", 0, offset - 1) + 1
        label = name.encode()
        if header < end or data[header:header + 1 + len(label)] != b">" + label or \
                data[header + 1 + len(label):header + 2 + len(label)] not in (b" ", b"\t", b"\r", b"\n"):
            return f"{where}: the header before byte {offset} is not '>{name}'"
        if length == 0:
            end = offset
            continue
        full_lines = (length - 1) // bases
        if full_lines and data[offset + line_bytes - 1] != 0x0A:
            return f"{where}: its lines are not {bases} bases long"
        end = offset + full_lines * line_bytes + (length - full_lines * bases)
        if end > size or (end < size and data[end] not in (0x0A, 0x0D)):
            return f"{where}: its sequence does not end after {length} bases"
    if size - end > _TAIL_BYTES or data[end:size].strip():
        return f"the file goes on after record {records[-1][0]!r} (records the index does not list)"
    return None


def _choose_index_path(fasta_path: str, index_dir: str | os.PathLike | None) -> str:
    """The ``.fai`` to use: an existing one that describes the FASTA, or where to build one.

    The index beside the FASTA (``<fasta>.fai``), then the one in
    ``index_dir``, is used when :func:`index_mismatch` finds nothing wrong
    with it (for a bgzip'd FASTA, when it is not older than the FASTA). One
    that does not describe the file is replaced: the index is (re)built
    beside the FASTA when its directory is writable, else in ``index_dir``.
    """
    beside = fasta_path + ".fai"
    cached = _cached_index_path(fasta_path, index_dir)
    compressed = is_gzip(fasta_path, "FASTA")
    for candidate in (beside, cached):
        if not os.path.exists(candidate):
            continue
        if compressed:
            if _readable_and_not_older(candidate, fasta_path):
                return candidate
            continue
        problem = index_mismatch(fasta_path, candidate)
        if problem is None:
            return candidate
        log.info("the index %s does not describe %s (%s); building a new one", candidate, fasta_path, problem)
    if _can_create_file_in(os.path.dirname(os.path.abspath(fasta_path))):
        target = beside
    else:
        directory = os.path.dirname(cached)
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
        target = cached
        log.info("%s is in a read-only directory; its index is kept at %s", fasta_path, target)
    try:
        os.remove(target)  # a stale index: pyfaidx builds a new one where none is
    except FileNotFoundError:
        pass
    except OSError as err:
        raise SeqliftError(f"cannot replace the stale index {target} of {fasta_path}: {err.strerror or err}") from None
    return target


def _readable_and_not_older(index_path: str, fasta_path: str) -> bool:
    """Whether ``index_path`` is readable and not older than the FASTA (bgzip'd FASTA files)."""
    try:
        return os.path.getmtime(index_path) >= os.path.getmtime(fasta_path) and os.access(index_path, os.R_OK)
    except OSError:
        return False


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
                rebuild=False,  # _choose_index_path removed an index that does not describe the file
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


def read_fasta(path: str | os.PathLike, index_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Every record of a FASTA file, whole: ``{name: sequence}`` in file order.

    Read through :class:`Genome` (so the file is indexed, and its errors are
    :class:`Genome`'s); meant for files of short sequences that fit in memory.
    Letters are returned as stored (soft-masked bases stay lower case).

    Parameters
    ----------
    path : str or os.PathLike
        The FASTA file.
    index_dir : str or os.PathLike, optional
        Passed to :class:`Genome`.

    Returns
    -------
    dict of str to str
        Record name (the first word of its header line) to sequence.
    """
    with Genome(path, index_dir=index_dir) as genome:
        return {name: genome.fetch(name, 0, size) for name, size in genome.chrom_sizes().items()}
