"""The 1-D convolution variants beyond ``Conv1D``: transposed convolution and up-sampling.

Depthwise and separable convolutions need no op of their own: a depthwise
convolution is a grouped :class:`~seqlift.model.ops.Conv` (one group per input
channel), a separable one that followed by a width-1 convolution (the Keras
reader builds them, :mod:`seqlift.model.keras_layers`). Both ops here are
linear: :class:`ConvTranspose1D` has a kernel (the kernel rule, like a
convolution's), :class:`UpSampling1D` copies each step (sign-preserving).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from seqlift.model import invariant, ops

__all__ = ["ConvTranspose1D", "UpSampling1D", "transposed_length"]


def transposed_length(length, kernel_size: int, stride: int, padding: str, dilation: int = 1):
    """The output length of Keras's ``Conv1DTranspose`` (without ``output_padding``): ``length · stride``
    for ``same`` padding, ``length · stride + max(k − stride, 0)`` for ``valid``, with the dilated width
    ``k = (kernel_size − 1) · dilation + 1`` (``length``: an int, a scalar tensor or None)."""
    if length is None:
        return None
    width = (kernel_size - 1) * dilation + 1
    return length * stride + (max(width - stride, 0) if padding == "valid" else 0)


class ConvTranspose1D(ops._Kernel):
    """Keras ``Conv1DTranspose``: the transpose of a strided convolution (channels last).

    Parameters
    ----------
    kernel
        ``(kernel_size, filters, input_channels)``, as Keras stores it.
    bias
        ``(filters,)``, or None.
    stride, dilation
        Ints.
    padding
        ``'valid'`` or ``'same'``.
    """

    def __init__(self, kernel: np.ndarray | tf.Tensor, bias: np.ndarray | tf.Tensor | None, stride: int = 1,
                 padding: str = "valid", dilation: int = 1) -> None:
        if padding not in ("valid", "same"):
            raise ValueError(f"Conv1DTranspose padding must be valid or same, got {padding!r}")
        self.kernel = ops.constant(kernel)
        self.bias = None if bias is None else ops.constant(bias)
        self.stride, self.padding, self.dilation = int(stride), padding, int(dilation)

    def apply(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        """The transposed convolution of ``x`` with ``kernel``, without bias."""
        steps = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
        length = transposed_length(steps, int(kernel.shape[0]), self.stride, self.padding, self.dilation)
        shape = tf.stack([1, length, int(kernel.shape[1])])
        # one row at a time, its gradient too: TensorFlow's kernels for both compute a row by the batch's shape
        return invariant.by_row(lambda row: tf.nn.conv1d_transpose(row, kernel, shape, self.stride, self.padding.upper(),
                                                                   dilations=self.dilation), x)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        y = self.apply(x, self.kernel)
        return y if self.bias is None else y + self.bias

    def describe(self) -> str:
        extra = "".join(f", {name}={value}" for name, value in (("strides", self.stride), ("dilation", self.dilation))
                        if value != 1)
        return f"Conv1DTranspose({self.kernel.shape[1]}, {self.kernel.shape[0]}, {self.padding}{extra})"


class UpSampling1D(ops.Linear):
    """Keras ``UpSampling1D``: every step repeated ``size`` times."""

    propagation = ops.Propagation.SIGN_PRESERVING

    def __init__(self, size: int) -> None:
        self.size = int(size)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.repeat(x, self.size, axis=1)

    def describe(self) -> str:
        return f"UpSampling1D({self.size})"
