"""What each Keras layer class means as seqlift ops: one translator per class.

:func:`layer_ops` turns one layer of a :class:`~seqlift.model.keras_spec.ModelSpec`
(its config, the shapes of its inputs, and the weights a
:class:`~seqlift.model.keras_weights.WeightStore` holds for it) into the ops
that compute it: one op, or a linear op and the activation its
``activation=`` argument applies. :data:`SUPPORTED_LAYERS` and
:data:`SUPPORTED_ACTIVATIONS` list what is read; the ``activation=`` names
come from the activation table (:mod:`seqlift.model.activations`).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from seqlift.errors import SeqliftError
from seqlift.model import attention, conv_variants, interactions, normalization, ops, recurrent
from seqlift.model.activations import ACTIVATIONS, keras_activation_names
from seqlift.model.keras_spec import LayerSpec
from seqlift.model.keras_weights import WeightSpec, WeightStore
from seqlift.model.lambdas import declaration_for, lambda_names, lambda_op
from seqlift.model.layer_graph import LayerGraph
from seqlift.model.shapes import shape_text

__all__ = ["SUPPORTED_ACTIVATIONS", "SUPPORTED_LAYERS", "layer_ops"]

#: ``activation=`` values and the Activation kinds (plus parameters) they mean.
_ACTIVATION_NAMES = keras_activation_names()

#: Every ``activation=`` value seqlift reads.
SUPPORTED_ACTIVATIONS = tuple(sorted(set(_ACTIVATION_NAMES) | {"linear", "softmax"}))


class _LayerContext:
    """What a layer translator needs: the layer, its input shapes and its weights."""

    def __init__(
        self,
        layer: LayerSpec,
        input_shapes: list[tuple],
        store: WeightStore,
        weight_path: tuple[str, ...],
        lambdas: Mapping[str, str] | None = None,
    ) -> None:
        self.layer = layer
        self.config = layer.config
        self.input_shapes = input_shapes
        self._store = store
        self._weight_path = weight_path
        #: the user's declarations of Lambda layers (:mod:`seqlift.model.lambdas`)
        self.lambdas = lambdas

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

    def call_option(self, key: str, default: Any = None) -> Any:
        """An option the layer is called with (``use_causal_mask=True``), the same in every call."""
        values = {repr(options.get(key, default)) for options in self.layer.call_options} or {repr(default)}
        if len(values) > 1:
            raise self.fail(f"its calls differ in {key}=, which seqlift cannot share between them")
        calls = self.layer.call_options
        return calls[0].get(key, default) if calls else default


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
    kind, implied = _ACTIVATION_NAMES[name]
    params = dict(implied)
    if kind == "hard_sigmoid" and ctx.layer.keras_major < 3:
        params["slope"] = 0.2  # Keras 2 and tf.keras 2's hard_sigmoid
    inner = value.get("config") if isinstance(value, dict) else None
    if isinstance(inner, dict):  # a serialized function with arguments, e.g. gelu's approximate
        taken = ACTIVATIONS[kind].parameter_names()
        params.update({key: v for key, v in inner.items() if key in taken and isinstance(v, (bool, int, float))})
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


def _conv1d_options(ctx: _LayerContext) -> tuple[int, int, str, int, bool]:
    """``(kernel_size, stride, padding, dilation, use_bias)`` of a 1-D convolution variant (channels last)."""
    if _data_format(ctx) != "channels_last":
        raise ctx.fail("only channels_last inputs are supported")
    if len(ctx.shape) != 2:
        raise ctx.fail(f"expects an input (batch, steps, channels), got {shape_text(ctx.shape, batch=True)}")
    if ctx.shape[-1] is None:
        raise ctx.fail("needs a fixed number of input channels")
    padding = str(ctx.get("padding", default="valid")).lower()
    return (_ints(ctx.get("kernel_size"), 1)[0], _ints(ctx.get("strides", default=1), 1)[0], padding,
            _ints(ctx.get("dilation_rate", default=1), 1)[0], bool(ctx.get("use_bias", default=True)))


def _take_kernel_named(ctx: _LayerContext, names: tuple[str, ...], shape: tuple,
                       rest: list[WeightSpec]) -> list[np.ndarray]:
    """The layer's kernel (under the first of ``names`` its file uses: Keras 3 and tf.keras 2 name some
    kernels differently) and its other arrays."""
    for name in names[:-1]:
        try:
            return ctx.take([WeightSpec(name, shape), *rest])
        except SeqliftError:
            pass
    return ctx.take([WeightSpec(names[-1], shape), *rest])


def _depthwise(ctx: _LayerContext, kernel: np.ndarray, padding: str, stride: int, dilation: int,
               bias: np.ndarray | None) -> ops.Conv:
    """A depthwise convolution, ``(kernel_size, channels, multiplier)``, as a grouped convolution with one
    group per input channel (output channel ``c · multiplier + m``, as Keras orders them)."""
    size, channels, multiplier = kernel.shape
    try:
        return ops.Conv(kernel.reshape(size, 1, channels * multiplier), bias, rank=1, strides=(stride,),
                        padding=padding, dilation_rate=(dilation,), groups=channels)
    except ValueError as err:
        raise ctx.fail(str(err)) from None


def _depthwise_conv1d(ctx: _LayerContext) -> list[ops.Op]:
    """Keras ``DepthwiseConv1D``: each input channel convolved with its own ``depth_multiplier`` filters."""
    size, stride, padding, dilation, use_bias = _conv1d_options(ctx)
    channels, multiplier = ctx.shape[-1], int(ctx.get("depth_multiplier", default=1))
    arrays = _take_kernel_named(ctx, ("kernel", "depthwise_kernel"), (size, channels, multiplier),
                                [WeightSpec("bias", (channels * multiplier,))] if use_bias else [])
    return _with_activation(_depthwise(ctx, arrays[0], padding, stride, dilation, arrays[1] if use_bias else None),
                            ctx)


def _separable_conv1d(ctx: _LayerContext) -> LayerGraph:
    """Keras ``SeparableConv1D``: a depthwise convolution, then a width-1 convolution to ``filters``."""
    size, stride, padding, dilation, use_bias = _conv1d_options(ctx)
    channels, multiplier = ctx.shape[-1], int(ctx.get("depth_multiplier", default=1))
    filters = int(ctx.get("filters"))
    arrays = ctx.take([WeightSpec("depthwise_kernel", (size, channels, multiplier)),
                       WeightSpec("pointwise_kernel", (1, channels * multiplier, filters))]
                      + ([WeightSpec("bias", (filters,))] if use_bias else []))
    graph = LayerGraph()
    last = graph.add("depthwise", _depthwise(ctx, arrays[0], padding, stride, dilation, None), 0)
    ops_after = _with_activation(ops.Conv(arrays[1], arrays[2] if use_bias else None, rank=1), ctx)
    if len(ops_after) == 2:
        last = graph.add("preact", ops_after[0], last)
    graph.add("", ops_after[-1], last)
    return graph


def _conv1d_transpose(ctx: _LayerContext) -> list[ops.Op]:
    """Keras ``Conv1DTranspose`` (without ``output_padding``)."""
    size, stride, padding, dilation, use_bias = _conv1d_options(ctx)
    if ctx.get("output_padding") is not None:
        raise ctx.fail("output_padding is not supported")
    filters = int(ctx.get("filters"))
    arrays = ctx.take([WeightSpec("kernel", (size, filters, ctx.shape[-1]))]
                      + ([WeightSpec("bias", (filters,))] if use_bias else []))
    try:
        op = conv_variants.ConvTranspose1D(arrays[0], arrays[1] if use_bias else None, stride, padding, dilation)
    except ValueError as err:
        raise ctx.fail(str(err)) from None
    return _with_activation(op, ctx)


def _upsampling1d(ctx: _LayerContext) -> list[ops.Op]:
    return [conv_variants.UpSampling1D(int(ctx.get("size", "length", default=2)))]


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


def _lambda_layer(ctx: _LayerContext) -> list[ops.Op]:
    """A Lambda layer, as the user declared it (its Python code is never run; an undeclared one is refused
    by the graph builder, which knows its position: :func:`seqlift.model.lambdas.undeclared_lambda`)."""
    declared = declaration_for(ctx.lambdas, lambda_names(ctx.layer.name, ctx._weight_path))
    if declared is None:
        raise ctx.fail("is a Lambda layer nobody declared")
    if len(ctx.input_shapes) != 1:
        raise ctx.fail(f"a declared Lambda takes one input, got {len(ctx.input_shapes)}")
    try:
        return [lambda_op(declared)]
    except ValueError as err:
        raise ctx.fail(str(err)) from None


def _conv2d_transpose(ctx: _LayerContext) -> list[ops.Op]:
    """Conv2DTranspose with strides 1 and ``same`` padding (BPNet's profile head) as an ordinary convolution.

    A transposed convolution is the adjoint of a correlation with the same
    kernel ``K`` ``(kh, kw, out, in)``; with strides 1 it is the correlation
    with ``K`` flipped along both spatial axes and its channel axes swapped,
    ``K'[t] = K[k − 1 − t]ᵀ``, padded by ``ceil((k − 1) / 2)`` on the left of
    each spatial axis (the forward correlation's ``floor((k − 1) / 2)``
    mirrored). A ``same`` convolution pads ``floor``: equal for an odd ``k``;
    for an even ``k`` a zero tap appended to ``K'`` makes its size odd and
    moves the padding by one.
    """
    _reject_lora_and_quantized(ctx)
    strides = _ints(ctx.get("strides", default=1), 2)
    dilation = _ints(ctx.get("dilation_rate", default=1), 2)
    padding = str(ctx.get("padding", default="valid")).lower()
    if strides != (1, 1) or dilation != (1, 1) or padding != "same" or ctx.get("output_padding") is not None:
        raise ctx.fail(f"seqlift reads Conv2DTranspose with strides 1, dilation 1 and 'same' padding (BPNet's "
                       f"profile head), not strides {strides}, dilation {dilation}, padding {padding!r}")
    filters = int(ctx.get("filters"))
    kernel_size = _ints(ctx.get("kernel_size"), 2)
    data_format = _data_format(ctx)
    use_bias = bool(ctx.get("use_bias", default=True))
    if len(ctx.shape) != 3:
        raise ctx.fail(f"expects an input of rank 4, got shape {shape_text(ctx.shape, batch=True)}")
    channels = ctx.shape[-1] if data_format == "channels_last" else ctx.shape[0]
    wanted = [WeightSpec("kernel", (*kernel_size, filters, channels))]
    if use_bias:
        wanted.append(WeightSpec("bias", (filters,)))
    arrays = ctx.take(wanted)
    kernel = np.transpose(arrays[0][::-1, ::-1], (0, 1, 3, 2))
    odd = [(0, 1 - k % 2) for k in kernel_size] + [(0, 0), (0, 0)]
    kernel = np.pad(kernel, odd)
    op = ops.Conv(kernel, arrays[1] if use_bias else None, rank=2, padding="same", data_format=data_format)
    return _with_activation(op, ctx)


def _dot(ctx: _LayerContext) -> list[ops.Op]:
    """Keras ``Dot``: ``batch_dot`` of two inputs over one axis each (a product of two varying tensors)."""
    if len(ctx.input_shapes) != 2:
        raise ctx.fail(f"takes exactly 2 inputs, got {len(ctx.input_shapes)}")
    if ctx.get("normalize", default=False):
        raise ctx.fail("normalize=True (cosine proximity) is not supported")
    ranks = [len(shape) + 1 for shape in ctx.input_shapes]
    axes = ctx.get("axes", default=-1)
    axes = list(axes) if isinstance(axes, (list, tuple)) else [axes, axes]
    axes = [int(a) % rank if int(a) < 0 else int(a) for a, rank in zip(axes, ranks)]
    if 0 in axes:
        raise ctx.fail("cannot take the dot product over the batch axis")
    if ctx.input_shapes[0][axes[0] - 1] != ctx.input_shapes[1][axes[1] - 1]:
        raise ctx.fail(f"axes {axes} of inputs {', '.join(shape_text(s, batch=True) for s in ctx.input_shapes)} "
                       f"differ in length")
    equation = interactions.dot_equation(ranks[0], ranks[1], axes[0], axes[1])
    product = interactions.Einsum(equation, f"Dot(axes={tuple(axes)})")
    if sum(ranks) - 3 > 1:
        return [product]
    graph = LayerGraph()  # Keras makes a rank-1 result (batch, 1)
    graph.add("product", product, 0, 1)
    graph.add("", ops.Reshape((1,)), "product")
    return graph


def _normalized_axes(ctx: _LayerContext, rank: int) -> list[int]:
    axis = ctx.get("axis", default=-1)
    axes = sorted(int(a) % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis]))
    if 0 in axes:
        raise ctx.fail(f"axis {axis} does not fit an input of shape {shape_text(ctx.shape, batch=True)}")
    return axes


def _layer_normalization(ctx: _LayerContext) -> LayerGraph:
    rank = len(ctx.shape) + 1
    axes = _normalized_axes(ctx, rank)
    param_shape = tuple(ctx.shape[a - 1] for a in axes)
    if any(d is None for d in param_shape):
        raise ctx.fail(f"normalises axes of free length in {shape_text(ctx.shape, batch=True)}")
    rms = bool(ctx.get("rms_scaling", default=False))
    # as Keras: rms_scaling keeps gamma and drops beta
    scale = bool(ctx.get("scale", default=True)) or rms
    center = bool(ctx.get("center", default=True)) and not rms
    wanted = ([WeightSpec("gamma", param_shape)] if scale else []) + ([WeightSpec("beta", param_shape)] if center else [])
    arrays = dict(zip([w.name for w in wanted], ctx.take(wanted)))
    return normalization.layer_normalization_graph(
        ctx.shape, axes, float(ctx.get("epsilon", default=1e-3)), arrays.get("gamma"), arrays.get("beta"),
        rms_scaling=rms)


def _sequence_inputs(ctx: _LayerContext, counts: tuple[int, ...]) -> list[tuple]:
    """The ``(length, features)`` shapes of an attention layer's inputs, checked."""
    if len(ctx.input_shapes) not in counts:
        raise ctx.fail(f"takes {' or '.join(map(str, counts))} inputs, got {len(ctx.input_shapes)}")
    if any(len(shape) != 2 or None in shape for shape in ctx.input_shapes):
        raise ctx.fail("seqlift reads attention over inputs of shape (batch, length, features) with fixed lengths, "
                       f"not {', '.join(shape_text(s, batch=True) for s in ctx.input_shapes)}")
    if ctx.call_option("return_attention_scores", False):
        raise ctx.fail("return_attention_scores=True is not supported")
    return ctx.input_shapes


def _multi_head_attention(ctx: _LayerContext) -> LayerGraph:
    shapes = _sequence_inputs(ctx, (2, 3))
    axes = ctx.get("attention_axes")
    if axes is not None and [int(a) % 3 for a in (axes if isinstance(axes, (list, tuple)) else [axes])] != [1]:
        raise ctx.fail(f"attention_axes={axes} is not supported (attention over the sequence axis only)")
    for option in ("use_gate", "sliding_window"):
        if ctx.get(option):
            raise ctx.fail(f"{option}={ctx.get(option)} is not supported")
    heads, key_dim = int(ctx.get("num_heads")), int(ctx.get("key_dim"))
    value_dim = int(ctx.get("value_dim", default=key_dim))
    out = ctx.get("output_shape")
    out = shapes[0][-1] if out is None else int(out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out)
    use_bias = bool(ctx.get("use_bias", default=True))
    key_features = shapes[2 if len(shapes) == 3 else 1][-1]
    layout = {"query": ((shapes[0][-1], heads, key_dim), (heads, key_dim)),
              "key": ((key_features, heads, key_dim), (heads, key_dim)),
              "value": ((shapes[1][-1], heads, value_dim), (heads, value_dim)),
              "output": ((heads, value_dim, out), (out,))}
    wanted = [spec for kernel, bias in layout.values()
              for spec in [WeightSpec("kernel", kernel)] + ([WeightSpec("bias", bias)] if use_bias else [])]
    arrays = iter(ctx.take(wanted))
    weights = {name: (next(arrays), next(arrays) if use_bias else None) for name in layout}
    return attention.multi_head_attention_graph(
        shapes[0][0], shapes[1][0], weights, heads, key_dim, value_dim, separate_key=len(shapes) == 3,
        causal=bool(ctx.call_option("use_causal_mask", False)))


def _dot_attention(ctx: _LayerContext) -> LayerGraph:
    """Keras ``Attention`` (Luong): dot-product or concat scores, softmax over keys, weighted values."""
    shapes = _sequence_inputs(ctx, (2, 3))
    mode = ctx.get("score_mode", default="dot")
    if mode not in ("dot", "concat"):
        raise ctx.fail(f"unknown score_mode {mode!r}")
    wanted = ([WeightSpec("scale", ())] if ctx.get("use_scale", default=False) else [])
    wanted += [WeightSpec("concat_score_weight", ())] if mode == "concat" else []
    arrays = dict(zip([w.name for w in wanted], ctx.take(wanted)))
    scale = arrays.get("scale")
    key = 2 if len(shapes) == 3 else 1
    graph = LayerGraph()
    if mode == "dot":
        product = interactions.Einsum("bqd,bkd->bqk", "query-key product", 1.0 if scale is None else float(scale))
        scores = graph.add("scores", product, 0, key)
    else:
        scores = attention.additive_scores(graph, shapes[0][0], shapes[key][0], shapes[0][-1], key, scale,
                                           arrays["concat_score_weight"])
    causal = bool(ctx.call_option("use_causal_mask", False) or ctx.get("causal", default=False))
    attention.weighted_values(graph, scores, 1, shapes[0][0], shapes[1][0], causal)
    return graph


def _additive_attention(ctx: _LayerContext) -> LayerGraph:
    """Keras ``AdditiveAttention`` (Bahdanau): scores ``Σ_d s_d tanh(q_d + k_d)``, softmax, weighted values."""
    shapes = _sequence_inputs(ctx, (2, 3))
    features = shapes[0][-1]
    weights = np.ones(features, np.float32)
    if ctx.get("use_scale", default=True):
        (weights,) = ctx.take([WeightSpec("scale", (features,))])
    key = 2 if len(shapes) == 3 else 1
    graph = LayerGraph()
    scores = attention.additive_scores(graph, shapes[0][0], shapes[key][0], features, key, None, weights)
    causal = bool(ctx.call_option("use_causal_mask", False) or ctx.get("causal", default=False))
    attention.weighted_values(graph, scores, 1, shapes[0][0], shapes[1][0], causal)
    return graph


_RECURRENT_CLASSES = ("LSTM", "GRU", "SimpleRNN")


def _cell_activation(ctx: _LayerContext, config: dict, key: str, default: str) -> ops.Activation | None:
    op = _activation_op(config.get(key, default), ctx)
    if isinstance(op, ops.Softmax):
        raise ctx.fail(f"{key}='softmax' inside a recurrent cell is not supported")
    return op


def _reset_after(config: dict) -> bool:
    """A GRU's ``reset_after``: every Keras since 2.1 writes it; files without it predate it (reset before)."""
    return bool(config.get("reset_after", False))


def _recurrent_op(ctx: _LayerContext, class_name: str, config: dict, arrays: list[np.ndarray]) -> recurrent.Recurrent:
    """A recurrent op from one recurrent layer's config and its arrays (kernel, recurrent kernel, bias)."""
    for option, reason in (("stateful", "stateful recurrent layers are not supported"),
                           ("return_state", "return_state=True is not supported"),
                           ("time_major", "time-major inputs are not supported")):
        if config.get(option):
            raise ctx.fail(reason)
    cell = recurrent.cell_class(class_name)(
        arrays[0], arrays[1], arrays[2] if len(arrays) > 2 else None,
        activation=_cell_activation(ctx, config, "activation", "tanh"),
        recurrent_activation=(None if class_name == "SimpleRNN"
                              else _cell_activation(ctx, config, "recurrent_activation", "sigmoid")),
        **({"reset_after": _reset_after(config)} if class_name == "GRU" else {}))
    return recurrent.Recurrent(cell, bool(config.get("return_sequences", False)), bool(config.get("go_backwards", False)))


def _recurrent_weights(ctx: _LayerContext, configs: list[tuple[str, dict]]) -> list[list[np.ndarray]]:
    """The arrays of one or more recurrent layers (a Bidirectional's two), taken in order."""
    if len(ctx.shape) != 2 or ctx.shape[-1] is None:
        raise ctx.fail(f"expects an input (batch, steps, features), got {shape_text(ctx.shape, batch=True)}")
    wanted = [[WeightSpec(name, shape) for name, shape in recurrent.weight_shapes(
        class_name, ctx.shape[-1], int(config["units"]), bool(config.get("use_bias", True)),
        _reset_after(config))] for class_name, config in configs]
    arrays = iter(ctx.take([spec for layer in wanted for spec in layer]))
    return [[next(arrays) for _ in layer] for layer in wanted]


def _recurrent(ctx: _LayerContext) -> list[ops.Op]:
    (arrays,) = _recurrent_weights(ctx, [(ctx.layer.class_name, ctx.config)])
    return [_recurrent_op(ctx, ctx.layer.class_name, ctx.config, arrays)]


def _inner_layer(ctx: _LayerContext, entry: Any) -> tuple[str, dict]:
    if not isinstance(entry, dict) or entry.get("class_name") not in _RECURRENT_CLASSES:
        name = entry.get("class_name") if isinstance(entry, dict) else entry
        raise ctx.fail(f"wraps a {name} layer; seqlift reads Bidirectional {', '.join(_RECURRENT_CLASSES)} layers")
    return entry["class_name"], entry["config"]


def _bidirectional(ctx: _LayerContext) -> LayerGraph:
    """Keras ``Bidirectional``: a forward and a backward recurrent layer, the backward outputs realigned
    with the steps (when it returns sequences) and the two merged (concat, sum, ave, mul, or both kept)."""
    forward = _inner_layer(ctx, ctx.get("layer"))
    if ctx.get("backward_layer") is not None:
        backward = _inner_layer(ctx, ctx.get("backward_layer"))
    else:  # tf.keras 2 saves the backward layer only when it was given: the forward one, run the other way
        backward = (forward[0], {**forward[1], "go_backwards": not forward[1].get("go_backwards", False)})
    mode = ctx.config.get("merge_mode", "concat")  # None (both outputs kept) is a value here
    merges = {"concat": ops.Concatenate(-1), "sum": ops.Add(), "ave": ops.Average(), "mul": interactions.Multiply()}
    if mode is not None and mode not in merges:
        raise ctx.fail(f"unknown merge_mode {mode!r}")
    forward_arrays, backward_arrays = _recurrent_weights(ctx, [forward, backward])
    graph = LayerGraph()
    graph.add("forward", _recurrent_op(ctx, *forward, forward_arrays), 0)
    last = graph.add("backward", _recurrent_op(ctx, *backward, backward_arrays), 0)
    if bool(forward[1].get("return_sequences", False)):
        last = graph.add("backward_realigned", recurrent.Reverse(), last)
    if mode is None:
        graph.outputs = ("forward", last)
    else:
        graph.add("", merges[mode], "forward", last)
    return graph


_TRANSLATORS: dict[str, Callable[[_LayerContext], list[ops.Op] | LayerGraph]] = {
    "Dense": _dense,
    "Conv1D": _conv(1),
    "Conv2D": _conv(2),
    "Conv1DTranspose": _conv1d_transpose,
    "DepthwiseConv1D": _depthwise_conv1d,
    "SeparableConv1D": _separable_conv1d,
    "UpSampling1D": _upsampling1d,
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
    "Multiply": _merge(interactions.Multiply),
    "Minimum": _merge(interactions.Minimum),
    "Maximum": _merge(interactions.Maximum),
    "Dot": _dot,
    "LayerNormalization": _layer_normalization,
    "MultiHeadAttention": _multi_head_attention,
    "Attention": _dot_attention,
    "AdditiveAttention": _additive_attention,
    "LSTM": _recurrent,
    "GRU": _recurrent,
    "SimpleRNN": _recurrent,
    "Bidirectional": _bidirectional,
    "Activation": _activation_layer,
    "ReLU": _relu_layer,
    "ThresholdedReLU": _thresholded_relu_layer,
    "LeakyReLU": _leaky_relu_layer,
    "PReLU": _prelu_layer,
    "ELU": _elu_layer,
    "Softmax": _softmax_layer,
    "Lambda": _lambda_layer,
    "Conv2DTranspose": _conv2d_transpose,
}

#: Layer classes refused with a reason of their own.
_OUT_OF_SCOPE = {
    "Masking": "masking is out of scope: seqlift explains every position of its input; score a model "
               "saved without the Masking layer",
}

#: Every layer class seqlift reads (nested Sequential/functional models too).
SUPPORTED_LAYERS = tuple(sorted(set(_TRANSLATORS) | {"InputLayer", "Sequential", "Functional"}))


def layer_ops(layer: LayerSpec, input_shapes: list[tuple], store: WeightStore,
              weight_path: tuple[str, ...], lambdas: Mapping[str, str] | None = None) -> list[ops.Op] | LayerGraph:
    """The ops of one layer: ``[op]``, ``[linear, activation]`` for a layer with ``activation=``, or
    the layer's own small graph (:class:`~seqlift.model.layer_graph.LayerGraph`).

    Parameters
    ----------
    layer
        The layer's spec.
    input_shapes
        Shapes (without batch) of the tensors it is called on.
    store
        The model's weights; the layer takes its own from it.
    weight_path
        The layer's path among nested models (its weights' key in ``store``).
    lambdas
        What the model's Lambda layers compute, by name (:mod:`seqlift.model.lambdas`).

    Raises
    ------
    SeqliftError
        Naming the layer: an unsupported class, a config it cannot read, or
        weights that do not fit.
    """
    translate = _TRANSLATORS.get(layer.class_name)
    if layer.class_name in _OUT_OF_SCOPE:
        raise SeqliftError(f"layer {'/'.join(weight_path)!r} ({layer.file_class or layer.class_name}): "
                           f"{_OUT_OF_SCOPE[layer.class_name]}")
    if translate is None:
        raise SeqliftError(
            f"layer {'/'.join(weight_path)!r} ({layer.file_class or layer.class_name}) is not supported "
            f"by seqlift; supported layer classes: {', '.join(SUPPORTED_LAYERS)}"
        )
    ctx = _LayerContext(layer, input_shapes, store, weight_path, lambdas)
    try:
        return translate(ctx)
    except SeqliftError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ctx.fail(f"cannot read its config ({type(err).__name__} {err})") from None
