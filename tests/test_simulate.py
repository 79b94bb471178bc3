"""The simulation: counts, labels, non-overlap, determinism, genome form, file formats."""
from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyfaidx import Fasta

from seqlift.errors import SeqliftError
from seqlift.genome.fasta import read_fasta
from seqlift.groundtruth.motifs import Motif, read_meme, shipped_motifs
from seqlift.groundtruth.simulate import (
    genome_form,
    read_instances,
    read_labels,
    read_paper_simdata,
    simulate,
    truncated_poisson,
    write_simulation,
)


@pytest.fixture(scope="module")
def motifs():
    return read_meme(shipped_motifs())


@pytest.fixture(scope="module")
def sim(motifs):
    return simulate(motifs, n_per_class=100, length=120, seed=7)


def test_classes_counts_and_labels(sim, motifs):
    assert len(sim) == 400 and all(len(s) == 120 for s in sim.sequences)
    assert set(sim.sequences[0]) <= set("ACGT")
    per_seq = sim.instances.groupby(["name", "motif"]).size().unstack(fill_value=0)
    per_seq = per_seq.reindex(sim.names, fill_value=0)
    first, second = motifs[0].label, motifs[1].label
    k1, k2 = per_seq[first].to_numpy(), per_seq[second].to_numpy()
    np.testing.assert_array_equal(sim.labels[:, 1], k1 > 0)
    np.testing.assert_array_equal(sim.labels[:, 2], k2 > 0)
    np.testing.assert_array_equal(sim.labels[:, 0], (k1 > 0) & (k2 > 0))
    assert k1.max() <= 3 and k2.max() <= 3
    cls = sim.classes
    assert (cls == "gata1_tal1").sum() == 100 and (cls == "empty").sum() == 100
    assert np.all(k1[cls == "gata1_tal1"] >= 1) and np.all(k2[cls == "gata1_tal1"] >= 1)
    assert np.all(k2[cls == "gata1_only"] == 0) and np.all(k1[cls == "tal1_only"] == 0)
    assert np.all(k1[cls == "empty"] + k2[cls == "empty"] == 0)


def test_instances_are_in_the_sequences_and_do_not_overlap(sim, motifs):
    seqs = dict(zip(sim.names, sim.sequences))
    widths = {m.label: m.width for m in motifs}
    for name, group in sim.instances.groupby("name"):
        for row in group.itertuples():
            assert seqs[name][row.start : row.end] == row.site
            assert row.end - row.start == widths[row.motif] and row.strand == "+"
        spans = sorted(zip(group.start, group.end))
        for (s0, e0), (s1, _) in zip(spans, spans[1:]):
            assert e0 <= s1


def test_sites_follow_the_matrix():
    # a deterministic motif must be inserted verbatim; background keeps its letters
    a = Motif("AAA", np.eye(4)[[1, 1, 1, 1, 1]])  # CCCCC
    b = Motif("BBB", np.eye(4)[[2, 2, 2, 2, 2, 2]])  # GGGGGG
    s = simulate([a, b], n_per_class=20, length=40, background=(0.5, 0, 0, 0.5), seed=1)
    assert set(s.instances.loc[s.instances.motif == "AAA", "site"]) == {"CCCCC"}
    assert set(s.instances.loc[s.instances.motif == "BBB", "site"]) == {"GGGGGG"}
    n_c = sum(seq.count("C") for seq in s.sequences)
    assert n_c == 5 * (s.instances.motif == "AAA").sum()


def test_determinism_by_seed(motifs):
    a = simulate(motifs, n_per_class=20, length=80, seed=3)
    b = simulate(motifs, n_per_class=20, length=80, seed=3)
    c = simulate(motifs, n_per_class=20, length=80, seed=4)
    assert a.sequences == b.sequences and a.names == b.names
    pd.testing.assert_frame_equal(a.instances, b.instances)
    np.testing.assert_array_equal(a.split, b.split)
    assert a.sequences != c.sequences


def test_split_is_stratified(sim):
    for cls in np.unique(sim.classes):
        split = sim.split[sim.classes == cls]
        assert (split == "train").sum() == 80 and (split == "valid").sum() == 10 and (split == "test").sum() == 10
    test = sim.subset("test")
    assert len(test) == 40 and set(test.instances.name) <= set(test.names)


def test_truncated_poisson_is_the_conditional_law():
    rng = np.random.default_rng(0)
    draws = truncated_poisson(rng, 2.0, 1, 3, 60000)
    # P(k) proportional to 2^k / k! for k = 1, 2, 3: 2, 2, 4/3
    expected = np.array([2, 2, 4 / 3]) / (2 + 2 + 4 / 3)
    observed = np.bincount(draws, minlength=4)[1:] / draws.size
    np.testing.assert_allclose(observed, expected, atol=0.01)


def test_too_short_sequences_raise(motifs):
    with pytest.raises(SeqliftError):
        simulate(motifs, n_per_class=2, length=10, seed=0)


def test_genome_form_slices_equal_sequences(sim, tmp_path):
    paths = write_simulation(sim, tmp_path, motifs=None, n_chromosomes=3, spacer=17, spacer_kind="random")
    bed = pd.read_csv(paths["bed"], sep="\t", header=None, names=["chrom", "start", "end", "name", "score", "strand"])
    genome = Fasta(str(paths["genome"]))
    assert sorted(genome.keys()) == ["chrSim1", "chrSim2", "chrSim3"]
    seqs = dict(zip(sim.names, sim.sequences))
    assert list(bed.name) == sim.names
    for row in bed.itertuples():
        assert str(genome[row.chrom][row.start : row.end]).upper() == seqs[row.name]
    fasta = read_fasta(paths["fasta"])
    assert fasta == seqs
    labels = read_labels(paths["labels"])
    np.testing.assert_array_equal(labels[["task0", "task1", "task2"]].to_numpy(), sim.labels)
    assert list(labels.split) == list(sim.split)
    truth = read_instances(paths["instances"])
    pd.testing.assert_frame_equal(truth, sim.instances, check_dtype=False)


def test_genome_form_n_spacers():
    chroms, regions = genome_form(["a", "b", "c"], ["ACG", "TT", "GGGG"], n_chromosomes=2, spacer=2)
    assert chroms == {"chrSim1": "NNACGNNTTNN", "chrSim2": "NNGGGGNN"}
    assert regions[["chrom", "start", "end", "name"]].values.tolist() == [
        ["chrSim1", 2, 5, "a"],
        ["chrSim1", 7, 9, "b"],
        ["chrSim2", 2, 6, "c"],
    ]


def test_read_paper_format(tmp_path):
    path = tmp_path / "x.simdata.gz"
    with gzip.open(path, "wt") as out:
        out.write("seqName\tsequence\tembeddings\ttask1\ttask2\ttask3\n")
        out.write("gata_tal1_3\tAAGATAAAACAGATGTT\tpos-1_GATA_disc1-AGATAA,pos-9_TAL1_known1-CAGATG\t1\t1\t1\n")
        out.write("empty_0\tAAAAAAAAAAAAAAAAA\t\t0\t0\t0\n")
    tests = tmp_path / "test.txt"
    tests.write_text("empty_0\n")
    p = read_paper_simdata(path, tests)
    assert p.names == ["gata_tal1_3", "empty_0"] and list(p.split) == ["train", "test"]
    assert list(p.classes) == ["gata_tal1", "empty"]
    assert p.motif_names == ("GATA_disc1", "TAL1_known1")
    assert p.instances[["motif", "start", "end"]].values.tolist() == [["GATA_disc1", 1, 7], ["TAL1_known1", 9, 15]]
    assert p.sequences[0][9:15] == "CAGATG"


def test_simulate_command(tmp_path):
    from seqlift.commands import simulate_cmd

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    simulate_cmd.register(sub)
    args = parser.parse_args(
        ["simulate", str(tmp_path), "--n-per-class", "10", "--length", "100", "--splits", "test,valid",
         "--motifs", str(shipped_motifs("encode_tal1_gata.meme")), "--motif-names", "GATA_disc1", "TAL1_known1"]
    )
    assert args.func(args) == 0
    labels = read_labels(tmp_path / "labels.tsv")
    assert len(labels) == 8 and set(labels.split) == {"test", "valid"}
    assert {m.name for m in read_meme(tmp_path / "motifs.meme")} == {"GATA_disc1", "TAL1_known1"}
    assert (tmp_path / "genome.fa").exists() and (tmp_path / "regions.bed").exists()


# ---------------------------------------------------------------------------
# the paper's model on the simulation (seqlift.groundtruth.train)


def test_roc_auc_equals_the_pairwise_definition():
    from seqlift.groundtruth.train import roc_auc

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, size=60)
    score = np.round(rng.normal(size=60) + y, 1)  # rounding makes ties
    pos, neg = score[y == 1], score[y == 0]
    pairwise = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()
    assert roc_auc(y, score) == pytest.approx(pairwise)
    assert np.isnan(roc_auc(np.ones(3), np.arange(3.0)))  # one class only


def test_paper_architecture_and_a_short_training(tmp_path, motifs):
    from seqlift.groundtruth.train import build_paper_model, save_model_h5, task_aurocs, train_paper_model
    from seqlift.model import load_model
    from seqlift.sequences.onehot import one_hot

    paper = build_paper_model()
    assert paper.count_params() == 32503
    assert [layer.name for layer in paper.layers][-2:] == ["dense_2", "activation_4"]
    sim = simulate(motifs, n_per_class=12, length=100, seed=0)
    train, valid = sim.subset("train"), sim.subset(["valid", "test"])
    result = train_paper_model(one_hot(train.sequences), train.labels, one_hot(valid.sequences), valid.labels,
                               epochs=2, batch_size=16, patience=1, seed=0,
                               op_determinism=False)  # process-wide: leave it off in the test session
    assert result.epochs == 2 and 1 <= result.best_epoch <= 2 and len(result.history["val_loss"]) == 2
    aucs = task_aurocs(result.model, one_hot(valid.sequences), valid.labels)
    assert len(aucs) == 3 and all(0.0 <= a <= 1.0 for a in aucs)
    path = tmp_path / "m.h5"
    save_model_h5(result.model, path)
    x = one_hot(valid.sequences)
    ours = np.asarray(load_model(path).predict(x))
    keras_pred = np.asarray(result.model.predict(x, verbose=0))
    np.testing.assert_allclose(ours.reshape(keras_pred.shape), keras_pred, atol=1e-5)


# ---------------------------------------------------------------------------
# the shipped demo (data/demo, written by `seqlift train-sim data/demo`)

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def test_demo_data_is_consistent_and_small():
    total = sum(p.stat().st_size for p in DEMO.iterdir() if p.is_file())
    assert total < 2 * 1024 * 1024
    seqs = read_fasta(DEMO / "sequences.fa")
    labels = read_labels(DEMO / "labels.tsv")
    assert list(labels.name) == list(seqs) and len(seqs) == 800 and set(labels.split) == {"test"}
    bed = pd.read_csv(DEMO / "regions.bed", sep="\t", header=None, names=["chrom", "start", "end", "name", "score", "strand"])
    genome = read_fasta(DEMO / "genome.fa")
    for row in bed.itertuples():
        assert genome[row.chrom][row.start : row.end] == seqs[row.name]
    truth = read_instances(DEMO / "instances.tsv")
    for row in truth.itertuples():
        assert seqs[row.name][row.start : row.end] == row.site
    present = truth.groupby(["name", "motif"]).size().unstack(fill_value=0).reindex(labels.name, fill_value=0) > 0
    np.testing.assert_array_equal(labels["task1"].to_numpy(), present["Gata1"].to_numpy())
    np.testing.assert_array_equal(labels["task2"].to_numpy(), present["TAL1::TCF3"].to_numpy())


def test_demo_model_reaches_its_recorded_auroc():
    import json

    from seqlift.groundtruth.train import roc_auc
    from seqlift.model import load_model
    from seqlift.sequences.onehot import one_hot

    seqs = read_fasta(DEMO / "sequences.fa")
    labels = read_labels(DEMO / "labels.tsv").set_index("name").loc[list(seqs)]
    pred = np.asarray(load_model(DEMO / "model.h5").predict(one_hot(list(seqs.values())))).reshape(len(seqs), 3)
    aucs = [roc_auc(labels[f"task{t}"].to_numpy(), pred[:, t]) for t in range(3)]
    recorded = json.loads((DEMO / "metrics.json").read_text())["test_auroc"]
    np.testing.assert_allclose(aucs, recorded, atol=1e-4)
    assert aucs[0] >= 0.98
