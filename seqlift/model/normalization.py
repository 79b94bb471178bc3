"""Layer normalisation as a composition of ops the DeepLIFT engine already has rules for.

Keras's ``LayerNormalization`` computes, over its axes,
``y = γ ⊙ (x − μ) / √(σ² + ε) + β`` with ``μ`` and ``σ²`` the mean and
variance of ``x``. :func:`layer_normalization_graph` writes it as

* ``centred = x − μ`` (:class:`Centre`, linear with coefficients of either
  sign: the kernel rule),
* ``squared = centred ⊙ centred`` (a product: its exact split gives ``centred``
  the multiplier ``centred + centred₀``, the Rescale multiplier of a square),
* ``variance = mean(squared)`` (:class:`Mean`, linear with positive coefficients),
* ``inverse_std = 1 / √(variance + ε)`` (an elementwise nonlinearity),
* ``normalized = centred ⊙ inverse_std`` (a product, broadcast over the axes),
* ``y = γ ⊙ normalized + β`` (:class:`ScaleShift`),

so that summation-to-delta holds through the layer by the rules of its parts.
With ``rms_scaling`` Keras multiplies ``x`` itself (not centred) by the
inverse standard deviation; so does the graph.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from seqlift.model import ops
from seqlift.model.interactions import Multiply
from seqlift.model.layer_graph import LayerGraph

__all__ = ["Centre", "Mean", "ScaleShift", "layer_normalization_graph"]


class Centre(ops.Linear):
    """``x − mean(x)`` over ``axes`` (counting the batch axis): linear, coefficients of either sign.

    As a matrix over the ``n`` values of one group, ``C = I − 1/n``; the
    kernel rule needs ``|C| |Δx|``, which is ``(1 − 2/n) |Δx_i| + (1/n) Σ_j |Δx_j|``
    (:meth:`abs_apply`).
    """

    propagation = ops.Propagation.KERNEL

    def __init__(self, axes: Sequence[int]) -> None:
        self.axes = [int(a) for a in axes]

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return x - tf.reduce_mean(x, axis=self.axes, keepdims=True)

    def abs_apply(self, x: tf.Tensor) -> tf.Tensor:
        n = float(np.prod([x.shape[a] for a in self.axes]))
        return (1.0 - 2.0 / n) * x + tf.reduce_sum(x, axis=self.axes, keepdims=True) / n

    def describe(self) -> str:
        return f"Centre(axes={tuple(self.axes)})"


class Mean(ops.Linear):
    """The mean over ``axes`` (counting the batch axis), kept as length-1 axes."""

    propagation = ops.Propagation.SIGN_PRESERVING

    def __init__(self, axes: Sequence[int]) -> None:
        self.axes = [int(a) for a in axes]

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(x, axis=self.axes, keepdims=True)

    def describe(self) -> str:
        return f"Mean(axes={tuple(self.axes)})"


class ScaleShift(ops.BatchNorm):
    """``y = x ⊙ scale + shift`` with constant tensors (a normalisation layer's γ and β, a fixed mask)."""

    def describe(self) -> str:
        return f"ScaleShift{tuple(self.scale.shape[1:])}"


def layer_normalization_graph(
    input_shape: Sequence[int],
    axes: Sequence[int],
    epsilon: float,
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
    rms_scaling: bool = False,
) -> LayerGraph:
    """The nodes of a ``LayerNormalization`` layer (see the module docstring).

    Parameters
    ----------
    input_shape
        The input's shape without the batch axis.
    axes
        The normalised axes, positive, counting the batch axis.
    epsilon
        Added to the variance.
    gamma, beta
        The scale and offset (shaped like the normalised axes), or None when
        the layer has ``scale=False`` / ``center=False``.
    rms_scaling
        Keras's ``rms_scaling``: the input itself, not centred, is scaled.
    """
    shape = [1] * (len(input_shape) + 1)
    for a in axes:
        shape[a] = int(input_shape[a - 1])
    graph = LayerGraph()
    centred = graph.add("centred", Centre(axes), 0)
    graph.add("squared", Multiply(), centred, centred)
    graph.add("variance", Mean(axes), "squared")
    graph.add("inverse_std", ops.Activation("inverse_sqrt", epsilon=epsilon), "variance")
    scaled = 0 if rms_scaling else centred
    if gamma is None and beta is None:
        graph.add("", Multiply(), scaled, "inverse_std")
        return graph
    graph.add("normalized", Multiply(), scaled, "inverse_std")
    scale = np.ones(shape, np.float32) if gamma is None else np.reshape(gamma, shape)
    shift = np.zeros(shape, np.float32) if beta is None else np.reshape(beta, shape)
    graph.add("", ScaleShift(scale, shift, axes), "normalized")
    return graph
