"""What a DeepLIFT pass carries: each node's multipliers, and the per-batch values of the pairs.

:class:`Multipliers` holds the multipliers of a node's positive and negative
parts (section 3.5.1 of the paper); :class:`PairState` holds, for one batch of
(sequence, reference) pairs, the activations of both forward passes and what
the rules derive from them once (differences, parts, Rescale and RevealCancel
multipliers), so that every target unit's backward pass reuses them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import tensorflow as tf

from seqlift.engine import rules


class Multipliers:
    """The multipliers of a node's positive and negative parts, ``m⁺`` and ``m⁻``.

    Held as their mean and half-difference, ``mean = ½(m⁺ + m⁻)`` and
    ``half = ½(m⁺ − m⁻)`` (so ``m± = mean ± half``), because that is what the
    layers below need: a Dense or convolution layer maps them back as
    ``Wᵀ mean + sign(Δx) ⊙ |W|ᵀ half`` (:func:`seqlift.engine.rules.kernel_split_backward`).
    ``half`` is None while the two are equal, as they are everywhere except
    between a RevealCancel nonlinearity and the kernel layer that feeds it.

    A rule whose joined multipliers come out of a fused pass may give,
    instead of ``mean``, ``fold``: a function of an elementwise factor (or
    None) that returns ``mean`` times it, computed in the same pass. A
    Rescale nonlinearity below it then scales them (:meth:`scaled`) without
    another pass over the layer; ``mean`` is computed only if read.

    Two forms are kept unevaluated until read, so that a convolution below
    can make its transposes' operands from their terms in one fused pass
    (:func:`seqlift.engine.rules.padded_products`): ``split``, a kernel
    layer's split backward ``(Δx, Wᵀ mean, |W|ᵀ half)`` whose joined
    multipliers are ``Wᵀ mean + sign(Δx) ⊙ |W|ᵀ half``
    (:func:`seqlift.engine.rules.kernel_split_backward`), and ``factors``,
    ``(above, mean, half)`` below a RevealCancel nonlinearity: the joined
    multipliers above it times its own mean and half-difference (times the
    scale of a batch normalisation between, and its absolute value). Read,
    they are computed by the same TensorFlow operations as when made at once.
    """

    def __init__(self, mean: tf.Tensor | None = None, half: tf.Tensor | None = None,
                 fold: Callable[[tf.Tensor | None], tf.Tensor] | None = None, *,
                 split: tuple[tf.Tensor, tf.Tensor, tf.Tensor] | None = None,
                 factors: tuple["Multipliers", tf.Tensor, tf.Tensor] | None = None) -> None:
        if mean is None and fold is None and split is None and factors is None:
            raise ValueError("Multipliers need a mean, a fold, a split or factors")
        self._mean = mean
        self._half = half
        self.fold = fold if half is None else None
        self.split = split
        self.factors = factors

    @property
    def mean(self) -> tf.Tensor:
        if self._mean is None:
            if self.split is not None:
                self._mean = rules.kernel_split_backward(*self.split)
            elif self.factors is not None:
                self._mean = self.factors[0].mean * self.factors[1]
            else:
                self._mean = self.fold(None)
        return self._mean

    @property
    def half(self) -> tf.Tensor | None:
        if self._half is None and self.factors is not None:
            self._half = self.factors[0].mean * self.factors[2]
        return self._half

    def terms(self) -> tuple[tf.Tensor, ...]:
        """The joined multipliers' terms: ``split`` while unevaluated, else ``(mean,)``."""
        return self.split if self.split is not None and self._mean is None else (self.mean,)

    @property
    def joined(self) -> bool:
        return self._half is None and self.factors is None

    def __add__(self, other: "Multipliers") -> "Multipliers":
        if self.joined and other.joined:
            return Multipliers(self.mean + other.mean)
        half = other.half if self.joined else self.half if other.joined else self.half + other.half
        return Multipliers(self.mean + other.mean, half)

    def scaled(self, factor: tf.Tensor) -> "Multipliers":
        if self.fold is not None:
            fold = self.fold

            def refold(more: tf.Tensor | None) -> tf.Tensor:
                return fold(factor) if more is None else fold(factor) * more  # as a mean read and scaled again

            return Multipliers(fold=refold)
        return Multipliers(self.mean * factor, None if self.joined else self.half * factor)

    def collapse(self, delta: tf.Tensor) -> tf.Tensor:
        """One multiplier per element, for a layer whose parts are split by its own sign:
        ``m⁺`` where ``Δ > 0``, ``m⁻`` where ``Δ < 0``, their mean at 0."""
        return self.mean if self.joined else self.mean + tf.sign(delta) * self.half

    def contributions(self, pos: tf.Tensor, neg: tf.Tensor) -> tf.Tensor:
        """``m⁺ Δ⁺ + m⁻ Δ⁻`` for the parts ``Δ⁺``, ``Δ⁻`` of a node's difference."""
        if self.joined:
            return self.mean * (pos + neg)
        return self.mean * (pos + neg) + self.half * (pos - neg)


@dataclass
class PairState:
    """Per-batch state of a DeepLIFT pass: activations, differences, parts and rule values.

    Attributes
    ----------
    x_acts : dict
        Activations of the inputs, one row per sequence.
    per_seq : tf.Tensor
        References per sequence (pairs come sequence by sequence).
    ref_acts : dict
        Activations of the references, one row per pair (the backward pass differentiates them:
        the linear layers' transposes).
    deltas, parts : dict
        ``Δ`` and ``(Δ⁺, Δ⁻)`` of each node, computed when first needed.
    scales : dict
        Rescale multipliers of the nonlinearities.
    rc_multipliers : dict
        RevealCancel multipliers ``(mean, half)`` of the nonlinearities.
    scaled_factors : dict
        Of each batch normalisation below a RevealCancel nonlinearity: that nonlinearity's
        ``(mean, half)`` times the layer's scale and its absolute value.
    abs_inputs, abs_responses : dict
        ``|Δx|`` and ``|W| |Δx|`` of the kernel layers whose parts were split.
    linearized : dict
        The recurrent layers' differences as linear maps (their kept coefficients,
        :func:`seqlift.engine.recurrence.linearized`), transposed once for all target units.
    routing : dict
        Where the max-pooling layers route credit (:class:`seqlift.engine.node_rules.MaxRouting`).
    """

    x_acts: dict[str, tf.Tensor]
    per_seq: tf.Tensor
    ref_acts: dict[str, tf.Tensor]
    deltas: dict[str, tf.Tensor] = field(default_factory=dict)
    scales: dict[str, tf.Tensor] = field(default_factory=dict)
    parts: dict[str, tuple[tf.Tensor, tf.Tensor]] = field(default_factory=dict)
    abs_inputs: dict[str, tf.Tensor] = field(default_factory=dict)
    abs_responses: dict[str, tf.Tensor] = field(default_factory=dict)
    rc_multipliers: dict[str, tuple[tf.Tensor, tf.Tensor]] = field(default_factory=dict)
    scaled_factors: dict[str, tuple[tf.Tensor, tf.Tensor]] = field(default_factory=dict)
    linearized: dict[str, Any] = field(default_factory=dict)
    routing: dict[str, Any] = field(default_factory=dict)

    def delta(self, name: str) -> tf.Tensor:
        """``Δ = x − x0`` of node ``name``, one row per pair (computed once, when first needed)."""
        if name in self.deltas:
            return self.deltas[name]
        return self.delta_of(name, self.x_acts[name], self.ref_acts[name])

    def delta_of(self, name: str, on_sequences: tf.Tensor, on_references: tf.Tensor) -> tf.Tensor:
        """:meth:`delta` of node ``name`` from its activations, before the forward pass has kept them."""
        if name not in self.deltas:
            self.deltas[name] = self._by_sequence(tf.expand_dims(on_sequences, 1), on_references, tf.subtract)
        return self.deltas[name]

    def x_at(self, name: str) -> tf.Tensor:
        """The input's activation of node ``name``, one row per pair."""
        return self.per_pair(self.x_acts[name], self.ref_acts[name])

    def per_pair(self, per_sequence: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
        """A value of each sequence repeated for each of its pairs, shaped as ``like`` (one row per pair)."""
        return self._by_sequence(tf.expand_dims(per_sequence, 1), like, lambda a, r: tf.broadcast_to(a, tf.shape(r)))

    def _by_sequence(self, per_sequence: tf.Tensor, per_pair: tf.Tensor, combine) -> tf.Tensor:
        """``combine`` a per-sequence value with the per-pair values of its references.

        Pairs are ordered sequence by sequence, ``per_seq`` references each, so a
        reshape to ``(n, per_seq, ...)`` lines them up without gathering copies.
        """
        inner = per_pair.shape[1:]
        if inner.is_fully_defined():  # static shapes: a few graph operations instead of a dozen
            grouped = tf.reshape(per_pair, [-1, self.per_seq, *inner.as_list()])
            return tf.reshape(combine(per_sequence, grouped), [-1, *inner.as_list()])
        shape = tf.shape(per_pair)
        grouped = tf.reshape(per_pair, tf.concat([[-1, self.per_seq], shape[1:]], axis=0))
        return tf.reshape(combine(per_sequence, grouped), shape)
