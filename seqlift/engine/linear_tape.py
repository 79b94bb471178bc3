"""A linear map recorded as it is applied to symbolic values, then its transpose applied to multipliers.

A recurrent layer's DeepLIFT rule, with its coefficients held, is a linear map
from the differences at a step's input to those at its output
(:class:`seqlift.engine.recurrence.TangentAlgebra`); the multipliers flow back
through its transpose. Run on the :class:`Var` values of a :class:`LinearTape`,
the cell builds no operation: each sum, scaling, kernel and split is recorded,
and :meth:`LinearTape.transpose` then applies the transpose of each in reverse
order::

    y = a + b        ->  m_a += m_y,          m_b += m_y
    y = a − b        ->  m_a += m_y,          m_b −= m_y
    y = c ⊙ a        ->  m_a += c ⊙ m_y       (c a coefficient or a number)
    y = a U          ->  m_a += m_y Uᵀ        (:func:`seqlift.model.invariant.matmul_transposed`)
    [y_1 … y_k] = a  ->  m_a += [m_1 … m_k]   (a split into blocks of units; absent blocks are zeros)

Multipliers carry leading axes of their own (the targets, which share every
coefficient by broadcasting), so one transpose serves all of them at once.
The graph it builds holds only those products and sums: TensorFlow's symbolic
gradient of the same map (which this replaces) added the broadcasting
gradients' shape arithmetic and reductions to every step, ~4 times the
operations, each one traced, optimized and run at every step of the loop.
"""
from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf

from seqlift.model import invariant

Multiplier = tf.Tensor
_Backward = Callable[[Multiplier], Sequence[Multiplier]]


class Var:
    """A value of a :class:`LinearTape`: a linear function of the tape's inputs.

    Supports ``a + b``, ``a − b``, ``−a`` (with another ``Var``) and ``a * c``,
    ``c * a`` (``c`` a coefficient tensor or a number, broadcast against the values).
    """

    __slots__ = ("tape", "index")

    def __init__(self, tape: LinearTape, index: int) -> None:
        self.tape = tape
        self.index = index

    def __add__(self, other: Var) -> Var:
        return self.tape.record((self, other), lambda m: (m, m))

    def __sub__(self, other: Var) -> Var:
        return self.tape.record((self, other), lambda m: (m, -m))

    def __neg__(self) -> Var:
        return self.tape.record((self,), lambda m: (-m,))

    def __mul__(self, coefficient: tf.Tensor | float) -> Var:
        if isinstance(coefficient, Var):
            raise TypeError("a linear tape multiplies values by coefficients only, not by each other")
        return self.tape.record((self,), lambda m: (m * coefficient,))

    __rmul__ = __mul__


class LinearTape:
    """The record of a linear map's operations (see the module docstring)."""

    def __init__(self) -> None:
        self._steps: list[tuple[tuple[Var, ...], _Backward]] = []
        self._inputs = 0

    def input(self) -> Var:
        """A new input of the map."""
        self._inputs += 1
        return Var(self, -self._inputs)

    def record(self, inputs: tuple[Var, ...], backward: _Backward) -> Var:
        """A new value computed from ``inputs``; ``backward`` maps its multiplier to theirs, in order."""
        for value in inputs:
            if not isinstance(value, Var) or value.tape is not self:
                raise TypeError(f"a linear tape combines its own values only, not {type(value).__name__}")
        self._steps.append((inputs, backward))
        return Var(self, len(self._steps) - 1)

    def kernel(self, value: Var, kernel: tf.Tensor) -> Var:
        """``value U``, over the last axis (``kernel`` ``(K, N)``)."""
        return self.record((value,), lambda m: (invariant.matmul_transposed(m, kernel),))

    def split(self, value: Var, parts: int) -> list[Var]:
        """``value`` in ``parts`` equal blocks of its last axis (``tf.split``)."""
        blocks: list[Var] = []
        joined = self.record((value,), lambda m: (m,))  # the blocks' multipliers, concatenated, flow here
        for block in range(parts):
            blocks.append(self.record((joined,), _block_backward(block, parts)))
        return blocks

    def transpose(self, outputs: Sequence[Var], multipliers: Sequence[Multiplier],
                  inputs: Sequence[Var]) -> list[Multiplier | None]:
        """``Σ_k m_kᵀ ∂outputs_k/∂inputs``: the multipliers of ``inputs`` given those of ``outputs``.

        Returns None for an input the outputs do not depend on.
        """
        flowing: dict[int, Multiplier | _Blocks] = {}

        def receive(value: Var, m: Multiplier | _Blocks) -> None:
            kept = flowing.get(value.index)
            if kept is None:
                flowing[value.index] = m
            elif isinstance(kept, _Blocks):
                kept.add(m)
            else:
                flowing[value.index] = kept + m

        for value, m in zip(outputs, multipliers):
            receive(value, m)
        for index in range(len(self._steps) - 1, -1, -1):
            m = flowing.pop(index, None)
            if m is None:
                continue
            step_inputs, backward = self._steps[index]
            if isinstance(m, _Blocks):
                m = m.joined()
            for value, m_in in zip(step_inputs, backward(m)):
                receive(value, m_in)
        return [_joined(flowing.get(value.index)) for value in inputs]


class _Blocks:
    """The multipliers of a split's blocks, gathered until they are joined."""

    def __init__(self, parts: int) -> None:
        self.blocks: list[Multiplier | None] = [None] * parts

    def add(self, other: _Blocks) -> None:
        for block, m in enumerate(other.blocks):
            if m is not None:
                kept = self.blocks[block]
                self.blocks[block] = m if kept is None else kept + m

    def joined(self) -> Multiplier:
        """The blocks side by side, zeros for those nothing reached."""
        present = next(m for m in self.blocks if m is not None)
        zeros = tf.zeros_like(present)
        return tf.concat([zeros if m is None else m for m in self.blocks], axis=-1)


def _block_backward(block: int, parts: int) -> _Backward:
    def backward(m: Multiplier) -> tuple[_Blocks]:
        blocks = _Blocks(parts)
        blocks.blocks[block] = m
        return (blocks,)
    return backward


def _joined(m: Multiplier | _Blocks | None) -> Multiplier | None:
    return m.joined() if isinstance(m, _Blocks) else m
