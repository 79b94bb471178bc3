"""Model files as ChromBPNet and BPNet write them (tf.keras 2.x ``.h5``), for the tests.

:func:`build` writes, into a folder, small models with random weights and
non-zero biases, and tf.keras's own predictions of them on fixed inputs:

* ``bias.h5``: a ChromBPNet bias model, built by chrombpnet's own
  ``chrombpnet.training.models.bpnet_model`` (the architecture ``chrombpnet
  bias train`` uses), compiled with chrombpnet's ``multinomial_nll`` loss.
* ``chrombpnet.h5``: the full ChromBPNet model, built by chrombpnet's
  ``chrombpnet_with_bias_model`` from ``bias.h5``: the bias model nested as a
  layer, the accessibility model nested as ``model_wo_bias``, profiles joined
  by ``Add`` and counts by a ``Lambda`` computing ``logsumexp``.
* ``chrombpnet_nobias.h5``: the accessibility model alone, saved by
  chrombpnet's own ``save_model_without_bias``.
* ``bpnet.h5``: the original BPNet (kundajelab/bpnet, Avsec et al. 2021)
  with two tasks, written with tf-keras directly from the published layout
  (the bpnet package needs standalone Keras 2.2 and TensorFlow 1): a
  ``same``-padded dilated residual body, per task a stranded ``(L, 2)``
  profile head (``Conv2DTranspose`` between two ``Reshape``) and a ``(2,)``
  counts head, each output named ``<task>/profile`` / ``<task>/counts`` by an
  identity ``Lambda`` as bpnet's ``named_tensor`` does.

Each model's geometry is the real one (ChromBPNet: 2,114 bp in, 1,000 bp
profile out; BPNet: 1,000 bp in and out) with few filters. ``<name>.npz``
holds the inputs ``x`` (a few random one-hot sequences and one all-zero row),
tf.keras's outputs ``output_0``, ``output_1``, ... and their names
``output_names``.

chrombpnet pins TensorFlow 2.8, so it is installed with ``--no-deps`` beside
``tf-keras`` (and ``tensorflow-probability``, which its loss module imports);
see the Makefile. Its model code uses ``tensorflow.keras``, which is tf-keras
only with ``TF_USE_LEGACY_KERAS=1``, set before TensorFlow is imported, and
that switch is process-wide: so the models are built in a subprocess (this
file run as a script), never in the test process, which uses Keras 3.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

#: the model files :func:`build` writes, by name (each with ``<name>.npz`` beside it)
MODELS = ("bias", "chrombpnet", "chrombpnet_nobias", "bpnet")

#: ChromBPNet's geometry: 2,114 bp in, 1,000 bp out (needs 8 dilated layers in
#: the accessibility model: 2,114 − 20 − Σ 2·2^i − 74 = 1,000)
CHROMBPNET_INPUT, CHROMBPNET_OUTPUT = 2114, 1000
BIAS_PARAMS = dict(filters=4, n_dil_layers=4)
ACCESSIBILITY_PARAMS = dict(filters=8, n_dil_layers=8)
BPNET_LENGTH, BPNET_TASKS = 1000, ("Oct4", "Sox2")


def missing_packages() -> list[str]:
    """The packages :func:`build` needs that are not installed here (empty when all are)."""
    needed = {"chrombpnet": "chrombpnet", "tf_keras": "tf-keras", "tensorflow_probability": "tensorflow-probability"}
    return [package for module, package in needed.items() if importlib.util.find_spec(module) is None]


def build(folder: Path) -> dict[str, Path]:
    """Write the model files and their predictions into ``folder``.

    Returns
    -------
    dict[str, Path]
        Each name of :data:`MODELS` mapped to its ``.h5``; ``<name>.npz``
        lies beside it.

    Raises
    ------
    RuntimeError
        When the subprocess fails, with the end of its output.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    done = subprocess.run([sys.executable, __file__, str(folder)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building the chrombpnet test models failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return {name: folder / f"{name}.h5" for name in MODELS}


# --------------------------------------------------------------------------
# the subprocess (tf-keras, TF_USE_LEGACY_KERAS=1)
# --------------------------------------------------------------------------
def _randomize(layers, rng) -> None:
    """Random weights, scaled by fan-in so activations stay moderate, and non-zero biases."""
    for layer in layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = []
        for w in weights:
            if w.ndim == 1:
                new.append(rng.normal(0.0, 0.1, w.shape).astype("float32"))
            else:
                fan_in = max(1, int(w.size // w.shape[-1]))
                new.append((rng.normal(0.0, 1.0, w.shape) / fan_in ** 0.5).astype("float32"))
        layer.set_weights(new)


def _save_predictions(model, x, path: Path) -> None:
    import numpy as np

    outputs = model(x, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    names = [tensor.node.layer.name for tensor in model.outputs]
    np.savez(path, x=x, output_names=np.array(names),
             **{f"output_{i}": np.asarray(out) for i, out in enumerate(outputs)})


def _one_hot_rows(rng, length: int, n: int = 3):
    """``n`` random one-hot sequences and one all-zero row (an all-N sequence)."""
    import numpy as np

    x = np.eye(4, dtype="float32")[rng.integers(0, 4, (n + 1, length))]
    x[-1] = 0.0
    return x


def _chrombpnet_models(folder: Path, rng) -> None:
    """The bias, full and no-bias models through chrombpnet's own model-building code."""
    import contextlib
    import io
    from types import SimpleNamespace

    from chrombpnet.training.models import bpnet_model, chrombpnet_with_bias_model

    args = SimpleNamespace(seed=1234, learning_rate=0.001)
    geometry = dict(counts_loss_weight=10.0, inputlen=CHROMBPNET_INPUT, outputlen=CHROMBPNET_OUTPUT)
    x = _one_hot_rows(rng, CHROMBPNET_INPUT)
    with contextlib.redirect_stdout(io.StringIO()):  # chrombpnet prints its parameters
        bias = bpnet_model.getModelGivenModelOptionsAndWeightInits(args, {**BIAS_PARAMS, **geometry})
    _randomize(bias.layers, rng)
    bias.save(folder / "bias.h5")  # chrombpnet's fit_and_evaluate: model.save(prefix + ".h5")
    _save_predictions(bias, x, folder / "bias.npz")

    params = {**ACCESSIBILITY_PARAMS, **geometry, "bias_model_path": str(folder / "bias.h5")}
    with contextlib.redirect_stdout(io.StringIO()):
        full = chrombpnet_with_bias_model.getModelGivenModelOptionsAndWeightInits(args, params)
        _randomize(full.get_layer("model_wo_bias").layers, rng)
        full.save(folder / "chrombpnet.h5")
        chrombpnet_with_bias_model.save_model_without_bias(full, str(folder / "chrombpnet"))
    _save_predictions(full, x, folder / "chrombpnet.npz")
    import tensorflow as tf

    nobias = tf.keras.models.load_model(folder / "chrombpnet_nobias.h5", compile=False)
    _save_predictions(nobias, x, folder / "chrombpnet_nobias.npz")


def _bpnet_identity(x):
    """bpnet's ``id_fn``: the identity its ``named_tensor`` wraps in a Lambda to name an output."""
    return x


def _bpnet_multinomial_nll(true_counts, logits):
    """The multinomial negative log-likelihood of counts over positions, per strand (bpnet's loss).

    Only its name reaches the file (the training config); it is never run.
    """
    import tensorflow as tf

    counts = tf.transpose(true_counts, (0, 2, 1))
    log_p = tf.nn.log_softmax(tf.transpose(logits, (0, 2, 1)), axis=-1)
    total = tf.reduce_sum(counts, axis=-1)
    log_coefficient = tf.math.lgamma(total + 1) - tf.reduce_sum(tf.math.lgamma(counts + 1), axis=-1)
    return -tf.reduce_mean(log_coefficient + tf.reduce_sum(counts * log_p, axis=-1))


_bpnet_multinomial_nll.__name__ = "multinomial_nll"


def _bpnet_model(folder: Path, rng) -> None:
    """BPNet's published layout (bpnet.models.bpnet_model, DilatedConv1D, DeConv1D, heads) in tf-keras."""
    from tensorflow.keras import Model, layers
    from tensorflow.keras.optimizers import Adam

    filters, n_dil_layers, conv1_kernel, tconv_kernel = 8, 4, 25, 25
    inp = layers.Input(shape=(BPNET_LENGTH, 4), name="seq")
    body = layers.Conv1D(filters, conv1_kernel, padding="same", activation="relu")(inp)
    for i in range(1, n_dil_layers + 1):
        conv = layers.Conv1D(filters, 3, padding="same", activation="relu", dilation_rate=2 ** i)(body)
        body = layers.add([body, conv])
    outputs, losses = [], []
    for task in BPNET_TASKS:
        profile = layers.Reshape((-1, 1, filters))(body)
        profile = layers.Conv2DTranspose(2, kernel_size=(tconv_kernel, 1), padding="same")(profile)
        profile = layers.Reshape((-1, 2))(profile)
        outputs.append(layers.Lambda(_bpnet_identity, name=f"{task}/profile")(profile))
        counts = layers.Dense(2)(layers.GlobalAvgPool1D()(body))
        outputs.append(layers.Lambda(_bpnet_identity, name=f"{task}/counts")(counts))
        losses += [_bpnet_multinomial_nll, "mse"]
    model = Model(inp, outputs)
    model.compile(optimizer=Adam(learning_rate=0.004), loss=losses, loss_weights=[1, 10] * len(BPNET_TASKS))
    _randomize(model.layers, rng)
    model.save(folder / "bpnet.h5")
    _save_predictions(model, _one_hot_rows(rng, BPNET_LENGTH), folder / "bpnet.npz")


def _main(folder: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(20240611)
    _chrombpnet_models(folder, rng)
    _bpnet_model(folder, rng)


if __name__ == "__main__":
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        sys.exit("run through chrombpnet_files.build(): TF_USE_LEGACY_KERAS=1 must be set before TensorFlow loads")
    _main(Path(sys.argv[1]))
