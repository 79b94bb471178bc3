"""Lambda layers declared by what they compute (seqlift.model.lambdas): every kind of the menu loads,
computes what Keras computes, and is explained with summation-to-delta; log-sum-exp exactly, even where the
reference's exponentials underflow."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops as K

import seqlift
from seqlift.bench.zoo import randomize
from seqlift.model import from_keras
from seqlift.model.lambdas import LAMBDA_KINDS, parse_declaration, parse_lambda_options

#: declaration -> the function a Lambda layer computes, on a (N, 10, 3) tensor
CASES = {
    "identity": lambda t: t,
    "exp": K.exp,
    "log": K.log,  # after a softplus, so its input is positive
    "softplus": K.softplus,
    "sigmoid": K.sigmoid,
    "tanh": K.tanh,
    "relu": K.relu,
    "softmax": lambda t: K.softmax(t, axis=-1),
    "sum": lambda t: K.sum(t, axis=-1, keepdims=True),
    "mean": lambda t: K.mean(t, axis=-1, keepdims=True),
    "max": lambda t: K.max(t, axis=-1, keepdims=True),
    "logsumexp": lambda t: K.logsumexp(t, axis=-1, keepdims=True),
    "logsumexp:1:squeeze": lambda t: K.logsumexp(t, axis=1),
    "sum:-2": lambda t: K.sum(t, axis=-2, keepdims=True),
}


def _model(function) -> keras.Model:
    sequence = keras.Input((12, 4))
    body = keras.layers.Conv1D(3, 3, activation="softplus")(sequence)
    declared = keras.layers.Lambda(function, name="declared")(body)
    out = keras.layers.Dense(2)(keras.layers.Flatten()(declared))
    model = keras.Model(sequence, out)
    randomize(model, seed=9)
    return model


def test_the_cases_cover_the_menu():
    assert {parse_declaration(case).kind for case in CASES} == set(LAMBDA_KINDS)


@pytest.mark.parametrize("declaration", list(CASES))
def test_declared_lambda_computes_what_keras_computes_and_sums_to_delta(declaration):
    keras_model = _model(CASES[declaration])
    model = from_keras(keras_model, lambdas={"declared": declaration})
    rng = np.random.default_rng(1)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 12))]
    expected = keras_model.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x), expected, atol=2e-6 * np.abs(expected).max())
    for method in ("rescale", "revealcancel"):
        result = seqlift.attribute(model, x, 4, method=method, task=[0, 1])
        assert np.abs(result.deltas).max() <= 1e-5 * np.abs(result.target_deltas).max() + 1e-7


def test_logsumexp_is_exact_where_the_references_exponentials_underflow():
    """Inputs whose largest values lie 150 apart: exp of the reference's relative to the input's is 0 in float32."""
    inputs = keras.Input((3,))
    values = keras.layers.Dense(4, use_bias=False, name="values")(inputs)
    joined = keras.layers.Lambda(lambda t: K.logsumexp(t, axis=-1, keepdims=True), name="joined")(values)
    keras_model = keras.Model(inputs, joined)
    keras_model.get_layer("values").set_weights([np.array([[50.0, -20.0, 3.0, 0.5], [1.0, 2.0, -40.0, 8.0],
                                                           [-3.0, 0.5, 2.0, -1.0]], np.float32)])
    model = from_keras(keras_model, lambdas={"joined": "logsumexp"})
    x = np.array([[3.0, 0.5, -1.0]], np.float32)
    refs = np.array([[[0.0, -1.0, 0.0], [-3.0, 0.0, 0.5], [3.0, 0.5, -1.01]]], np.float32)
    result = seqlift.attribute(model, x, refs, method="rescale", return_multipliers=True)
    assert np.all(np.isfinite(result.contributions)) and np.all(np.isfinite(result.multipliers))
    lse = lambda a: np.log(np.exp(a - a.max(-1, keepdims=True)).sum(-1)) + a.max(-1)  # noqa: E731
    weights = keras_model.get_layer("values").get_weights()[0].astype(np.float64)
    change = (lse(x.astype(np.float64) @ weights)[:, None] - lse(refs.astype(np.float64) @ weights)).mean(1)
    np.testing.assert_allclose(result.target_deltas, change, rtol=1e-5)
    np.testing.assert_allclose(result.contributions.sum(-1), change, rtol=1e-5)


@pytest.mark.parametrize("text, message", [
    ("logsum", "unknown Lambda kind 'logsum'"),
    ("exp:1", "is elementwise and takes no axis"),
    ("sum:0", "works over axis 0, the batch"),
    ("sum:x", "is not an integer"),
    ("softmax:-1:squeeze", "cannot read the Lambda declaration"),
])
def test_bad_declarations_are_refused_in_one_line(text, message):
    with pytest.raises(seqlift.SeqliftError, match=message):
        parse_declaration(text, "layer")
    with pytest.raises(seqlift.SeqliftError, match=message):
        parse_lambda_options([f"layer={text}"])


def test_lambda_options():
    assert parse_lambda_options(["a=logsumexp", "*/profile=identity"]) == {"a": "logsumexp", "*/profile": "identity"}
    with pytest.raises(seqlift.SeqliftError, match="not of the form NAME=KIND"):
        parse_lambda_options(["logsumexp"])
    with pytest.raises(seqlift.SeqliftError, match="declares 'a' twice"):
        parse_lambda_options(["a=sum", "a=mean"])


def test_undeclared_lambda_names_the_layer_and_the_option():
    with pytest.raises(seqlift.SeqliftError, match=r"layer 'declared' \(Lambda, layer 2 of 4 in model .*"
                                                   r"--lambda declared=KIND") as caught:
        from_keras(_model(CASES["sum"]))
    assert "\n" not in str(caught.value)
