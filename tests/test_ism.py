"""In-silico mutagenesis (``method="ism"``): against a direct loop over mutants, windows, tasks, batches,
models of free length and with several inputs, ``seqlift score --method ism`` end to end, and bad input.

The loops here build every single-base mutant in numpy, one at a time, and
evaluate them with Keras (an independent implementation of the model, in
float64 arithmetic after the forward pass) and with seqlift's own
``Model.predict`` (same kernels, so the scores must agree to the bit).
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import test_engine_api
from keras import layers
from model_zoo import functional_two_inputs, randomize, sequential
from test_score_cli import N_REGIONS, seqlift, write_inputs

import seqlift as sl
from seqlift import cli
from seqlift.engine import budget
from seqlift.errors import SeqliftError
from seqlift.model import from_keras

LENGTH = 24
#: the engine tests' small CNN (24 bp, Conv1D, max pooling, two Dense layers, 3 sigmoid outputs): a fixture
cnn = test_engine_api.cnn


def _dna(n: int, length: int = LENGTH, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]


def _mutants(sequence: np.ndarray, positions: range) -> np.ndarray:
    """Every base at every position of ``positions``, one at a time: (len(positions) * 4, L, 4)."""
    out = []
    for i in positions:
        for b in range(4):
            mutant = sequence.copy()
            mutant[i] = 0.0
            mutant[i, b] = 1.0
            out.append(mutant)
    return np.array(out)


def _loop_ism(predict, x: np.ndarray, window: tuple[int, int] | None = None, dtype=np.float64) -> np.ndarray:
    """Hypothetical ISM scores by a direct loop: (units, N, L, 4), ``y_b − ¼ Σ_c y_c`` at mutated positions.

    ``predict(mutants) -> (M, units)``; positions with no base (N) and outside the window stay 0.
    """
    start, end = window or (0, x.shape[1])
    out = None
    for n, sequence in enumerate(x):
        y = predict(_mutants(sequence, range(start, end))).astype(dtype)
        y = y.reshape(end - start, 4, -1)
        if out is None:
            out = np.zeros((y.shape[-1],) + x.shape, dtype)
        mean = (y[:, 0] + y[:, 1] + y[:, 2] + y[:, 3]) * dtype(0.25)
        hyp = (y - mean[:, None]).transpose(2, 0, 1)
        hyp[:, sequence[start:end].sum(-1) == 0] = 0
        out[:, n, start:end] = hyp
    return out


def _keras_logits(keras_model):
    """The pre-sigmoid outputs of ``keras_model`` (its last Dense without the activation), float64."""
    hidden = keras.Model(keras_model.inputs, keras_model.layers[-2].output)
    kernel, bias = keras_model.layers[-1].get_weights()
    return lambda a: hidden.predict(a, verbose=0).astype(np.float64) @ kernel.astype(np.float64) + bias


def _sequences_with_n() -> np.ndarray:
    x = _dna(5, seed=1)
    x[1, 3] = 0.0  # an N
    x[2, :] = 0.0  # a sequence of Ns (as the padding rows of a batch)
    return x


# --------------------------------------------------------------------------- against a loop over mutants
def test_ism_equals_a_direct_loop_over_mutants_in_keras(cnn):
    keras_model, model = cnn
    x = _sequences_with_n()
    result = sl.attribute(model, x, method="ism", task=[0, 1, 2])
    expected = _loop_ism(_keras_logits(keras_model), x)
    scale = np.abs(expected).max()
    assert scale > 0.1
    np.testing.assert_allclose(result.hypothetical, expected, rtol=0, atol=1e-5 * scale)
    # contributions: the hypothetical score of the observed base, i.e. f(x) − mean over the four bases,
    # which is ¾ of the mean over the three substitutions of f(x) − f(mutant)
    np.testing.assert_array_equal(result.contributions, result.hypothetical * x)
    observed = x.argmax(-1)
    n, i = 0, 7
    y = _keras_logits(keras_model)(_mutants(x[n], range(i, i + 1)))[:, 0]
    loss = np.mean([y[observed[n, i]] - y[b] for b in range(4) if b != observed[n, i]])
    assert result.contributions[0, n, i].sum() == pytest.approx(0.75 * loss, abs=1e-5 * scale)
    # centred per position; nothing at the N, nor anywhere in the sequence of Ns
    np.testing.assert_allclose(result.hypothetical.sum(-1), 0, atol=1e-5 * scale)
    assert not result.hypothetical[:, 1, 3].any() and not result.hypothetical[:, 2].any()
    assert result.multipliers is None and result.n_references == 0


def test_ism_is_bitwise_a_loop_over_seqlifts_own_forward_pass(cnn):
    _, model = cnn
    x = _sequences_with_n()
    result = sl.attribute(model, x, method="ism", task=[0, 2])
    expected = _loop_ism(lambda m: model.forward(m, keep={"out/preact"})["out/preact"].numpy()[:, [0, 2]], x,
                         dtype=np.float32)
    np.testing.assert_array_equal(result.hypothetical, expected)


def test_no_references_and_the_target_change_is_the_sum_of_the_contributions(cnn):
    _, model = cnn
    x = _dna(4, seed=2)
    plain = sl.attribute(model, x, method="ism", task=[0, 1])
    given = sl.attribute(model, x, references=np.zeros((3, LENGTH, 4), np.float32), method="ism", task=[0, 1])
    assert plain.n_references == given.n_references == 0
    np.testing.assert_array_equal(plain.contributions, given.contributions)
    totals = plain.contributions.sum(axis=(2, 3))
    np.testing.assert_allclose(plain.target_deltas, totals, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(plain.deltas, 0, atol=1e-5 * np.abs(totals).max())


# --------------------------------------------------------------------------- window, tasks, batches
def test_a_window_mutates_only_its_positions(cnn):
    keras_model, model = cnn
    x = _dna(3, seed=3)
    whole = sl.attribute(model, x, method="ism", task=[0, 2])
    part = sl.attribute(model, x, method="ism", task=[0, 2], ism_window=(5, 15))
    np.testing.assert_array_equal(part.hypothetical[:, :, 5:15], whole.hypothetical[:, :, 5:15])
    assert not part.hypothetical[:, :, :5].any() and not part.hypothetical[:, :, 15:].any()
    expected = _loop_ism(_keras_logits(keras_model), x, window=(5, 15))[[0, 2]]
    np.testing.assert_allclose(part.hypothetical, expected, atol=1e-5 * np.abs(expected).max())


def test_tasks_share_the_passes_and_equal_one_task_at_a_time(cnn):
    _, model = cnn
    x = _dna(4, seed=4)
    together = sl.attribute(model, x, method="ism", task=[2, 0, 1])
    for k, task in enumerate([2, 0, 1]):
        alone = sl.attribute(model, x, method="ism", task=task)
        np.testing.assert_array_equal(together.hypothetical[k], alone.hypothetical)
        np.testing.assert_array_equal(together.contributions[k], alone.contributions)


def test_other_target_kinds_are_the_weighted_unit_scores(cnn):
    """ISM of ``target="sum"`` and ``"profile"`` (the sequence's weights held) from the unit scores.

    Centring over the four bases is linear, so the sum's scores are the units' summed, and the profile's
    are the units' weighted by ``softmax(l(x)) − 1/J``, computed here from Keras's logits.
    """
    keras_model, model = cnn
    x = _sequences_with_n()
    units = sl.attribute(model, x, method="ism", task=[0, 1, 2]).hypothetical
    kinds = sl.attribute(model, x, method="ism", target=["sum", "profile"], output=0)
    scale = np.abs(units).max()
    np.testing.assert_allclose(kinds.hypothetical[0], units.sum(0), atol=1e-5 * scale)
    logits = _keras_logits(keras_model)(x)
    weights = np.exp(logits - logits.max(1, keepdims=True))
    weights = weights / weights.sum(1, keepdims=True) - 1 / 3
    np.testing.assert_allclose(kinds.hypothetical[1], np.einsum("kn,knlb->nlb", weights.T, units),
                               atol=1e-5 * scale)
    np.testing.assert_array_equal(kinds.contributions, kinds.hypothetical * x)


def test_scores_are_bitwise_the_same_whatever_the_batch_and_the_block_of_mutants(cnn, monkeypatch):
    """Sequences per batch 1 to 50, mutants per block from every one at once down to 5."""
    keras_model, _ = cnn
    x = _sequences_with_n()
    reference = sl.attribute(from_keras(keras_model), x, method="ism", task=[0, 2], batch_size=50)
    for block_bytes in (None, 4 * budget.FORWARD_COPIES * 5 * budget.activation_floats(from_keras(keras_model),
                                                                                         "out/preact")):
        if block_bytes:
            monkeypatch.setattr(budget, "FORWARD_BLOCK_BYTES", block_bytes)
        model = from_keras(keras_model)  # a fresh model: its compiled functions read the block size
        if block_bytes:
            assert budget.forward_passes_per_block(model, "out/preact") == 5
        for size in (1, 3, 7):
            other = sl.attribute(model, x, method="ism", task=[0, 2], batch_size=size)
            np.testing.assert_array_equal(other.hypothetical, reference.hypothetical)
            np.testing.assert_array_equal(other.contributions, reference.contributions)
            np.testing.assert_array_equal(other.target_deltas, reference.target_deltas)


# --------------------------------------------------------------------------- other models
def test_the_block_of_mutants_of_a_model_of_free_length_follows_the_length():
    """Inside the compiled function the length is a tensor: the block size computed from it is the same."""
    import tensorflow as tf

    keras_model = sequential((None, 4), layers.Conv1D(4, 5, activation="relu"), layers.GlobalMaxPooling1D(),
                             layers.Dense(2, name="out"))
    model = from_keras(keras_model)
    for length in (17, 300, 100_000):
        fixed = budget.forward_passes_per_block(model, "out", length)
        assert int(budget.forward_passes_per_block(model, "out", tf.constant(length))) == fixed
        floats = budget.activation_floats(model, "out", length)
        assert fixed == max(1, budget.FORWARD_BLOCK_BYTES // (4 * budget.FORWARD_COPIES * floats))
    assert budget.forward_passes_per_block(model, "out", 100_000) < budget.forward_passes_per_block(model, "out", 17)


def test_several_inputs_the_one_hot_one_is_mutated_the_other_held():
    keras_model = randomize(functional_two_inputs(), seed=3)
    model = from_keras(keras_model)
    seqs, extra = _dna(3, 12, seed=5), np.random.default_rng(5).normal(size=(3, 6)).astype(np.float32)
    result = sl.attribute(model, [seqs, extra], method="ism", task=[0, 1], target_layer="out2")
    assert result.hypothetical[1] is None and not result.contributions[1].any()

    def predict(mutants):
        held = np.repeat(extra[n:n + 1], len(mutants), axis=0)
        return keras_model.predict([mutants, held], verbose=0)[1]

    for n in range(3):
        expected = _loop_ism(predict, seqs[n:n + 1])
        np.testing.assert_allclose(result.hypothetical[0][:, n:n + 1], expected, atol=1e-5 * np.abs(expected).max())


@pytest.mark.skipif(importlib.util.find_spec("tangermeme") is None,
                    reason="tangermeme is in the bench extra (`make bench` installs it), not in dev")
def test_equal_to_tangermemes_saturation_mutagenesis_on_the_torch_copy():
    """The same convention as tangermeme: its hypothetical ISM scores on the counts head of the twin model."""
    import torch
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    from seqlift.bench import zoo

    keras_model = zoo.chrombpnet_like(filters=8, seed=5)
    x = _dna(2, 2114, seed=2)
    start, end = 1000, 1012
    ours = sl.attribute(from_keras(keras_model), x, method="ism", target_layer=zoo.COUNTS_OUTPUT,
                        ism_window=(start, end))
    theirs = saturation_mutagenesis(zoo.torch_head(zoo.torch_copy(keras_model), 1),
                                    torch.from_numpy(x.transpose(0, 2, 1).copy()), start=start, end=end,
                                    hypothetical=True, device="cpu").numpy().transpose(0, 2, 1)
    largest = np.abs(theirs).max()
    assert largest > 0
    assert np.abs(ours.hypothetical[:, start:end] - theirs).max() <= 1e-3 * largest
    assert not ours.hypothetical[:, :start].any() and not ours.hypothetical[:, end:].any()


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("change, message", [
    (lambda x: x * 0.5, r"needs one-hot DNA: input '\w+', sequence 0, position 0 is \[[0-9., ]+\]"),
    (lambda x: np.concatenate([x[:, :, :1] * 0 + 1, x[:, :, 1:]], axis=-1), "needs one-hot DNA"),
    (lambda x: np.where(np.arange(LENGTH)[None, :, None] == 9, np.nan, x), "sequence 0, position 9"),
])
def test_input_that_is_not_one_hot_is_refused_in_one_line(cnn, change, message):
    _, model = cnn
    x = change(_dna(2, seed=0))
    with pytest.raises(SeqliftError, match=message) as error:
        sl.attribute(model, x, method="ism")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("window, message", [
    ((10, 5), "ism_window 10:5: need 0 <= start < end"),
    ((-1, 5), "need 0 <= start < end"),
    ((0, LENGTH + 1), f"runs past the end of the sequences \\({LENGTH} bp\\)"),
    ((1.5, 4), "is not a pair of integers"),
    ("3-9", "is not START:END"),
])
def test_bad_windows_are_refused_in_one_line(cnn, window, message):
    _, model = cnn
    with pytest.raises(SeqliftError, match=message):
        sl.attribute(model, _dna(1), method="ism", ism_window=window)


def test_options_of_other_methods_are_refused(cnn):
    _, model = cnn
    with pytest.raises(SeqliftError, match="ism_window is for method='ism', not 'rescale'"):
        sl.attribute(model, _dna(1), method="rescale", ism_window=(0, 5))
    with pytest.raises(SeqliftError, match="inner-layer scores are computed for the DeepLIFT methods only"):
        sl.attribute(model, _dna(1), method="ism", layers=["conv"])
    dense = sequential((6,), layers.Dense(2, name="out"))
    with pytest.raises(SeqliftError, match=r"mutates one-hot DNA inputs of shape \(length, 4\)"):
        sl.attribute(from_keras(dense), np.ones((1, 6), np.float32), method="ism")


# --------------------------------------------------------------------------- seqlift score --method ism
@pytest.fixture(scope="module")
def score_inputs(tmp_path_factory) -> dict[str, Path]:
    return write_inputs(tmp_path_factory.mktemp("ism_inputs"))


def test_seqlift_score_method_ism_end_to_end(score_inputs, tmp_path):
    """The files hold the API's scores bit for bit, modisco-lite reads them and the logos draw."""
    prefix = tmp_path / "out" / "ism"
    done = seqlift("score", score_inputs["peaks"], "--model", score_inputs["model"], "--genome",
                   score_inputs["genome"], "--method", "ism", "--batch-size", "4", "--out", prefix, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "x 1 references per pass" in done.stderr
    with h5py.File(f"{prefix}.h5") as f:
        onehot, tasks = f["onehot"][()].astype(np.float32), list(f["tasks"][()])
        contributions, hypothetical = f["contributions"][()], f["hypothetical"][()]
        deltas, target_deltas = f["deltas"][()], f["target_deltas"][()]
    assert onehot.shape[0] == N_REGIONS - 2 and tasks == [0, 1]
    assert (onehot.sum(-1) == 0).any()  # some windows hold Ns
    api = sl.attribute(sl.load_model(score_inputs["model"]), onehot, method="ism", task=tasks)
    np.testing.assert_array_equal(contributions, api.contributions)
    np.testing.assert_array_equal(hypothetical, api.hypothetical)
    np.testing.assert_array_equal(target_deltas, api.target_deltas)
    assert np.abs(deltas).max() <= 1e-5 * np.abs(target_deltas).max()

    for k in tasks:  # modisco-lite's inputs, (N, 4, L)
        hyp = np.load(f"{prefix}.task{k}.hyp.npz")["arr_0"]
        np.testing.assert_array_equal(hyp, hypothetical[k].transpose(0, 2, 1))
    modisco = Path(sys.executable).with_name("modisco")
    modisco = str(modisco) if modisco.exists() else shutil.which("modisco")
    assert modisco, "modisco-lite's modisco command is not installed"
    motifs = subprocess.run([modisco, "motifs", "-s", f"{prefix}.ohe.npz", "-a", f"{prefix}.task0.hyp.npz",
                             "-n", "2000", "-o", str(tmp_path / "modisco.h5")], capture_output=True, text=True,
                            timeout=300)
    assert motifs.returncode == 0, motifs.stderr
    assert cli.main(["logo", f"{prefix}.h5", "--top", "1", "--task", "all", "--out", str(tmp_path / "logos")]) == 0
    assert sorted(p.suffix for p in (tmp_path / "logos").iterdir()) == [".png", ".png", ".tsv"]


def test_seqlift_score_ism_window_on_both_strands(score_inputs, tmp_path):
    """--ism-window with --revcomp average: the same bases mutated on both strands, the rest 0."""
    prefix = tmp_path / "ism"
    status = cli.main(["score", str(score_inputs["peaks"]), "--model", str(score_inputs["model"]), "--genome",
                       str(score_inputs["genome"]), "--method", "ism", "--task", "1", "--ism-window", "150:250",
                       "--revcomp", "average", "--out", str(prefix)])
    assert status == 0
    with h5py.File(f"{prefix}.h5") as f:
        onehot, hypothetical = f["onehot"][()].astype(np.float32), f["hypothetical"][()]
        assert f.attrs["parameters"].count('"ism_window": [150, 250]') == 1
    length = onehot.shape[1]
    model = sl.load_model(score_inputs["model"])
    forward = sl.attribute(model, onehot, method="ism", task=1, ism_window=(150, 250)).hypothetical
    reverse = sl.attribute(model, onehot[:, ::-1, ::-1], method="ism", task=1,
                           ism_window=(length - 250, length - 150)).hypothetical[:, ::-1, ::-1]
    np.testing.assert_allclose(hypothetical[0], (forward + reverse) / 2, rtol=1e-6, atol=1e-7)
    assert not hypothetical[0][:, :150].any() and not hypothetical[0][:, 250:].any()


@pytest.mark.parametrize("options, message", [
    (("--method", "ism", "--ism-window", "150"), "--ism-window '150' is not START:END"),
    (("--method", "ism", "--ism-window", "300:500"), "--ism-window 300:500 runs past the end of the sequences (400 bp)"),
    (("--ism-window", "0:10"), "--ism-window is for --method ism, not genomics_default"),
])
def test_seqlift_score_bad_ism_options_fail_in_one_line(score_inputs, tmp_path, capsys, options, message):
    out = tmp_path / "out"
    status = cli.main(["score", str(score_inputs["peaks"]), "--model", str(score_inputs["model"]), "--genome",
                       str(score_inputs["genome"]), *options, "--out", str(out / "x")])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert status == 1 and len(errors) == 1 and errors[0].startswith(f"seqlift score: error: {message}")
    assert not out.exists() or not any(out.iterdir())
