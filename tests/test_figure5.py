"""The Figure 5b seeds experiment's module: the model's answers and the tables, on hand-made runs.

The runs are four sequences of 20 bp with hand-placed matches (the layout of
tests/test_report.py), a "model" whose task-0 logit counts the A's of a
sequence, and refills with C only, so every ablation drop is the number of
A's in the match's window.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqlift import cli
from seqlift.errors import SeqliftError
from seqlift.groundtruth import figure5
from seqlift.groundtruth.figure5 import (
    METHODS,
    Run,
    block_markers,
    chance_windows,
    count_copies,
    end_distances,
    expected_log_odds,
    figure5_tables,
    information_bits,
    read_run,
    read_seed_run,
    read_simulated_sequences,
    reference_logits,
    refill_windows,
    replace_block,
    residual_rows,
    sampled_site_tail,
    threshold_counts,
    truth_kinds,
    window_ablation,
)
from seqlift.groundtruth.motifs import Motif
from seqlift.groundtruth.report import binomial_ci, score_column, summarise

GATA, TAL = "GATA1", "TAL1"  # first motif (task 1), second motif (task 2)
ONLY_C = (0.0, 1.0, 0.0, 0.0)

#            0    5    10   15
SEQUENCES = {
    "s0": "AAAAACCCCCGGGGCCCCCC",  # both: TAL1 [0,5) all A, GATA1 [10,14) no A, a weak TAL1 [15,20)
    "s1": "CCAACGGGGGCCGGGGCCCC",  # both: TAL1 [2,7) two A's, GATA1 [12,16)
    "s2": "CCCCCAAAACCCCCCCCCCC",  # TAL1 only: TAL1 [5,10)
    "s3": "ACGTCCCCCCCCCCCCCCCC",  # GATA1 only: GATA1 [0,4)
}
#: (seq, name, class, motif, rank, start, end, log-odds, equals_true, overlaps_true, task-0, task-1, task-2 score)
MATCHES = [
    (0, "s0", "both", TAL, 0, 0, 5, 8.0, True, True, 2.0, 0.0, 0.0),
    (0, "s0", "both", GATA, 0, 10, 14, 9.0, True, True, 0.0, 0.0, 0.0),
    (0, "s0", "both", TAL, 1, 15, 20, 3.0, False, False, -50.0, 0.0, 0.0),
    (1, "s1", "both", TAL, 0, 2, 7, 7.0, False, False, -1.0, 0.0, 0.0),
    (1, "s1", "both", GATA, 0, 12, 16, 7.5, False, True, 3.0, 0.0, 0.0),
    (2, "s2", "second_only", TAL, 0, 5, 10, 10.0, True, True, 0.25, 0.4, 0.0),
    (3, "s3", "first_only", GATA, 0, 0, 4, 8.0, True, True, 1.0, 0.0, -0.1),
]


def _matches() -> pd.DataFrame:
    """The match table with every method's scores: all methods score alike, but the shuffled genomics default
    scores every task-0 match positive."""
    columns = ["seq", "name", "class", "motif", "rank", "start", "end", "log_odds", "equals_true", "overlaps_true"]
    table = pd.DataFrame([row[:10] for row in MATCHES], columns=columns)
    scores = np.array([row[10:] for row in MATCHES])
    for method in METHODS:
        for task in range(3):
            values = scores[:, task]
            if method == "genomics_default_shuffled" and task == 0:
                values = np.abs(values) + 1.0
            table[score_column(method, task)] = values
    return table


def _count_a(x: np.ndarray) -> np.ndarray:
    """A fake model's logits: task 0 counts A's, tasks 1 and 2 count C's and G's."""
    return np.asarray(x, dtype=np.float32)[:, :, :3].sum(axis=1)


def _run(label: str = "seed 4", metrics: dict | None = None) -> Run:
    matches = _matches()
    ablation = window_ablation(matches, SEQUENCES, _count_a, draws=3, background=ONLY_C)
    answers = {"sequence_length": 20, "windows": 12,
               "reference_logits": {"flat": [6.0, 4.0, 4.0], "shuffles": [5.5, 9.0, 4.5], "sequences": [4.0, 9.5, 5.0]}}
    return Run(label, summarise(matches, (GATA, TAL)), matches, ablation, answers, metrics)


def _metrics(seed: int = 4) -> dict:
    return {"test_auroc": [0.97, 0.99, 0.995], "epochs_run": 12, "best_epoch": 4, "training_seconds": 31.6,
            "n_test": 4, "seed": seed}


def _toy_matrices() -> list:
    return [("TOY", [Motif("toy", np.eye(4)[[0, 1, 2]])])]


# ---------------------------------------------------------------------------
# the model's answers


def test_copies_count_matches_of_the_same_sequence_and_motif():
    frame = pd.DataFrame({"name": ["a", "a", "a", "b"], "motif": ["M", "M", "N", "M"], "start": [0, 5, 9, 1]})
    assert count_copies(frame).tolist() == [2, 2, 1, 1]


def test_refill_replaces_only_each_window_with_background_bases():
    from seqlift.sequences.onehot import decode, one_hot

    x = one_hot(["AAAAAAAA", "GGGGGGGG"])
    out = refill_windows(x, [2, 0], [5, 3], draws=3, background=ONLY_C, rng=np.random.default_rng(0))
    assert out.shape == (6, 8, 4)
    assert decode(out) == ["AACCCAAA"] * 3 + ["CCCGGGGG"] * 3
    mixed = refill_windows(x[:1], [0], [8], draws=200, background=(0.5, 0, 0, 0.5), rng=np.random.default_rng(1))
    assert set("".join(decode(mixed))) == {"A", "T"}  # only the background's letters, both drawn


def test_window_ablation_drop_is_the_models_fall_when_the_window_is_refilled():
    ablation = window_ablation(_matches(), SEQUENCES, _count_a, draws=4, background=ONLY_C)
    # the strong matches of both-motif sequences only, in order
    assert list(zip(ablation["name"], ablation["motif"])) == [("s0", TAL), ("s0", GATA), ("s1", TAL), ("s1", GATA)]
    assert ablation["logit0"].tolist() == [5.0, 5.0, 2.0, 2.0]  # A's in the sequence
    assert ablation["delta"].tolist() == [5.0, 0.0, 2.0, 0.0]  # A's in the window
    assert ablation["copies"].tolist() == [1, 1, 1, 1]


def test_window_ablation_names_a_missing_sequence():
    with pytest.raises(SeqliftError, match="no sequence named 's1'"):
        window_ablation(_matches(), {"s0": SEQUENCES["s0"]}, _count_a)


def test_reference_logits_flat_shuffled_and_median():
    from seqlift.sequences.onehot import one_hot

    x = one_hot([SEQUENCES["s0"], SEQUENCES["s1"]])
    got = reference_logits(_count_a, x, background=(0.25, 0.25, 0.5, 0.0), shuffles=3)
    assert got["flat"] == pytest.approx([5.0, 5.0, 10.0])  # 20 positions times the frequencies
    # dinucleotide shuffles keep each sequence's letters: the mean equals the sequences' mean
    assert got["shuffles"] == pytest.approx([3.5, 10.0, 6.5])
    assert got["sequences"] == pytest.approx([3.5, 10.0, 6.5])  # the median of two is their mean


def test_positional_length_is_the_last_node_with_a_length_axis():
    class Graph:
        nodes = {"in": None, "conv1": None, "conv2": None, "pool": None, "dense": None}
        shapes = {"in": (200, 4), "conv1": (190, 50), "conv2": (180, 50), "pool": (1, 50), "dense": (3,)}

    assert figure5.positional_length(Graph()) == 180
    Graph.shapes = {"in": (4,), "dense": (3,)}
    assert figure5.positional_length(Graph()) is None


def test_simulated_sequences_and_their_both_motif_names(tmp_path):
    (tmp_path / "s.fa").write_text(">b\nACGT\n>a\nCCCC\n>c\nGGGG\n")
    pd.DataFrame({"name": ["a", "b", "c"], "task0": [1, 0, 1], "task1": [1, 1, 1], "task2": [1, 0, 1]}).to_csv(
        tmp_path / "labels.tsv", sep="\t", index=False)
    split = read_simulated_sequences(tmp_path / "s.fa", tmp_path / "labels.tsv")
    assert list(split.sequences) == ["b", "a", "c"] and split.both == ["a", "c"]  # file order
    pd.DataFrame({"name": ["a"], "task0": [1], "task1": [1], "task2": [1]}).to_csv(
        tmp_path / "few.tsv", sep="\t", index=False)
    with pytest.raises(SeqliftError, match="few.tsv: no labels for 2 sequence"):
        read_simulated_sequences(tmp_path / "s.fa", tmp_path / "few.tsv")


def test_answers_command_against_keras(tmp_path):
    """`seqlift figure5 answers` on an untrained paper-shaped model: logits as Keras computes them."""
    import keras

    from seqlift.groundtruth.simulate import write_fasta
    from seqlift.groundtruth.train import build_paper_model, save_model_h5

    keras.utils.set_random_seed(3)
    model = build_paper_model(length=40)
    save_model_h5(model, tmp_path / "m.h5")
    rng = np.random.default_rng(0)
    names = ["x0", "x1", "x2"]
    seqs = ["".join(rng.choice(list("ACGT"), 40)) for _ in names]
    write_fasta(zip(names, seqs), tmp_path / "s.fa")
    pd.DataFrame({"name": names, "task0": [1, 1, 0], "task1": [1, 1, 0], "task2": [1, 1, 1]}).to_csv(
        tmp_path / "labels.tsv", sep="\t", index=False)
    report = tmp_path / "report"
    report.mkdir()
    rows = [(0, "x0", "both", TAL, 0, 3, 9, 8.0), (1, "x1", "both", GATA, 0, 30, 40, 7.5),
            (1, "x1", "both", TAL, 1, 0, 4, 6.0), (2, "x2", "second_only", TAL, 0, 5, 11, 9.0)]
    pd.DataFrame(rows, columns=["seq", "name", "class", "motif", "rank", "start", "end", "log_odds"]).to_csv(
        report / "matches.tsv", sep="\t", index=False)
    args = ["figure5", "answers", "--model", str(tmp_path / "m.h5"), "--report", str(report),
            "--fasta", str(tmp_path / "s.fa"), "--labels", str(tmp_path / "labels.tsv")]
    assert cli.main(args) == 0

    from seqlift.sequences.onehot import one_hot

    logits = keras.Model(model.inputs, model.get_layer("dense_2").output)
    ablation = pd.read_csv(report / "ablation.tsv", sep="\t")
    assert ablation["name"].tolist() == ["x0", "x1"]  # the strong matches of both-motif sequences
    want = logits.predict(one_hot(seqs[:2]), verbose=0)[:, 0]
    assert np.allclose(ablation["logit0"], want, atol=1e-5) and np.isfinite(ablation["delta"]).all()
    answers = json.loads((report / "model_answers.json").read_text())
    assert answers["sequence_length"] == 40 and answers["windows"] == 20  # 40 - 2 * (11 - 1)
    flat = logits.predict(np.tile(np.float32([0.3, 0.2, 0.2, 0.3]), (1, 40, 1)), verbose=0)[0]
    assert np.allclose(answers["reference_logits"]["flat"], flat, atol=1e-5)
    median = np.median(logits.predict(one_hot(seqs[:2]), verbose=0), axis=0)
    assert np.allclose(answers["reference_logits"]["sequences"], median, atol=1e-5)


# ---------------------------------------------------------------------------
# counts behind the tables


def test_threshold_counts_and_truth_kinds():
    matches = _matches()
    assert threshold_counts(matches, TAL, "rescale", 5) == (1, 2)  # s1's TAL1 at 7.0 scores -1
    assert threshold_counts(matches, TAL, "rescale", 7.5) == (0, 1)
    assert threshold_counts(matches, GATA, "rescale", 9) == (1, 1)  # s0's GATA1 scores 0
    assert threshold_counts(matches, GATA, "genomics_default_shuffled", 5) == (0, 2)
    assert truth_kinds(matches).tolist() == ["exact", "exact", "chance", "chance", "overlap", "exact", "exact"]


def test_residual_rows_list_every_false_negative_of_the_residual_methods():
    rows = residual_rows(_run())
    assert [(r[1], r[2]) for r in rows] == [("s0", GATA), ("s1", TAL)]
    s0 = rows[0]
    # label, sequence, motif, start, log-odds, truth, rank, copies, 3 residual scores + grad x input,
    # strong matches of the other motif, task-0 logit, ablation drop
    assert s0 == ["seed 4", "s0", GATA, 10, "9.00", "exact", 0, 1, "0.000", "0.000", "1.000", "0.000", 1,
                  "5.00", "0.000"]


def test_end_distances_use_the_runs_length():
    frame = end_distances(_run())
    assert frame["dist"].tolist() == [0, 6, 2, 4]  # min(start, 20 - end)


def test_matrix_measures_on_exact_cases():
    certain = np.eye(4)[[0, 3, 1]]  # A, T, C with certainty
    assert information_bits(certain) == pytest.approx(6.0)
    assert information_bits(np.full((5, 4), 0.25)) == pytest.approx(0.0)
    # a certain site always scores sum_i ln((1 - c + c/4) / bg) with c = 0.001
    site = math.log(0.99925 / 0.3) + math.log(0.99925 / 0.3) + math.log(0.99925 / 0.2)
    assert expected_log_odds(certain) == pytest.approx(site)
    assert sampled_site_tail(certain, [site - 0.01, site + 0.01], n=50) == [1.0, 0.0]
    # one position, A certain: the windows scoring >= 1 are the A's of the background (0.3 of them)
    rate, any_share = chance_windows(np.eye(4)[[0]], [1.0], length=10, n=20_000)
    assert rate[0] == pytest.approx(3.0, abs=0.05)
    assert any_share[0] == pytest.approx(1 - 0.7**10, abs=0.01)


# ---------------------------------------------------------------------------
# the tables


def _tables() -> str:
    seed = _run("seed 4", _metrics())
    paper = _run("paper model")
    return figure5_tables([seed, paper], matrices=_toy_matrices())


def _section(text: str, title_start: str) -> str:
    part = text.split(f"### {title_start}", 1)[1]
    return part.split("\n### ", 1)[0]


def _row(section: str, first_cell: str) -> list[str]:
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in\n{section}")


def test_the_tables_have_every_section_in_order():
    text = _tables()
    titles = [line[4:] for line in text.splitlines() if line.startswith("### ")]
    starts = ["Training", "Figure 5b, TAL1", "Figure 5b, GATA1", "Off-task", "Cooperativity", "The threshold",
              "Strong matches in both-motif", "What the references", "Every false negative", "Does the model",
              "Where the false negatives", "The matrices"]
    assert len(titles) == len(starts) and all(t.startswith(s) for t, s in zip(titles, starts))
    assert text.endswith("|\n") and "\n\n\n" not in text


def test_training_and_figure5b_cells():
    text = _tables()
    training = _section(text, "Training")
    assert "(4 test sequences per seed)" in training
    assert _row(training, "seed 4") == ["seed 4", "0.9700 (below 0.98)", "0.9900", "0.9950", "12 (4)", "32"]
    assert "paper model" not in training  # a control has no training
    lo, hi = binomial_ci(1, 2)
    half = f"50.0 % (1/2; {100 * lo:.1f}-{100 * hi:.1f})"
    tal = _section(text, "Figure 5b, TAL1")
    assert _row(tal, "gradient x input") == ["gradient x input", half, half, "11.73 %"]
    assert _row(tal, "gradient")[-1] == "—"
    assert _row(tal, "genomics default (10 shuffles)")[1].startswith("0.0 % (0/2;")
    assert _row(_section(text, "Figure 5b, GATA1"), "Rescale")[1:] == [half, half, "4.76 %"]


def test_off_task_cooperativity_and_threshold_cells():
    text = _tables()
    assert _row(_section(text, "Off-task"), "Rescale")[1] == "100.0 % (1/1) / 0.0 % (0/1)"
    coop = _row(_section(text, "Cooperativity"), "Rescale")[1]
    # TAL1: mean of (2, -1) in both-motif sequences minus 0.25 alone; GATA1: mean of (0, 3) minus 1
    assert coop.startswith("0.25 [") and " / 0.50 [" in coop
    threshold = _section(text, "The threshold")
    assert _row(threshold, "Rescale, >= 5")[1:] == ["1/2 \\| 1/2", "1/2 \\| 1/2", "50.0 % (1/2) \\| 50.0 % (1/2)"]
    # the control is shown but not pooled; nothing reaches 9 for TAL1
    assert _row(threshold, "Rescale, >= 9")[1:] == ["0/0 \\| 1/1", "0/0 \\| 1/1", "n/a (0 matches) \\| 100.0 % (1/1)"]


def test_truth_kind_reference_and_residual_cells():
    text = _tables()
    kinds = _section(text, "Strong matches in both-motif")
    # TAL1: s0 exact (2.0), s1 chance (-1.0); FN per method: gxi / Rescale / RevealCancel / GD flat / GD shuffled
    assert _row(kinds, "seed 4")[1:] == [TAL, "1 (FN: 0/0/0/0/0)", "0 (FN: 0/0/0/0/0)", "1 (FN: 1/1/1/1/0)"]
    refs = _section(text, "What the references")
    assert _row(refs, "paper model")[1:] == ["6.00 / 4.00 / 4.00", "5.50 / 9.00 / 4.50", "4.00 / 9.50 / 5.00"]
    residual = _section(text, "Every false negative")
    assert _row(residual, "seed 4")[1:3] == ["s0", GATA]
    assert "median RevealCancel task-0 score of these strong matches: seed 4 1.00, paper model 1.00." in residual


def test_ablation_and_position_cells():
    text = _tables()
    ablation = _section(text, "Does the model")
    # TAL1 drops 5 and 2; GATA1 windows hold no A: drop 0
    assert _row(ablation, "matches with drop <= 0 (TAL1 \\| GATA1)")[1] == "0/2 \\| 2/2"
    assert _row(ablation, "1 copy: drop <= 0; median drop (both motifs)")[1] == "2/4; 1.00"
    # Rescale's false negatives: s0 GATA1 (drop 0) and s1 TAL1 (drop 2)
    assert _row(ablation, "Rescale: FN with drop > 0 / FN with drop <= 0")[1] == "1 / 1"
    positions = _section(text, "Where the false negatives")
    assert "nearer end of the 20 bp sequence (each position feeds fewer of the 12 windows of the last " \
           "convolution within 8 bp of an end)" in positions
    assert "seeds pooled:" in positions and "paper model:" in positions
    assert _row(positions, "Rescale")[1:] == ["50.0 % (2/4)", "n/a (0 matches)", "n/a (0 matches)",
                                              "50.0 % (2/4)", "n/a (0 matches)"]


def test_matrix_and_class_cells():
    matrices = _section(_tables(), "The matrices")
    row = _row(matrices, "TOY")
    assert row[1:4] == ["toy", "3", "6.0"]
    assert "chance windows >= 7: mean count per 20 bp background sequence" in matrices
    # strong matches per class: TAL1 in both (2, one chance), TAL1-only (1), none elsewhere
    assert _row(matrices, "seed 4")[1:] == [TAL, "2 (1 chance) / 2", "0 (0 chance) / 1", "1 (0 chance) / 1",
                                            "0 (0 chance) / 0"]


def test_tables_need_a_seed_and_every_method():
    with pytest.raises(SeqliftError, match="at least one seed"):
        figure5_tables([_run("paper model")], matrices=_toy_matrices())
    run = _run("seed 4", _metrics())
    partial = Run(run.label, run.summary, run.matches.drop(columns=[score_column("rescale", 0)]), run.ablation,
                  run.answers, run.metrics)
    with pytest.raises(SeqliftError, match="'seed 4': its report has no task-0 scores of rescale"):
        figure5_tables([partial], matrices=_toy_matrices())


# ---------------------------------------------------------------------------
# files, the commands and the document


def _write_run(folder: Path, run: Run) -> Path:
    folder.mkdir(parents=True)
    run.summary.to_csv(folder / "summary.tsv", sep="\t", index=False)
    run.matches.to_csv(folder / "matches.tsv", sep="\t", index=False)
    figure5.write_model_answers(folder, run.ablation, run.answers)
    return folder


def test_runs_read_back_and_seeds_are_checked(tmp_path):
    run = _run()
    folder = _write_run(tmp_path / "r", run)
    (tmp_path / "metrics.json").write_text(json.dumps(_metrics(4)))
    back = read_seed_run(folder, tmp_path / "metrics.json", seed=4)
    assert back.label == "seed 4" and back.pooled and back.motifs == (GATA, TAL)
    pd.testing.assert_frame_equal(back.ablation.reset_index(drop=True), run.ablation.reset_index(drop=True))
    assert read_seed_run(folder, tmp_path / "metrics.json", demo=True).label == "seed 4 (demo)"
    assert not read_run("paper model", folder).pooled
    with pytest.raises(SeqliftError, match="metrics.json: the simulation's seed is 4, not 5"):
        read_seed_run(folder, tmp_path / "metrics.json", seed=5)
    with pytest.raises(SeqliftError, match="summary.tsv: no such file"):
        read_run("x", tmp_path)


def test_tables_command_orders_runs_and_reports_errors_in_one_line(tmp_path, capsys):
    for seed in (7, 0):
        _write_run(tmp_path / f"seed_{seed}", _run())
        (tmp_path / f"seed_{seed}" / "metrics.json").write_text(json.dumps(_metrics(seed)))
    _write_run(tmp_path / "paper", _run())
    out = tmp_path / "tables.md"
    args = ["figure5", "tables", "--out", str(out), "--seed-run", "7", str(tmp_path / "seed_7"),
            str(tmp_path / "seed_7" / "metrics.json"), "--demo-run", str(tmp_path / "seed_0"),
            str(tmp_path / "seed_0" / "metrics.json"), "--paper-run", str(tmp_path / "paper")]
    assert cli.main(args) == 0
    header = next(line for line in out.read_text().splitlines() if line.startswith("| method | "))
    assert header == "| method | seed 0 (demo) | seed 7 | paper model | paper (published) |"
    args[5] = "8"  # a seed its metrics do not record
    assert cli.main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("seqlift figure5: error: ") and "seed is 7, not 8" in err[-1]


def test_blocks_of_a_document_are_replaced_or_appended(tmp_path):
    text = "# Doc\n\nintro\n"
    once = replace_block(text, "T1\n")
    begin, end = block_markers()
    assert once == f"# Doc\n\nintro\n\n{begin}\nT1\n{end}\n"
    assert replace_block(once + "outro\n", "T2\n") == f"# Doc\n\nintro\n\n{begin}\nT2\n{end}\noutro\n"
    both = replace_block(once, "E\n", "encode")
    named_begin, named_end = block_markers("encode")
    assert named_begin == "<!-- figure5-tables-encode:begin -->"
    assert both == once + f"\n{named_begin}\nE\n{named_end}\n"
    assert replace_block(both, "T3\n") == both.replace("T1\n", "T3\n")  # the other block stays
    doc, tables = tmp_path / "doc.md", tmp_path / "t.md"
    doc.write_text(once)
    tables.write_text("T4\n")
    assert cli.main(["figure5", "splice", str(tables), str(doc)]) == 0
    assert doc.read_text() == once.replace("T1\n", "T4\n")
