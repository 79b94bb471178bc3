"""The HDF5 file of a ``seqlift score`` run: its layout, appending, resuming.

A run writes ``PREFIX.h5.partial`` chunk by chunk (every dataset that grows
with the number of regions is resizable, chunked and gzip-compressed, so
memory does not grow with the input) and renames it to ``PREFIX.h5`` once
every chunk is in and the derived outputs are written. The same file is the
record :func:`seqlift.scoring.run.score` resumes from and the input of
``seqlift merge``. Any HDF5 reader opens it (only the built-in ``gzip`` and
``shuffle`` filters are used).

Layout
------
``N`` scored windows, ``D`` dropped regions, ``T`` tasks, ``L`` window
length, ``K`` completed chunks, ``C`` contigs.

==========================  =============  =========  ===========================================
dataset                     shape          dtype      content
==========================  =============  =========  ===========================================
``onehot``                  (N, L, 4)      uint8      the scored sequences, one-hot A, C, G, T
                                                      (forward strand; ``N`` and padding: all 0)
``contributions``           (T, N, L, 4)   float32    contribution of each base, per task
``hypothetical``            (T, N, L, 4)   float32    hypothetical contributions, per task
``deltas``                  (T, N)         float32    summation-to-delta residual: target
                                                      difference minus summed contributions
``target_deltas``           (T, N)         float32    target(input) - target(reference),
                                                      averaged over the references
``tasks``                   (T,)           int64      the target unit each task axis entry is
``windows/chrom``           (N,)           str        contig of each scored window (for FASTA
                                                      input: the record name)
``windows/start``           (N,)           int64      0-based start (may be < 0 with
                                                      ``--off-chrom pad``)
``windows/end``             (N,)           int64      end, exclusive (may pass the contig end
                                                      with ``--off-chrom pad``)
``windows/name``            (N,)           str        BED column 4 ('' when absent)
``windows/strand``          (N,)           str        BED column 6 ('.' when absent)
``windows/row``             (N,)           int64      0-based region number in the input file
                                                      (counting dropped regions)
``windows/line``            (N,)           int64      1-based line of the input file (FASTA:
                                                      record number)
``windows/unknown``         (N,)           int64      bases of the window that are not A, C, G
                                                      or T (N, IUPAC codes, padding): all-zero
                                                      rows of ``onehot``
``dropped/row``, ``line``,  (D,)           as above   regions not scored: the window that was
``chrom``, ``start``,                                 attempted, and
``end``, ``name``,                                    (``unknown``: -1 when the window was not
``unknown``                                           read)
``dropped/reason``          (D,)           str        why it was not scored
``chrom_sizes/name``        (C,)           str        contigs of the genome (FASTA input: the
                                                      records), in file order
``chrom_sizes/length``      (C,)           int64      their lengths
``progress``                (K, 5)         int64      one row per completed chunk: first input
                                                      row, end input row (exclusive), the
                                                      totals of windows and dropped regions
                                                      written once it was recorded, and the
                                                      CRC-32 of the chunk's rows (see
                                                      :func:`chunk_checksum`)
==========================  =============  =========  ===========================================

Row ``i`` of ``onehot``, of every ``contributions[t]`` and
``hypothetical[t]``, of ``deltas[t]`` and of ``windows/*`` describe the same
window. Strings are variable-length UTF-8.

Root attributes: ``format`` (``"seqlift-score"``), ``format_version`` (2;
files of format 1, without ``windows/unknown`` and checksums, are read but
not resumed), ``writing`` (true while a process has the file open for
writing: a file left so was not closed cleanly),
``parameters`` (JSON: the run's parameters, see
:func:`seqlift.scoring.run.score`), ``seed``, ``versions`` (JSON: seqlift,
Python and the libraries that compute the scores), ``complete`` (every chunk
is in), ``next_row`` (the input row the next chunk starts at),
``row_start`` / ``row_stop`` (the input rows this file covers: all of them,
or one shard's) and ``rows_total`` (regions in the input file).

Durability
----------
A chunk counts as done only once its data are on disk: :meth:`ScoreStore.append`
reserves the space the chunk may need (:mod:`seqlift.scoring.space`), writes
the data, flushes and fsyncs the file, and only then writes the
chunk's progress row, with the checksum of its rows, and flushes and
fsyncs again. A run resumed from a partial file first reads every
recorded chunk back and compares it with its checksum
(:meth:`ScoreStore.verified_chunks`): a chunk whose data did not reach the
disk is scored again, never trusted.
"""
from __future__ import annotations

import json
import logging
import os
import re
import zlib
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np
import pandas as pd

from seqlift.errors import SeqliftError, UnclosableFileError
from seqlift.scoring import space

__all__ = ["ScoreStore", "FORMAT", "FORMAT_VERSION", "WINDOW_FIELDS", "DROPPED_FIELDS", "chunk_checksum"]

log = logging.getLogger(__name__)

FORMAT = "seqlift-score"
FORMAT_VERSION = 2
#: older formats that are read (not resumed or appended to)
READABLE_VERSIONS = (1, 2)

_STR = h5py.string_dtype("utf-8")
#: columns of ``windows/`` and their HDF5 types
WINDOW_FIELDS = {
    "chrom": _STR, "start": np.int64, "end": np.int64, "name": _STR,
    "strand": _STR, "row": np.int64, "line": np.int64, "unknown": np.int64,
}
#: columns of ``dropped/`` and their HDF5 types
DROPPED_FIELDS = {
    "row": np.int64, "line": np.int64, "chrom": _STR, "start": np.int64,
    "end": np.int64, "name": _STR, "unknown": np.int64, "reason": _STR,
}
#: columns added in format 2, and their value when read from a format-1 file
_NEW_COLUMNS = {"unknown": -1}
#: columns of ``progress``: first row, end row, windows and dropped totals, checksum
_PROGRESS_COLUMNS = 5
#: bytes reserved beyond a chunk's data for HDF5's own records (object headers, B-trees, heaps)
_METADATA_BYTES = 1 << 20
#: bytes of one HDF5 chunk of the big arrays (uncompressed)
_CHUNK_BYTES = 1 << 18
#: rows of one HDF5 chunk of the 1-D columns
_COLUMN_CHUNK = 4096
_GZIP = {"compression": "gzip", "compression_opts": 1, "shuffle": True}


def _rows_per_chunk(row_bytes: int) -> int:
    return max(1, _CHUNK_BYTES // max(row_bytes, 1))


def _text(values: Any) -> np.ndarray:
    """An object array of str (None and NaN become '')."""
    return np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values],
                    dtype=object)


def _column(frame: pd.DataFrame, name: str, dtype: Any) -> np.ndarray:
    """A column of ``windows`` or ``dropped`` as stored: str objects or int64."""
    return _text(frame[name]) if dtype is _STR else frame[name].to_numpy(np.int64)


def chunk_checksum(arrays: list[np.ndarray], windows: pd.DataFrame, dropped: pd.DataFrame) -> int:
    """The CRC-32 of one chunk's rows as stored.

    Parameters
    ----------
    arrays : list of np.ndarray
        ``onehot`` (uint8), ``contributions``, ``hypothetical``, ``deltas``
        and ``target_deltas`` (float32) of the chunk's windows, in the
        stored dtypes.
    windows, dropped : pandas.DataFrame
        The chunk's rows of ``windows/`` and ``dropped/``.

    Returns
    -------
    int
        CRC-32 over the arrays' bytes, then every column (strings as UTF-8
        separated by NUL bytes), in :data:`WINDOW_FIELDS` and
        :data:`DROPPED_FIELDS` order.
    """
    crc = 0
    for array in arrays:
        crc = zlib.crc32(np.ascontiguousarray(array).view(np.uint8).reshape(-1), crc)
    for frame, fields in ((windows, WINDOW_FIELDS), (dropped, DROPPED_FIELDS)):
        for name, dtype in fields.items():
            values = _column(frame, name, dtype)
            data = "\0".join(values).encode() if dtype is _STR else np.ascontiguousarray(values).view(np.uint8)
            crc = zlib.crc32(data, crc)
    return crc


class ScoreStore:
    """An open score file (see the module documentation for its layout).

    Use :meth:`create` for a new file and :meth:`open` for an existing one;
    both return a store that is also a context manager closing the file.

    Attributes
    ----------
    path : str
        The file.
    file : h5py.File
        The open HDF5 file.
    """

    def __init__(self, path: str, handle: h5py.File) -> None:
        self.path = path
        self.file = handle
        #: set when a write failed inside HDF5: the file can no longer be closed cleanly
        self.broken = False
        # the datasets appended to, opened once: after a failed write no handle is freed (freeing one
        # makes HDF5 try to flush, fail again and print tracebacks)
        self._handles: dict[str, h5py.Dataset] = {}

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(
        cls,
        path: str,
        parameters: dict[str, Any],
        tasks: list[int],
        width: int,
        chrom_sizes: dict[str, int],
        versions: dict[str, str],
        rows: tuple[int, int],
        rows_total: int,
    ) -> ScoreStore:
        """Create an empty score file (replacing any file at ``path``).

        Parameters
        ----------
        path : str
            Where to write (normally ``PREFIX.h5.partial``).
        parameters : dict
            The run's parameters, JSON-serialisable; stored as the
            ``parameters`` attribute.
        tasks : list of int
            The target units scored, one per task axis entry.
        width : int
            Window length L.
        chrom_sizes : dict of str to int
            The genome's contigs and lengths (for bigWig output).
        versions : dict of str to str
            Package versions to record.
        rows : (int, int)
            The input rows ``[start, stop)`` this file is to cover.
        rows_total : int
            Number of regions in the input file.

        Returns
        -------
        ScoreStore
        """
        free = space.free_bytes(os.path.dirname(os.path.abspath(path)))
        if free is not None and free < _METADATA_BYTES:
            raise space.DiskFull(f"no space left on device for {path} ({space.size_text(free)} free)")
        try:
            handle = h5py.File(path, "w")
        except OSError as err:
            raise SeqliftError(f"cannot create {path}: {_h5_reason(err)}") from None
        store = cls(path, handle)
        try:
            n_tasks = len(tasks)
            handle.attrs.update({
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "parameters": json.dumps(parameters, sort_keys=True),
                "seed": int(parameters.get("seed", 0)),
                "versions": json.dumps(versions, sort_keys=True),
                "complete": False,
                "row_start": int(rows[0]),
                "row_stop": int(rows[1]),
                "next_row": int(rows[0]),
                "rows_total": int(rows_total),
                "writing": True,
            })
            one_rows = _rows_per_chunk(width * 4)
            handle.create_dataset("onehot", shape=(0, width, 4), maxshape=(None, width, 4), dtype=np.uint8,
                                  chunks=(one_rows, width, 4), **_GZIP)
            score_rows = _rows_per_chunk(width * 16)
            for name in ("contributions", "hypothetical"):
                handle.create_dataset(name, shape=(n_tasks, 0, width, 4), maxshape=(n_tasks, None, width, 4),
                                      dtype=np.float32, chunks=(1, score_rows, width, 4), **_GZIP)
            for name in ("deltas", "target_deltas"):
                handle.create_dataset(name, shape=(n_tasks, 0), maxshape=(n_tasks, None), dtype=np.float32,
                                      chunks=(1, _COLUMN_CHUNK), **_GZIP)
            handle.create_dataset("tasks", data=np.asarray(tasks, dtype=np.int64))
            for group, fields in (("windows", WINDOW_FIELDS), ("dropped", DROPPED_FIELDS)):
                for name, dtype in fields.items():
                    handle.create_dataset(f"{group}/{name}", shape=(0,), maxshape=(None,), dtype=dtype,
                                          chunks=(_COLUMN_CHUNK,))
            handle.create_dataset("chrom_sizes/name", data=_text(chrom_sizes), dtype=_STR)
            handle.create_dataset("chrom_sizes/length", data=np.fromiter(chrom_sizes.values(), np.int64, len(chrom_sizes)))
            handle.create_dataset("progress", shape=(0, _PROGRESS_COLUMNS), maxshape=(None, _PROGRESS_COLUMNS),
                                  dtype=np.int64, chunks=(1024, _PROGRESS_COLUMNS))
            store._sync()
        except (OSError, RuntimeError) as err:  # a full disk, met before any reservation could be made
            store.broken = True
            raise UnclosableFileError(f"cannot create {path} ({space.failure_reason(err)}); nothing was scored: "
                                      "free some space and run the same command again") from None
        return store

    @classmethod
    def open(cls, path: str, mode: str = "r", pad_truncated: bool = False) -> ScoreStore:
        """Open an existing score file.

        Parameters
        ----------
        path : str
            A ``.h5`` or ``.h5.partial`` written by :meth:`create`.
        mode : {"r", "r+"}
            Read only, or read and append.
        pad_truncated : bool
            For a partial file about to be resumed: when the file is shorter
            than its superblock says (a write failed), extend it with zeros
            to that length so that HDF5 opens it; the chunks' checksums then
            tell which survived (:meth:`verified_chunks`). If it still cannot
            be opened it is cut back to its length.

        Returns
        -------
        ScoreStore

        Raises
        ------
        SeqliftError
            If the file is missing, damaged, in use by another process, or
            not a seqlift score file.
        """
        if not os.path.exists(path):
            raise SeqliftError(f"{path} does not exist")
        try:
            handle = h5py.File(path, mode)
        except OSError as err:
            if not (pad_truncated and "truncated file" in str(err).lower()):
                raise SeqliftError(f"cannot open {path}: {_h5_reason(err)}") from None
            handle = cls._open_padded(path, mode, err)
        if handle.attrs.get("format") != FORMAT:
            handle.close()
            raise SeqliftError(f"{path} is not a seqlift score file (no format={FORMAT!r} attribute)")
        version = int(handle.attrs.get("format_version", 0))
        if version not in READABLE_VERSIONS or (mode != "r" and version != FORMAT_VERSION):
            handle.close()
            readable = "reads" if version not in READABLE_VERSIONS else "only reads, and does not add to,"
            raise SeqliftError(f"{path} has score file format {version}; this seqlift {readable} format "
                               f"{version if version in READABLE_VERSIONS else FORMAT_VERSION}")
        store = cls(path, handle)
        if mode != "r":
            handle.attrs["writing"] = True
            store._sync()
        return store

    @classmethod
    def create_like(cls, path: str, source: ScoreStore) -> ScoreStore:
        """An empty score file for the same run as ``source`` (its parameters, tasks, width, contigs, rows)."""
        return cls.create(path, source.parameters, source.tasks, source.width, source.chrom_sizes(), source.versions,
                          source.rows, source.rows_total)

    @property
    def closed_cleanly(self) -> bool:
        """Whether the last process that wrote the file closed it (a killed or failed writer did not)."""
        return not bool(self.file.attrs.get("writing", False))

    @staticmethod
    def _open_padded(path: str, mode: str, err: OSError) -> h5py.File:
        """Open a truncated file extended with zeros to its recorded length (see :meth:`open`)."""
        size, end = os.path.getsize(path), space.hdf5_end(path)
        if end is None or end <= size:
            raise SeqliftError(f"cannot open {path}: {_h5_reason(err)}")
        os.truncate(path, end)
        try:
            handle = h5py.File(path, mode)
        except OSError:
            os.truncate(path, size)
            raise SeqliftError(f"cannot open {path}: {_h5_reason(err)}") from None
        log.warning("%s is truncated (%d of its %d bytes are there: a write failed); its chunks are checked "
                    "against their checksums", path, size, end)
        return handle

    def close(self) -> None:
        """Close the file (flushing it, and recording that it was closed); one whose write failed inside HDF5
        is left as it is."""
        if not self.file.id.valid or self.broken:
            return
        if self.file.mode != "r":
            try:
                self.file.attrs["writing"] = False
                self._sync()
            except (OSError, RuntimeError):  # the file then reads as not closed cleanly: resuming copies it
                self.broken = True
                return
        self.file.close()

    @property
    def format_version(self) -> int:
        """The score file format the file was written in."""
        return int(self.file.attrs.get("format_version", 0))

    @staticmethod
    def trim(path: str) -> None:
        """Give back the space reserved past the end of a closed score file that its last chunk did not use."""
        space.trim(path)

    def __enter__(self) -> ScoreStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --------------------------------------------------------------- properties
    @property
    def parameters(self) -> dict[str, Any]:
        """The run's parameters."""
        return json.loads(self.file.attrs["parameters"])

    @property
    def versions(self) -> dict[str, str]:
        """Package versions recorded at creation."""
        return json.loads(self.file.attrs["versions"])

    @property
    def complete(self) -> bool:
        """Whether every chunk of the run is in."""
        return bool(self.file.attrs["complete"])

    @property
    def next_row(self) -> int:
        """Input row the next chunk starts at."""
        return int(self.file.attrs["next_row"])

    @property
    def rows(self) -> tuple[int, int]:
        """Input rows ``[start, stop)`` this file covers."""
        return int(self.file.attrs["row_start"]), int(self.file.attrs["row_stop"])

    @property
    def rows_total(self) -> int:
        """Number of regions in the input file."""
        return int(self.file.attrs["rows_total"])

    @property
    def tasks(self) -> list[int]:
        """The target units scored."""
        return [int(t) for t in self.file["tasks"][:]]

    @property
    def width(self) -> int:
        """Window length L."""
        return int(self.file["onehot"].shape[1])

    @property
    def n_windows(self) -> int:
        """Windows recorded as written (rows of every per-window dataset)."""
        progress = self.file["progress"]
        return int(progress[-1, 2]) if progress.shape[0] else 0

    @property
    def n_dropped(self) -> int:
        """Dropped regions recorded as written."""
        progress = self.file["progress"]
        return int(progress[-1, 3]) if progress.shape[0] else 0

    @property
    def n_chunks(self) -> int:
        """Completed chunks."""
        return int(self.file["progress"].shape[0])

    def chrom_sizes(self) -> dict[str, int]:
        """Contig lengths, in genome order."""
        names = self.file["chrom_sizes/name"].asstr()[:]
        return dict(zip(names, (int(v) for v in self.file["chrom_sizes/length"][:])))

    # ------------------------------------------------------------------ writing
    def append(
        self,
        onehot: np.ndarray,
        contributions: np.ndarray,
        hypothetical: np.ndarray,
        deltas: np.ndarray,
        target_deltas: np.ndarray,
        windows: pd.DataFrame,
        dropped: pd.DataFrame,
        rows: tuple[int, int],
    ) -> None:
        """Append one finished chunk and record it as completed.

        The space the chunk may take is reserved first; then the data are
        written, flushed and fsynced, and only then the progress record
        (with the chunk's checksum), flushed and fsynced in turn: a
        chunk counts as done only once it is wholly on disk.

        Parameters
        ----------
        onehot : np.ndarray
            (n, L, 4), 0/1 values.
        contributions, hypothetical : np.ndarray
            (T, n, L, 4).
        deltas, target_deltas : np.ndarray
            (T, n).
        windows : pandas.DataFrame
            n rows with the columns of :data:`WINDOW_FIELDS`.
        dropped : pandas.DataFrame
            The chunk's dropped regions, columns of :data:`DROPPED_FIELDS`.
        rows : (int, int)
            The input rows ``[first, end)`` the chunk covered.

        Raises
        ------
        seqlift.scoring.space.DiskFull
            When the space cannot be reserved; nothing was written and the
            file is as it was.
        UnclosableFileError
            When a write failed inside HDF5 anyway; the store is then
            :attr:`broken` and cannot be closed.
        """
        f = self.file
        recorded = self.n_chunks
        if self.broken:
            raise UnclosableFileError(f"{self.path} cannot be written to after a failed write")
        n, d = len(windows), len(dropped)
        start, start_dropped = self.n_windows, self.n_dropped
        stored = [onehot.astype(np.uint8, copy=False)] + [
            np.asarray(a, dtype=np.float32) for a in (contributions, hypothetical, deltas, target_deltas)]
        checksum = chunk_checksum(stored, windows, dropped)
        self._reserve(stored, windows, dropped)
        try:
            if n:
                stop = start + n
                self._grow("onehot", 0, stop)[start:stop] = stored[0]
                for name, values in zip(("contributions", "hypothetical", "deltas", "target_deltas"), stored[1:]):
                    self._grow(name, 1, stop)[:, start:stop] = values
                self._write_columns("windows", WINDOW_FIELDS, windows, start)
            if d:
                self._write_columns("dropped", DROPPED_FIELDS, dropped, start_dropped)
            self._sync()  # the data are on disk before the record that vouches for them
            progress = self._dataset("progress")
            k = progress.shape[0]
            progress.resize(k + 1, axis=0)
            progress[k] = (rows[0], rows[1], start + n, start_dropped + d, checksum)
            f.attrs["next_row"] = int(rows[1])
            self._sync()
        except (OSError, RuntimeError) as err:
            self.broken = True
            raise UnclosableFileError(
                f"writing {self.path} failed ({space.failure_reason(err)}) after {recorded} finished chunks; "
                + ("free some space, then " if space.is_full(err) else "")
                + "run the same command with --resume: it scores again what did not reach the disk intact "
                "(or says to start again if the file cannot be used)") from None

    def _sync(self) -> None:
        """Flush HDF5's buffers into the file and the file to the disk."""
        self.file.flush()
        descriptor = self._descriptor()
        if descriptor is not None:
            os.fsync(descriptor)

    def _descriptor(self) -> int | None:
        try:
            return int(self.file.id.get_vfd_handle())
        except (AttributeError, TypeError, ValueError, RuntimeError, OSError):
            return None

    def _reserve(self, stored: list[np.ndarray], windows: pd.DataFrame, dropped: pd.DataFrame) -> None:
        """Reserve the disk space one chunk may take before HDF5 writes any of it (see :mod:`.space`).

        Counted: the arrays' bytes (gzip never makes them much larger), the
        strings, one whole HDF5 chunk per growing dataset (a partly filled
        one is written anew), and a megabyte for HDF5's own records.
        """
        descriptor = self._descriptor()
        if descriptor is None:
            return
        strings = sum(len(str(v)) + 32 for frame in (windows, dropped)
                      for name, dtype in (WINDOW_FIELDS | DROPPED_FIELDS).items()
                      if dtype is _STR and name in frame for v in frame[name])
        data = sum(a.nbytes for a in stored) + 8 * len(WINDOW_FIELDS) * len(windows) + 8 * len(DROPPED_FIELDS) * len(dropped)
        datasets = sum(self.file[name].shape[0] if name in ("contributions", "hypothetical") else 1
                       for name in ("onehot", "contributions", "hypothetical"))
        partial_chunks = datasets * _CHUNK_BYTES + (len(WINDOW_FIELDS) + len(DROPPED_FIELDS) + 8) * _COLUMN_CHUNK * 8
        need = int(data * 1.01) + strings + partial_chunks + _METADATA_BYTES
        space.reserve(descriptor, int(self.file.id.get_filesize()), need, self.path)

    def _dataset(self, name: str) -> h5py.Dataset:
        if name not in self._handles:
            self._handles[name] = self.file[name]
        return self._handles[name]

    def _grow(self, name: str, axis: int, size: int) -> h5py.Dataset:
        dataset = self._dataset(name)
        dataset.resize(size, axis=axis)
        return dataset

    def _write_columns(self, group: str, fields: dict[str, Any], frame: pd.DataFrame, start: int) -> None:
        stop = start + len(frame)
        for name, dtype in fields.items():
            self._grow(f"{group}/{name}", 0, stop)[start:stop] = _column(frame, name, dtype)

    def truncate_to_record(self) -> None:
        """Cut every growing dataset back to what the progress record vouches for.

        A run stopped while writing a chunk may have grown datasets past the
        last recorded chunk; resuming starts from the record.
        """
        n, d = self.n_windows, self.n_dropped
        self.file["onehot"].resize(n, axis=0)
        for name in ("contributions", "hypothetical", "deltas", "target_deltas"):
            self.file[name].resize(n, axis=1)
        for name in WINDOW_FIELDS:
            self.file[f"windows/{name}"].resize(n, axis=0)
        for name in DROPPED_FIELDS:
            self.file[f"dropped/{name}"].resize(d, axis=0)
        progress = self.file["progress"]
        self.file.attrs["next_row"] = int(progress[-1, 1]) if progress.shape[0] else self.rows[0]
        self._sync()

    def mark_complete(self) -> None:
        """Record that every chunk is in."""
        self.file.attrs["complete"] = True
        self._sync()

    # ------------------------------------------------------------------ checking
    def chunk_rows(self) -> Iterator[tuple[int, tuple[int, int], tuple[int, int], tuple[int, int], int | None]]:
        """Each recorded chunk: ``(index, (first, end) input rows, window rows, dropped rows, checksum)``.

        The checksum is None in format-1 files, which have none.
        """
        progress = self.file["progress"][()]
        windows_before = dropped_before = 0
        for index, row in enumerate(progress):
            checksum = int(row[4]) if len(row) > 4 else None
            yield (index, (int(row[0]), int(row[1])), (windows_before, int(row[2])),
                   (dropped_before, int(row[3])), checksum)
            windows_before, dropped_before = int(row[2]), int(row[3])

    def read_chunk(self, windows: tuple[int, int], dropped: tuple[int, int]) -> tuple[list[np.ndarray], pd.DataFrame, pd.DataFrame]:
        """The stored arrays (``onehot``, ``contributions``, ``hypothetical``, ``deltas``, ``target_deltas``)
        and table rows of one chunk, by its window and dropped row ranges."""
        (w0, w1), (d0, d1) = windows, dropped
        f = self.file
        arrays = [f["onehot"][w0:w1]] + [f[name][:, w0:w1] for name in
                                          ("contributions", "hypothetical", "deltas", "target_deltas")]
        return arrays, self.read_table("windows", w0, w1), self.read_table("dropped", d0, d1)

    def verified_chunks(self) -> tuple[int, str | None]:
        """How many recorded chunks, from the first, read back as they were written.

        Every chunk's rows are read and compared with the checksum in its
        progress row; reading stops at the first chunk that cannot be read or
        does not match.

        Returns
        -------
        (int, str or None)
            The number of good chunks, and what was wrong with the next one
            (None when all are good).
        """
        for index, _, windows, dropped, checksum in self.chunk_rows():
            try:
                arrays, window_rows, dropped_rows = self.read_chunk(windows, dropped)
            except (OSError, RuntimeError, KeyError, ValueError) as err:
                return index, f"chunk {index + 1} cannot be read ({space.failure_reason(err)})"
            if checksum is not None and chunk_checksum(arrays, window_rows, dropped_rows) != checksum:
                return index, f"chunk {index + 1} does not hold what was written (its checksum differs)"
        return self.n_chunks, None

    def copy_chunks_from(self, source: ScoreStore, count: int | None = None) -> None:
        """Append ``source``'s first ``count`` recorded chunks (all by default), each checked against its checksum.

        Raises
        ------
        SeqliftError
            If a chunk of ``source`` does not hold what was written.
        """
        for index, rows, windows, dropped, checksum in source.chunk_rows():
            if count is not None and index >= count:
                break
            arrays, window_rows, dropped_rows = source.read_chunk(windows, dropped)
            if checksum is not None and chunk_checksum(arrays, window_rows, dropped_rows) != checksum:
                raise SeqliftError(f"{source.path} is damaged: chunk {index + 1} does not hold what was written "
                                   "(its checksum differs)")
            self.append(*arrays, window_rows, dropped_rows, rows=rows)

    # ------------------------------------------------------------------ reading
    def read_table(self, group: str, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """Rows ``[start, stop)`` of ``windows`` or ``dropped`` as a DataFrame."""
        fields = WINDOW_FIELDS if group == "windows" else DROPPED_FIELDS
        count = self.n_windows if group == "windows" else self.n_dropped
        stop = count if stop is None else min(stop, count)
        columns = {}
        for name, dtype in fields.items():
            if f"{group}/{name}" not in self.file and name in _NEW_COLUMNS:  # a format-1 file
                columns[name] = np.full(max(stop - start, 0), _NEW_COLUMNS[name], np.int64)
                continue
            dataset = self.file[f"{group}/{name}"]
            columns[name] = dataset.asstr()[start:stop] if dtype is _STR else dataset[start:stop]
        return pd.DataFrame(columns, columns=list(fields))

    def blocks(self, rows: int = 4096) -> Iterator[tuple[int, int]]:
        """``(start, stop)`` ranges of at most ``rows`` windows covering all of them."""
        total = self.n_windows
        for start in range(0, total, rows):
            yield start, min(total, start + rows)


def _h5_reason(err: OSError) -> str:
    """Why HDF5 could not open a file, in words."""
    text = " ".join(str(err).split())
    lower = text.lower()
    if "truncated file" in lower:
        found = re.search(r"eof = (\d+).*stored_eof = (\d+)", text)
        sizes = f": {found.group(1)} of its {found.group(2)} bytes are there" if found else ""
        return (f"the file is truncated{sizes} (a copy that did not finish, a full disk, or a run killed while "
                "writing)")
    if "file signature not found" in lower:
        return "it is not an HDF5 file, or its start is damaged"
    if "bad object header" in lower or "addr overflow" in lower or "bad heap" in lower:
        return f"the file is damaged ({text})"
    if "unable to lock file" in lower:
        return "it is open in another process (another seqlift run with the same --out?)"
    if "Permission denied" in text or getattr(err, "errno", None) == 13:
        return "permission denied"
    return text
