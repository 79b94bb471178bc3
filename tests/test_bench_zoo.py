"""The benchmark zoo's ChromBPNet-shaped model, its PyTorch twin, and tangermeme on the twin.

torch and tangermeme are in the ``bench`` extra, not in ``dev``: the tests
that need them skip, saying so, where they are not installed (``make bench``
installs them).
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import seqlift
from seqlift.bench import zoo
from seqlift.model import from_keras

NO_TORCH = importlib.util.find_spec("torch") is None
NO_TANGERMEME = importlib.util.find_spec("tangermeme") is None
BENCH_EXTRA = "is in the bench extra (`make bench` installs it), not in dev"


def _sequences(n: int, length: int = 2114, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]


def _assert_close_to_largest(got: np.ndarray, expected: np.ndarray, tolerance: float = 1e-5) -> None:
    """``got`` equals ``expected`` within ``tolerance`` times the largest magnitude of ``expected``."""
    assert got.shape == expected.shape
    largest = float(np.abs(expected).max())
    assert largest > 0
    assert float(np.abs(got - expected).max()) <= tolerance * largest


@pytest.fixture(scope="module")
def keras_model():
    return zoo.chrombpnet_like()


def test_default_is_the_chrombpnet_shape(keras_model):
    assert tuple(keras_model.inputs[0].shape) == (None, 2114, 4)
    assert [tuple(t.shape) for t in keras_model.outputs] == [(None, 1000), (None, 1)]
    convs = [layer for layer in keras_model.layers if layer.name.startswith("dilated_conv_")]
    assert [layer.dilation_rate[0] for layer in convs] == [2 ** i for i in range(1, 9)]
    assert all(layer.filters == 64 for layer in convs)
    biases = [layer.bias.numpy() for layer in keras_model.layers if getattr(layer, "bias", None) is not None]
    assert len(biases) == 11 and all(np.all(b != 0) for b in biases)


def test_geometry_that_cannot_be_cropped_is_refused():
    with pytest.raises(ValueError, match="cannot be cropped"):
        zoo.chrombpnet_like(filters=4, dilated_layers=2, input_length=1113, output_length=1000)
    with pytest.raises(ValueError, match="cannot be cropped"):
        zoo.chrombpnet_like(filters=4, dilated_layers=8, input_length=2000, output_length=1000)


def test_seqlift_reads_it_like_keras(keras_model):
    x = _sequences(3)
    expected = keras_model.predict(x, verbose=0)
    got = from_keras(keras_model).predict(x)
    for g, e in zip(got, expected):
        _assert_close_to_largest(g, e)


@pytest.mark.skipif(NO_TORCH, reason=f"torch {BENCH_EXTRA}")
def test_torch_copy_computes_the_keras_model(keras_model):
    import torch

    x = _sequences(3)
    expected = keras_model.predict(x, verbose=0)
    with torch.no_grad():
        got = zoo.torch_copy(keras_model)(torch.from_numpy(x.transpose(0, 2, 1).copy()))
    for g, e in zip(got, expected):
        _assert_close_to_largest(g.numpy(), e)


@pytest.fixture(scope="module")
def small_pair():
    """A ChromBPNet-shaped model (8 filters), two sequences and 4 shuffles of each."""
    keras_model = zoo.chrombpnet_like(filters=8, seed=5)
    x = _sequences(2, seed=2)
    return keras_model, x, seqlift.dinucleotide_shuffle(x, 4, seed=0).astype(np.float32)


def _tangermeme(module, x, refs, **options) -> np.ndarray:
    import torch
    from tangermeme.deep_lift_shap import deep_lift_shap

    return deep_lift_shap(module, torch.from_numpy(x.transpose(0, 2, 1).copy()),
                          references=torch.from_numpy(refs.transpose(0, 1, 3, 2).copy()),
                          hypothetical=True, device="cpu", **options).numpy().transpose(0, 2, 1)


@pytest.mark.skipif(NO_TANGERMEME, reason=f"tangermeme {BENCH_EXTRA}")
def test_counts_scores_equal_tangermemes_deep_lift_shap_on_the_torch_copy(small_pair):
    """seqlift's Rescale on the counts head equals tangermeme's DeepLIFT/SHAP, same references."""
    keras_model, x, refs = small_pair
    ours = seqlift.attribute(from_keras(keras_model), x, refs, method="rescale", target="counts")
    theirs = _tangermeme(zoo.torch_head(zoo.torch_copy(keras_model), 1), x, refs)
    _assert_close_to_largest(ours.hypothetical, theirs)
    # the scores of the bases present, summed per position (tangermeme's non-hypothetical output)
    _assert_close_to_largest(ours.contributions.sum(-1), (theirs * x).sum(-1))


def test_every_zoo_model_builds_small_with_its_target_and_non_zero_biases():
    for name, entry in zoo.ZOO.items():
        model = entry.build(**entry.tiny)
        target = model.get_layer(entry.target)
        assert target.output.shape[-1] > max(entry.tasks), name
        biases = [layer.bias.numpy() for layer in model.layers if getattr(layer, "bias", None) is not None]
        assert biases, name
        if not (name == "paper" and (zoo.PAPER / "model.json").exists()):  # random weights
            assert all(np.all(b != 0) for b in biases), name


def test_zoo_bench_table_lists_each_model_with_its_ratios():
    from seqlift.bench import zoo_bench

    figures = zoo_bench.measure_model("cnn1kb", repeats=1, tiny=True, memory=False, methods=("rescale",))
    assert set(figures.ratios) == {"rescale"} and figures.ratios["rescale"].median > 0
    lines = zoo_bench.table([figures]).splitlines()
    assert lines[0].startswith("| model |") and len(lines) == 3
    # rescale's ratio and first call; the other methods, not measured, are dashes
    assert lines[2].startswith("| cnn1kb | 2 x 2 x 3 |") and lines[2].count("x |") == 2  # wall and CPU
    assert lines[2].count("x | - | - |") == 2 and lines[2].count(" / - / - |") == 2
@pytest.mark.skipif(NO_TANGERMEME, reason=f"tangermeme {BENCH_EXTRA}")
def test_profile_rescale_equals_tangermeme_with_bpnet_lites_profile_target(small_pair):
    """``target="profile_rescale"`` equals tangermeme on bpnet-lite's profile target (the product rescaled).

    The secant ``Δ(s_j l̃_j) / Δl̃_j`` credits ``l̃_j`` with the change the softmax takes from every other
    position, so where ``Δl̃_j`` is small it magnifies the rounding of the logits: the two float32 models
    (logits equal to about 1e-6) then agree to 1e-4 of the largest score, not 1e-5 (tangermeme in float32
    and in float64 differ by 3.5e-4); tests/test_targets.py checks the rule itself to 1e-5.
    """
    keras_model, x, refs = small_pair
    ours = seqlift.attribute(from_keras(keras_model), x, refs, method="rescale", target="profile_rescale")
    theirs = _tangermeme(zoo.torch_profile_rescale(zoo.torch_copy(keras_model)), x, refs,
                         additional_nonlinear_ops=zoo.torch_profile_nonlinear_ops())
    _assert_close_to_largest(ours.hypothetical, theirs, tolerance=1e-4)


def test_chrombpnet_bench_floor_is_the_gradient_of_both_heads():
    """The ChromBPNet bench's plain Keras gradient (its floor) is the gradient of the profile target (weights
    held) and of the log count, as seqlift's gradient method computes them; its FLOP count is the layers'."""
    from seqlift.bench import chrombpnet_bench

    keras_model = zoo.chrombpnet_like(filters=4, dilated_layers=2, input_length=250, output_length=100, seed=3)
    x = _sequences(3, 250, seed=4)
    got = chrombpnet_bench.heads_gradient(keras_model, [0, 1], batch_pairs=3)(x[None])
    expected = seqlift.attribute(from_keras(keras_model), x, np.zeros((1, 250, 4), np.float32), method="gradient",
                                 target=["profile", "counts"], return_multipliers=True).multipliers
    assert got.shape == expected.shape == (2, 3, 250, 4)
    _assert_close_to_largest(got, expected, tolerance=1e-5)
    # first conv 230 positions x 21 x 4 x 4, dilated 226 and 218 x 3 x 4 x 4, profile 144 (before its crop)
    # x 75 x 4 x 1, dense 4 x 1: two FLOPs each
    assert chrombpnet_bench.pass_flops(keras_model) == 2 * (230 * 336 + 226 * 48 + 218 * 48 + 144 * 300 + 4)


def test_profile_targets_bench_simulates_footprints_and_compares_the_three_kinds():
    from seqlift.bench import profile_targets_bench as bench

    x, counts = bench.simulate_profiles(6, seed=3)
    assert x.shape == (6, bench.INPUT_LENGTH, 4) and counts.shape == (6, bench.OUTPUT_LENGTH)
    assert np.all(x.sum(-1) == 1) and np.all(counts >= 0) and np.all(counts == np.round(counts))
    model = zoo.chrombpnet_like(filters=4, dilated_layers=bench.DILATED_LAYERS, input_length=bench.INPUT_LENGTH,
                                output_length=bench.OUTPUT_LENGTH, seed=1)
    figures = bench.compare_profile_targets(model, n=2, shuffles=3)
    assert set(figures["pairs"]) == {"profile vs profile_chrombpnet", "profile vs profile_rescale",
                                     "profile_chrombpnet vs profile_rescale"}
    assert all(value < 1e-4 for value in figures["max_residuals"].values())
    ratios = [figures["pairs"][p]["norm_ratio"] for p in ("profile vs profile_chrombpnet",
                                                          "profile_chrombpnet vs profile_rescale")]
    assert ratios[0] * ratios[1] == pytest.approx(figures["pairs"]["profile vs profile_rescale"]["norm_ratio"],
                                                  rel=1e-5)
