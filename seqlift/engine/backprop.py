"""Propagating multipliers backwards through a seqlift model graph.

:class:`DeepLiftPass` runs, for one batch of (sequence, reference) pairs, the
forward pass of the inputs (each sequence once), the forward pass of the
references, and the backward pass of multipliers from a target's seed at its
node (:mod:`seqlift.engine.target_rules`) to the inputs, applying at each node the rule of its op's form
(:mod:`seqlift.engine.node_rules`, whose mathematics
:mod:`seqlift.engine.rules` states). :class:`GuidedBackpropPass` walks the
same graph at the input alone with the guided-backpropagation rule. Linear
layers are transposed by TensorFlow's own autodiff on the reference forward
pass (the graph's symbolic gradient, :func:`vector_jacobian`), so every linear
layer the model loader supports is covered without a hand-written transpose.
"""
from __future__ import annotations

from typing import Callable, Iterable

import tensorflow as tf

from seqlift.engine.multipliers import Multipliers, PairState
from seqlift.engine.node_rules import RESCALE, REVEALCANCEL, NonlinearityRule, RecurrentRule, rule_for, vector_jacobian
from seqlift.model import ops
from seqlift.model.graph import Model, Node

#: which rule (:data:`RESCALE` or :data:`REVEALCANCEL`) a DeepLIFT method gives the nonlinearity at a node
NonlinearityChoice = Callable[[Model, str], str]


def ancestors(model: Model, targets: str | Iterable[str]) -> list[str]:
    """Names of the nodes the targets depend on (themselves included), in topological order."""
    needed = {targets} if isinstance(targets, str) else set(targets)
    for name in reversed(list(model.nodes)):
        if name in needed:
            needed.update(model.nodes[name].inputs)
    return [name for name in model.nodes if name in needed]


def preceding_linear(model: Model, name: str) -> ops.Op:
    """The linear op before the nonlinearities of node ``name``, looking back through BatchNorm and Identity.

    This is how the original deeplift resolves its ``genomics_default`` mode:
    a nonlinearity after a Dense layer gets RevealCancel, after a convolution
    Rescale, with batch normalisation and dropout in between ignored. The
    gates and activations inside a recurrent layer follow its own kernels, so
    for a recurrent node it is the node's own op (see :func:`revealcancel_after_dense`).
    """
    if model.nodes[name].op.propagation is ops.Propagation.RECURRENT:
        return model.nodes[name].op
    node = model.nodes[model.nodes[name].inputs[0]]
    while isinstance(node.op, (ops.BatchNorm, ops.Identity)) and node.inputs:
        node = model.nodes[node.inputs[0]]
    return node.op


def rescale_everywhere(model: Model, name: str) -> str:
    """Rescale at every nonlinearity (section 3.5.2)."""
    return RESCALE


def revealcancel_everywhere(model: Model, name: str) -> str:
    """RevealCancel at every nonlinearity (section 3.5.3)."""
    return REVEALCANCEL


def revealcancel_after_dense(model: Model, name: str) -> str:
    """RevealCancel after Dense layers, Rescale after convolutions: the original's genomics default.

    The nonlinearities inside a recurrent layer (its gates and activations)
    follow its kernels: the input kernel is applied at every step and the
    recurrent kernel at every step with the same weights, as a convolution
    applies its filters at every position, and a recurrent layer stands where
    convolutions stand in hybrid models (DanQ: convolution, pooling,
    bidirectional LSTM, then Dense layers). They get Rescale, as after a
    convolution; the Dense layers after them keep RevealCancel.
    """
    return REVEALCANCEL if isinstance(preceding_linear(model, name), ops.Dense) else RESCALE


#: the nonlinearity choices a DeepLIFT method names (:mod:`seqlift.engine.methods`)
NONLINEARITY_CHOICES: dict[str, NonlinearityChoice] = {
    "rescale": rescale_everywhere,
    "revealcancel": revealcancel_everywhere,
    "revealcancel_after_dense": revealcancel_after_dense,
}


class DeepLiftPass:
    """Rescale / RevealCancel / genomics-default multipliers for one target node.

    Parameters
    ----------
    model : Model
        The loaded model graph.
    targets : str or list of str
        The nodes whose targets are explained (their ancestors' forward
        passes are shared; each backward pass starts at one of them).
    nonlinearity : str
        Which rule each nonlinearity gets: a key of :data:`NONLINEARITY_CHOICES`.
    maxpool : {'deeplift', 'gradient'}
        Max-pooling rule: credit routed so that summation-to-delta holds
        (:func:`seqlift.engine.rules.maxpool_routed_contributions`), or the
        original deeplift's gradient through the input's argmax (for global
        max pooling, as the original: the whole multiplier to every tied
        maximum).

    Raises
    ------
    SeqliftError
        If a node the target depends on has an op without a DeepLIFT rule.
    """

    def __init__(self, model: Model, targets: str | Iterable[str], nonlinearity: str,
                 maxpool: str = "deeplift") -> None:
        self.model = model
        self.maxpool = maxpool
        self.nodes = ancestors(model, targets)
        self.node_rules = {name: rule_for(model.nodes[name]) for name in self.nodes}
        choose = NONLINEARITY_CHOICES[nonlinearity]
        #: the rule (RESCALE or REVEALCANCEL) of each nonlinearity the target depends on
        self.nonlinearity = {name: choose(model, name) for name, rule in self.node_rules.items()
                             if rule.chooses_nonlinearity}
        #: the kernel layers whose ``|W| |Δx|`` a RevealCancel nonlinearity will read: a convolution's is
        #: made in the loop of its forward passes (:meth:`~seqlift.model.ops.Conv.on_both`)
        self.split_kernels = {NonlinearityRule.kernel_below(self, name) for name, rule in self.nonlinearity.items()
                              if rule == REVEALCANCEL and isinstance(self.node_rules[name], NonlinearityRule)} - {None}

    # ------------------------------------------------------------------ forward
    def forward(self, x: list[tf.Tensor], refs: list[tf.Tensor], per_seq: tf.Tensor) -> PairState:
        """Forward passes of the inputs and the references, and every Δ on the way.

        The inputs are run once per sequence; their activations are gathered to
        one row per pair only as differences (pairs come sequence by sequence,
        ``per_seq`` references each). The two passes run node by node side by
        side (:meth:`~seqlift.model.graph.Model.evaluate`), so that a recurrent
        layer's outputs on both come from its DeepLIFT loop
        (:meth:`~seqlift.engine.node_rules.RecurrentRule.paired_output`), which
        runs the sequences' and the references' steps beside their differences'
        anyway. A Dense layer takes both as one batch, the sequences' rows first
        (:func:`_dense_on_both`); a convolution whose rows go one by one, one loop
        over the rows of both (:meth:`~seqlift.model.ops.Conv.on_both`), and of its ``|Δx|`` where a
        RevealCancel nonlinearity reads the layer's ``|W| |Δx|`` (:attr:`split_kernels`). The backward pass differentiates the
        references' activations (the linear layers' transposes) and the kernel
        layers' ``|W| |Δx|`` by the graph's symbolic gradient
        (:func:`vector_jacobian`), so nothing is recorded on a tape.
        """
        state = PairState({}, per_seq, {})
        feed = dict(zip(self.model.inputs, zip(x, refs)))

        def both(node: Node, values: list[tuple[tf.Tensor, tf.Tensor]]) -> tuple[tf.Tensor, tf.Tensor]:
            """The node's values on the sequences and on the references, from its inputs' on each."""
            if node.name in feed:
                return node.op(feed[node.name][0]), node.op(feed[node.name][1])
            if isinstance(self.node_rules.get(node.name), RecurrentRule):
                return RecurrentRule.paired_output(self, node, state, *values[0])
            if isinstance(node.op, ops.Dense):
                return _dense_on_both(node.op, *values[0])
            if isinstance(node.op, ops.Conv):
                if node.name not in self.split_kernels:
                    return node.op.on_both(*values[0])
                (on_sequences, on_references), = values
                abs_dx = tf.abs(state.delta_of(node.inputs[0], on_sequences, on_references))
                *pair, state.abs_responses[node.name] = node.op.on_both(on_sequences, on_references, abs_dx)
                state.abs_inputs[node.name] = abs_dx
                return tuple(pair)
            return node.op(*[v[0] for v in values]), node.op(*[v[1] for v in values])

        for name, (on_sequences, on_references) in self.model.evaluate(both, keep=set(self.nodes)).items():
            state.x_acts[name], state.ref_acts[name] = on_sequences, on_references
        for name, rule in self.nonlinearity.items():
            if rule == REVEALCANCEL and isinstance(self.node_rules[name], NonlinearityRule):
                NonlinearityRule.revealcancel_multipliers(self, self.model.nodes[name], state)
        return state

    def parts(self, name: str, state: PairState) -> tuple[tf.Tensor, tf.Tensor]:
        """Positive and negative parts (Δ⁺, Δ⁻) of node ``name``'s difference (computed once)."""
        if name not in state.parts:
            state.parts[name] = self.node_rules[name].parts(self, self.model.nodes[name], state)
        return state.parts[name]

    # ----------------------------------------------------------------- backward
    def backward(self, state: PairState, seeds: list[tuple[str, tf.Tensor]]) -> list[dict[str, Multipliers]]:
        """Multipliers of every node, as :class:`Multipliers`, for each target: from multipliers ``seed``
        at ``node`` for each ``(node, seed)`` of ``seeds`` (one row per pair: the target's multipliers
        with respect to the node's values).

        The targets are walked back together, node by node, so that each
        node's rule is handed every target's multipliers at once
        (:meth:`~seqlift.engine.node_rules.NodeRule.backward_targets`).
        """
        pending: list[dict[str, Multipliers]] = [{node: Multipliers(seed)} for node, seed in seeds]
        done: list[dict[str, Multipliers]] = [{} for _ in seeds]
        for name in reversed(self.nodes):
            here = [k for k, waiting in enumerate(pending) if name in waiting]
            if not here:
                continue
            ms = [pending[k].pop(name) for k in here]
            for k, m in zip(here, ms):
                done[k][name] = m
            node = self.model.nodes[name]
            if not node.inputs:
                continue
            for k, grads in zip(here, self.node_rules[name].backward_targets(self, node, ms, state)):
                for source, g in grads.items():
                    pending[k][source] = pending[k][source] + g if source in pending[k] else g
        return done

    def linear_transpose(self, name: str, m: tf.Tensor, state: PairState) -> dict[str, tf.Tensor]:
        """``m`` through the transpose of linear node ``name``, to each of its inputs."""
        node = self.model.nodes[name]
        if isinstance(node.op, ops.Identity):
            return {node.inputs[0]: m}
        return transpose(node, m, state.ref_acts)


class GuidedBackpropPass:
    """Guided backpropagation multipliers at the input (Springenberg et al. 2015).

    At every elementwise nonlinearity the gradient is passed only where the
    incoming multiplier is positive: ``m_in = f'(x) · m · [m > 0]`` (as the
    original deeplift's GuidedBackprop mode does for every activation). Linear
    layers, max pooling and softmax pass the plain gradient.
    """

    def __init__(self, model: Model, targets: str | Iterable[str]) -> None:
        self.model = model
        self.nodes = ancestors(model, targets)

    def multipliers(self, x: list[tf.Tensor], node: str, seed: Callable[[tf.Tensor], tf.Tensor],
                    acts: dict[str, tf.Tensor] | None = None) -> list[tf.Tensor]:
        """Guided-backprop multipliers of each model input for a target at ``node``, whose
        gradient with respect to the node's values is ``seed(value)``; ``acts``: the forward pass of
        ``x`` (every ancestor of the targets), where the caller has it."""
        if acts is None:
            acts = self.model.forward(x, keep=set(self.nodes))
        pending = {node: seed(acts[node])}
        for name in reversed(self.nodes):
            if name not in pending:
                continue
            m = pending.pop(name)
            node = self.model.nodes[name]
            if not node.inputs:
                pending[name] = m
                continue
            if node.op.propagation is ops.Propagation.NONLINEARITY:
                source = node.inputs[0]
                g = {source: node.op.derivative(acts[source]) * tf.nn.relu(m)}
            else:
                g = transpose(node, m, acts)
            for source, grad in g.items():
                pending[source] = pending[source] + grad if source in pending else grad
        return [pending.get(name, tf.zeros_like(t)) for name, t in zip(self.model.inputs, x)]


def _dense_on_both(op: ops.Dense, sequences: tf.Tensor, references: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A Dense layer on the sequences' and the references' rows as one batch, the sequences' first, split
    after. Every row is computed alike whatever the batch (:func:`seqlift.model.invariant.matmul`), so
    each gets the bits of a pass of its own, and the sequences' few rows ride in the blocks of the
    references' instead of padded blocks of their own (DanQ-shaped model, 2 sequences of 10 pairs: the
    wide 48,000 x 925 layer's 2 + 20 rows in 2 blocks of 16 instead of 2 + 2). The references' values
    stay a function of their inputs, which the linear transposes differentiate."""
    rows = tf.shape(sequences)[0]
    joint = op(tf.concat([sequences, references], 0))
    return joint[:rows], joint[rows:]


def transpose(node, m: tf.Tensor, acts: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """``m`` mapped back through one node's op to each of its inputs (a vector-Jacobian product).

    A single-input op is differentiated where the forward pass applied it. An
    op with several inputs is re-applied to fresh copies of them, because a
    gradient with respect to an input that depends on another input (as in
    ``Average(a, b, Add(a, b))``) would also follow the path through that one.
    """
    sources = list(dict.fromkeys(node.inputs))
    if len(node.inputs) == 1:
        return {sources[0]: vector_jacobian(acts[node.name], acts[sources[0]], m)}
    fresh = {s: tf.identity(acts[s]) for s in sources}
    with tf.GradientTape() as local:
        for value in fresh.values():
            local.watch(value)
        output = node.op(*[fresh[s] for s in node.inputs])
    grads = local.gradient(output, [fresh[s] for s in sources], output_gradients=m,
                           unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return dict(zip(sources, grads))


def gradient_at(model: Model, node: str, x: list[tf.Tensor],
                seed: Callable[[tf.Tensor], tf.Tensor]) -> list[tf.Tensor]:
    """Plain gradient, with respect to each model input, of a target at ``node`` whose gradient
    with respect to the node's values is ``seed(value)`` (a vector-Jacobian product)."""
    nodes = ancestors(model, node)
    with tf.GradientTape() as tape:
        for t in x:
            tape.watch(t)
        value = model.forward(x, keep=set(nodes))[node]
        weighted = tf.reduce_sum(value * tf.stop_gradient(seed(value)))
    return tape.gradient(weighted, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)

