"""Summation-to-delta for every DeepLIFT method on every supported layer.

For each layer the model loader supports (the cases of ``test_model_layers``),
a model ``input -> layer(s) -> Flatten -> Dense(2)`` is explained against
random, non-uniform references, and the contributions must sum to the change
of the target (the paper's eq. 1) within 1e-4 of that change.
"""
from __future__ import annotations

import numpy as np
import pytest
from keras import layers
from model_zoo import functional_two_inputs, nested_model, randomize, rich_model, sequential
from test_model_layers import CASES

import seqlift
from seqlift.engine import DEEPLIFT_METHODS
from seqlift.model import from_keras, ops

#: pre-activation heads would make these cases trivial or unbounded
_SKIP_AS_FIRST = {"activation_layer_linear"}


def _explained_model(case: str):
    shape, stack = CASES[case]
    stack = [layer.__class__.from_config(layer.get_config()) for layer in stack]
    model = sequential(shape, *stack, layers.Flatten(), layers.Dense(2, name="head"))
    randomize(model, seed=3)
    return from_keras(model), shape


def _check_summation(attribution, tolerance: float = 1e-4) -> None:
    target = np.abs(attribution.target_deltas)
    residual = np.abs(attribution.deltas)
    scale = np.maximum(target, 1e-2 * target.max() + 1e-6)
    assert np.all(residual <= tolerance * scale), (residual / scale).max()


@pytest.mark.parametrize("case", sorted(set(CASES) - _SKIP_AS_FIRST))
def test_every_layer_sums_to_delta(case):
    model, shape = _explained_model(case)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (3, *shape)).astype(np.float32)
    references = rng.normal(0, 1, (3, 4, *shape)).astype(np.float32)
    for method in DEEPLIFT_METHODS:
        result = seqlift.attribute(model, x, references, method=method, task=[0, 1])
        assert np.all(np.isfinite(result.contributions)), method
        assert np.abs(result.target_deltas).max() > 0, "the case must change the target"
        _check_summation(result)


def test_one_hot_model_with_shuffled_references_sums_to_delta():
    model = sequential(
        (30, 4),
        layers.Conv1D(6, 5, activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(4, 3, padding="same", activation="tanh"),
        layers.GlobalMaxPooling1D(),
        layers.Dense(5, activation="sigmoid"),
        layers.Dense(3),
    )
    randomize(model, seed=1)
    x = seqlift.one_hot(["".join(np.random.default_rng(i).choice(list("ACGT"), 30)) for i in range(6)])
    for method in DEEPLIFT_METHODS:
        result = seqlift.attribute(from_keras(model), x, references=8, method=method, task=[0, 1, 2])
        _check_summation(result)


def _maxpool_model():
    model = sequential((16, 4), layers.Conv1D(5, 3, activation="relu"), layers.MaxPooling1D(3), layers.Flatten(), layers.Dense(2))
    return from_keras(randomize(model, seed=5))


def test_maxpool_gradient_rule_breaks_summation_against_a_shuffled_reference():
    """The original's max-pool rule (``maxpool="gradient"``) loses the sum; seqlift's default keeps it."""
    model = _maxpool_model()
    x = seqlift.one_hot(["ACGTTGCAAGGCTTAC", "TTTACGGACGATCGAA", "GGGCATCATGCATGCA"])
    exact = seqlift.attribute(model, x, references=6, method="rescale", task=[0, 1])
    original = seqlift.attribute(model, x, references=6, method="rescale", task=[0, 1], maxpool="gradient")
    _check_summation(exact)
    assert np.abs(original.deltas).max() > 1e-2 * np.abs(original.target_deltas).max()


@pytest.mark.parametrize("pooling", [
    layers.MaxPooling1D(4),  # a remainder no window reaches
    layers.MaxPooling1D(4, padding="same"),  # a padded window at each end
    layers.MaxPooling1D(5, padding="same"),
    layers.MaxPooling2D((2, 3), padding="same"),
])
def test_maxpool_routing_by_window_masks_equals_routing_through_the_pooling_gradient(pooling, monkeypatch):
    """Where the windows tile the input, the routed rule spreads each window's terms over masks found
    once per batch; bit for bit what routing each target's terms through TensorFlow's gradient gives,
    ties (ReLU zeros, one-hot input) included."""
    stack = [layers.Conv1D(6, 5, activation="relu", padding="same")]
    if isinstance(pooling, layers.MaxPooling2D):
        stack.append(layers.Reshape((37, 6, 1)))
    model = sequential((37, 4), *stack, pooling, layers.Flatten(), layers.Dense(8, activation="relu"), layers.Dense(2))
    randomize(model, seed=4)
    x = seqlift.one_hot(["".join(np.random.default_rng(i).choice(list("ACGT"), 37)) for i in range(4)])

    def scores():
        return [seqlift.attribute(from_keras(model), x, references=5, method=method, task=[0, 1])
                for method in ("rescale", "revealcancel")]

    by_masks = scores()
    monkeypatch.setattr(ops.MaxPool, "windows_tile", property(lambda self: False))
    by_gradient = scores()
    for fast, general in zip(by_masks, by_gradient):
        assert fast.contributions.tobytes() == general.contributions.tobytes()
        assert fast.hypothetical.tobytes() == general.hypothetical.tobytes()
        _check_summation(fast)


def test_maxpool_spread_copies_each_window_value_over_its_positions():
    values = np.arange(1, 4, dtype=np.float32).reshape(1, 3, 1)
    valid = ops.MaxPool(1, (3,)).spread(values, [10]).numpy().ravel()  # windows [0,3) [3,6) [6,9); 9 unreached
    same = ops.MaxPool(1, (4,), padding="same").spread(values, [10]).numpy().ravel()  # pads 1: [-1,3) [3,7) [7,11)
    assert valid.tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3, 0]
    assert same.tolist() == [1, 1, 1, 2, 2, 2, 2, 3, 3, 3]


@pytest.mark.parametrize("pool,spatial", [((4,), [10]), ((180,), [180]), ((2, 3), [5, 7])])
def test_average_pool_transpose_shares_each_multiplier_over_its_window(pool, spatial):
    """Average pooling with tiling windows is differentiated by spreading ``m / window size`` (a broadcast):
    TensorFlow's pooling gradient's values, zero at positions no window reaches, each row alone as in a batch."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    op = ops.AvgPool(len(pool), pool)
    x = tf.constant(rng.normal(size=(3, *spatial, 2)).astype(np.float32))
    out_shape = [3, *(n // k for n, k in zip(spatial, pool)), 2]
    m = tf.constant(rng.normal(size=out_shape).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = op(x)
        stock = tf.nn.avg_pool(x, list(pool), list(pool), "VALID")
    np.testing.assert_array_equal(ours.numpy(), stock.numpy())
    grad = tape.gradient(ours, x, output_gradients=m).numpy()
    np.testing.assert_allclose(grad, tape.gradient(stock, x, output_gradients=m).numpy(), rtol=1e-6, atol=1e-9)
    reached = tuple(slice(0, n // k * k) for n, k in zip(spatial, pool))
    assert np.all(grad[(slice(None), *reached)] != 0)
    unreached = np.ones(grad.shape, bool)
    unreached[(slice(None), *reached)] = False
    assert np.all(grad[unreached] == 0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        first = op(x[:1])
    np.testing.assert_array_equal(tape.gradient(first, x, output_gradients=m[:1]).numpy()[:1], grad[:1])


def test_global_max_pool_ties_are_not_double_counted():
    """Equal maxima in a window: credit is shared, so the sum still holds (the original counts each tie fully)."""
    model = sequential((6, 2), layers.GlobalMaxPooling1D(), layers.Dense(1, use_bias=False))
    model.layers[-1].set_weights([np.ones((2, 1), np.float32)])
    x = np.array([[[1.0, 2.0], [3.0, 2.0], [3.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, 0.5]]], np.float32)
    reference = np.zeros((1, 6, 2), np.float32)
    result = seqlift.attribute(from_keras(model), x, reference, method="rescale")
    assert result.target_deltas == pytest.approx([5.0])
    assert result.contributions.sum() == pytest.approx(5.0, rel=1e-6)
    assert result.contributions[0, [1, 2, 5], 0] == pytest.approx([1.0, 1.0, 1.0])


@pytest.mark.parametrize("build", [rich_model, nested_model, functional_two_inputs])
def test_graphs_with_branches_shared_layers_and_nesting_sum_to_delta(build):
    """Residual additions (an input of Add that depends on the other), shared layers, nested models."""
    keras_model = randomize(build(), seed=6)
    model = from_keras(keras_model)
    rng = np.random.default_rng(1)
    x = [rng.normal(0, 1, (3, *s)).astype(np.float32) for s in model.input_shapes]
    references = [rng.normal(0, 1, (3, 4, *s)).astype(np.float32) for s in model.input_shapes]
    for target in model.outputs:
        node = model.nodes[target]
        target = node.inputs[0] if not isinstance(node.op, ops.Linear) else target
        units = int(np.prod(model.shapes[target]))
        for method in DEEPLIFT_METHODS:
            result = seqlift.attribute(model, x, references, method=method, target_layer=target, task=list(range(units)))
            _check_summation(result)


@pytest.mark.parametrize("method", DEEPLIFT_METHODS)
def test_a_kernel_layer_feeding_a_nonlinearity_sums_to_delta_as_an_inner_layer(method):
    """Scores at a convolution's output, whose parts RevealCancel splits by the terms ``w_i Δx_i`` (made
    inside the nonlinearity's own pass): they sum to the target's change like the input's."""
    model = sequential((30, 4), layers.Conv1D(5, 7, name="conv"), layers.Activation("relu"),
                       layers.Conv1D(4, 5, name="conv2"), layers.Activation("tanh"), layers.Flatten(),
                       layers.Dense(2, name="head"))
    randomize(model, seed=5)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (3, 30, 4)).astype(np.float32)
    references = rng.normal(0, 1, (3, 4, 30, 4)).astype(np.float32)
    result = seqlift.attribute(from_keras(model), x, references, method=method, task=[0, 1], layers=["conv", "conv2"])
    for name in ("conv", "conv2"):
        total = result.layers[name]["contributions"].reshape(2, 3, -1).sum(-1)
        np.testing.assert_allclose(total, result.target_deltas, rtol=1e-4, atol=1e-5 * np.abs(result.target_deltas).max())
