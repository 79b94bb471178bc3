"""Reductions over one axis: sum, mean, maximum and log-sum-exp (what declared ``Lambda`` layers compute).

Each op reduces one axis of its input (counting the batch axis as 0, so
``-1`` is the last, as TensorFlow's ``reduce_*`` functions inside a Lambda
do), keeping it with length 1 (``keepdims``) or dropping it, and states its
form for the DeepLIFT engine like every op of :mod:`seqlift.model.ops`:

* :class:`Reduce` (sum, mean): linear with non-negative coefficients and no bias;
* :class:`ReduceMax`: a maximum, routed like max pooling;
* :class:`LogSumExp`: ``log Σ_i exp(x_i)``, with its own exact rule
  (:class:`seqlift.engine.node_rules.LogSumExpRule`).
"""
from __future__ import annotations

import tensorflow as tf

from seqlift.model import ops

__all__ = ["Reduce", "ReduceMax", "LogSumExp"]


class _Reduction(ops.Op):
    """Shared parameters: the axis reduced and whether it is kept."""

    def __init__(self, axis: int = -1, keepdims: bool = True) -> None:
        self.axis = int(axis)
        if self.axis == 0:
            raise ValueError("a reduction over axis 0 would mix the examples of a batch")
        self.keepdims = bool(keepdims)

    def describe(self) -> str:
        return f"{type(self).__name__}(axis={self.axis}{', keepdims' if self.keepdims else ''})"


class Reduce(_Reduction, ops.Linear):
    """Sum or mean over one axis."""

    propagation = ops.Propagation.SIGN_PRESERVING

    def __init__(self, kind: str, axis: int = -1, keepdims: bool = True) -> None:
        if kind not in ("sum", "mean"):
            raise ValueError(f"Reduce kind must be sum or mean, not {kind!r}")
        super().__init__(axis, keepdims)
        self.kind = kind

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        reduce = tf.reduce_sum if self.kind == "sum" else tf.reduce_mean
        return reduce(x, axis=self.axis, keepdims=self.keepdims)

    def describe(self) -> str:
        return f"Reduce({self.kind}, axis={self.axis}{', keepdims' if self.keepdims else ''})"


class ReduceMax(_Reduction):
    """Maximum over one axis."""

    propagation = ops.Propagation.MAX

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_max(x, axis=self.axis, keepdims=self.keepdims)


class LogSumExp(_Reduction):
    """``log Σ_i exp(x_i)`` over one axis, computed stably (TensorFlow's ``reduce_logsumexp``)."""

    propagation = ops.Propagation.LOGSUMEXP

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_logsumexp(x, axis=self.axis, keepdims=self.keepdims)
