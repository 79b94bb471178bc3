"""Propagating multipliers backwards through a seqlift model graph.

:class:`DeepLiftPass` runs, for one batch of (sequence, reference) pairs, the
forward pass of the inputs (each sequence once), the forward pass of the
references, and the backward pass of multipliers from a target unit to the
inputs, applying at each node the rule that :mod:`seqlift.engine.rules` states.
:class:`GuidedBackpropPass` walks the same graph at the input alone with the
guided-backpropagation rule. Linear layers are transposed by TensorFlow's own
autodiff on the reference forward pass, so every linear layer the model loader
supports is covered without a hand-written transpose.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import tensorflow as tf

from seqlift.engine import rules
from seqlift.model import ops
from seqlift.model.graph import Model

#: linear ops with no bias and non-negative coefficients: they map the positive
#: and negative parts of their inputs to those of their output
_SIGN_PRESERVING = (
    ops.Identity,
    ops.Flatten,
    ops.Reshape,
    ops.Permute,
    ops.Concatenate,
    ops.Add,
    ops.Average,
    ops.AvgPool,
    ops.GlobalAvgPool,
    ops.Cropping1D,
    ops.ZeroPadding1D,
)
_KERNEL = (ops.Dense, ops.Conv)
_MAX = (ops.MaxPool, ops.GlobalMaxPool)


def _fused(rule):
    """A rule compiled with XLA, which fuses its chain of elementwise operations.

    Each rule reads and writes several tensors of a layer's size; unfused, the
    memory traffic of those passes costs more than the layer's convolution.
    """
    return tf.function(rule, jit_compile=True, autograph=False, reduce_retracing=True)


_rescale_multiplier = _fused(rules.rescale_multiplier)


def _revealcancel(x0, dx_pos, dx_neg, fn, difference, derivative):
    """RevealCancel's output parts and its multipliers as (mean, half-difference), in one pass."""
    dy_pos, dy_neg = rules.revealcancel_parts(x0, dx_pos, dx_neg, fn, difference)
    r_pos, r_neg = rules.revealcancel_multipliers(x0, dx_pos, dx_neg, dy_pos, dy_neg, derivative)
    return dy_pos, dy_neg, 0.5 * (r_pos + r_neg), 0.5 * (r_pos - r_neg)


_revealcancel = _fused(_revealcancel)
_kernel_split_backward = _fused(rules.kernel_split_backward)


def ancestors(model: Model, target: str) -> list[str]:
    """Names of the nodes the target depends on (itself included), in topological order."""
    needed = {target}
    for name in reversed(list(model.nodes)):
        if name in needed:
            needed.update(model.nodes[name].inputs)
    return [name for name in model.nodes if name in needed]


def preceding_linear(model: Model, name: str) -> ops.Op:
    """The op feeding node ``name``, looking back through BatchNorm and Identity.

    This is how the original deeplift resolves its ``genomics_default`` mode:
    a nonlinearity after a Dense layer gets RevealCancel, after a convolution
    Rescale, with batch normalisation and dropout in between ignored.
    """
    node = model.nodes[model.nodes[name].inputs[0]]
    while isinstance(node.op, (ops.BatchNorm, ops.Identity)) and node.inputs:
        node = model.nodes[node.inputs[0]]
    return node.op


def nonlinearity_rules(model: Model, nodes: list[str], method: str) -> dict[str, str]:
    """The rule ('rescale' or 'revealcancel') applied at each Activation node."""
    chosen = {}
    for name in nodes:
        if not isinstance(model.nodes[name].op, ops.Activation):
            continue
        if method == "revealcancel":
            chosen[name] = "revealcancel"
        elif method == "genomics_default":
            chosen[name] = "revealcancel" if isinstance(preceding_linear(model, name), ops.Dense) else "rescale"
        else:
            chosen[name] = "rescale"
    return chosen


def unit_seed(shape: tf.TensorShape | tf.Tensor, batch: tf.Tensor, unit: int) -> tf.Tensor:
    """A multiplier of 1 on one flattened unit of a node's output, 0 elsewhere."""
    per_item = tf.one_hot(unit, tf.reduce_prod(shape[1:]), dtype=tf.float32)
    return tf.reshape(tf.tile(per_item[None], [batch, 1]), shape)


@dataclass
class Multipliers:
    """The multipliers of a node's positive and negative parts, ``m⁺`` and ``m⁻``.

    Held as their mean and half-difference, ``mean = ½(m⁺ + m⁻)`` and
    ``half = ½(m⁺ − m⁻)`` (so ``m± = mean ± half``), because that is what the
    layers below need: a Dense or convolution layer maps them back as
    ``Wᵀ mean + sign(Δx) ⊙ |W|ᵀ half`` (:func:`rules.kernel_split_backward`).
    ``half`` is None while the two are equal, as they are everywhere except
    between a RevealCancel nonlinearity and the kernel layer that feeds it.
    """

    mean: tf.Tensor
    half: tf.Tensor | None = None

    @property
    def joined(self) -> bool:
        return self.half is None

    def __add__(self, other: "Multipliers") -> "Multipliers":
        if self.joined and other.joined:
            return Multipliers(self.mean + other.mean)
        half = other.half if self.joined else self.half if other.joined else self.half + other.half
        return Multipliers(self.mean + other.mean, half)

    def scaled(self, factor: tf.Tensor) -> "Multipliers":
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
class _Pairs:
    """Per-batch state of a DeepLIFT pass: activations, differences and parts."""

    x_acts: dict[str, tf.Tensor]
    per_seq: tf.Tensor
    ref_acts: dict[str, tf.Tensor]
    tape: tf.GradientTape
    deltas: dict[str, tf.Tensor] = field(default_factory=dict)
    scales: dict[str, tf.Tensor] = field(default_factory=dict)
    parts: dict[str, tuple[tf.Tensor, tf.Tensor]] = field(default_factory=dict)
    abs_inputs: dict[str, tf.Tensor] = field(default_factory=dict)
    abs_responses: dict[str, tf.Tensor] = field(default_factory=dict)
    rc_multipliers: dict[str, tuple[tf.Tensor, tf.Tensor]] = field(default_factory=dict)

    def delta(self, name: str) -> tf.Tensor:
        """``Δ = x − x0`` of node ``name``, one row per pair (computed once, when first needed)."""
        if name not in self.deltas:
            self.deltas[name] = self._by_sequence(self.x_acts[name][:, None], self.ref_acts[name], tf.subtract)
        return self.deltas[name]

    def x_at(self, name: str) -> tf.Tensor:
        """The input's activation of node ``name``, one row per pair."""
        return self._by_sequence(self.x_acts[name][:, None], self.ref_acts[name], lambda a, r: tf.broadcast_to(a, tf.shape(r)))

    def _by_sequence(self, per_sequence: tf.Tensor, per_pair: tf.Tensor, combine) -> tf.Tensor:
        """``combine`` a per-sequence value with the per-pair values of its references.

        Pairs are ordered sequence by sequence, ``per_seq`` references each, so a
        reshape to ``(n, per_seq, ...)`` lines them up without gathering copies.
        """
        shape = tf.shape(per_pair)
        grouped = tf.reshape(per_pair, tf.concat([[-1, self.per_seq], shape[1:]], axis=0))
        return tf.reshape(combine(per_sequence, grouped), shape)


class DeepLiftPass:
    """Rescale / RevealCancel / genomics-default multipliers for one target node.

    Parameters
    ----------
    model : Model
        The loaded model graph.
    target : str
        Name of the node whose units are explained.
    method : {'rescale', 'revealcancel', 'genomics_default'}
        Which rule nonlinearities get (see :func:`nonlinearity_rules`).
    maxpool : {'deeplift', 'gradient'}
        Max-pooling rule: credit routed so that summation-to-delta holds
        (:func:`seqlift.engine.rules.maxpool_routed_contributions`), or the
        original deeplift's gradient through the input's argmax (for global
        max pooling, as the original: the whole multiplier to every tied
        maximum).
    """

    def __init__(self, model: Model, target: str, method: str, maxpool: str = "deeplift") -> None:
        self.model = model
        self.target = target
        self.maxpool = maxpool
        self.nodes = ancestors(model, target)
        self.rules = nonlinearity_rules(model, self.nodes, method)

    # ------------------------------------------------------------------ forward
    def forward(self, x: list[tf.Tensor], refs: list[tf.Tensor], per_seq: tf.Tensor) -> _Pairs:
        """Forward passes of the inputs and the references, and every Δ on the way.

        The inputs are run once per sequence; their activations are gathered to
        one row per pair only as differences (pairs come sequence by sequence,
        ``per_seq`` references each). Everything the backward pass differentiates is recorded on
        one persistent tape.
        """
        keep = set(self.nodes)
        x_acts = self.model.forward(x, keep=keep)
        tape = tf.GradientTape(persistent=True)
        with tape:
            for r in refs:
                tape.watch(r)
            ref_acts = self.model.forward(refs, keep=keep)
            state = _Pairs(x_acts, per_seq, ref_acts, tape)
            for name, rule in self.rules.items():
                if rule == "revealcancel":
                    self._revealcancel_forward(name, state)
        return state

    def _revealcancel_forward(self, name: str, state: _Pairs) -> None:
        node = self.model.nodes[name]
        source = node.inputs[0]
        dx_pos, dx_neg = self._parts(source, state)
        x0 = state.ref_acts[source]
        op = node.op
        difference = op.difference if op.saturates else None
        dy_pos, dy_neg, mean, half = _revealcancel(x0, dx_pos, dx_neg, op, difference, op.derivative)
        state.parts[name] = (dy_pos, dy_neg)
        state.rc_multipliers[name] = (mean, half)

    def _parts(self, name: str, state: _Pairs) -> tuple[tf.Tensor, tf.Tensor]:
        """Positive and negative parts (Δ⁺, Δ⁻) of node ``name``'s difference."""
        if name in state.parts:
            return state.parts[name]
        node = self.model.nodes[name]
        op = node.op
        if isinstance(op, _KERNEL):
            abs_dx = tf.abs(state.delta(node.inputs[0]))
            response = op.apply(abs_dx, tf.abs(op.kernel))
            state.abs_inputs[name] = abs_dx
            state.abs_responses[name] = response
            parts = rules.kernel_split_forward(state.delta(name), response)
        elif isinstance(op, ops.BatchNorm):
            pos, neg = self._parts(node.inputs[0], state)
            s_pos, s_neg = tf.maximum(op.scale, 0.0), tf.minimum(op.scale, 0.0)
            parts = (s_pos * pos + s_neg * neg, s_pos * neg + s_neg * pos)
        elif isinstance(op, ops.Subtract):
            (a_pos, a_neg), (b_pos, b_neg) = (self._parts(i, state) for i in node.inputs)
            parts = (a_pos - b_neg, a_neg - b_pos)
        elif isinstance(op, _SIGN_PRESERVING):
            inputs = [self._parts(i, state) for i in node.inputs]
            parts = (op(*[p for p, _ in inputs]), op(*[n for _, n in inputs]))
        elif isinstance(op, ops.Activation) and self.rules.get(name) == "rescale":
            pos, neg = self._parts(node.inputs[0], state)
            scale = self._rescale(name, state)
            parts = (pos * scale, neg * scale)
        else:  # inputs, max pooling, softmax: split the node's own difference
            parts = rules.split_by_sign(state.delta(name))
        state.parts[name] = parts
        return parts

    def _rescale(self, name: str, state: _Pairs) -> tf.Tensor:
        """The Rescale multiplier of an Activation node (computed once per batch)."""
        if name not in state.scales:
            node = self.model.nodes[name]
            source = node.inputs[0]
            x0, dx = state.ref_acts[source], state.delta(source)
            # where the nonlinearity saturates, Δy from its closed form (the forward values cancel)
            dy = node.op.difference(x0, dx) if node.op.saturates else state.delta(name)
            state.scales[name] = _rescale_multiplier(x0, dx, dy, node.op.derivative)
        return state.scales[name]

    # ----------------------------------------------------------------- backward
    def backward(self, state: _Pairs, unit: int) -> dict[str, Multipliers]:
        """Multipliers of every node for one unit of the target, as :class:`Multipliers`."""
        target_value = state.ref_acts[self.target]
        pending: dict[str, Multipliers] = {
            self.target: Multipliers(unit_seed(tf.shape(target_value), tf.shape(target_value)[0], unit))
        }
        done: dict[str, Multipliers] = {}
        for name in reversed(self.nodes):
            if name not in pending:
                continue
            m = pending.pop(name)
            done[name] = m
            if not self.model.nodes[name].inputs:
                continue
            for source, g in self._node_backward(name, m, state).items():
                pending[source] = pending[source] + g if source in pending else g
        return done

    def _linear_transpose(self, name: str, m: tf.Tensor, state: _Pairs) -> dict[str, tf.Tensor]:
        node = self.model.nodes[name]
        if isinstance(node.op, ops.Identity):
            return {node.inputs[0]: m}
        return transpose(node, m, state.ref_acts, state.tape)

    def _node_backward(self, name: str, m: Multipliers, state: _Pairs) -> dict[str, Multipliers]:
        node = self.model.nodes[name]
        op = node.op
        if isinstance(op, ops.Activation):
            source = node.inputs[0]
            if self.rules[name] == "revealcancel":
                mean, half = state.rc_multipliers[name]
                if m.joined:
                    return {source: Multipliers(m.mean * mean, m.mean * half)}
                return {source: Multipliers(mean * m.mean + half * m.half, half * m.mean + mean * m.half)}
            return {source: m.scaled(self._rescale(name, state))}
        if isinstance(op, _KERNEL):
            source = node.inputs[0]
            g = self._linear_transpose(name, m.mean, state)[source]
            if not m.joined:
                grad_abs = state.tape.gradient(state.abs_responses[name], state.abs_inputs[name],
                                               output_gradients=m.half)
                g = _kernel_split_backward(state.delta(source), g, grad_abs)
            return {source: Multipliers(g)}
        if isinstance(op, ops.BatchNorm) and not m.joined:
            return {node.inputs[0]: Multipliers(m.mean * op.scale, m.half * tf.abs(op.scale))}
        if isinstance(op, ops.Subtract) and not m.joined:
            first, second = node.inputs
            if first == second:  # x - x is constant: no credit
                return {first: Multipliers(tf.zeros_like(m.mean))}
            return {first: m, second: Multipliers(-m.mean, m.half)}
        if isinstance(op, _SIGN_PRESERVING + (ops.BatchNorm, ops.Subtract)):
            mean = self._linear_transpose(name, m.mean, state)
            if m.joined:
                return {s: Multipliers(g) for s, g in mean.items()}
            half = self._linear_transpose(name, m.half, state)
            return {s: Multipliers(mean[s], half[s]) for s in mean}
        single = m.collapse(state.delta(name))
        if isinstance(op, _MAX):
            g = self._maxpool_backward(name, single, state)
        elif isinstance(op, ops.Softmax):
            g = self._softmax_backward(name, single, state)
        elif isinstance(op, ops.Linear):
            return {s: Multipliers(g) for s, g in self._linear_transpose(name, single, state).items()}
        else:
            raise TypeError(f"no DeepLIFT rule for node {name!r} ({type(op).__name__})")
        return {node.inputs[0]: Multipliers(g)}

    def _maxpool_backward(self, name: str, m: tf.Tensor, state: _Pairs) -> tf.Tensor:
        node = self.model.nodes[name]
        source = node.inputs[0]
        x_in = state.x_at(source)
        with tf.GradientTape(persistent=True) as local:
            local.watch(x_in)
            y = node.op(x_in)
        if self.maxpool == "gradient":
            if isinstance(node.op, ops.GlobalMaxPool):
                # the original passes the full multiplier to every tied maximum
                share = local.gradient(y, x_in, output_gradients=tf.ones_like(y))
                spread = local.gradient(y, x_in, output_gradients=m)
                return tf.where(share > 0, spread / tf.where(share > 0, share, 1.0), 0.0)
            return local.gradient(y, x_in, output_gradients=m)
        to_input_argmax, to_reference_argmax = rules.maxpool_routed_contributions(
            y, state.ref_acts[name], m
        )
        credited = local.gradient(y, x_in, output_gradients=to_input_argmax) + state.tape.gradient(
            state.ref_acts[name], state.ref_acts[source], output_gradients=to_reference_argmax
        )
        dx = state.delta(source)
        small = tf.abs(dx) < rules.NEAR_ZERO
        fallback = local.gradient(y, x_in, output_gradients=m)
        return tf.where(small, fallback, credited / tf.where(small, tf.ones_like(dx), dx))

    def _softmax_backward(self, name: str, m: tf.Tensor, state: _Pairs) -> tf.Tensor:
        """Exact rule for softmax: ``y = e ⊙ r`` with ``e = exp(x − c)``, ``r = 1 / Σ e``.

        The exponentials and the reciprocal are elementwise nonlinearities
        (Rescale), the sum is linear, and the product gets the exact
        :func:`seqlift.engine.rules.product_multipliers`, so summation-to-delta
        holds through the softmax. ``c`` is a per-pair constant (the larger of
        the two maxima) that keeps the exponentials finite.
        """
        node = self.model.nodes[name]
        axis = node.op.axis
        source = node.inputs[0]
        x0 = state.ref_acts[source]
        x = state.x_at(source)
        c = tf.stop_gradient(tf.maximum(tf.reduce_max(x, axis, keepdims=True), tf.reduce_max(x0, axis, keepdims=True)))
        e, e0 = tf.exp(x - c), tf.exp(x0 - c)
        s, s0 = tf.reduce_sum(e, axis, keepdims=True), tf.reduce_sum(e0, axis, keepdims=True)
        r, r0 = 1.0 / s, 1.0 / s0
        m_e_direct, m_r_each = rules.product_multipliers(e0, e - e0, r0, r - r0)
        m_r = tf.reduce_sum(m * m_r_each, axis, keepdims=True)
        m_s = m_r * rules.rescale_multiplier(s0, s - s0, r - r0, lambda v: -1.0 / (v * v))
        m_e = m * m_e_direct + m_s
        return m_e * rules.rescale_multiplier(x0, x - x0, e - e0, lambda v: tf.exp(v - c))


class GuidedBackpropPass:
    """Guided backpropagation multipliers at the input (Springenberg et al. 2015).

    At every elementwise nonlinearity the gradient is passed only where the
    incoming multiplier is positive: ``m_in = f'(x) · m · [m > 0]`` (as the
    original deeplift's GuidedBackprop mode does for every activation). Linear
    layers, max pooling and softmax pass the plain gradient.
    """

    def __init__(self, model: Model, target: str) -> None:
        self.model = model
        self.target = target
        self.nodes = ancestors(model, target)

    def multipliers(self, x: list[tf.Tensor], unit: int) -> list[tf.Tensor]:
        """Guided-backprop multipliers of each model input for one target unit."""
        with tf.GradientTape(persistent=True) as tape:
            for t in x:
                tape.watch(t)
            acts = self.model.forward(x, keep=set(self.nodes))
        value = acts[self.target]
        pending = {self.target: unit_seed(tf.shape(value), tf.shape(value)[0], unit)}
        for name in reversed(self.nodes):
            if name not in pending:
                continue
            m = pending.pop(name)
            node = self.model.nodes[name]
            if not node.inputs:
                pending[name] = m
                continue
            if isinstance(node.op, ops.Activation):
                source = node.inputs[0]
                g = {source: node.op.derivative(acts[source]) * tf.nn.relu(m)}
            else:
                g = transpose(node, m, acts, tape)
            for source, grad in g.items():
                pending[source] = pending[source] + grad if source in pending else grad
        del tape
        return [pending.get(name, tf.zeros_like(t)) for name, t in zip(self.model.inputs, x)]


def transpose(node, m: tf.Tensor, acts: dict[str, tf.Tensor], tape: tf.GradientTape) -> dict[str, tf.Tensor]:
    """``m`` mapped back through one node's op to each of its inputs (a vector-Jacobian product).

    A single-input op is differentiated on the recorded forward pass. An op
    with several inputs is re-applied to fresh copies of them, because a tape
    gradient with respect to an input that depends on another input (as in
    ``Average(a, b, Add(a, b))``) would also follow the path through that one.
    """
    sources = list(dict.fromkeys(node.inputs))
    if len(node.inputs) == 1:
        (grad,) = tape.gradient(acts[node.name], [acts[sources[0]]], output_gradients=m,
                                unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return {sources[0]: grad}
    fresh = {s: tf.identity(acts[s]) for s in sources}
    with tf.GradientTape() as local:
        for value in fresh.values():
            local.watch(value)
        output = node.op(*[fresh[s] for s in node.inputs])
    grads = local.gradient(output, [fresh[s] for s in sources], output_gradients=m,
                           unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return dict(zip(sources, grads))


def gradient_at(model: Model, target: str, x: list[tf.Tensor], unit: int) -> list[tf.Tensor]:
    """Plain gradient of one target unit with respect to each model input."""
    nodes = ancestors(model, target)
    with tf.GradientTape() as tape:
        for t in x:
            tape.watch(t)
        value = model.forward(x, keep=set(nodes))[target]
        flat = tf.reshape(value, [tf.shape(value)[0], -1])[:, unit]
    return tape.gradient(flat, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)


Rule = Callable[..., tf.Tensor]
