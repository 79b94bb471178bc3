"""Report statistics on synthetic scores with known answers, intervals, and the files written."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from seqlift.errors import SeqliftError
from seqlift.groundtruth.report import (
    binomial_ci,
    build_report,
    clopper_pearson_interval,
    headline_table,
    sequence_classes,
    summarise,
    to_markdown,
    truth_hits,
    wilson_interval,
    write_report,
)

GATA, TAL = "GATA1", "TAL1"


def _synthetic():
    """Four sequences with hand-placed matches and scores.

    seq 0 (both):        TAL1 [0,5) lo 8    task0 +2   | GATA1 [10,14) lo 9 task0 0 | TAL1 [15,20) lo 3 (weak)
    seq 1 (both):        TAL1 [2,7) lo 7.0  task0 -1   | GATA1 [12,16) lo 7.5 task0 +3
    seq 2 (TAL1 only):   TAL1 [5,10) lo 10  task0 0.25, task1 +0.4
    seq 3 (GATA1 only):  GATA1 [0,4) lo 8   task0 1.0,  task2 -0.1
    """
    labels = np.array([[1, 1, 1], [1, 1, 1], [0, 0, 1], [0, 1, 0]])
    rows = [
        (0, "s0", TAL, 0, 0, 5, "+", 8.0),
        (0, "s0", GATA, 0, 10, 14, "+", 9.0),
        (0, "s0", TAL, 1, 15, 20, "+", 3.0),
        (1, "s1", TAL, 0, 2, 7, "+", 7.0),
        (1, "s1", GATA, 0, 12, 16, "+", 7.5),
        (2, "s2", TAL, 0, 5, 10, "+", 10.0),
        (3, "s3", GATA, 0, 0, 4, "+", 8.0),
    ]
    matches = pd.DataFrame(rows, columns=["seq", "name", "motif", "rank", "start", "end", "strand", "log_odds"])
    scores = np.zeros((3, 4, 20), dtype=np.float32)
    # spread each window's total over two positions so window sums, not single positions, matter
    def put(t, n, start, end, total):
        scores[t, n, start] += total / 2
        scores[t, n, end - 1] += total / 2

    put(0, 0, 0, 5, 2.0)
    put(0, 0, 10, 14, 0.0)
    put(0, 0, 15, 20, -50.0)  # the weak match: must not count anywhere
    put(0, 1, 2, 7, -1.0)
    put(0, 1, 12, 16, 3.0)
    put(0, 2, 5, 10, 0.25)
    put(1, 2, 5, 10, 0.4)
    put(0, 3, 0, 4, 1.0)
    put(2, 3, 0, 4, -0.1)
    return matches, labels, scores


def _row(summary, stat, motif, task):
    hit = summary[(summary.statistic == stat) & (summary.motif == motif) & (summary.task == task)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_classes_from_labels():
    labels = np.array([[1, 1, 1], [0, 1, 0], [0, 0, 1], [0, 0, 0]])
    assert sequence_classes(labels).tolist() == ["both", "first_only", "second_only", "neither"]


def test_statistics_have_the_known_answers():
    matches, labels, scores = _synthetic()
    report = build_report(matches, labels, {"m": scores}, (GATA, TAL), strong=7.0)
    table, summary = report.matches, report.summary
    assert table.loc[0, "score_m_task0"] == pytest.approx(2.0)
    assert table.loc[2, "score_m_task0"] == pytest.approx(-50.0)
    fn_tal = _row(summary, "false_negative", TAL, 0)
    assert (fn_tal["count"], fn_tal["n"], fn_tal["value"]) == (1, 2, 0.5)
    fn_gata = _row(summary, "false_negative", GATA, 0)
    assert (fn_gata["count"], fn_gata["n"]) == (1, 2)  # a score of exactly 0 counts as <= 0
    lo, hi = wilson_interval(1, 2)
    assert (fn_tal["ci_low"], fn_tal["ci_high"]) == pytest.approx((lo, hi))
    off_tal = _row(summary, "off_task_positive", TAL, 1)
    assert (off_tal["count"], off_tal["n"]) == (1, 1)
    off_gata = _row(summary, "off_task_positive", GATA, 2)
    assert (off_gata["count"], off_gata["n"]) == (0, 1)
    coop_tal = _row(summary, "cooperativity", TAL, 0)
    assert coop_tal["mean_both"] == pytest.approx(0.5) and coop_tal["mean_single"] == pytest.approx(0.25)
    assert coop_tal["value"] == pytest.approx(0.25) and coop_tal["n"] == 2 and coop_tal["n_single"] == 1
    coop_gata = _row(summary, "cooperativity", GATA, 0)
    assert coop_gata["value"] == pytest.approx(1.5 - 1.0)
    # raising the threshold drops the 7.0 and 7.5 matches
    stricter = summarise(report.matches, (GATA, TAL), strong=7.6)
    assert _row(stricter, "false_negative", TAL, 0)["n"] == 1
    assert _row(stricter, "false_negative", GATA, 0)["n"] == 1


def test_headline_and_markdown():
    matches, labels, scores = _synthetic()
    report = build_report(matches, labels, {"rescale": scores, "gradient": -scores}, (GATA, TAL))
    head = report.headline
    assert head["method"].tolist() == ["DeepLIFT Rescale", "gradient"]
    cell = head.iloc[0][f"{TAL} task-0 score <= 0 (both-motif seqs)"]
    assert cell.startswith("50.00 % (1/2;")
    md = to_markdown(head)
    assert md.count("\n") == 4 and md.startswith("| method |")
    assert headline_table(report.summary, (GATA, TAL)).equals(head)
    renamed = build_report(matches, labels, {"rescale": scores}, (GATA, TAL), method_labels={"rescale": "Rescale, 3 refs"})
    assert renamed.headline["method"].tolist() == ["Rescale, 3 refs"]


def _truth_case():
    """Three sequences of 10 bp with known instances and scores whose top positions are placed by hand.

    s0 (both): GATA1 [1,3), TAL1 [6,8); s1 (GATA1 only): GATA1 [0,2); s2 (TAL1 only): TAL1 [5,9).
    """
    names = ["s0", "s1", "s2"]
    labels = np.array([[1, 1, 1], [0, 1, 0], [0, 0, 1]])
    truth = pd.DataFrame([("s0", GATA, 1, 3), ("s0", TAL, 6, 8), ("s1", GATA, 0, 2), ("s2", TAL, 5, 9),
                          ("other", GATA, 0, 9)], columns=["name", "motif", "start", "end"])
    scores = np.zeros((3, 3, 10), np.float32)
    scores[0, 0, [1, 2, 6, 9]] = [4, 3, 2, 5]  # task 0, s0: K = 4, top 1, 2, 6, 9: 3 in instances
    scores[1, 0, [1, 6]] = 1  # task 1, s0: K = 2, top 1, 6: 1 in
    scores[1, 1, [0, 1]] = 1  # task 1, s1: K = 2: 2 in
    scores[2, 0, [6, 7]] = 1  # task 2, s0: K = 2: 2 in
    scores[2, 2, [0, 5, 6, 7]] = [9, 1, 1, 1]  # task 2, s2: K = 4, top 0, 5, 6, 7: 3 in
    return names, labels, truth, scores


def test_top_positions_in_true_instances_have_the_known_answers():
    names, labels, truth, scores = _truth_case()
    hits = truth_hits({"m": scores}, names, labels, truth, (GATA, TAL))
    assert hits["statistic"].tolist() == ["top_in_truth"] * 3
    assert hits["motif"].tolist() == [f"{GATA} + {TAL}", GATA, TAL]
    assert hits["count"].tolist() == [3, 3, 5] and hits["n"].tolist() == [4, 4, 6]
    assert hits["value"].tolist() == pytest.approx([0.75, 0.75, 5 / 6])
    # task 1: per-sequence hits 1 and 2 of 2 each: the ratio's standard error over sequences is 0.5 / 2
    assert (hits["ci_low"][1], hits["ci_high"][1]) == pytest.approx((0.75 - 1.959964 * 0.25, 1.0), abs=1e-6)
    assert math.isnan(hits["ci_low"][0])  # one sequence: no interval
    # a method ranking each task's instances first hits every time
    perfect = np.zeros_like(scores)
    for row in truth[truth["name"].isin(names)].itertuples():
        tasks = [0, 1] if row.motif == GATA else [0, 2]
        perfect[tasks, names.index(row.name), row.start:row.end] = 1
    assert truth_hits({"p": perfect}, names, labels, truth, (GATA, TAL))["value"].tolist() == [1.0, 1.0, 1.0]


def test_the_report_shows_top_positions_in_truth_when_it_has_the_truth():
    names, labels, truth, scores = _truth_case()
    matches = pd.DataFrame([(0, "s0", GATA, 0, 1, 3, "+", 8.0)],
                           columns=["seq", "name", "motif", "rank", "start", "end", "strand", "log_odds"])
    plain = build_report(matches, labels, {"ism": scores, "rescale": -scores}, (GATA, TAL))
    assert not any("true instances" in c for c in plain.headline.columns)
    report = build_report(matches, labels, {"ism": scores, "rescale": -scores}, (GATA, TAL), truth=truth, names=names)
    assert report.headline["method"].tolist() == ["in-silico mutagenesis", "DeepLIFT Rescale"]
    column = f"top task-1 positions in true {GATA} instances"
    assert report.headline.iloc[0][column].startswith("75.00 % (3/4;")
    assert list(dict.fromkeys(report.summary["method"])) == ["ism", "rescale"]


def test_wilson_known_values():
    z = 1.959963984540054
    lo, hi = wilson_interval(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(z * z / (10 + z * z))
    lo, hi = wilson_interval(5, 10)
    assert (lo + hi) / 2 == pytest.approx(0.5)
    assert math.isnan(wilson_interval(0, 0)[0])


@pytest.mark.parametrize("k,n", [(0, 10), (1, 2), (46, 398), (398, 398), (7, 341)])
def test_clopper_pearson_matches_the_beta_quantiles(k, n):
    stats = pytest.importorskip("scipy.stats")
    lo, hi = clopper_pearson_interval(k, n, 0.95)
    want_lo = 0.0 if k == 0 else stats.beta.ppf(0.025, k, n - k + 1)
    want_hi = 1.0 if k == n else stats.beta.ppf(0.975, k + 1, n - k)
    assert lo == pytest.approx(want_lo, abs=1e-7) and hi == pytest.approx(want_hi, abs=1e-7)
    assert binomial_ci(k, n, method="clopper-pearson") == (lo, hi)


def test_report_files(tmp_path):
    matches, labels, scores = _synthetic()
    matches["overlaps_true"] = [True, True, False, True, True, True, True]
    report = build_report(matches, labels, {"rescale": scores, "grad_x_input": scores * 2}, (GATA, TAL), notes={"model": "toy"})
    paths = write_report(report, tmp_path)
    for key in ("matches", "summary", "markdown", "html", "plot:rescale", "plot:grad_x_input"):
        assert paths[key].exists() and paths[key].stat().st_size > 0, key
    assert paths["plot:rescale"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    per_match = pd.read_csv(paths["matches"], sep="\t")
    for col in ("name", "start", "end", "motif", "strand", "log_odds", "class", "overlaps_true",
                "score_rescale_task0", "score_grad_x_input_task2"):
        assert col in per_match.columns
    assert len(per_match) == len(matches)
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") == 2 and "<table" in page and 'src="scatter' not in page
    assert "DeepLIFT Rescale" in paths["markdown"].read_text()
    long = pd.read_csv(paths["summary"], sep="\t")
    assert set(long["statistic"]) == {"false_negative", "off_task_positive", "cooperativity"}


# ---------------------------------------------------------------------------
# end to end, with the engine

from pathlib import Path  # noqa: E402

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper-genomics"


def test_report_command_on_a_small_simulation(tmp_path):
    """seqlift report on BED + genome and on FASTA input, with a tiny untrained paper-shaped model."""
    import argparse

    import keras

    from seqlift.commands import report_cmd
    from seqlift.groundtruth.motifs import read_meme, shipped_motifs
    from seqlift.groundtruth.simulate import simulate, write_simulation
    from seqlift.groundtruth.train import build_paper_model, save_model_h5

    motifs = read_meme(shipped_motifs())
    sim = simulate(motifs, n_per_class=4, length=60, seed=2)
    paths = write_simulation(sim, tmp_path / "sim", motifs=motifs, n_chromosomes=2, spacer=5)
    keras.utils.set_random_seed(0)
    model = build_paper_model(length=60)
    save_model_h5(model, tmp_path / "m.h5")
    parser = argparse.ArgumentParser()
    report_cmd.register(parser.add_subparsers())
    common = ["--model", str(tmp_path / "m.h5"), "--labels", str(paths["labels"]), "--truth", str(paths["instances"]),
              "--shuffles", "2", "--strong", "3"]
    args = parser.parse_args(["report", "--bed", str(paths["bed"]), "--genome", str(paths["genome"]), "--out", str(tmp_path / "r1"),
                              "--methods", "rescale,genomics_default_shuffled", *common])
    assert args.func(args) == 0
    # --regions tells a FASTA from a BED by content, as seqlift score does (and ignores --genome for a FASTA)
    sequences = tmp_path / "sequences.txt"
    sequences.write_bytes(paths["fasta"].read_bytes())
    args = parser.parse_args(["report", "--regions", str(sequences), "--genome", str(paths["genome"]),
                              "--out", str(tmp_path / "r2"), "--methods", "rescale", *common])
    assert args.func(args) == 0
    args = parser.parse_args(["report", "--fasta", str(paths["fasta"]), "--bed", str(paths["bed"]),
                              "--out", str(tmp_path / "r3"), *common])
    with pytest.raises(SeqliftError, match="give the sequences one way: --fasta or --bed, not both"):
        args.func(args)
    a = pd.read_csv(tmp_path / "r1" / "matches.tsv", sep="\t")
    b = pd.read_csv(tmp_path / "r2" / "matches.tsv", sep="\t")
    # both inputs give the same sequences, hence the same matches and scores
    pd.testing.assert_frame_equal(a.drop(columns=[c for c in a.columns if "shuffled" in c]), b)
    assert len(a) == 16 * 2 * 5 and a["overlaps_true"].any()
    assert {"score_rescale_task0", "score_genomics_default_shuffled_task2"} <= set(a.columns)
    assert (tmp_path / "r1" / "report.html").stat().st_size > 1000


@pytest.mark.skipif(not (PAPER / "model_weights.h5").exists(), reason="the paper's released model is not available")
def test_figure_5b_on_the_papers_model():
    """The published Figure 5b shares (flat reference, task 0, notebook and clipped masking)."""
    from seqlift.groundtruth.methods import method_scores, reference_for
    from seqlift.groundtruth.motifs import read_meme, shipped_motifs
    from seqlift.groundtruth.scan import find_matches
    from seqlift.groundtruth.simulate import read_paper_simdata
    from seqlift.model import load_model
    from seqlift.sequences.onehot import one_hot

    sim = read_paper_simdata(PAPER / "sequences.simdata.gz", PAPER / "test.txt.gz").subset("test")
    sim = sim.subset(sim.labels[:, 0] == 1)  # Figure 5b only looks at the two-motif sequences
    x = one_hot(sim.sequences)
    model = load_model(PAPER / "model.json", weights=PAPER / "model_weights.h5")
    methods = ["guided_backprop", "grad_x_input", "integrated_gradients", "rescale", "revealcancel", "genomics_default"]
    scores = method_scores(model, x, methods, reference_for("flat"), tasks=[0], ig_steps=10)
    motifs = read_meme(shipped_motifs("encode_tal1_gata.meme"))
    published = {  # method: ((TAL1 k, n), (GATA k, n)) -- notebook masking, then clipped
        False: {"guided_backprop": (0, 0), "grad_x_input": (46, 12), "integrated_gradients": (32, 20),
                "rescale": (28, 14), "revealcancel": (0, 0), "genomics_default": (0, 0)},
        True: {"guided_backprop": (0, 0), "grad_x_input": (40, 12), "integrated_gradients": (29, 20),
               "rescale": (25, 14), "revealcancel": (0, 0), "genomics_default": (0, 0)},
    }
    totals = {False: (398, 313), True: (341, 294)}
    for clip in (False, True):
        matches = find_matches(x, motifs, sim.names, k=5, clip=clip)
        summary = build_report(matches, sim.labels, scores, ("GATA_disc1", "TAL1_known1")).summary
        for method, (k_tal, k_gata) in published[clip].items():
            tal = _row(summary[summary.method == method], "false_negative", "TAL1_known1", 0)
            gata = _row(summary[summary.method == method], "false_negative", "GATA_disc1", 0)
            assert (tal["count"], tal["n"]) == (k_tal, totals[clip][0]), (method, clip)
            assert (gata["count"], gata["n"]) == (k_gata, totals[clip][1]), (method, clip)
    # 46/398 = 11.56 %, 40/341 = 11.73 %: the README's percentages
    assert round(100 * 46 / 398, 2) == 11.56 and round(100 * 40 / 341, 2) == 11.73
