"""``deeplift.visualization.viz_sequence``: per-base scores drawn as a sequence logo, with seqlift's logo code.

:func:`plot_weights` keeps the original's signature (plus ``ax=``) and draws
with :func:`seqlift.plots.logo.draw_logo` (logomaker glyphs: letters above the axis
for positive values, below it for negative ones). Position ``i`` is centred
at x = ``i``; ``highlight`` boxes span ``[start, end)`` over the whole height.
``plot_funcs``, the original's hook for drawing letters yourself, is still
honoured: each letter is then drawn by ``plot_funcs[channel](ax=, base=,
left_edge=, height=, color=)`` over ``[i, i + 1]``, stacked from the smallest
magnitude outwards as the original stacked them.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from seqlift.compat.deeplift._unsupported import module_getattr
from seqlift.errors import SeqliftError

__all__ = ["plot_weights", "plot_weights_given_ax", "default_colors"]


def _default_colours() -> dict[int, str]:
    from seqlift.plots.logo import BASE_COLOURS
    from seqlift.sequences.alphabet import ALPHABET as BASES

    return {i: BASE_COLOURS[base] for i, base in enumerate(BASES)}


#: colour of each channel (A, C, G, T): seqlift's letter colours
default_colors = _default_colours()


def plot_weights(array: np.ndarray, figsize: tuple[float, float] = (20, 2), height_padding_factor: float = 0.2,
                 length_padding: float = 1.0, subticks_frequency: float = 1.0,
                 colors: Mapping[int, str] = default_colors,
                 plot_funcs: Mapping[int, Callable[..., Any]] | None = None,
                 highlight: Mapping[str, Sequence[tuple[int, int]]] | None = None, ax: Any = None) -> Any:
    """Draw per-base scores (L, 4) or (4, L) as a logo.

    Parameters
    ----------
    array : np.ndarray
        Scores, (L, 4) or (4, L) (or either with a leading axis of length 1).
    figsize : (float, float)
        Size of the new figure when ``ax`` is None.
    height_padding_factor : float
        Margin above and below the letters, as a share of the taller stack.
    length_padding : float
        Margin left and right, in positions.
    subticks_frequency : float
        Spacing of the x ticks.
    colors : mapping
        Colour per channel index.
    plot_funcs : mapping, optional
        Per channel index, ``f(ax, base, left_edge, height, color)`` drawing a
        letter; seqlift's glyphs when None.
    highlight : mapping, optional
        Colour -> list of ``(start, end)`` intervals to outline.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure of ``figsize``, shown with
        ``plt.show()``, when None (as in the original).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    new_figure = ax is None
    if new_figure:
        ax = plt.figure(figsize=figsize).add_subplot(111)
    plot_weights_given_ax(ax, array, height_padding_factor, length_padding, subticks_frequency, highlight or {},
                          colors, plot_funcs)
    if new_figure:
        plt.show()
    return ax


def plot_weights_given_ax(ax: Any, array: np.ndarray, height_padding_factor: float, length_padding: float,
                          subticks_frequency: float, highlight: Mapping[str, Sequence[tuple[int, int]]],
                          colors: Mapping[int, str] = default_colors,
                          plot_funcs: Mapping[int, Callable[..., Any]] | None = None) -> Any:
    """:func:`plot_weights` on a given Axes (the original's argument order)."""
    values = _positions_by_channel(array)
    length = values.shape[0]
    top = float(np.clip(values, 0, None).sum(axis=1).max(initial=0.0))
    bottom = float(np.clip(values, None, 0).sum(axis=1).min(initial=0.0))
    padding = height_padding_factor * max(abs(top), abs(bottom))
    ylim = (bottom - padding, top + padding) if top > bottom else (-1.0, 1.0)
    spans = [(colour, int(start), int(end)) for colour, intervals in highlight.items() for start, end in intervals]
    for colour, start, end in spans:
        if not 0 <= start < end <= length:
            raise SeqliftError(f"highlight interval ({start}, {end}) is outside the {length} positions")
    if plot_funcs is None:
        from seqlift.plots.logo import Box, draw_logo
        from seqlift.sequences.alphabet import ALPHABET as BASES

        draw_logo(values, ax=ax, boxes=[Box(start, end, colour=colour) for colour, start, end in spans], ylim=ylim,
                  ylabel="", colours={base: colors[i] for i, base in enumerate(BASES)})
        offset = -0.5  # seqlift centres position i at x = i
    else:
        _draw_with(ax, values, colors, plot_funcs, spans, ylim)
        offset = 0.0  # the letters span [i, i + 1]
    ax.set_xlim(offset - length_padding, length + offset + length_padding)
    ax.xaxis.set_ticks(np.arange(0.0, length + 1, subticks_frequency))
    ax.set_ylim(*ylim)
    return ax


def _positions_by_channel(array: Any) -> np.ndarray:
    values = np.asarray(array, dtype=np.float64)
    if values.ndim == 3 and values.shape[0] == 1:
        values = values[0]
    if values.ndim == 2 and values.shape[0] == 4 and values.shape[1] != 4:
        values = values.T
    if values.ndim != 2 or values.shape[1] != 4:
        raise SeqliftError(f"plot_weights takes scores of shape (L, 4) or (4, L), not {np.shape(array)}")
    return values


def _draw_with(ax: Any, values: np.ndarray, colors: Mapping[int, str], plot_funcs: Mapping[int, Callable[..., Any]],
               spans: list[tuple[str, int, int]], ylim: tuple[float, float]) -> None:
    """Letters drawn by the caller's functions, stacked outwards from the axis by increasing magnitude."""
    from matplotlib.patches import Rectangle

    for position, row in enumerate(values):
        above = below = 0.0
        for channel in np.argsort(np.abs(row), kind="stable"):
            height = float(row[channel])
            base = above if height > 0 else below
            plot_funcs[channel](ax=ax, base=base, left_edge=position, height=height, color=colors[channel])
            if height > 0:
                above += height
            else:
                below += height
    for colour, start, end in spans:
        ax.add_patch(Rectangle((start, ylim[0]), end - start, ylim[1] - ylim[0], edgecolor=colour, fill=False))


_LETTERS = "seqlift draws letters with logomaker's glyphs; leave plot_funcs out, or pass your own functions"
__getattr__ = module_getattr("deeplift.visualization.viz_sequence", {
    "plot_a": _LETTERS, "plot_c": _LETTERS, "plot_g": _LETTERS, "plot_t": _LETTERS, "default_plot_funcs": _LETTERS,
})
