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

Each op class also states its form for the DeepLIFT engine, its
:class:`Propagation` (``propagation``): the engine has one rule per form and
refuses an op whose form it has no rule for, so a new op is an op class
with its ``propagation`` here (and, for a new form, the form's rule in
:mod:`seqlift.engine.node_rules`).

The forward computation of every op reproduces what Keras 3 computes for the
layer it comes from, with the TensorFlow backend.
"""
from __future__ import annotations

import enum
import math
from typing import Callable, ClassVar, Sequence

import numpy as np
import tensorflow as tf

from seqlift.model import derived, invariant
from seqlift.model.activations import ACTIVATIONS

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
    "Propagation",
    "Reshape",
    "Softmax",
    "Subtract",
    "ZeroPadding1D",
    "constant",
]

#: The elementwise non-linearities an :class:`Activation` op can apply (:mod:`seqlift.model.activations`).
ACTIVATION_KINDS = frozenset(ACTIVATIONS)


class Propagation(enum.Enum):
    """An op's form, which decides how the DeepLIFT engine carries differences and multipliers through it.

    The engine's rule for each form is in :mod:`seqlift.engine.node_rules`.
    """

    #: a model input: its difference is split by its own sign
    INPUT = "input"
    #: linear with non-negative coefficients and no bias: maps the positive and negative
    #: parts of its inputs to those of its output
    SIGN_PRESERVING = "sign-preserving linear"
    #: Dense or convolution, ``y = W x + b`` (any linear op with coefficients of either sign that can
    #: apply ``|W|``: ``abs_apply``): split by the sign of each term ``w_i Δx_i``
    KERNEL = "kernel"
    #: ``y = s ⊙ x + b`` with scales of either sign (batch normalisation)
    SCALE = "scale"
    #: ``y = a − b``
    DIFFERENCE = "difference"
    #: an elementwise nonlinearity: Rescale or RevealCancel
    NONLINEARITY = "elementwise nonlinearity"
    #: maxima over windows or positions
    MAX = "max"
    #: softmax over an axis
    SOFTMAX = "softmax"
    #: log-sum-exp over an axis (:class:`seqlift.model.reductions.LogSumExp`)
    LOGSUMEXP = "log-sum-exp"
    #: multilinear in its inputs (elementwise products, dot products, einsums): the exact Shapley split
    PRODUCT = "product"
    #: an elementwise function of several varying inputs (minimum, maximum): the exact Shapley split
    ELEMENTWISE_JOINT = "elementwise function of several inputs"
    #: a recurrent layer run over the steps of a sequence: its cell's rules, step by step
    RECURRENT = "recurrent"


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
    is the batch, and state their :class:`Propagation` (None: the DeepLIFT
    engine cannot explain the op, and says so).
    """

    propagation: ClassVar[Propagation | None] = None

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

    propagation = Propagation.INPUT

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

    propagation = Propagation.SIGN_PRESERVING

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.identity(x)


class _Kernel(Linear):
    """A Dense or convolution layer: a ``kernel`` applied by :meth:`apply`, then an optional ``bias``."""

    propagation = Propagation.KERNEL

    kernel: tf.Tensor
    bias: tf.Tensor | None

    def apply(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def homogeneous(self, x: tf.Tensor) -> tf.Tensor:
        return self.apply(x, self.kernel)

    def abs_apply(self, x: tf.Tensor) -> tf.Tensor:
        """``|W| x``: the layer with every coefficient replaced by its absolute value, without bias."""
        return self.apply(x, self.abs_kernel)

    @property
    def abs_kernel(self) -> tf.Tensor:
        """``|W|``, a constant computed once (:func:`~seqlift.model.derived.derived`)."""
        return derived.derived(self.kernel, "abs", tf.abs)

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
        invariant.keep_transpose(self.kernel)  # a wide kernel's copy made with the model, not in its first call

    def apply(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        """``x @ kernel`` on the last axis of ``x``, without bias (:func:`invariant.matmul`)."""
        return invariant.matmul(x, kernel)

    def abs_apply(self, x: tf.Tensor) -> tf.Tensor:
        """``x @ |W|``; a wide kernel's through ``|W|ᵀ`` (:meth:`_abs_transposed`)."""
        if invariant.is_wide(self.kernel):
            return invariant.matmul_transposed(x, self._abs_transposed())
        return super().abs_apply(x)

    def transpose(self, g: tf.Tensor, absolute: bool = False) -> tf.Tensor:
        """``g @ Wᵀ`` on the last axis of ``g``, or ``g @ |W|ᵀ`` with ``absolute``: the transpose of
        :meth:`apply` with the layer's kernel, or of :meth:`abs_apply`."""
        if absolute and invariant.is_wide(self.kernel):
            return invariant.matmul(g, self._abs_transposed())
        return invariant.matmul_transposed(g, self.abs_kernel if absolute else self.kernel)

    def _abs_transposed(self) -> tf.Tensor:
        """``|W|ᵀ`` of a wide kernel, computed once from the kept ``Wᵀ``; ``|W|`` itself is never made:
        :meth:`abs_apply` multiplies ``(|W|ᵀ @ xᵀ)ᵀ`` and :meth:`transpose` ``g @ |W|ᵀ``, each block by
        block (:mod:`~seqlift.model.invariant`), which ran twice as fast as ``|W|`` read transposed
        (DanQ's 48,000 x 925 for 60 rows: 95 against 199 ms on a 2-core AVX2 CPU, batched), for one
        177 MB copy as before."""
        return derived.derived(derived.derived(self.kernel, "transposed", tf.transpose), "abs", tf.abs)

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
                invariant.convolution(a, k, list(self.strides), padding.upper(), list(self.dilation_rate))
                for a, k in zip(x_parts, k_parts)
            ]
            return outs[0] if groups == 1 else tf.concat(outs, axis=-1)

        if not spatial.is_fully_defined():  # free length: TensorFlow's own gradient
            return forward(x)
        return self._differentiated(x, forward(x), kernel)

    def on_both(self, x: tf.Tensor, y: tf.Tensor, absolute_delta: tf.Tensor | None = None) -> tuple[tf.Tensor, ...]:
        """The layer on two batches of rows of one shape (the sequences' and the references'), each as
        :meth:`__call__` gives it, and, given ``|Δx|`` (rows of that shape too), :meth:`abs_apply` of it:
        convolutions of rows one by one in one loop over them all (:func:`invariant.convolutions`), which
        a first call traces and optimises once. Each value is differentiated by its own :meth:`transpose`."""
        spatial = x.shape[1:-1]
        if self.groups > 1 or self.data_format != "channels_last" or self.padding == "causal" \
                or not spatial.is_fully_defined():
            pair = self(x), self(y)
            return pair if absolute_delta is None else (*pair, self.abs_apply(absolute_delta))
        inputs = [x, y] if absolute_delta is None else [x, y, absolute_delta]
        kernels = [self.kernel, self.kernel, self.abs_kernel][:len(inputs)]
        values = invariant.convolutions(inputs, kernels, list(self.strides), self.padding.upper(),
                                        list(self.dilation_rate))
        values = [self._differentiated(a, value, kernel) for a, value, kernel in zip(inputs, values, kernels)]
        return (self.add_bias(values[0]), self.add_bias(values[1]), *values[2:])

    def _differentiated(self, inputs: tf.Tensor, value: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        """``value``, the convolution of ``inputs`` with ``kernel`` computed already, differentiated with
        respect to ``inputs`` by :meth:`transpose` (and not through the computation that made it). The
        transpose's flipped kernel is made here, outside the gradient (a gradient built later inside a
        loop may use it)."""
        spatial, flipped = inputs.shape[1:-1].as_list(), self._flipped(kernel)

        @tf.custom_gradient
        def convolved(a: tf.Tensor) -> tf.Tensor:
            return value, lambda g: self.transpose(g, kernel, spatial, flipped=flipped)

        return convolved(inputs)

    def _flipped(self, kernel: tf.Tensor) -> tf.Tensor | None:
        """:func:`invariant.flipped_kernel` of ``kernel`` (the layer's own or ``|W|``), a constant computed once
        and entering the graph being built as a tensor; None for a grouped convolution."""
        if self.groups > 1:
            return None
        return tf.convert_to_tensor(derived.derived(kernel, "flipped", invariant.flipped_kernel))

    def transpose(self, g: tf.Tensor, kernel: tf.Tensor, input_spatial: Sequence[int], padded: bool = False,
                  flipped: tf.Tensor | None = None) -> tf.Tensor:
        """``kernelᵀ g``: the transpose of the convolution with ``kernel`` (the layer's own or ``|W|``) on
        channels-last multipliers ``g`` of its output, to its input of spatial shape ``input_spatial``
        (:func:`invariant.conv_transpose`, each group apart). ``padded``: ``g`` comes padded by
        :meth:`transpose_padding`."""
        return self.transposes([g], [kernel], input_spatial, padded, [flipped])[0]

    def transposes(self, gs: Sequence[tf.Tensor] | invariant.RowwiseOperands, kernels: Sequence[tf.Tensor],
                   input_spatial: Sequence[int], padded: bool = False,
                   flippeds: Sequence[tf.Tensor | None] | None = None) -> list[tf.Tensor]:
        """:meth:`transpose` of each of ``gs`` with its kernel of ``kernels``: of an ungrouped layer
        together (:func:`invariant.conv_transposes`: one loop over the rows of all where they go one by
        one), each the same bits as alone. ``gs`` may be :class:`invariant.RowwiseOperands` where
        :meth:`transpose_padding` pads them."""
        flippeds = [self._flipped(k) if f is None else f for k, f in zip(kernels, flippeds or [None] * len(kernels))]
        if self.groups == 1:
            return invariant.conv_transposes(gs, kernels, input_spatial, self.strides, self.dilation_rate,
                                             self.padding, flippeds, padded)
        backs = []
        for g, kernel in zip(gs, kernels):
            parts = zip(tf.split(g, self.groups, axis=-1), tf.split(kernel, self.groups, axis=-1))
            backs.append(tf.concat([invariant.conv_transpose(part, k, input_spatial, self.strides,
                                                             self.dilation_rate, self.padding, None, padded)
                                    for part, k in parts], axis=-1))
        return backs

    def transpose_padding(self, input_spatial: Sequence[int]) -> list[list[int]] | None:
        """The padding :meth:`transpose` would put around its channels-last ``g`` (:func:`invariant.transpose_padding`),
        or None where it does not pad it first (strided, grouped or channels-first layers, the pointwise path)."""
        if self.groups > 1 or self.data_format != "channels_last":
            return None
        return invariant.transpose_padding(self.kernel, input_spatial, self.strides, self.dilation_rate, self.padding)

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

    propagation = Propagation.SCALE

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

    @property
    def windows_tile(self) -> bool:
        """Whether every input position lies in at most one window (stride = pool size, channels last),
        so that :meth:`spread` undoes the pooling's layout."""
        return self.strides == self.pool_size and self.data_format == "channels_last"

    def spread(self, values: tf.Tensor, input_spatial: Sequence[int]) -> tf.Tensor:
        """Each output value copied to every input position of its window, 0 where no window reaches.

        Only for windows that tile the input (:attr:`windows_tile`): along an axis of
        length ``L`` with pool size ``k``, output ``o`` covers input positions
        ``[o k − p, (o + 1) k − p)``, where ``p`` is the left padding (``valid``: 0;
        ``same``: ``(out · k − L) // 2``, as TensorFlow pads).
        """
        values = tf.convert_to_tensor(values)
        for axis, (size, length) in enumerate(zip(self.pool_size, input_spatial), start=1):
            out = int(values.shape[axis])
            left = (out * size - length) // 2 if self.padding == "same" else 0
            repeated = tf.repeat(values, size, axis=axis)  # input positions [-left, out * size - left)
            kept = min(length, out * size - left)
            window = [slice(None)] * values.shape.rank
            window[axis] = slice(left, left + kept)
            values = repeated[tuple(window)]
            if kept < length:
                pads = [[0, 0]] * values.shape.rank
                pads[axis] = [0, length - kept]
                values = tf.pad(values, pads)
        return values

    def describe(self) -> str:
        fmt = "" if self.data_format == "channels_last" else f", {self.data_format}"
        return (
            f"{type(self).__name__}{self.rank}D(pool={self.pool_size}, strides={self.strides}, "
            f"{self.padding}{fmt})"
        )


class MaxPool(_Pool):
    """Windowed maximum (Keras ``MaxPooling1D``/``MaxPooling2D``)."""

    propagation = Propagation.MAX

    def _pool(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.max_pool(x, list(self.pool_size), list(self.strides), self.padding.upper())


class AvgPool(_Pool, Linear):
    """Windowed mean (Keras ``AveragePooling1D``/``2D``); with ``'same'`` padding
    the padded positions are left out of each mean, as in Keras."""

    propagation = Propagation.SIGN_PRESERVING

    def _pool(self, x: tf.Tensor) -> tf.Tensor:
        spatial = x.shape[1:-1]
        if not (self.windows_tile and self.padding == "valid" and spatial.is_fully_defined()):
            return tf.nn.avg_pool(x, list(self.pool_size), list(self.strides), self.padding.upper())
        share = 1.0 / math.prod(self.pool_size)

        @tf.custom_gradient
        def pool(inputs: tf.Tensor) -> tf.Tensor:
            def grad(g: tf.Tensor) -> tf.Tensor:
                # each output's multiplier shared over its window: a broadcast, which ran in half the time
                # of TensorFlow's pooling gradient (260 x 180 x 50, one window: 0.8 against 1.6 ms)
                return self.spread(g * share, spatial.as_list())

            return tf.nn.avg_pool(inputs, list(self.pool_size), list(self.strides), "VALID"), grad

        return pool(x)


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

    propagation = Propagation.MAX

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_max(x, axis=self.axes, keepdims=self.keepdims)


class GlobalAvgPool(_GlobalPool, Linear):
    """Mean over all spatial positions (Keras ``GlobalAveragePooling1D``/``2D``)."""

    propagation = Propagation.SIGN_PRESERVING

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(x, axis=self.axes, keepdims=self.keepdims)


class Flatten(Linear):
    """Flattens all non-batch axes; channels_first inputs are first moved to
    channels_last, as Keras does."""

    propagation = Propagation.SIGN_PRESERVING

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

    propagation = Propagation.SIGN_PRESERVING

    def __init__(self, target_shape: Sequence[int]) -> None:
        self.target_shape = tuple(int(d) for d in target_shape)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reshape(x, [tf.shape(x)[0], *self.target_shape])

    def describe(self) -> str:
        return f"Reshape{self.target_shape}"


class Permute(Linear):
    """Permutes the non-batch axes; ``dims`` counts from 1, as in Keras."""

    propagation = Propagation.SIGN_PRESERVING

    def __init__(self, dims: Sequence[int]) -> None:
        self.dims = tuple(int(d) for d in dims)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.transpose(x, [0, *self.dims])

    def describe(self) -> str:
        return f"Permute{self.dims}"


class Cropping1D(Linear):
    """Removes ``cropping = (start, end)`` positions from axis 1."""

    propagation = Propagation.SIGN_PRESERVING

    def __init__(self, cropping: Sequence[int]) -> None:
        self.cropping = (int(cropping[0]), int(cropping[1]))

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        start, end = self.cropping
        length = x.shape[1]  # known, the slice is 4 graph operations instead of 14 (a first call's tracing)
        stop = length - end if length is not None else tf.shape(x)[1] - end
        return x[:, start:stop]

    def describe(self) -> str:
        return f"Cropping1D{self.cropping}"


class ZeroPadding1D(Linear):
    """Pads the steps axis with ``padding = (before, after)`` zeros."""

    propagation = Propagation.SIGN_PRESERVING

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

    propagation = Propagation.SIGN_PRESERVING

    def __init__(self, axis: int = -1) -> None:
        self.axis = int(axis)

    def __call__(self, *inputs: tf.Tensor) -> tf.Tensor:
        return tf.concat(list(inputs), axis=self.axis)

    def describe(self) -> str:
        return f"Concatenate(axis={self.axis})"


def _sum_in_order(inputs: Sequence[tf.Tensor]) -> tf.Tensor:
    """``inputs[0] + inputs[1] + ...``, added left to right (as Keras adds them)."""
    total = inputs[0]
    for x in inputs[1:]:
        total = total + x
    return total


class Add(Linear):
    """Elementwise sum of its inputs."""

    propagation = Propagation.SIGN_PRESERVING

    def __call__(self, *inputs: tf.Tensor) -> tf.Tensor:
        return _sum_in_order(inputs)


class Subtract(Linear):
    """Difference of its two inputs, first minus second."""

    propagation = Propagation.DIFFERENCE

    def __call__(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        return a - b


class Average(Linear):
    """Elementwise mean of its inputs."""

    propagation = Propagation.SIGN_PRESERVING

    def __call__(self, *inputs: tf.Tensor) -> tf.Tensor:
        return _sum_in_order(inputs) / float(len(inputs))


class Activation(Op):
    """An elementwise non-linearity: one kind of :mod:`seqlift.model.activations`.

    Parameters
    ----------
    kind
        One of :data:`ACTIVATION_KINDS`.
    alpha
        ``leaky_relu``: slope below zero (Keras ``negative_slope``, formerly
        ``alpha``); ``elu``: the ELU's alpha; ``prelu``: the learned slope
        tensor, shaped to broadcast on the input without its batch axis.
    max_value, negative_slope, threshold
        ``relu`` only, the parameters of Keras' ``ReLU`` layer:
        ``f(x) = min(x, max_value)`` for ``x > threshold``, else
        ``negative_slope * (x - threshold)``.
    approximate
        ``gelu`` only: the tanh approximation instead of the exact erf form
        (Keras 3 default False).
    epsilon
        ``inverse_sqrt`` only: added to the variance.
    slope
        ``hard_sigmoid`` only: 1/6 (Keras 3) or 0.2 (Keras 2, tf.keras 2).

    Parameters a kind does not take are ignored. The kind's parameters read
    as attributes of the op (``op.alpha``).
    """

    propagation = Propagation.NONLINEARITY

    def __init__(
        self,
        kind: str,
        alpha: float | np.ndarray | tf.Tensor | None = None,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        approximate: bool = False,
        epsilon: float | None = None,
        slope: float | None = None,
    ) -> None:
        if kind not in ACTIVATIONS:
            raise ValueError(f"unknown activation kind {kind!r}")
        self.kind = kind
        self.function = ACTIVATIONS[kind].from_parameters(
            alpha=alpha, max_value=max_value, negative_slope=negative_slope, threshold=threshold,
            approximate=approximate, epsilon=epsilon, slope=slope,
        )

    def __getattr__(self, name: str) -> object:
        function = self.__dict__.get("function")
        if function is not None and name in function.parameter_names():
            return getattr(function, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def weights(self) -> dict[str, tf.Tensor]:
        return self.function.weights

    def _by_rows(self, fn: Callable[..., tf.Tensor], *tensors: tf.Tensor) -> tf.Tensor:
        """``fn(*tensors)``, each row's bits independent of the batch (:func:`invariant.elementwise`)."""
        if self.function.exact_arithmetic:
            return fn(*tensors)
        return invariant.elementwise(fn, *tensors)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self._by_rows(self.function, x)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        """The exact elementwise derivative ``f'(x)``.

        At the kinks of the piecewise-linear kinds the left derivative is
        used, so the ReLU's derivative at 0 is 0.
        """
        return self._by_rows(self.function.derivative, x)

    @property
    def has_closed_form_difference(self) -> bool:
        """Whether :meth:`difference` avoids the subtraction (the kind defines a closed form)."""
        return self.function.closed_form_difference is not None

    def difference(self, x0: tf.Tensor, dx: tf.Tensor) -> tf.Tensor:
        """``f(x0 + dx) − f(x0)``: the kind's closed form where it has one, else the plain difference.

        The closed forms (tanh, sigmoid, softplus, elu, selu; their
        mathematics beside them in :mod:`seqlift.model.activations`) keep
        their digits where ``f`` saturates and the two float32 values round
        alike.
        """
        function = self.function

        def difference(x0: tf.Tensor, dx: tf.Tensor) -> tf.Tensor:
            plain = function(x0 + dx) - function(x0)
            return plain if function.closed_form_difference is None else function.closed_form_difference(x0, dx, plain)

        if x0.shape != dx.shape:  # flattened row by row alike
            shape = tf.broadcast_dynamic_shape(tf.shape(x0), tf.shape(dx))
            x0, dx = tf.broadcast_to(x0, shape), tf.broadcast_to(dx, shape)
        return self._by_rows(difference, x0, dx)

    def describe(self) -> str:
        inside = ", ".join([self.kind] + self.function.describe_parameters())
        return f"Activation({inside})"


class Softmax(Op):
    """Softmax over ``axis`` (an int or a tuple of ints, counting the batch axis)."""

    propagation = Propagation.SOFTMAX

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
