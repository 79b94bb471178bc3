"""How each kind of method scores one batch of (sequence, reference) pairs.

A scorer is built once per compiled batch function (:mod:`seqlift.engine.batch`)
from a :class:`BatchRequest`. Inside the compiled function,
:meth:`BatchScorer.forward` runs the forward passes of a batch (shared by all
its targets) and :meth:`BatchScorer.scores` gives, for each target (a
:class:`~seqlift.engine.target_rules.BoundTarget`: a target kind at a node,
with the node's values at the sequences and references), the multipliers,
contributions and hypothetical contributions of each model input (and of the
inner layers asked for). Most scorers take the targets one at a time
(:class:`OneTargetAtATime`); DeepLIFT walks back through the graph once for
all of them, so that a rule can transpose its layer for every target in one
pass (a recurrent layer's loop). Packing these into the function's results is written
once, in :mod:`seqlift.engine.batch`.

Pairs come sequence by sequence: ``x`` has one row per sequence, ``refs``
one row per pair, ``per_seq`` references each; scores have one row per pair.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import tensorflow as tf

from seqlift.engine import backprop, rules
from seqlift.engine.budget import forward_passes_per_block
from seqlift.engine.methods import sequence_inputs
from seqlift.engine.multipliers import Multipliers
from seqlift.engine.node_rules import REVEALCANCEL
from seqlift.engine.target_rules import BoundTarget, TargetRule, rule_for_kind, units_view
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
    window : (int, int) or None
        Positions ``[start, end)`` a windowed method perturbs (in-silico
        mutagenesis); None: all of them.
    """

    model: Model
    targets: tuple[ScoreSet, ...]
    layers: tuple[str, ...] = ()
    maxpool: str = "deeplift"
    steps: int = 1
    window: tuple[int, int] | None = None

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
    """What a scorer gives for one target: per model input, and per inner layer asked for.

    ``target_delta`` (per pair) is the change of the target the scores
    explain, where it is not the target's change from reference to input
    (in-silico mutagenesis, which has no references); None for the others.
    """

    inputs: list[Scores]
    layers: dict[str, Scores] = field(default_factory=dict)
    target_delta: tf.Tensor | None = None


class BatchScorer(Protocol):
    """The per-batch computation of a method (see the module docstring)."""

    def forward(self, x: list[tf.Tensor], refs: list[tf.Tensor], per_seq: tf.Tensor) -> ForwardState:
        """Forward passes of a batch."""

    def scores(self, state: ForwardState, targets: list[BoundTarget]) -> list[TargetScores]:
        """Scores of every input (and inner layer) for each target."""


class OneTargetAtATime:
    """A scorer whose targets are scored one after the other, by its ``target_scores(state, target)``."""

    def scores(self, state: ForwardState, targets: list[BoundTarget]) -> list[TargetScores]:
        return [self.target_scores(state, target) for target in targets]


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

    def scores(self, state, targets):
        seeds = [(target.node, target.multipliers()) for target in targets]
        return [self._scores(state, mults) for mults in self.walker.backward(state.carried, seeds)]

    def _scores(self, state: ForwardState, mults: dict[str, Multipliers]) -> TargetScores:
        pairs = state.carried
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
            if name in pairs.parts or not m.joined or self.walker.nonlinearity.get(name) == REVEALCANCEL:
                # the node's own parts: found in the forward pass, or made now (a kernel layer whose split
                # the RevealCancel nonlinearity it feeds made inside its own pass)
                p_pos, p_neg = self.walker.parts(name, pairs)
            else:  # joined multipliers credit any split of Δ alike
                p_pos, p_neg = rules.split_by_sign(pairs.delta(name))
            layers[name] = Scores(m.contributions(p_pos, p_neg), m.mean)
        return TargetScores(inputs, layers)


class IntegratedGradientsScorer(OneTargetAtATime):
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


class InputGradientScorer(OneTargetAtATime):
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
            grads = self.guided.multipliers(x, target.node, lambda value: seed, acts=state.x_acts)
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


class MutagenesisScorer(OneTargetAtATime):
    """In-silico mutagenesis: every single-base substitution of the one-hot DNA inputs.

    For a sequence ``x``, a position ``i`` of one of its one-hot inputs (shape
    ``(L, 4)``) and a base ``b``, let ``y_ib = f(x with base b at i)``, the
    target with that one substitution; for the base observed at ``i`` it is
    ``f(x)``, the sequence's own forward pass, reused. For a unit or a sum,
    ``f`` is the target's value; for the profile kinds, whose weights come
    from the sequence, it is the target's change from ``x`` to the mutant
    with ``x``'s weights (:meth:`~seqlift.engine.target_rules.TargetRule.variant_values`;
    the centring below removes any constant). Then

    * hypothetical contributions ``h_ib = y_ib − ¼ Σ_c y_ic``: each base's
      target against the mean over the four bases, centred on 0 at every
      position (the convention of tangermeme's ``saturation_mutagenesis``),
      so logos and TF-MoDISco take them as they take DeepLIFT's;
    * contributions ``h_ib x_ib``: at the observed base ``o``,
      ``f(x) − ¼ Σ_c y_ic = ¾ · mean over the three alternatives c ≠ o of
      (f(x) − y_ic)``, the target the observed base gains over a random
      substitution (scaled by ¾); 0 at the other bases;
    * the target change they explain: their sum over positions. ISM has no
      references, so this is no independent check: the residual ``deltas``
      is 0 up to rounding.

    Positions outside the request's window and positions with no base (N,
    all zero; also the padding rows of a batch) are not mutated and score 0.
    Inputs that are not one-hot DNA are held fixed (contributions 0).

    The substitutions (3 per mutated position) are listed on the device
    (``tf.where`` over the positions and absent bases) and each mutant is
    the sequence with one row replaced by a one-hot base (exact in float32).
    Mutants run through the model in blocks of
    :func:`~seqlift.engine.budget.forward_passes_per_block` forward passes,
    one block at a time, whatever the number of sequences in the batch; the
    model's kernels give each mutant the same bits in any block
    (:mod:`seqlift.model.invariant`), so the scores do not depend on the
    batch size. Every target of the request shares the forward passes.
    """

    def __init__(self, request: BatchRequest) -> None:
        self.request = request
        self.mutated = sequence_inputs(request.model)
        self.rules = [rule_for_kind(s.kind, s.unit) for s in request.targets]
        self.index = {_target_key(s.node, rule): j for j, (s, rule) in enumerate(zip(request.targets, self.rules))}

    def forward(self, x, refs, per_seq):
        nodes = set(self.request.nodes)
        x_acts = self.request.model.forward(x, keep=nodes)
        carried = {k: self._hypothetical(x, k, x_acts) for k in self.mutated}
        # the pairs' references are the sequences themselves (per_seq is 1): nothing else runs forward
        return ForwardState(x, refs, per_seq, x_acts, x_acts, carried)

    def target_scores(self, state, target):
        j = self.index[_target_key(target.node, target.rule)]
        inputs = []
        delta = tf.zeros(tf.shape(state.x[0])[:1], tf.float32)
        for k, a in enumerate(state.x):
            if k not in state.carried:
                inputs.append(Scores(tf.zeros_like(a), None))
                continue
            hyp = state.carried[k][j]
            contrib = hyp * a
            delta = delta + tf.reduce_sum(contrib, axis=[1, 2])
            inputs.append(Scores(contrib, None, hyp))
        return TargetScores(inputs, target_delta=delta)

    def _values(self, seq_acts: dict[str, tf.Tensor], variant_acts: dict[str, tf.Tensor]) -> tf.Tensor:
        """Every target at variants of sequences, ``(rows, targets)`` (:meth:`TargetRule.variant_values`)."""
        return tf.stack([rule.variant_values(units_view(seq_acts[s.node]), units_view(variant_acts[s.node]))
                         for s, rule in zip(self.request.targets, self.rules)], axis=1)

    def _hypothetical(self, x: list[tf.Tensor], k: int, x_acts: dict[str, tf.Tensor]) -> tf.Tensor:
        """``h_ib`` of input ``k`` for every target: ``(targets, n, L, 4)``, 0 where nothing was mutated."""
        request = self.request
        nodes = set(request.nodes)
        seqs = x[k]
        length = tf.shape(seqs)[1]
        positions = tf.range(length)
        start, end = request.window or (0, None)
        in_window = positions >= start if end is None else (positions >= start) & (positions < end)
        mutated = (tf.reduce_max(seqs, axis=-1) > 0) & in_window[None, :]  # (n, L)
        edits = tf.where(mutated[:, :, None] & tf.equal(seqs, 0.0))  # (E, 3): sequence, position, new base
        count = tf.shape(edits)[0]
        block = forward_passes_per_block(request.model, request.nodes, length)
        blocks = (count + block - 1) // block
        outputs = tf.TensorArray(tf.float32, size=blocks, infer_shape=False,
                                 element_shape=tf.TensorShape([None, len(request.targets)]))

        def run_block(b, outputs):
            edit = edits[b * block:tf.minimum((b + 1) * block, count)]
            rows = [tf.gather(a, edit[:, 0]) for a in x]
            slots = tf.stack([tf.range(tf.shape(edit)[0], dtype=edit.dtype), edit[:, 1]], axis=1)
            rows[k] = tf.tensor_scatter_nd_update(rows[k], slots, tf.one_hot(edit[:, 2], 4, dtype=tf.float32))
            own = {node: tf.gather(x_acts[node], edit[:, 0]) for node in nodes}
            y = self._values(own, request.model.forward(rows, keep=nodes))
            return b + 1, outputs.write(b, y)

        # one block at a time (parallel_iterations=1), so memory holds one block of mutants
        _, outputs = tf.while_loop(lambda b, _: b < blocks, run_block, [tf.constant(0), outputs],
                                   parallel_iterations=1)
        f_x = self._values(x_acts, x_acts)  # (n, targets): each target at the sequence itself
        y = tf.tile(f_x[:, None, None, :], tf.stack([1, length, 4, 1]))  # (n, L, 4, targets): f(x) at every base
        y = tf.tensor_scatter_nd_update(y, edits, outputs.concat())
        mean = (y[:, :, 0] + y[:, :, 1] + y[:, :, 2] + y[:, :, 3]) * 0.25  # in a fixed order
        hyp = tf.where(mutated[:, :, None, None], y - mean[:, :, None], 0.0)
        return tf.transpose(hyp, [3, 0, 1, 2])


def _target_key(node: str, rule: TargetRule) -> tuple[str, str, int | None]:
    """A target told apart by its node, its kind's rule and its unit."""
    return node, type(rule).__name__, rule.unit
