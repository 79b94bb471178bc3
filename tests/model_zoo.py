"""Tiny Keras models and Keras-file writers for tests (reusable by any test module).

* :func:`randomize` gives a model non-trivial weights (non-zero biases,
  BatchNormalization statistics away from 0/1).
* :func:`save_all` saves a Keras 3 model as ``.keras`` and legacy ``.h5``.
* :func:`keras2_config`, :func:`write_keras2_weights` and
  :func:`write_tf_keras2_h5` write the Keras 2.x formats (which cannot be
  produced with the installed Keras 3) from a Keras 3 model: a JSON config in
  the Keras 2.0/2.1 (bare layer list), 2.2 or tf.keras 2 dialect, a weights
  file in the ``save_weights`` layout, and a tf.keras-2 full-model ``.h5``.
* :func:`paper_dir` locates the DeepLIFT paper's genomics model beside the
  checkout.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

PAPER_MODEL_README = "README.md"


def paper_dir() -> Path:
    """``../shared/paper-genomics`` beside the checkout (may not exist)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "paper-genomics"


# --------------------------------------------------------------------------
# weights and inputs
# --------------------------------------------------------------------------
def randomize(model: keras.Model, seed: int = 0, scale: float = 0.5) -> keras.Model:
    """Set every weight of ``model`` to random values; variances stay positive."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        if "variance" in variable.name:
            value = rng.uniform(0.5, 2.0, shape)
        elif variable.name == "gamma":
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, scale, shape)
        variable.assign(value.astype(np.float32))
    return model


def random_inputs(model: keras.Model, batch: int = 4, seed: int = 1) -> list[np.ndarray]:
    """One random float32 array per model input."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 1.0, (batch, *tuple(t.shape)[1:])).astype(np.float32) for t in model.inputs]


def keras_outputs(model: keras.Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """``model.predict`` as a list of arrays, in the order of ``model.outputs``."""
    out = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    if isinstance(out, dict):
        return [np.asarray(out[key]) for key in sorted(out)]
    if isinstance(out, (list, tuple)):
        return [np.asarray(o) for o in out]
    return [np.asarray(out)]


def as_list(value: Any) -> list[np.ndarray]:
    return [np.asarray(v) for v in value] if isinstance(value, list) else [np.asarray(value)]


def save_all(model: keras.Model, folder: Path, stem: str = "model") -> dict[str, Path]:
    """Save ``model`` as ``<stem>.keras`` and legacy ``<stem>.h5``."""
    paths = {"keras": folder / f"{stem}.keras", "h5": folder / f"{stem}.h5"}
    model.save(paths["keras"])
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)
    model.save(paths["h5"])
    return paths


# --------------------------------------------------------------------------
# model builders
# --------------------------------------------------------------------------
def sequential(input_shape: tuple, *stack: layers.Layer, name: str | None = None) -> keras.Model:
    """A Sequential model with an explicit Input."""
    return keras.Sequential([keras.Input(input_shape), *stack], name=name)


def functional_two_inputs() -> keras.Model:
    """Two inputs, two outputs, a shared layer, Concatenate/Add/Subtract/Average."""
    a = keras.Input((12, 4), name="seq")
    b = keras.Input((6,), name="extra")
    conv = layers.Conv1D(5, 3, padding="same", activation="relu", name="conv")(a)
    pooled = layers.GlobalMaxPooling1D(name="gmax")(conv)
    shared = layers.Dense(5, name="shared")
    s1 = shared(pooled)
    s2 = shared(layers.Dense(5, name="proj")(b))
    added = layers.Add(name="add")([s1, s2])
    diff = layers.Subtract(name="sub")([s1, s2])
    mean = layers.Average(name="avg")([s1, s2, added])
    cat = layers.Concatenate(name="cat")([added, diff, mean])
    out1 = layers.Dense(3, activation="sigmoid", name="out1")(cat)
    out2 = layers.Dense(2, name="out2")(diff)
    return keras.Model([a, b], [out1, out2], name="two_inputs")


def nested_model() -> keras.Model:
    """A Sequential and a two-output Functional nested in a Functional; the Sequential called twice."""
    block = keras.Sequential(
        [keras.Input((6,)), layers.Dense(6, activation="tanh", name="inner_dense"), layers.BatchNormalization(name="inner_bn")],
        name="block",
    )
    sub_in = keras.Input((6,), name="sub_in")
    h = layers.Dense(4, name="sub_h")(sub_in)
    sub = keras.Model(sub_in, [h, layers.Dense(2, activation="relu", name="sub_o")(h)], name="sub")
    x = keras.Input((6,), name="x")
    y1 = block(x)
    y2 = block(layers.Dense(6, name="pre")(x))
    h_out, o_out = sub(layers.Add(name="join")([y1, y2]))
    out = layers.Concatenate(name="cat")([h_out, o_out])
    return keras.Model(x, layers.Dense(1, name="head")(out), name="nested")


def rich_model() -> keras.Model:
    """A non-trivial single-input model for intermediate-node checks."""
    x = keras.Input((20, 4), name="dna")
    c = layers.Conv1D(6, 5, padding="same", activation="relu", name="c1")(x)
    c = layers.BatchNormalization(name="bn")(c)
    c = layers.MaxPooling1D(2, name="mp")(c)
    d = layers.Conv1D(6, 3, dilation_rate=2, padding="causal", name="c2")(c)
    d = layers.LeakyReLU(negative_slope=0.1, name="lrelu")(d)
    e = layers.Add(name="res")([c, d])
    e = layers.Dropout(0.3, name="drop")(e)
    f = layers.Flatten(name="flat")(e)
    g = layers.Dense(8, activation="gelu", name="fc")(f)
    p = layers.GlobalAveragePooling1D(name="gap")(e)
    h = layers.Concatenate(name="cat")([g, p])
    out = layers.Dense(3, name="logits")(h)
    prob = layers.Activation("softmax", name="prob")(out)
    return keras.Model(x, [out, prob], name="rich")


# --------------------------------------------------------------------------
# Keras 2.x writers
# --------------------------------------------------------------------------
_ENTRY_KEYS_DROPPED = ("module", "registered_name", "build_config", "compile_config", "shared_object_id")


def _keras2_value(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("class_name") == "DTypePolicy":
            return value["config"]["name"]
        return {k: _keras2_value(v) for k, v in value.items() if k not in _ENTRY_KEYS_DROPPED}
    if isinstance(value, list):
        return [_keras2_value(v) for v in value]
    return value


def _keras2_layer_config(class_name: str, config: dict) -> dict:
    cfg = _keras2_value(copy.deepcopy(config))
    for key in ("quantization_config", "lora_rank", "lora_alpha", "optional", "ragged", "synchronized"):
        cfg.pop(key, None)
    if class_name == "InputLayer":
        cfg["batch_input_shape"] = cfg.pop("batch_shape")
    if class_name == "LeakyReLU":
        cfg["alpha"] = cfg.pop("negative_slope")
    if class_name in ("Conv1D", "Conv2D") and cfg.get("groups") == 1:
        cfg.pop("groups")
    return cfg


def _keras3_history(structure: Any) -> list[tuple[str, int, int]]:
    if isinstance(structure, dict):
        if structure.get("class_name") == "__keras_tensor__":
            h = structure["config"]["keras_history"]
            return [(h[0], h[1], h[2])]
        return [r for k in sorted(structure) for r in _keras3_history(structure[k])]
    if isinstance(structure, list):
        return [r for item in structure for r in _keras3_history(item)]
    return []


def _triples(structure: Any) -> list[list]:
    if isinstance(structure, list) and len(structure) == 3 and isinstance(structure[0], str):
        return [structure]
    if isinstance(structure, dict):
        return [t for k in sorted(structure) for t in _triples(structure[k])]
    return [t for item in structure for t in _triples(item)]


def _keras2_model(class_name: str, config: dict, flavour: str) -> tuple[str, Any]:
    """Convert a Keras 3 model config (class, config) to a Keras 2 dialect."""
    if class_name == "Sequential":
        entries = []
        first = True
        for entry in config["layers"]:
            cls = entry["class_name"]
            if cls == "InputLayer" and flavour != "tf2":
                input_shape = entry["config"]["batch_shape"]
                continue
            if cls in ("Sequential", "Functional"):
                inner_cls, inner_cfg = _keras2_model(cls, entry["config"], flavour)
                item = {"class_name": inner_cls, "config": inner_cfg}
            else:
                item = {"class_name": cls, "config": _keras2_layer_config(cls, entry["config"])}
            if first and flavour != "tf2" and item["class_name"] != "Sequential":
                item["config"]["batch_input_shape"] = input_shape
            first = False
            entries.append(item)
        if flavour == "keras2.1":
            return "Sequential", entries
        return "Sequential", {"name": config["name"], "layers": entries}

    model_classes = {e["name"]: e["class_name"] for e in config["layers"]}

    def node_index(layer_name: str, index: int) -> int:
        cls = model_classes.get(layer_name)
        if cls in ("Sequential", "Functional"):
            zero_based = index - (1 if cls == "Functional" else 0)
            return zero_based + 1  # Keras 2 numbers a nested model's nodes from 1
        return index

    entries = []
    for entry in config["layers"]:
        cls = entry["class_name"]
        if cls in ("Sequential", "Functional"):
            inner_cls, inner_cfg = _keras2_model(cls, entry["config"], flavour)
            item = {"name": entry["name"], "class_name": inner_cls, "config": inner_cfg}
        else:
            item = {"name": entry["name"], "class_name": cls, "config": _keras2_layer_config(cls, entry["config"])}
        item["inbound_nodes"] = [
            [[n, node_index(n, i), t, {}] for n, i, t in _keras3_history(node["args"])]
            for node in entry.get("inbound_nodes", [])
        ]
        entries.append(item)
    return ("Functional" if flavour == "tf2" else "Model"), {
        "name": config["name"],
        "layers": entries,
        "input_layers": [[n, node_index(n, i), t] for n, i, t in _triples(config["input_layers"])],
        "output_layers": [[n, node_index(n, i), t] for n, i, t in _triples(config["output_layers"])],
    }


def keras2_config(model: keras.Model, flavour: str = "keras2.1") -> dict:
    """The model's config as Keras 2 would have written it.

    Parameters
    ----------
    flavour
        ``'keras2.1'`` (Sequential as a bare list of layers, ``batch_input_shape``
        on the first), ``'keras2.2'`` (Sequential as ``{"name", "layers"}``),
        or ``'tf2'`` (tf.keras 2.x: ``Functional`` and explicit ``InputLayer``).
    """
    k3 = json.loads(model.to_json())
    cls, cfg = _keras2_model(k3["class_name"], k3["config"], flavour)
    version = {"keras2.1": "2.1.6", "keras2.2": "2.2.4", "tf2": "2.9.0"}[flavour]
    return {"class_name": cls, "config": cfg, "keras_version": version, "backend": "tensorflow"}


def _leaf_weights(layer: keras.layers.Layer) -> list[tuple[str, Any]]:
    """(leaf layer name, variable) of a nested model, trainable ones first as Keras 2 listed them."""
    leaves = []

    def walk(container: Any) -> None:
        for inner in container.layers:
            if isinstance(inner, keras.Model):
                walk(inner)
            else:
                leaves.append(inner)

    walk(layer)
    trainable = [(leaf.name, v) for leaf in leaves for v in leaf.weights if v.trainable]
    frozen = [(leaf.name, v) for leaf in leaves for v in leaf.weights if not v.trainable]
    return trainable + frozen


def write_keras2_weights(
    group: h5py.Group, model: keras.Model, keras_version: str = "2.1.6", include_inputs: bool = False
) -> None:
    """Write ``model``'s weights into ``group`` in Keras 2's ``save_weights`` layout."""
    top = [layer for layer in model.layers if include_inputs or not isinstance(layer, keras.layers.InputLayer)]
    group.attrs["layer_names"] = np.array([layer.name.encode() for layer in top])
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = keras_version.encode()
    for layer in top:
        layer_group = group.create_group(layer.name)
        if isinstance(layer, keras.Model):
            named = [(f"{leaf}/{v.name}:0", v) for leaf, v in _leaf_weights(layer)]
        else:
            named = [(f"{layer.name}/{v.name}:0", v) for v in layer.weights]
        if named:
            layer_group.attrs["weight_names"] = np.array([n.encode() for n, _ in named])
        else:
            layer_group.attrs["weight_names"] = np.array([], dtype=np.float64)
        for weight_name, variable in named:
            layer_group.create_dataset(weight_name, data=np.asarray(variable.numpy(), np.float32))


def write_keras2_files(model: keras.Model, folder: Path, flavour: str = "keras2.1", stem: str = "k2") -> tuple[Path, Path]:
    """A Keras 2 JSON config and ``save_weights`` h5 for ``model``; returns (json, h5)."""
    config_path = folder / f"{stem}.json"
    weights_path = folder / f"{stem}_weights.h5"
    config = keras2_config(model, flavour)
    config_path.write_text(json.dumps(config))
    with h5py.File(weights_path, "w") as handle:
        write_keras2_weights(handle, model, config["keras_version"], include_inputs=config["class_name"] != "Sequential")
    return config_path, weights_path


def write_tf_keras2_h5(model: keras.Model, path: Path, flavour: str = "tf2") -> Path:
    """A Keras-2-style full-model ``.h5``: ``model_config`` attribute plus ``model_weights``.

    ``flavour`` as in :func:`keras2_config`: ``'tf2'`` for tf.keras 2.x,
    ``'keras2.2'``/``'keras2.1'`` for standalone Keras.
    """
    config = keras2_config(model, flavour)
    version = config["keras_version"]
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps({"class_name": config["class_name"], "config": config["config"]}).encode()
        handle.attrs["keras_version"] = version.encode()
        handle.attrs["backend"] = b"tensorflow"
        write_keras2_weights(
            handle.create_group("model_weights"), model, version, include_inputs=config["class_name"] != "Sequential"
        )
    return path


Builder = Callable[[], keras.Model]
