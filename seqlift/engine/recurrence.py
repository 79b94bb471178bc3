"""DeepLIFT through a recurrent layer: its cell's rules, step by step, inside the layer's loop.

A cell (:mod:`seqlift.model.recurrent`) is written once against an algebra of
operations. :class:`DifferenceAlgebra` runs it on :class:`Diff` values: the
reference's value and the *difference-from-reference*, as a tensor or, where
RevealCancel needs them, as positive and negative parts (section 3.5.1 of the
paper), and the sequence's own value (its plain track: one row per sequence,
computed by :class:`~seqlift.model.recurrent.PlainAlgebra`'s operations, so it
is the layer's forward pass bit for bit, its rows riding in the same products). Each operation applies the rule of :mod:`seqlift.engine.rules` that
the same operation gets as a layer of the graph:

* a kernel ``v U``: the linear rule, parts split by the sign of each term
  (:func:`~seqlift.engine.rules.kernel_split_forward`, with ``|Δv|`` written
  ``sign(Δv) Δv``);
* a sum, ``1 − v`` and a split into gates: linear (parts add, swap, split);
* an activation: Rescale (:func:`~seqlift.engine.rules.rescale_multiplier`,
  ``Δy`` from the activation's closed-form difference) or RevealCancel
  (:func:`~seqlift.engine.rules.revealcancel_parts` and ``_multipliers``), a
  sigmoid's computed as its tanh's (:mod:`seqlift.engine.activation_rules`);
  the reference's value is the activation's own, as the sequence's;
* a product of two varying values: the exact Shapley split
  (:func:`~seqlift.engine.rules.product_multipliers`), the product's parts split
  by its own sign.

Every rule multiplies differences by *coefficients* (the signs, multipliers and
shares above) computed from the reference and the differences' values, so,
with the coefficients held, the differences at a step's output are a linear
function of the differences at its input, and the whole layer's output
difference a linear function of its input's. :class:`TangentAlgebra` is that
linear function: the same cell run on differences alone, each operation
taking its coefficients in the order :class:`DifferenceAlgebra` recorded them.

The DeepLIFT multipliers of the layer's input are the transpose of the linear
map applied to the output's multipliers (the transpose of a composition is the
composition of the transposes, in reverse order): :meth:`Linearized.transpose`
runs the steps backwards in a loop of its own, each step's transpose that one
step's linear map recorded on a :class:`~seqlift.engine.linear_tape.LinearTape`
(the cell run on its symbolic values) and transposed operation by operation,
reading the coefficients the forward loop kept for the step. TensorFlow's own
gradient of a loop is not used: the graph builds it anew for every target
differentiated, seconds each for an LSTM; nor its symbolic gradient of a step,
whose broadcasting arithmetic made the backward step's graph ~4 times larger
(DanQ-shaped revealcancel: 1,118 operations in the two backward loops'
bodies against 264, first call 3.5 -> 2.8 s, a call of 10 pairs 0.71 -> 0.51 s,
scores bit-identical). Memory grows linearly
with the number of steps (each step's coefficients, a few times the layer's
gate activations per pair).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple, Union

import tensorflow as tf

from seqlift.engine import activation_rules, rules
from seqlift.engine.linear_tape import LinearTape
from seqlift.model import derived, ops
from seqlift.model.recurrent import PlainAlgebra, Recurrent


class Parts(NamedTuple):
    """Positive and negative parts of a difference, ``Δ = pos + neg``."""

    pos: tf.Tensor
    neg: tf.Tensor


Delta = Union[tf.Tensor, Parts]


class Diff(NamedTuple):
    """A value inside a cell: its reference value and its difference from it (one row per pair), and
    the sequences' own value (one row per sequence: their plain forward pass, run in the same loop)."""

    reference: tf.Tensor
    delta: Delta
    plain: tf.Tensor


def total(delta: Delta) -> tf.Tensor:
    """``Δ`` of a difference held whole or as parts."""
    return delta.pos + delta.neg if isinstance(delta, Parts) else delta


def _positive_share(value: tf.Tensor) -> tf.Tensor:
    """The share of a term that goes to the positive part: 1, 0, or ½ where the term is 0."""
    return 0.5 * (1.0 + tf.sign(value))


class TangentAlgebra:
    """A cell's operations on differences alone (:data:`Delta`): the linear map the rules make, each
    operation's coefficients taken, in order, from ``coefficients``.

    Parameters
    ----------
    revealcancel
        Differences carry parts (RevealCancel at the activations), else they are whole (Rescale).
    coefficients
        The rules' coefficients, in the order the operations consume them (as
        :class:`DifferenceAlgebra` records them).
    linear
        What applies a kernel and splits a value into blocks: :class:`PlainAlgebra` for differences held
        as tensors, a :class:`~seqlift.engine.linear_tape.LinearTape` to record the map for its
        transpose. Coefficients multiply differences from the right (``Δ ⊙ c``), as a tape's values need.
    """

    def __init__(self, revealcancel: bool, coefficients: deque, linear: Any = PlainAlgebra) -> None:
        self.revealcancel = revealcancel
        self.coefficients = coefficients
        self.linear = linear

    def _next(self) -> tf.Tensor:
        return self.coefficients.popleft()

    def kernel(self, d: Delta, kernel: tf.Tensor, bias: tf.Tensor | None = None,
               product: tf.Tensor | None = None) -> Delta:
        """``Δv U`` (the bias cancels); with parts, ``½ (Δv U ± sign(Δv) Δv |U|)``. ``product``: ``Δv U``
        where the caller has it."""
        whole = total(d)
        dy = self.linear.kernel(whole, kernel) if product is None else product
        if not self.revealcancel:
            return dy
        response = self.linear.kernel(whole * self._next(), derived.derived(kernel, "abs", tf.abs))
        return Parts(*rules.kernel_split_forward(dy, response))

    @staticmethod
    def add(a: Delta, b: Delta) -> Delta:
        return Parts(a.pos + b.pos, a.neg + b.neg) if isinstance(a, Parts) else a + b

    def activate(self, function: ops.Activation | None, d: Delta) -> Delta:
        """Each part times its multiplier."""
        if function is None:
            return d
        if self.revealcancel:
            return Parts(d.pos * self._next(), d.neg * self._next())
        return d * self._next()

    def product(self, a: Delta, b: Delta) -> tf.Tensor:
        """``m_a Δa + m_b Δb``, the product's difference (whole)."""
        return total(a) * self._next() + total(b) * self._next()

    def by_own_sign(self, product: tf.Tensor) -> Delta:
        """A product's difference split into parts by its sign (with parts), ``q Δ`` and ``(1 − q) Δ``."""
        if not self.revealcancel:
            return product
        share = self._next()
        return Parts(product * share, product * (1.0 - share))

    def multiply(self, a: Delta, b: Delta) -> Delta:
        return self.by_own_sign(self.product(a, b))

    @staticmethod
    def one_minus(d: Delta) -> Delta:
        return Parts(-d.neg, -d.pos) if isinstance(d, Parts) else -d

    def split(self, d: Delta, parts: int) -> list[Delta]:
        if isinstance(d, Parts):
            return [Parts(p, n) for p, n in zip(self.linear.split(d.pos, parts), self.linear.split(d.neg, parts))]
        return self.linear.split(d, parts)


class DifferenceAlgebra:
    """A cell's operations on :class:`Diff` values, each by its DeepLIFT rule (see the module docstring).

    Each operation computes its coefficients from the values, records them
    (:meth:`take_recorded`) and applies them with :class:`TangentAlgebra`;
    an activation's difference is its closed-form (exact) difference, which
    its coefficients reproduce up to rounding.

    Parameters
    ----------
    revealcancel
        RevealCancel at the activations (differences then carry parts), else Rescale.
    """

    def __init__(self, revealcancel: bool) -> None:
        self.revealcancel = revealcancel
        self._recorded: list[tf.Tensor] = []
        self._tangent = TangentAlgebra(revealcancel, deque())

    def _with(self, *coefficients: tf.Tensor) -> TangentAlgebra:
        """The tangent algebra, handed ``coefficients`` (which are recorded)."""
        self._recorded.extend(coefficients)
        self._tangent.coefficients.extend(coefficients)
        return self._tangent

    def take_recorded(self) -> list[tf.Tensor]:
        """The coefficients recorded since the last call, in order."""
        recorded, self._recorded = self._recorded, []
        return recorded

    def kernel(self, v: Diff, kernel: tf.Tensor, bias: tf.Tensor | None = None) -> Diff:
        """The reference's ``v U + b``, ``Δv U`` and the sequences' ``v U + b`` as one product of their
        rows stacked: the kernel is read once, and the rows fill fewer of
        :func:`~seqlift.model.invariant.matmul`'s blocks (DanQ's 320 x 1,280 step, 2 sequences of 10
        pairs: 20 + 20 + 2 rows in 3 blocks instead of 2 + 2 + 2)."""
        whole = total(v.delta)
        stacked = [v.reference, whole, v.plain]
        rows = tf.stack([tf.shape(t)[0] for t in stacked])
        reference, product, plain = tf.split(PlainAlgebra.kernel(tf.concat(stacked, 0), kernel), rows)
        if bias is not None:
            reference, plain = reference + bias, plain + bias
        signs = (tf.sign(whole),) if self.revealcancel else ()
        return Diff(reference, self._with(*signs).kernel(v.delta, kernel, product=product), plain)

    def add(self, a: Diff, b: Diff) -> Diff:
        return Diff(a.reference + b.reference, self._tangent.add(a.delta, b.delta), a.plain + b.plain)

    def activate(self, function: ops.Activation | None, v: Diff) -> Diff:
        if function is None:
            return v
        if self.revealcancel:
            dy_pos, dy_neg, *multipliers = activation_rules.revealcancel_in_cell(function, v.reference, *v.delta)
            delta = Parts(dy_pos, dy_neg)
        else:
            delta, *multipliers = activation_rules.rescaled_in_cell(function, v.reference, v.delta)
        self._recorded.extend(multipliers)
        # the exact difference (the recorded multipliers are for the transpose)
        return Diff(PlainAlgebra.activate(function, v.reference), delta, PlainAlgebra.activate(function, v.plain))

    def multiply(self, a: Diff, b: Diff) -> Diff:
        da, db = total(a.delta), total(b.delta)
        product = self._with(*rules.product_multipliers(a.reference, da, b.reference, db)).product(da, db)
        shares = (_positive_share(product),) if self.revealcancel else ()
        return Diff(a.reference * b.reference, self._with(*shares).by_own_sign(product), a.plain * b.plain)

    def one_minus(self, v: Diff) -> Diff:
        return Diff(1.0 - v.reference, self._tangent.one_minus(v.delta), PlainAlgebra.one_minus(v.plain))

    def split(self, v: Diff, parts: int) -> list[Diff]:
        return [Diff(r, d, p) for r, d, p in zip(tf.split(v.reference, parts, axis=-1), self._tangent.split(v.delta, parts),
                                                 PlainAlgebra.split(v.plain, parts))]

    def zeros(self, pairs: tf.Tensor, sequences: tf.Tensor, units: int) -> Diff:
        """The zero state of ``pairs`` pairs and ``sequences`` sequences."""
        zero = PlainAlgebra.zeros(pairs, units)
        return Diff(zero, Parts(zero, zero) if self.revealcancel else zero, PlainAlgebra.zeros(sequences, units))


def _zeros_like_delta(revealcancel: bool, shape: tf.Tensor) -> Delta:
    """Zero multipliers of ``shape``, for each part with RevealCancel."""
    if revealcancel:
        return Parts(tf.zeros(shape), tf.zeros(shape))
    return tf.zeros(shape)


def _tape_input(tape: LinearTape, revealcancel: bool) -> Delta:
    """A difference the tape's map takes, as parts with RevealCancel."""
    return Parts(tape.input(), tape.input()) if revealcancel else tape.input()


@dataclass
class Linearized:
    """A recurrent layer's output difference as a linear function of its input difference.

    Attributes
    ----------
    op
        The layer.
    revealcancel
        Whether the differences carry parts.
    input_shape
        The input's dynamic shape ``(batch, steps, features)``.
    static_shape
        What the graph knows of it.
    reference
        The layer's output on the references (the loop's reference track).
    plain
        The layer's output on the sequences (the loop's plain track: the layer's own forward pass).
    projection
        The coefficients of the input's projection (its kernel's signs, with parts).
    steps, widths
        Each step's coefficients, concatenated (a ``TensorArray`` of ``(batch, Σ widths)``), and the widths.
    """

    op: Recurrent
    revealcancel: bool
    input_shape: tf.Tensor
    static_shape: tf.TensorShape
    reference: tf.Tensor
    plain: tf.Tensor
    projection: list[tf.Tensor]
    steps: Any
    widths: list[int]

    def _tangent(self, coefficients: list[tf.Tensor], tape: LinearTape) -> TangentAlgebra:
        return TangentAlgebra(self.revealcancel, deque(coefficients), tape)

    def transpose(self, output_multipliers: tf.Tensor) -> tf.Tensor:
        """The input's multipliers from the output's, for several targets at once: the transpose of
        the linear map, run back through the steps.

        Parameters
        ----------
        output_multipliers
            ``(targets, batch, steps, units)``, or ``(targets, batch, units)``
            for a layer that returns its last step.

        Returns
        -------
        tf.Tensor
            ``(targets, batch, steps, features)``. The coefficients ``(batch, …)``
            broadcast over the targets, so each step is one pass for all of them.
        """
        op, cell, rc = self.op, self.op.cell, self.revealcancel
        steps = self.input_shape[1]
        rows = tf.shape(output_multipliers)[:2]  # targets, batch
        state_shape = tf.concat([rows, [cell.units]], 0)
        projected_shape = tf.concat([rows, [int(cell.kernel.shape[-1])]], 0)
        zero_state = _zeros_like_delta(rc, state_shape)
        if op.return_sequences:
            per_step = tf.TensorArray(tf.float32, size=steps).unstack(tf.transpose(output_multipliers, [2, 0, 1, 3]))
            last = tf.zeros(state_shape)
        else:
            per_step, last = None, output_multipliers

        def seeded(state_m, extra):
            """The state's multipliers, ``extra`` added to the output's (the first state), whole or each part."""
            first = tf.nest.map_structure(lambda m: m + extra, state_m[0])
            return (first,) + tuple(state_m[1:])

        initial = seeded((zero_state,) * cell.states, last)
        projected_m = [tf.TensorArray(tf.float32, size=steps) for _ in tf.nest.flatten(zero_state)]

        def body(t, state_m, projected_m):
            if per_step is not None:
                state_m = seeded(state_m, per_step.read(t))
            kept = tf.ensure_shape(self.steps.read(t), [None, sum(self.widths)])
            coefficients = tf.split(kept, self.widths, axis=-1) if self.widths else []
            tape = LinearTape()
            projected_t = _tape_input(tape, rc)
            state_t = tuple(_tape_input(tape, rc) for _ in range(cell.states))
            _, new_state = cell.step(self._tangent(coefficients, tape), projected_t, state_t)
            inputs = tf.nest.flatten(projected_t) + tf.nest.flatten(state_t)
            grads = tape.transpose(tf.nest.flatten(new_state), tf.nest.flatten(state_m), inputs)
            n = len(tf.nest.flatten(projected_t))
            grads = [tf.zeros(projected_shape if i < n else state_shape) if g is None else g for i, g in enumerate(grads)]
            projected_m = [array.write(t, g) for array, g in zip(projected_m, grads[:n])]
            return t - 1, tf.nest.pack_sequence_as(state_m, grads[n:]), projected_m

        _, _, projected_m = tf.while_loop(lambda t, *_: t >= 0, body, (steps - 1, initial, projected_m))
        projected_m = [array.stack() for array in projected_m]  # (steps, targets, batch, width), processing order
        if op.go_backwards:
            projected_m = [tf.reverse(m, [0]) for m in projected_m]
        projected_m = [tf.transpose(m, [1, 2, 0, 3]) for m in projected_m]
        tape = LinearTape()
        x = tape.input()
        projected = cell.project(self._tangent(self.projection, tape), x)
        (grad,) = tape.transpose(tf.nest.flatten(projected), projected_m, [x])
        if grad is None:
            grad = tf.zeros(tf.concat([rows[:1], self.input_shape], 0))
        grad.set_shape(tf.TensorShape([None]).concatenate(self.static_shape))
        return grad


def linearized(op: Recurrent, reference: tf.Tensor, delta: tf.Tensor, revealcancel: bool,
               sequences: tf.Tensor) -> Linearized:
    """Run ``op``'s loop on (reference, difference) pairs with :class:`DifferenceAlgebra`, keeping every
    step's coefficients, ready to be transposed for as many target units as asked
    (:meth:`Linearized.transpose`); the same loop runs the layer on ``sequences`` (its input on the
    sequences, one row each), whose rows ride in its products' blocks beside the pairs'."""
    algebra = DifferenceAlgebra(revealcancel)
    projected = op.steps(algebra, Diff(reference, delta, sequences))
    projection = algebra.take_recorded()
    zeros = algebra.zeros(tf.shape(reference)[0], tf.shape(sequences)[0], op.cell.units)
    output, steps, widths = op.loop(algebra, projected, zeros, keep=algebra.take_recorded)
    return Linearized(op, revealcancel, tf.shape(delta), delta.shape, output.reference, output.plain, projection,
                      steps, widths)
