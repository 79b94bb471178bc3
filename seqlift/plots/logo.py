"""Contribution logos: per-base scores drawn as letters (logomaker on matplotlib).

A position's four values (A, C, G, T) are drawn as stacked letters whose
heights are the values: positive ones above the axis, negative ones below it,
upright. An actual-contribution logo puts each position's contribution (the
sum over A, C, G, T of DeepLIFT's per-channel scores) on the base present
(:func:`on_sequence`), so it spells the sequence with the letters that matter
standing out; hypothetical contributions show what every base would have
contributed.

Colours follow the usual DNA convention: A green, C blue, G orange, T red
(:data:`BASE_COLOURS`).

Coordinates: every function takes ``start``, the coordinate of row 0 of the
values (a genome position, or 0), and draws position ``start + i`` at x
``start + i``. A zoom window ``(a, b)`` and boxes ``Box(a, b)`` are half-open
intervals in the same coordinates.

The functions draw on a :class:`matplotlib.axes.Axes` the caller gives (for
example from :func:`matplotlib.pyplot.subplots` in a notebook), or build a
:class:`matplotlib.figure.Figure` that is not registered with pyplot, so
drawing many logos in a batch job does not accumulate open figures.

Examples
--------
>>> import numpy as np
>>> from seqlift.plots.logo import region_figure, save_figure
>>> x = np.eye(4, dtype=np.float32)[np.arange(40) % 4]
>>> fig = region_figure(np.full((40, 4), 0.1), hypothetical=np.full((40, 4), 0.1), start=1000, onehot=x)
>>> len(fig.axes)
2
"""
from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from seqlift.errors import SeqliftError
from seqlift.plots import FORMATS, UNWRITTEN_FORMATS  # the formats save_figure writes, by suffix
from seqlift.sequences.alphabet import ALPHABET

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "BASE_COLOURS",
    "Box",
    "box_colour",
    "values_frame",
    "draw_logo",
    "draw_track",
    "on_sequence",
    "region_figure",
    "save_figure",
    "FORMATS",
    "UNWRITTEN_FORMATS",
]

#: letter colours: A green, C blue, G orange, T red
BASE_COLOURS = {"A": "#109648", "C": "#255C99", "G": "#F7A41D", "T": "#D62839"}
#: letters lower than this share of the tallest stack are left out (below a pixel)
_INVISIBLE = 1e-3
#: font of the letters (shipped with matplotlib)
_FONT = "DejaVu Sans Mono"
#: default colours of boxes, cycled by label
_BOX_COLOURS = ("#6a3d9a", "#e7298a", "#8c510a", "#01665e", "#4d4d4d")  # none close to a letter colour


@dataclass(frozen=True)
class Box:
    """An interval to outline on a logo or track (e.g. a motif instance).

    Attributes
    ----------
    start, end : int
        Half-open interval, in the coordinates of the plot (see the module
        documentation).
    label : str
        Written above the box's top-left corner ('' for none).
    colour : str, optional
        Edge colour; by default :func:`box_colour` of the label.
    """

    start: int
    end: int
    label: str = ""
    colour: str | None = None


def _check_values(values: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise SeqliftError(f"{what} must have shape (L, 4) (A, C, G, T per position), not {array.shape}")
    if array.shape[0] == 0:
        raise SeqliftError(f"{what} has no positions")
    return array


def _window(length: int, start: int, zoom: tuple[int, int] | None) -> tuple[int, int]:
    """Rows ``[i, j)`` of a zoom window given in plot coordinates (whole track when None)."""
    if zoom is None:
        return 0, length
    a, b = int(zoom[0]), int(zoom[1])
    if b <= a:
        raise SeqliftError(f"zoom window {a}-{b} is empty (end must exceed start)")
    i, j = a - start, b - start
    if i < 0 or j > length:
        raise SeqliftError(f"zoom window {a}-{b} is outside the track {start}-{start + length}")
    return i, j


def values_frame(values: np.ndarray, start: int = 0) -> pd.DataFrame:
    """(L, 4) values as the DataFrame logomaker draws: columns A, C, G, T, index positions.

    Parameters
    ----------
    values : numpy.ndarray
        (L, 4) per-base values, columns in :data:`~seqlift.sequences.alphabet.ALPHABET` order. NaN is drawn as 0.
    start : int
        Coordinate of row 0.

    Returns
    -------
    pandas.DataFrame
    """
    array = np.nan_to_num(_check_values(values, "values"))
    return pd.DataFrame(array, columns=list(ALPHABET), index=pd.RangeIndex(start, start + array.shape[0], name="pos"))


def box_colour(label: str) -> str:
    """The default edge colour of a box: fixed for a label, so every figure draws a motif alike."""
    return _BOX_COLOURS[zlib.crc32(label.encode("utf-8")) % len(_BOX_COLOURS)]


def _box_colours(boxes: Sequence[Box]) -> list[str]:
    return [b.colour or box_colour(b.label) for b in boxes]


def _draw_boxes(ax: Axes, boxes: Sequence[Box], lo: int, hi: int, ymin: float, ymax: float) -> int:
    """Outline the parts of ``boxes`` inside ``[lo, hi)``; return how many were drawn."""
    from matplotlib.patches import Rectangle

    drawn = 0
    span = ymax - ymin
    for box, colour in zip(boxes, _box_colours(boxes)):
        a, b = max(box.start, lo), min(box.end, hi)
        if b <= a:
            continue
        ax.add_patch(Rectangle((a - 0.5, ymin), b - a, span, fill=False, edgecolor=colour, linewidth=1.2,
                               zorder=5, clip_on=False))
        if box.label:
            ax.text(a - 0.5, ymax, box.label, color=colour, fontsize=7, va="bottom", ha="left", zorder=6)
        drawn += 1
    return drawn


def _limits(values: np.ndarray) -> tuple[float, float]:
    """Y limits covering the stacked positive and negative heights, with a margin."""
    top = float(np.clip(values, 0, None).sum(axis=1).max(initial=0.0))
    bottom = float(np.clip(values, None, 0).sum(axis=1).min(initial=0.0))
    span = top - bottom
    if span <= 0:
        return -1.0, 1.0
    return bottom - 0.08 * span, top + 0.08 * span


def _draw_letters(ax: Axes, values: np.ndarray, start: int, colours: Mapping[str, str] = BASE_COLOURS) -> int:
    """Stack each position's letters with logomaker's :class:`logomaker.Glyph`; return how many were drawn.

    The stacking is logomaker's ``big_on_top`` order: at each position the
    letters are sorted by value and piled from the sum of the negative values
    up, so negative letters lie below the axis (the most negative lowest) and
    positive ones above it (the largest on top). Letters shorter than
    :data:`_INVISIBLE` of the tallest stack are not drawn (they would be under
    a pixel high), which keeps drawing fast where most values are zero, as for
    actual contributions.
    """
    import logomaker

    if not values.size:
        return 0
    span = float(np.abs(values).sum(axis=1).max())
    threshold = span * _INVISIBLE
    drawn = 0
    for row, position in enumerate(values):
        order = np.argsort(position, kind="stable")
        floor = float(position[position < 0].sum())
        for k in order:
            height = abs(float(position[k]))
            if height > threshold:
                letter = ALPHABET[k]
                # a Glyph given an Axes adds its letter to it
                logomaker.Glyph(start + row, letter, floor=floor, ceiling=floor + height, ax=ax,
                                color=colours[letter], font_name=_FONT, flip=False, zorder=2)
                drawn += 1
            floor += height
    return drawn


def draw_logo(
    values: np.ndarray,
    ax: Axes | None = None,
    start: int = 0,
    zoom: tuple[int, int] | None = None,
    boxes: Sequence[Box] = (),
    title: str | None = None,
    ylabel: str = "contribution",
    ylim: tuple[float, float] | None = None,
    colours: Mapping[str, str] | None = None,
) -> Axes:
    """Draw (L, 4) per-base values as a logo.

    Parameters
    ----------
    values : numpy.ndarray
        (L, 4) values, columns A, C, G, T (contributions or hypothetical
        contributions).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure of a width proportional to the positions
        shown when omitted.
    start : int
        Coordinate of row 0.
    zoom : (int, int), optional
        Half-open window ``[a, b)`` to show, in plot coordinates.
    boxes : sequence of Box
        Intervals to outline (clipped to the window; boxes outside it are skipped).
    title : str, optional
        Axes title.
    ylabel : str
        Y-axis label.
    ylim : (float, float), optional
        Y limits; by default they cover the stacked letters of the window.
    colours : mapping, optional
        Letter colours by base (``{"A": ..., "C": ..., "G": ..., "T": ...}``);
        :data:`BASE_COLOURS` by default.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    SeqliftError
        For values not shaped (L, 4) or a zoom window outside the track.
    """
    array = np.nan_to_num(_check_values(values, "values"))
    i, j = _window(array.shape[0], start, zoom)
    shown = array[i:j]
    if ax is None:
        ax = _new_figure(j - i, 1).add_subplot()
    _draw_letters(ax, shown, start + i, BASE_COLOURS if colours is None else colours)
    ax.axhline(0.0, color="black", linewidth=0.6, zorder=3)
    low, high = ylim if ylim is not None else _limits(shown)
    ax.set_ylim(low, high)
    ax.set_xlim(start + i - 0.5, start + j - 0.5)
    ax.spines[["top", "right"]].set_visible(False)
    ax.spines["left"].set_visible(True)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    _draw_boxes(ax, boxes, start + i, start + j, low, high)
    if title:
        ax.set_title(title, fontsize=9, loc="left", pad=12)
    return ax


def draw_track(
    values: np.ndarray,
    ax: Axes | None = None,
    start: int = 0,
    highlight: tuple[int, int] | None = None,
    boxes: Sequence[Box] = (),
    title: str | None = None,
    ylabel: str = "contribution",
) -> Axes:
    """Draw a long stretch of per-position scores as bars (an overview of a track).

    Parameters
    ----------
    values : numpy.ndarray
        (L,) per-position scores, or (L, 4) per-base values (summed over A, C,
        G, T). NaN marks positions without a score (drawn as a gap).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new wide, short figure when omitted.
    start : int
        Coordinate of row 0.
    highlight : (int, int), optional
        Half-open window to shade (e.g. the window a logo below zooms into).
    boxes : sequence of Box
        Intervals to outline.
    title : str, optional
        Axes title.
    ylabel : str
        Y-axis label.

    Returns
    -------
    matplotlib.axes.Axes
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 4:
        gaps = np.isnan(array).all(axis=1)
        array = np.nansum(array, axis=1)
        array[gaps] = np.nan
    if array.ndim != 1 or array.shape[0] == 0:
        raise SeqliftError(f"a track must have shape (L,) or (L, 4), not {np.shape(values)}")
    length = array.shape[0]
    if ax is None:
        ax = _new_figure(min(length, 400), 1, height=1.4).add_subplot()
    x = np.arange(start, start + length)
    finite = np.nan_to_num(array)
    colours = np.where(finite >= 0, "#444444", "#b2182b")
    ax.bar(x, finite, width=1.0, color=colours, linewidth=0)
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_xlim(start - 0.5, start + length - 0.5)
    low, high = (float(np.nanmin(finite)), float(np.nanmax(finite))) if length else (0.0, 0.0)
    span = high - low if high > low else 1.0
    low, high = min(low, 0.0) - 0.08 * span, max(high, 0.0) + 0.08 * span
    ax.set_ylim(low, high)
    if highlight is not None:
        _window(length, start, highlight)
        ax.axvspan(highlight[0] - 0.5, highlight[1] - 0.5, color="#fdd49e", alpha=0.6, zorder=0, linewidth=0)
    _draw_boxes(ax, boxes, start, start + length, low, high)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9, loc="left", pad=12)
    return ax


def _new_figure(positions: int, panels: int, height: float = 1.9) -> Figure:
    """A figure not registered with pyplot, about 0.07 inch per position shown."""
    from matplotlib.figure import Figure

    width = float(np.clip(0.07 * positions + 1.2, 5.0, 24.0))
    return Figure(figsize=(width, height * panels), layout="constrained")


def on_sequence(contributions: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """Each position's contribution, placed on the base present: what a contribution logo draws.

    DeepLIFT's per-channel contributions ``m * (x - r)`` are also non-zero for
    the absent bases wherever a reference has them; only their sum over A, C,
    G, T is the position's contribution. This puts that sum on the base of the
    sequence (and nothing where the sequence has N), so the logo spells the
    sequence. It equals ``hypothetical * onehot`` for DeepLIFT's scores.

    Parameters
    ----------
    contributions : numpy.ndarray
        (..., L, 4) per-channel contributions.
    onehot : numpy.ndarray
        (..., L, 4) the one-hot sequence(s).

    Returns
    -------
    numpy.ndarray
        (..., L, 4), float64.
    """
    contributions = np.asarray(contributions, dtype=np.float64)
    onehot = np.asarray(onehot, dtype=np.float64)
    if contributions.shape != onehot.shape or contributions.shape[-1] != 4:
        raise SeqliftError(f"contributions {contributions.shape} and one-hot sequence {onehot.shape} must have "
                           "the same shape (..., L, 4)")
    return np.nan_to_num(contributions).sum(axis=-1, keepdims=True) * onehot


def region_figure(
    contributions: np.ndarray,
    hypothetical: np.ndarray | None = None,
    start: int = 0,
    zoom: tuple[int, int] | None = None,
    boxes: Sequence[Box] = (),
    title: str | None = None,
    overview: bool | None = None,
    onehot: np.ndarray | None = None,
) -> Figure:
    """One region's logos: actual contributions, with hypothetical ones below.

    Parameters
    ----------
    contributions : numpy.ndarray
        (L, 4) contributions. With ``onehot``, the per-channel contributions
        of :func:`seqlift.attribute` (their sum at each position is drawn on
        the base present, see :func:`on_sequence`); without, the values to
        draw as they are.
    hypothetical : numpy.ndarray, optional
        (L, 4) hypothetical contributions, drawn in a second panel.
    start : int
        Coordinate of row 0 (e.g. the window's genome start).
    zoom : (int, int), optional
        Half-open window ``[a, b)`` the logos show, in plot coordinates.
    boxes : sequence of Box
        Intervals to outline in every panel (e.g. motif instances).
    title : str, optional
        Title of the first panel.
    overview : bool, optional
        Add a first panel with the whole region's per-position contributions
        and the zoom window shaded; by default, when a zoom window is given.
    onehot : numpy.ndarray, optional
        (L, 4) the region's one-hot sequence.

    Returns
    -------
    matplotlib.figure.Figure
        A figure not registered with pyplot (display it in a notebook by
        leaving it as a cell's value; write it with :func:`save_figure`).
    """
    contributions = _check_values(contributions, "contributions")
    letters = contributions if onehot is None else on_sequence(contributions, _check_values(onehot, "onehot"))
    if hypothetical is not None:
        hypothetical = _check_values(hypothetical, "hypothetical contributions")
        if hypothetical.shape != contributions.shape:
            raise SeqliftError(f"hypothetical contributions {hypothetical.shape} and contributions "
                               f"{contributions.shape} differ in shape")
    length = contributions.shape[0]
    i, j = _window(length, start, zoom)
    show_overview = (zoom is not None and (j - i) < length) if overview is None else overview
    panels = 1 + (hypothetical is not None) + show_overview
    fig = _new_figure(j - i, panels)
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    k = 0
    if show_overview:
        draw_track(contributions, ax=axes[0], start=start, highlight=(start + i, start + j), boxes=boxes,
                   title=title, ylabel="sum over bases")
        k = 1
    draw_logo(letters, ax=axes[k], start=start, zoom=(start + i, start + j), boxes=boxes,
              title=None if show_overview else title, ylabel="contribution")
    if hypothetical is not None:
        draw_logo(hypothetical, ax=axes[k + 1], start=start, zoom=(start + i, start + j), boxes=boxes,
                  ylabel="hypothetical")
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> str:
    """Write a figure as PNG, PDF, SVG, JPEG, TIFF or another of :data:`FORMATS` (chosen by the file's suffix).

    The file is written under a temporary name and renamed when complete.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or os.PathLike
        Target file; its suffix must be one of :data:`FORMATS`.
    dpi : int
        Resolution of PNG output.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    SeqliftError
        For an unsupported suffix or a file that cannot be written.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    if suffix not in FORMATS:
        raise SeqliftError(f"{path}: cannot tell the format; end the name with .{', .'.join(FORMATS)}")
    directory = os.path.dirname(path)
    if directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as err:
            raise SeqliftError(f"cannot write {path}: {err.strerror or err} ({err.filename})") from None
    temporary = f"{path}.partial.{suffix}"
    try:
        fig.savefig(temporary, dpi=dpi, format=suffix)
        os.replace(temporary, path)
    except OSError as err:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise SeqliftError(f"cannot write {path}: {err.strerror or err}") from None
    return path
