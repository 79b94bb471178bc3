"""Small models of the layers beyond convolutions (issue 12), in Keras 3 and in tf.keras 2.

Every case of :data:`CASES` is a function of a Keras namespace (``keras.Input``,
``keras.Model``, ``keras.layers``, and ``keras3``: whether it is Keras 3) returning a model with one ``(length, 4)``
input, so that the same architecture is built by Keras 3 in the test process
(:func:`keras3_model`) and by tf.keras 2 (tf-keras) in a subprocess
(:func:`write_tf_keras2`, this file run as a script with
``TF_USE_LEGACY_KERAS=1``, which must be set before TensorFlow loads and holds
for the whole process). Weights are random (normal, biases included, at the
case's scale), so every rule sees both signs and non-zero biases.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np

LENGTH = 8
#: rows of the inputs whose predictions the tf.keras 2 files carry
ROWS = 3


def _head(k, *tensors):
    """Flatten each tensor, join them and end in ``Dense(2)``."""
    flat = [k.layers.Flatten()(t) if len(t.shape) > 2 else t for t in tensors]
    return k.layers.Dense(2)(flat[0] if len(flat) == 1 else k.layers.Concatenate()(flat))


def _products_minima_maxima(k):
    """Multiply of two (a gated convolution) and of three inputs, Minimum, Maximum of three, Dot over
    channels and of two vectors."""
    x = k.Input((LENGTH, 4))
    a, b, c = (k.layers.Conv1D(3, w, padding="same")(x) for w in (1, 2, 3))
    gate = k.layers.Conv1D(3, 3, padding="same", activation="sigmoid")(x)
    flat = k.layers.Flatten()(x)
    u, v = k.layers.Dense(5)(flat), k.layers.Dense(5, activation="tanh")(flat)
    return k.Model(x, _head(k, k.layers.Multiply()([a, gate]), k.layers.Multiply()([a, b, c]),
                            k.layers.Minimum()([a, b]), k.layers.Maximum()([a, b, c]),
                            k.layers.Dot(axes=2)([b, c]), k.layers.Dot(axes=1)([u, v])))


def _layer_normalizations(k):
    """LayerNormalization over the last axis, over two axes without centre, over the steps without
    scale, bare; with Keras 3 also rms_scaling."""
    x = k.Input((LENGTH, 4))
    h = k.layers.Conv1D(5, 3, padding="same")(x)
    normalized = [k.layers.LayerNormalization()(h),
                  k.layers.LayerNormalization(axis=[1, 2], center=False, epsilon=0.01)(h),
                  k.layers.LayerNormalization(axis=1, scale=False)(h),
                  k.layers.LayerNormalization(center=False, scale=False)(h)]
    if k.keras3:
        normalized.append(k.layers.LayerNormalization(rms_scaling=True)(h))
    return k.Model(x, _head(k, *normalized))


def _self_attention_block(k):
    """A convolution + causal self-attention + residual + LayerNormalization block (Enformer-style)."""
    x = k.Input((LENGTH, 4))
    h = k.layers.Conv1D(6, 3, padding="same", activation="relu")(x)
    attended = k.layers.MultiHeadAttention(2, 3)(h, h, use_causal_mask=True)
    h = k.layers.LayerNormalization()(k.layers.Add()([h, attended]))
    return k.Model(x, _head(k, k.layers.MultiHeadAttention(2, 4, value_dim=3)(h, h)))


def _cross_attention(k):
    """MultiHeadAttention of the steps over a shorter pooled sequence, with a separate key, value_dim,
    output_shape and no bias."""
    x = k.Input((LENGTH, 4))
    query = k.layers.Conv1D(5, 3, padding="same")(x)
    pooled = k.layers.MaxPooling1D(2)(k.layers.Conv1D(6, 3, padding="same", activation="tanh")(x))
    key = k.layers.Dense(4)(pooled)
    mha = k.layers.MultiHeadAttention(3, 2, value_dim=4, output_shape=7, use_bias=False)
    return k.Model(x, _head(k, mha(query, pooled, key=key)))


def _attention_layers(k):
    """Attention with dot scores (scaled, causal) and concat scores; AdditiveAttention."""
    x = k.Input((LENGTH, 4))
    q = k.layers.Conv1D(4, 3, padding="same")(x)
    v = k.layers.Conv1D(4, 2, padding="same", activation="tanh")(x)
    dot = k.layers.Attention(use_scale=True)([q, v], use_causal_mask=True)
    concat = k.layers.Attention(use_scale=True, score_mode="concat")([q, v, q])
    return k.Model(x, _head(k, dot, concat, k.layers.AdditiveAttention()([q, v])))


def _recurrent_layers(k):
    """LSTM, GRU (reset after and before) and SimpleRNN: last step and every step, forwards and
    backwards, default and other activations (hard_sigmoid: slope 1/6 in Keras 3, 0.2 in tf.keras 2),
    with and without bias."""
    x = k.Input((LENGTH, 4))
    h = k.layers.Conv1D(3, 3, padding="same", activation="relu")(x)
    return k.Model(x, _head(
        k, k.layers.LSTM(3, recurrent_activation="hard_sigmoid")(h),
        k.layers.LSTM(2, return_sequences=True, go_backwards=True, activation="relu")(h),
        k.layers.GRU(3, return_sequences=True)(h),
        k.layers.GRU(2, reset_after=False, go_backwards=True, recurrent_activation="tanh")(h),
        k.layers.SimpleRNN(2, activation="relu", use_bias=False, go_backwards=True)(h)))


def _bidirectional_layers(k):
    """Bidirectional with every merge mode (concat, sum, ave, mul, none), one with a separate backward
    layer (the merges on SimpleRNN, the cheapest cell to trace; LSTM concatenated, as in DanQ)."""
    x = k.Input((LENGTH, 4))
    h = k.layers.Conv1D(3, 3, padding="same")(x)
    bi, rnn = k.layers.Bidirectional, k.layers.SimpleRNN
    unmerged = bi(rnn(2, return_sequences=True), merge_mode=None)(h)
    return k.Model(x, _head(
        k, bi(k.layers.LSTM(2, return_sequences=True))(h),
        bi(rnn(2), backward_layer=k.layers.GRU(2, go_backwards=True), merge_mode="sum")(h),
        bi(rnn(2, return_sequences=True), merge_mode="mul")(h),
        bi(rnn(2, activation="relu"), merge_mode="ave")(h),
        *unmerged))


def _convolution_variants(k):
    """Conv1DTranspose (valid and same, strided), UpSampling1D, SeparableConv1D, DepthwiseConv1D."""
    x = k.Input((LENGTH, 4))
    h = k.layers.Conv1D(3, 3, padding="same")(x)
    return k.Model(x, _head(
        k, k.layers.Conv1DTranspose(2, 3, strides=2, activation="relu")(h),
        k.layers.Conv1DTranspose(2, 2, padding="same", use_bias=False)(h),
        k.layers.UpSampling1D(3)(h),
        k.layers.SeparableConv1D(4, 3, depth_multiplier=2, padding="same", activation="tanh")(h),
        k.layers.DepthwiseConv1D(3, depth_multiplier=2, activation="sigmoid")(h)))


#: name -> (builder taking a Keras namespace, see the module docstring; scale of the random weights)
CASES: dict[str, tuple[Callable, float]] = {
    "products_minima_maxima": (_products_minima_maxima, 0.5),
    "layer_normalizations": (_layer_normalizations, 0.5),
    # attention logits kept moderate, as trained ones are: the exact softmax rule splits a product of the
    # exponentials and 1/Σ exp, whose float32 contributions cancel where the two sums differ by orders of magnitude
    "self_attention_block": (_self_attention_block, 0.3),
    "cross_attention": (_cross_attention, 0.3),
    "attention_layers": (_attention_layers, 0.3),
    "recurrent_layers": (_recurrent_layers, 0.5),
    "bidirectional_layers": (_bidirectional_layers, 0.5),
    "convolution_variants": (_convolution_variants, 0.5),
}


def randomize(model, seed: int, scale: float = 0.5):
    """Normal random weights (``scale``), biases included, for a Keras 3 or tf.keras 2 model."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, scale, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def inputs(seed: int = 1, rows: int = ROWS) -> np.ndarray:
    """Random normal inputs ``(rows, LENGTH, 4)``."""
    return np.random.default_rng(seed).normal(0.0, 1.0, (rows, LENGTH, 4)).astype(np.float32)


def keras3_model(case: str, seed: int = 3):
    """The case built by Keras 3, with random weights."""
    import keras

    build, scale = CASES[case]
    return randomize(build(SimpleNamespace(Input=keras.Input, Model=keras.Model, layers=keras.layers, keras3=True)),
                     seed, scale)


def write_tf_keras2(folder: Path) -> dict[str, Path]:
    """Every case as a tf.keras 2 ``.h5`` (``<case>.h5``) with tf.keras's predictions (``<case>.npz``: ``x``, ``y``).

    Runs this file as a subprocess with ``TF_USE_LEGACY_KERAS=1``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, __file__, str(folder)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"writing the tf.keras 2 files failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return {case: folder / f"{case}.h5" for case in CASES}


def _write_all(folder: Path) -> None:
    import tensorflow as tf
    import tf_keras

    keras = tf.keras
    assert tf_keras.__version__.startswith("2."), tf_keras.__version__
    namespace = SimpleNamespace(Input=keras.Input, Model=keras.Model, layers=keras.layers, keras3=False)
    x = inputs()
    for case, (build, scale) in CASES.items():
        model = randomize(build(namespace), 3, scale)
        model.save(folder / f"{case}.h5")
        np.savez(folder / f"{case}.npz", x=x, y=np.asarray(model(x, training=False)))


if __name__ == "__main__":
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        sys.exit("run through sequence_zoo.write_tf_keras2(): TF_USE_LEGACY_KERAS=1 must be set before TensorFlow loads")
    _write_all(Path(sys.argv[1]))
