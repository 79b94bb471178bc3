"""Recurrent layers: a cell run over the steps of a sequence inside one compiled loop.

A :class:`Recurrent` op holds a cell (:class:`LSTMCell`, :class:`GRUCell`,
:class:`SimpleRNNCell`) and runs it over time with ``tf.while_loop`` (a loop
in the compiled graph, not a Python loop over positions), as
Keras's ``LSTM``, ``GRU`` and ``SimpleRNN`` layers do: ``return_sequences``
(every step's output, or the last) and ``go_backwards`` (the steps in reverse
order, the outputs left in processing order, as Keras leaves them).

Each cell writes its step once, against an *algebra*: the operations it is
made of (a kernel applied to a value, a sum, an activation, a product, ``1 −
v``, a split into gate blocks). :class:`PlainAlgebra` computes values; the
DeepLIFT engine runs the same step with an algebra of differences from the
reference (:mod:`seqlift.engine.recurrence`), so the cell is written once and
its DeepLIFT rule is its operations' rules, step by step.

The input's projection ``x W + b`` does not depend on the state, so it is
computed for all steps at once before the loop (as Keras does); inside the
loop, a step adds the state's projection ``h U`` (:func:`seqlift.model.invariant.matmul`,
so a row's result does not depend on the batch) and applies the gates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import tensorflow as tf

from seqlift.model import invariant, ops

__all__ = ["GRUCell", "LSTMCell", "PlainAlgebra", "Recurrent", "Reverse", "SimpleRNNCell"]


class PlainAlgebra:
    """The operations of a cell on plain values (tensors whose last axis holds the units)."""

    @staticmethod
    def kernel(v: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None = None) -> tf.Tensor:
        """``v @ kernel (+ bias)``."""
        y = invariant.matmul(v, kernel)
        return y if bias is None else y + bias

    @staticmethod
    def add(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        return a + b

    @staticmethod
    def activate(function: ops.Activation | None, v: tf.Tensor) -> tf.Tensor:
        """``f(v)``; None is the linear activation."""
        return v if function is None else function(v)

    @staticmethod
    def multiply(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        return a * b

    @staticmethod
    def one_minus(v: tf.Tensor) -> tf.Tensor:
        return 1.0 - v

    @staticmethod
    def split(v: tf.Tensor, parts: int) -> list[tf.Tensor]:
        """``v`` split into ``parts`` equal blocks of units (a cell's gates)."""
        return tf.split(v, parts, axis=-1)

    @staticmethod
    def zeros(batch: tf.Tensor, units: int) -> tf.Tensor:
        """A state of zeros, ``(batch, units)``."""
        return tf.zeros(tf.stack([batch, units]), tf.float32)


def _constant(value: Any) -> tf.Tensor | None:
    return None if value is None else ops.constant(value)


@dataclass(eq=False)
class _Cell:
    """What every cell holds: its kernels, bias and activations (None: linear)."""

    kernel: tf.Tensor
    recurrent_kernel: tf.Tensor
    bias: tf.Tensor | None
    activation: ops.Activation | None
    recurrent_activation: ops.Activation | None = None

    #: the cell's name in summaries
    name = "cell"
    #: how many states the cell carries (LSTM: h and c)
    states = 1

    def __post_init__(self) -> None:
        self.kernel = ops.constant(self.kernel)
        self.recurrent_kernel = ops.constant(self.recurrent_kernel)
        self.bias = _constant(self.bias)

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])

    @property
    def weights(self) -> dict[str, tf.Tensor]:
        out = {"kernel": self.kernel, "recurrent_kernel": self.recurrent_kernel}
        if self.bias is not None:
            out["bias"] = self.bias
        return out

    def project(self, algebra, x):
        """The input's contribution to every step, ``x W + b``, for all steps at once."""
        return algebra.kernel(x, self.kernel, self.bias)

    def step(self, algebra, projected, state: tuple) -> tuple[Any, tuple]:  # pragma: no cover - abstract
        """One step: ``(output, new state)`` from the step's projected input and the state."""
        raise NotImplementedError

    def describe(self) -> str:
        names = [f.kind if f is not None else "linear" for f in (self.activation, self.recurrent_activation)]
        extra = "" if self.recurrent_activation is None else f", gates {names[1]}"
        return f"{self.name}({self.units}, {names[0]}{extra})"


@dataclass(eq=False)
class SimpleRNNCell(_Cell):
    """``h_t = f(x_t W + h_{t−1} U + b)`` (Keras ``SimpleRNN``)."""

    name = "SimpleRNN"

    def step(self, algebra, projected, state):
        (h,) = state
        h = algebra.activate(self.activation, algebra.add(projected, algebra.kernel(h, self.recurrent_kernel)))
        return h, (h,)


@dataclass(eq=False)
class LSTMCell(_Cell):
    """Keras ``LSTM``: gates ``i, f, o = σ(z_i), σ(z_f), σ(z_o)``, candidate ``g = f(z_g)`` with
    ``z = x_t W + h_{t−1} U + b`` (blocks i, f, g, o); ``c_t = f ⊙ c_{t−1} + i ⊙ g``, ``h_t = o ⊙ f(c_t)``."""

    name = "LSTM"
    states = 2

    def step(self, algebra, projected, state):
        h, c = state
        z = algebra.add(projected, algebra.kernel(h, self.recurrent_kernel))
        z_i, z_f, z_g, z_o = algebra.split(z, 4)
        gate = self.recurrent_activation
        i, f, o = (algebra.activate(gate, v) for v in (z_i, z_f, z_o))
        g = algebra.activate(self.activation, z_g)
        c = algebra.add(algebra.multiply(f, c), algebra.multiply(i, g))
        h = algebra.multiply(o, algebra.activate(self.activation, c))
        return h, (h, c)


@dataclass(eq=False)
class GRUCell(_Cell):
    """Keras ``GRU``: update and reset gates ``z, r = σ(…)``, candidate ``ĥ`` and
    ``h_t = z ⊙ h_{t−1} + (1 − z) ⊙ ĥ``.

    With ``reset_after`` (Keras's default) ``ĥ = f(x_t W_h + b_h + r ⊙ (h_{t−1} U_h + b'_h))``
    and the bias is ``(2, 3 units)``: input and recurrent biases; without it
    ``ĥ = f(x_t W_h + (r ⊙ h_{t−1}) U_h + b_h)`` and one bias.
    """

    name = "GRU"
    reset_after: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.recurrent_bias = None
        if self.bias is not None and self.reset_after:
            self.bias, self.recurrent_bias = self.bias[0], self.bias[1]

    @property
    def weights(self) -> dict[str, tf.Tensor]:
        out = super().weights
        if self.recurrent_bias is not None:
            out["recurrent_bias"] = self.recurrent_bias
        return out

    def step(self, algebra, projected, state):
        (h,) = state
        x_z, x_r, x_h = algebra.split(projected, 3)
        units = self.units
        if self.reset_after:
            r_z, r_r, r_h = algebra.split(algebra.kernel(h, self.recurrent_kernel, self.recurrent_bias), 3)
        else:
            r_z, r_r = algebra.split(algebra.kernel(h, self.recurrent_kernel[:, : 2 * units]), 2)
        z = algebra.activate(self.recurrent_activation, algebra.add(x_z, r_z))
        r = algebra.activate(self.recurrent_activation, algebra.add(x_r, r_r))
        if self.reset_after:
            candidate_input = algebra.add(x_h, algebra.multiply(r, r_h))
        else:
            candidate_input = algebra.add(x_h, algebra.kernel(algebra.multiply(r, h),
                                                              self.recurrent_kernel[:, 2 * units:]))
        candidate = algebra.activate(self.activation, candidate_input)
        h = algebra.add(algebra.multiply(z, h), algebra.multiply(algebra.one_minus(z), candidate))
        return h, (h,)

    def describe(self) -> str:
        return super().describe()[:-1] + ("" if self.reset_after else ", reset before") + ")"


def _time_major(structure):
    """Every tensor of a nested structure with its batch and time axes swapped."""
    return tf.nest.map_structure(lambda t: tf.transpose(t, [1, 0, *range(2, t.shape.rank)]), structure)


class Recurrent(ops.Op):
    """A recurrent layer: ``cell`` run over axis 1 of a ``(batch, steps, features)`` input.

    Parameters
    ----------
    cell
        The cell (its weights and activations).
    return_sequences
        Return every step's output ``(batch, steps, units)``, else the last ``(batch, units)``.
    go_backwards
        Run over the steps in reverse order; the outputs stay in processing
        order (Keras's convention).
    """

    propagation = ops.Propagation.RECURRENT

    def __init__(self, cell: _Cell, return_sequences: bool = False, go_backwards: bool = False) -> None:
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.go_backwards = bool(go_backwards)

    def steps(self, algebra, x):
        """The input's projection ``x W + b`` (:meth:`_Cell.project`, computed with ``algebra``), step by
        step in processing order: time-major ``(steps, batch, …)``, reversed for ``go_backwards``."""
        projected = _time_major(self.cell.project(algebra, x))
        if self.go_backwards:
            projected = tf.nest.map_structure(lambda t: tf.reverse(t, [0]), projected)
        return projected

    def loop(self, algebra, projected, zeros, keep: Callable[[], list[tf.Tensor]] | None = None):
        """Run the cell over the projected steps (:meth:`steps`) from the zero state ``zeros`` (the
        algebra's zero for one ``(batch, units)`` value).

        Returns the layer's output: every step's, batch-major and in processing
        order, with ``return_sequences``, else the last. With ``keep``, also
        what ``keep()`` gives after each step (a list of ``(batch, k_i)``
        tensors, the same widths every step), concatenated per step in a
        ``TensorArray`` of ``steps`` elements, and the widths ``k_i``.
        Memory: the loop keeps each step's output (``return_sequences``) and
        what ``keep`` gives, so it grows linearly with the number of steps.
        """
        steps = tf.shape(tf.nest.flatten(projected)[0])[0]
        # read step by step from arrays (whose gradient is written step by step, unlike a slice's)
        read = [tf.TensorArray(tf.float32, size=steps).unstack(leaf) for leaf in tf.nest.flatten(projected)]
        written = [tf.TensorArray(tf.float32, size=steps) for _ in tf.nest.flatten(zeros)] if self.return_sequences else []
        kept = [tf.TensorArray(tf.float32, size=steps)] if keep is not None else []
        widths: list[int] = []

        def body(t, state, written, kept):
            projected_t = tf.nest.pack_sequence_as(projected, [array.read(t) for array in read])
            output, state = self.cell.step(algebra, projected_t, state)
            written = [array.write(t, leaf) for array, leaf in zip(written, tf.nest.flatten(output))]
            if keep is not None:
                values = keep()
                widths[:] = [int(v.shape[-1]) for v in values]
                batch = tf.shape(tf.nest.flatten(state)[0])[0]
                kept = [kept[0].write(t, tf.concat(values, axis=-1) if values else tf.zeros(tf.stack([batch, 0])))]
            return t + 1, state, written, kept

        _, state, written, kept = tf.while_loop(lambda t, *_: t < steps, body,
                                                (tf.constant(0), (zeros,) * self.cell.states, written, kept))
        if self.return_sequences:
            output = _time_major(tf.nest.pack_sequence_as(zeros, [array.stack() for array in written]))
        else:
            output = state[0]  # every cell's output is its first state
        return output if keep is None else (output, kept[0], widths)

    def run(self, algebra, x, zeros):
        """The layer's output, computed with ``algebra`` on its input ``x`` (see :meth:`loop`)."""
        return self.loop(algebra, self.steps(algebra, x), zeros)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.run(PlainAlgebra, x, PlainAlgebra.zeros(tf.shape(x)[0], self.cell.units))

    @property
    def weights(self) -> dict[str, tf.Tensor]:
        return self.cell.weights

    def describe(self) -> str:
        flags = [f for f, on in (("sequences", self.return_sequences), ("backwards", self.go_backwards)) if on]
        return self.cell.describe() + "".join(f", {f}" for f in flags)


class Reverse(ops.Linear):
    """The steps (axis 1) in reverse order (a ``Bidirectional`` layer's backward outputs, realigned)."""

    propagation = ops.Propagation.SIGN_PRESERVING

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.reverse(x, [1])


def cell_class(name: str) -> type[_Cell]:
    """The cell of a Keras recurrent layer class (``"LSTM"``, ``"GRU"``, ``"SimpleRNN"``)."""
    return {"LSTM": LSTMCell, "GRU": GRUCell, "SimpleRNN": SimpleRNNCell}[name]


def weight_shapes(name: str, features: int, units: int, use_bias: bool, reset_after: bool = True
                  ) -> list[tuple[str, tuple[int, ...]]]:
    """The arrays a Keras recurrent layer stores: ``(name, shape)``, in order."""
    gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[name]
    shapes = [("kernel", (features, gates * units)), ("recurrent_kernel", (units, gates * units))]
    if use_bias:
        shapes.append(("bias", (2, gates * units) if name == "GRU" and reset_after else (gates * units,)))
    return shapes
