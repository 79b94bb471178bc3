"""The operations a seqlift model graph is made of.

Each :class:`Op` is a small callable on TensorFlow tensors (batch axis first)
that holds its weights as float32 ``tf.constant`` tensors. Ops fall into two
families that the DeepLIFT engine treats differently:

* :class:`Linear` ops are affine in their inputs, ``y = A(x) + b``; the engine
  propagates multipliers through them by automatic differentiation. Dense
  and convolution layers use the kernels of :mod:`seqlift.model.invariant`,
  forward and backward, so that a row's result does not depend on the batch.
  :meth:`Linear.homogeneous` gives ``A(x)`` alone (the op without its bias).
* Non-linear ops: :class:`Activation` (elementwise, with an exact
  :meth:`Activation.derivative`), :class:`Softmax`, :class:`MaxPool` and
  :class:`GlobalMaxPool`.

The forward computation of every op reproduces what Keras 3 computes for the
layer it comes from, with the TensorFlow backend.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import tensorflow as tf

from seqlift.model import invariant
from seqlift.model.shapes import shape_text

__all__ = [
    "ACTIVATION_KINDS",
    "Activation",
    "Add",
    "AvgPool",
    "Average",
    "BatchNorm",
    "Concatenate",
    "Conv",
    "Cropping1D",
    "Dense",
    "Flatten",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "Identity",
    "Input",
    "Linear",
    "MaxPool",
    "Op",
    "Permute",
    "Reshape",
    "Softmax",
    "Subtract",
    "ZeroPadding1D",
    "constant",
]

#: The elementwise non-linearities an :class:`Activation` op can apply.
ACTIVATION_KINDS = frozenset(
    {
        "relu",
        "sigmoid",
        "tanh",
        "softplus",
        "elu",
        "selu",
        "gelu",
        "swish",
        "exponential",
        "leaky_relu",
        "prelu",
    }
)

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def constant(value: np.ndarray | tf.Tensor | float | Sequence[float]) -> tf.Tensor:
    """Return ``value`` as a float32 ``tf.constant``."""
    return tf.constant(np.asarray(value, dtype=np.float32))


def _channels_last_perm(rank: int) -> list[int]:
    """Axis order taking a channels_first tensor of ``rank`` spatial axes to channels_last."""
    return [0, *range(2, rank + 2), 1]


def _channels_first_perm(rank: int) -> list[int]:
    """Axis order taking a channels_last tensor of ``rank`` spatial axes to channels_first."""
    return [0, rank + 1, *range(1, rank + 1)]


class Op:
    """Base class of every operation in a seqlift model graph.

    Subclasses implement :meth:`__call__` on float32 tensors whose first axis
    is the batch.
    """

    def __call__(self, *inputs: tf.Tensor) -> tf.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def weights(self) -> dict[str, tf.Tensor]:
        """The op's constant tensors, by name (empty for ops without weights)."""
        return {}

    def describe(self) -> str:
        """A short human-readable description, used by ``Model.summary``."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


class Input(Op):
    """A model input; its forward pass is the identity on the fed tensor.

    Parameters
    ----------
    shape
        The input's shape without the batch axis (``None`` for a free length).
    """

    def __init__(self, shape: Sequence[int | None]) -> None:
        self.shape = tuple(None if d is None else int(d) for d in shape)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.convert_to_tensor(x, dtype=tf.float32)

    def describe(self) -> str:
        return f"Input{self.shape}"


class Linear(Op):
    """An op affine in its inputs: ``y = A(x) + b``."""

    def homogeneous(self, *inputs: tf.Tensor) -> tf.Tensor:
        """``A(x)``: the op with its bias (if any) left out.

        Ops without a bias return the same as :meth:`__call__`.
        """
        return self(*inputs)


class Identity(Linear):
    """Passes its input through (dropout and noise layers at inference, ``linear``)."""

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.identity(x)


class _Kernel(Linear):
    """A Dense or convolution layer: a ``kernel`` applied by :meth:`apply`, then an optional ``bias``."""

    kernel: tf.Tensor
    bias: tf.Tensor | None

    def apply(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def homogeneous(self, x: tf.Tensor) -> tf.Tensor:
        return self.apply(x, self.kernel)

    @property
    def weights(self) -> dict[str, tf.Tensor]:
        out = {"kernel": self.kernel}
        if self.bias is not None:
            out["bias"] = self.bias
        return out


class Dense(_Kernel):
    """A fully connected layer ``x @ kernel + bias`` on the last axis.

    Parameters
    ----------
    kernel
        ``(input_units, units)`` matrix.
    bias
        ``(units,)`` vector, or None for a layer without bias.
    """

    def __init__(self, kernel: np.ndarray | tf.Tensor, bias: np.ndarray | tf.Tensor | None) -> None:
        self.kernel = constant(kernel)
        self.bias = None if bias is None else constant(bias)

    @staticmethod
    def apply(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        """``x @ kernel`` on the last axis of ``x``, without bias."""
        return invariant.matmul(x, kernel)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        y = self.apply(x, self.kernel)
        return y if self.bias is None else y + self.bias

    def describe(self) -> str:
        bias = "" if self.bias is not None else ", no bias"
        return f"Dense({self.kernel.shape[-1]}{bias})"


class Conv(_Kernel):
    """A 1-D or 2-D convolution (Keras ``Conv1D``/``Conv2D``).

    Parameters
    ----------
    kernel
        ``(*kernel_size, input_channels // groups, filters)``.
    bias
        ``(filters,)``, or None.
    rank
        Number of spatial axes, 1 or 2.
    strides, dilation_rate
        One int per spatial axis.
    padding
        ``'valid'``, ``'same'``, or ``'causal'`` (1-D only: left padding of
        ``dilation * (kernel - 1)``).
    data_format
        ``'channels_last'`` or ``'channels_first'``. Channels-first inputs are
        transposed to channels-last and back, since TensorFlow's CPU kernels
        only convolve channels-last tensors.
    groups
        Number of channel groups (1 for an ordinary convolution).
    """

    def __init__(
        self,
        kernel: np.ndarray | tf.Tensor,
        bias: np.ndarray | tf.Tensor | None,
        rank: int,
        strides: Sequence[int] = (1,),
        padding: str = "valid",
        dilation_rate: Sequence[int] = (1,),
        data_format: str = "channels_last",
        groups: int = 1,
    ) -> None:
        if rank not in (1, 2):
            raise ValueError(f"Conv rank must be 1 or 2, got {rank}")
        if padding not in ("valid", "same", "causal"):
            raise ValueError(f"Conv padding must be valid, same or causal, got {padding!r}")
        if padding == "causal" and rank != 1:
            raise ValueError("causal padding exists only for 1-D convolutions")
        self.kernel = constant(kernel)
        self.bias = None if bias is None else constant(bias)
        self.rank = int(rank)
        self.strides = tuple(int(s) for s in strides)
        self.padding = padding
        self.dilation_rate = tuple(int(d) for d in dilation_rate)
        self.data_format = data_format
        self.groups = int(groups)

    def _convolve(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        """Channels-last convolution, differentiated by :func:`invariant.conv_transpose`."""
        spatial = x.shape[1:-1]
        groups = self.groups
        k_parts = tf.split(kernel, groups, axis=-1) if groups > 1 else [kernel]

        def forward(inputs: tf.Tensor) -> tf.Tensor:
            padding = self.padding
            if padding == "causal":
                left = self.dilation_rate[0] * (int(kernel.shape[0]) - 1)
                inputs = tf.pad(inputs, [[0, 0], [left, 0], [0, 0]])
                padding = "valid"
            x_parts = tf.split(inputs, groups, axis=-1) if groups > 1 else [inputs]
            outs = [
                tf.nn.convolution(a, k, strides=list(self.strides), padding=padding.upper(),
                                  dilations=list(self.dilation_rate))
                for a, k in zip(x_parts, k_parts)
            ]
            return outs[0] if groups == 1 else tf.concat(outs, axis=-1)

        if not spatial.is_fully_defined():  # free length: TensorFlow's own gradient
            return forward(x)

        @tf.custom_gradient
        def convolve(inputs: tf.Tensor) -> tf.Tensor:
            def grad(g: tf.Tensor) -> tf.Tensor:
                g_parts = tf.split(g, groups, axis=-1) if groups > 1 else [g]
                backs = [
                    invariant.conv_transpose(part, k, spatial.as_list(), self.strides, self.dilation_rate, self.padding)
                    for part, k in zip(g_parts, k_parts)
                ]
                return backs[0] if groups == 1 else tf.concat(backs, axis=-1)

            return forward(inputs), grad

        return convolve(x)

    def apply(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        """The convolution of ``x`` with ``kernel``, without bias."""
        if self.data_format == "channels_first":
            x = tf.transpose(x, _channels_last_perm(self.rank))
            return tf.transpose(self._convolve(x, kernel), _channels_first_perm(self.rank))
        return self._convolve(x, kernel)

    def add_bias(self, y: tf.Tensor) -> tf.Tensor:
        """Add the bias to a convolution output ``y`` in this op's data format."""
        if self.bias is None:
            return y
        if self.data_format == "channels_first":
            return y + tf.reshape(self.bias, [-1] + [1] * self.rank)
        return y + self.bias

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.add_bias(self.apply(x, self.kernel))

    def describe(self) -> str:
        size = "x".join(str(d) for d in self.kernel.shape[: self.rank])
        extra = []
        if any(s != 1 for s in self.strides):
            extra.append(f"strides={self.strides}")
        if any(d != 1 for d in self.dilation_rate):
            extra.append(f"dilation={self.dilation_rate}")
        if self.groups != 1:
            extra.append(f"groups={self.groups}")
        if self.data_format != "channels_last":
            extra.append(self.data_format)
        if self.bias is None:
            extra.append("no bias")
        tail = "".join(", " + e for e in extra)
        return f"Conv{self.rank}D({self.kernel.shape[-1]}, {size}, {self.padding}{tail})"


class BatchNorm(Linear):
    """Batch normalisation at inference, folded into ``y = x * scale + shift``.

    Parameters
    ----------
    scale, shift
        Tensors shaped to broadcast on the input: the normalised axes keep
        their length, every other axis (batch included) has length 1.
    axis
        The normalised axes (positive, counting the batch axis).
    """

    def __init__(
        self,
        scale: np.ndarray | tf.Tensor,
        shift: np.ndarray | tf.Tensor,
        axis: Sequence[int] = (-1,),
    ) -> None:
        self.scale = constant(scale)
        self.shift = constant(shift)
        self.axis = tuple(int(a) for a in axis)

    @classmethod
    def from_moments(
        cls,
        mean: np.ndarray,
        variance: np.ndarray,
        gamma: np.ndarray | None,
        beta: np.ndarray | None,
        epsilon: float,
        axis: Sequence[int],
        input_rank: int,
    ) -> "BatchNorm":
        """Fold Keras' moving statistics and (optional) gamma and beta.

        Parameters
        ----------
        mean, variance, gamma, beta
            Arrays shaped like the normalised axes; ``gamma``/``beta`` None
            when the layer has ``scale=False``/``center=False``.
        epsilon
            Added to the variance.
        axis
            Normalised axes, positive, counting the batch axis.
        input_rank
            Rank of the input, batch axis included.
        """
        inv = 1.0 / np.sqrt(np.asarray(variance, np.float64) + float(epsilon))
        if gamma is not None:
            inv = inv * np.asarray(gamma, np.float64)
        shift = -np.asarray(mean, np.float64) * inv
        if beta is not None:
            shift = shift + np.asarray(beta, np.float64)
        shape = [1] * input_rank
        axes = sorted(axis)
        param_shape = np.shape(inv)
        if len(param_shape) != len(axes):
            inv = np.reshape(inv, [-1])
            shift = np.reshape(shift, [-1])
            param_shape = inv.shape
        for a, n in zip(axes, param_shape):
            shape[a] = n
        return cls(np.reshape(inv, shape), np.reshape(shift, shape), axes)

    def homogeneous(self, x: tf.Tensor) -> tf.Tensor:
        return x * self.scale

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return x * self.scale + self.shift

    @property
    def weights(self) -> dict[str, tf.Tensor]:
        return {"scale": self.scale, "shift": self.shift}

    def describe(self) -> str:
        return f"BatchNorm(axis={self.axis[0] if len(self.axis) == 1 else self.axis})"


class _Pool(Op):
    """Shared parameters of the windowed pooling ops."""

    def __init__(
        self,
        rank: int,
        pool_size: Sequence[int],
        strides: Sequence[int] | None = None,
        padding: str = "valid",
        data_format: str = "channels_last",
    ) -> None:
        self.rank = int(rank)
        self.pool_size = tuple(int(p) for p in pool_size)
        self.strides = tuple(int(s) for s in (strides if strides is not None else pool_size))
        self.padding = padding
        self.data_format = data_format

    def _pool(self, x: tf.Tensor) -> tf.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        if self.data_format == "channels_first":
            x = tf.transpose(x, _channels_last_perm(self.rank))
            return tf.transpose(self._pool(x), _channels_first_perm(self.rank))
        return self._pool(x)

    def describe(self) -> str:
        fmt = "" if self.data_format == "channels_last" else f", {self.data_format}"
        return (
            f"{type(self).__name__}{self.rank}D(pool={self.pool_size}, strides={self.strides}, "
            f"{self.padding}{fmt})"
        )


class MaxPool(_Pool):
    """Windowed maximum (Keras ``MaxPooling1D``/``MaxPooling2D``)."""

    def _pool(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.max_pool(x, list(self.pool_size), list(self.strides), self.padding.upper())


class AvgPool(_Pool, Linear):
    """Windowed mean (Keras ``AveragePooling1D``/``2D``); with ``'same'`` padding
    the padded positions are left out of each mean, as in Keras."""

    def _pool(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.avg_pool(x, list(self.pool_size), list(self.strides), self.padding.upper())


class _GlobalPool(Op):
    def __init__(self, rank: int, data_format: str = "channels_last", keepdims: bool = False) -> None:
        self.rank = int(rank)
        self.data_format = data_format
        self.keepdims = bool(keepdims)

    @property
    def axes(self) -> list[int]:
        """The spatial axes reduced over."""
        if self.data_format == "channels_first":
            return list(range(2, self.rank + 2))
        return list(range(1, self.rank + 1))

    def describe(self) -> str:
        params = [] if self.data_format == "channels_last" else [self.data_format]
        if self.keepdims:
            params.append("keepdims")
        inside = f"({', '.join(params)})" if params else ""
        return f"{type(self).__name__}{self.rank}D{inside}"


class GlobalMaxPool(_GlobalPool):
    """Maximum over all spatial positions (Keras ``GlobalMaxPooling1D``/``2D``)."""

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_max(x, axis=self.axes, keepdims=self.keepdims)


class GlobalAvgPool(_GlobalPool, Linear):
    """Mean over all spatial positions (Keras ``GlobalAveragePooling1D``/``2D``)."""

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(x, axis=self.axes, keepdims=self.keepdims)


class Flatten(Linear):
    """Flattens all non-batch axes; channels_first inputs are first moved to
    channels_last, as Keras does."""

    def __init__(self, data_format: str = "channels_last") -> None:
        self.data_format = data_format

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        rank = x.shape.rank
        if self.data_format == "channels_first" and rank > 2:
            x = tf.transpose(x, [0, *range(2, rank), 1])
        known = [d for d in x.shape[1:]]
        width = math.prod(known) if all(d is not None for d in known) else -1
        return tf.reshape(x, [tf.shape(x)[0], width])

    def describe(self) -> str:
        return "Flatten" if self.data_format == "channels_last" else f"Flatten({self.data_format})"


class Reshape(Linear):
    """Reshapes the non-batch axes to ``target_shape`` (may hold one -1)."""

    def __init__(self, target_shape: Sequence[int]) -> None:
        self.target_shape = tuple(int(d) for d in target_shape)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reshape(x, [tf.shape(x)[0], *self.target_shape])

    def describe(self) -> str:
        return f"Reshape{self.target_shape}"


class Permute(Linear):
    """Permutes the non-batch axes; ``dims`` counts from 1, as in Keras."""

    def __init__(self, dims: Sequence[int]) -> None:
        self.dims = tuple(int(d) for d in dims)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.transpose(x, [0, *self.dims])

    def describe(self) -> str:
        return f"Permute{self.dims}"


class Cropping1D(Linear):
    """Removes ``cropping = (start, end)`` positions from axis 1."""

    def __init__(self, cropping: Sequence[int]) -> None:
        self.cropping = (int(cropping[0]), int(cropping[1]))

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        start, end = self.cropping
        stop = tf.shape(x)[1] - end
        return x[:, start:stop]

    def describe(self) -> str:
        return f"Cropping1D{self.cropping}"


class ZeroPadding1D(Linear):
    """Pads the steps axis with ``padding = (before, after)`` zeros."""

    def __init__(self, padding: Sequence[int], data_format: str = "channels_last") -> None:
        self.padding = (int(padding[0]), int(padding[1]))
        self.data_format = data_format

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        pads = [[0, 0], [0, 0], [0, 0]]
        pads[2 if self.data_format == "channels_first" else 1] = list(self.padding)
        return tf.pad(x, pads)

    def describe(self) -> str:
        return f"ZeroPadding1D{self.padding}"


class Concatenate(Linear):
    """Concatenates its inputs along ``axis`` (counting the batch axis)."""

    def __init__(self, axis: int = -1) -> None:
        self.axis = int(axis)

    def __call__(self, *inputs: tf.Tensor) -> tf.Tensor:
        return tf.concat(list(inputs), axis=self.axis)

    def describe(self) -> str:
        return f"Concatenate(axis={self.axis})"


class Add(Linear):
    """Elementwise sum of its inputs."""

    def __call__(self, *inputs: tf.Tensor) -> tf.Tensor:
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        return total


class Subtract(Linear):
    """Difference of its two inputs, first minus second."""

    def __call__(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        return a - b


class Average(Linear):
    """Elementwise mean of its inputs."""

    def __call__(self, *inputs: tf.Tensor) -> tf.Tensor:
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        return total / float(len(inputs))


def _tanh_difference(x0: tf.Tensor, dx: tf.Tensor, plain: tf.Tensor) -> tf.Tensor:
    """``tanh(x0 + dx) − tanh(x0)`` by the closed form of :meth:`Activation.difference`.

    ``plain`` is the direct difference, used where the two points lie on
    opposite sides of 0.
    """
    side = tf.sign(x0)
    same = side * tf.sign(x0 + dx) > 0
    u, d = tf.abs(x0), side * dx
    v = tf.maximum(u + d, 0.0)  # |x0 + dx| where both lie on one side (the only place it is used)
    closed = side * tf.sign(d) * 2.0 * tf.exp(-2.0 * tf.minimum(u, v)) * -tf.math.expm1(-2.0 * tf.abs(d)) / (
        (1.0 + tf.exp(-2.0 * u)) * (1.0 + tf.exp(-2.0 * v)))
    return tf.where(same, closed, plain)


class Activation(Op):
    """An elementwise non-linearity with its exact derivative.

    Parameters
    ----------
    kind
        One of :data:`ACTIVATION_KINDS`.
    alpha
        ``leaky_relu``: slope below zero (Keras ``negative_slope``, formerly
        ``alpha``); ``elu``: the ELU's alpha; ``prelu``: the learned slope
        tensor, shaped to broadcast on the input without its batch axis.
        Ignored by the other kinds.
    max_value, negative_slope, threshold
        ``relu`` only, the parameters of Keras' ``ReLU`` layer:
        ``f(x) = min(x, max_value)`` for ``x > threshold``, else
        ``negative_slope * (x - threshold)``.
    approximate
        ``gelu`` only: the tanh approximation instead of the exact erf form
        (Keras 3 default False).
    """

    def __init__(
        self,
        kind: str,
        alpha: float | np.ndarray | tf.Tensor | None = None,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        approximate: bool = False,
    ) -> None:
        if kind not in ACTIVATION_KINDS:
            raise ValueError(f"unknown activation kind {kind!r}")
        self.kind = kind
        if kind == "prelu":
            if alpha is None:
                raise ValueError("a prelu activation needs its alpha tensor")
            self.alpha: float | tf.Tensor | None = constant(alpha)
        elif kind == "leaky_relu":
            self.alpha = 0.2 if alpha is None else float(alpha)
        elif kind == "elu":
            self.alpha = 1.0 if alpha is None else float(alpha)
        else:
            self.alpha = None
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope or 0.0)
        self.threshold = float(threshold or 0.0)
        self.approximate = bool(approximate)

    @property
    def weights(self) -> dict[str, tf.Tensor]:
        return {"alpha": self.alpha} if self.kind == "prelu" else {}

    # ------------------------------------------------------------------ forward
    def _relu(self, x: tf.Tensor) -> tf.Tensor:
        slope, top, thr = self.negative_slope, self.max_value, self.threshold
        if slope == 0.0 and top is None and thr == 0.0:
            return tf.nn.relu(x)
        if slope != 0.0 and top is None and thr == 0.0:
            return tf.nn.leaky_relu(x, alpha=slope)
        y = tf.where(x > thr, x, tf.zeros_like(x)) if thr != 0.0 else tf.nn.relu(x)
        if top is not None:
            y = tf.clip_by_value(y, 0.0, top)
        if slope != 0.0:
            y = y - slope * tf.nn.relu(thr - x)
        return y

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        kind = self.kind
        if kind == "relu":
            return self._relu(x)
        if kind == "sigmoid":
            return tf.sigmoid(x)
        if kind == "tanh":
            return tf.tanh(x)
        if kind == "softplus":
            return tf.math.softplus(x)
        if kind == "elu":
            y = tf.nn.elu(x)
            return y if self.alpha == 1.0 else tf.where(x > 0, y, self.alpha * y)
        if kind == "selu":
            return tf.nn.selu(x)
        if kind == "gelu":
            return tf.nn.gelu(x, approximate=self.approximate)
        if kind == "swish":
            return tf.nn.silu(x)
        if kind == "exponential":
            return tf.exp(x)
        if kind == "leaky_relu":
            return tf.nn.leaky_relu(x, alpha=self.alpha)
        # prelu, as Keras: relu(x) - alpha * relu(-x)
        return tf.nn.relu(x) - self.alpha * tf.nn.relu(-x)

    # --------------------------------------------------------------- derivative
    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        """The exact elementwise derivative ``f'(x)``.

        At the kinks of the piecewise-linear kinds the left derivative is
        used, so the ReLU's derivative at 0 is 0.
        """
        kind = self.kind
        one = tf.ones_like(x)
        zero = tf.zeros_like(x)
        if kind == "relu":
            inside = x > self.threshold
            if self.max_value is not None:
                inside = tf.logical_and(inside, x < self.max_value)
            below = tf.fill(tf.shape(x), tf.constant(self.negative_slope, x.dtype))
            above = zero
            return tf.where(inside, one, tf.where(x > self.threshold, above, below))
        if kind == "sigmoid":
            s = tf.sigmoid(x)
            return s * (1.0 - s)
        if kind == "tanh":
            t = tf.tanh(x)
            return 1.0 - t * t
        if kind == "softplus":
            return tf.sigmoid(x)
        if kind == "elu":
            return tf.where(x > 0, one, self.alpha * tf.exp(x))
        if kind == "selu":
            return _SELU_SCALE * tf.where(x > 0, one, _SELU_ALPHA * tf.exp(x))
        if kind == "gelu":
            if self.approximate:
                c = math.sqrt(2.0 / math.pi)
                inner = c * (x + 0.044715 * x * x * x)
                t = tf.tanh(inner)
                return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * x * x)
            cdf = 0.5 * (1.0 + tf.math.erf(x / math.sqrt(2.0)))
            pdf = tf.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
            return cdf + x * pdf
        if kind == "swish":
            s = tf.sigmoid(x)
            return s + x * s * (1.0 - s)
        if kind == "exponential":
            return tf.exp(x)
        if kind == "leaky_relu":
            return tf.where(x > 0, one, self.alpha * one)
        # prelu
        return tf.where(x > 0, one, self.alpha * one)

    # -------------------------------------------------------------- difference
    #: kinds whose :meth:`difference` has a closed form free of cancellation
    SATURATING = ("tanh", "sigmoid", "softplus", "elu", "selu")
    #: softplus's closed form is used for |dx| up to this; beyond, the plain difference has no
    #: cancellation to fear, while ``1 + σ(x0) expm1(dx)`` would cancel for large negative dx
    _SOFTPLUS_SPAN = 1.0

    @property
    def saturates(self) -> bool:
        """Whether :meth:`difference` has a closed form for this kind (see :data:`SATURATING`)."""
        return self.kind in self.SATURATING

    def difference(self, x0: tf.Tensor, dx: tf.Tensor) -> tf.Tensor:
        """``f(x0 + dx) − f(x0)``, free of cancellation where ``f`` saturates or is linear.

        Where tanh or sigmoid saturate, ``f(x0 + dx)`` and ``f(x0)`` round to
        nearly the same float32 number and their difference keeps few correct
        digits (none once both round to 1), which the Rescale and RevealCancel
        quotients ``Δy / Δx`` would pass on to every input below. Closed forms
        avoid the subtraction:

        * tanh, with ``u = |x0|`` and ``v = |x0 + dx|`` on the same side of 0
          (``s`` its sign, ``d = s·dx = v − u``; every exponent is ≤ 0)::

              s · sign(d) · 2 e^(−2 min(u, v)) · (−expm1(−2|d|)) / ((1 + e^(−2u)) (1 + e^(−2v)))

          and the plain difference across 0, where nothing cancels;
        * sigmoid: ``σ(a) − σ(b) = ½ [tanh(a/2) − tanh(b/2)]``;
        * softplus: ``log1p(σ(x0) · expm1(dx))`` for ``|dx| ≤ 1``;
        * elu and selu: ``α e^(x0) expm1(dx) = −α e^(x0 + dx) expm1(−dx)`` (times
          selu's scale; the form whose factors stay within [−1, 1]) where both
          points are below 0, ``dx`` (times selu's scale) where both are above.

        The other kinds return the plain difference.
        """
        plain = self(x0 + dx) - self(x0)
        kind = self.kind
        if kind == "tanh":
            return _tanh_difference(x0, dx, plain)
        if kind == "sigmoid":
            return 0.5 * _tanh_difference(0.5 * x0, 0.5 * dx, 2.0 * plain)
        if kind == "softplus":
            closed = tf.math.log1p(tf.sigmoid(x0) * tf.math.expm1(tf.minimum(dx, self._SOFTPLUS_SPAN)))
            return tf.where(tf.abs(dx) <= self._SOFTPLUS_SPAN, closed, plain)
        if kind in ("elu", "selu"):
            alpha, scale = (self.alpha, 1.0) if kind == "elu" else (_SELU_ALPHA, _SELU_SCALE)
            x1 = x0 + dx
            # eᵇ expm1(d) = −eᵃ expm1(−d) with a = b + d: take the form whose factors stay within [−1, 1]
            rising = -tf.exp(tf.minimum(x1, 0.0)) * tf.math.expm1(-tf.maximum(dx, 0.0))
            falling = tf.exp(tf.minimum(x0, 0.0)) * tf.math.expm1(tf.minimum(dx, 0.0))
            below = scale * alpha * tf.where(dx > 0, rising, falling)
            return tf.where(tf.logical_and(x0 <= 0.0, x1 <= 0.0), below,
                            tf.where(tf.logical_and(x0 > 0.0, x1 > 0.0), scale * dx, plain))
        return plain

    def describe(self) -> str:
        params = []
        if self.kind in ("leaky_relu", "elu") and self.alpha is not None:
            params.append(f"alpha={self.alpha:g}")
        if self.kind == "prelu":
            params.append(f"alpha {shape_text(self.alpha.shape)}")
        if self.kind == "relu":
            if self.max_value is not None:
                params.append(f"max_value={self.max_value:g}")
            if self.negative_slope:
                params.append(f"negative_slope={self.negative_slope:g}")
            if self.threshold:
                params.append(f"threshold={self.threshold:g}")
        if self.kind == "gelu" and self.approximate:
            params.append("approximate")
        inside = ", ".join([self.kind] + params)
        return f"Activation({inside})"


class Softmax(Op):
    """Softmax over ``axis`` (an int or a tuple of ints, counting the batch axis)."""

    def __init__(self, axis: int | Sequence[int] = -1) -> None:
        if isinstance(axis, (list, tuple)):
            self.axis: int | tuple[int, ...] = int(axis[0]) if len(axis) == 1 else tuple(int(a) for a in axis)
        else:
            self.axis = int(axis)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        if isinstance(self.axis, tuple):
            return tf.exp(x - tf.reduce_logsumexp(x, axis=list(self.axis), keepdims=True))
        return tf.nn.softmax(x, axis=self.axis)

    def describe(self) -> str:
        return f"Softmax(axis={self.axis})"
