#!/usr/bin/env bash
# Figure 5b over several seeds of simulation and training.
#
# usage: workflows/scripts/figure5_seeds.sh [--demo] [--paper] [--motifs MEME] [--doc FILE] [--block NAME]
#            OUTDIR SEED [SEED ...]
#
# For each SEED: `seqlift train-sim OUTDIR/seed_SEED --seed SEED` (the one --seed sets both the
# simulation and the training: train-sim shares `seqlift simulate`'s arguments), then
# `seqlift report` on that seed's test split with the paper's flat reference 0.3/0.2/0.2/0.3 for
# every method but `genomics_default_shuffled`, which the report always computes with 10
# dinucleotide shuffles (so one report gives both references) -> OUTDIR/seed_SEED/report.
# A seed whose model.h5 and metrics.json exist is not retrained; a report whose summary.tsv
# exists is not recomputed (delete it to redo).
#   --demo   also report on the shipped demo model (data/demo, seed 0) as OUTDIR/seed_0
#   --paper  also report on the paper's released model and test set (../shared/paper-genomics)
#            with the ENCODE matrices, as OUTDIR/paper (the published Figure 5b, as a control)
#   --motifs passed to train-sim (default: its own, the shipped JASPAR 2024 file); e.g.
#            data/motifs/encode_tal1_gata.meme, the paper's ENCODE matrices, as a control
#   --doc    Markdown file whose block between `<!-- figure5-tables:begin -->` and
#            `<!-- figure5-tables:end -->` is replaced by the collected tables (default
#            docs/figure5_seeds.md; the block is appended when missing)
#   --block  NAME: use the markers `<!-- figure5-tables-NAME:begin -->` ... `:end -->` instead,
#            so that one document can hold the tables of several output folders
# Environment: SEQLIFT (default .venv/bin/seqlift, else seqlift), PYTHON (default .venv/bin/python,
# else python3), PAPER_DIR (default ../shared/paper-genomics relative to the repository).
# Nothing is tuned: train-sim and report run with their defaults.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
demo=0
paper=0
doc="$repo/docs/figure5_seeds.md"
motifs=""
block=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --demo) demo=1; shift ;;
        --paper) paper=1; shift ;;
        --doc) doc=$2; shift 2 ;;
        --motifs) motifs=$2; shift 2 ;;
        --block) block=$2; shift 2 ;;
        -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}"; exit 0 ;;
        --) shift; break ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
if [[ $# -lt 1 ]]; then
    echo "usage: $0 [--demo] [--paper] [--motifs MEME] [--doc FILE] [--block NAME] OUTDIR [SEED ...]" >&2
    exit 2
fi
out=$1
shift
seeds=("$@")
if [[ ${#seeds[@]} -eq 0 && $demo -eq 0 && $paper -eq 0 ]]; then
    echo "give at least one seed (or --demo / --paper)" >&2
    exit 2
fi

if [[ -z "${SEQLIFT:-}" ]]; then
    if [[ -x "$repo/.venv/bin/seqlift" ]]; then SEQLIFT="$repo/.venv/bin/seqlift"; else SEQLIFT=seqlift; fi
fi
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$repo/.venv/bin/python" ]]; then PYTHON="$repo/.venv/bin/python"; else PYTHON=python3; fi
fi
PAPER_DIR=${PAPER_DIR:-$repo/../shared/paper-genomics}
train_extra=()
if [[ -n "$motifs" ]]; then
    train_extra=(--motifs "$(cd "$(dirname "$motifs")" && pwd)/$(basename "$motifs")")
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
start_all=$SECONDS

# report DATA_DIR REPORT_DIR: the Figure 5b report on a train-sim output folder's test split
report() {
    local data=$1 dest=$2
    if [[ -s "$dest/summary.tsv" ]]; then
        echo "== $dest exists, kept"
        return
    fi
    local t0=$SECONDS
    "$SEQLIFT" report --model "$data/model.h5" \
        --bed "$data/regions.bed" --genome "$data/genome.fa" \
        --labels "$data/labels.tsv" --truth "$data/instances.tsv" --motifs "$data/motifs.meme" \
        --split test --reference flat --flat-frequencies 0.3,0.2,0.2,0.3 \
        --out "$dest" 2>&1 | tee "$dest.log"
    echo "report_seconds=$((SECONDS - t0))" >>"$dest.log"
}

if [[ $demo -eq 1 ]]; then
    mkdir -p "$out/seed_0"
    for f in model.h5 sequences.fa regions.bed genome.fa labels.tsv instances.tsv motifs.meme metrics.json; do
        cp -f "$repo/data/demo/$f" "$out/seed_0/$f"
    done
    echo "== seed 0: the shipped demo (data/demo)"
    report "$out/seed_0" "$out/seed_0/report"
fi

for seed in "${seeds[@]}"; do
    dir="$out/seed_$seed"
    mkdir -p "$dir"
    if [[ -s "$dir/model.h5" && -s "$dir/metrics.json" ]]; then
        echo "== seed $seed: $dir/model.h5 exists, kept"
    else
        echo "== seed $seed: train-sim"
        t0=$SECONDS
        "$SEQLIFT" train-sim "$dir" --seed "$seed" ${train_extra[@]+"${train_extra[@]}"} 2>&1 | tee "$dir/train.log"
        echo "train_seconds=$((SECONDS - t0))" >>"$dir/train.log"
    fi
    # the simulation seed must follow --seed (metrics.json records it)
    "$PYTHON" -c 'import json,sys; s=json.load(open(sys.argv[1]))["seed"]; sys.exit(0 if s==int(sys.argv[2]) else f"seed {s} != {sys.argv[2]}")' \
        "$dir/metrics.json" "$seed"
    echo "== seed $seed: report"
    report "$dir" "$dir/report"
done

if [[ $paper -eq 1 ]]; then
    mkdir -p "$out/paper"
    if [[ -s "$out/paper/report/summary.tsv" ]]; then
        echo "== $out/paper/report exists, kept"
    else
        echo "== the paper's model on its test set"
        t0=$SECONDS
        "$SEQLIFT" report --model "$PAPER_DIR/model.json" --weights "$PAPER_DIR/model_weights.h5" \
            --paper-simdata "$PAPER_DIR/sequences.simdata.gz" --paper-test "$PAPER_DIR/test.txt.gz" \
            --reference flat --flat-frequencies 0.3,0.2,0.2,0.3 \
            --out "$out/paper/report" 2>&1 | tee "$out/paper/report.log"
        echo "report_seconds=$((SECONDS - t0))" >>"$out/paper/report.log"
    fi
fi

echo "== collecting into $doc"
mkdir -p "$(dirname "$doc")"
"$PYTHON" - "$out" "$doc" "$repo" "$PAPER_DIR" "$block" <<'PY'
"""Collect the per-seed reports into Markdown tables, with the threshold, matrix and
false-negative measurements of the analysis."""
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from seqlift.model import load_model
from seqlift.groundtruth.motifs import log_odds, read_meme
from seqlift.sequences.onehot import one_hot
from seqlift.groundtruth.report import binomial_ci
from seqlift.genome.fasta import read_fasta
from seqlift.groundtruth.simulate import read_paper_simdata

out, doc, repo, paper_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
block = sys.argv[5]
BG = np.array([0.3, 0.2, 0.2, 0.3])
METHODS = ["gradient", "grad_x_input", "guided_backprop", "integrated_gradients", "rescale",
           "revealcancel", "genomics_default", "genomics_default_shuffled"]
SHORT = {"gradient": "gradient", "grad_x_input": "gradient x input", "guided_backprop": "guided backprop x input",
         "integrated_gradients": "integrated gradients (10)", "rescale": "Rescale", "revealcancel": "RevealCancel",
         "genomics_default": "genomics default (flat)", "genomics_default_shuffled": "genomics default (10 shuffles)"}
PAPER_FN = {"guided_backprop": ("0.00", "0.00"), "grad_x_input": ("11.73", "4.08"),
            "integrated_gradients": ("8.50", "6.80"), "rescale": ("7.33", "4.76"),
            "revealcancel": ("0.00", "0.00"), "genomics_default": ("0.00", "0.00")}

runs = []  # (label, dir)
rundir = {}
for d in sorted(out.glob("seed_*"), key=lambda p: int(p.name.split("_")[1])):
    if (d / "report" / "summary.tsv").exists():
        runs.append((f"seed {d.name.split('_')[1]}" + (" (demo)" if d.name == "seed_0" else ""), d))
        rundir[runs[-1][0]] = d
paper = out / "paper"
has_paper = (paper / "report" / "summary.tsv").exists()
if not runs:
    sys.exit(f"no report under {out}/seed_*/report")

summ = {lab: pd.read_csv(d / "report" / "summary.tsv", sep="\t") for lab, d in runs}
match = {lab: pd.read_csv(d / "report" / "matches.tsv", sep="\t") for lab, d in runs}
metrics = {lab: json.loads((d / "metrics.json").read_text()) for lab, d in runs}
if has_paper:
    summ["paper model"] = pd.read_csv(paper / "report" / "summary.tsv", sep="\t")
    match["paper model"] = pd.read_csv(paper / "report" / "matches.tsv", sep="\t")
motif_of = {}  # run label -> (first, second) motif labels
for lab in summ:
    fn = summ[lab][summ[lab].statistic == "false_negative"]
    mot = list(dict.fromkeys(fn.motif))
    motif_of[lab] = (mot[0], mot[1])
labels_all = list(summ)
lines = []
w = lines.append


def pct(k, n):
    return "n/a" if n == 0 else f"{100 * k / n:.1f}"


def share(k, n):
    if n == 0:
        return "n/a"
    lo, hi = binomial_ci(int(k), int(n))
    return f"{100 * k / n:.1f} % ({int(k)}/{int(n)}; {100 * lo:.1f}-{100 * hi:.1f})"


def row(lab, method, stat, which, task):
    s = summ[lab]
    motif = motif_of[lab][which]
    r = s[(s.method == method) & (s.statistic == stat) & (s.motif == motif) & (s.task == task)]
    return None if r.empty else r.iloc[0]


def table(header, body):
    w("| " + " | ".join(header) + " |")
    w("|" + "|".join("---" for _ in header) + "|")
    for b in body:
        w("| " + " | ".join(str(c) for c in b) + " |")
    w("")


def paragraph(text: str) -> None:
    """Write a paragraph of the document.

    Parameters
    ----------
    text : str
        The paragraph; a blank line follows it.
    """
    w(text)
    w("")


def section(title: str, note: str | None = None) -> None:
    """Start a section of the document: a level-3 heading and, when given, a paragraph under it.

    Parameters
    ----------
    title : str
        The heading, without the ``###``.
    note : str, optional
        A paragraph under the heading.
    """
    w(f"### {title}")
    w("")
    if note is not None:
        paragraph(note)


def method_rows(cell: Callable[[str, str], str]) -> list[list[str]]:
    """Table rows, one per method: its display name, then one cell per run.

    Parameters
    ----------
    cell : callable
        ``cell(lab, method)``: the text of the run ``lab``'s cell for ``method``.

    Returns
    -------
    list of list of str
        One row per method of ``METHODS``, in order; columns: the method, then the runs of ``labels_all``.
    """
    return [[SHORT[method], *(cell(lab, method) for lab in labels_all)] for method in METHODS]


def strong(m: pd.DataFrame, cls: str = "both", motif: str | None = None, threshold: float = 7) -> pd.DataFrame:
    """The strong matches of one class of sequences.

    Parameters
    ----------
    m : pandas.DataFrame
        A report's matches.tsv.
    cls : str
        The sequence class (``both``, ``first_only``, ``second_only``, ``neither``).
    motif : str, optional
        Only this motif's matches (default: both motifs).
    threshold : float
        Least log-odds of a strong match.

    Returns
    -------
    pandas.DataFrame
        The rows of ``m`` that qualify, in their order.
    """
    keep = (m["class"] == cls) & (m.log_odds >= threshold)
    return m[keep if motif is None else keep & (m.motif == motif)]


def copies(sel: pd.DataFrame) -> pd.Series:
    """For each match of ``sel``, how many matches of ``sel`` share its sequence and motif.

    Parameters
    ----------
    sel : pandas.DataFrame
        Matches (rows of a matches.tsv), e.g. the strong ones of :func:`strong`.

    Returns
    -------
    pandas.Series
        The counts, aligned with ``sel``.
    """
    return sel.groupby(["name", "motif"])["start"].transform("size")


def paper_test():
    """The paper's simulated test split (``read_paper_simdata`` of PAPER_DIR, subset ``test``)."""
    return read_paper_simdata(paper_dir / "sequences.simdata.gz", paper_dir / "test.txt.gz").subset("test")


def run_model(lab: str):
    """A run's model and the node of its pre-sigmoid output.

    Parameters
    ----------
    lab : str
        A run label; ``"paper model"`` is the paper's released model in PAPER_DIR.

    Returns
    -------
    (model, node)
        The seqlift model and the input node of its output's sigmoid (the Dense layer's output).
    """
    if lab == "paper model":
        model = load_model(paper_dir / "model.json", weights=paper_dir / "model_weights.h5")
    else:
        model = load_model(rundir[lab] / "model.h5")
    return model, model.nodes[model.outputs[0]].inputs[0]


# --- training
section("Training: test auROC per task (800 test sequences per seed)")
body = []
for lab, d in runs:
    m = metrics[lab]
    a = m["test_auroc"]
    flag = "" if a[0] >= 0.98 else " (below 0.98)"
    body.append([lab, f"{a[0]:.4f}{flag}", f"{a[1]:.4f}", f"{a[2]:.4f}", f"{m['epochs_run']} ({m['best_epoch']})",
                 f"{m['training_seconds']:.0f}"])
f0, s0 = motif_of[labels_all[0]]
table(["run", "task 0 (both)", f"task 1 ({f0})", f"task 2 ({s0})", "epochs (best)", "training s"], body)

# --- Figure 5b
first, second = motif_of[labels_all[0]]
for which, motif_name, paper_i in ((1, "TAL1", 0), (0, "GATA1", 1)):
    section(f"Figure 5b, {motif_name} matches: task-0 score <= 0 among strong (log-odds >= 7) top-5 matches in "
            "both-motif sequences",
            "Share (count/denominator; 95 % Wilson interval). Paper: the published figure with the clipped mask.")

    def fn_share(lab, method):
        r = row(lab, method, "false_negative", which, 0)
        return "" if r is None else share(r["count"], r["n"])

    body = [cells + [PAPER_FN.get(method, ("", ""))[paper_i] + (" %" if method in PAPER_FN else "—")]
            for method, cells in zip(METHODS, method_rows(fn_share))]
    table(["method", *labels_all, "paper (published)"], body)

# --- off-task and cooperativity
section("Off-task positives: strong matches in one-motif sequences with a positive score for the other motif's task",
        "TAL1 matches in TAL1-only sequences scored for task 1 (GATA1 present); GATA1 matches in GATA1-only sequences "
        "scored for task 2.")


def off_task(lab, method):
    a = row(lab, method, "off_task_positive", 1, 1)
    b = row(lab, method, "off_task_positive", 0, 2)
    return " / ".join("" if r is None else f"{pct(r['count'], r['n'])} % ({int(r['count'])}/{int(r['n'])})" for r in (a, b))


table(["method (TAL1 / GATA1)", *labels_all], method_rows(off_task))

section("Cooperativity: mean task-0 score of a strong match in both-motif sequences minus in one-motif sequences",
        "TAL1 / GATA1; 95 % Welch interval in brackets. Positive = the model's task-0 output credits a motif more "
        "when the other is present.")


def cooperativity(lab, method):
    parts = []
    for which in (1, 0):
        r = row(lab, method, "cooperativity", which, 0)
        parts.append("" if r is None else f"{r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]")
    return " / ".join(parts)


table(["method (TAL1 / GATA1)", *labels_all], method_rows(cooperativity))


# --- (b) threshold
def fn_at(m, motif, method, thr):
    s = strong(m, motif=motif, threshold=thr)[f"score_{method}_task0"]
    return int((s <= 0).sum()), int(s.size)


section("The threshold: false-negative share at log-odds >= 5, 7, 9 (same matches.tsv, no retraining)",
        "k/n per run, TAL1 | GATA1; pooled over the seeds (not the paper model) in the last column.")
seed_labels = [lab for lab, _ in runs]
for method in ["grad_x_input", "integrated_gradients", "rescale", "revealcancel", "genomics_default", "genomics_default_shuffled"]:
    body = []
    for thr in (5, 7, 9):
        cells = [f"{SHORT[method]}, >= {thr}"]
        pooled = [[0, 0], [0, 0]]
        for lab in labels_all:
            f0, s0 = motif_of[lab]
            parts = []
            for i, mot in enumerate((s0, f0)):
                k, n = fn_at(match[lab], mot, method, thr)
                parts.append(f"{k}/{n}")
                if lab in seed_labels:
                    pooled[i][0] += k
                    pooled[i][1] += n
            cells.append(" \\| ".join(parts))
        cells.append(" \\| ".join(f"{pct(k, n)} % ({k}/{n})" for k, n in pooled))
        body.append(cells)
    table(["method, threshold", *labels_all, "seeds pooled"], body)


# --- (c) the false negatives themselves
section("Strong matches in both-motif sequences: inserted instances or chance matches",
        "`exact` = same window as an inserted instance; `overlap` = shares bases with one (a shifted window); "
        "`chance` = no inserted instance of that motif there. FN = task-0 score <= 0.")
body = []
for lab in labels_all:
    m = match[lab]
    f0, s0 = motif_of[lab]
    for mot in (s0, f0):
        sel = strong(m, motif=mot)
        kinds = np.where(sel.equals_true, "exact", np.where(sel.overlaps_true, "overlap", "chance"))
        cells = [lab, mot]
        for kind in ("exact", "overlap", "chance"):
            part = sel[kinds == kind]
            fns = [f"{int((part[f'score_{me}_task0'] <= 0).sum())}" for me in ("grad_x_input", "rescale", "revealcancel", "genomics_default", "genomics_default_shuffled")]
            cells.append(f"{len(part)} (FN: {'/'.join(fns)})")
        body.append(cells)
table(["run", "motif", "exact", "overlap", "chance"], body)
paragraph("FN counts in brackets: gradient x input / Rescale / RevealCancel / genomics default flat / genomics default shuffled.")

ABLATION_DRAWS = 20


def ablation(lab):
    """Strong matches in both-motif sequences with the model's own answer: the task-0 logit of the
    sequence, and its mean drop when the match's window is refilled with background bases
    (0.3/0.2/0.2/0.3, ABLATION_DRAWS draws, seed 0). Written to <report>/ablation.tsv."""
    sel = strong(match[lab]).copy()
    if lab == "paper model":
        sim = paper_test()
        seqs = dict(zip(sim.names, sim.sequences))
        dest = paper / "report" / "ablation.tsv"
    else:
        seqs = read_fasta(rundir[lab] / "sequences.fa")
        dest = rundir[lab] / "report" / "ablation.tsv"
    model, node = run_model(lab)

    def logit0(x):
        parts = [model.forward(x[i : i + 2048], keep=[node])[node].numpy()[:, 0] for i in range(0, len(x), 2048)]
        return np.concatenate(parts).astype(np.float64)

    x0 = one_hot([seqs[n] for n in sel["name"]])
    base = logit0(x0)
    rng = np.random.default_rng(0)
    xs = np.repeat(x0, ABLATION_DRAWS, axis=0)
    eye = np.eye(4, dtype=xs.dtype)
    for i, (a, b) in enumerate(zip(sel.start.to_numpy(), sel.end.to_numpy())):
        xs[i * ABLATION_DRAWS : (i + 1) * ABLATION_DRAWS, a:b] = eye[rng.choice(4, size=(ABLATION_DRAWS, b - a), p=BG)]
    ablated = logit0(xs).reshape(len(sel), ABLATION_DRAWS).mean(1)
    sel["logit0"] = base
    sel["delta"] = base - ablated
    sel["copies"] = copies(sel)
    sel.to_csv(dest, sep="\t", index=False)
    return sel


abl = {lab: ablation(lab) for lab in labels_all}


def reference_outputs(lab):
    """Logits (tasks 0, 1, 2) at the flat reference, mean over 10 dinucleotide shuffles (seed 0) of the
    both-motif sequences, and the median over the both-motif sequences themselves."""
    from seqlift.sequences.shuffle import dinucleotide_shuffle

    if lab == "paper model":
        sim = paper_test()
        x = one_hot(list(sim.sequences))[sim.labels[:, 0] == 1]
    else:
        seqs = read_fasta(rundir[lab] / "sequences.fa")
        lab_tsv = pd.read_csv(rundir[lab] / "labels.tsv", sep="\t").set_index("name")
        names = [n for n in seqs if int(lab_tsv.loc[n, "task0"]) == 1]
        x = one_hot([seqs[n] for n in names])
    model, node = run_model(lab)
    f = lambda a: model.forward(a.astype(np.float32), keep=[node])[node].numpy()
    flat = f(np.tile(BG.astype(np.float32), (1, x.shape[1], 1)))[0]
    shuf = dinucleotide_shuffle(x, 10, seed=0).reshape(-1, x.shape[1], 4)
    return flat, f(shuf).mean(0), np.median(f(x), 0)


refs_out = {lab: reference_outputs(lab) for lab in labels_all}
section("What the references look like to the model",
        "Pre-sigmoid outputs (task 0 / task 1 / task 2): at the flat reference 0.3/0.2/0.2/0.3; averaged over 10 "
        "dinucleotide shuffles (seed 0) of each both-motif sequence; median over the both-motif sequences themselves. "
        "A reference whose output is near the sequences' own leaves the methods little to explain.")
table(["run", "flat reference", "shuffles (mean)", "both-motif sequences (median)"],
      [[lab, *[" / ".join(f"{v:.2f}" for v in vals) for vals in refs_out[lab]]] for lab in labels_all])

section("Every false negative of RevealCancel and the genomics default (both references)")
body = []
for lab in labels_all:
    m = match[lab]
    sel = abl[lab]
    cols = ["revealcancel", "genomics_default", "genomics_default_shuffled"]
    bad = sel[(sel[[f"score_{c}_task0" for c in cols]] <= 0).any(axis=1)]
    for _, r in bad.iterrows():
        kind = "exact" if r.equals_true else ("overlap" if r.overlaps_true else "chance")
        other = m[(m.name == r["name"]) & (m.motif != r.motif) & (m.log_odds >= 7)]
        body.append([lab, r["name"], r.motif, int(r.start), f"{r.log_odds:.2f}", kind, int(r["rank"]), int(r.copies),
                     *[f"{r[f'score_{c}_task0']:.3f}" for c in cols], f"{r['score_grad_x_input_task0']:.3f}",
                     len(other), f"{r.logit0:.2f}", f"{r.delta:.3f}"])
if body:
    table(["run", "sequence", "motif", "start", "log-odds", "truth", "rank", "copies", "RevealCancel", "gen. default flat",
           "gen. default shuffled", "grad x input", "strong matches of the other motif", "task-0 logit",
           "ablation drop"], body)
    paragraph("Task-0 logit: the model's pre-sigmoid output for the sequence (0 = probability 0.5). Ablation drop: "
              f"mean fall of that logit when the match's window is refilled with background bases ({ABLATION_DRAWS} "
              "draws); <= 0 means the model itself gives the instance no positive effect on task 0. Copies: strong "
              "matches of the same motif in the sequence. For scale, the median RevealCancel task-0 score of these "
              "strong matches: "
              + ", ".join(f"{lab} {abl[lab]['score_revealcancel_task0'].median():.2f}" for lab in labels_all) + ".")
else:
    paragraph("None.")


# --- the model's own answer: ablation
section("Does the model itself credit the match? Window ablation against each method's false negatives",
        f"Strong matches in both-motif sequences; ablation drop as above ({ABLATION_DRAWS} background refills of the "
        "window). `drop <= 0`: matches whose removal does not lower the task-0 logit. For each method, its false "
        "negatives split by the sign of the ablation drop (`drop > 0`: the model does use the match; the method's "
        "non-positive score misses it).")
body = [["matches with drop <= 0 (TAL1 \\| GATA1)"] + [
    " \\| ".join(f"{int((abl[lab][abl[lab].motif == mot].delta <= 0).sum())}/{int((abl[lab].motif == mot).sum())}"
                  for mot in (motif_of[lab][1], motif_of[lab][0])) for lab in labels_all]]
for name, keep in (("1 copy", lambda a: a.copies == 1), ("2+ copies", lambda a: a.copies >= 2)):
    body.append([f"{name}: drop <= 0; median drop (both motifs)"] + [
        f"{int((abl[lab][keep(abl[lab])].delta <= 0).sum())}/{int(keep(abl[lab]).sum())}; "
        f"{abl[lab][keep(abl[lab])].delta.median():.2f}" for lab in labels_all])
for method in METHODS:
    cells = [f"{SHORT[method]}: FN with drop > 0 / FN with drop <= 0"]
    for lab in labels_all:
        a = abl[lab]
        fn = a[f"score_{method}_task0"] <= 0
        cells.append(f"{int((fn & (a.delta > 0)).sum())} / {int((fn & (a.delta <= 0)).sum())}")
    body.append(cells)
table(["", *labels_all], body)

# --- where the false negatives are: distance to the sequence ends, redundancy
section("Where the false negatives are: distance to the nearest sequence end, and redundant matches",
        "Strong matches (log-odds >= 7) in both-motif sequences, both motifs together, FN share k/n. Distance: bases "
        "between the match and the nearer end of the 200 bp sequence (each position feeds fewer of the 180 windows "
        "of the second convolution within 20 bp of an end). Copies: strong matches of the same motif in the "
        "sequence.")
groups = [("seeds pooled", [lab for lab in seed_labels])] + ([("paper model", ["paper model"])] if has_paper else [])
cols = [("end < 10", lambda d, c: d < 10), ("end 10-19", lambda d, c: (d >= 10) & (d < 20)),
        ("end >= 20", lambda d, c: d >= 20), ("1 copy", lambda d, c: c == 1), ("2+ copies", lambda d, c: c >= 2)]
for gname, labs in groups:
    frames = []
    for lab in labs:
        length = 200  # train-sim's default --length, and the paper's
        sel = strong(match[lab]).copy()
        sel["dist"] = np.minimum(sel.start, length - sel.end)
        sel["copies"] = copies(sel)
        frames.append(sel)
    allm = pd.concat(frames, ignore_index=True)
    body = []
    for method in METHODS:
        fn = (allm[f"score_{method}_task0"] <= 0).to_numpy()
        cells = [SHORT[method]]
        for _, f in cols:
            keep = f(allm.dist.to_numpy(), allm.copies.to_numpy())
            cells.append(f"{pct(fn[keep].sum(), keep.sum())} % ({int(fn[keep].sum())}/{int(keep.sum())})")
        body.append(cells)
    paragraph(f"{gname}:")
    table(["method", *[c for c, _ in cols]], body)


# --- (a) the matrices
def ic_bits(p):
    p = np.asarray(p, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
    return float((2 - h).sum())


def rel_entropy(p):  # expected log-odds (nats) of a site sampled from the matrix, against BG
    lo = log_odds(p, BG, 0.001)
    return float((np.asarray(p) * lo).sum())


def sampled_tail(p, thresholds, n=200_000, seed=0):
    rng = np.random.default_rng(seed)
    lo = log_odds(p, BG, 0.001)
    cum = np.cumsum(p, axis=1)
    u = rng.random((n, p.shape[0]))
    idx = (u[..., None] > cum[None]).sum(-1).clip(0, 3)
    s = lo[np.arange(p.shape[0])[None], idx].sum(1)
    return [float((s >= t).mean()) for t in thresholds]


def background_rate(p, thresholds, n=20_000, length=200, seed=1):
    """Mean number of windows per 200 bp background sequence (0.3/0.2/0.2/0.3) scoring >= t."""
    rng = np.random.default_rng(seed)
    lo = log_odds(p, BG, 0.001)
    x = rng.choice(4, size=(n, length), p=BG)
    wdt = p.shape[0]
    s = np.zeros((n, length - wdt + 1))
    for i in range(wdt):
        s += lo[i][x[:, i : length - wdt + 1 + i]]
    return [float((s >= t).sum(1).mean()) for t in thresholds], [float((s.max(1) >= t).mean()) for t in thresholds]


section("The matrices: JASPAR 2024 (seqlift) vs the paper's ENCODE matrices",
        "IC: information content in bits against a uniform background; E[log-odds]: mean log-odds (nats, the "
        "report's scoring: pseudocount 0.001, background 0.3/0.2/0.2/0.3) of a site sampled from the matrix; "
        "P(site >= t): share of sampled sites (200,000) reaching the threshold; chance windows >= 7: mean count per "
        "200 bp background sequence (20,000 simulated), and the share of such sequences with at least one.")
thr = (5, 7, 9)
body = []
mats = [("JASPAR", m) for m in read_meme(repo / "data/motifs/jaspar2024_gata1_tal1.meme")[:2]]
mats += [("ENCODE", m) for m in read_meme(repo / "data/motifs/encode_tal1_gata.meme")[:2]]
for src, m in mats:
    p = m.probs
    lo = log_odds(p, BG, 0.001)
    tail = sampled_tail(p, thr)
    rate, anyshare = background_rate(p, thr)
    body.append([src, m.label, m.width, f"{ic_bits(p):.1f}", f"{rel_entropy(p):.2f}", f"{lo.max(1).sum():.2f}",
                 " / ".join(f"{100 * t:.1f}" for t in tail),
                 f"{rate[1]:.3f} ({100 * anyshare[1]:.1f} %)", f"{rate[0]:.3f} / {rate[2]:.4f}"])
table(["source", "motif", "width", "IC bits", "E[log-odds]", "max log-odds", "P(site >= 5/7/9) %",
       "chance windows >= 7 per seq (share with one)", "chance >= 5 / >= 9 per seq"], body)

paragraph("Measured in the test sets (top-5 matches per sequence and motif, log-odds >= 7): strong matches per "
          "sequence of each class; `chance` = not overlapping an inserted instance of that motif.")
body = []
for lab in labels_all:
    m = match[lab]
    f0, s0 = motif_of[lab]
    n_seq = m.groupby("class")["name"].nunique()
    for mot in (s0, f0):
        cells = [lab, mot]
        for cls in ("both", "first_only", "second_only", "neither"):
            sel = strong(m, cls, mot)
            ch = int((~sel.overlaps_true).sum())
            cells.append(f"{len(sel)} ({ch} chance) / {int(n_seq.get(cls, 0))}")
        body.append(cells)
table(["run", "motif", "both", "GATA1 only", "TAL1 only", "neither"], body)

doc_block = "\n".join(lines).rstrip() + "\n"
(out / "figure5_tables.md").write_text(doc_block)
tag = "figure5-tables" + (f"-{block}" if block else "")
BEGIN, END = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
text = doc.read_text() if doc.exists() else "# Figure 5b over seeds\n"
if BEGIN in text:
    pre, rest = text.split(BEGIN, 1)
    post = rest.split(END, 1)[1] if END in rest else "\n"
    doc.write_text(pre + BEGIN + "\n" + doc_block + END + post)
else:
    doc.write_text(text.rstrip("\n") + "\n\n" + BEGIN + "\n" + doc_block + END + "\n")
print(f"wrote {doc} and {out / 'figure5_tables.md'}")
PY
echo "total_seconds=$((SECONDS - start_all))"
