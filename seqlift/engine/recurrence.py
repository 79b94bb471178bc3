"""DeepLIFT through a recurrent layer: its cell's rules, step by step, inside the layer's loop.

A cell (:mod:`seqlift.model.recurrent`) is written once against an algebra of
operations. :class:`DifferenceAlgebra` runs it on :class:`Diff` values: the
reference's value and the *difference-from-reference*, as a tensor or, where
RevealCancel needs them, as positive and negative parts (section 3.5.1 of the
paper). Each operation applies the rule of :mod:`seqlift.engine.rules` that
the same operation gets as a layer of the graph:

* a kernel ``v U``: the linear rule, parts split by the sign of each term
  (:func:`~seqlift.engine.rules.kernel_split_forward`);
* a sum, ``1 − v`` and a split into gates: linear (parts add, swap, split);
* an activation: Rescale (:func:`~seqlift.engine.rules.rescale_multiplier`,
  ``Δy`` from the activation's closed-form difference) or RevealCancel
  (:func:`~seqlift.engine.rules.revealcancel_parts` and ``_multipliers``);
* a product of two varying values: the exact Shapley split
  (:func:`~seqlift.engine.rules.product_multipliers`), the product's parts split
  by its own sign.

Every rule multiplies differences by coefficients computed from the
reference and the differences' values (held constant), so the differences at
the layer's output are a *linear* function of the difference at its input, and
evaluated at the actual difference they are the actual ones: the input's value
is ``reference + Δ`` throughout, and no difference is ever taken by
subtracting two nearly equal values. The DeepLIFT multipliers of the layer's
input are then the transpose of that linear map applied to the output's
multipliers, which is exactly what propagating multipliers backwards through
each rule computes (the transpose of a composition is the composition of the
transposes, in reverse order). TensorFlow computes it as the gradient of the
loop (:func:`linearized`), which runs the recurrence backwards, step by step.
Memory grows linearly with the number of steps: the backward loop keeps each
step's coefficients (a few times the layer's gate activations per pair).
"""
from __future__ import annotations

from typing import NamedTuple, Union

import tensorflow as tf

from seqlift.engine import rules
from seqlift.model import ops
from seqlift.model.recurrent import PlainAlgebra, Recurrent


class Parts(NamedTuple):
    """Positive and negative parts of a difference, ``Δ = pos + neg``."""

    pos: tf.Tensor
    neg: tf.Tensor


Delta = Union[tf.Tensor, Parts]


class Diff(NamedTuple):
    """A value inside a cell: its reference value and its difference from it."""

    reference: tf.Tensor
    delta: Delta


def total(delta: Delta) -> tf.Tensor:
    """``Δ`` of a difference held whole or as parts."""
    return delta.pos + delta.neg if isinstance(delta, Parts) else delta


def _valued(linear: tf.Tensor, exact: tf.Tensor) -> tf.Tensor:
    """``linear`` (a rule's coefficients times a difference) holding the rule's exact value.

    The two differ by rounding only, but the signs the next kernel splits by
    are read from values: a ReLU whose parts cross 0 while its input stays
    below 0 has an output difference of exactly 0 (split half and half, as
    the graph's rules split it), which the product of a multiplier and a part
    would leave as rounding noise of either sign. The correction is held
    constant, so the map's coefficients (its transpose) are unchanged.
    """
    return linear + tf.stop_gradient(exact - linear)


def _split_by_own_sign(delta: tf.Tensor) -> Parts:
    """A difference's parts by its sign, as a linear map of it: ``Δ⁺ = q Δ``, ``Δ⁻ = (1 − q) Δ`` with ``q``
    1, 0 or ½ (at 0) held constant."""
    q = 0.5 * (1.0 + tf.sign(tf.stop_gradient(delta)))
    return Parts(q * delta, (1.0 - q) * delta)


class DifferenceAlgebra:
    """A cell's operations on :class:`Diff` values, each by its DeepLIFT rule (see the module docstring).

    Parameters
    ----------
    revealcancel
        RevealCancel at the activations (differences then carry parts), else Rescale.
    """

    def __init__(self, revealcancel: bool) -> None:
        self.revealcancel = revealcancel

    def kernel(self, v: Diff, kernel: tf.Tensor, bias: tf.Tensor | None = None) -> Diff:
        reference = PlainAlgebra.kernel(v.reference, kernel, bias)
        d = total(v.delta)
        dy = PlainAlgebra.kernel(d, kernel)
        if not self.revealcancel:
            return Diff(reference, dy)
        # |W| |Δx|, with |Δx| = sign(Δx) Δx written linearly in Δx
        response = PlainAlgebra.kernel(tf.sign(tf.stop_gradient(d)) * d, tf.abs(kernel))
        return Diff(reference, Parts(*rules.kernel_split_forward(dy, response)))

    @staticmethod
    def add(a: Diff, b: Diff) -> Diff:
        return Diff(a.reference + b.reference, tf.nest.map_structure(tf.add, a.delta, b.delta))

    def activate(self, function: ops.Activation | None, v: Diff) -> Diff:
        if function is None:
            return v
        x0 = v.reference
        if self.revealcancel:
            pos, neg = (tf.stop_gradient(p) for p in v.delta)
            difference = function.difference if function.has_closed_form_difference else None
            dy_pos, dy_neg = rules.revealcancel_parts(x0, pos, neg, function, difference)
            m_pos, m_neg = rules.revealcancel_multipliers(x0, pos, neg, dy_pos, dy_neg, function.derivative)
            return Diff(function(x0), Parts(_valued(m_pos * v.delta.pos, dy_pos), _valued(m_neg * v.delta.neg, dy_neg)))
        dx = tf.stop_gradient(v.delta)
        dy = function.difference(x0, dx) if function.has_closed_form_difference else function(x0 + dx) - function(x0)
        return Diff(function(x0), _valued(rules.rescale_multiplier(x0, dx, dy, function.derivative) * v.delta, dy))

    def multiply(self, a: Diff, b: Diff) -> Diff:
        da, db = total(a.delta), total(b.delta)
        m_a, m_b = rules.product_multipliers(a.reference, tf.stop_gradient(da), b.reference, tf.stop_gradient(db))
        product = m_a * da + m_b * db
        return Diff(a.reference * b.reference, _split_by_own_sign(product) if self.revealcancel else product)

    @staticmethod
    def one_minus(v: Diff) -> Diff:
        delta = Parts(-v.delta.neg, -v.delta.pos) if isinstance(v.delta, Parts) else -v.delta
        return Diff(1.0 - v.reference, delta)

    @staticmethod
    def split(v: Diff, parts: int) -> list[Diff]:
        references = tf.split(v.reference, parts, axis=-1)
        if isinstance(v.delta, Parts):
            deltas = [Parts(p, n) for p, n in zip(tf.split(v.delta.pos, parts, -1), tf.split(v.delta.neg, parts, -1))]
        else:
            deltas = tf.split(v.delta, parts, axis=-1)
        return [Diff(r, d) for r, d in zip(references, deltas)]

    def zeros(self, batch: tf.Tensor, units: int) -> Diff:
        zero = PlainAlgebra.zeros(batch, units)
        return Diff(zero, Parts(zero, zero) if self.revealcancel else zero)


class Linearized(NamedTuple):
    """A recurrent layer's output difference as a linear function of its input difference.

    ``tape`` is None inside a compiled function (the graph's own symbolic
    gradient, :func:`tf.gradients`, differentiates it), else an eager
    persistent tape that recorded it.
    """

    input_delta: tf.Tensor
    output_delta: tf.Tensor
    tape: tf.GradientTape | None

    def transpose(self, output_multipliers: tf.Tensor) -> tf.Tensor:
        """The input's multipliers from the output's: the transpose of the linear map, run back through
        the loop."""
        if self.tape is None:
            (grad,) = tf.gradients(self.output_delta, self.input_delta, grad_ys=output_multipliers,
                                   unconnected_gradients=tf.UnconnectedGradients.ZERO)
            return grad
        return self.tape.gradient(self.output_delta, self.input_delta, output_gradients=output_multipliers,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)


def linearized(op: Recurrent, reference: tf.Tensor, delta: tf.Tensor, revealcancel: bool) -> Linearized:
    """Run ``op``'s loop on (reference, difference) pairs with :class:`DifferenceAlgebra`, ready to be
    transposed for as many target units as asked (:meth:`Linearized.transpose`).

    In a compiled function the loop is built with no tape recording: a tape
    would make TensorFlow wrap the loop in a function and build its gradient
    at once (for a persistent tape, ready for higher orders), which cost 15 s
    of tracing per LSTM layer; the graph's symbolic gradient builds it once,
    when asked.
    """
    algebra = DifferenceAlgebra(revealcancel)
    delta = tf.identity(delta)

    def run() -> tf.Tensor:
        output = op.run(algebra, Diff(reference, delta), algebra.zeros(tf.shape(reference)[0], op.cell.units))
        return total(output.delta)

    if not tf.executing_eagerly():
        return Linearized(delta, run(), None)
    tape = tf.GradientTape(persistent=True)
    with tape:
        tape.watch(delta)
        output_delta = run()
    return Linearized(delta, output_delta, tape)
