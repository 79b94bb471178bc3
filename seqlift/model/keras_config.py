"""What a Keras model config means: its structure, and each layer as seqlift ops.

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

:func:`parse_model_config` turns any of them into a :class:`ModelSpec`;
:func:`build_model` flattens a spec (nested models included) into a
:class:`~seqlift.model.graph.Model`, translating each layer with the weights
a :class:`~seqlift.model.keras_weights.WeightStore` holds for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from seqlift.errors import SeqliftError
from seqlift.model import ops
from seqlift.model.graph import Model, Node
from seqlift.model.keras_weights import LayerTree, WeightSpec, WeightStore
from seqlift.model.shapes import shape_text

__all__ = [
    "ModelSpec",
    "LayerSpec",
    "TensorRef",
    "SUPPORTED_LAYERS",
    "SUPPORTED_ACTIVATIONS",
    "parse_model_config",
    "build_model",
]

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

#: ``activation=`` values and the Activation kinds (plus parameters) they mean.
_ACTIVATION_NAMES: dict[str, tuple[str, dict[str, Any]]] = {
    "relu": ("relu", {}),
    "relu6": ("relu", {"max_value": 6.0}),
    "sigmoid": ("sigmoid", {}),
    "tanh": ("tanh", {}),
    "softplus": ("softplus", {}),
    "elu": ("elu", {}),
    "selu": ("selu", {}),
    "gelu": ("gelu", {}),
    "swish": ("swish", {}),
    "silu": ("swish", {}),
    "exponential": ("exponential", {}),
    "leaky_relu": ("leaky_relu", {"alpha": 0.2}),
}

#: Every ``activation=`` value seqlift reads.
SUPPORTED_ACTIVATIONS = tuple(sorted(set(_ACTIVATION_NAMES) | {"linear", "softmax"}))


# --------------------------------------------------------------------------
# structure
# --------------------------------------------------------------------------
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
    """

    name: str
    class_name: str
    config: dict
    calls: list[list[TensorRef]] = field(default_factory=list)
    model: "ModelSpec | None" = None
    file_class: str = ""


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


def _parse_inbound_node(node: Any, layer_name: str) -> list[tuple[str, int, int]]:
    if isinstance(node, dict) and ("args" in node or "kwargs" in node):
        if _keras_tensors_in(node.get("kwargs", {})):
            raise SeqliftError(
                f"layer {layer_name!r} is called with tensors as keyword arguments (such as a mask), "
                f"which seqlift does not support"
            )
        return _keras_tensors_in(node.get("args", []))
    if isinstance(node, (list, tuple)):
        return [(e[0], int(e[1]), int(e[2])) for e in node if _is_ref(e)]
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
        return LayerSpec(name, cls, cfg if isinstance(cfg, dict) else {}, [], model, file_class)
    if not isinstance(cfg, dict):
        raise SeqliftError(f"layer {name!r} ({file_class}) has no config dictionary")
    return LayerSpec(name, cls, cfg, [], None, file_class)


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
    for entry in entries:
        layer = _parse_layer_entry(entry, major)
        if layer.name in raw_calls:
            raise SeqliftError(f"model {name!r} has two layers named {layer.name!r}")
        layers.append(layer)
        raw_calls[layer.name] = [_parse_inbound_node(n, layer.name) for n in entry.get("inbound_nodes") or []]
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


# --------------------------------------------------------------------------
# layers -> ops
# --------------------------------------------------------------------------
class _LayerContext:
    """What a layer translator needs: the layer, its input shapes and its weights."""

    def __init__(
        self,
        layer: LayerSpec,
        input_shapes: list[tuple],
        store: WeightStore,
        weight_path: tuple[str, ...],
    ) -> None:
        self.layer = layer
        self.config = layer.config
        self.input_shapes = input_shapes
        self._store = store
        self._weight_path = weight_path

    @property
    def label(self) -> str:
        return f"{'/'.join(self._weight_path)!r} ({self.layer.file_class or self.layer.class_name})"

    @property
    def shape(self) -> tuple:
        """The shape (without batch) of the layer's only input."""
        if len(self.input_shapes) != 1:
            raise SeqliftError(f"layer {self.label} takes one input, got {len(self.input_shapes)}")
        return self.input_shapes[0]

    def get(self, *keys: str, default: Any = None) -> Any:
        """The first of ``keys`` present (and not None) in the layer config."""
        for key in keys:
            if self.config.get(key) is not None:
                return self.config[key]
        return default

    def take(self, wanted: Sequence[WeightSpec]) -> list[np.ndarray]:
        for spec in wanted:
            if any(d is None for d in spec.shape):
                raise SeqliftError(
                    f"layer {self.label} needs a fixed input size to read its {spec.name}, "
                    f"but its input shape is {shape_text(self.shape, batch=True)}"
                )
        return self._store.take(self._weight_path, self.label, wanted)

    def fail(self, message: str) -> SeqliftError:
        return SeqliftError(f"layer {self.label}: {message}")


def _ints(value: Any, rank: int) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        values = tuple(int(v) for v in value)
        return values * rank if len(values) == 1 and rank > 1 else values
    return (int(value),) * rank


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return int(value[0]), int(value[0])
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _data_format(ctx: _LayerContext) -> str:
    value = ctx.get("data_format")
    if value is None:
        ordering = ctx.get("dim_ordering")
        if ordering == "th":
            raise ctx.fail("Theano dimension ordering ('th') is not supported")
        return "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise ctx.fail(f"unknown data_format {value!r}")
    return str(value)


def _activation_name(value: Any) -> str:
    if value is None:
        return "linear"
    if isinstance(value, dict):
        inner = value.get("config")
        if isinstance(inner, str):
            return inner
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
        return str(value.get("class_name", "?"))
    return str(value)


def _activation_op(value: Any, ctx: _LayerContext) -> ops.Op | None:
    """The op of an ``activation`` value; None for ``linear``."""
    name = _activation_name(value)
    if name == "linear":
        return None
    if name == "softmax":
        return ops.Softmax(-1)
    if name not in _ACTIVATION_NAMES:
        raise ctx.fail(
            f"activation {name!r} is not supported; supported activations: {', '.join(SUPPORTED_ACTIVATIONS)}"
        )
    kind, params = _ACTIVATION_NAMES[name]
    params = dict(params)
    if kind == "gelu" and isinstance(value, dict):
        inner = value.get("config")
        if isinstance(inner, dict) and "approximate" in inner:
            params["approximate"] = bool(inner["approximate"])
    return ops.Activation(kind, **params)


def _reject_lora_and_quantized(ctx: _LayerContext) -> None:
    """Refuse layers whose weights are not a plain kernel and bias."""
    if ctx.get("lora_rank") is not None:
        raise ctx.fail("LoRA-enabled layers are not supported")
    dtype = ctx.get("dtype")
    policy = ""
    if isinstance(dtype, dict):
        policy = f"{dtype.get('class_name', '')} {(dtype.get('config') or {}).get('name', '')}"
    elif isinstance(dtype, str):
        policy = dtype
    if ctx.get("quantization_config") is not None or "Quantized" in policy or policy.startswith(("int", "float8")):
        raise ctx.fail("quantized layers are not supported")


def _with_activation(linear: ops.Op, ctx: _LayerContext) -> list[ops.Op]:
    act = _activation_op(ctx.get("activation"), ctx)
    return [linear] if act is None else [linear, act]


def _dense(ctx: _LayerContext) -> list[ops.Op]:
    _reject_lora_and_quantized(ctx)
    units = int(ctx.get("units", "output_dim"))
    use_bias = bool(ctx.get("use_bias", "bias", default=True))
    in_dim = ctx.shape[-1] if ctx.shape else None
    wanted = [WeightSpec("kernel", (in_dim, units))]
    if use_bias:
        wanted.append(WeightSpec("bias", (units,)))
    arrays = ctx.take(wanted)
    return _with_activation(ops.Dense(arrays[0], arrays[1] if use_bias else None), ctx)


def _conv(rank: int) -> Callable[[_LayerContext], list[ops.Op]]:
    def translate(ctx: _LayerContext) -> list[ops.Op]:
        _reject_lora_and_quantized(ctx)
        filters = int(ctx.get("filters", "nb_filter"))
        if rank == 1:
            size = ctx.get("kernel_size", "filter_length")
            strides = ctx.get("strides", "subsample_length", default=1)
        else:
            size = ctx.get("kernel_size")
            if size is None and ctx.get("nb_row") is not None:
                size = [ctx.get("nb_row"), ctx.get("nb_col")]
            strides = ctx.get("strides", "subsample", default=1)
        kernel_size = _ints(size, rank)
        strides = _ints(strides, rank)
        dilation = _ints(ctx.get("dilation_rate", "atrous_rate", default=1), rank)
        padding = str(ctx.get("padding", "border_mode", default="valid")).lower()
        data_format = _data_format(ctx)
        groups = int(ctx.get("groups", default=1))
        use_bias = bool(ctx.get("use_bias", "bias", default=True))
        if len(ctx.shape) != rank + 1:
            raise ctx.fail(f"expects an input of rank {rank + 2}, got shape {shape_text(ctx.shape, batch=True)}")
        channels = ctx.shape[-1] if data_format == "channels_last" else ctx.shape[0]
        if channels is not None and channels % groups:
            raise ctx.fail(f"{channels} input channels cannot be split into {groups} groups")
        wanted = [WeightSpec("kernel", (*kernel_size, None if channels is None else channels // groups, filters))]
        if use_bias:
            wanted.append(WeightSpec("bias", (filters,)))
        arrays = ctx.take(wanted)
        try:
            op = ops.Conv(
                arrays[0],
                arrays[1] if use_bias else None,
                rank=rank,
                strides=strides,
                padding=padding,
                dilation_rate=dilation,
                data_format=data_format,
                groups=groups,
            )
        except ValueError as err:
            raise ctx.fail(str(err)) from None
        return _with_activation(op, ctx)

    return translate


def _pool(rank: int, op_class: type) -> Callable[[_LayerContext], list[ops.Op]]:
    def translate(ctx: _LayerContext) -> list[ops.Op]:
        pool_size = _ints(ctx.get("pool_size", "pool_length", default=2), rank)
        strides = ctx.get("strides", "stride")
        strides = pool_size if strides is None else _ints(strides, rank)
        padding = str(ctx.get("padding", "border_mode", default="valid")).lower()
        if padding not in ("valid", "same"):
            raise ctx.fail(f"unknown padding {padding!r}")
        return [op_class(rank, pool_size, strides, padding, _data_format(ctx))]

    return translate


def _global_pool(rank: int, op_class: type) -> Callable[[_LayerContext], list[ops.Op]]:
    def translate(ctx: _LayerContext) -> list[ops.Op]:
        return [op_class(rank, _data_format(ctx), bool(ctx.get("keepdims", default=False)))]

    return translate


def _batch_norm(ctx: _LayerContext) -> list[ops.Op]:
    rank = len(ctx.shape) + 1
    axis = ctx.get("axis", default=-1)
    axes = [int(a) for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
    axes = sorted(a + rank if a < 0 else a for a in axes)
    if any(a <= 0 or a >= rank for a in axes):
        raise ctx.fail(f"axis {axis} does not fit an input of shape {shape_text(ctx.shape, batch=True)}")
    param_shape = tuple(ctx.shape[a - 1] for a in axes)
    center = bool(ctx.get("center", default=True))
    scale = bool(ctx.get("scale", default=True))
    wanted = []
    if scale:
        wanted.append(WeightSpec("gamma", param_shape))
    if center:
        wanted.append(WeightSpec("beta", param_shape))
    wanted += [WeightSpec("moving_mean", param_shape), WeightSpec("moving_variance", param_shape)]
    arrays = dict(zip([w.name for w in wanted], ctx.take(wanted)))
    return [
        ops.BatchNorm.from_moments(
            arrays["moving_mean"],
            arrays["moving_variance"],
            arrays.get("gamma"),
            arrays.get("beta"),
            float(ctx.get("epsilon", default=1e-3)),
            axes,
            rank,
        )
    ]


def _activation_layer(ctx: _LayerContext) -> list[ops.Op]:
    if _activation_name(ctx.get("activation")) == "linear":
        return [ops.Identity()]
    return [_activation_op(ctx.get("activation"), ctx)]


def _relu_layer(ctx: _LayerContext) -> list[ops.Op]:
    return [
        ops.Activation(
            "relu",
            max_value=ctx.get("max_value"),
            negative_slope=float(ctx.get("negative_slope", default=0.0)),
            threshold=float(ctx.get("threshold", default=0.0)),
        )
    ]


def _thresholded_relu_layer(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.Activation("relu", threshold=float(ctx.get("theta", default=1.0)))]


def _leaky_relu_layer(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.Activation("leaky_relu", alpha=float(ctx.get("negative_slope", "alpha", default=0.3)))]


def _elu_layer(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.Activation("elu", alpha=float(ctx.get("alpha", default=1.0)))]


def _prelu_layer(ctx: _LayerContext) -> list[ops.Op]:
    shape = list(ctx.shape)
    shared = ctx.get("shared_axes")
    if shared is not None:
        for axis in shared if isinstance(shared, (list, tuple)) else [shared]:
            shape[int(axis) - 1] = 1
    (alpha,) = ctx.take([WeightSpec("alpha", tuple(shape))])
    return [ops.Activation("prelu", alpha=alpha)]


def _softmax_layer(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.Softmax(ctx.get("axis", default=-1))]


def _flatten(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.Flatten(_data_format(ctx))]


def _reshape(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.Reshape(ctx.get("target_shape"))]


def _permute(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.Permute(ctx.get("dims"))]


def _cropping1d(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.Cropping1D(_pair(ctx.get("cropping", default=(1, 1))))]


def _zero_padding1d(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.ZeroPadding1D(_pair(ctx.get("padding", default=(1, 1))), _data_format(ctx))]


def _concatenate(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.Concatenate(int(ctx.get("axis", default=-1)))]


def _identity(ctx: _LayerContext) -> list[ops.Op]:
    return [ops.Identity()]


def _merge(op_class: type, exactly: int | None = None) -> Callable[[_LayerContext], list[ops.Op]]:
    def translate(ctx: _LayerContext) -> list[ops.Op]:
        count = len(ctx.input_shapes)
        if exactly is not None and count != exactly:
            raise ctx.fail(f"takes exactly {exactly} inputs, got {count}")
        if count < 2 and exactly is None:
            raise ctx.fail(f"takes at least 2 inputs, got {count}")
        return [op_class()]

    return translate


_TRANSLATORS: dict[str, Callable[[_LayerContext], list[ops.Op]]] = {
    "Dense": _dense,
    "Conv1D": _conv(1),
    "Conv2D": _conv(2),
    "MaxPooling1D": _pool(1, ops.MaxPool),
    "MaxPooling2D": _pool(2, ops.MaxPool),
    "AveragePooling1D": _pool(1, ops.AvgPool),
    "AveragePooling2D": _pool(2, ops.AvgPool),
    "GlobalMaxPooling1D": _global_pool(1, ops.GlobalMaxPool),
    "GlobalMaxPooling2D": _global_pool(2, ops.GlobalMaxPool),
    "GlobalAveragePooling1D": _global_pool(1, ops.GlobalAvgPool),
    "GlobalAveragePooling2D": _global_pool(2, ops.GlobalAvgPool),
    "BatchNormalization": _batch_norm,
    "Dropout": _identity,
    "SpatialDropout1D": _identity,
    "SpatialDropout2D": _identity,
    "SpatialDropout3D": _identity,
    "GaussianNoise": _identity,
    "GaussianDropout": _identity,
    "AlphaDropout": _identity,
    "ActivityRegularization": _identity,
    "Identity": _identity,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Permute": _permute,
    "Cropping1D": _cropping1d,
    "ZeroPadding1D": _zero_padding1d,
    "Concatenate": _concatenate,
    "Add": _merge(ops.Add),
    "Subtract": _merge(ops.Subtract, exactly=2),
    "Average": _merge(ops.Average),
    "Activation": _activation_layer,
    "ReLU": _relu_layer,
    "ThresholdedReLU": _thresholded_relu_layer,
    "LeakyReLU": _leaky_relu_layer,
    "PReLU": _prelu_layer,
    "ELU": _elu_layer,
    "Softmax": _softmax_layer,
}

#: Every layer class seqlift reads (nested Sequential/functional models too).
SUPPORTED_LAYERS = tuple(sorted(set(_TRANSLATORS) | {"InputLayer", "Sequential", "Functional"}))


# --------------------------------------------------------------------------
# flattening a spec into a graph
# --------------------------------------------------------------------------
#: Inputs up to this many values are shape-checked by running the op on zeros
#: (fast); larger or partly unknown ones by tracing it symbolically.
_EAGER_SHAPE_LIMIT = 1 << 20


def _infer_shape(op: ops.Op, input_shapes: list[tuple]) -> tuple:
    """Output shape (without batch) of ``op`` on inputs of the given shapes."""
    known = all(d is not None for shape in input_shapes for d in shape)
    if known and all(int(np.prod(shape)) <= _EAGER_SHAPE_LIMIT for shape in input_shapes):
        out = op(*[tf.zeros((1, *shape), tf.float32) for shape in input_shapes])
        return tuple(int(d) for d in out.shape[1:])
    specs = [tf.TensorSpec((None, *shape), tf.float32) for shape in input_shapes]
    traced = tf.function(lambda *xs: op(*xs), autograph=False).get_concrete_function(*specs)
    out_shape = traced.structured_outputs.shape
    return tuple(None if d is None else int(d) for d in out_shape[1:])


class _GraphBuilder:
    """Flattens a :class:`ModelSpec` (and its nested models) into graph nodes."""

    def __init__(self, store: WeightStore) -> None:
        self.store = store
        self.nodes: dict[str, Node] = {}
        self.shapes: dict[str, tuple] = {}
        self._ops: dict[tuple[str, ...], list[ops.Op]] = {}

    def add(self, name: str, op: ops.Op, inputs: list[str], layer: str, label: str) -> str:
        if name in self.nodes:
            raise SeqliftError(f"two nodes would be named {name!r}; rename layer {label}")
        try:
            shape = _infer_shape(op, [self.shapes[i] for i in inputs])
        except SeqliftError:
            raise
        except Exception as err:  # TensorFlow reports shape errors with many types
            shapes = ", ".join(shape_text(self.shapes[i], batch=True) for i in inputs)
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise SeqliftError(f"layer {label} cannot be applied to input shape(s) {shapes}: {first_line}") from None
        self.nodes[name] = Node(name, op, list(inputs), layer)
        self.shapes[name] = shape
        return name

    def layer_ops(self, layer: LayerSpec, inputs: list[str], weight_path: tuple[str, ...]) -> list[ops.Op]:
        if weight_path in self._ops:
            return self._ops[weight_path]
        translate = _TRANSLATORS.get(layer.class_name)
        if translate is None:
            raise SeqliftError(
                f"layer {'/'.join(weight_path)!r} ({layer.file_class or layer.class_name}) is not supported "
                f"by seqlift; supported layer classes: {', '.join(SUPPORTED_LAYERS)}"
            )
        ctx = _LayerContext(layer, [self.shapes[i] for i in inputs], self.store, weight_path)
        try:
            made = translate(ctx)
        except SeqliftError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ctx.fail(f"cannot read its config ({type(err).__name__} {err})") from None
        self._ops[weight_path] = made
        return made

    def build(
        self,
        spec: ModelSpec,
        node_prefix: str,
        layer_prefix: str,
        weight_path: tuple[str, ...],
        feeds: list[str] | None,
    ) -> tuple[list[str], list[str]]:
        """Add ``spec``'s nodes; return (input node names, output node names)."""
        tensors: dict[tuple[str, int], list[str]] = {}
        input_nodes = []
        for position, ref in enumerate(spec.inputs):
            layer = spec.layer(ref.layer)
            if feeds is None:
                shape = spec.input_shapes[position]
                if shape is None:
                    raise SeqliftError(f"input {ref.layer!r} of model {spec.name!r} has no shape in the config")
                name = node_prefix + layer.name
                if name in self.nodes:
                    raise SeqliftError(f"two nodes would be named {name!r}")
                self.nodes[name] = Node(name, ops.Input(shape), [], layer_prefix + layer.name)
                self.shapes[name] = tuple(shape)
                tensors[(layer.name, 0)] = [name]
                input_nodes.append(name)
            else:
                if len(feeds) != len(spec.inputs):
                    raise SeqliftError(
                        f"nested model {spec.name!r} takes {len(spec.inputs)} input(s), "
                        f"but is called with {len(feeds)}"
                    )
                tensors[(layer.name, 0)] = [feeds[position]]
        pending = [(layer, k) for layer in spec.layers if layer.class_name != "InputLayer" for k in range(len(layer.calls))]
        while pending:
            remaining = []
            for layer, call in pending:
                refs = layer.calls[call]
                if not all((r.layer, r.node) in tensors for r in refs):
                    remaining.append((layer, call))
                    continue
                sources = []
                for r in refs:
                    outs = tensors[(r.layer, r.node)]
                    if r.tensor >= len(outs):
                        raise SeqliftError(f"model {spec.name!r} refers to output {r.tensor} of layer {r.layer!r}, which has {len(outs)}")
                    sources.append(outs[r.tensor])
                tensors[(layer.name, call)] = self.call_layer(
                    layer, call, sources, node_prefix, layer_prefix, weight_path + (layer.name,)
                )
            if len(remaining) == len(pending):
                names = ", ".join(sorted({layer.name for layer, _ in remaining}))
                raise SeqliftError(f"model {spec.name!r}: the inputs of layer(s) {names} are never computed")
            pending = remaining
        outputs = []
        for ref in spec.outputs:
            outs = tensors.get((ref.layer, ref.node))
            if outs is None or ref.tensor >= len(outs):
                raise SeqliftError(f"model {spec.name!r} has an output {ref.layer!r} that its layers never compute")
            outputs.append(outs[ref.tensor])
        return input_nodes, outputs

    def call_layer(
        self,
        layer: LayerSpec,
        call: int,
        sources: list[str],
        node_prefix: str,
        layer_prefix: str,
        weight_path: tuple[str, ...],
    ) -> list[str]:
        base = node_prefix + layer.name + ("" if call == 0 else f"@{call}")
        qualified = layer_prefix + layer.name
        label = f"{qualified!r} ({layer.file_class or layer.class_name})"
        if layer.model is not None:
            _, inner_outputs = self.build(layer.model, base + "/", qualified + "/", weight_path, sources)
            if len(inner_outputs) == 1:
                return [self.add(base, ops.Identity(), [inner_outputs[0]], qualified, label)]
            return [
                self.add(f"{base}:{i}", ops.Identity(), [out], qualified, label) for i, out in enumerate(inner_outputs)
            ]
        made = self.layer_ops(layer, sources, weight_path)
        if len(made) == 1:
            return [self.add(base, made[0], sources, qualified, label)]
        preact = self.add(base + "/preact", made[0], sources, qualified, label)
        return [self.add(base, made[1], [preact], qualified, label)]


def build_model(spec: ModelSpec, store: WeightStore, source: str) -> Model:
    """Flatten a model spec into a :class:`~seqlift.model.graph.Model`.

    Parameters
    ----------
    spec
        The parsed config.
    store
        The weights, by layer path.
    source
        Where the model came from (kept as ``Model.source``).

    Raises
    ------
    SeqliftError
        For unsupported layers, weights that do not fit the config, or
        weights the config has no layer for.
    """
    builder = _GraphBuilder(store)
    inputs, outputs = builder.build(spec, "", "", (), None)
    left = store.unused()
    if left:
        shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        raise SeqliftError(
            f"weights in {store.source} do not match the model config: no layer of the config takes {shown}"
        )
    return Model(
        nodes=builder.nodes,
        inputs=inputs,
        outputs=outputs,
        input_shapes=[builder.shapes[name] for name in inputs],
        shapes=builder.shapes,
        source=source,
        name=spec.name,
    )
