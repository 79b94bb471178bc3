"""Figure 5b over several seeds: the model's own answers and the collected tables.

The experiment (the workflow's ``figure5`` target, docs/figure5_seeds.md)
trains the paper's model on several seeds of the simulation (``seqlift
train-sim``), reports each model on its test split (``seqlift report``) and
collects the reports into Markdown tables. A *run* is one model with its
report: a seed of seqlift's own training (the shipped demo model is one), or
a control such as the paper's released model, shown beside the seeds but
never pooled with them.

This module holds the two steps of its own:

* :func:`model_answers` (``seqlift figure5 answers``), per run: what the
  model itself says. For every strong match in a both-motif sequence, the
  *ablation drop* is the task-0 logit of the sequence minus its mean when the
  match's window is refilled with bases drawn from the background,

      drop = z0(x) - mean_d z0(x with window refilled, draw d),

  so a drop <= 0 means the model gives the instance no positive effect on
  task 0. It also records the logits at the references: the flat background
  at every position, dinucleotide shuffles of the both-motif sequences
  (mean) and those sequences themselves (median).
* :func:`figure5_tables` (``seqlift figure5 tables``): the Markdown tables of
  all runs, from their reports (``summary.tsv``, ``matches.tsv``), the
  model's answers and the training metrics.

The statistics, shares, intervals, labels and Markdown come from
:mod:`seqlift.groundtruth.report`; the paper's background and matrices from
:mod:`seqlift.groundtruth.motifs`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from seqlift.errors import SeqliftError
from seqlift.groundtruth.motifs import Motif, log_odds, read_meme, shipped_motifs
from seqlift.groundtruth.report import (
    CLASSES,
    METHOD_LABELS,
    STRONG,
    binomial_ci,
    class_display,
    markdown_table,
    method_short_name,
    score_column,
    share_text,
    strong_matches,
    summary_row,
)
from seqlift.sequences.alphabet import PAPER_BACKGROUND

#: the methods, in table order (the report's)
METHODS = tuple(METHOD_LABELS)
#: display names of the first motif (task 1) and the second (task 2), whatever their matrices are called
FIRST, SECOND = "GATA1", "TAL1"
#: Figure 5b as published (clipped mask): task-0 false-negative % of (TAL1, GATA1) matches
PUBLISHED_FALSE_NEGATIVES = {
    "guided_backprop": ("0.00", "0.00"),
    "grad_x_input": ("11.73", "4.08"),
    "integrated_gradients": ("8.50", "6.80"),
    "rescale": ("7.33", "4.76"),
    "revealcancel": ("0.00", "0.00"),
    "genomics_default": ("0.00", "0.00"),
}
#: label of the paper's released model, the control run
PAPER_RUN = "paper model"
#: a seed whose task-0 test auROC is below this is flagged in the training table
AUROC_FLAG = 0.98
#: log-odds thresholds of the threshold tables and of the matrices table
THRESHOLDS = (5.0, 7.0, 9.0)
#: methods of the threshold tables
THRESHOLD_METHODS = (
    "grad_x_input", "integrated_gradients", "rescale", "revealcancel", "genomics_default", "genomics_default_shuffled",
)
#: methods whose false negatives are counted by truth kind (exact, overlap, chance)
TRUTH_KIND_METHODS = ("grad_x_input", "rescale", "revealcancel", "genomics_default", "genomics_default_shuffled")
#: methods whose every false negative is listed, and the method shown beside them
RESIDUAL_METHODS = ("revealcancel", "genomics_default", "genomics_default_shuffled")
RESIDUAL_BESIDE = "grad_x_input"
#: what a strong match is, against an inserted instance of its motif
TRUTH_KINDS = ("exact", "overlap", "chance")
#: background refills of a match's window, and dinucleotide shuffles of the references
ABLATION_DRAWS = 20
REFERENCE_SHUFFLES = 10
#: sequences per forward pass of the model
LOGIT_BATCH = 2048
#: columns of the distance-and-copies tables: (title, test on (distance to the nearer end, copies))
POSITION_COLUMNS: tuple[tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]], ...] = (
    ("end < 10", lambda d, c: d < 10),
    ("end 10-19", lambda d, c: (d >= 10) & (d < 20)),
    ("end >= 20", lambda d, c: d >= 20),
    ("1 copy", lambda d, c: c == 1),
    ("2+ copies", lambda d, c: c >= 2),
)
#: the matrices compared: (source, shipped MEME file); the first two motifs of each
MATRIX_FILES = (("JASPAR", "jaspar2024_gata1_tal1.meme"), ("ENCODE", "encode_tal1_gata.meme"))
#: names of the files :func:`model_answers` adds to a report folder
ABLATION_FILE, ANSWERS_FILE = "ablation.tsv", "model_answers.json"


# ---------------------------------------------------------------------------
# the model's own answers (one run)


def logit_function(model: object, batch_size: int = LOGIT_BATCH) -> Callable[[np.ndarray], np.ndarray]:
    """The model's pre-sigmoid outputs as a function of one-hot sequences.

    Parameters
    ----------
    model : seqlift Model
        From :func:`seqlift.model.load_model`.
    batch_size : int
        Sequences per forward pass.

    Returns
    -------
    callable
        ``logits(x)``: (N, L, 4) one-hot -> (N, T) float32 values of the node
        :func:`seqlift.attribute` explains by default (the input of a final
        sigmoid).
    """
    from seqlift.engine.attribution import _resolve_target

    node = _resolve_target(model, None)

    def logits(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        parts = [model.forward(x[i : i + batch_size], keep=[node])[node].numpy() for i in range(0, len(x), batch_size)]
        return np.concatenate(parts)

    return logits


def positional_length(model: object) -> int | None:
    """Positions of the last node that still has a length axis (the windows of the last convolution).

    Parameters
    ----------
    model : seqlift Model
        A model whose node shapes are known (``model.shapes``).

    Returns
    -------
    int or None
        ``L'`` of the last node of shape (L', C) with L' > 1, in graph order;
        None when there is none.
    """
    found = None
    for name in model.nodes:
        shape = model.shapes.get(name)
        if shape is not None and len(shape) == 2 and shape[0] is not None and shape[0] > 1:
            found = int(shape[0])
    return found


def count_copies(matches: pd.DataFrame) -> pd.Series:
    """For each match, how many of ``matches`` share its sequence and motif.

    Parameters
    ----------
    matches : pandas.DataFrame
        Rows of a ``matches.tsv`` (columns name, motif, start), e.g. the strong ones.

    Returns
    -------
    pandas.Series
        The counts, aligned with ``matches``.
    """
    return matches.groupby(["name", "motif"])["start"].transform("size")


def refill_windows(
    x: np.ndarray,
    starts: Sequence[int],
    ends: Sequence[int],
    draws: int,
    background: Sequence[float],
    rng: np.random.Generator,
) -> np.ndarray:
    """Copies of sequences with one window each refilled with background bases.

    Parameters
    ----------
    x : numpy.ndarray
        (M, L, 4) one-hot sequences, one per window.
    starts, ends : sequence of int
        The window ``[start, end)`` of each sequence.
    draws : int
        Refilled copies per sequence.
    background : sequence of 4 floats
        A, C, G, T probabilities of the refilled bases.
    rng : numpy.random.Generator
        Source of the bases, drawn window by window in order.

    Returns
    -------
    numpy.ndarray
        (M * draws, L, 4): the ``draws`` copies of sequence 0, then of sequence 1, ...
    """
    out = np.repeat(x, draws, axis=0)
    eye = np.eye(4, dtype=out.dtype)
    for i, (start, end) in enumerate(zip(starts, ends)):
        bases = rng.choice(4, size=(draws, end - start), p=np.asarray(background, dtype=np.float64))
        out[i * draws : (i + 1) * draws, start:end] = eye[bases]
    return out


def window_ablation(
    matches: pd.DataFrame,
    sequences: Mapping[str, str],
    logits: Callable[[np.ndarray], np.ndarray],
    draws: int = ABLATION_DRAWS,
    background: Sequence[float] = PAPER_BACKGROUND,
    seed: int = 0,
) -> pd.DataFrame:
    """The ablation drop of every strong match in a both-motif sequence (see the module docstring).

    Parameters
    ----------
    matches : pandas.DataFrame
        A report's ``matches.tsv``.
    sequences : mapping of str to str
        Sequence of each name in ``matches``.
    logits : callable
        (N, L, 4) -> (N, T) pre-sigmoid outputs (:func:`logit_function`).
    draws : int
        Background refills per match.
    background : sequence of 4 floats
        A, C, G, T probabilities of the refills.
    seed : int
        Seed of the refills.

    Returns
    -------
    pandas.DataFrame
        The strong matches in both-motif sequences with columns ``logit0`` (task-0
        logit of the sequence), ``delta`` (the ablation drop) and ``copies``
        (:func:`count_copies`).
    """
    from seqlift.sequences.onehot import one_hot

    sel = strong_matches(matches, cls="both").copy()
    if sel.empty:
        return sel.assign(logit0=pd.Series(dtype=float), delta=pd.Series(dtype=float), copies=pd.Series(dtype=int))
    missing = [n for n in dict.fromkeys(sel["name"]) if n not in sequences]
    if missing:
        raise SeqliftError(f"no sequence named {missing[0]!r} (and {len(missing) - 1} more) for the matches")
    x0 = one_hot([sequences[n] for n in sel["name"]])
    base = logits(x0)[:, 0].astype(np.float64)
    refilled = refill_windows(x0, sel["start"].to_numpy(), sel["end"].to_numpy(), draws, background,
                              np.random.default_rng(seed))
    ablated = logits(refilled)[:, 0].astype(np.float64).reshape(len(sel), draws).mean(1)
    sel["logit0"] = base
    sel["delta"] = base - ablated
    sel["copies"] = count_copies(sel)
    return sel


def reference_logits(
    logits: Callable[[np.ndarray], np.ndarray],
    x_both: np.ndarray,
    background: Sequence[float] = PAPER_BACKGROUND,
    shuffles: int = REFERENCE_SHUFFLES,
    seed: int = 0,
) -> dict[str, list[float]]:
    """The model's logits at the references and at the both-motif sequences.

    Parameters
    ----------
    logits : callable
        (N, L, 4) -> (N, T) pre-sigmoid outputs.
    x_both : numpy.ndarray
        (N, L, 4) one-hot both-motif sequences.
    background : sequence of 4 floats
        The flat reference: these frequencies at every position.
    shuffles : int
        Dinucleotide shuffles of each sequence.
    seed : int
        Seed of the shuffles.

    Returns
    -------
    dict
        ``flat``: the logits of the flat reference; ``shuffles``: their mean over the
        shuffles of every sequence; ``sequences``: their median over the sequences.
    """
    from seqlift.sequences.shuffle import dinucleotide_shuffle

    length = x_both.shape[1]
    flat = np.tile(np.asarray(background, dtype=np.float32), (1, length, 1))
    shuffled = dinucleotide_shuffle(x_both, shuffles, seed=seed).reshape(-1, length, 4)
    values = {"flat": logits(flat)[0], "shuffles": logits(shuffled).mean(0), "sequences": np.median(logits(x_both), 0)}
    return {key: [float(v) for v in value] for key, value in values.items()}


@dataclass(frozen=True)
class RunSequences:
    """The sequences a run's model was tested on (its report's sequences).

    Attributes
    ----------
    sequences : dict of str to str
        Every sequence by name, in file order.
    both : list of str
        Names of the sequences holding both motifs (task 0 positive), in file order.
    """

    sequences: dict[str, str]
    both: list[str]


def read_simulated_sequences(fasta: str | Path, labels: str | Path) -> RunSequences:
    """A ``train-sim`` (or ``simulate``) output's sequences and labels.

    Parameters
    ----------
    fasta : path
        ``sequences.fa``.
    labels : path
        ``labels.tsv`` (name, task0, task1, task2, ...).

    Returns
    -------
    RunSequences
    """
    from seqlift.genome.fasta import read_fasta
    from seqlift.groundtruth.simulate import read_labels

    sequences = read_fasta(fasta)
    table = read_labels(labels)
    positive = set(table.loc[table["task0"].astype(int) == 1, "name"].astype(str))
    unlabelled = [n for n in sequences if n not in set(table["name"].astype(str))]
    if unlabelled:
        raise SeqliftError(f"{labels}: no labels for {len(unlabelled)} sequence(s) of {fasta}, e.g. {unlabelled[0]!r}")
    return RunSequences(sequences, [n for n in sequences if n in positive])


def read_paper_sequences(simdata: str | Path, test_names: str | Path | None = None) -> RunSequences:
    """The paper's released test split (``sequences.simdata.gz`` and ``test.txt.gz``).

    Parameters
    ----------
    simdata : path
        The paper's simdata file.
    test_names : path, optional
        Its test-set names (without: every sequence).

    Returns
    -------
    RunSequences
    """
    from seqlift.groundtruth.simulate import read_paper_simdata

    sim = read_paper_simdata(simdata, test_names).subset("test")
    both = [n for n, positive in zip(sim.names, sim.labels[:, 0] == 1) if positive]
    return RunSequences(dict(zip(sim.names, sim.sequences)), both)


def model_answers(model: object, split: RunSequences, matches: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The model's own answers for one run (see the module docstring).

    Parameters
    ----------
    model : seqlift Model
        The run's model.
    split : RunSequences
        Its test sequences (:func:`read_simulated_sequences`, :func:`read_paper_sequences`).
    matches : pandas.DataFrame
        Its report's ``matches.tsv``.

    Returns
    -------
    (pandas.DataFrame, dict)
        The ablation table (:func:`window_ablation`), and a dict with the
        sequence length, the windows of the last convolution
        (:func:`positional_length`) and the reference logits
        (:func:`reference_logits`).
    """
    from seqlift.sequences.onehot import one_hot

    lengths = {len(s) for s in split.sequences.values()}
    if len(lengths) != 1:
        raise SeqliftError(f"the test sequences must all have one length, found {sorted(lengths)[:5]}")
    if not split.both:
        raise SeqliftError("no both-motif sequence (task 0 positive) in the test split")
    logits = logit_function(model)
    ablation = window_ablation(matches, split.sequences, logits)
    x_both = one_hot([split.sequences[n] for n in split.both])
    answers = {
        "sequence_length": lengths.pop(),
        "windows": positional_length(model),
        "reference_logits": reference_logits(logits, x_both),
    }
    return ablation, answers


def write_model_answers(
    report_dir: str | Path, ablation: pd.DataFrame, answers: Mapping[str, object]
) -> dict[str, Path]:
    """Write :func:`model_answers`' results beside a report.

    Parameters
    ----------
    report_dir : path
        The run's report folder.
    ablation : pandas.DataFrame
        Written as ``ablation.tsv``.
    answers : mapping
        Written as ``model_answers.json``.

    Returns
    -------
    dict of str to Path
        ``ablation`` and ``answers``: the files written (each under a
        temporary name first).
    """
    folder = Path(report_dir)
    paths = {"ablation": folder / ABLATION_FILE, "answers": folder / ANSWERS_FILE}
    partial = {key: path.with_name(path.name + ".partial") for key, path in paths.items()}
    ablation.to_csv(partial["ablation"], sep="\t", index=False)
    partial["answers"].write_text(json.dumps(dict(answers), indent=2) + "\n")
    for key, path in paths.items():
        partial[key].replace(path)
    return paths


# ---------------------------------------------------------------------------
# the runs


@dataclass(frozen=True)
class Run:
    """One model of the experiment: its report, the model's answers and its training.

    Attributes
    ----------
    label : str
        Its column title: ``seed 3``, ``seed 0 (demo)``, ``paper model``.
    summary, matches : pandas.DataFrame
        The report's ``summary.tsv`` and ``matches.tsv``.
    ablation : pandas.DataFrame
        ``ablation.tsv`` of :func:`model_answers`.
    answers : dict
        ``model_answers.json`` of :func:`model_answers`.
    metrics : dict or None
        ``train-sim``'s ``metrics.json`` of a seed; None for a control run (the
        paper's model), which is shown beside the seeds but not pooled with them.
    """

    label: str
    summary: pd.DataFrame
    matches: pd.DataFrame
    ablation: pd.DataFrame
    answers: dict
    metrics: dict | None = None

    @property
    def pooled(self) -> bool:
        """Whether the run is a seed, pooled with the others."""
        return self.metrics is not None

    @property
    def motifs(self) -> tuple[str, str]:
        """Labels of the first motif (task 1) and the second (task 2), as in the report."""
        found = list(dict.fromkeys(self.summary.loc[self.summary["statistic"] == "false_negative", "motif"]))
        if len(found) != 2:
            raise SeqliftError(f"run {self.label!r}: the report's summary names {len(found)} motifs, not 2")
        return found[0], found[1]

    @property
    def shown_motifs(self) -> tuple[str, str]:
        """The two motif labels in the tables' order: TAL1 (the second), then GATA1 (the first)."""
        first, second = self.motifs
        return second, first

    @property
    def sequence_length(self) -> int:
        """Length of the test sequences."""
        return int(self.answers["sequence_length"])


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise SeqliftError(f"{path}: no such file")
    try:
        return pd.read_csv(path, sep="\t")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise SeqliftError(f"cannot read {path}: {err}") from None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except OSError as err:
        raise SeqliftError(f"cannot read {path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise SeqliftError(f"{path}, line {err.lineno}: not JSON ({err.msg})") from None


def read_run(label: str, report_dir: str | Path, metrics: str | Path | None = None) -> Run:
    """A run from its files.

    Parameters
    ----------
    label : str
        Its column title.
    report_dir : path
        Its report folder: ``summary.tsv``, ``matches.tsv`` (``seqlift report``),
        ``ablation.tsv`` and ``model_answers.json`` (:func:`write_model_answers`).
    metrics : path, optional
        ``train-sim``'s ``metrics.json``; without it the run is a control.

    Returns
    -------
    Run
    """
    folder = Path(report_dir)
    return Run(
        label,
        _read_table(folder / "summary.tsv"),
        _read_table(folder / "matches.tsv"),
        _read_table(folder / ABLATION_FILE),
        _read_json(folder / ANSWERS_FILE),
        None if metrics is None else _read_json(Path(metrics)),
    )


def read_seed_run(report_dir: str | Path, metrics: str | Path, seed: int | None = None, demo: bool = False) -> Run:
    """A seed's run, labelled with the seed its ``metrics.json`` records.

    Parameters
    ----------
    report_dir : path
        Its report folder (see :func:`read_run`).
    metrics : path
        ``train-sim``'s ``metrics.json``.
    seed : int, optional
        The seed the run was made with; an error when the metrics record another.
    demo : bool
        The shipped demo model: ``(demo)`` follows its label.

    Returns
    -------
    Run
    """
    recorded = _read_json(Path(metrics)).get("seed")
    if not isinstance(recorded, int):
        raise SeqliftError(f"{metrics}: no integer 'seed'")
    if seed is not None and recorded != seed:
        raise SeqliftError(f"{metrics}: the simulation's seed is {recorded}, not {seed}")
    return read_run(f"seed {recorded}" + (" (demo)" if demo else ""), report_dir, metrics)


# ---------------------------------------------------------------------------
# Markdown pieces


def _section(title: str, note: str | None = None) -> str:
    """A level-3 heading and, when given, a paragraph under it."""
    return f"### {title}\n\n" + ("" if note is None else _paragraph(note))


def _paragraph(text: str) -> str:
    return f"{text}\n\n"


def _table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    return markdown_table(header, rows) + "\n"


def _method_rows(runs: Sequence[Run], cell: Callable[[Run, str], str]) -> list[list[str]]:
    """One row per method of :data:`METHODS`: its short name, then ``cell(run, method)`` per run."""
    return [[method_short_name(method), *(cell(run, method) for run in runs)] for method in METHODS]


def _labels(runs: Sequence[Run]) -> list[str]:
    return [run.label for run in runs]


def _false_negative(frame: pd.DataFrame, method: str) -> np.ndarray:
    """Whether each match's task-0 score under ``method`` is <= 0."""
    return (frame[score_column(method, 0)] <= 0).to_numpy()


def truth_kinds(matches: pd.DataFrame) -> np.ndarray:
    """What each match is against the inserted instances of its motif.

    Parameters
    ----------
    matches : pandas.DataFrame
        Rows of a ``matches.tsv`` with ``equals_true`` and ``overlaps_true``.

    Returns
    -------
    numpy.ndarray
        ``exact`` (an inserted instance's window), ``overlap`` (shares bases with
        one) or ``chance`` (none there), per match.
    """
    return np.where(matches["equals_true"], "exact", np.where(matches["overlaps_true"], "overlap", "chance"))


def count_share(mask: np.ndarray) -> str:
    """``"p % (k/n)"`` of a boolean array: the share of its True values."""
    mask = np.asarray(mask, dtype=bool)
    return share_text(int(mask.sum()), mask.size)


# ---------------------------------------------------------------------------
# the sections


def training_section(runs: Sequence[Run]) -> str:
    """Test auROC per task, epochs and training time of each seed."""
    seeds = [run for run in runs if run.pooled]
    first, second = runs[0].motifs
    body = []
    for run in seeds:
        m = run.metrics
        auroc = m["test_auroc"]
        flag = "" if auroc[0] >= AUROC_FLAG else f" (below {AUROC_FLAG:g})"
        body.append([run.label, f"{auroc[0]:.4f}{flag}", f"{auroc[1]:.4f}", f"{auroc[2]:.4f}",
                     f"{m['epochs_run']} ({m['best_epoch']})", f"{m['training_seconds']:.0f}"])
    tested = _joined(run.metrics.get("n_test", "?") for run in seeds)
    return (_section(f"Training: test auROC per task ({tested} test sequences per seed)")
            + _table(["run", "task 0 (both)", f"task 1 ({first})", f"task 2 ({second})", "epochs (best)",
                      "training s"], body))


def figure5b_sections(runs: Sequence[Run]) -> str:
    """Figure 5b per motif: the task-0 false-negative share of each method and run, beside the published one."""
    text = ""
    for shown, name in enumerate((SECOND, FIRST)):
        def cell(run: Run, method: str) -> str:
            r = summary_row(run.summary, method, "false_negative", run.shown_motifs[shown], 0)
            if r is None:
                return ""
            return share_text(r["count"], r["n"], binomial_ci(int(r["count"]), int(r["n"])))

        published = [f"{PUBLISHED_FALSE_NEGATIVES[m][shown]} %" if m in PUBLISHED_FALSE_NEGATIVES else "—"
                     for m in METHODS]
        rows = [[*row, paper] for row, paper in zip(_method_rows(runs, cell), published)]
        text += _section(f"Figure 5b, {name} matches: task-0 score <= 0 among strong (log-odds >= {STRONG:g}) top-5 "
                         "matches in both-motif sequences",
                         "Share (count/denominator; 95 % Wilson interval). Paper: the published figure with the "
                         "clipped mask.")
        text += _table(["method", *_labels(runs), "paper (published)"], rows)
    return text


def off_task_section(runs: Sequence[Run]) -> str:
    """Strong matches in one-motif sequences scored positive for the other motif's task."""
    def cell(run: Run, method: str) -> str:
        first, second = run.motifs
        rows = (summary_row(run.summary, method, "off_task_positive", second, 1),
                summary_row(run.summary, method, "off_task_positive", first, 2))
        return " / ".join("" if r is None else share_text(r["count"], r["n"]) for r in rows)

    return (_section("Off-task positives: strong matches in one-motif sequences with a positive score for the other "
                     "motif's task",
                     f"{SECOND} matches in {SECOND}-only sequences scored for task 1 ({FIRST} present); {FIRST} "
                     f"matches in {FIRST}-only sequences scored for task 2.")
            + _table([f"method ({SECOND} / {FIRST})", *_labels(runs)], _method_rows(runs, cell)))


def cooperativity_section(runs: Sequence[Run]) -> str:
    """Mean task-0 score of a strong match in both-motif minus one-motif sequences, with its interval."""
    def cell(run: Run, method: str) -> str:
        parts = []
        for motif in run.shown_motifs:
            r = summary_row(run.summary, method, "cooperativity", motif, 0)
            parts.append("" if r is None else f"{r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]")
        return " / ".join(parts)

    return (_section("Cooperativity: mean task-0 score of a strong match in both-motif sequences minus in one-motif "
                     "sequences",
                     f"{SECOND} / {FIRST}; 95 % Welch interval in brackets. Positive = the model's task-0 output "
                     "credits a motif more when the other is present.")
            + _table([f"method ({SECOND} / {FIRST})", *_labels(runs)], _method_rows(runs, cell)))


def threshold_counts(matches: pd.DataFrame, motif: str, method: str, threshold: float) -> tuple[int, int]:
    """Task-0 false negatives among a motif's matches in both-motif sequences at a log-odds threshold.

    Parameters
    ----------
    matches : pandas.DataFrame
        A report's ``matches.tsv``.
    motif, method : str
        The motif label and the method key.
    threshold : float
        Least log-odds of the matches counted.

    Returns
    -------
    (int, int)
        The false negatives (score <= 0) and the matches counted.
    """
    fn = _false_negative(strong_matches(matches, threshold, motif, "both"), method)
    return int(fn.sum()), int(fn.size)


def threshold_sections(runs: Sequence[Run], thresholds: Sequence[float] = THRESHOLDS) -> str:
    """The false-negative counts at several log-odds thresholds, per run and pooled over the seeds."""
    text = _section(f"The threshold: false-negative share at log-odds >= {', '.join(f'{t:g}' for t in thresholds)} "
                    "(same matches.tsv, no retraining)",
                    f"k/n per run, {SECOND} | {FIRST}; pooled over the seeds (not the paper model) in the last column.")
    for method in THRESHOLD_METHODS:
        body = []
        for threshold in thresholds:
            pooled = np.zeros((2, 2), dtype=np.int64)
            cells = [f"{method_short_name(method)}, >= {threshold:g}"]
            for run in runs:
                counts = [threshold_counts(run.matches, motif, method, threshold) for motif in run.shown_motifs]
                cells.append(" | ".join(f"{k}/{n}" for k, n in counts))
                if run.pooled:
                    pooled += np.array(counts)
            cells.append(" | ".join(share_text(k, n) for k, n in pooled))
            body.append(cells)
        text += _table(["method, threshold", *_labels(runs), "seeds pooled"], body)
    return text


def truth_kind_section(runs: Sequence[Run]) -> str:
    """Strong matches in both-motif sequences by truth kind, with the false negatives of each kind."""
    body = []
    for run in runs:
        for motif in run.shown_motifs:
            sel = strong_matches(run.matches, motif=motif, cls="both")
            kinds = truth_kinds(sel)
            cells = [run.label, motif]
            for kind in TRUTH_KINDS:
                part = sel[kinds == kind]
                counts = "/".join(str(int(_false_negative(part, m).sum())) for m in TRUTH_KIND_METHODS)
                cells.append(f"{len(part)} (FN: {counts})")
            body.append(cells)
    names = " / ".join(method_short_name(m) for m in TRUTH_KIND_METHODS)
    return (_section("Strong matches in both-motif sequences: inserted instances or chance matches",
                     "`exact` = same window as an inserted instance; `overlap` = shares bases with one (a shifted "
                     "window); `chance` = no inserted instance of that motif there. FN = task-0 score <= 0.")
            + _table(["run", "motif", *TRUTH_KINDS], body)
            + _paragraph(f"FN counts in brackets: {names}."))


def _background_text(background: Sequence[float] = PAPER_BACKGROUND) -> str:
    return "/".join(f"{p:g}" for p in background)


def reference_section(runs: Sequence[Run]) -> str:
    """The model's logits at the flat reference, at shuffles and at the both-motif sequences."""
    keys = ("flat", "shuffles", "sequences")
    rows = [[run.label, *(" / ".join(f"{v:.2f}" for v in run.answers["reference_logits"][k]) for k in keys)]
            for run in runs]
    return (_section("What the references look like to the model",
                     f"Pre-sigmoid outputs (task 0 / task 1 / task 2): at the flat reference {_background_text()}; "
                     f"averaged over {REFERENCE_SHUFFLES} dinucleotide shuffles (seed 0) of each both-motif sequence; "
                     "median over the both-motif sequences themselves. A reference whose output is near the "
                     "sequences' own leaves the methods little to explain.")
            + _table(["run", "flat reference", "shuffles (mean)", "both-motif sequences (median)"], rows))


def residual_rows(run: Run) -> list[list[object]]:
    """One row per strong match that any of :data:`RESIDUAL_METHODS` scores <= 0 on task 0.

    Parameters
    ----------
    run : Run
        A run with its ablation table.

    Returns
    -------
    list of list
        Label, sequence, motif, start, log-odds, truth kind, rank, copies, the
        task-0 score of each residual method and of :data:`RESIDUAL_BESIDE`, the
        strong matches of the other motif in the sequence, the task-0 logit and
        the ablation drop.
    """
    ablation = run.ablation
    if ablation.empty:
        return []
    bad = ablation[np.any([_false_negative(ablation, m) for m in RESIDUAL_METHODS], axis=0)]
    strong = strong_matches(run.matches)
    rows = []
    for (_, r), kind in zip(bad.iterrows(), truth_kinds(bad)):
        other = strong[(strong["name"] == r["name"]) & (strong["motif"] != r["motif"])]
        scores = [f"{r[score_column(m, 0)]:.3f}" for m in (*RESIDUAL_METHODS, RESIDUAL_BESIDE)]
        rows.append([run.label, r["name"], r["motif"], int(r["start"]), f"{r['log_odds']:.2f}", kind, int(r["rank"]),
                     int(r["copies"]), *scores, len(other), f"{r['logit0']:.2f}", f"{r['delta']:.3f}"])
    return rows


def residual_section(runs: Sequence[Run]) -> str:
    """Every false negative of RevealCancel and the genomics default, with the model's own answer."""
    names = [method_short_name(m) for m in RESIDUAL_METHODS]
    text = _section(f"Every false negative of {', '.join(names)}")
    body = [row for run in runs for row in residual_rows(run)]
    if not body:
        return text + _paragraph("None.")
    medians = ", ".join(f"{run.label} {run.ablation[score_column('revealcancel', 0)].median():.2f}" for run in runs)
    return (text
            + _table(["run", "sequence", "motif", "start", "log-odds", "truth", "rank", "copies", *names,
                      method_short_name(RESIDUAL_BESIDE), "strong matches of the other motif", "task-0 logit",
                      "ablation drop"], body)
            + _paragraph("Task-0 logit: the model's pre-sigmoid output for the sequence (0 = probability 0.5). "
                         "Ablation drop: mean fall of that logit when the match's window is refilled with background "
                         f"bases ({ABLATION_DRAWS} draws); <= 0 means the model itself gives the instance no positive "
                         "effect on task 0. Copies: strong matches of the same motif in the sequence. For scale, the "
                         f"median RevealCancel task-0 score of these strong matches: {medians}."))


def ablation_section(runs: Sequence[Run]) -> str:
    """How many matches the model itself does not credit, and each method's false negatives split by that."""
    def no_drop(a: pd.DataFrame) -> str:
        return f"{int((a['delta'] <= 0).sum())}/{len(a)}"

    body = [[f"matches with drop <= 0 ({SECOND} | {FIRST})",
             *(" | ".join(no_drop(run.ablation[run.ablation["motif"] == m]) for m in run.shown_motifs)
               for run in runs)]]
    for name, keep in (("1 copy", lambda a: a["copies"] == 1), ("2+ copies", lambda a: a["copies"] >= 2)):
        body.append([f"{name}: drop <= 0; median drop (both motifs)",
                     *(f"{no_drop(run.ablation[keep(run.ablation)])}; "
                       f"{run.ablation[keep(run.ablation)]['delta'].median():.2f}" for run in runs)])
    for method in METHODS:
        cells = [f"{method_short_name(method)}: FN with drop > 0 / FN with drop <= 0"]
        for run in runs:
            fn = _false_negative(run.ablation, method)
            used = (run.ablation["delta"] > 0).to_numpy()
            cells.append(f"{int((fn & used).sum())} / {int((fn & ~used).sum())}")
        body.append(cells)
    return (_section("Does the model itself credit the match? Window ablation against each method's false negatives",
                     f"Strong matches in both-motif sequences; ablation drop as above ({ABLATION_DRAWS} background "
                     "refills of the window). `drop <= 0`: matches whose removal does not lower the task-0 logit. For "
                     "each method, its false negatives split by the sign of the ablation drop (`drop > 0`: the model "
                     "does use the match; the method's non-positive score misses it).")
            + _table(["", *_labels(runs)], body))


def end_distances(run: Run) -> pd.DataFrame:
    """The strong matches of a run in both-motif sequences with their distance to the nearer sequence end.

    Parameters
    ----------
    run : Run

    Returns
    -------
    pandas.DataFrame
        The matches with columns ``dist`` (bases between the match and the
        nearer end of its sequence) and ``copies`` (:func:`count_copies`).
    """
    sel = strong_matches(run.matches, cls="both").copy()
    sel["dist"] = np.minimum(sel["start"], run.sequence_length - sel["end"])
    sel["copies"] = count_copies(sel)
    return sel


def _joined(values: Iterable[object]) -> str:
    return " or ".join(str(v) for v in dict.fromkeys(values))


def position_sections(runs: Sequence[Run]) -> str:
    """False-negative shares by distance to the nearer sequence end and by copies, pooled seeds and controls."""
    windows = [run.answers.get("windows") for run in runs]
    receptive = ""
    if all(w is not None for w in windows):
        edges = [run.sequence_length - w for run, w in zip(runs, windows)]
        receptive = (f" (each position feeds fewer of the {_joined(windows)} windows of the last convolution within "
                     f"{_joined(edges)} bp of an end)")
    text = _section("Where the false negatives are: distance to the nearest sequence end, and redundant matches",
                    f"Strong matches (log-odds >= {STRONG:g}) in both-motif sequences, both motifs together, FN share "
                    f"k/n. Distance: bases between the match and the nearer end of the "
                    f"{_joined(run.sequence_length for run in runs)} bp sequence{receptive}. Copies: strong matches "
                    "of the same motif in the sequence.")
    groups = [("seeds pooled", [run for run in runs if run.pooled])]
    groups += [(run.label, [run]) for run in runs if not run.pooled]
    for name, members in groups:
        if not members:
            continue
        frame = pd.concat([end_distances(run) for run in members], ignore_index=True)
        dist, copies = frame["dist"].to_numpy(), frame["copies"].to_numpy()
        body = []
        for method in METHODS:
            fn = _false_negative(frame, method)
            body.append([method_short_name(method),
                         *(count_share(fn[keep(dist, copies)]) for _, keep in POSITION_COLUMNS)])
        text += _paragraph(f"{name}:") + _table(["method", *(title for title, _ in POSITION_COLUMNS)], body)
    return text


# ---------------------------------------------------------------------------
# the matrices


def information_bits(probs: np.ndarray) -> float:
    """Information content of a matrix in bits against a uniform background: sum over positions of 2 - H.

    Parameters
    ----------
    probs : numpy.ndarray
        (W, 4) probabilities.

    Returns
    -------
    float
    """
    p = np.asarray(probs, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
    return float((2 - entropy).sum())


def expected_log_odds(probs: np.ndarray, background: Sequence[float] = PAPER_BACKGROUND) -> float:
    """Mean log-odds (nats, the report's scoring) of a site sampled from the matrix.

    Parameters
    ----------
    probs : numpy.ndarray
        (W, 4) probabilities.
    background : sequence of 4 floats
        Background of the log-odds (:func:`seqlift.groundtruth.motifs.log_odds`).

    Returns
    -------
    float
        ``sum_i sum_b P[i, b] * log_odds[i, b]``.
    """
    return float((np.asarray(probs) * log_odds(probs, background)).sum())


def sampled_site_tail(
    probs: np.ndarray,
    thresholds: Sequence[float],
    n: int = 200_000,
    seed: int = 0,
    background: Sequence[float] = PAPER_BACKGROUND,
) -> list[float]:
    """Share of sites sampled from the matrix whose log-odds reach each threshold.

    Parameters
    ----------
    probs : numpy.ndarray
        (W, 4) probabilities.
    thresholds : sequence of float
        Log-odds thresholds.
    n : int
        Sites sampled.
    seed : int
        Seed of the sampling.
    background : sequence of 4 floats
        Background of the log-odds.

    Returns
    -------
    list of float
        One share per threshold.
    """
    rng = np.random.default_rng(seed)
    lo = log_odds(probs, background)
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random((n, probs.shape[0]))
    letters = (u[..., None] > cumulative[None]).sum(-1).clip(0, 3)
    scores = lo[np.arange(probs.shape[0])[None], letters].sum(1)
    return [float((scores >= t).mean()) for t in thresholds]


def chance_windows(
    probs: np.ndarray,
    thresholds: Sequence[float],
    length: int,
    n: int = 20_000,
    seed: int = 1,
    background: Sequence[float] = PAPER_BACKGROUND,
) -> tuple[list[float], list[float]]:
    """Windows of background sequences that score as strong matches by chance.

    Parameters
    ----------
    probs : numpy.ndarray
        (W, 4) probabilities.
    thresholds : sequence of float
        Log-odds thresholds.
    length : int
        Length of the background sequences.
    n : int
        Background sequences simulated (bases drawn from ``background``).
    seed : int
        Seed of the simulation.
    background : sequence of 4 floats
        Letter probabilities of the sequences and background of the log-odds.

    Returns
    -------
    (list of float, list of float)
        Per threshold: the mean number of windows per sequence scoring at least
        the threshold, and the share of sequences with at least one.
    """
    rng = np.random.default_rng(seed)
    lo = log_odds(probs, background)
    x = rng.choice(4, size=(n, length), p=np.asarray(background, dtype=np.float64))
    width = probs.shape[0]
    scores = np.zeros((n, length - width + 1))
    for i in range(width):
        scores += lo[i][x[:, i : length - width + 1 + i]]
    return ([float((scores >= t).sum(1).mean()) for t in thresholds],
            [float((scores.max(1) >= t).mean()) for t in thresholds])


def matrix_row(source: str, motif: Motif, length: int, thresholds: Sequence[float] = THRESHOLDS) -> list[object]:
    """One row of the matrices table (see :func:`matrix_section`)."""
    p = motif.probs
    tail = sampled_site_tail(p, thresholds)
    rate, any_share = chance_windows(p, thresholds, length)
    return [source, motif.label, motif.width, f"{information_bits(p):.1f}", f"{expected_log_odds(p):.2f}",
            f"{log_odds(p).max(1).sum():.2f}", " / ".join(f"{100 * t:.1f}" for t in tail),
            f"{rate[1]:.3f} ({100 * any_share[1]:.1f} %)", f"{rate[0]:.3f} / {rate[2]:.4f}"]


def strong_per_class_rows(run: Run) -> list[list[object]]:
    """Per motif: strong matches (and chance ones) over the sequences of each class."""
    sequences = run.matches.groupby("class")["name"].nunique()
    rows = []
    for motif in run.shown_motifs:
        cells = [run.label, motif]
        for cls in CLASSES:
            sel = strong_matches(run.matches, motif=motif, cls=cls)
            chance = int((~sel["overlaps_true"].astype(bool)).sum())
            cells.append(f"{len(sel)} ({chance} chance) / {int(sequences.get(cls, 0))}")
        rows.append(cells)
    return rows


def matrix_section(runs: Sequence[Run], matrices: Sequence[tuple[str, Sequence[Motif]]]) -> str:
    """The matrices compared (information, log-odds, chance windows) and the strong matches per class."""
    length = runs[0].sequence_length
    t = THRESHOLDS
    shown = "/".join(f"{v:g}" for v in t)
    header = ["source", "motif", "width", "IC bits", "E[log-odds]", "max log-odds", f"P(site >= {shown}) %",
              f"chance windows >= {t[1]:g} per seq (share with one)", f"chance >= {t[0]:g} / >= {t[2]:g} per seq"]
    body = [matrix_row(source, motif, length) for source, motifs in matrices for motif in motifs]
    names = class_display((FIRST, SECOND))
    return (_section("The matrices: JASPAR 2024 (seqlift) vs the paper's ENCODE matrices",
                     "IC: information content in bits against a uniform background; E[log-odds]: mean log-odds "
                     "(nats, the report's scoring: pseudocount 0.001, background "
                     f"{_background_text()}) of a site sampled from the matrix; P(site >= t): share of sampled sites "
                     f"(200,000) reaching the threshold; chance windows >= {t[1]:g}: mean count per {length} bp "
                     "background sequence (20,000 simulated), and the share of such sequences with at least one.")
            + _table(header, body)
            + _paragraph(f"Measured in the test sets (top-5 matches per sequence and motif, log-odds >= {STRONG:g}): "
                         "strong matches per sequence of each class; `chance` = not overlapping an inserted instance "
                         "of that motif.")
            + _table(["run", "motif", *(names[c] for c in CLASSES)],
                     [row for run in runs for row in strong_per_class_rows(run)]))


def shipped_matrices() -> list[tuple[str, list[Motif]]]:
    """The first two motifs of each file of :data:`MATRIX_FILES`, with its source name."""
    return [(source, read_meme(shipped_motifs(filename))[:2]) for source, filename in MATRIX_FILES]


# ---------------------------------------------------------------------------
# all tables, and the document holding them


def figure5_tables(runs: Sequence[Run], matrices: Sequence[tuple[str, Sequence[Motif]]] | None = None) -> str:
    """The Markdown tables of the experiment.

    Parameters
    ----------
    runs : sequence of Run
        In column order; at least one seed (a run with metrics).
    matrices : sequence of (str, sequence of Motif), optional
        The matrices compared, by source (default :func:`shipped_matrices`).

    Returns
    -------
    str
        The sections, ending in one line break.
    """
    if not any(run.pooled for run in runs):
        raise SeqliftError("the Figure 5 tables need at least one seed's run (with its training metrics)")
    for run in runs:
        missing = [m for m in METHODS if score_column(m, 0) not in run.matches.columns]
        if missing:
            raise SeqliftError(f"run {run.label!r}: its report has no task-0 scores of {', '.join(missing)}; the "
                               "tables need every method of the report")
    sections = (
        training_section(runs),
        figure5b_sections(runs),
        off_task_section(runs),
        cooperativity_section(runs),
        threshold_sections(runs),
        truth_kind_section(runs),
        reference_section(runs),
        residual_section(runs),
        ablation_section(runs),
        position_sections(runs),
        matrix_section(runs, shipped_matrices() if matrices is None else matrices),
    )
    return "".join(sections).rstrip() + "\n"


def block_markers(name: str | None = None) -> tuple[str, str]:
    """The comments around a block of tables in a document: ``<!-- figure5-tables[-NAME]:begin/end -->``."""
    tag = "figure5-tables" + (f"-{name}" if name else "")
    return f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"


def replace_block(text: str, tables: str, name: str | None = None) -> str:
    """A document with its block of tables replaced, or appended when it has none.

    Parameters
    ----------
    text : str
        The document (Markdown).
    tables : str
        The new content of the block (:func:`figure5_tables`).
    name : str, optional
        The block's name (:func:`block_markers`); several blocks can share a document.

    Returns
    -------
    str
        The text before the block and after it unchanged.
    """
    begin, end = block_markers(name)
    if begin not in text:
        return text.rstrip("\n") + "\n\n" + begin + "\n" + tables + end + "\n"
    before, rest = text.split(begin, 1)
    after = rest.split(end, 1)[1] if end in rest else "\n"
    return before + begin + "\n" + tables + end + after
