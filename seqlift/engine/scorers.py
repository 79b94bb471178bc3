"""How each kind of method scores one batch of (sequence, reference) pairs.

A scorer is built once per compiled batch function (:mod:`seqlift.engine.batch`)
from a :class:`BatchRequest`. Inside the compiled function,
:meth:`BatchScorer.forward` runs the forward passes of a batch (shared by all
its targets) and :meth:`BatchScorer.target_scores` gives, for one target (a
:class:`~seqlift.engine.target_rules.BoundTarget`: a target kind at a node,
with the node's values at the sequences and references), the multipliers,
contributions and hypothetical contributions of each model input (and of the
inner layers asked for). Packing these into the function's results is written
once, in :mod:`seqlift.engine.batch`.

Pairs come sequence by sequence: ``x`` has one row per sequence, ``refs``
one row per pair, ``per_seq`` references each; scores have one row per pair.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import tensorflow as tf

from seqlift.engine import backprop, rules
from seqlift.engine.multipliers import Multipliers
from seqlift.engine.target_rules import BoundTarget
from seqlift.engine.targets import ScoreSet
from seqlift.model.graph import Model


@dataclass(frozen=True)
class BatchRequest:
    """What a compiled batch function is built for.

    Attributes
    ----------
    model : Model
        The model graph.
    targets : tuple of ScoreSet
        The targets scored, each a kind at a node (:mod:`seqlift.engine.targets`).
    layers : tuple of str
        Inner nodes whose scores are returned (DeepLIFT methods).
    maxpool : str
        Max-pooling rule of the DeepLIFT methods.
    steps : int
        Integrated-gradients steps.
    """

    model: Model
    targets: tuple[ScoreSet, ...]
    layers: tuple[str, ...] = ()
    maxpool: str = "deeplift"
    steps: int = 1

    @property
    def nodes(self) -> list[str]:
        """The nodes the targets are at, each once, in order."""
        return list(dict.fromkeys(s.node for s in self.targets))

    @property
    def one_hot_like(self) -> list[bool]:
        """Per model input, whether it looks like one-hot DNA (a last axis of 4), so has hypothetical scores."""
        return [len(s) >= 1 and s[-1] == 4 for s in self.model.input_shapes]


@dataclass
class ForwardState:
    """What a scorer's forward pass leaves for its targets.

    Attributes
    ----------
    x, refs, per_seq
        The batch: one row per sequence, one row per pair, references per sequence.
    x_acts, ref_acts : dict
        Activations of both forward passes (at least the targets' nodes; one
        row per sequence and per pair), from which the targets' differences are taken.
    carried
        Whatever else the scorer's targets share (DeepLIFT: its
        :class:`~seqlift.engine.multipliers.PairState`).
    """

    x: list[tf.Tensor]
    refs: list[tf.Tensor]
    per_seq: tf.Tensor
    x_acts: dict[str, tf.Tensor]
    ref_acts: dict[str, tf.Tensor]
    carried: Any = None


@dataclass
class Scores:
    """Scores of one model input or inner node for one target, per pair.

    ``hypothetical`` is None where the input is not one-hot DNA; ``multipliers``
    may be None for a method without multipliers.
    """

    contributions: tf.Tensor
    multipliers: tf.Tensor | None
    hypothetical: tf.Tensor | None = None


@dataclass
class TargetScores:
    """What a scorer gives for one target: per model input, and per inner layer asked for."""

    inputs: list[Scores]
    layers: dict[str, Scores] = field(default_factory=dict)


class BatchScorer(Protocol):
    """The per-batch computation of a method (see the module docstring)."""

    def forward(self, x: list[tf.Tensor], refs: list[tf.Tensor], per_seq: tf.Tensor) -> ForwardState:
        """Forward passes of a batch."""

    def target_scores(self, state: ForwardState, target: BoundTarget) -> TargetScores:
        """Scores of every input (and inner layer) for one target."""


def hypothetical(m: tf.Tensor, r: tf.Tensor) -> tf.Tensor:
    """``m_b − Σ_c m_c r_c``: the contribution base b would have at each position.

    With multipliers ``m`` of a one-hot position and its reference ``r``, the
    contribution of base ``b`` had it been the one present is ``Σ_c m_c (x_c − r_c)``
    with ``x = e_b``.
    """
    return m - tf.reduce_sum(m * r, axis=-1, keepdims=True)


def _forward_both(model: Model, nodes: list[str], x: list[tf.Tensor], refs: list[tf.Tensor],
                  per_seq: tf.Tensor, carried: Any = None) -> ForwardState:
    """Plain forward passes of the inputs and the references, keeping ``nodes``."""
    keep = set(nodes)
    return ForwardState(x, refs, per_seq, model.forward(x, keep=keep), model.forward(refs, keep=keep), carried)


class DeepLiftScorer:
    """DeepLIFT (Rescale, RevealCancel or the genomics default) through :class:`~seqlift.engine.backprop.DeepLiftPass`.

    Contributions are ``m⁺ Δx⁺ + m⁻ Δx⁻`` at each input; inner layers get the
    same from their own parts.
    """

    def __init__(self, request: BatchRequest, nonlinearity: str) -> None:
        self.request = request
        self.walker = backprop.DeepLiftPass(request.model, request.nodes, nonlinearity, request.maxpool)

    def forward(self, x, refs, per_seq):
        pairs = self.walker.forward(x, refs, per_seq)
        return ForwardState(x, refs, per_seq, pairs.x_acts, pairs.ref_acts, pairs)

    def target_scores(self, state, target):
        pairs = state.carried
        mults = self.walker.backward(pairs, target.node, target.multipliers())
        inputs = []
        for i, (name, r) in enumerate(zip(self.request.model.inputs, state.refs)):
            if name in mults:
                d_pos, d_neg = rules.split_by_sign(pairs.delta(name))
                contrib = mults[name].contributions(d_pos, d_neg)
                m = mults[name].mean
            else:  # the target does not depend on this input
                contrib = m = tf.zeros_like(r)
            inputs.append(Scores(contrib, m, hypothetical(m, r) if self.request.one_hot_like[i] else None))
        layers = {}
        for name in self.request.layers:
            m = mults.get(name, Multipliers(tf.zeros_like(pairs.delta(name))))
            p_pos, p_neg = pairs.parts.get(name) or rules.split_by_sign(pairs.delta(name))
            layers[name] = Scores(m.contributions(p_pos, p_neg), m.mean)
        return TargetScores(inputs, layers)


class IntegratedGradientsScorer:
    """Integrated gradients from each reference: the mean gradient at ``steps`` midpoints
    ``r + (k + ½)/steps · (x − r)`` (a midpoint Riemann sum), times ``x − r``."""

    def __init__(self, request: BatchRequest) -> None:
        self.request = request
        self.nodes = backprop.ancestors(request.model, request.nodes)

    def forward(self, x, refs, per_seq):
        pair_seq = tf.repeat(tf.range(tf.shape(x[0])[0]), per_seq)
        x_pairs = [tf.gather(a, pair_seq) for a in x]  # the input of each pair
        return _forward_both(self.request.model, self.nodes, x, refs, per_seq, carried=x_pairs)

    def target_scores(self, state, target):
        request = self.request
        x_pairs = state.carried
        total = [tf.zeros_like(r) for r in state.refs]
        for k in range(request.steps):
            alpha = (k + 0.5) / request.steps
            points = [r + alpha * (xp - r) for xp, r in zip(x_pairs, state.refs)]
            grads = backprop.gradient_at(request.model, target.node, points, target.gradient_at_pairs)
            total = [t + g for t, g in zip(total, grads)]
        inputs = []
        for i, r in enumerate(state.refs):
            m = total[i] / request.steps
            inputs.append(Scores(m * (x_pairs[i] - r), m, hypothetical(m, r) if request.one_hot_like[i] else None))
        return TargetScores(inputs)


class InputGradientScorer:
    """Multipliers that do not depend on the reference: the gradient at the input, or
    guided backpropagation (:class:`~seqlift.engine.backprop.GuidedBackpropPass`),
    computed once per sequence.

    Parameters
    ----------
    request : BatchRequest
    guided : bool
        Guided backpropagation instead of the plain gradient.
    times : {'input', 'difference'}
        Contributions ``m · x`` (the gradient × input of ``method="gradient"``,
        whose hypothetical scores are the multipliers themselves) or ``m · (x − r)``.
    """

    def __init__(self, request: BatchRequest, guided: bool, times: str) -> None:
        if times not in ("input", "difference"):
            raise ValueError(f"times must be 'input' or 'difference', not {times!r}")
        self.request = request
        self.times_input = times == "input"
        self.nodes = backprop.ancestors(request.model, request.nodes)
        self.guided = backprop.GuidedBackpropPass(request.model, request.nodes) if guided else None

    def forward(self, x, refs, per_seq):
        return _forward_both(self.request.model, self.nodes, x, refs, per_seq)

    def target_scores(self, state, target):
        request = self.request
        x = state.x
        seed = target.gradient_at_sequences()
        if self.guided:
            grads = self.guided.multipliers(x, target.node, lambda value: seed)
        else:
            grads = backprop.gradient_at(request.model, target.node, x, lambda value: seed)
        n = tf.shape(x[0])[0]
        inputs = []
        for i, refs in enumerate(state.refs):
            # computed as (sequences, references, ...), each sequence's multipliers broadcast over its references
            r = tf.reshape(refs, tf.concat([[n, state.per_seq], tf.shape(refs)[1:]], axis=0))
            m = tf.broadcast_to(grads[i][:, None], tf.shape(r))
            contrib = m * x[i][:, None] if self.times_input else m * (x[i][:, None] - r)
            hyp = None
            if request.one_hot_like[i]:
                hyp = m if self.times_input else hypothetical(m, r)
            pairs = tf.shape(refs)
            inputs.append(Scores(tf.reshape(contrib, pairs), tf.reshape(m, pairs),
                                 None if hyp is None else tf.reshape(hyp, pairs)))
        return TargetScores(inputs)
