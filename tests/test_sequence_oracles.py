"""The rules of issue 12 against exact hand computations and independent implementations.

* Products, minima and maxima of linear functions of the input: the exact
  Shapley split, computed here in float64 by enumerating the orders in which
  the inputs change (independently of seqlift's coalition sums).
* shap's ``DeepExplainer`` (DeepSHAP, Rescale) on the same Keras 3 models and
  references, in its own process (``tests/oracles/shap_oracle.py``: shap
  leaves gradient overrides behind), wherever it runs; where it does not
  (``Dot``, LSTM, GRU, multi-head attention with layer normalisation), the test records shap's refusal.
* Rescale and RevealCancel through LSTM and GRU layers: contributions carried
  forwards step by step in float64 (:class:`_Traced`), against seqlift's
  multipliers propagated backwards through the loop.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers
from sequence_zoo import randomize

import seqlift
from seqlift.engine import DEEPLIFT_METHODS
from seqlift.model import from_keras

SHAP_ORACLE = Path(__file__).parent / "oracles" / "shap_oracle.py"
WIDTH = 6


def _linear_heads(n: int, merge: layers.Layer, seed: int) -> keras.Model:
    """``merge`` of ``n`` linear functions ``a_k = w_k · x + c_k`` of a flattened (WIDTH, 4) input."""
    x = keras.Input((WIDTH, 4))
    flat = layers.Flatten()(x)
    heads = [layers.Dense(1, name=f"head{k}")(flat) for k in range(n)]
    return randomize(keras.Model(x, merge(heads)), seed)


def _exact_shapley(fn, x, refs, weights, biases) -> np.ndarray:
    """Contributions of each input element, averaged over references, by the Shapley split of ``fn``
    over its linear inputs (enumerating the orders in which they change), in float64."""
    x, refs = x.reshape(len(x), -1).astype(np.float64), refs.reshape(len(x), refs.shape[1], -1).astype(np.float64)
    w = np.stack(weights).astype(np.float64)  # (n, features)
    c = np.asarray(biases, np.float64)
    n = len(w)
    orders = list(itertools.permutations(range(n)))
    out = np.zeros_like(x)
    for i in range(len(x)):
        for r in refs[i]:
            a, a0 = w @ x[i] + c, w @ r + c
            credit = np.zeros(n)
            for order in orders:
                point = a0.copy()
                for k in order:
                    before = fn(point)
                    point[k] = a[k]
                    credit[k] += (fn(point) - before) / len(orders)
            # each linear input a_k passes its credit to the input elements in proportion to w_k Δx
            for k in range(n):
                out[i] += credit[k] * w[k] * (x[i] - r) / (a[k] - a0[k])
    return out.reshape(len(x), WIDTH, 4) / refs.shape[1]


CASES = {
    "product": (2, layers.Multiply, np.prod),
    "product_of_three": (3, layers.Multiply, np.prod),
    "minimum": (2, layers.Minimum, np.min),
    "maximum_of_three": (3, layers.Maximum, np.max),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_products_minima_and_maxima_of_linear_functions_are_split_exactly(case):
    n, merge_class, fn = CASES[case]
    keras_model = _linear_heads(n, merge_class(name="merged"), seed=n)
    rng = np.random.default_rng(len(case))
    x = rng.normal(0.0, 1.0, (3, WIDTH, 4)).astype(np.float32)
    refs = rng.normal(0.0, 1.0, (3, 4, WIDTH, 4)).astype(np.float32)
    weights = [keras_model.get_layer(f"head{k}").get_weights() for k in range(n)]
    expected = _exact_shapley(fn, x, refs, [w[:, 0] for w, _ in weights], [b[0] for _, b in weights])
    model = from_keras(keras_model)
    for method in DEEPLIFT_METHODS:
        ours = seqlift.attribute(model, x, refs, method=method, target_layer="merged").contributions
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max(), err_msg=method)


def test_dot_product_of_two_linear_maps_is_split_term_by_term():
    """``y = a · b`` with ``a = W x + c``, ``b = V x + d``: every term ``a_k b_k`` is split exactly,
    ``m_a = ½(b + b0)`` and ``m_b = ½(a + a0)``."""
    x_in = keras.Input((WIDTH, 4))
    flat = layers.Flatten()(x_in)
    a, b = layers.Dense(3, name="a")(flat), layers.Dense(3, name="b")(flat)
    keras_model = randomize(keras.Model(x_in, layers.Dot(axes=1, name="dot")([a, b])), seed=7)
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.0, (2, WIDTH, 4)).astype(np.float32)
    refs = rng.normal(0.0, 1.0, (2, 3, WIDTH, 4)).astype(np.float32)
    (w, c), (v, d) = (keras_model.get_layer(name).get_weights() for name in ("a", "b"))
    w, c, v, d = (t.astype(np.float64) for t in (w, c, v, d))
    expected = np.zeros((2, WIDTH * 4))
    for i in range(2):
        xi = x[i].reshape(-1).astype(np.float64)
        for r in refs[i].reshape(3, -1).astype(np.float64):
            a1, a0, b1, b0 = xi @ w + c, r @ w + c, xi @ v + d, r @ v + d
            expected[i] += (w @ (0.5 * (b1 + b0)) + v @ (0.5 * (a1 + a0))) * (xi - r) / 3
    ours = seqlift.attribute(from_keras(keras_model), x, refs, method="rescale", target_layer="dot").contributions
    np.testing.assert_allclose(ours, expected.reshape(2, WIDTH, 4), rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- shap
def _shap_models() -> dict[str, keras.Model]:
    length = 8
    x = keras.Input((length, 4))
    linear = layers.Conv1D(3, 3, padding="same")(x)
    gate = layers.Conv1D(3, 3, padding="same", activation="sigmoid")(x)
    other = layers.Conv1D(3, 2, padding="same", activation="tanh")(x)
    gated = layers.Multiply()([linear, gate])
    merged = layers.Concatenate()([gated, layers.Minimum()([linear, other]), layers.Maximum()([gate, other])])
    models = {"gated_min_max": keras.Model(x, layers.Dense(2)(layers.Flatten()(merged)))}
    y = keras.Input((length, 4))
    dot = layers.Dot(axes=2)([layers.Conv1D(3, 3, padding="same")(y), layers.Conv1D(3, 2, padding="same")(y)])
    models["dot"] = keras.Model(y, layers.Dense(2)(layers.Flatten()(dot)))
    z = keras.Input((length, 4))
    models["lstm"] = keras.Model(z, layers.Dense(2)(layers.LSTM(3)(z)))
    g = keras.Input((length, 4))
    models["gru"] = keras.Model(g, layers.Dense(2)(layers.GRU(3)(g)))
    w = keras.Input((length, 4))
    h = layers.Conv1D(4, 3, padding="same")(w)
    attended = layers.Add()([layers.MultiHeadAttention(num_heads=2, key_dim=2)(h, h), h])
    models["attention"] = keras.Model(w, layers.Dense(2)(layers.Flatten()(layers.LayerNormalization()(attended))))
    return {name: randomize(model, seed=5) for name, model in models.items()}


@pytest.fixture(scope="module")
def shap_results(tmp_path_factory):
    """shap's values for each model of :func:`_shap_models`, from one subprocess."""
    pytest.importorskip("shap", reason="the dev extra 'shap' is not installed")
    folder = tmp_path_factory.mktemp("shap")
    rng = np.random.default_rng(11)
    x = rng.normal(0.0, 1.0, (3, 8, 4)).astype(np.float32)
    background = rng.normal(0.0, 1.0, (4, 8, 4)).astype(np.float32)
    np.savez(folder / "data.npz", x=x, background=background)
    models, jobs = _shap_models(), []
    for name, model in models.items():
        model.save(folder / f"{name}.keras")
        jobs.append(dict(model=str(folder / f"{name}.keras"), npz=str(folder / "data.npz"),
                         out=str(folder / f"{name}.npz")))
    (folder / "request.json").write_text(json.dumps(jobs))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, str(SHAP_ORACLE), str(folder / "request.json")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return models, x, background, {name: dict(np.load(folder / f"{name}.npz")) for name in models}


def test_rescale_agrees_with_shap_on_gated_convolutions_minima_and_maxima(shap_results):
    models, x, background, results = shap_results
    theirs = results["gated_min_max"]["values"]
    ours = seqlift.attribute(from_keras(models["gated_min_max"]), x, background, method="rescale",
                             task=[0, 1]).contributions
    assert np.abs(ours - theirs).max() <= 1e-5 * np.abs(theirs).max()


def test_shap_cannot_explain_dot_products_recurrent_or_attention_layers(shap_results):
    """Where seqlift's own tests are the only check (hand computations, float64 forward computations and
    summation-to-delta)."""
    *_, results = shap_results
    for name in ("dot", "lstm", "gru", "attention"):
        assert "error" in results[name], name


# --------------------------------------------------------------------------- recurrent layers in float64
_FUNCTIONS = {"tanh": (np.tanh, lambda v: 1.0 - np.tanh(v) ** 2),
              "sigmoid": (lambda v: 1.0 / (1.0 + np.exp(-v)), lambda v: np.exp(-v) / (1.0 + np.exp(-v)) ** 2),
              "relu": (lambda v: np.maximum(v, 0.0), lambda v: (v > 0).astype(np.float64))}


def _positive_share(value: np.ndarray) -> np.ndarray:
    """What share of a term goes to the positive part: 1 if it is positive, 0 if negative, ½ if 0 (a term
    whose value is 0 may still carry contributions that cancel: after a ReLU whose parts cross 0, say)."""
    return np.where(value > 0, 1.0, np.where(value < 0, 0.0, 0.5))


class _Traced:
    """A value inside a recurrent cell, in float64: its values at the reference and at the input, and the
    contribution of every input element to the positive and to the negative part of its difference
    (``(pos + neg).sum(-1)`` is the difference), carried forwards by the paper's rules: an implementation
    independent of seqlift's, which propagates multipliers backwards through the loop.

    Kernels split their output by the sign of each term ``w Δx``; activations apply Rescale or RevealCancel
    (``rule``); products take the two-player Shapley split and split the result by its own sign. Signs are
    read from the difference of the two values (as the graph's rules read them), where a difference that is
    exactly 0 (after a ReLU, say) stays 0.
    """

    def __init__(self, reference, actual, pos, neg, rule: str) -> None:
        self.reference, self.actual, self.pos, self.neg, self.rule = reference, actual, pos, neg, rule

    def _new(self, reference, actual, pos, neg) -> "_Traced":
        return _Traced(reference, actual, pos, neg, self.rule)

    @property
    def delta(self) -> np.ndarray:
        return self.actual - self.reference

    def by_own_sign(self) -> "_Traced":
        positive = _positive_share(self.delta)[:, None]
        total = self.pos + self.neg
        return self._new(self.reference, self.actual, positive * total, (1.0 - positive) * total)

    def kernel(self, w: np.ndarray, b: np.ndarray | float = 0.0) -> "_Traced":
        total = self.pos + self.neg
        positive = _positive_share(w * self.delta[:, None])  # by the sign of each term w_uo Δx_u
        return self._new(self.reference @ w + b, self.actual @ w + b, np.einsum("uo,un->on", positive * w, total),
                         np.einsum("uo,un->on", (1.0 - positive) * w, total))

    def __add__(self, other: "_Traced") -> "_Traced":
        return self._new(self.reference + other.reference, self.actual + other.actual, self.pos + other.pos,
                         self.neg + other.neg)

    def __mul__(self, other: "_Traced") -> "_Traced":
        """Exact Shapley split of ``a b``: ``Δa`` times ``b0 + Δb/2``, ``Δb`` times ``a0 + Δa/2``."""
        a0, b0, da, db = self.reference, other.reference, self.delta, other.delta
        contributions = (b0 + db / 2)[:, None] * (self.pos + self.neg) + (a0 + da / 2)[:, None] * (other.pos
                                                                                                  + other.neg)
        return self._new(a0 * b0, self.actual * other.actual, contributions, 0.0 * contributions).by_own_sign()

    def one_minus(self) -> "_Traced":
        return self._new(1.0 - self.reference, 1.0 - self.actual, -self.neg, -self.pos)

    def split(self, parts: int) -> list["_Traced"]:
        return [self._new(*blocks) for blocks in zip(*(np.split(t, parts) for t in (
            self.reference, self.actual, self.pos, self.neg)))]

    def activate(self, name: str) -> "_Traced":
        f, derivative = _FUNCTIONS[name]
        x0 = self.reference
        if self.rule == "rescale":
            d = self.delta
            assert np.all(np.abs(d) > 1e-9), "the test's inputs must move every unit"
            m = ((f(x0 + d) - f(x0)) / d)[:, None]
            return self._new(f(x0), f(self.actual), m * self.pos, m * self.neg)
        dp, dn = self.pos.sum(-1), self.neg.sum(-1)
        multipliers = []
        for part, other in ((dp, dn), (dn, dp)):  # eq. 7-8, and their limit where a part is 0
            change = 0.5 * (f(x0 + part) - f(x0)) + 0.5 * (f(x0 + other + part) - f(x0 + other))
            limit = 0.5 * (derivative(x0) + derivative(x0 + other))
            small = np.abs(part) < 1e-9
            multipliers.append(np.where(small, limit, change / np.where(small, 1.0, part))[:, None])
        return self._new(f(x0), f(self.actual), multipliers[0] * self.pos, multipliers[1] * self.neg)


def _run_cell(layer: layers.Layer, steps: list[_Traced]) -> list[_Traced]:
    """A Keras LSTM, GRU or SimpleRNN layer on traced steps, by the equations of Keras's documentation."""
    config, weights = layer.get_config(), layer.get_weights()
    kernel, recurrent_kernel = weights[0].astype(np.float64), weights[1].astype(np.float64)
    bias = weights[2].astype(np.float64) if len(weights) > 2 else np.zeros((2, kernel.shape[1]))
    units, n = recurrent_kernel.shape[0], steps[0].pos.shape[-1]
    act, gate = config["activation"], config.get("recurrent_activation")
    h = c = _Traced(np.zeros(units), np.zeros(units), np.zeros((units, n)), np.zeros((units, n)), steps[0].rule)
    outputs = []
    for x in (steps[::-1] if config["go_backwards"] else steps):
        if isinstance(layer, layers.LSTM):
            i, f, g, o = (x.kernel(kernel, bias) + h.kernel(recurrent_kernel)).split(4)
            c = f.activate(gate) * c + i.activate(gate) * g.activate(act)
            h = o.activate(gate) * c.activate(act)
        elif isinstance(layer, layers.GRU) and config["reset_after"]:
            x_z, x_r, x_h = x.kernel(kernel, bias[0]).split(3)
            h_z, h_r, h_h = h.kernel(recurrent_kernel, bias[1]).split(3)
            z, r = (x_z + h_z).activate(gate), (x_r + h_r).activate(gate)
            h = z * h + z.one_minus() * (x_h + r * h_h).activate(act)
        elif isinstance(layer, layers.GRU):
            x_z, x_r, x_h = x.kernel(kernel, bias.reshape(-1)[: 3 * units]).split(3)
            z = (x_z + h.kernel(recurrent_kernel[:, :units])).activate(gate)
            r = (x_r + h.kernel(recurrent_kernel[:, units: 2 * units])).activate(gate)
            h = z * h + z.one_minus() * (x_h + (r * h).kernel(recurrent_kernel[:, 2 * units:])).activate(act)
        else:
            h = (x.kernel(kernel, bias.reshape(-1)[:units]) + h.kernel(recurrent_kernel)).activate(act)
        outputs.append(h)
    return outputs if config["return_sequences"] else outputs[-1:]


def test_deeplift_through_recurrent_layers_equals_a_float64_forward_computation():
    """LSTM, GRU (reset after and before) and SimpleRNN, forwards and backwards, last step and every step,
    under Rescale and RevealCancel (ReLU states whose parts cross 0 while the state stays at 0 included):
    seqlift's multipliers, computed backwards through the loop, against
    contributions carried forwards in float64."""
    length = 5
    x_in = keras.Input((length, 4))
    recurrent = [layers.LSTM(2, return_sequences=True, go_backwards=True), layers.GRU(2),
                 layers.GRU(2, reset_after=False, return_sequences=True, activation="relu"),
                 layers.SimpleRNN(2, activation="relu", return_sequences=True)]
    flat = [layers.Flatten()(r(x_in)) if r.return_sequences else r(x_in) for r in recurrent]
    keras_model = randomize(keras.Model(x_in, layers.Dense(1, name="head")(layers.Concatenate()(flat))), seed=13)
    model = from_keras(keras_model)
    rng = np.random.default_rng(13)
    x = rng.normal(0.0, 1.0, (2, length, 4))
    refs = rng.normal(0.0, 1.0, (2, 2, length, 4))
    w = keras_model.get_layer("head").get_weights()[0].astype(np.float64)
    for rule in ("rescale", "revealcancel"):
        expected = np.zeros((2, length * 4))
        for row in range(2):
            for ref in refs[row]:
                delta = np.diag((x[row] - ref).reshape(-1))  # each input element's contribution to itself
                steps = [_Traced(ref[t], x[row, t], delta[t * 4: (t + 1) * 4], np.zeros((4, length * 4)),
                                 rule).by_own_sign() for t in range(length)]
                outputs = [out for layer in recurrent for out in _run_cell(layer, steps)]
                contributions = np.concatenate([out.pos + out.neg for out in outputs])
                expected[row] += w[:, 0] @ contributions / len(refs[row])
        ours = seqlift.attribute(model, x.astype(np.float32), refs.astype(np.float32), method=rule,
                                 task=0).contributions
        np.testing.assert_allclose(ours.reshape(2, -1), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max(),
                                   err_msg=rule)
