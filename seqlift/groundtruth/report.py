"""Judge contribution scores against the simulation's ground truth (Figure 5).

Input: motif matches (:func:`seqlift.groundtruth.scan.find_matches`), the class of each
sequence (from its labels), and per-position scores for each method,
``scores[method]`` of shape (T, N, L) (contributions summed over A, C, G, T).
A match's score on a task is the sum of the per-position scores over its
window (:func:`seqlift.groundtruth.scan.window_sums`).

Statistics, per method (:func:`summarise`):

``false_negative``
    Among strong matches (log-odds >= ``strong``) in sequences holding both
    motifs, the share whose task-``t`` score is <= 0; on task 0 this is
    Figure 5b of the DeepLIFT paper.
``off_task_positive``
    Among strong matches of one motif in sequences holding only that motif,
    the share with a positive score on the other motif's task (task 2 for the
    first motif, task 1 for the second), whose label is 0 there.
``cooperativity``
    Mean task-0 score of strong matches in two-motif sequences minus the mean
    in one-motif sequences of the same motif (task 0 needs both motifs, so a
    lone motif should matter less), with a Welch normal 95% interval.

With the ground truth (the inserted instances), per method and task
(:func:`truth_hits`):

``top_in_truth``
    In each sequence labelled positive on task ``t``, the ``K`` positions
    with the highest per-position score, ``K`` the number of positions its
    true instances of the task's motifs cover (both motifs for task 0, the
    first for task 1, the second for task 2); the share of these top
    positions that fall in those instances (1 for a method whose highest
    scores are exactly the instances). Its interval treats sequences, not
    positions, as the independent units (a ratio estimate, normal
    approximation).

Shares carry binomial confidence intervals (:func:`binomial_ci`: Wilson or
Clopper-Pearson, computed without SciPy). :func:`scatter_plots` draws Figure
5a (match score against log-odds, coloured by class); :func:`write_report`
writes the per-match TSV, the summary as TSV and Markdown, the PNGs and one
self-contained HTML page.
"""
from __future__ import annotations

import base64
import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from seqlift.engine.methods import METHODS
from seqlift.errors import SeqliftError
from seqlift.groundtruth.scan import window_sums

#: display names of the methods compared (keys are the report's method names): each engine
#: method's label (:data:`seqlift.engine.methods.METHODS`), and the report's shuffled genomics default
METHOD_LABELS = {
    **{name: method.label for name, method in METHODS.items()},
    "genomics_default_shuffled": "genomics default, 10 dinucleotide shuffles",  # the report command's defaults
}
#: short names of the same methods, for tables with a column per model (the Figure 5 seeds tables)
METHOD_SHORT_NAMES = {
    **{name: method.short for name, method in METHODS.items()},
    "genomics_default_shuffled": "genomics default (10 shuffles)",
}
#: log-odds of a strong match: the paper's threshold, the report's default
STRONG = 7.0
#: class keys, in display order
CLASSES = ("both", "first_only", "second_only", "neither")
CLASS_COLOURS = {"both": "#d62728", "first_only": "#1f77b4", "second_only": "#2ca02c", "neither": "#7f7f7f"}


def method_label(method: str, labels: Mapping[str, str] | None = None) -> str:
    """Display name of a method key: from ``labels``, else :data:`METHOD_LABELS`, else the key."""
    if labels and method in labels:
        return labels[method]
    return METHOD_LABELS.get(method, method)


def method_short_name(method: str) -> str:
    """Short display name of a method key: from :data:`METHOD_SHORT_NAMES`, else the key."""
    return METHOD_SHORT_NAMES.get(method, method)


def sequence_classes(labels: np.ndarray) -> np.ndarray:
    """Class key of each sequence from its (N, 3) labels.

    Parameters
    ----------
    labels : numpy.ndarray
        Columns: both motifs present, first motif present, second present.

    Returns
    -------
    numpy.ndarray
        (N,) ``both``, ``first_only``, ``second_only`` or ``neither``, decided
        by the presence columns 1 and 2.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] < 3:
        raise SeqliftError(f"labels must be (N, 3), got {labels.shape}")
    first = labels[:, 1] > 0
    second = labels[:, 2] > 0
    out = np.full(labels.shape[0], "neither", dtype=object)
    out[first & second] = "both"
    out[first & ~second] = "first_only"
    out[~first & second] = "second_only"
    return out.astype(str)


def class_display(motif_names: Sequence[str]) -> dict[str, str]:
    """Display names of the class keys for two motif names."""
    a, b = motif_names
    return {"both": f"{a} + {b}", "first_only": f"{a} only", "second_only": f"{b} only", "neither": "neither"}


# ---------------------------------------------------------------------------
# binomial intervals


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise SeqliftError(f"confidence level must be in (0, 1), got {level}")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``k / n``; (nan, nan) when n = 0."""
    if n <= 0:
        return (math.nan, math.nan)
    z = _z(level)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    i = np.arange(k + 1)
    logc = np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) for j in i])
    terms = logc + i * math.log(p) + (n - i) * math.log1p(-p)
    top = terms.max()
    return float(min(1.0, math.exp(top) * np.exp(terms - top).sum()))


def _bisect(f, lo: float, hi: float, iterations: int = 80) -> float:
    """Root of a decreasing function f on [lo, hi]."""
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def clopper_pearson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for ``k / n``; (nan, nan) when n = 0.

    The bounds solve ``P(X >= k | p_low) = alpha / 2`` and
    ``P(X <= k | p_high) = alpha / 2`` by bisection.
    """
    if n <= 0:
        return (math.nan, math.nan)
    alpha = 1.0 - level
    _z(level)
    lower = 0.0 if k == 0 else _bisect(lambda p: alpha / 2 - (1.0 - _binom_cdf(k - 1, n, p)), 0.0, 1.0)
    upper = 1.0 if k == n else _bisect(lambda p: _binom_cdf(k, n, p) - alpha / 2, 0.0, 1.0)
    return (lower, upper)


def binomial_ci(k: int, n: int, level: float = 0.95, method: str = "wilson") -> tuple[float, float]:
    """Confidence interval for a binomial proportion.

    Parameters
    ----------
    k, n : int
        Successes and trials.
    level : float
        Coverage, e.g. 0.95.
    method : {"wilson", "clopper-pearson"}
        Wilson score interval, or the exact Clopper-Pearson interval.
    """
    if method == "wilson":
        return wilson_interval(k, n, level)
    if method in ("clopper-pearson", "exact"):
        return clopper_pearson_interval(k, n, level)
    raise SeqliftError(f"unknown interval method {method!r}; use wilson or clopper-pearson")


# ---------------------------------------------------------------------------
# the per-match table


def score_column(method: str, task: int) -> str:
    """Name of the per-match score column of a method and task."""
    return f"score_{method}_task{task}"


def match_table(
    matches: pd.DataFrame,
    classes: np.ndarray,
    scores: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """Add each match's class and its score per method and task.

    Parameters
    ----------
    matches : pandas.DataFrame
        From :func:`seqlift.groundtruth.scan.find_matches` (columns seq, start, end, ...),
        optionally with ``overlaps_true`` / ``equals_true``.
    classes : numpy.ndarray
        (N,) class key of every sequence (:func:`sequence_classes`).
    scores : mapping of str to numpy.ndarray
        Per method, (T, N, L) per-position scores (contributions summed over
        A, C, G, T); a (N, L) array is taken as one task.

    Returns
    -------
    pandas.DataFrame
        ``matches`` with ``class`` and ``score_<method>_task<t>`` columns.
    """
    table = matches.copy().reset_index(drop=True)
    seq = table["seq"].to_numpy(dtype=np.int64)
    table.insert(table.columns.get_loc("seq") + 1, "class", np.asarray(classes)[seq] if len(seq) else [])
    for method, values in scores.items():
        values = np.asarray(values)
        if values.ndim == 2:
            values = values[None]
        if values.ndim != 3:
            raise SeqliftError(f"scores of {method}: expected (T, N, L), got {values.shape}")
        if values.shape[1] != len(classes):
            raise SeqliftError(f"scores of {method}: {values.shape[1]} sequences, expected {len(classes)}")
        sums = window_sums(values, seq, table["start"].to_numpy(), table["end"].to_numpy())
        for t in range(values.shape[0]):
            table[score_column(method, t)] = sums[t]
    return table


def strong_matches(
    table: pd.DataFrame, strong: float = STRONG, motif: str | None = None, cls: str | None = None
) -> pd.DataFrame:
    """The strong matches of a per-match table, optionally of one motif and one class of sequences.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`match_table` (or a report's ``matches.tsv``): columns
        ``log_odds``, ``motif`` and ``class``.
    strong : float
        Least log-odds of a strong match.
    motif : str, optional
        Only this motif's matches.
    cls : str, optional
        Only matches in sequences of this class (a key of :data:`CLASSES`).

    Returns
    -------
    pandas.DataFrame
        The rows of ``table`` that qualify, in their order.
    """
    keep = table["log_odds"] >= strong
    if motif is not None:
        keep &= table["motif"] == motif
    if cls is not None:
        keep &= table["class"] == cls
    return table[keep]


def _methods_of(table: pd.DataFrame) -> list[str]:
    methods = []
    for col in table.columns:
        if col.startswith("score_") and "_task" in col:
            m = col[len("score_") : col.rindex("_task")]
            if m not in methods:
                methods.append(m)
    return methods


def _tasks_of(table: pd.DataFrame, method: str) -> list[int]:
    prefix = f"score_{method}_task"
    return sorted(int(c[len(prefix) :]) for c in table.columns if c.startswith(prefix) and c[len(prefix) :].isdigit())


# ---------------------------------------------------------------------------
# statistics

SUMMARY_COLUMNS = (
    "method",
    "label",
    "statistic",
    "motif",
    "task",
    "count",
    "n",
    "value",
    "ci_low",
    "ci_high",
    "mean_both",
    "mean_single",
    "n_single",
)


def _welch_ci(a: np.ndarray, b: np.ndarray, level: float) -> tuple[float, float]:
    if a.size < 2 or b.size < 2:
        return (math.nan, math.nan)
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    diff = a.mean() - b.mean()
    z = _z(level)
    return (diff - z * se, diff + z * se)


def summarise(
    table: pd.DataFrame,
    motif_names: Sequence[str],
    strong: float = STRONG,
    level: float = 0.95,
    ci: str = "wilson",
    methods: Sequence[str] | None = None,
    method_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The report's statistics for every method (see the module docstring).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`match_table`: columns motif, class, log_odds and the score
        columns.
    motif_names : sequence of 2 str
        Labels of the first motif (task 1) and the second (task 2), as in the
        table's ``motif`` column.
    strong : float
        Log-odds threshold of a strong match.
    level : float
        Confidence level of the intervals.
    ci : {"wilson", "clopper-pearson"}
        Binomial interval.
    methods : sequence of str, optional
        Methods to summarise, in order (default: all in the table).
    method_labels : mapping of str to str, optional
        Display names overriding :data:`METHOD_LABELS` (the ``label`` column).

    Returns
    -------
    pandas.DataFrame
        Long form, one row per method, statistic, motif and task; columns
        :data:`SUMMARY_COLUMNS`. ``value`` is a share in [0, 1] for
        ``false_negative`` and ``off_task_positive`` (``count`` of ``n``), and
        the difference of means for ``cooperativity``.
    """
    if len(motif_names) != 2:
        raise SeqliftError("summarise needs the two motif names")
    methods = list(methods) if methods is not None else _methods_of(table)
    other_task = {motif_names[0]: 2, motif_names[1]: 1}
    single_class = {motif_names[0]: "first_only", motif_names[1]: "second_only"}
    rows = []

    def add(**kw):
        row = {c: math.nan for c in SUMMARY_COLUMNS}
        row.update(kw)
        rows.append(row)

    for method in methods:
        tasks = _tasks_of(table, method)
        if not tasks:
            raise SeqliftError(f"no score columns for method {method!r}")
        label = method_label(method, method_labels)
        for motif in motif_names:
            in_both = strong_matches(table, strong, motif, "both")
            for t in tasks:
                s = in_both[score_column(method, t)].to_numpy()
                k, n = int((s <= 0).sum()), int(s.size)
                lo, hi = binomial_ci(k, n, level, ci)
                add(method=method, label=label, statistic="false_negative", motif=motif, task=t,
                    count=k, n=n, value=k / n if n else math.nan, ci_low=lo, ci_high=hi)
            t_off = other_task[motif]
            single = strong_matches(table, strong, motif, single_class[motif])
            if t_off in tasks:
                s = single[score_column(method, t_off)].to_numpy()
                k, n = int((s > 0).sum()), int(s.size)
                lo, hi = binomial_ci(k, n, level, ci)
                add(method=method, label=label, statistic="off_task_positive", motif=motif, task=t_off,
                    count=k, n=n, value=k / n if n else math.nan, ci_low=lo, ci_high=hi)
            if 0 in tasks:
                a = in_both[score_column(method, 0)].to_numpy(dtype=np.float64)
                b = single[score_column(method, 0)].to_numpy(dtype=np.float64)
                diff = a.mean() - b.mean() if a.size and b.size else math.nan
                lo, hi = _welch_ci(a, b, level)
                add(method=method, label=label, statistic="cooperativity", motif=motif, task=0,
                    n=int(a.size), value=diff, ci_low=lo, ci_high=hi,
                    mean_both=a.mean() if a.size else math.nan,
                    mean_single=b.mean() if b.size else math.nan, n_single=int(b.size))
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    return summary.astype({"task": "Int64", "count": "Int64", "n": "Int64", "n_single": "Int64"})


def truth_hits(
    scores: Mapping[str, np.ndarray],
    names: Sequence[str],
    labels: np.ndarray,
    truth: pd.DataFrame,
    motif_names: Sequence[str],
    level: float = 0.95,
    method_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """How often each method's top positions fall in the true motif instances (``top_in_truth``).

    Parameters
    ----------
    scores : mapping of str to numpy.ndarray
        Method key to (T, N, L) per-position scores (tasks 0, 1, 2 in order).
    names : sequence of str
        The N sequences' names, as in ``truth["name"]``.
    labels : numpy.ndarray
        (N, 3) labels; a sequence counts for task ``t`` when ``labels[:, t] > 0``.
    truth : pandas.DataFrame
        Inserted instances: name, motif, start, end (0-based, end exclusive).
    motif_names : sequence of 2 str
        First (task 1) and second (task 2) motif, as in ``truth["motif"]``.
    level : float
        Confidence level of the intervals.
    method_labels : mapping of str to str, optional
        Display names overriding :data:`METHOD_LABELS`.

    Returns
    -------
    pandas.DataFrame
        Rows of :data:`SUMMARY_COLUMNS`, one per method and task: ``count``
        top positions in instances of ``n`` top positions (``K`` summed over
        the sequences), ``value`` their share; ``motif`` names the task's
        motifs (``"A + B"`` for task 0).
    """
    first, second = motif_names
    task_motifs = {0: (first, second), 1: (first,), 2: (second,)}
    index = {str(name): i for i, name in enumerate(names)}
    any_method = np.asarray(next(iter(scores.values())))
    length = any_method.shape[-1]
    z = _z(level)
    rows = []
    for task, motifs in task_motifs.items():
        inside = np.zeros((len(names), length), dtype=bool)
        for row in truth[truth["motif"].isin(motifs)].itertuples(index=False):
            i = index.get(str(row.name))
            if i is not None:
                inside[i, max(int(row.start), 0):min(int(row.end), length)] = True
        sequences = np.flatnonzero((np.asarray(labels)[:, task] > 0) & inside.any(axis=1))
        for method, values in scores.items():
            values = np.asarray(values)
            values = values[None] if values.ndim == 2 else values
            if task >= values.shape[0]:
                continue
            top_k = inside[sequences].sum(axis=1)
            hits = np.array([inside[i, np.argsort(-values[task, i], kind="stable")[:k]].sum()
                             for i, k in zip(sequences, top_k)], dtype=np.int64)
            count, n = int(hits.sum()), int(top_k.sum())
            value = count / n if n else math.nan
            lo = hi = math.nan
            if len(sequences) > 1:  # ratio estimate over sequences (clusters of positions)
                spread = np.sqrt(((hits - value * top_k) ** 2).sum() / (len(sequences) * (len(sequences) - 1)))
                half = z * spread / top_k.mean()
                lo, hi = max(0.0, value - half), min(1.0, value + half)
            row = {c: math.nan for c in SUMMARY_COLUMNS}
            row.update(method=method, label=method_label(method, method_labels), statistic="top_in_truth",
                       motif=" + ".join(motifs), task=task, count=count, n=n, value=value, ci_low=lo, ci_high=hi)
            rows.append(row)
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    return frame.astype({"task": "Int64", "count": "Int64", "n": "Int64", "n_single": "Int64"})


def share_text(count: int, n: int, interval: tuple[float, float] | None = None, decimals: int = 1) -> str:
    """A share as text: ``"p % (k/n)"``, or ``"p % (k/n; lo-hi)"`` with its interval.

    Parameters
    ----------
    count, n : int
        The count and its denominator.
    interval : (float, float), optional
        Bounds of a confidence interval as proportions; written in % with one decimal.
    decimals : int
        Decimals of the percentage ``100 * count / n``.

    Returns
    -------
    str
        ``"n/a (0 matches)"`` when ``n`` is 0.
    """
    if pd.isna(n) or n == 0:
        return "n/a (0 matches)"
    count, n = int(count), int(n)
    bounds = "" if interval is None else f"; {100 * interval[0]:.1f}-{100 * interval[1]:.1f}"
    return f"{100 * count / n:.{decimals}f} % ({count}/{n}{bounds})"


def summary_row(summary: pd.DataFrame, method: str, statistic: str, motif: str, task: int) -> pd.Series | None:
    """The row of a summary for one method, statistic, motif and task.

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`summarise` (or a report's ``summary.tsv``).
    method, statistic, motif : str
        Keys of the row (``statistic``: ``false_negative``, ``off_task_positive``
        or ``cooperativity``).
    task : int
        The task scored.

    Returns
    -------
    pandas.Series or None
        The first matching row; None when the summary has none.
    """
    hit = summary[
        (summary["method"] == method)
        & (summary["statistic"] == statistic)
        & (summary["motif"] == motif)
        & (summary["task"] == task)
    ]
    return None if hit.empty else hit.iloc[0]


def _share(row: pd.Series) -> str:
    return share_text(row["count"], row["n"], (row["ci_low"], row["ci_high"]), decimals=2)


def _difference(row: pd.Series) -> str:
    if pd.isna(row["value"]):
        return "n/a"
    ci = "" if pd.isna(row["ci_low"]) else f" ({row['ci_low']:.3g} to {row['ci_high']:.3g})"
    return f"{row['value']:.3g}{ci}"


def headline_table(summary: pd.DataFrame, motif_names: Sequence[str]) -> pd.DataFrame:
    """One row per method: Figure 5b's shares, off-task positives and cooperativity.

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`summarise`.
    motif_names : sequence of 2 str
        First and second motif.

    Returns
    -------
    pandas.DataFrame
        Text cells: shares as ``"p % (k/n; lo-hi)"``, differences with their
        interval; the second motif (TAL1) first, as in the paper.
    """
    first, second = motif_names
    columns = {
        (second, "false_negative", 0): f"{second} task-0 score <= 0 (both-motif seqs)",
        (first, "false_negative", 0): f"{first} task-0 score <= 0 (both-motif seqs)",
        (second, "off_task_positive", 1): f"{second} task-1 score > 0 ({second}-only seqs)",
        (first, "off_task_positive", 2): f"{first} task-2 score > 0 ({first}-only seqs)",
        (second, "cooperativity", 0): f"{second} task-0 score, both minus {second}-only",
        (first, "cooperativity", 0): f"{first} task-0 score, both minus {first}-only",
    }
    if (summary["statistic"] == "top_in_truth").any():
        columns.update({
            (f"{first} + {second}", "top_in_truth", 0): "top task-0 positions in true instances (both-motif seqs)",
            (first, "top_in_truth", 1): f"top task-1 positions in true {first} instances",
            (second, "top_in_truth", 2): f"top task-2 positions in true {second} instances",
        })
    out = []
    for method in dict.fromkeys(summary["method"]):
        part = summary[summary["method"] == method]
        row = {"method": part["label"].iloc[0]}
        for (motif, stat, task), title in columns.items():
            r = summary_row(part, method, stat, motif, task)
            if r is None:
                row[title] = ""
            else:
                row[title] = _difference(r) if stat == "cooperativity" else _share(r)
        out.append(row)
    return pd.DataFrame(out)


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency).

    Parameters
    ----------
    header : sequence
        Column titles.
    rows : iterable of sequences
        Cells, one sequence per row; each cell is written with ``str``, ``|``
        escaped and line breaks replaced by spaces.

    Returns
    -------
    str
        The table's lines, each ending in a line break.
    """
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub-flavoured Markdown table (:func:`markdown_table`)."""
    return markdown_table(list(frame.columns), frame.itertuples(index=False))


# ---------------------------------------------------------------------------
# plots and files


def scatter_plots(
    table: pd.DataFrame,
    motif_names: Sequence[str],
    outdir: str | os.PathLike,
    strong: float = STRONG,
    methods: Sequence[str] | None = None,
    dpi: int = 80,
    method_labels: Mapping[str, str] | None = None,
) -> list[Path]:
    """Figure 5a: match score against log-odds, per method, task and motif.

    One PNG per method (``scatter_<method>.png``): a row per task, a column
    per motif, points coloured by the class of their sequence, with the
    ``strong`` threshold and zero marked. ``method_labels`` overrides the
    titles (see :func:`method_label`).

    Returns
    -------
    list of Path
        The files written, in method order.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    methods = list(methods) if methods is not None else _methods_of(table)
    names = class_display(motif_names)
    paths = []
    for method in methods:
        tasks = _tasks_of(table, method)
        fig, axes = plt.subplots(len(tasks), 2, figsize=(8, 2.6 * len(tasks)), squeeze=False)
        for i, t in enumerate(tasks):
            for j, motif in enumerate(motif_names):
                ax = axes[i, j]
                part = table[table["motif"] == motif]
                for cls in ("neither", "first_only", "second_only", "both"):  # the sparse classes on top
                    sel = part[part["class"] == cls]
                    if len(sel):
                        ax.scatter(sel["log_odds"], sel[score_column(method, t)], s=4, alpha=0.5,
                                   color=CLASS_COLOURS[cls], label=names[cls], linewidths=0)
                ax.axhline(0.0, color="black", linewidth=0.6)
                ax.axvline(strong, color="black", linewidth=0.6, linestyle="--")
                ax.set_title(f"{motif} matches, task {t}", fontsize=9)
                ax.tick_params(labelsize=7)
                ax.locator_params(nbins=5)
                if i == len(tasks) - 1:
                    ax.set_xlabel("log-odds", fontsize=8)
                if j == 0:
                    ax.set_ylabel("score over match", fontsize=8)
        height = fig.get_figheight()
        found: dict[str, object] = {}
        for ax in axes.flat:
            for handle, text in zip(*ax.get_legend_handles_labels()):
                found.setdefault(text, handle)
        order = [names[c] for c in CLASSES if names[c] in found]
        if order:
            fig.legend([found[t] for t in order], order, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.3 / height),
                       ncol=4, fontsize=8, markerscale=3, frameon=False)
        fig.suptitle(method_label(method, method_labels), fontsize=10, y=1 - 0.06 / height, va="top")
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.45 / height, top=1 - 0.85 / height, hspace=0.45, wspace=0.25)
        path = out / f"scatter_{method}.png"
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        paths.append(path)
    return paths


@dataclass
class Report:
    """The tables of a report.

    Attributes
    ----------
    matches : pandas.DataFrame
        Per match (:func:`match_table`, with truth columns when known).
    summary : pandas.DataFrame
        Long-form statistics (:func:`summarise`).
    headline : pandas.DataFrame
        One row per method (:func:`headline_table`).
    motif_names : tuple of str
        First and second motif.
    strong : float
        Threshold used.
    notes : dict
        Free-form settings recorded in the outputs (model, data, reference...).
    """

    matches: pd.DataFrame
    summary: pd.DataFrame
    headline: pd.DataFrame
    motif_names: tuple[str, str]
    strong: float
    notes: dict = field(default_factory=dict)


def build_report(
    matches: pd.DataFrame,
    labels: np.ndarray,
    scores: Mapping[str, np.ndarray],
    motif_names: Sequence[str],
    strong: float = STRONG,
    level: float = 0.95,
    ci: str = "wilson",
    notes: Mapping[str, object] | None = None,
    method_labels: Mapping[str, str] | None = None,
    truth: pd.DataFrame | None = None,
    names: Sequence[str] | None = None,
) -> Report:
    """Score the matches with every method and compute the statistics.

    Parameters
    ----------
    matches : pandas.DataFrame
        Matches of both motifs in all sequences (:func:`seqlift.groundtruth.scan.find_matches`,
        optionally :func:`seqlift.groundtruth.scan.annotate_truth`).
    labels : numpy.ndarray
        (N, 3) labels of the sequences (both, first, second present).
    scores : mapping of str to numpy.ndarray
        Method key to (T, N, L) per-position scores.
    motif_names : sequence of 2 str
        First and second motif labels, as in ``matches["motif"]``.
    strong, level, ci
        See :func:`summarise`.
    notes : mapping, optional
        Settings to record in the outputs.
    method_labels : mapping of str to str, optional
        Display names of methods, overriding :data:`METHOD_LABELS`.
    truth : pandas.DataFrame, optional
        The inserted instances (name, motif, start, end): with ``names``,
        adds :func:`truth_hits` (``top_in_truth``) to the statistics.
    names : sequence of str, optional
        The sequences' names, in the order of the scores.
    """
    if not scores:
        raise SeqliftError("no method scores to report")
    classes = sequence_classes(labels)
    table = match_table(matches, classes, scores)
    summary = summarise(table, motif_names, strong, level, ci, methods=list(scores), method_labels=method_labels)
    if truth is not None and names is not None and len(truth):
        hits = truth_hits(scores, names, labels, truth, motif_names, level, method_labels)
        summary = pd.concat([summary, hits], ignore_index=True)
        summary = summary.sort_values("method", key=lambda m: m.map(list(scores).index), kind="stable",
                                      ignore_index=True)
    headline = headline_table(summary, motif_names)
    return Report(table, summary, headline, (motif_names[0], motif_names[1]), strong, dict(notes or {}))


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def write_report(report: Report, outdir: str | os.PathLike, title: str = "seqlift ground-truth report", dpi: int = 80) -> dict[str, Path]:
    """Write a report's files.

    Files: ``matches.tsv`` (per match: sequence, position, motif, strand,
    log-odds, truth overlap, score per method and task), ``summary.tsv``
    (long form), ``summary.md`` (the headline table and settings),
    ``scatter_<method>.png`` and ``report.html`` (the tables and the plots
    embedded as base64, no external file needed).

    Returns
    -------
    dict of str to Path
        Keys ``matches``, ``summary``, ``markdown``, ``html`` and
        ``plot:<method>``.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"matches": out / "matches.tsv", "summary": out / "summary.tsv", "markdown": out / "summary.md", "html": out / "report.html"}
    report.matches.to_csv(paths["matches"], sep="\t", index=False, float_format="%.6g")
    report.summary.to_csv(paths["summary"], sep="\t", index=False, float_format="%.6g")
    methods = list(dict.fromkeys(report.summary["method"]))
    shown = dict(zip(report.summary["method"], report.summary["label"]))
    plots = scatter_plots(report.matches, report.motif_names, out, report.strong, methods, dpi=dpi, method_labels=shown)
    for method, path in zip(methods, plots):
        paths[f"plot:{method}"] = path
    settings = "\n".join(f"- {k}: {v}" for k, v in report.notes.items())
    first, second = report.motif_names
    explanation = (
        f"Strong matches: top matches per sequence and motif with log-odds >= {report.strong:g}. "
        f"Task 0 = {first} and {second} present, task 1 = {first} present, task 2 = {second} present. "
        "Shares are followed by (count/total; 95% interval in %)."
    )
    if (report.summary["statistic"] == "top_in_truth").any():
        explanation += (" Top positions in true instances: in each sequence positive on the task, the K highest-"
                        "scoring positions (K = positions its inserted instances of the task's motifs cover), and the "
                        "share of them inside those instances (interval over sequences).")
    md = f"# {title}\n\n{explanation}\n\n{to_markdown(report.headline)}\n## Settings\n\n{settings}\n"
    paths["markdown"].write_text(md)
    figures = "\n".join(
        f'<figure><img alt="{html.escape(shown[m])}" src="{_png_data_uri(p)}"><figcaption>{html.escape(shown[m])}</figcaption></figure>'
        for m, p in zip(methods, plots)
    )
    notes_html = "".join(f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>" for k, v in report.notes.items())
    long_table = report.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1200px; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin-bottom: 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 6px; text-align: left; }}
th {{ background: #f0f0f0; }}
figure {{ display: inline-block; margin: 0.5em; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(explanation)}</p>
{report.headline.to_html(index=False, border=0, escape=True)}
<h2>Settings</h2><ul>{notes_html}</ul>
<h2>Match score against log-odds</h2>
{figures}
<h2>All statistics</h2>
{long_table}
</body></html>
"""
    paths["html"].write_text(page)
    return paths
