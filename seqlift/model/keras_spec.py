"""What a Keras model config says: its dialects, read into a :class:`ModelSpec`.

Keras has written model configs in several dialects; all are read here
without importing Keras:

* Keras 3 (``.keras`` ``config.json`` and legacy ``.h5`` ``model_config``):
  ``Functional``/``Sequential``, ``batch_shape`` on ``InputLayer``, inbound
  nodes as ``{"args": [...], "kwargs": {...}}`` with ``keras_history``
  triples, nested ``Functional`` models counting their nodes from 1;
* tf.keras 2.x and Keras 2.2-2.3: ``Functional``/``Model``/``Sequential``,
  ``batch_input_shape``, inbound nodes as ``[[name, node, tensor, kwargs]]``;
* Keras 2.0-2.1: a ``Sequential`` config that is a bare list of layers, with
  ``batch_input_shape`` on the first one.

:func:`parse_model_config` turns any of them into a :class:`ModelSpec`: the
layers (with their configs and the tensors each call takes) and the model's
inputs and outputs. What each layer means as ops is
:mod:`~seqlift.model.keras_layers`; the graph is built by
:mod:`~seqlift.model.graph_builder`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqlift.errors import SeqliftError
from seqlift.model.keras_weights import LayerTree

__all__ = ["ModelSpec", "LayerSpec", "TensorRef", "parse_model_config"]

_MODEL_CLASSES = ("Functional", "Sequential")

#: Older or alternative class names, mapped to the names used here.
_CLASS_ALIASES = {
    "Model": "Functional",
    "Convolution1D": "Conv1D",
    "Convolution2D": "Conv2D",
    "MaxPool1D": "MaxPooling1D",
    "MaxPool2D": "MaxPooling2D",
    "AvgPool1D": "AveragePooling1D",
    "AvgPool2D": "AveragePooling2D",
    "GlobalMaxPool1D": "GlobalMaxPooling1D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "BatchNormalizationV1": "BatchNormalization",
    "BatchNormalizationV2": "BatchNormalization",
}


@dataclass(frozen=True)
class TensorRef:
    """A tensor in a Keras graph: output ``tensor`` of call ``node`` of ``layer`` (0-based)."""

    layer: str
    node: int
    tensor: int


@dataclass
class LayerSpec:
    """One layer of a model config.

    Attributes
    ----------
    name
        The layer's name.
    class_name
        Its class, with old aliases mapped to current names.
    config
        The layer's ``config`` dictionary.
    calls
        The input tensors of each call of the layer, in call order.
    model
        For a nested model, its own spec.
    file_class
        The class name as written in the file.
    call_options
        The options (keyword arguments that are not tensors, such as
        ``use_causal_mask``) of each call, in call order.
    keras_major
        The major version of the Keras that wrote the file (3 when unknown):
        where one name means different functions (``hard_sigmoid``), the writer's.
    """

    name: str
    class_name: str
    config: dict
    calls: list[list[TensorRef]] = field(default_factory=list)
    model: "ModelSpec | None" = None
    file_class: str = ""
    call_options: list[dict] = field(default_factory=list)
    keras_major: int = 3


@dataclass
class ModelSpec:
    """The structure of a Sequential or functional Keras model.

    Attributes
    ----------
    name
        The model's name.
    class_name
        ``'Functional'`` or ``'Sequential'``.
    layers
        Layers in config order (a Sequential's input layer included).
    inputs, outputs
        The model's input and output tensors.
    input_shapes
        Shape (without batch) of each input, None where the config has none.
    """

    name: str
    class_name: str
    layers: list[LayerSpec]
    inputs: list[TensorRef]
    outputs: list[TensorRef]
    input_shapes: list[tuple | None]

    def layer(self, name: str) -> LayerSpec:
        """The layer called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise SeqliftError(f"model config of {self.name!r} refers to unknown layer {name!r}")

    def layer_tree(self) -> LayerTree:
        """The layers as Keras 3 walks them when saving weights.

        A Functional model lists its input layers, a Sequential model does not.
        """
        tree = []
        for layer in self.layers:
            if self.class_name == "Sequential" and layer.class_name == "InputLayer":
                continue
            children = layer.model.layer_tree() if layer.model is not None else None
            tree.append((layer.name, layer.class_name if layer.model is not None else layer.file_class, children))
        return tree


def _canonical_class(name: str) -> str:
    return _CLASS_ALIASES.get(name, name)


def _is_model_entry(entry: dict) -> bool:
    cls = _canonical_class(str(entry.get("class_name", "")))
    cfg = entry.get("config")
    return cls in _MODEL_CLASSES and (isinstance(cfg, list) or (isinstance(cfg, dict) and "layers" in cfg))


def _batchless_shape(cfg: dict) -> tuple | None:
    """Input shape without batch from an InputLayer or first-layer config, if any."""
    for key in ("batch_shape", "batch_input_shape"):
        value = cfg.get(key)
        if value is not None:
            return tuple(None if d is None else int(d) for d in list(value)[1:])
    for key in ("shape", "input_shape"):
        value = cfg.get(key)
        if value is not None:
            return tuple(None if d is None else int(d) for d in value)
    if cfg.get("input_dim") is not None:  # Keras 1 Dense
        return (int(cfg["input_dim"]),)
    return None


def _is_ref(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) in (3, 4)
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and isinstance(value[2], int)
    )


def _refs_in(structure: Any) -> list[tuple[str, int, int]]:
    """All ``[layer, node, tensor]`` triples in a nested list/dict, in Keras' flattening order."""
    if _is_ref(structure):
        return [(structure[0], int(structure[1]), int(structure[2]))]
    if isinstance(structure, dict):
        return [r for key in sorted(structure) for r in _refs_in(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [r for item in structure for r in _refs_in(item)]
    return []


def _keras_tensors_in(structure: Any) -> list[tuple[str, int, int]]:
    """``keras_history`` triples of the Keras 3 tensors in call arguments, in order."""
    if isinstance(structure, dict):
        if structure.get("class_name") == "__keras_tensor__":
            history = structure["config"]["keras_history"]
            return [(history[0], int(history[1]), int(history[2]))]
        return [r for key in sorted(structure) for r in _keras_tensors_in(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [r for item in structure for r in _keras_tensors_in(item)]
    return []


#: keyword arguments of a layer call that may carry tensors (attention layers' inputs), in input order
_TENSOR_KEYWORDS = ("query", "value", "key")


def _call_keywords(kwargs: dict, layer_name: str, tensors_in) -> tuple[list[tuple[str, int, int]], dict]:
    """The input tensors passed by keyword (in :data:`_TENSOR_KEYWORDS` order) and the other options of a call.

    ``tensors_in`` finds the tensor references in a value (each dialect writes them its own way).
    A tensor under any other keyword (a mask, an initial state) is refused in one line.
    """
    tensors, options = [], {}
    for key, value in kwargs.items():
        found = tensors_in(value)
        if found and key not in _TENSOR_KEYWORDS:
            raise SeqliftError(
                f"layer {layer_name!r} is called with a tensor as {key}= (such as a mask), which seqlift does not "
                f"support: masks and initial states are out of scope"
            )
        if not found and value is not None:
            options[key] = value
    for key in _TENSOR_KEYWORDS:
        if key in kwargs:
            tensors.extend(tensors_in(kwargs[key]))
    return tensors, options


def _parse_inbound_node(node: Any, layer_name: str) -> tuple[list[tuple[str, int, int]], dict]:
    """The input tensors of one call of a layer and the options it was called with."""
    if isinstance(node, dict) and ("args" in node or "kwargs" in node):
        keyword_tensors, options = _call_keywords(node.get("kwargs") or {}, layer_name, _keras_tensors_in)
        return _keras_tensors_in(node.get("args", [])) + keyword_tensors, options
    if isinstance(node, (list, tuple)):
        refs, options = [], {}
        for entry in node:
            if not _is_ref(entry):
                continue
            refs.append((entry[0], int(entry[1]), int(entry[2])))
            if len(entry) == 4 and isinstance(entry[3], dict):
                keyword_tensors, more = _call_keywords(entry[3], layer_name, _refs_in)
                refs.extend(keyword_tensors)
                options.update(more)
        return refs, options
    raise SeqliftError(f"cannot read the inbound nodes of layer {layer_name!r} in the model config")


def _major_version(keras_version: str | None) -> int:
    try:
        return int(str(keras_version).split(".")[0])
    except (TypeError, ValueError):
        return 3


def parse_model_config(config: dict | list, keras_version: str | None = None) -> ModelSpec:
    """Read a Keras model config of any version into a :class:`ModelSpec`.

    Parameters
    ----------
    config
        The decoded JSON: ``{"class_name": ..., "config": ...}``, or a bare
        list of layers (a Keras 2.0 Sequential).
    keras_version
        The Keras version that wrote it (decides the node numbering of
        nested models where the config itself does not).

    Raises
    ------
    SeqliftError
        If the config is not a Sequential or functional model.
    """
    if isinstance(config, list):
        config = {"class_name": "Sequential", "config": config}
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise SeqliftError("the model config is not a Keras model (no class_name/config)")
    cls = _canonical_class(str(config["class_name"]))
    if not _is_model_entry(config):
        raise SeqliftError(
            f"the model is a {config['class_name']!r}; seqlift reads Sequential and functional Keras "
            f"models only (subclassed models have no config to read)"
        )
    return _parse_model(cls, config["config"], None, _major_version(keras_version))


def _parse_layer_entry(entry: dict, major: int) -> LayerSpec:
    file_class = str(entry.get("class_name", ""))
    cls = _canonical_class(file_class)
    cfg = entry.get("config")
    name = entry.get("name")
    if name is None and isinstance(cfg, dict):
        name = cfg.get("name")
    if name is None:
        raise SeqliftError(f"a {file_class} layer in the model config has no name")
    name = str(name)
    if _is_model_entry(entry):
        model = _parse_model(cls, cfg, name, major)
        return LayerSpec(name, cls, cfg if isinstance(cfg, dict) else {}, [], model, file_class, keras_major=major)
    if not isinstance(cfg, dict):
        raise SeqliftError(f"layer {name!r} ({file_class}) has no config dictionary")
    return LayerSpec(name, cls, cfg, [], None, file_class, keras_major=major)


def _parse_model(cls: str, cfg: dict | list, outer_name: str | None, major: int) -> ModelSpec:
    if cls == "Sequential":
        return _parse_sequential(cfg, outer_name, major)
    return _parse_functional(cfg, outer_name, major)


def _parse_sequential(cfg: dict | list, outer_name: str | None, major: int) -> ModelSpec:
    if isinstance(cfg, list):
        entries, name, build_shape = cfg, outer_name or "sequential", None
    else:
        entries = cfg.get("layers") or []
        name = str(cfg.get("name") or outer_name or "sequential")
        build_shape = cfg.get("build_input_shape")
    layers = [_parse_layer_entry(e, major) for e in entries]
    if not layers:
        raise SeqliftError(f"Sequential model {name!r} has no layers")
    if layers[0].class_name == "InputLayer":
        input_layer = layers[0]
        body = layers[1:]
    else:
        first = layers[0]
        shape = _batchless_shape(first.config)
        if shape is None and build_shape is not None:
            shape = tuple(None if d is None else int(d) for d in list(build_shape)[1:])
        if shape is None and first.model is not None:
            shape = first.model.input_shapes[0] if first.model.input_shapes else None
        input_cfg = {"name": f"{first.name}_input"}
        if shape is not None:
            input_cfg["batch_shape"] = [None, *shape]
        input_layer = LayerSpec(input_cfg["name"], "InputLayer", input_cfg, [], None, "InputLayer")
        body = layers
    previous = input_layer.name
    for layer in body:
        layer.calls = [[TensorRef(previous, 0, 0)]]
        previous = layer.name
    all_layers = [input_layer] + body
    if not body:
        raise SeqliftError(f"Sequential model {name!r} has no layers besides its input")
    return ModelSpec(
        name=name,
        class_name="Sequential",
        layers=all_layers,
        inputs=[TensorRef(input_layer.name, 0, 0)],
        outputs=[TensorRef(body[-1].name, 0, 0)],
        input_shapes=[_batchless_shape(input_layer.config)],
    )


def _parse_functional(cfg: dict, outer_name: str | None, major: int) -> ModelSpec:
    name = str(cfg.get("name") or outer_name or "model")
    entries = cfg.get("layers") or []
    layers: list[LayerSpec] = []
    raw_calls: dict[str, list[list[tuple[str, int, int]]]] = {}
    options: dict[str, list[dict]] = {}
    for entry in entries:
        layer = _parse_layer_entry(entry, major)
        if layer.name in raw_calls:
            raise SeqliftError(f"model {name!r} has two layers named {layer.name!r}")
        layers.append(layer)
        parsed = [_parse_inbound_node(n, layer.name) for n in entry.get("inbound_nodes") or []]
        raw_calls[layer.name] = [refs for refs, _ in parsed]
        options[layer.name] = [opts for _, opts in parsed]
    by_name = {layer.name: layer for layer in layers}
    input_refs = _refs_in(cfg.get("input_layers", []))
    output_refs = _refs_in(cfg.get("output_layers", []))
    for ref_name, _, _ in input_refs + output_refs + [r for calls in raw_calls.values() for c in calls for r in c]:
        if ref_name not in by_name:
            raise SeqliftError(f"model config of {name!r} refers to unknown layer {ref_name!r}")

    # Node numbers of nested models may start at 1 (their own first node,
    # input to output, is not saved); find each one's offset.
    referenced: dict[str, list[int]] = {}
    for ref_name, node, _ in output_refs + [r for calls in raw_calls.values() for c in calls for r in c]:
        referenced.setdefault(ref_name, []).append(node)
    offsets: dict[str, int] = {}
    for layer in layers:
        if layer.model is None:
            offsets[layer.name] = 0
            continue
        count = len(raw_calls[layer.name])
        used = referenced.get(layer.name, [])
        if used and max(used) >= count:
            offsets[layer.name] = 1
        elif used and min(used) == 0:
            offsets[layer.name] = 0
        elif major >= 3:
            offsets[layer.name] = 1 if layer.class_name == "Functional" else 0
        else:
            offsets[layer.name] = 1

    def ref(triple: tuple[str, int, int]) -> TensorRef:
        layer_name, node, tensor = triple
        return TensorRef(layer_name, node - offsets.get(layer_name, 0), tensor)

    for layer in layers:
        layer.calls = [[ref(t) for t in call] for call in raw_calls[layer.name]]
        layer.call_options = options[layer.name]
    inputs = [ref(t) for t in input_refs]
    if not inputs:
        raise SeqliftError(f"functional model {name!r} has no input_layers in its config")
    for tensor in inputs:
        if by_name[tensor.layer].class_name != "InputLayer":
            raise SeqliftError(f"input {tensor.layer!r} of model {name!r} is not an InputLayer")
    return ModelSpec(
        name=name,
        class_name="Functional",
        layers=layers,
        inputs=inputs,
        outputs=[ref(t) for t in output_refs],
        input_shapes=[_batchless_shape(by_name[t.layer].config) for t in inputs],
    )
