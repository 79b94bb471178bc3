"""The mathematics of each target kind: the multipliers it seeds at its node, and its change.

Each kind of :mod:`seqlift.engine.targets` names one class here. Given the
node's values at the sequences and at their references (one row per
(sequence, reference) pair), a rule gives

* :meth:`TargetRule.multipliers`: the DeepLIFT multipliers ``c`` of the
  target with respect to the node's units, per pair: the backward pass starts
  from them, so each input's contributions sum to ``Σ_j c_j Δl_j``;
* :meth:`TargetRule.delta`: the change the contributions of a pair sum to
  (the kind's summation-to-delta), computed from the forward values alone, so
  the residual ``delta − Σ contributions`` checks the whole pass;
* :meth:`TargetRule.gradient`: the gradient of the target with respect to the
  node at a point, for the gradient methods (the gradient at the input,
  guided backpropagation, and integrated gradients at each of its points).

Values are viewed flattened, as ``(rows, J)``: a profile node ``(L,)`` has
``J = L`` units, a stranded BPNet profile ``(L, 2)`` has ``J = 2L``, and
softmaxes and means run over all ``J`` jointly (as basepairmodels' default and
bpnet-lite do for stranded outputs; the original BPNet's ``profile_contrib``
took the softmax per strand, without centring).
"""
from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from seqlift.engine.rules import NEAR_ZERO

__all__ = ["TargetRule", "UnitTarget", "SumTarget", "ProfileTarget", "ChromBPNetProfileTarget",
           "ProfileRescaleTarget", "BoundTarget", "rule_for_kind", "units_view"]


def _units_mean(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(values, axis=1, keepdims=True)


def _per_pair_sum(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(values, axis=1)


class TargetRule:
    """A kind's seed multipliers, change and gradient on ``(rows, J)`` views of its node."""

    def __init__(self, unit: int | None = None) -> None:
        self.unit = unit

    def multipliers(self, lx: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:  # pragma: no cover - abstract
        """The DeepLIFT multipliers ``c`` at the node, one row per pair."""
        raise NotImplementedError

    def delta(self, lx: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        """What the contributions of each pair sum to: ``Σ_j c_j Δl_j`` for a target linear in ``l``."""
        return _per_pair_sum(self.multipliers(lx, lr) * (lx - lr))

    def gradient(self, at: tf.Tensor, lx: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        """``∂T/∂l`` at ``at``: for a target linear in ``l`` with weights from ``x`` and ``r``, those weights."""
        return self.multipliers(lx, lr)

    def variant_values(self, l_seq: tf.Tensor, l_variant: tf.Tensor) -> tf.Tensor:
        """The target at variants of sequences (in-silico mutagenesis), up to a constant per sequence.

        ``l_seq`` holds each variant's sequence's values, ``l_variant`` the
        variant's. By default the target's change from the sequence to the
        variant, ``−delta(l_seq, l_variant)``: the kind's weights are then the
        sequence's own (0 at the sequence itself).
        """
        return -self.delta(l_seq, l_variant)


class UnitTarget(TargetRule):
    """``T = l_k``: the multiplier 1 on unit ``k`` (flattened), 0 elsewhere."""

    def multipliers(self, lx, lr):
        seed = tf.one_hot(self.unit, tf.shape(lr)[1], dtype=lr.dtype)
        return tf.broadcast_to(seed[None], tf.shape(lr))

    def delta(self, lx, lr):
        return (lx - lr)[:, self.unit]

    def variant_values(self, l_seq, l_variant):
        return l_variant[:, self.unit]


class SumTarget(TargetRule):
    """``T = Σ_j l_j``: the multiplier 1 on every unit."""

    def multipliers(self, lx, lr):
        return tf.ones_like(lr)

    def delta(self, lx, lr):
        return _per_pair_sum(lx - lr)


class ProfileTarget(TargetRule):
    """The issue-11 profile target, the sequence's weights held for its references.

    ``T_x(s) = Σ_j w_j(x) (l_j(s) − mean_i l_i(s))`` with ``w(x) =
    softmax(l(x))`` over the ``J`` units; since ``Σ_j w_j = 1`` this is
    ``Σ_j (w_j(x) − 1/J) l_j(s)``, linear in ``l``: the multipliers are
    ``c_j = w_j(x) − 1/J`` and the contributions of a pair sum exactly to
    ``Σ_j c_j Δl_j = Σ_j w_j(x) Δl̃_j``, ``l̃ = l − mean l``.
    This is ChromBPNet's ``Σ stop_gradient(w) · l̃`` with the ``stop_gradient``
    read as "weights of the sequence, fixed".
    """

    def multipliers(self, lx, lr):
        units = tf.cast(tf.shape(lx)[1], lx.dtype)
        return tf.nn.softmax(lx, axis=1) - 1.0 / units


class ChromBPNetProfileTarget(TargetRule):
    """ChromBPNet's profile scores as its pipeline computes them: each pair weighted by ``½ (w(x) + w(r))``.

    ChromBPNet's interpret step (kundajelab-shap, see ``docs/chrombpnet_notes.md``)
    explains ``Σ_j w_j · l̃_j`` with ``w = stop_gradient(softmax(l̃))``; its
    explainer has no rule for ``StopGradient``, treats ``w`` as a second
    varying factor of the product and gives ``l̃_j`` the Shapley multiplier of
    a product, ``a_j = ½ (w_j(x) + w_j(r))``. So per pair the multipliers on
    the logits are ``c_j = a_j − 1/J`` (``Σ a = 1``), and the contributions
    sum exactly to ``S_r = Σ_j c_j Δl_j = Σ_j a_j Δl̃_j``, which is not the change of any one function of
    the sequence: ``T(x) − T(r) = Σ w(x) l̃(x) − Σ w(r) l̃(r)`` differs by
    ``Σ_j ½ (w_j(x) − w_j(r)) (l̃_j(x) + l̃_j(r))``.
    """

    def multipliers(self, lx, lr):
        units = tf.cast(tf.shape(lx)[1], lx.dtype)
        return 0.5 * (tf.nn.softmax(lx, axis=1) + tf.nn.softmax(lr, axis=1)) - 1.0 / units


class ProfileRescaleTarget(TargetRule):
    """bpnet-lite's profile target, conserving: ``T = Σ_j y_j`` with ``y_j = s_j(l̃) · l̃_j``, ``s = softmax``.

    bpnet-lite (``ProfileWrapper``) computes ``y = l̃ ⊙ softmax(l̃)`` as one
    module that tangermeme treats as an elementwise nonlinearity (Rescale).
    With ``l̃ = l − mean_i l_i`` over the ``J`` units:

    * the multiplier of ``l̃_j`` is the secant ``a_j = Δy_j / Δl̃_j``, so
      ``Σ_j a_j Δl̃_j = Σ_j Δy_j = ΔT_c`` exactly; where ``|Δl̃_j|`` is below
      :data:`~seqlift.engine.rules.NEAR_ZERO` the secant is replaced, as in
      tangermeme, by the gradient at the sequence,
      ``∂T/∂l̃_j = s_j (1 + l̃_j − T)``;
    * the centring's transpose gives the logits ``c_j = a_j − mean_i a_i``.

    The contributions of a pair sum to ``T(x) − T(r)``.

    The secant divides a difference of products by a difference of logits
    that may be small: computed in float32, ``Δy_j`` keeps only about
    ``1e-7 · |y_j| / |Δl̃_j|`` of relative precision (measured as tangermeme
    in float32 against float64: 3.5e-4 of the largest score on an 8-filter
    ChromBPNet-shaped model, 1.2 times it on the 64-filter bench model), so the rule runs in float64 on the float32
    logits (the points themselves are exact; the secant's sensitivity to
    them is only ``½ f''`` times their rounding).
    """

    @staticmethod
    def _centred(values: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """``l̃``, ``s = softmax(l̃)`` and ``T = Σ_j s_j l̃_j`` per row."""
        centred = values - _units_mean(values)
        weights = tf.nn.softmax(centred, axis=1)
        return centred, weights, tf.reduce_sum(weights * centred, axis=1, keepdims=True)

    @staticmethod
    def _from_centred(a: tf.Tensor) -> tf.Tensor:
        return a - _units_mean(a)

    def multipliers(self, lx, lr):
        cx, sx, tx = self._centred(tf.cast(lx, tf.float64))
        cr, sr, _ = self._centred(tf.cast(lr, tf.float64))
        dc = cx - cr
        small = tf.abs(dc) < NEAR_ZERO
        secant = (sx * cx - sr * cr) / tf.where(small, tf.ones_like(dc), dc)
        return tf.cast(self._from_centred(tf.where(small, sx * (1.0 + cx - tx), secant)), lx.dtype)

    def delta(self, lx, lr):
        _, _, tx = self._centred(tf.cast(lx, tf.float64))
        _, _, tr = self._centred(tf.cast(lr, tf.float64))
        return tf.cast(_per_pair_sum(tx - tr), lx.dtype)

    def gradient(self, at, lx, lr):
        c, s, t = self._centred(tf.cast(at, tf.float64))
        return tf.cast(self._from_centred(s * (1.0 + c - t)), at.dtype)


def rule_for_kind(kind: str, unit: int | None = None) -> TargetRule:
    """The rule of target kind ``kind`` (:data:`seqlift.engine.targets.TARGET_KINDS`), for ``unit`` of a unit target."""
    from seqlift.engine import target_rules
    from seqlift.engine.targets import TARGET_KINDS

    return getattr(target_rules, TARGET_KINDS[kind].rule)(unit)


def units_view(values: tf.Tensor) -> tf.Tensor:
    """``values`` ``(rows, *shape)`` as ``(rows, J)``, its units flattened."""
    return tf.reshape(values, [tf.shape(values)[0], -1])


@dataclass
class BoundTarget:
    """A target's rule bound to one batch: the node's values at the sequences and references.

    Attributes
    ----------
    node : str
        The node explained.
    rule : TargetRule
    x_out, ref_out : tf.Tensor
        The node's values at the input of each pair and at its reference, one row per pair.
    x_seq : tf.Tensor
        The node's values at each sequence, one row per sequence.
    """

    node: str
    rule: TargetRule
    x_out: tf.Tensor
    ref_out: tf.Tensor
    x_seq: tf.Tensor

    def _apply(self, fn, *values: tf.Tensor) -> tf.Tensor:
        """``fn`` on ``(rows, J)`` views of ``values``, its result in the node's shape."""
        return tf.reshape(fn(*[units_view(v) for v in values]), tf.shape(values[0]))

    def multipliers(self) -> tf.Tensor:
        """The DeepLIFT seed at the node, one row per pair."""
        return self._apply(self.rule.multipliers, self.x_out, self.ref_out)

    def delta(self) -> tf.Tensor:
        """The change each pair's contributions sum to, ``(pairs,)``."""
        return self.rule.delta(units_view(self.x_out), units_view(self.ref_out))

    def gradient_at_pairs(self, at: tf.Tensor) -> tf.Tensor:
        """``∂T/∂l`` at the node values ``at`` of points one row per pair (integrated gradients)."""
        return self._apply(self.rule.gradient, at, self.x_out, self.ref_out)

    def gradient_at_sequences(self) -> tf.Tensor:
        """``∂T/∂l`` at each sequence, one row per sequence (its weights from the sequence alone)."""
        return self._apply(self.rule.gradient, self.x_seq, self.x_seq, self.x_seq)
