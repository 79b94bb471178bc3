"""The files of a score run, derived from its HDF5 file, and written atomically.

From a complete :class:`~seqlift.scoring.store.ScoreStore` (``PREFIX.h5`` in
the making) :func:`write_outputs` writes:

``PREFIX.ohe.npz``
    The one-hot sequences, float32 ``(N, 4, L)`` (A, C, G, T on axis 1),
    saved positionally (member ``arr_0.npy``) as ``modisco motifs -s`` reads.
``PREFIX.hyp.npz``
    The hypothetical contributions, float32 ``(N, 4, L)``, for
    ``modisco motifs -a``. With several tasks, one file per task,
    ``PREFIX.task<k>.hyp.npz`` (``k`` the target unit); they share
    ``PREFIX.ohe.npz``.
``PREFIX.regions.bed``
    The scored windows, row ``i`` for array row ``i``, as narrowPeak:
    chrom, start, end, name (``.`` when none), score 0, strand, signalValue
    -1, pValue -1, qValue -1 and the summit: the offset of the window's centre
    (the region's summit or midpoint, see :func:`seqlift.genome.regions.resize`);
    then an 11th column, the window's unknown bases (not A, C, G or T: ``N``,
    IUPAC codes, padding; scored as all-zero rows).
    A padded window (``--off-chrom pad``) is clipped to its contig here, and
    its summit offset counted from the clipped start; the HDF5 file keeps the
    unclipped window.
``PREFIX.dropped.tsv``
    One line per region that was not scored, with a header: row, line,
    chrom, start, end, name, unknown (the window's unknown bases; ``NA`` when
    it was not read), reason.
``PREFIX.bw`` (on request; ``PREFIX.task<k>.bw`` per task with several)
    Per-base contributions summed over A, C, G, T, on the genome's contigs
    (sizes from the FASTA index, recorded in the HDF5 file). Where windows
    overlap, each position takes its value from the window whose centre is
    nearest (ties: the right-hand window; identical windows: the first in
    input order), i.e. overlaps are split at the midpoint between centres;
    positions no window covers have no value.

Every file is written under ``<final name>.partial`` and renamed when
complete (the score file trimmed of the disk space reserved for a chunk it
did not need), so a name without ``.partial`` is always a finished file. Files of
an earlier run with the same prefix that this run does not produce (bigWig or
per-task files of other tasks) are removed when the new files are published,
so a prefix's files always come from one run.
Memory stays bounded: arrays are streamed from the HDF5 file in blocks of
rows (the ``.npy`` member of each ``.npz`` is written incrementally), and
only the window coordinates (a few integers per window) are held for the
bigWig's sort.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from seqlift.errors import SeqliftError
from seqlift.inputs import nearest_existing
from seqlift.scoring.store import ScoreStore

__all__ = [
    "PARTIAL_SUFFIX",
    "partial_name",
    "output_names",
    "check_output_prefix",
    "check_not_an_input",
    "write_outputs",
    "discard",
    "make_directories",
    "remove_empty",
    "bigwig_available",
]

log = logging.getLogger(__name__)

#: suffix of files being written
PARTIAL_SUFFIX = ".partial"
#: windows per block when streaming arrays out of the HDF5 file
_BLOCK_ROWS = 1024
#: narrowPeak columns 5 (score) and 7-9 (signalValue, pValue, qValue): not known for a scored window
_BED_SCORE, _BED_UNKNOWN = "0", ("-1", "-1", "-1")


def partial_name(path: str) -> str:
    """The temporary name ``path`` is written under."""
    return path + PARTIAL_SUFFIX


def _task_infix(tasks: list[int], task: int) -> str:
    return f".task{task}" if len(tasks) > 1 else ""


def output_names(prefix: str, tasks: list[int], bigwig: bool) -> dict[str, str]:
    """The final file names of a run, by role.

    Parameters
    ----------
    prefix : str
        The ``--out`` prefix.
    tasks : list of int
        The target units scored.
    bigwig : bool
        Whether bigWig files are written.

    Returns
    -------
    dict of str to str
        Keys ``h5``, ``ohe``, ``regions``, ``dropped``, ``hyp:<k>`` per task
        and, with ``bigwig``, ``bw:<k>`` per task; in the order they are
        listed to users.
    """
    names = {"h5": f"{prefix}.h5", "ohe": f"{prefix}.ohe.npz"}
    for task in tasks:
        names[f"hyp:{task}"] = f"{prefix}{_task_infix(tasks, task)}.hyp.npz"
    names["regions"] = f"{prefix}.regions.bed"
    names["dropped"] = f"{prefix}.dropped.tsv"
    if bigwig:
        for task in tasks:
            names[f"bw:{task}"] = f"{prefix}{_task_infix(tasks, task)}.bw"
    return names


def check_output_prefix(prefix: str) -> None:
    """Fail early, with one line, unless files named ``prefix.*`` can be created.

    The prefix's directory may not exist yet (it is created when the run
    starts writing); then its nearest existing ancestor must be a writable
    directory. Writability is tried (a temporary file is created and
    removed), not guessed from permission bits, so it also holds for root and
    for read-only file systems.

    Raises
    ------
    SeqliftError
        Naming the directory and the reason.
    """
    if not os.path.basename(prefix) or os.path.isdir(prefix):
        raise SeqliftError(f"--out {prefix!r} names a directory; outputs are files named PREFIX.h5, PREFIX.ohe.npz, "
                           f"...: give a prefix inside it, such as {os.path.join(prefix, 'scores')}")
    directory = os.path.dirname(os.path.abspath(prefix))
    existing = nearest_existing(directory)
    if not os.path.isdir(existing):
        raise SeqliftError(f"cannot write outputs under {directory}: {existing} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        reason = "permission denied" if isinstance(err, PermissionError) else (err.strerror or str(err))
        raise SeqliftError(f"cannot write outputs in {existing}: {reason}") from None


def check_not_an_input(names: Iterable[str], inputs: dict[str, str | None]) -> None:
    """Refuse outputs that would replace one of the run's own input files.

    Parameters
    ----------
    names : iterable of str
        Every path the run may write (final names, their ``.partial`` names,
        the lock file).
    inputs : dict
        What each input is (``"regions"``, ``"--genome"``, ``"shard"``) to
        its path (None is skipped).

    Raises
    ------
    SeqliftError
        Naming the output and the input it would overwrite.
    """
    given = {os.path.realpath(path): what for what, path in inputs.items() if path}
    for name in names:
        what = given.get(os.path.realpath(name))
        if what is not None:
            raise SeqliftError(f"the output {name} would overwrite the {what} file given; "
                               "choose another --out")


def make_directories(directory: str) -> list[str]:
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
            remove_empty(missing[: missing.index(path)])
            raise SeqliftError(f"cannot create the output directory {path}: {err.strerror or err}") from None
    return missing


def remove_empty(directories: list[str]) -> None:
    """Remove the directories a failed run created, innermost first, if they are empty."""
    for path in reversed(directories):
        with contextlib.suppress(OSError):
            os.rmdir(path)


def discard(paths: Iterable[str]) -> None:
    """Remove files that exist among ``paths`` (temporary files of a failed run)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def bigwig_available() -> bool:
    """Whether pyBigWig (needed for ``--bigwig``) can be imported."""
    try:
        import pyBigWig  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- writers
def write_outputs(store_path: str, prefix: str, bigwig: bool) -> list[str]:
    """Write every derived file of a complete score file, then publish them all.

    The derived files are written under temporary names first; only when all
    of them are finished are they renamed, ``store_path`` (the
    ``PREFIX.h5.partial``) last, to ``PREFIX.h5``. If anything fails the
    temporary files are removed and ``store_path`` is left as it was.

    Parameters
    ----------
    store_path : str
        The complete score file.
    prefix : str
        The output prefix.
    bigwig : bool
        Also write the bigWig file(s).

    Returns
    -------
    list of str
        The final paths, in :func:`output_names` order.
    """
    with ScoreStore.open(store_path) as store:
        tasks = store.tasks
        names = output_names(prefix, tasks, bigwig)
        temporary = {key: partial_name(path) for key, path in names.items() if key != "h5"}
        try:
            _write_npz(temporary["ohe"], store, lambda a, b: store.file["onehot"][a:b])
            for task_index, task in enumerate(tasks):
                dataset = store.file["hypothetical"]
                _write_npz(temporary[f"hyp:{task}"], store,
                           lambda a, b, t=task_index, d=dataset: d[t, a:b])
            _write_regions_bed(temporary["regions"], store)
            _write_dropped_tsv(temporary["dropped"], store)
            if bigwig:
                for task_index, task in enumerate(tasks):
                    _write_bigwig(temporary[f"bw:{task}"], store, task_index)
        except BaseException:
            discard(temporary.values())
            raise
    ScoreStore.trim(store_path)
    for key, path in temporary.items():
        os.replace(path, names[key])
    os.replace(store_path, names["h5"])
    stale = _stale_outputs(prefix, names)
    if stale:
        log.info("removing outputs of an earlier run with the same prefix: %s", ", ".join(stale))
        discard(stale)
    return list(names.values())


def _stale_outputs(prefix: str, names: dict[str, str]) -> list[str]:
    """Per-task and bigWig files named after ``prefix`` that are not among ``names``."""
    directory = os.path.dirname(os.path.abspath(prefix))
    pattern = re.compile(re.escape(os.path.basename(prefix)) + r"(\.task\d+)?\.(hyp\.npz|bw)")
    current = {os.path.abspath(path) for path in names.values()}
    return sorted(
        os.path.join(os.path.dirname(prefix), entry)
        for entry in os.listdir(directory)
        if pattern.fullmatch(entry) and os.path.join(directory, entry) not in current
    )


def _write_npz(path: str, store: ScoreStore, read: Callable[[int, int], np.ndarray]) -> None:
    """An ``.npz`` holding ``arr_0``: float32 (N, 4, L), streamed block by block.

    ``read(a, b)`` returns rows ``a:b`` as (n, L, 4); they are transposed to
    (n, 4, L) and appended to the ``.npy`` member as they come.
    """
    total, width = store.n_windows, store.width
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
              "shape": (total, 4, width)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as archive:
        with archive.open("arr_0.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_2_0(member, header)
            for start, stop in store.blocks(_BLOCK_ROWS):
                block = np.asarray(read(start, stop), dtype="<f4").transpose(0, 2, 1)
                member.write(np.ascontiguousarray(block).tobytes())


def _clipped(windows: pd.DataFrame, sizes: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and ends clipped to their contigs."""
    starts = windows["start"].to_numpy(np.int64)
    ends = windows["end"].to_numpy(np.int64)
    limits = windows["chrom"].map(sizes).to_numpy(np.int64)
    return np.maximum(starts, 0), np.minimum(ends, limits)


def _write_regions_bed(path: str, store: ScoreStore) -> None:
    sizes = store.chrom_sizes()
    with open(path, "w", encoding="utf-8") as handle:
        for start, stop in store.blocks():
            windows = store.read_table("windows", start, stop)
            clipped_start, clipped_end = _clipped(windows, sizes)
            centre = windows["start"].to_numpy(np.int64) + store.width // 2
            summit = np.clip(centre - clipped_start, 0, np.maximum(clipped_end - clipped_start - 1, 0))
            lines = [
                "\t".join((chrom, str(s), str(e), name or ".", _BED_SCORE, strand, *_BED_UNKNOWN, str(p), str(u)))
                for chrom, s, e, name, strand, p, u in zip(
                    windows["chrom"], clipped_start, clipped_end, windows["name"], windows["strand"], summit,
                    windows["unknown"])
            ]
            handle.write("".join(line + "\n" for line in lines))


def _write_dropped_tsv(path: str, store: ScoreStore) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("row\tline\tchrom\tstart\tend\tname\tunknown\treason\n")
        total = store.n_dropped
        for start in range(0, total, 65536):
            table = store.read_table("dropped", start, start + 65536)
            table["unknown"] = table["unknown"].astype(object).where(table["unknown"] >= 0, "NA")
            table.to_csv(handle, sep="\t", header=False, index=False)


# --------------------------------------------------------------------------- bigWig
def _bigwig_segments(
    windows: pd.DataFrame, sizes: dict[str, int], width: int
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Per contig (in genome order): window indices sorted by centre and their kept intervals.

    Yields ``(chrom, rows, starts, ends)``: ``rows`` the window indices (into
    ``windows``) sorted by centre, one per distinct centre (the first in
    input order), and ``[starts, ends)``
    the genome positions each contributes after splitting overlaps at the
    midpoint between neighbouring centres and clipping to the contig.
    """
    order = {chrom: i for i, chrom in enumerate(sizes)}
    contig = windows["chrom"].map(order).to_numpy()
    starts = windows["start"].to_numpy(np.int64)
    centres = starts + width // 2
    for chrom, size in sizes.items():
        rows = np.flatnonzero(contig == order[chrom])
        if not len(rows):
            continue
        rows = rows[np.argsort(centres[rows], kind="stable")]
        rows = rows[np.r_[True, np.diff(centres[rows]) != 0]]  # same centre, same window: the first one
        c = centres[rows]
        # position p goes left of boundary m_i = ceil((c_i + c_{i+1}) / 2) to window i, else to i + 1
        boundaries = (c[:-1] + c[1:] + 1) // 2
        lower = np.concatenate(([0], boundaries))
        upper = np.concatenate((boundaries, [size]))
        kept_start = np.clip(np.maximum(starts[rows], lower), 0, size)
        kept_end = np.clip(np.minimum(starts[rows] + width, upper), 0, size)
        yield chrom, rows, kept_start, kept_end


def _write_bigwig(path: str, store: ScoreStore, task_index: int) -> None:
    import pyBigWig

    sizes = store.chrom_sizes()
    width = store.width
    windows = store.read_table("windows")[["chrom", "start"]]
    window_starts = windows["start"].to_numpy(np.int64)
    contributions = store.file["contributions"]
    handle = pyBigWig.open(path, "w")
    if handle is None:
        raise SeqliftError(f"cannot create bigWig file {path}")
    try:
        handle.addHeader(list(sizes.items()), maxZooms=10)
        for chrom, rows, kept_start, kept_end in _bigwig_segments(windows, sizes, width):
            for first in range(0, len(rows), _BLOCK_ROWS):
                block = slice(first, first + _BLOCK_ROWS)
                ascending = np.sort(rows[block])
                first_row, last_row = int(ascending[0]), int(ascending[-1])
                if last_row - first_row + 1 == len(ascending):  # consecutive rows (sorted input): one slice
                    values = contributions[task_index, first_row:last_row + 1].sum(axis=-1)
                else:
                    values = contributions[task_index, ascending].sum(axis=-1)  # (n, L), rows ascending
                by_row = dict(zip(ascending.tolist(), range(len(ascending))))
                for row, start, end in zip(rows[block], kept_start[block], kept_end[block]):
                    if end <= start:
                        continue
                    offset = start - window_starts[row]
                    track = values[by_row[int(row)], offset: offset + (end - start)].astype(np.float64)
                    if not np.isfinite(track).all():
                        raise SeqliftError(
                            f"the contributions of window {chrom}:{start}-{end} are not finite (NaN or inf); "
                            "the model produces non-finite values on it")
                    handle.addEntries(chrom, int(start), values=track, span=1, step=1)
    finally:
        handle.close()
