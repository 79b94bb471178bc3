"""Saturating nonlinearities: their differences and Rescale scores against exact arithmetic.

Where tanh, sigmoid, softplus, elu or selu saturate (or run linear), ``f(x)``
and ``f(x0)`` round to nearly the same float32 number, and a quotient
``Δy / Δx`` built from their difference keeps few correct digits. seqlift takes
``Δy`` from closed forms (:meth:`seqlift.model.ops.Activation.difference`);
these tests compare it with 50-digit arithmetic (mpmath), and whole Rescale
scores through a saturated network with a float64 evaluation of the paper's
rule written here independently of seqlift.
"""
from __future__ import annotations

import mpmath
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from model_zoo import randomize, sequential

import seqlift
from seqlift.model import from_keras, ops

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805
EXACT = {
    "tanh": mpmath.tanh,
    "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)),
    "softplus": lambda v: mpmath.log1p(mpmath.exp(v)),
    "elu": lambda v: v if v > 0 else mpmath.expm1(v),
    "selu": lambda v: _SELU_SCALE * (v if v > 0 else _SELU_ALPHA * mpmath.expm1(v)),
}
FLOAT64 = {
    "tanh": np.tanh,
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "softplus": lambda v: np.logaddexp(0.0, v),
    "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0.0))),
    "selu": lambda v: _SELU_SCALE * np.where(v > 0, v, _SELU_ALPHA * np.expm1(np.minimum(v, 0.0))),
}


@pytest.mark.parametrize("kind", sorted(EXACT))
def test_difference_keeps_its_digits_where_the_function_saturates(kind):
    # two float32 points, as the engine has them: a reference pre-activation x0, an input's x, and Δx = x − x0
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-30, 30, 3000).astype(np.float32)
    x = (x0 + rng.normal(0, 1, x0.shape) * 10.0 ** rng.uniform(-4, 1.3, x0.shape)).astype(np.float32)
    dx = x - x0
    f = EXACT[kind]
    with mpmath.workdps(50):
        exact = np.array([float(f(mpmath.mpf(float(b))) - f(mpmath.mpf(float(a)))) for a, b in zip(x0, x)])
    op = ops.Activation(kind)
    ours = op.difference(tf.constant(x0), tf.constant(dx)).numpy().astype(np.float64)
    naive = (op(tf.constant(x)) - op(tf.constant(x0))).numpy().astype(np.float64)
    moving = exact != 0
    ours_error = np.abs(ours - exact)[moving] / np.abs(exact)[moving]
    naive_error = np.abs(naive - exact)[moving] / np.abs(exact)[moving]
    assert np.quantile(ours_error, 0.99) < 1e-5, np.quantile(ours_error, 0.99)
    assert ours_error.max() < 1e-3, ours_error.max()
    # the plain float32 difference loses digits there: at least a hundred times the error
    assert naive_error.max() > 100 * ours_error.max(), (naive_error.max(), ours_error.max())


def _float64_rescale(weights, kinds, x, refs, task):
    """Rescale contributions of a Dense chain in float64 (the paper's eq. 6 at each nonlinearity,
    the linear rule elsewhere): input multipliers are the gradient of the network whose
    nonlinearities are replaced by their secants Δy/Δx."""
    out = np.zeros(x.shape, dtype=np.float64)
    for i in range(len(x)):
        for r in refs:
            a, a0 = x[i].reshape(-1).astype(np.float64), r.reshape(-1).astype(np.float64)
            slopes = []
            for (w, b), kind in zip(weights, kinds):
                z, z0 = a @ w + b, a0 @ w + b
                if kind is None:
                    a, a0 = z, z0
                    slopes.append(np.ones_like(z))
                    continue
                f = FLOAT64[kind]
                a, a0 = f(z), f(z0)
                dz = z - z0
                moved = np.abs(dz) > 1e-12
                slopes.append(np.where(moved, (a - a0) / np.where(moved, dz, 1.0), (f(z0 + 1e-7) - f(z0 - 1e-7)) / 2e-7))
            m = np.zeros(len(slopes[-1]))
            m[task] = 1.0
            for (w, _), slope in zip(reversed(weights), reversed(slopes)):
                m = w @ (m * slope)
            out[i] += (m * (x[i].reshape(-1) - r.reshape(-1))).reshape(x[i].shape) / len(refs)
    return out


@pytest.mark.parametrize("scale, seed", [(1.0, 6), (3.0, 5), (5.0, 5)])
def test_rescale_through_a_saturated_network_matches_float64(scale, seed):
    kinds = ["tanh", "sigmoid", "softplus", "elu", "selu", None]
    model = sequential((12, 4), layers.Flatten(), *[layers.Dense(8, activation=k) for k in kinds[:-1]],
                       layers.Dense(2, name="logits"))
    randomize(model, seed=seed, scale=scale)  # large weights: many units sit deep in their flat or linear parts
    weights = [(np.asarray(d.kernel, np.float64), np.asarray(d.bias, np.float64)) for d in model.layers[1:]]
    rng = np.random.default_rng(1)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 12))]
    refs = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (4, 12))]
    ours = seqlift.attribute(from_keras(model), x, refs, method="rescale", task=[0, 1])
    truth = np.stack([_float64_rescale(weights, kinds, x, refs, t) for t in (0, 1)])
    scale = np.abs(truth).max()
    assert scale > 0
    error = np.abs(ours.contributions - truth).max() / scale
    assert error <= 2e-6, error  # the plain float32 differences give up to 1e-5 on these


def test_rescale_after_batchnorm_and_saturated_tanh_matches_float64():
    """Conv1D-ReLU, BatchNorm, Conv1D-tanh, global average, Dense: the case where seqlift with plain
    float32 differences was 1.9e-4 (and shap's DeepExplainer 3.5e-4) of the largest score off."""
    model = randomize(sequential(
        (30, 4), layers.Conv1D(6, 5, activation="relu"), layers.BatchNormalization(),
        layers.Conv1D(5, 3, padding="same", activation="tanh"), layers.GlobalAveragePooling1D(),
        layers.Dense(4, activation="relu"), layers.Dense(2, name="logits")), seed=3, scale=0.5)
    rng = np.random.default_rng(5)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (4, 30))]
    refs = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (5, 30))]
    conv1, norm, conv2, _, dense1, dense2 = model.layers
    (k1, b1), (k2, b2), (w3, b3), (w4, _) = ([np.asarray(v, np.float64) for v in layer.get_weights()]
                                             for layer in (conv1, conv2, dense1, dense2))
    gamma, beta, mean, variance = (np.asarray(v, np.float64) for v in norm.get_weights())
    norm_scale = gamma / np.sqrt(variance + norm.epsilon)

    def pre_activations(a):
        z1 = tf.nn.conv1d(a, k1, 1, "VALID") + b1
        z2 = tf.nn.conv1d((tf.nn.relu(z1) - mean) * norm_scale + beta, k2, 1, "SAME") + b2
        z3 = tf.reduce_mean(tf.tanh(z2), 1) @ w3 + b3
        return [(z1, tf.nn.relu), (z2, tf.tanh), (z3, tf.nn.relu)]

    def secant(zx, zr, f, derivative):
        dz = zx - zr
        moved = tf.abs(dz) > 1e-12
        return tf.where(moved, (f(zx) - f(zr)) / tf.where(moved, dz, 1.0), derivative(zr))

    derivatives = [lambda z: tf.cast(z > 0, tf.float64), lambda z: 1 - tf.tanh(z) ** 2,
                   lambda z: tf.cast(z > 0, tf.float64)]
    truth = np.zeros((2,) + x.shape)
    for i in range(len(x)):
        for r in refs:
            px, pr = pre_activations(tf.constant(x[i:i + 1], tf.float64)), pre_activations(tf.constant(r[None], tf.float64))
            s1, s2, s3 = (secant(zx, zr, f, d) for (zx, f), (zr, _), d in zip(px, pr, derivatives))
            for t in range(2):
                point = tf.Variable(r[None].astype(np.float64))
                with tf.GradientTape() as tape:  # the network with each nonlinearity replaced by its secant
                    a1 = s1 * tf.nn.conv1d(point, k1, 1, "VALID")
                    a2 = s2 * tf.nn.conv1d(a1 * norm_scale, k2, 1, "SAME")
                    out = ((s3 * (tf.reduce_mean(a2, 1) @ w3)) @ w4)[0, t]
                m = tape.gradient(out, point).numpy()[0]
                truth[t, i] += m * (x[i] - r) / len(refs)
    ours = seqlift.attribute(from_keras(model), x, refs, method="rescale", task=[0, 1])
    scale = np.abs(truth).max()
    assert scale > 0
    error = np.abs(ours.contributions - truth).max() / scale
    assert error <= 1e-5, error
