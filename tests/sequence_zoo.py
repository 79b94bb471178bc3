"""Small models of the layers beyond convolutions (issue 12), in Keras 3 and in tf.keras 2.

Every case of :data:`CASES` is a function of a Keras namespace (``keras.Input``,
``keras.Model``, ``keras.layers``) returning a model with one ``(length, 4)``
input, so that the same architecture is built by Keras 3 in the test process
(:func:`keras3_model`) and by tf.keras 2 (tf-keras) in a subprocess
(:func:`write_tf_keras2`, this file run as a script with
``TF_USE_LEGACY_KERAS=1``, which must be set before TensorFlow loads and holds
for the whole process). Weights are random (normal, scale 0.5, biases
included), so every rule sees both signs and non-zero biases.
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


#: name -> builder taking a Keras namespace (see the module docstring)
CASES: dict[str, Callable] = {
    "products_minima_maxima": _products_minima_maxima,
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

    namespace = SimpleNamespace(Input=keras.Input, Model=keras.Model, layers=keras.layers)
    return randomize(CASES[case](namespace), seed)


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
    namespace = SimpleNamespace(Input=keras.Input, Model=keras.Model, layers=keras.layers)
    x = inputs()
    for case, build in CASES.items():
        model = randomize(build(namespace), seed=3)
        model.save(folder / f"{case}.h5")
        np.savez(folder / f"{case}.npz", x=x, y=np.asarray(model(x, training=False)))


if __name__ == "__main__":
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        sys.exit("run through sequence_zoo.write_tf_keras2(): TF_USE_LEGACY_KERAS=1 must be set before TensorFlow loads")
    _write_all(Path(sys.argv[1]))
