"""Motif scanning with log-odds matrices and top-k match picking with masking.

:func:`scan` scores every window of one-hot sequences against a log-odds
matrix with NumPy sliding windows (no Python loop over positions).
:func:`top_k` picks the best matches per sequence the way the DeepLIFT
paper's notebook did: take the best window start ``k``, mask the starts
``[k - w, k + w - 1)`` with ``w = width // 2``, repeat. With ``clip=True``
(the default) the mask start is clipped at 0. With ``clip=False`` the mask is
the notebook's literal Python slice ``scores[k-w : k+w-1]``: a negative start
counts from the end of the array, which for any sequence longer than about
two motif widths makes the slice empty, so a best match within ``w`` of the
left edge is picked again at the next step (counted more than once).

:func:`find_matches` runs both for a set of motifs and returns one row per
match; :func:`window_sums` adds per-position scores over each match's window;
:func:`annotate_truth` marks the matches that hit an inserted instance.

Examples
--------
>>> import numpy as np
>>> from seqlift.sequences.onehot import one_hot
>>> x = one_hot(["AACGTA"])
>>> m = np.log(np.array([[0.97, 0.01, 0.01, 0.01], [0.01, 0.97, 0.01, 0.01]]) / 0.25)
>>> scan(x, m).argmax()
1
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from seqlift.errors import SeqliftError
from seqlift.groundtruth.motifs import PAPER_PSEUDOCOUNT, Motif, log_odds
from seqlift.sequences.alphabet import PAPER_BACKGROUND

MATCH_COLUMNS = ("seq", "name", "motif", "rank", "start", "end", "strand", "log_odds")


def scan(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Score every window of one-hot sequences against a scoring matrix.

    Parameters
    ----------
    x : numpy.ndarray
        (N, L, 4) one-hot sequences (A, C, G, T); an all-zero row (N) adds 0.
    matrix : numpy.ndarray
        (W, 4) scores, e.g. from :func:`seqlift.groundtruth.motifs.log_odds`.

    Returns
    -------
    numpy.ndarray
        (N, L - W + 1) float64: entry ``[n, p]`` is
        ``sum_i sum_c x[n, p + i, c] * matrix[i, c]``, the score of the window
        starting at ``p`` on the forward strand.
    """
    x = np.asarray(x)
    matrix = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 4:
        raise SeqliftError(f"scan: sequences must be (N, L, 4), got {x.shape}")
    if matrix.ndim != 2 or matrix.shape[1] != 4:
        raise SeqliftError(f"scan: matrix must be (W, 4), got {matrix.shape}")
    width = matrix.shape[0]
    if width > x.shape[1]:
        raise SeqliftError(f"scan: motif width {width} exceeds sequence length {x.shape[1]}")
    windows = sliding_window_view(x, width, axis=1)  # (N, P, 4, W), a view
    return np.einsum("npcw,wc->np", windows, matrix, dtype=np.float64, casting="unsafe")


def scan_strands(x: np.ndarray, matrix: np.ndarray, both_strands: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Best score per window start over the strands asked for.

    Parameters
    ----------
    x : numpy.ndarray
        (N, L, 4) one-hot sequences.
    matrix : numpy.ndarray
        (W, 4) forward-strand scoring matrix.
    both_strands : bool
        Also score the reverse complement of each window (the matrix reversed
        and complemented) and keep the better strand.

    Returns
    -------
    scores : numpy.ndarray
        (N, L - W + 1) best score per window.
    strands : numpy.ndarray
        (N, L - W + 1) ``"+"`` or ``"-"``; ``"+"`` on ties.
    """
    fwd = scan(x, matrix)
    if not both_strands:
        return fwd, np.full(fwd.shape, "+", dtype="<U1")
    # the other strand's matrix as a reversed view, not reverse_complement's contiguous copy: einsum sums
    # in memory order, and the view keeps the log-odds bit for bit what they have always been
    rev = scan(x, np.asarray(matrix)[::-1, ::-1])
    return np.maximum(fwd, rev), np.where(rev > fwd, "-", "+")


def top_k(scores: np.ndarray, k: int, width: int, clip: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick the ``k`` best window starts per row, masking around each pick.

    After picking start ``s``, starts ``[s - w, s + w - 1)`` with
    ``w = width // 2`` are excluded from later picks (the DeepLIFT notebook's
    rule). ``clip=True`` clips the mask start at 0; ``clip=False`` applies
    Python slice semantics to a negative start (it counts from the end, which
    usually empties the mask, so the same left-edge start is picked again).

    Parameters
    ----------
    scores : numpy.ndarray
        (N, P) window scores.
    k : int
        Picks per row.
    width : int
        Motif width.
    clip : bool
        Clip the mask start at 0.

    Returns
    -------
    starts : numpy.ndarray
        (N, k) int64 window starts, best first.
    values : numpy.ndarray
        (N, k) their scores.
    valid : numpy.ndarray
        (N, k) bool, False where no unmasked start was left (then start is
        -1 and value -inf).
    """
    s = np.array(scores, dtype=np.float64, copy=True)
    if s.ndim != 2:
        raise SeqliftError(f"top_k: scores must be (N, P), got {s.shape}")
    if k < 1:
        raise SeqliftError(f"top_k: k must be >= 1, got {k}")
    n, p = s.shape
    w = int(width) // 2
    rows = np.arange(n)
    positions = np.arange(p)[None, :]
    starts = np.full((n, k), -1, dtype=np.int64)
    values = np.full((n, k), -np.inf)
    valid = np.zeros((n, k), dtype=bool)
    if p == 0:
        return starts, values, valid
    for j in range(k):
        best = s.argmax(axis=1)
        val = s[rows, best]
        ok = val > -np.inf  # False for -inf (all masked) and NaN
        starts[ok, j] = best[ok]
        values[ok, j] = val[ok]
        valid[:, j] = ok
        lo = best - w
        hi = np.minimum(best + w - 1, p)
        if clip:
            lo = np.maximum(lo, 0)
        else:  # Python slice semantics: a negative start counts from the end
            lo = np.where(lo < 0, np.maximum(lo + p, 0), lo)
        mask = (positions >= lo[:, None]) & (positions < hi[:, None]) & ok[:, None]
        s[mask] = -np.inf
    return starts, values, valid


def find_matches(
    x: np.ndarray,
    motifs: Sequence[Motif],
    names: Sequence[str] | None = None,
    k: int = 5,
    background: Sequence[float] = PAPER_BACKGROUND,
    pseudocount: float = PAPER_PSEUDOCOUNT,
    both_strands: bool = False,
    clip: bool = True,
    min_log_odds: float | None = None,
) -> pd.DataFrame:
    """Top-``k`` matches of each motif in each sequence.

    Parameters
    ----------
    x : numpy.ndarray
        (N, L, 4) one-hot sequences.
    motifs : sequence of Motif
        Motifs to scan; each is scored with :func:`seqlift.groundtruth.motifs.log_odds`.
    names : sequence of str, optional
        Sequence names (default ``"0"``, ``"1"``, ...).
    k : int
        Matches kept per sequence and motif (before ``min_log_odds``).
    background, pseudocount
        Passed to :func:`seqlift.groundtruth.motifs.log_odds`.
    both_strands : bool
        Scan both strands (default forward only, as the paper).
    clip : bool
        Clip the mask at the sequence start (see :func:`top_k`).
    min_log_odds : float, optional
        Drop picks whose log-odds is below this.

    Returns
    -------
    pandas.DataFrame
        Columns seq (row index into ``x``), name, motif (the motif's label),
        rank (0 = best), start, end (exclusive), strand, log_odds; ordered by
        motif, sequence and rank. The same window appears more than once
        only with ``clip=False``.
    """
    x = np.asarray(x)
    if names is None:
        names = [str(i) for i in range(x.shape[0])]
    if len(names) != x.shape[0]:
        raise SeqliftError(f"find_matches: {len(names)} names for {x.shape[0]} sequences")
    names_arr = np.asarray(names, dtype=object)
    frames = []
    for motif in motifs:
        matrix = log_odds(motif.probs, background, pseudocount)
        scores, strands = scan_strands(x, matrix, both_strands)
        starts, values, valid = top_k(scores, k, motif.width, clip=clip)
        seq_idx, rank = np.nonzero(valid)
        st = starts[seq_idx, rank]
        frame = pd.DataFrame(
            {
                "seq": seq_idx,
                "name": names_arr[seq_idx],
                "motif": motif.label,
                "rank": rank,
                "start": st,
                "end": st + motif.width,
                "strand": strands[seq_idx, st],
                "log_odds": values[seq_idx, rank],
            }
        )
        if min_log_odds is not None:
            frame = frame[frame["log_odds"] >= min_log_odds]
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=list(MATCH_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def window_sums(values: np.ndarray, seq: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Sum per-position values over windows.

    Parameters
    ----------
    values : numpy.ndarray
        (..., N, L) per-position values (e.g. contributions summed over A, C,
        G, T, with leading method or task axes).
    seq, start, end : numpy.ndarray
        (M,) sequence index, window start and exclusive end of each match.

    Returns
    -------
    numpy.ndarray
        (..., M) float64 sums ``values[..., seq, start:end].sum(-1)``.
    """
    values = np.asarray(values, dtype=np.float64)
    seq = np.asarray(seq, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    if values.ndim < 2:
        raise SeqliftError(f"window_sums: values must be (..., N, L), got {values.shape}")
    length = values.shape[-1]
    if seq.size and (start.min() < 0 or end.max() > length or np.any(end < start)):
        raise SeqliftError("window_sums: a window lies outside the sequences")
    cs = np.concatenate([np.zeros(values.shape[:-1] + (1,)), np.cumsum(values, axis=-1)], axis=-1)
    return cs[..., seq, end] - cs[..., seq, start]


def annotate_truth(matches: pd.DataFrame, instances: pd.DataFrame) -> pd.DataFrame:
    """Mark matches that overlap or equal an inserted instance of the same motif.

    Parameters
    ----------
    matches : pandas.DataFrame
        From :func:`find_matches` (columns name, motif, start, end, strand).
    instances : pandas.DataFrame
        Ground truth with columns name, motif, start, end (and strand).

    Returns
    -------
    pandas.DataFrame
        A copy of ``matches`` with bool columns ``overlaps_true`` (the window
        shares at least one base with an instance of the same motif in the
        same sequence) and ``equals_true`` (same start, end and strand).
    """
    out = matches.copy()
    out["overlaps_true"] = False
    out["equals_true"] = False
    if len(out) == 0 or len(instances) == 0:
        return out
    truth = instances[["name", "motif", "start", "end"]].copy()
    truth["t_strand"] = instances["strand"] if "strand" in instances else "+"
    truth = truth.rename(columns={"start": "t_start", "end": "t_end"})
    left = out[["name", "motif", "start", "end", "strand"]].reset_index().rename(columns={"index": "_row"})
    left["name"] = left["name"].astype(str)
    truth["name"] = truth["name"].astype(str)
    pairs = left.merge(truth, on=["name", "motif"], how="inner")
    overlap = (pairs["start"] < pairs["t_end"]) & (pairs["t_start"] < pairs["end"])
    equal = (pairs["start"] == pairs["t_start"]) & (pairs["end"] == pairs["t_end"]) & (pairs["strand"] == pairs["t_strand"])
    hit_overlap = pairs.loc[overlap, "_row"].unique()
    hit_equal = pairs.loc[equal, "_row"].unique()
    out.loc[hit_overlap, "overlaps_true"] = True
    out.loc[hit_equal, "equals_true"] = True
    return out
