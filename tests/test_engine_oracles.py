"""seqlift's engine against independent implementations.

* The original deeplift 0.6.13 (kundajelab), run in a subprocess by
  ``tests/oracles/deeplift_oracle.py`` because it needs TensorFlow's v1
  behaviour: Rescale, RevealCancel and the genomics default agree to 1e-5
  relative on models without max pooling, and with ``maxpool="gradient"`` on
  models with it; gradient x input and guided backprop agree too.
* shap's ``DeepExplainer`` (Rescale rules, its own max-pool rule) on the same
  Keras 3 model and the same references.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers
from model_zoo import paper_dir, randomize, sequential, write_keras2_files

import seqlift
from seqlift.model import from_keras

ORACLE = Path(__file__).parent / "oracles" / "deeplift_oracle.py"
RELATIVE = 1e-5


def _has(module: str) -> bool:
    try:
        __import__(module)
    except Exception:
        return False
    return True


needs_deeplift = pytest.mark.skipif(not _has("deeplift"), reason="the dev extra 'deeplift' (0.6.13) is not installed")


def run_original(folder: Path, requests: dict[tuple, dict]) -> dict[tuple, np.ndarray]:
    """Contributions of the original deeplift for each request, (tasks, pairs, ...), all from one subprocess.

    Each request names a Keras 2 ``config`` and ``weights``, the ``mode``, the ``tasks`` and the arrays
    ``x`` and ``refs`` (one reference row per input row); the answers come back under the requests' keys.
    """
    batch = []
    for i, (key, request) in enumerate(requests.items()):
        np.savez(folder / f"in{i}.npz", x=request["x"], refs=request["refs"])
        batch.append(dict(json=str(request["config"]), weights=str(request["weights"]), mode=request["mode"],
                          npz=str(folder / f"in{i}.npz"), out=str(folder / f"out{i}.npz"),
                          tasks=list(request["tasks"])))
    (folder / "request.json").write_text(json.dumps({"requests": batch}))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, str(ORACLE), str(folder / "request.json")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return {key: np.load(folder / f"out{i}.npz")["contribs"] for i, key in enumerate(requests)}


def assert_close(ours: np.ndarray, theirs: np.ndarray, relative: float = RELATIVE) -> None:
    scale = np.abs(theirs).max()
    assert scale > 0
    error = np.abs(ours - theirs).max() / scale
    assert error <= relative, f"max difference {error:.2e} of the largest contribution"


def one_hot_batch(n: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]


def pairs(x: np.ndarray, n_refs: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs repeated per reference, their shuffled references, and the references per sequence."""
    refs = seqlift.dinucleotide_shuffle(x, n_refs, seed=seed)
    return np.repeat(x, n_refs, axis=0), refs.reshape((-1,) + x.shape[1:]), refs


# --------------------------------------------------------------------------- synthetic Keras 2 models
def _conv_model() -> keras.Model:
    return sequential(
        (40, 4),
        layers.Conv1D(8, 5, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.Conv1D(6, 3, activation="relu"),
        layers.Dropout(0.3),
        layers.AveragePooling1D(4),
        layers.Flatten(),
        layers.Dense(7, activation="tanh"),
        layers.Dense(5, activation="relu"),
        layers.BatchNormalization(),
        layers.Dense(3, activation="sigmoid"),
    )


def _maxpool_model() -> keras.Model:
    return sequential(
        (40, 4),
        layers.Conv1D(8, 5, activation="relu"),
        layers.MaxPooling1D(3),
        layers.Conv1D(6, 3, activation="relu"),
        layers.Flatten(),
        layers.Dense(6, activation="relu"),
        layers.Dense(2, activation="sigmoid"),
    )


def _global_maxpool_model() -> keras.Model:
    """Global max pooling after a ReLU: the original sends the multiplier to every tied zero.

    Full RevealCancel is not compared on it: at those tied positions the ReLU's
    positive part is often exactly 0, where the original divides by its 1e-7
    pseudocount (float32 artefacts of up to ~20% in the multiplier) and seqlift
    takes the limit; emulating the pseudocount brings the two within 1e-3.
    """
    return sequential(
        (40, 4),
        layers.Conv1D(8, 5, activation="relu"),
        layers.Conv1D(6, 3, activation="relu"),
        layers.GlobalMaxPooling1D(),
        layers.Dense(6, activation="relu"),
        layers.Dense(2, activation="sigmoid"),
    )


#: (model, method, max-pool rule) compared with the original on synthetic models
KERAS2_CASES = [
    (_conv_model, "rescale", "deeplift"),
    (_conv_model, "revealcancel", "deeplift"),
    (_conv_model, "genomics_default", "deeplift"),
    (_conv_model, "grad_x_input", "deeplift"),
    (_conv_model, "guided_backprop", "deeplift"),
    (_maxpool_model, "rescale", "gradient"),
    (_maxpool_model, "revealcancel", "gradient"),
    (_maxpool_model, "genomics_default", "gradient"),
    (_global_maxpool_model, "rescale", "gradient"),
    (_global_maxpool_model, "genomics_default", "gradient"),
]
PAPER_METHODS = ["rescale", "revealcancel", "genomics_default"]
#: the paper's background, the flat reference of the paper-model comparison
FLAT = np.array([0.3, 0.2, 0.2, 0.3], np.float32)


@pytest.fixture(scope="module")
def keras2_models(tmp_path_factory) -> dict:
    """Each synthetic model with random weights, as Keras 2 files and loaded by seqlift, once for all its cases."""
    folder = tmp_path_factory.mktemp("keras2_models")
    models = {}
    for build in dict.fromkeys(build for build, _, _ in KERAS2_CASES):
        keras_model = randomize(build(), seed=11, scale=0.4)
        config, weights = write_keras2_files(keras_model, folder, stem=build.__name__)
        models[build] = dict(config=config, weights=weights, model=seqlift.load_model(config, weights=weights),
                             tasks=list(range(keras_model.output_shape[-1])))
    return models


def _keras2_inputs():
    """10 sequences of 40 bp and 2 shuffled references each: (x, x per pair, reference per pair, references)."""
    x = one_hot_batch(10, 40, seed=3)
    return (x, *pairs(x, 2, seed=5))


def _paper_inputs():
    """12 sequences of 200 bp and 3 shuffled references each: (x, x per pair, reference per pair, references)."""
    x = one_hot_batch(12, 200, seed=7)
    return (x, *pairs(x, 3, seed=1))


@pytest.fixture(scope="module")
def original(tmp_path_factory, keras2_models) -> dict[tuple, np.ndarray]:
    """The original deeplift's contributions for every case of this module, from one oracle subprocess.

    Keys: ``(build, method, maxpool)`` of :data:`KERAS2_CASES`; ``("paper", method)`` (3 shuffles,
    tasks 0-2) and ``("paper flat", method)`` (the flat reference, task 0) when the paper's model is here.
    """
    requests = {}
    _, x_pairs, ref_pairs, _ = _keras2_inputs()
    for build, method, maxpool in KERAS2_CASES:
        files = keras2_models[build]
        requests[build, method, maxpool] = dict(config=files["config"], weights=files["weights"], x=x_pairs,
                                                refs=ref_pairs, mode={"grad_x_input": "gradient"}.get(method, method),
                                                tasks=files["tasks"])
    if paper_dir().exists():
        x, x_pairs, ref_pairs, _ = _paper_inputs()
        paper = dict(config=paper_dir() / "model.json", weights=paper_dir() / "model_weights.h5")
        for method in PAPER_METHODS:
            requests["paper", method] = dict(paper, mode=method, x=x_pairs, refs=ref_pairs, tasks=[0, 1, 2])
            flat = np.ascontiguousarray(np.broadcast_to(FLAT, x.shape))
            requests["paper flat", method] = dict(paper, mode=method, x=x, refs=flat, tasks=[0])
    return run_original(tmp_path_factory.mktemp("original"), requests)


# --------------------------------------------------------------------------- the paper's model
@pytest.fixture(scope="module")
def paper_model():
    return seqlift.load_model(paper_dir() / "model.json", weights=paper_dir() / "model_weights.h5")


@needs_deeplift
@pytest.mark.skipif(not paper_dir().exists(), reason="../shared/paper-genomics (the paper's model) is absent")
@pytest.mark.parametrize("method", PAPER_METHODS)
def test_paper_model_agrees_with_original_deeplift(original, paper_model, method):
    x, _, _, refs = _paper_inputs()
    theirs = original["paper", method].reshape(3, 12, 3, 200, 4).mean(axis=2)
    ours = seqlift.attribute(paper_model, x, refs, method=method, task=[0, 1, 2])
    assert_close(ours.contributions, theirs)
    flat = np.ascontiguousarray(np.broadcast_to(FLAT, x.shape))
    ours_flat = seqlift.attribute(paper_model, x, flat[:1], method=method, task=[0])
    assert_close(ours_flat.contributions, original["paper flat", method])


@needs_deeplift
@pytest.mark.parametrize("build, method, maxpool", KERAS2_CASES)
def test_keras2_models_agree_with_original_deeplift(original, keras2_models, build, method, maxpool):
    x, _, _, refs = _keras2_inputs()
    model, tasks = keras2_models[build]["model"], keras2_models[build]["tasks"]
    theirs = original[build, method, maxpool].reshape(len(tasks), 10, 2, 40, 4).mean(axis=2)
    ours = seqlift.attribute(model, x, refs, method=method, task=tasks, maxpool=maxpool)
    assert_close(ours.contributions, theirs)


# --------------------------------------------------------------------------- shap
@pytest.mark.skipif(not _has("shap"), reason="the dev extra 'shap' is not installed")
def test_rescale_agrees_with_shap_deep_explainer():
    import shap

    keras_model = randomize(sequential(
        (30, 4),
        layers.Conv1D(6, 5, activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(5, 3, padding="same", activation="relu"),
        layers.AveragePooling1D(2),
        layers.Flatten(),
        layers.Dense(6, activation="relu"),
        layers.Dense(2, name="logits"),
    ), seed=2, scale=0.5)
    x = one_hot_batch(5, 30, seed=9)
    background = seqlift.dinucleotide_shuffle(x[:1], 6, seed=4)[0]
    explainer = shap.DeepExplainer(keras_model, background)
    theirs = np.stack([np.asarray(v) for v in _shap_per_output(explainer.shap_values(x, check_additivity=False), 2)])
    ours = seqlift.attribute(from_keras(keras_model), x, background, method="rescale", task=[0, 1])
    assert_close(ours.contributions, theirs, relative=1e-4)


def _shap_per_output(values, n_outputs: int) -> list[np.ndarray]:
    """shap returns a list per output (old) or an array with a trailing output axis (new)."""
    if isinstance(values, list):
        return values
    values = np.asarray(values)
    return [values[..., k] for k in range(n_outputs)]


def _shap_dense_activations() -> keras.Model:
    return sequential((20, 4), layers.Flatten(), layers.Dense(8, activation="tanh"),
                      layers.Dense(7, activation="sigmoid"), layers.Dense(6, activation="softplus"),
                      layers.Dense(5, activation="elu"), layers.Dense(2, name="logits"))


def _shap_branches() -> keras.Model:
    inputs = keras.Input((30, 4))
    a = layers.Conv1D(6, 5, padding="same", activation="relu")(inputs)
    b = layers.Conv1D(6, 3, padding="same", activation="sigmoid")(inputs)
    pooled = layers.MaxPooling1D(2)(layers.Add()([a, b]))
    joined = layers.Concatenate()([layers.Flatten()(pooled), layers.GlobalAveragePooling1D()(a)])
    return keras.Model(inputs, layers.Dense(2, name="logits")(layers.Dense(5, activation="relu")(joined)))


def _shap_conv2d() -> keras.Model:
    return sequential((12, 8, 4), layers.Conv2D(5, (3, 3), activation="relu"), layers.MaxPooling2D(2),
                      layers.Flatten(), layers.Dense(4, activation="tanh"), layers.Dense(2, name="logits"))


@pytest.mark.skipif(not _has("shap"), reason="the dev extra 'shap' is not installed")
@pytest.mark.parametrize("build", [_shap_dense_activations, _shap_branches, _shap_conv2d])
def test_rescale_agrees_with_shap_on_activations_branches_and_conv2d(build):
    """tanh, sigmoid, softplus and elu; Add, Concatenate and max pooling in a functional graph; Conv2D."""
    import shap

    keras_model = randomize(build(), seed=3, scale=0.5)
    rng = np.random.default_rng(5)
    spatial = tuple(keras_model.inputs[0].shape[1:-1])
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (4,) + spatial)]
    background = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (5,) + spatial)]
    explainer = shap.DeepExplainer(keras_model, background)
    theirs = np.stack([np.asarray(v) for v in _shap_per_output(explainer.shap_values(x, check_additivity=False), 2)])
    ours = seqlift.attribute(from_keras(keras_model), x, background, method="rescale", task=[0, 1])
    assert_close(ours.contributions, theirs, relative=1e-4)
