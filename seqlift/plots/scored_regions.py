"""Figures of the regions of a score file: which regions, which part of them, what to box.

Regions are picked by name (BED column 4), by row of the score arrays, or as
the top ``K`` regions of each task ranked by how much the model's target moves
from the references to the sequence (the ``target_deltas`` of the score file,
which the contributions add up to). :func:`draw_regions` draws each (region,
task) with :func:`seqlift.plots.logo.region_figure`: actual contributions,
with hypothetical contributions below, optionally zoomed into a window with an
overview of the whole region above, and boxes over known motif instances or
BED intervals. One figure goes to a ``.png``, ``.pdf`` or ``.svg`` file;
several go to a folder with an ``index.tsv`` listing them.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqlift.errors import SeqliftError
from seqlift.inputs import check_output_folder, parse_tasks

__all__ = ["Pick", "INDEX_COLUMNS", "choose", "choose_tasks", "parse_zoom", "draw_regions"]

log = logging.getLogger(__name__)

#: columns of ``index.tsv`` in directory output
INDEX_COLUMNS = ("file", "task", "rank", "row", "input_row", "name", "chrom", "start", "end", "target_delta",
                 "contribution_sum")


@dataclass
class Pick:
    """One figure to draw: a row of the score arrays and a task.

    Attributes
    ----------
    row : int
        Row of the score arrays.
    task : int
        Target unit (a value of the score file's ``tasks``).
    rank : int
        1-based rank among the task's top regions (0 when picked by name or row).
    """

    row: int
    task: int
    rank: int = 0


def choose_tasks(text: str | None, available: list[int]) -> list[int]:
    """The tasks asked for by ``--task`` (see :func:`seqlift.inputs.parse_tasks`), among those the score file holds.

    Parameters
    ----------
    text : str or None
        ``None`` (the first task), ``"all"``, or comma-separated target units.
    available : list of int
        The score file's tasks.

    Returns
    -------
    list of int
    """
    if text is None:
        return available[:1]
    tasks = parse_tasks(text)
    if tasks == "all":
        return list(available)
    if any(t not in available for t in tasks):
        raise SeqliftError(f"--task {text}: the score file holds tasks {', '.join(map(str, available))}")
    return tasks


def parse_zoom(text: str | None, chrom: str, start: int, width: int) -> tuple[int, int] | None:
    """A ``--zoom`` window as genome coordinates ``(a, b)`` of a window ``chrom:start`` of ``width`` bases.

    Parameters
    ----------
    text : str or None
        ``"A:B"`` (offsets within the window) or ``"CHROM:A-B"`` (genome).
    chrom, start, width
        The window.

    Returns
    -------
    (int, int) or None
        Half-open genome interval, inside the window.
    """
    if text is None:
        return None
    offsets = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    genome = re.fullmatch(r"\s*(\S+):(\d+)-(\d+)\s*", text.replace(",", ""))
    if offsets:
        a, b = start + int(offsets.group(1)), start + int(offsets.group(2))
    elif genome:
        if genome.group(1) != chrom:
            raise SeqliftError(f"--zoom {text}: the window is on {chrom}, not {genome.group(1)}")
        a, b = int(genome.group(2)), int(genome.group(3))
    else:
        raise SeqliftError(f"--zoom {text!r}: expected A:B (offsets in the window) or CHROM:A-B")
    if not (start <= a < b <= start + width):
        raise SeqliftError(f"--zoom {text}: must lie within the window {chrom}:{start}-{start + width} "
                           f"(offsets 0:{width})")
    return a, b


def _read_boxes_bed(path: str) -> pd.DataFrame:
    """chrom, start, end and label (the name column, ``""`` when absent) of a BED file's intervals."""
    from seqlift.genome.regions import iter_bed

    rows = [(region.chrom, region.start, region.end, region.name or "") for region in iter_bed(path)]
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "label"])


def _boxes_for(window: pd.Series, width: int, instances: pd.DataFrame | None, beds: pd.DataFrame | None) -> list:
    from seqlift.plots.logo import Box

    boxes = []
    start = int(window["start"])
    if instances is not None and window["name"]:
        hits = instances[instances["name"] == window["name"]]
        boxes += [Box(start + int(s), start + int(e), str(m) if isinstance(m, str) else "")
                  for s, e, m in zip(hits["start"], hits["end"], hits["motif"])]
    if beds is not None:
        hits = beds[(beds["chrom"] == window["chrom"]) & (beds["end"] > start) & (beds["start"] < start + width)]
        boxes += [Box(int(s), int(e), label) for s, e, label in zip(hits["start"], hits["end"], hits["label"])]
    return boxes


def _label(window: pd.Series) -> str:
    text = window["name"] or f"{window['chrom']}_{window['start']}_{window['end']}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text))[:80]


def choose(windows: pd.DataFrame, target_deltas: np.ndarray, tasks_in_file: list[int], tasks: list[int],
           regions: list[str], rows: list[int], top: int | None) -> list[Pick]:
    """The (row, task) figures asked for, in order: named regions, rows, then each task's top K.

    Parameters
    ----------
    windows : pandas.DataFrame
        The score file's windows (one per array row).
    target_deltas : numpy.ndarray
        (T, N) target change per task and row.
    tasks_in_file : list of int
        The score file's tasks (the order of ``target_deltas``).
    tasks : list of int
        Tasks to draw.
    regions : list of str
        Region names.
    rows : list of int
        Array rows.
    top : int or None
        Regions per task by decreasing target change.

    Returns
    -------
    list of Pick
    """
    n = len(windows)
    picked: list[int] = []
    names = windows["name"].to_numpy(dtype=object)
    for name in regions:
        hits = np.flatnonzero(names == name)
        if len(hits) == 0:
            raise SeqliftError(f"no region named {name!r} in the score file")
        if len(hits) > 1:
            raise SeqliftError(f"{len(hits)} regions are named {name!r} (rows {', '.join(map(str, hits[:5]))}); "
                               "pick one with --row")
        picked.append(int(hits[0]))
    for row in rows:
        if not 0 <= row < n:
            raise SeqliftError(f"--row {row}: the score file has rows 0 to {n - 1}")
        picked.append(int(row))
    out = [Pick(row, task) for row in picked for task in tasks]
    if top is not None:
        if top < 1:
            raise SeqliftError(f"--top {top}: must be at least 1")
        for task in tasks:
            values = target_deltas[tasks_in_file.index(task)]
            order = np.argsort(-values, kind="stable")[:top]
            out += [Pick(int(row), task, rank) for rank, row in enumerate(order, start=1)]
    if not out:
        raise SeqliftError("pick regions with --region, --row or --top")
    return out


def draw_regions(
    path: str,
    out: str,
    regions: Sequence[str] = (),
    rows: Sequence[int] = (),
    top: int | None = None,
    task: str | None = None,
    zoom: str | None = None,
    instances: str | None = None,
    boxes: str | None = None,
    hypothetical: bool = True,
    file_format: str = "png",
    dpi: int = 100,
) -> list[dict]:
    """Draw the regions asked for from a complete score file and write the figures.

    Parameters
    ----------
    path : str
        ``PREFIX.h5`` of ``seqlift score`` or ``seqlift merge``.
    out : str
        A ``.png``, ``.pdf``, ``.svg``, ``.jpg`` file (or another of
        :data:`seqlift.plots.logo.FORMATS`) for one figure; otherwise (or when
        it is an existing folder) a folder, which gets one file per (region,
        task) and ``index.tsv``. A name ending in a picture format that
        cannot be written (``.bmp``) is refused.
    regions, rows, top
        The regions: by name, by array row, and the ``top`` of each task
        (see :func:`choose`).
    task : str, optional
        ``--task`` text: a target unit, a comma-separated list or ``"all"``
        (default: the first task of the file; see :func:`choose_tasks`).
    zoom : str, optional
        ``"A:B"`` or ``"CHROM:A-B"`` (see :func:`parse_zoom`).
    instances : str, optional
        TSV of motif instances to box (name, motif, start, end as offsets
        within the scored window).
    boxes : str, optional
        BED of intervals to box, in genome coordinates (column 4 labels them).
    hypothetical : bool
        Draw the hypothetical-contribution panel.
    file_format : str
        File format in folder output, one of :data:`seqlift.plots.logo.FORMATS`.
    dpi : int
        Resolution of PNG output.

    Returns
    -------
    list of dict
        One record per figure, with the keys :data:`INDEX_COLUMNS`.
    """
    from seqlift.groundtruth.simulate import read_instances
    from seqlift.plots import logo
    from seqlift.scoring.store import ScoreStore

    instance_table = read_instances(instances, require_motif=False) if instances else None
    beds = _read_boxes_bed(boxes) if boxes else None
    suffix = os.path.splitext(out)[1].lower().lstrip(".")
    single = suffix in logo.FORMATS and not os.path.isdir(out)
    if suffix in logo.UNWRITTEN_FORMATS and not os.path.isdir(out):
        raise SeqliftError(f"--out {out}: .{suffix} pictures cannot be written; end the name with "
                           f".{', .'.join(logo.FORMATS[:5])} (or another of .{', .'.join(logo.FORMATS[5:])}), "
                           "or give a folder")
    if not single:
        check_output_folder(out, "--out")
    with ScoreStore.open(path) as store:
        if not store.complete:
            raise SeqliftError(f"{path} is not complete")
        tasks_in_file = store.tasks
        tasks = choose_tasks(task, tasks_in_file)
        windows = store.read_table("windows")
        if len(windows) == 0:
            raise SeqliftError(f"{path} holds no scored regions")
        target_deltas = store.file["target_deltas"][:]
        picks = choose(windows, target_deltas, tasks_in_file, tasks, list(regions), list(rows), top)
        if single and len(picks) > 1:
            raise SeqliftError(f"{len(picks)} figures asked for but --out {out} names one file; "
                               "give a folder instead")
        width = store.width
        records = []
        for pick in picks:
            window = windows.iloc[pick.row]
            t = tasks_in_file.index(pick.task)
            contributions = store.file["contributions"][t, pick.row].astype(np.float64)
            hypothetical_row = store.file["hypothetical"][t, pick.row] if hypothetical else None
            start = int(window["start"])
            window_zoom = parse_zoom(zoom, str(window["chrom"]), start, width)
            delta = float(target_deltas[t, pick.row])
            title = (f"{window['name'] or 'region'}  {window['chrom']}:{start}-{start + width}  task {pick.task}  "
                     f"(row {pick.row}; target change {delta:.3g})")
            fig = logo.region_figure(contributions, hypothetical_row, start=start, zoom=window_zoom,
                                     boxes=_boxes_for(window, width, instance_table, beds), title=title,
                                     onehot=store.file["onehot"][pick.row])
            if single:
                target = out
            else:
                stem = f"task{pick.task}_" + (f"top{pick.rank:02d}_" if pick.rank else "") + _label(window)
                target = os.path.join(out, f"{stem}.{file_format}")
            logo.save_figure(fig, target, dpi=dpi)
            records.append({
                "file": os.path.basename(target), "task": pick.task, "rank": pick.rank, "row": pick.row,
                "input_row": int(window["row"]), "name": window["name"], "chrom": window["chrom"], "start": start,
                "end": start + width, "target_delta": delta, "contribution_sum": float(contributions.sum()),
            })
            log.debug("wrote %s", target)
    if not single:
        index = os.path.join(out, "index.tsv")
        pd.DataFrame(records, columns=list(INDEX_COLUMNS)).to_csv(index, sep="\t", index=False, float_format="%.6g")
        log.info("wrote %d figure(s) and %s", len(records), index)
    return records
