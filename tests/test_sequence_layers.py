"""The layers beyond convolutions (issue 12): read like Keras, every method runs, contributions sum to delta.

For each model of :data:`sequence_zoo.CASES` (products, minima and maxima,
attention, normalisation, recurrent layers, convolution variants):

* seqlift's forward pass equals Keras 3's prediction (from ``.keras`` and
  legacy ``.h5``) and tf.keras 2's (from a ``.h5`` written by tf-keras) to 1e-5;
* Rescale, RevealCancel and the genomics default sum to the target's change
  within 1e-4 of it, against random references, with random weights and
  non-zero biases (the genomics default is computed where it resolves some
  nonlinearity otherwise than Rescale does, and is Rescale's computation elsewhere);
* the gradient equals TensorFlow's gradient of the Keras model, and
  gradient x input, guided backprop and integrated gradients run and are finite;
* RevealCancel gives every pair the same bits scored alone as in one batch
  (shards equal whole runs).
"""
from __future__ import annotations

import numpy as np
import pytest
import sequence_zoo
import tensorflow as tf
from model_zoo import keras_outputs, save_all
from sequence_zoo import CASES, inputs, keras3_model

import seqlift
from seqlift.engine import DEEPLIFT_METHODS, METHODS
from seqlift.engine.backprop import DeepLiftPass
from seqlift.model import from_keras, load_model

TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("sequence_layers")


@pytest.fixture(scope="module")
def tf_keras2_files(folder):
    return sequence_zoo.write_tf_keras2(folder / "tf_keras2")


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_pass_equals_keras3(case, folder):
    model = keras3_model(case)
    x = inputs()
    expected = keras_outputs(model, [x])[0]
    for fmt, path in save_all(model, folder, case).items():
        loaded = load_model(path)
        np.testing.assert_allclose(loaded.predict(x), expected, **TOL, err_msg=f"{case} from {fmt}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_pass_equals_tf_keras2(case, tf_keras2_files):
    path = tf_keras2_files[case]
    saved = np.load(path.with_suffix(".npz"))
    np.testing.assert_allclose(load_model(path).predict(saved["x"]), saved["y"], **TOL)


def _check_summation(result, tolerance: float = 1e-4) -> None:
    target = np.abs(result.target_deltas)
    assert target.max() > 0, "the case must change the target"
    scale = np.maximum(target, 1e-2 * target.max() + 1e-6)
    residual = np.abs(result.deltas) / scale
    assert np.all(residual <= tolerance), residual.max()


def _distinct_deeplift_methods(model, target: str) -> list[str]:
    """The DeepLIFT methods, less ``genomics_default`` where it resolves every nonlinearity (those inside
    recurrent layers included) as ``rescale`` does, so computes the same scores."""
    choices = {method: DeepLiftPass(model, target, METHODS[method].scorer.options["nonlinearity"]).nonlinearity
               for method in DEEPLIFT_METHODS}
    return [m for m in DEEPLIFT_METHODS if m != "genomics_default" or choices[m] != choices["rescale"]]


@pytest.fixture(scope="module")
def seqlift_models():
    """Each case's seqlift model, built once, so that the tests share its compiled passes."""
    built = {}

    def model(case: str):
        if case not in built:
            built[case] = from_keras(keras3_model(case))
        return built[case]

    return model


def _pairs() -> tuple[np.ndarray, np.ndarray]:
    """The DeepLIFT tests' inputs and random references (3 per input)."""
    rng = np.random.default_rng(0)
    x = inputs(seed=2)
    return x, rng.normal(0.0, 1.0, (len(x), 3, *x.shape[1:])).astype(np.float32)


@pytest.mark.parametrize("case", sorted(CASES))
def test_deeplift_sums_to_delta(case, seqlift_models):
    x, references = _pairs()
    model = seqlift_models(case)
    for method in _distinct_deeplift_methods(model, model.outputs[0]):
        result = seqlift.attribute(model, x, references, method=method, task=0)
        assert np.all(np.isfinite(result.contributions)), method
        _check_summation(result)


@pytest.mark.parametrize("case", sorted(CASES))
def test_revealcancel_scores_each_pair_alike_in_any_batch(case, seqlift_models):
    x, references = _pairs()
    model = seqlift_models(case)
    whole, alone = (seqlift.attribute(model, x, references, method="revealcancel", task=0, batch_size=size)
                    for size in (None, 1))
    assert np.abs(whole.contributions).max() > 0
    np.testing.assert_array_equal(alone.contributions, whole.contributions)
    np.testing.assert_array_equal(alone.hypothetical, whole.hypothetical)
    np.testing.assert_array_equal(alone.deltas, whole.deltas)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_methods(case):
    keras_model = keras3_model(case)
    model = from_keras(keras_model)
    x = inputs(seed=4)
    references = inputs(seed=5, rows=2)
    point = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(point)
        first = keras_model(point, training=False)[:, 0]
    expected = tape.gradient(first, point).numpy()
    ours = seqlift.attribute(model, x, references, method="gradient", task=0, return_multipliers=True)
    np.testing.assert_allclose(ours.multipliers, expected, atol=1e-5 * np.abs(expected).max(), rtol=1e-4)
    for method in ("grad_x_input", "guided_backprop", "integrated_gradients"):
        result = seqlift.attribute(model, x, references, method=method, task=0, steps=2)
        assert np.all(np.isfinite(result.contributions)) and np.abs(result.contributions).max() > 0, method


@pytest.mark.parametrize("method", ["rescale", "revealcancel"])
def test_deeplift_runs_a_recurrent_layer_once_for_the_sequences_and_the_references(method, monkeypatch):
    """The forward pass takes each recurrent layer's outputs on the sequences and on the references from
    the layer's DeepLIFT loop (its plain and reference tracks) instead of running the steps again: one
    loop per layer; and the target's change is still the model's own."""
    from seqlift.model.recurrent import Recurrent

    keras_model = keras3_model("recurrent_layers")
    model = from_keras(keras_model)
    layers = sum(isinstance(node.op, Recurrent) for node in model.nodes.values())
    runs = []
    original = Recurrent.loop
    monkeypatch.setattr(Recurrent, "loop", lambda self, *a, **k: runs.append(self) or original(self, *a, **k))
    x, references = _pairs()
    result = seqlift.attribute(model, x, references, method=method, task=0)
    assert layers == 5 and len(runs) == layers
    predicted = keras_outputs(keras_model, [np.concatenate([x, references.reshape(-1, *x.shape[1:])])])[0][:, 0]
    expected = (predicted[:len(x), None] - predicted[len(x):].reshape(len(x), -1)).mean(axis=1)  # over references
    np.testing.assert_allclose(result.target_deltas, expected, atol=1e-5)


@pytest.mark.parametrize("revealcancel", [False, True])
def test_a_recurrent_layers_deeplift_loop_gives_the_sequences_the_layers_own_bits(revealcancel):
    """The loop's plain track (the sequences' rows stacked with the pairs' in each product) is the layer's
    own forward pass bit for bit, for every cell; its reference track is the layer on the references."""
    from seqlift.engine import recurrence
    from seqlift.model.recurrent import Recurrent

    model = from_keras(keras3_model("recurrent_layers"))
    rng = np.random.default_rng(5)
    for node in model.nodes.values():
        if not isinstance(node.op, Recurrent):
            continue
        features = model.shapes[node.inputs[0]][-1]
        sequences, references = (tf.constant(rng.normal(size=(n, 9, features)).astype(np.float32)) for n in (3, 6))
        delta = tf.repeat(sequences, 2, axis=0) - references
        loop = recurrence.linearized(node.op, references, delta, revealcancel, sequences)
        np.testing.assert_array_equal(loop.plain.numpy(), node.op(sequences).numpy(), err_msg=node.name)
        np.testing.assert_allclose(loop.reference.numpy(), node.op(references).numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=node.name)
