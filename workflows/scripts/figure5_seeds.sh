#!/usr/bin/env bash
# Figure 5b over several seeds of simulation and training.
#
# usage: workflows/scripts/figure5_seeds.sh [--demo] [--paper] [--doc FILE] OUTDIR SEED [SEED ...]
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
#   --doc    Markdown file whose block between `<!-- figure5-tables:begin -->` and
#            `<!-- figure5-tables:end -->` is replaced by the collected tables (default
#            docs/figure5_seeds.md; created with just the block when missing)
# Environment: SEQLIFT (default .venv/bin/seqlift, else seqlift), PYTHON (default .venv/bin/python,
# else python3), PAPER_DIR (default ../shared/paper-genomics relative to the repository).
# Nothing is tuned: train-sim and report run with their defaults.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
demo=0
paper=0
doc="$repo/docs/figure5_seeds.md"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --demo) demo=1; shift ;;
        --paper) paper=1; shift ;;
        --doc) doc=$2; shift 2 ;;
        -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}"; exit 0 ;;
        --) shift; break ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
if [[ $# -lt 1 ]]; then
    echo "usage: $0 [--demo] [--paper] [--doc FILE] OUTDIR [SEED ...]" >&2
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
    for f in model.h5 regions.bed genome.fa labels.tsv instances.tsv motifs.meme metrics.json; do
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
        "$SEQLIFT" train-sim "$dir" --seed "$seed" 2>&1 | tee "$dir/train.log"
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
"$PYTHON" - "$out" "$doc" "$repo" "$PAPER_DIR" <<'PY'
"""Collect the per-seed reports into Markdown tables, with the threshold, matrix and
false-negative measurements of the analysis."""
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from seqlift.motifs import log_odds, read_meme
from seqlift.report import binomial_ci

out, doc, repo, paper_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
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
for d in sorted(out.glob("seed_*"), key=lambda p: int(p.name.split("_")[1])):
    if (d / "report" / "summary.tsv").exists():
        runs.append((f"seed {d.name.split('_')[1]}" + (" (demo)" if d.name == "seed_0" else ""), d))
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


# --- training
w("### Training: test auROC per task (800 test sequences per seed)")
w("")
body = []
for lab, d in runs:
    m = metrics[lab]
    a = m["test_auroc"]
    flag = "" if a[0] >= 0.98 else " (below 0.98)"
    body.append([lab, f"{a[0]:.4f}{flag}", f"{a[1]:.4f}", f"{a[2]:.4f}", f"{m['epochs_run']} ({m['best_epoch']})",
                 f"{m['training_seconds']:.0f}"])
table(["run", "task 0 (both)", "task 1 (Gata1)", "task 2 (TAL1::TCF3)", "epochs (best)", "training s"], body)

# --- Figure 5b
first, second = motif_of[labels_all[0]]
for which, motif_name, paper_i in ((1, "TAL1", 0), (0, "GATA1", 1)):
    w(f"### Figure 5b, {motif_name} matches: task-0 score <= 0 among strong (log-odds >= 7) top-5 matches in both-motif sequences")
    w("")
    w("Share (count/denominator; 95 % Wilson interval). Paper: the published figure with the clipped mask.")
    w("")
    body = []
    for method in METHODS:
        cells = [SHORT[method]]
        for lab in labels_all:
            r = row(lab, method, "false_negative", which, 0)
            cells.append("" if r is None else share(r["count"], r["n"]))
        cells.append(PAPER_FN.get(method, ("", ""))[paper_i] + (" %" if method in PAPER_FN else "—"))
        body.append(cells)
    table(["method", *labels_all, "paper (published)"], body)

# --- off-task and cooperativity
w("### Off-task positives: strong matches in one-motif sequences with a positive score for the other motif's task")
w("")
w("TAL1 matches in TAL1-only sequences scored for task 1 (GATA1 present); GATA1 matches in GATA1-only sequences scored for task 2.")
w("")
body = []
for method in METHODS:
    cells = [SHORT[method]]
    for lab in labels_all:
        a = row(lab, method, "off_task_positive", 1, 1)
        b = row(lab, method, "off_task_positive", 0, 2)
        cells.append(" / ".join("" if r is None else f"{pct(r['count'], r['n'])} % ({int(r['count'])}/{int(r['n'])})" for r in (a, b)))
    body.append(cells)
table(["method (TAL1 / GATA1)", *labels_all], body)

w("### Cooperativity: mean task-0 score of a strong match in both-motif sequences minus in one-motif sequences")
w("")
w("TAL1 / GATA1; 95 % Welch interval in brackets. Positive = the model's task-0 output credits a motif more when the other is present.")
w("")
body = []
for method in METHODS:
    cells = [SHORT[method]]
    for lab in labels_all:
        parts = []
        for which in (1, 0):
            r = row(lab, method, "cooperativity", which, 0)
            parts.append("" if r is None else f"{r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]")
        cells.append(" / ".join(parts))
    body.append(cells)
table(["method (TAL1 / GATA1)", *labels_all], body)


# --- (b) threshold
def fn_at(m, motif, method, thr, only=None):
    sel = m[(m["class"] == "both") & (m.motif == motif) & (m.log_odds >= thr)]
    if only is not None:
        sel = sel[only(sel)]
    s = sel[f"score_{method}_task0"]
    return int((s <= 0).sum()), int(s.size)


w("### The threshold: false-negative share at log-odds >= 5, 7, 9 (same matches.tsv, no retraining)")
w("")
w("k/n per run, TAL1 | GATA1; pooled over the seeds (not the paper model) in the last column.")
w("")
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
w("### Strong matches in both-motif sequences: inserted instances or chance matches")
w("")
w("`exact` = same window as an inserted instance; `overlap` = shares bases with one (a shifted window); "
  "`chance` = no inserted instance of that motif there. FN = task-0 score <= 0.")
w("")
body = []
for lab in labels_all:
    m = match[lab]
    f0, s0 = motif_of[lab]
    for mot in (s0, f0):
        sel = m[(m["class"] == "both") & (m.motif == mot) & (m.log_odds >= 7)]
        kinds = np.where(sel.equals_true, "exact", np.where(sel.overlaps_true, "overlap", "chance"))
        cells = [lab, mot]
        for kind in ("exact", "overlap", "chance"):
            part = sel[kinds == kind]
            fns = [f"{int((part[f'score_{me}_task0'] <= 0).sum())}" for me in ("grad_x_input", "rescale", "revealcancel", "genomics_default", "genomics_default_shuffled")]
            cells.append(f"{len(part)} (FN: {'/'.join(fns)})")
        body.append(cells)
table(["run", "motif", "exact", "overlap", "chance"], body)
w("FN counts in brackets: gradient x input / Rescale / RevealCancel / genomics default flat / genomics default shuffled.")
w("")

w("### Every false negative of RevealCancel and the genomics default (both references)")
w("")
body = []
for lab in labels_all:
    m = match[lab]
    sel = m[(m["class"] == "both") & (m.log_odds >= 7)]
    cols = ["revealcancel", "genomics_default", "genomics_default_shuffled"]
    bad = sel[(sel[[f"score_{c}_task0" for c in cols]] <= 0).any(axis=1)]
    for _, r in bad.iterrows():
        kind = "exact" if r.equals_true else ("overlap" if r.overlaps_true else "chance")
        other = m[(m.name == r["name"]) & (m.motif != r.motif) & (m.log_odds >= 7)]
        body.append([lab, r["name"], r.motif, int(r.start), f"{r.log_odds:.2f}", kind, int(r["rank"]),
                     *[f"{r[f'score_{c}_task0']:.3f}" for c in cols], f"{r['score_grad_x_input_task0']:.3f}",
                     len(other)])
if body:
    table(["run", "sequence", "motif", "start", "log-odds", "truth", "rank", "RevealCancel", "gen. default flat",
           "gen. default shuffled", "grad x input", "strong matches of the other motif"], body)
else:
    w("None.")
    w("")


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


w("### The matrices: JASPAR 2024 (seqlift) vs the paper's ENCODE matrices")
w("")
w("IC: information content in bits against a uniform background; E[log-odds]: mean log-odds (nats, the "
  "report's scoring: pseudocount 0.001, background 0.3/0.2/0.2/0.3) of a site sampled from the matrix; "
  "P(site >= t): share of sampled sites (200,000) reaching the threshold; chance windows >= 7: mean count per "
  "200 bp background sequence (20,000 simulated), and the share of such sequences with at least one.")
w("")
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

w("Measured in the test sets (top-5 matches per sequence and motif, log-odds >= 7): strong matches per sequence of "
  "each class; `chance` = not overlapping an inserted instance of that motif.")
w("")
body = []
for lab in labels_all:
    m = match[lab]
    f0, s0 = motif_of[lab]
    n_seq = m.groupby("class")["name"].nunique()
    for mot in (s0, f0):
        cells = [lab, mot]
        for cls in ("both", "first_only", "second_only", "neither"):
            sel = m[(m["class"] == cls) & (m.motif == mot) & (m.log_odds >= 7)]
            ch = int((~sel.overlaps_true).sum())
            cells.append(f"{len(sel)} ({ch} chance) / {int(n_seq.get(cls, 0))}")
        body.append(cells)
table(["run", "motif", "both", "GATA1 only", "TAL1 only", "neither"], body)

doc_block = "\n".join(lines).rstrip() + "\n"
(out / "figure5_tables.md").write_text(doc_block)
BEGIN, END = "<!-- figure5-tables:begin -->", "<!-- figure5-tables:end -->"
if doc.exists() and BEGIN in doc.read_text():
    text = doc.read_text()
    pre, rest = text.split(BEGIN, 1)
    post = rest.split(END, 1)[1] if END in rest else ""
    doc.write_text(pre + BEGIN + "\n" + doc_block + END + post)
else:
    doc.write_text("# Figure 5b over seeds\n\n" + BEGIN + "\n" + doc_block + END + "\n")
print(f"wrote {doc} and {out / 'figure5_tables.md'}")
PY
echo "total_seconds=$((SECONDS - start_all))"
