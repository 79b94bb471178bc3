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
                                                      (-1 for a target that is not one unit)
``targets``                 (T,)           str        each entry's name: ``task<k>`` for unit
                                                      ``k``, else the target's (``profile``,
                                                      ``counts``; see :mod:`seqlift.engine.targets`)
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
``dropped/row``, ``line``,  (D,)           as above   regions not scored: the window that was
``chrom``, ``start``,                                 attempted, and
``end``, ``name``
``dropped/reason``          (D,)           str        why it was not scored
``chrom_sizes/name``        (C,)           str        contigs of the genome (FASTA input: the
                                                      records), in file order
``chrom_sizes/length``      (C,)           int64      their lengths
``progress``                (K, 4)         int64      one row per completed chunk: first input
                                                      row, end input row (exclusive), and the
                                                      totals of windows and dropped regions
                                                      written once it was recorded
==========================  =============  =========  ===========================================

Row ``i`` of ``onehot``, of every ``contributions[t]`` and
``hypothetical[t]``, of ``deltas[t]`` and of ``windows/*`` describe the same
window. Strings are variable-length UTF-8.

Root attributes: ``format`` (``"seqlift-score"``), ``format_version`` (1),
``parameters`` (JSON: the run's parameters, see
:func:`seqlift.scoring.run.score`), ``seed``, ``versions`` (JSON: seqlift,
Python and the libraries that compute the scores), ``complete`` (every chunk
is in), ``next_row`` (the input row the next chunk starts at),
``row_start`` / ``row_stop`` (the input rows this file covers: all of them,
or one shard's) and ``rows_total`` (regions in the input file).
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np
import pandas as pd

from seqlift.errors import SeqliftError

__all__ = ["ScoreStore", "FORMAT", "FORMAT_VERSION", "WINDOW_FIELDS", "DROPPED_FIELDS"]

FORMAT = "seqlift-score"
FORMAT_VERSION = 1

_STR = h5py.string_dtype("utf-8")
#: columns of ``windows/`` and their HDF5 types
WINDOW_FIELDS = {
    "chrom": _STR, "start": np.int64, "end": np.int64, "name": _STR,
    "strand": _STR, "row": np.int64, "line": np.int64,
}
#: columns of ``dropped/`` and their HDF5 types
DROPPED_FIELDS = {
    "row": np.int64, "line": np.int64, "chrom": _STR, "start": np.int64,
    "end": np.int64, "name": _STR, "reason": _STR,
}
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
        targets: list[str] | None = None,
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
        targets : list of str, optional
            The name of each task axis entry (default ``task<k>``).

        Returns
        -------
        ScoreStore
        """
        try:
            handle = h5py.File(path, "w")
        except OSError as err:
            raise SeqliftError(f"cannot create {path}: {_h5_reason(err)}") from None
        store = cls(path, handle)
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
        handle.create_dataset("targets", data=_text(targets if targets is not None else _unit_labels(tasks)),
                              dtype=_STR)
        for group, fields in (("windows", WINDOW_FIELDS), ("dropped", DROPPED_FIELDS)):
            for name, dtype in fields.items():
                handle.create_dataset(f"{group}/{name}", shape=(0,), maxshape=(None,), dtype=dtype,
                                      chunks=(_COLUMN_CHUNK,))
        handle.create_dataset("chrom_sizes/name", data=_text(chrom_sizes), dtype=_STR)
        handle.create_dataset("chrom_sizes/length", data=np.fromiter(chrom_sizes.values(), np.int64, len(chrom_sizes)))
        handle.create_dataset("progress", shape=(0, 4), maxshape=(None, 4), dtype=np.int64, chunks=(1024, 4))
        handle.flush()
        return store

    @classmethod
    def open(cls, path: str, mode: str = "r") -> ScoreStore:
        """Open an existing score file.

        Parameters
        ----------
        path : str
            A ``.h5`` or ``.h5.partial`` written by :meth:`create`.
        mode : {"r", "r+"}
            Read only, or read and append.

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
            raise SeqliftError(f"cannot open {path}: {_h5_reason(err)}") from None
        if handle.attrs.get("format") != FORMAT:
            handle.close()
            raise SeqliftError(f"{path} is not a seqlift score file (no format={FORMAT!r} attribute)")
        version = int(handle.attrs.get("format_version", 0))
        if version != FORMAT_VERSION:
            handle.close()
            raise SeqliftError(f"{path} has score file format {version}; this seqlift reads format {FORMAT_VERSION}")
        return cls(path, handle)

    def close(self) -> None:
        """Close the file (flushing it)."""
        if self.file.id.valid:
            self.file.close()

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
    def targets(self) -> list[str]:
        """The name of each task axis entry (``task<k>`` for a unit; files without names: those)."""
        if "targets" not in self.file:
            return _unit_labels(self.tasks)
        return list(self.file["targets"].asstr()[:])

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

        The data are written first and the progress record last, then the
        file is flushed: a chunk counts as done only once it is wholly on disk.

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
        """
        f = self.file
        n, d = len(windows), len(dropped)
        start, start_dropped = self.n_windows, self.n_dropped
        if n:
            stop = start + n
            self._grow("onehot", 0, stop)[start:stop] = onehot.astype(np.uint8)
            for name, values in (("contributions", contributions), ("hypothetical", hypothetical)):
                self._grow(name, 1, stop)[:, start:stop] = values.astype(np.float32, copy=False)
            for name, values in (("deltas", deltas), ("target_deltas", target_deltas)):
                self._grow(name, 1, stop)[:, start:stop] = values.astype(np.float32, copy=False)
            self._write_columns("windows", WINDOW_FIELDS, windows, start)
        if d:
            self._write_columns("dropped", DROPPED_FIELDS, dropped, start_dropped)
        progress = f["progress"]
        k = progress.shape[0]
        progress.resize(k + 1, axis=0)
        progress[k] = (rows[0], rows[1], start + n, start_dropped + d)
        f.attrs["next_row"] = int(rows[1])
        f.flush()

    def _grow(self, name: str, axis: int, size: int) -> h5py.Dataset:
        dataset = self.file[name]
        dataset.resize(size, axis=axis)
        return dataset

    def _write_columns(self, group: str, fields: dict[str, Any], frame: pd.DataFrame, start: int) -> None:
        stop = start + len(frame)
        for name, dtype in fields.items():
            values = _text(frame[name]) if dtype is _STR else frame[name].to_numpy(np.int64)
            self._grow(f"{group}/{name}", 0, stop)[start:stop] = values

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
        self.file.flush()

    def mark_complete(self) -> None:
        """Record that every chunk is in."""
        self.file.attrs["complete"] = True
        self.file.flush()

    # ------------------------------------------------------------------ reading
    def read_table(self, group: str, start: int = 0, stop: int | None = None) -> pd.DataFrame:
        """Rows ``[start, stop)`` of ``windows`` or ``dropped`` as a DataFrame."""
        fields = WINDOW_FIELDS if group == "windows" else DROPPED_FIELDS
        count = self.n_windows if group == "windows" else self.n_dropped
        stop = count if stop is None else min(stop, count)
        columns = {}
        for name, dtype in fields.items():
            dataset = self.file[f"{group}/{name}"]
            columns[name] = dataset.asstr()[start:stop] if dtype is _STR else dataset[start:stop]
        return pd.DataFrame(columns, columns=list(fields))

    def blocks(self, rows: int = 4096) -> Iterator[tuple[int, int]]:
        """``(start, stop)`` ranges of at most ``rows`` windows covering all of them."""
        total = self.n_windows
        for start in range(0, total, rows):
            yield start, min(total, start + rows)


def _unit_labels(tasks: list[int]) -> list[str]:
    return [f"task{int(t)}" for t in tasks]


def _h5_reason(err: OSError) -> str:
    text = str(err)
    if "lock" in text.lower():
        return "it is open in another process (another seqlift run with the same --out?)"
    if "Permission denied" in text or getattr(err, "errno", None) == 13:
        return "permission denied"
    if "truncated" in text.lower() or "signature" in text.lower() or "bad object header" in text.lower():
        return f"the file is damaged ({text})"
    return text
