"""Ops whose output combines several inputs that all vary: products, minima and maxima.

* :class:`Multiply` (Keras ``Multiply``, any number of inputs) and
  :class:`Einsum` (Keras ``Dot``, and the query-key and attention-value
  products of attention layers) are *multilinear*: linear in each input when
  the others are held fixed. Their form is :attr:`Propagation.PRODUCT`: the
  engine splits their change between the inputs by the exact Shapley values
  of :func:`seqlift.engine.rules.multilinear_multipliers`.
* :class:`Minimum` and :class:`Maximum` (Keras ``Minimum``/``Maximum``) are
  elementwise functions of several inputs, of form
  :attr:`Propagation.ELEMENTWISE_JOINT`: the exact Shapley split of
  :func:`seqlift.engine.rules.shapley_split`.

Each computes what Keras computes, inputs combined left to right; inputs may
broadcast against each other, as Keras's merge layers allow.
"""
from __future__ import annotations

import string
from typing import Sequence

import tensorflow as tf

from seqlift.model import invariant
from seqlift.model.ops import Op, Propagation

__all__ = ["Einsum", "Maximum", "Minimum", "Multiply", "dot_equation"]


def _in_order(inputs: Sequence[tf.Tensor], combine) -> tf.Tensor:
    """``combine(combine(inputs[0], inputs[1]), inputs[2])…``, left to right as Keras does."""
    total = inputs[0]
    for x in inputs[1:]:
        total = combine(total, x)
    return total


class Multiply(Op):
    """Elementwise product of its inputs (any number)."""

    propagation = Propagation.PRODUCT

    def __call__(self, *inputs: tf.Tensor) -> tf.Tensor:
        return _in_order(inputs, tf.multiply)


class Einsum(Op):
    """A product of two tensors written as an Einstein summation, batch axis first.

    Parameters
    ----------
    equation
        A ``tf.einsum`` equation of two operands whose first letter is the
        batch axis of both and of the result, e.g. ``"bqd,bkd->bqk"``
        (computed by :func:`seqlift.model.invariant.einsum`).
    label
        What the product is, for model summaries (``"Dot(axes=(2, 2))"``).
    scale
        A constant factor of the product (attention's ``1/√d``).
    """

    propagation = Propagation.PRODUCT

    def __init__(self, equation: str, label: str = "", scale: float = 1.0) -> None:
        self.equation = equation
        self.label = label
        self.scale = float(scale)

    def __call__(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        product = invariant.einsum(self.equation, a, b)
        return product if self.scale == 1.0 else product * self.scale

    def describe(self) -> str:
        scale = "" if self.scale == 1.0 else f" x {self.scale:g}"
        return f"{self.label or 'Einsum'}({self.equation}{scale})"


def dot_equation(rank_a: int, rank_b: int, axis_a: int, axis_b: int) -> str:
    """The einsum equation of Keras's ``batch_dot``: contract ``axis_a`` of ``a`` with ``axis_b`` of ``b``.

    Ranks and axes count the batch axis (axes are positive, not 0). The
    output keeps ``a``'s other axes, then ``b``'s other non-batch axes, as
    Keras's ``Dot`` layer does (a rank-1 result is made ``(batch, 1)`` by the
    caller).
    """
    letters = iter(string.ascii_lowercase[2:])
    a = ["b"] + [next(letters) for _ in range(rank_a - 1)]
    b = ["b"] + [next(letters) for _ in range(rank_b - 1)]
    b[axis_b] = a[axis_a] = "a"
    out = [c for c in a if c != "a"] + [c for c in b[1:] if c != "a"]
    return f"{''.join(a)},{''.join(b)}->{''.join(out)}"


class Minimum(Op):
    """Elementwise minimum of its inputs (any number)."""

    propagation = Propagation.ELEMENTWISE_JOINT

    def __call__(self, *inputs: tf.Tensor) -> tf.Tensor:
        return _in_order(inputs, tf.minimum)


class Maximum(Op):
    """Elementwise maximum of its inputs (any number)."""

    propagation = Propagation.ELEMENTWISE_JOINT

    def __call__(self, *inputs: tf.Tensor) -> tf.Tensor:
        return _in_order(inputs, tf.maximum)
