"""``seqlift score`` on a BPNet/ChromBPNet-shaped model: target choice, both heads in one run, ChromBPNet's
layout read by modisco-lite, and the bigWig per target.

The model is ChromBPNet-shaped and small (250 bp in, a 100-position profile and a log count out); six
overlapping peaks lie on a random 3 kb genome. Commands run as subprocesses, as a user runs them.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_score_cli import assert_failed_cleanly, clean_env, seqlift

import seqlift as sl
from seqlift.bench import zoo

LENGTH, PROFILE = 250, 100
#: three overlapping windows, two overlapping, then separate ones (enough for modisco's null model)
SUMMITS = (400, 520, 600, 1500, 1620) + tuple(range(2400, 11000, 300))
GENOME = 11500


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bpnet_inputs")
    rng = np.random.default_rng(11)
    bases = "".join(rng.choice(list("ACGT"), GENOME))
    (folder / "genome.fa").write_text(">chr1\n" + "\n".join(bases[i:i + 60] for i in range(0, GENOME, 60)) + "\n")
    lines = [f"chr1\t{s - 40}\t{s + 60}\tpeak{i}\t0\t.\t5.0\t-1\t-1\t40" for i, s in enumerate(SUMMITS)]
    (folder / "peaks.narrowPeak").write_text("\n".join(lines) + "\n")
    zoo.chrombpnet_like(filters=4, dilated_layers=2, input_length=LENGTH, output_length=PROFILE,
                        seed=2).save(folder / "model.keras")
    return {"genome": folder / "genome.fa", "peaks": folder / "peaks.narrowPeak", "model": folder / "model.keras"}


@pytest.fixture(scope="module")
def chrombpnet_run(inputs, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("bpnet_run")
    done = seqlift("score", inputs["peaks"], "--model", inputs["model"], "--genome", inputs["genome"],
                   "--target", "profile,counts", "--layout", "chrombpnet", "--bigwig", "--shuffles", "4",
                   "--method", "rescale", "--out", out / "run", cwd=out)
    assert done.returncode == 0, done.stderr
    return out, done.stderr


def test_several_outputs_without_a_choice_are_refused(inputs, tmp_path):
    done = seqlift("score", inputs["peaks"], "--model", inputs["model"], "--genome", inputs["genome"],
                   "--out", tmp_path / "out" / "run", cwd=tmp_path)
    assert_failed_cleanly(done, "the model has 2 outputs (logits_profile_predictions (100,), "
                                "logcount_predictions (1,)): choose one with output=NAME (--output NAME)",
                          tmp_path / "out")


def test_a_profile_output_is_not_explained_unit_by_unit_unasked(inputs, tmp_path):
    done = seqlift("score", inputs["peaks"], "--model", inputs["model"], "--genome", inputs["genome"],
                   "--output", "logits_profile_predictions", "--out", tmp_path / "out" / "run", cwd=tmp_path)
    assert_failed_cleanly(done, "'logits_profile_predictions' has 100 units: --task all (the default) would "
                                "explain each one", tmp_path / "out")


def test_both_heads_in_one_run_in_chrombpnets_layout(inputs, chrombpnet_run):
    out, _ = chrombpnet_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["run.counts_scores.bw", "run.counts_scores.h5", "run.dropped.tsv", "run.h5",
                     "run.interpreted_regions.bed", "run.profile_scores.bw", "run.profile_scores.h5",
                     "run.regions.bed"]
    model = sl.load_model(inputs["model"])
    with h5py.File(out / "run.h5") as store:
        onehot = store["onehot"][()].astype(np.float32)
        assert list(store["targets"].asstr()[()]) == ["profile", "counts"]
        hypothetical, deltas = store["hypothetical"][()], store["deltas"][()]
    assert np.abs(deltas).max() < 1e-5
    expected = sl.attribute(model, onehot, 4, method="rescale", target=["profile", "counts"])
    np.testing.assert_array_equal(hypothetical, expected.hypothetical)
    for index, target in enumerate(["profile", "counts"]):
        with h5py.File(out / f"run.{target}_scores.h5") as scores:
            raw, shap, projected = (scores[k][()] for k in ("raw/seq", "shap/seq", "projected_shap/seq"))
        assert raw.shape == shap.shape == projected.shape == (len(SUMMITS), 4, LENGTH) and raw.dtype == np.int8
        np.testing.assert_array_equal(raw, onehot.transpose(0, 2, 1))
        np.testing.assert_array_equal(shap, expected.hypothetical[index].transpose(0, 2, 1))
        np.testing.assert_array_equal(projected, shap * raw)
    rows = [line.split("\t") for line in (out / "run.interpreted_regions.bed").read_text().splitlines()]
    # ChromBPNet reads each window as [start + summit - L/2, start + summit + L/2)
    assert [int(r[1]) + int(r[9]) for r in rows] == list(SUMMITS)
    assert (out / "run.interpreted_regions.bed").read_text() == (out / "run.regions.bed").read_text()


def test_bigwig_per_target_splits_overlaps_at_the_midpoint_between_summits(chrombpnet_run):
    import pyBigWig

    out, _ = chrombpnet_run
    with h5py.File(out / "run.profile_scores.h5") as scores:
        per_base = scores["projected_shap/seq"][()].sum(axis=1)  # (N, L)
    track = pyBigWig.open(str(out / "run.profile_scores.bw"))
    starts = np.array(SUMMITS) - LENGTH // 2
    for position, window in ((300, 0), (459, 0), (461, 1), (559, 1), (561, 2), (1559, 3), (1561, 4)):
        value = track.values("chr1", position, position + 1)[0]
        assert value == pytest.approx(per_base[window, position - starts[window]], rel=1e-6, abs=1e-12)
    track.close()


def test_modisco_lite_reads_the_chrombpnet_layout(chrombpnet_run, tmp_path):
    """``modisco motifs -i PREFIX.profile_scores.h5`` runs unchanged on the file (as ChromBPNet's pipeline runs it)."""
    out, _ = chrombpnet_run
    modisco = shutil.which("modisco", path=str(Path(sys.executable).parent)) or shutil.which("modisco")
    if modisco is None:
        pytest.skip("modisco-lite is in the dev extra; its command is not installed here")
    done = subprocess.run([modisco, "motifs", "-i", str(out / "run.profile_scores.h5"), "-n", "2000", "-w", "200",
                           "-o", str(tmp_path / "modisco.h5")], capture_output=True, text=True, env=clean_env(),
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    with h5py.File(tmp_path / "modisco.h5") as result:
        assert set(result) <= {"pos_patterns", "neg_patterns"}
