"""The DeepLIFT rule of each form of op: how parts and multipliers pass through a node.

Every op states its form (:class:`seqlift.model.ops.Propagation`); :data:`RULES`
maps each form to one :class:`NodeRule`, which gives

* :meth:`NodeRule.parts`: the positive and negative parts ``(Δ⁺, Δ⁻)`` of the
  node's difference-from-reference (section 3.5.1 of the paper), and
* :meth:`NodeRule.backward`: the multipliers of the node's inputs from its own.

:func:`rule_for` refuses a node whose op has no rule, naming it. The
mathematics of each rule is in :mod:`seqlift.engine.rules`, one function per
equation; the classes here apply them to a node of the graph. A new op of an
existing form needs nothing here; a new form is a member of ``Propagation``
and one class registered with :func:`handles`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tensorflow as tf

from seqlift.engine import activation_rules, recurrence, rules
from seqlift.engine.multipliers import Multipliers, PairState
from seqlift.errors import SeqliftError
from seqlift.model import invariant, ops
from seqlift.model.graph import Node

if TYPE_CHECKING:
    from seqlift.engine.backprop import DeepLiftPass

#: the rule of each form of op
RULES: dict[ops.Propagation, "NodeRule"] = {}

#: the two rules of an elementwise nonlinearity (section 3.5.2 and 3.5.3)
RESCALE = "rescale"
REVEALCANCEL = "revealcancel"


def handles(*forms: ops.Propagation):
    """Class decorator: register a :class:`NodeRule` as the rule of ``forms``."""

    def register(cls: type["NodeRule"]) -> type["NodeRule"]:
        for form in forms:
            RULES[form] = cls()
        return cls

    return register


def rule_for(node: Node) -> "NodeRule":
    """The rule of ``node``'s op, or a one-line error naming the node and the op."""
    form = node.op.propagation
    if form not in RULES:
        raise SeqliftError(
            f"node {node.name!r} ({node.op.describe()}) has no DeepLIFT rule: the engine knows how to "
            f"propagate through {', '.join(f.value for f in RULES)} ops"
        )
    return RULES[form]


def vector_jacobian(y: tf.Tensor, x: tf.Tensor, m: tf.Tensor) -> tf.Tensor:
    """``mᵀ ∂y/∂x``: the graph's symbolic gradient of ``y`` with respect to ``x``, weighted by ``m``.

    Only the ops between ``x`` and ``y`` are differentiated (a tape would walk
    everything it recorded, once per call). Graph mode only: the engine runs
    inside compiled functions (:mod:`seqlift.engine.batch`).
    """
    (grad,) = tf.gradients(y, [x], grad_ys=m, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return grad


class NodeRule:
    """How one form of op passes parts forward and multipliers backward.

    The base rule splits a node's difference by its own sign,
    :func:`seqlift.engine.rules.split_by_sign` (what an input, or any layer
    without a finer split, does).
    """

    #: whether the pass chooses Rescale or RevealCancel for the node (its op is, or holds, nonlinearities)
    chooses_nonlinearity = False

    def parts(self, walk: "DeepLiftPass", node: Node, state: PairState) -> tuple[tf.Tensor, tf.Tensor]:
        """``(Δ⁺, Δ⁻)`` of the node's output."""
        return rules.split_by_sign(state.delta(node.name))

    def backward(self, walk: "DeepLiftPass", node: Node, m: Multipliers, state: PairState) -> dict[str, Multipliers]:
        """The multipliers of each of the node's inputs, given the node's own ``m``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def backward_targets(self, walk: "DeepLiftPass", node: Node, ms: list[Multipliers],
                         state: PairState) -> list[dict[str, Multipliers]]:
        """:meth:`backward` for several targets' multipliers at the node (one target at a time, unless
        the rule can do better)."""
        return [self.backward(walk, node, m, state) for m in ms]


def _transposed(walk: "DeepLiftPass", node: Node, m: Multipliers, state: PairState) -> dict[str, Multipliers]:
    """``m`` through a linear op's transpose, its mean and half-difference alike."""
    mean = walk.linear_transpose(node.name, m.mean, state)
    if m.joined:
        return {s: Multipliers(g) for s, g in mean.items()}
    half = walk.linear_transpose(node.name, m.half, state)
    return {s: Multipliers(mean[s], half[s]) for s in mean}


@handles(ops.Propagation.INPUT)
class InputRule(NodeRule):
    """A model input: its difference split by its own sign; the backward pass ends here."""

    def backward(self, walk, node, m, state):
        return {}


@handles(ops.Propagation.SIGN_PRESERVING)
class SignPreservingRule(NodeRule):
    """Linear ops with non-negative coefficients and no bias (reshapes, sums, means, padding).

    Such an op ``A`` maps parts to parts: ``Δy⁺ = A(Δx⁺)`` and ``Δy⁻ = A(Δx⁻)``,
    and the multipliers of both parts go back through ``Aᵀ``.
    """

    def parts(self, walk, node, state):
        inputs = [walk.parts(i, state) for i in node.inputs]
        return node.op(*[p for p, _ in inputs]), node.op(*[n for _, n in inputs])

    def backward(self, walk, node, m, state):
        return _transposed(walk, node, m, state)


@handles(ops.Propagation.KERNEL)
class KernelRule(NodeRule):
    """Dense and convolution layers: the linear rule, split by the sign of each term ``w_i Δx_i``.

    Forward, :func:`seqlift.engine.rules.kernel_split_forward` (one extra pass
    of the layer with ``|W|`` on ``|Δx|``); backward, ``Wᵀ mean`` and, where the
    output's parts carry different multipliers,
    :func:`seqlift.engine.rules.kernel_split_backward`. A convolution under a
    RevealCancel nonlinearity (its multipliers' ``factors`` unevaluated) makes
    the operands of both transposes, padded, in one fused pass
    (:func:`seqlift.engine.rules.padded_products`).
    """

    def parts(self, walk, node, state):
        return rules.kernel_split_forward(*self.split_operands(node, state))

    @staticmethod
    def split_operands(node: Node, state: PairState) -> tuple[tf.Tensor, tf.Tensor]:
        """``Δy`` and ``|W| |Δx|``, of which :func:`seqlift.engine.rules.kernel_split_forward` makes the
        node's parts (the latter computed once per batch and kept for the backward pass)."""
        if node.name not in state.abs_responses:
            abs_dx = tf.abs(state.delta(node.inputs[0]))
            state.abs_inputs[node.name] = abs_dx
            state.abs_responses[node.name] = node.op.abs_apply(abs_dx)
        return state.delta(node.name), state.abs_responses[node.name]

    def backward(self, walk, node, m, state):
        source = node.inputs[0]
        if m.factors is not None and isinstance(node.op, ops.Conv):  # below a RevealCancel nonlinearity
            spatial = state.ref_acts[source].shape[1:-1].as_list()
            pads = node.op.transpose_padding(spatial)
            if pads is not None:  # both transposes' operands in one pass
                pads = tuple(tuple(p) for p in pads)
                above, mean, half = m.factors
                terms = above.terms()

                def padded(*rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
                    return rules.padded_products(rows[:len(terms)], *rows[len(terms):], pads)

                def unpadded(*rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
                    return rules.transpose_operands(rows[:len(terms)], *rows[len(terms):])

                delta = state.delta(source)
                operands = invariant.RowwiseOperands(padded, unpadded, (*terms, mean, half), pads,
                                                     join=rules.kernel_split_backward, joined_with=delta)
                values = node.op.transposes(operands, (node.op.kernel, node.op.abs_kernel), spatial, padded=True)
                if len(values) == 1:  # joined in the transposes' loop
                    return {source: Multipliers(values[0])}
                return {source: Multipliers(split=(delta, *values))}
        g = _kernel_transpose(walk, node, m.mean, state)
        if not m.joined:
            grad_abs = vector_jacobian(state.abs_responses[node.name], state.abs_inputs[node.name], m.half)
            return {source: Multipliers(split=(state.delta(source), g, grad_abs))}
        return {source: Multipliers(g)}

    def backward_targets(self, walk, node, ms, state):
        """A Dense layer's targets transposed together: one call of its transpose (``Wᵀ``, and ``|W|ᵀ``
        where parts differ) on the targets stacked along the batch, which reads the kernel once for
        all of them (a wide Dense layer's product is bound by reading its kernel: DanQ's 177 MB) and
        gives each row the bits it gets alone (:mod:`seqlift.model.invariant`). Convolutions keep
        one call per target: stacked, their larger calls ran slower (cnn1kb's revealcancel 2.47 ->
        2.66x the gradient)."""
        if len(ms) == 1 or not isinstance(node.op, ops.Dense):
            return super().backward_targets(walk, node, ms, state)
        source, op = node.inputs[0], node.op
        means = _stacked_transpose(op, [m.mean for m in ms])
        split = [k for k, m in enumerate(ms) if not m.joined]
        halves = {}
        if split:
            halves = dict(zip(split, _stacked_transpose(op, [ms[k].half for k in split], absolute=True)))
        delta = state.delta(source)
        return [{source: Multipliers(rules.kernel_split_backward(delta, g, halves[k]) if k in halves else g)}
                for k, g in enumerate(means)]


def _kernel_transpose(walk, node: Node, m: tf.Tensor, state: PairState) -> tf.Tensor:
    """``m`` through a kernel layer's transpose to its input: a channels-last convolution's by
    :meth:`~seqlift.model.ops.Conv.transpose` itself (what its gradient computes), else by the graph's
    gradient of the references' pass."""
    op, source = node.op, node.inputs[0]
    spatial = state.ref_acts[source].shape[1:-1]
    if isinstance(op, ops.Conv) and op.data_format == "channels_last" and spatial.is_fully_defined():
        # the shape the layer's output has (a routed pass above may leave some of it unknown)
        return op.transpose(tf.ensure_shape(m, state.ref_acts[node.name].shape), op.kernel, spatial.as_list())
    return walk.linear_transpose(node.name, m, state)[source]


def _stacked_transpose(op: ops.Dense, ms: list[tf.Tensor], absolute: bool = False) -> list[tf.Tensor]:
    """Each of ``ms`` through the transpose of a Dense layer ``x ↦ x @ W``, ``m ↦ m @ Wᵀ`` (``|W|ᵀ``
    with ``absolute``), in one call on them stacked along the batch."""
    return tf.split(op.transpose(tf.concat(ms, axis=0), absolute), len(ms))


@handles(ops.Propagation.SCALE)
class ScaleRule(NodeRule):
    """``y = s ⊙ x + b`` (batch normalisation): a negative scale swaps the parts
    (:func:`seqlift.engine.rules.scaled_parts`); backward, ``mean · s`` and ``half · |s|``.
    """

    def parts(self, walk, node, state):
        return rules.scaled_parts(*walk.parts(node.inputs[0], state), node.op.scale)

    def backward(self, walk, node, m, state):
        if m.joined:
            return _transposed(walk, node, m, state)
        if m.factors is not None:
            # a RevealCancel nonlinearity's product kept unevaluated: its factors scaled once per batch
            # (for every target), so that a convolution below still makes its operands in one pass
            above, mean, half = m.factors
            if node.name not in state.scaled_factors:
                state.scaled_factors[node.name] = (mean * node.op.scale, half * tf.abs(node.op.scale))
            return {node.inputs[0]: Multipliers(factors=(above, *state.scaled_factors[node.name]))}
        return {node.inputs[0]: Multipliers(m.mean * node.op.scale, m.half * tf.abs(node.op.scale))}


@handles(ops.Propagation.DIFFERENCE)
class DifferenceRule(NodeRule):
    """``y = a − b``: ``Δy⁺ = Δa⁺ − Δb⁻`` and ``Δy⁻ = Δa⁻ − Δb⁺``; ``b`` gets ``(−mean, half)``."""

    def parts(self, walk, node, state):
        (a_pos, a_neg), (b_pos, b_neg) = (walk.parts(i, state) for i in node.inputs)
        return a_pos - b_neg, a_neg - b_pos

    def backward(self, walk, node, m, state):
        if m.joined:
            return _transposed(walk, node, m, state)
        first, second = node.inputs
        if first == second:  # x - x is constant: no credit
            return {first: Multipliers(tf.zeros_like(m.mean))}
        return {first: m, second: Multipliers(-m.mean, m.half)}


@handles(ops.Propagation.NONLINEARITY)
class NonlinearityRule(NodeRule):
    """An elementwise nonlinearity: Rescale or RevealCancel, as the pass chose for the node.

    Rescale (:func:`seqlift.engine.rules.rescale_multiplier`) scales both parts
    by ``Δy/Δx``; RevealCancel (:func:`seqlift.engine.rules.revealcancel_parts`)
    gives each part its own output part and multiplier. Where the activation
    has a closed-form difference (it saturates), ``Δy`` comes from it rather
    than from subtracting two float32 values that round alike. Fed by a
    Dense or convolution layer, RevealCancel splits that layer's difference
    (:meth:`KernelRule.split_operands`) in its own fused pass.
    """

    chooses_nonlinearity = True

    def parts(self, walk, node, state):
        source = node.inputs[0]
        if walk.nonlinearity[node.name] == REVEALCANCEL:
            dy_pos, dy_neg, mean, half = self._revealcancel(walk, node, state, parts=True)
            state.rc_multipliers.setdefault(node.name, (mean, half))
            return dy_pos, dy_neg
        pos, neg = walk.parts(source, state)
        scale = self.rescale(node, state)
        return pos * scale, neg * scale

    @classmethod
    def revealcancel_multipliers(cls, walk: "DeepLiftPass", node: Node, state: PairState) -> tuple[tf.Tensor, tf.Tensor]:
        """The node's RevealCancel multipliers ``(mean, half)``, computed once per batch, without its parts
        unless they were made already (the backward pass needs only these; a reader of the parts, such as
        an inner layer's scores, makes them in a pass of its own)."""
        if node.name not in state.rc_multipliers:
            state.rc_multipliers[node.name] = cls._revealcancel(walk, node, state, parts=False)
        return state.rc_multipliers[node.name]

    @staticmethod
    def kernel_below(walk: "DeepLiftPass", name: str) -> str | None:
        """The kernel layer whose ``|W| |Δx|`` (:meth:`KernelRule.split_operands`) the RevealCancel rule of
        nonlinearity ``name`` reads, whichever way it makes its input's parts: its input, or its input's
        input through a batch normalisation; None for another input."""
        source = walk.model.nodes[name].inputs[0]
        if isinstance(walk.node_rules[source], ScaleRule):
            source = walk.model.nodes[source].inputs[0]
        return source if isinstance(walk.node_rules.get(source), KernelRule) else None

    @classmethod
    def _revealcancel(cls, walk: "DeepLiftPass", node: Node, state: PairState, parts: bool) -> tuple[tf.Tensor, ...]:
        source = node.inputs[0]
        x0 = state.ref_acts[source]
        kernel = cls.kernel_below(walk, node.name)
        if kernel == source and source not in state.parts:
            # the kernel layer's parts made inside the rule's fused pass rather than by four TensorFlow
            # kernels over the layer (side by side: the 1 kb CNN's revealcancel 2.18 -> 1.98x the gradient,
            # the paper's 2.26 and 2.31 -> 2.22 and 2.28x); a later reader of the parts makes them again
            operands = KernelRule.split_operands(walk.model.nodes[source], state)
            return activation_rules.revealcancel_after_kernel(node.op, x0, *operands, parts=parts)
        if kernel not in (None, source) and not {source, kernel} & state.parts.keys():
            # so too through a batch normalisation (the Basset-like model's convolution, norm, ReLU)
            operands = KernelRule.split_operands(walk.model.nodes[kernel], state)
            return activation_rules.revealcancel_after_scaled_kernel(node.op, x0, *operands,
                                                                     walk.model.nodes[source].op.scale, parts=parts)
        return activation_rules.revealcancel_node(node.op, x0, *walk.parts(source, state), parts=parts)

    @staticmethod
    def rescale(node: Node, state: PairState) -> tf.Tensor:
        """The Rescale multiplier ``Δy/Δx`` of the node (computed once per batch)."""
        if node.name not in state.scales:
            source = node.inputs[0]
            x0, dx = state.ref_acts[source], state.delta(source)
            # where the nonlinearity saturates, Δy from its closed form (the forward values cancel)
            dy = node.op.difference(x0, dx) if node.op.has_closed_form_difference else state.delta(node.name)
            state.scales[node.name] = activation_rules.rescale_multiplier(node.op, x0, dx, dy)
        return state.scales[node.name]

    def backward(self, walk, node, m, state):
        source = node.inputs[0]
        if walk.nonlinearity[node.name] == REVEALCANCEL:
            mean, half = self.revealcancel_multipliers(walk, node, state)
            if m.joined:
                return {source: Multipliers(factors=(m, mean, half))}
            return {source: Multipliers(mean * m.mean + half * m.half, half * m.mean + mean * m.half)}
        return {source: m.scaled(self.rescale(node, state))}


@handles(ops.Propagation.MAX)
class MaxRule(NodeRule):
    """Max pooling: credit routed to the two argmaxes so that summation-to-delta holds
    (:func:`seqlift.engine.rules.maxpool_routed_contributions`), or, with
    ``maxpool="gradient"``, the original deeplift's gradient through the input's argmax
    (for global max pooling, as the original: the whole multiplier to every tied maximum).

    Where the windows tile the input (:attr:`seqlift.model.ops.MaxPool.windows_tile`,
    the usual ``pool_size == strides``), the routing is found once per batch
    (:class:`MaxRouting`) and each target's backward pass is one fused
    elementwise pass (:func:`_routed`); elsewhere each target routes its terms
    through TensorFlow's pooling gradient. Both give the same bits.
    """

    def backward(self, walk, node, m, state):
        single = m.collapse(state.delta(node.name))
        source = node.inputs[0]
        if walk.maxpool == "deeplift" and isinstance(node.op, ops.MaxPool) and node.op.windows_tile:
            routing = state.routing.get(node.name)
            if routing is None:
                routing = state.routing[node.name] = MaxRouting.of(node, state)
            spatial = state.ref_acts[source].shape[1:-1].as_list()
            return {source: Multipliers(fold=lambda factor: _routed(single, routing, node.op, spatial, factor))}
        x_in = state.x_at(source)
        with tf.GradientTape(persistent=True) as local:
            local.watch(x_in)
            y = node.op(x_in)
        if walk.maxpool == "gradient":
            if isinstance(node.op, ops.GlobalMaxPool):
                # the original passes the full multiplier to every tied maximum
                share = local.gradient(y, x_in, output_gradients=tf.ones_like(y))
                spread = local.gradient(y, x_in, output_gradients=single)
                g = tf.where(share > 0, spread / tf.where(share > 0, share, 1.0), 0.0)
            else:
                g = local.gradient(y, x_in, output_gradients=single)
            return {source: Multipliers(g)}
        to_input_argmax, to_reference_argmax = rules.maxpool_routed_contributions(
            y, state.ref_acts[node.name], single
        )
        credited = local.gradient(y, x_in, output_gradients=to_input_argmax) + vector_jacobian(
            state.ref_acts[node.name], state.ref_acts[source], to_reference_argmax
        )
        dx = state.delta(source)
        small = tf.abs(dx) < rules.NEAR_ZERO
        fallback = local.gradient(y, x_in, output_gradients=single)
        return {source: Multipliers(tf.where(small, fallback, credited / tf.where(small, tf.ones_like(dx), dx)))}


@dataclass
class MaxRouting:
    """Where a max-pooling layer's credit goes, for one batch (windows that tile the input).

    Attributes
    ----------
    input_argmax, reference_argmax : tf.Tensor
        bool, per pair and input position: the position is its window's argmax
        at the sequence (at the reference), as TensorFlow's pooling gradient
        chooses it among ties (found by routing ones through it).
    to_input, to_reference : tf.Tensor
        Per output: ``M − y0`` and ``y − M`` (``M = max(y, y0)``), the two terms
        of :func:`seqlift.engine.rules.maxpool_routed_contributions` per unit multiplier.
    delta : tf.Tensor
        ``Δx`` of the layer's input.
    """

    input_argmax: tf.Tensor
    reference_argmax: tf.Tensor
    to_input: tf.Tensor
    to_reference: tf.Tensor
    delta: tf.Tensor

    @classmethod
    def of(cls, node: Node, state: PairState) -> "MaxRouting":
        source = node.inputs[0]
        pooled = state.x_acts[node.name]  # the sequences' argmaxes are found once per sequence
        input_argmax = vector_jacobian(pooled, state.x_acts[source], tf.ones_like(pooled)) != 0
        input_argmax = state.per_pair(input_argmax, state.ref_acts[source])
        y0 = state.ref_acts[node.name]
        reference_argmax = vector_jacobian(y0, state.ref_acts[source], tf.ones_like(y0)) != 0
        to_input, to_reference = rules.maxpool_routed_contributions(state.x_at(node.name), y0, 1.0)
        return cls(input_argmax, reference_argmax, to_input, to_reference, state.delta(source))


def _routed(single: tf.Tensor, routing: MaxRouting, op: ops.MaxPool, spatial: list[int],
            factor: tf.Tensor | None = None) -> tf.Tensor:
    """The input multipliers of a max-pooling layer from its output's ``single``, through ``routing``
    (times ``factor``, elementwise, where given: see :class:`Multipliers`)."""
    key = (op, tuple(spatial), factor is None)
    if key not in _ROUTED:  # one compiled pass per layer: the spreading is static
        _ROUTED[key] = rules.fused(functools.partial(_routed_pass, op=op, spatial=list(spatial)))
    args = (single, routing.to_input, routing.to_reference, routing.input_argmax, routing.reference_argmax,
            routing.delta)
    return _ROUTED[key](*args) if factor is None else _ROUTED[key](*args, factor)


def _routed_pass(single, to_input, to_reference, input_argmax, reference_argmax, delta, factor=None, *, op, spatial):
    """``where(small, routed m, (m (M − y0) at x's argmax + m (y − M) at x0's argmax) / Δx)``, with
    ``small = |Δx| <`` :data:`~seqlift.engine.rules.NEAR_ZERO`, each output's terms spread over its
    window (the same products, in the same order, as routing them through TensorFlow's pooling
    gradient); then times ``factor`` if given (a Rescale nonlinearity's multipliers below)."""
    zero = tf.zeros_like(delta)
    small = tf.abs(delta) < rules.NEAR_ZERO
    fallback = tf.where(input_argmax, op.spread(single, spatial), zero)
    credited = (tf.where(input_argmax, op.spread(single * to_input, spatial), zero)
                + tf.where(reference_argmax, op.spread(single * to_reference, spatial), zero))
    routed = tf.where(small, fallback, credited / tf.where(small, tf.ones_like(delta), delta))
    return routed if factor is None else routed * factor


#: the compiled routing pass of each max-pooling layer (op and input shape)
_ROUTED: dict[tuple, object] = {}


@handles(ops.Propagation.SOFTMAX)
class SoftmaxRule(NodeRule):
    """Exact rule for softmax: ``y = e ⊙ r`` with ``e = exp(x − c)``, ``r = 1 / Σ e``.

    The exponentials and the reciprocal are elementwise nonlinearities
    (Rescale), the sum is linear, and the product gets the exact
    :func:`seqlift.engine.rules.product_multipliers`, so summation-to-delta
    holds through the softmax. ``c`` is a per-pair constant (the larger of
    the two maxima) that keeps the exponentials finite.
    """

    def backward(self, walk, node, m, state):
        single = m.collapse(state.delta(node.name))
        axis = node.op.axis
        source = node.inputs[0]
        x0 = state.ref_acts[source]
        x = state.x_at(source)
        c = tf.stop_gradient(tf.maximum(tf.reduce_max(x, axis, keepdims=True), tf.reduce_max(x0, axis, keepdims=True)))
        e, e0 = tf.exp(x - c), tf.exp(x0 - c)
        s, s0 = tf.reduce_sum(e, axis, keepdims=True), tf.reduce_sum(e0, axis, keepdims=True)
        r, r0 = 1.0 / s, 1.0 / s0
        m_e_direct, m_r_each = rules.product_multipliers(e0, e - e0, r0, r - r0)
        m_r = tf.reduce_sum(single * m_r_each, axis, keepdims=True)
        m_s = m_r * rules.rescale_multiplier(s0, s - s0, r - r0, lambda v: -1.0 / (v * v))
        m_e = single * m_e_direct + m_s
        return {source: Multipliers(m_e * rules.rescale_multiplier(x0, x - x0, e - e0, lambda v: tf.exp(v - c)))}


@handles(ops.Propagation.LOGSUMEXP)
class LogSumExpRule(NodeRule):
    """Exact rule for ``y = log Σ_i exp(x_i)`` over an axis (:class:`seqlift.model.reductions.LogSumExp`).

    With a per-pair constant ``c = max(max_i x_i, max_i x0_i)`` (so every
    exponential below is at most 1 and none overflows), ``e_i = exp(x_i − c)``,
    ``S = Σ_i e_i`` and ``y = c + log S`` at the input and the reference alike.
    The exponentials are elementwise nonlinearities (Rescale,
    ``m_e,i = Δe_i / Δx_i``), the sum is linear, and the logarithm is Rescale
    on ``S`` (``m_S = Δy / ΔS``, or ``1 / S0`` where ``|ΔS|`` is below
    :data:`~seqlift.engine.rules.NEAR_ZERO`), so the input multipliers are
    ``m_i = m_y · m_S · m_e,i`` and::

        Σ_i m_i Δx_i = m_y m_S Σ_i Δe_i = m_y m_S ΔS = m_y Δy

    exactly, with ``ΔS`` taken as ``Σ_i Δe_i`` (the same differences) and
    ``Δy = lse(x) − lse(x0)`` from the two stable forward values (the
    reference's ``S0`` may underflow where its maximum lies far below the
    input's; ``Δy`` never does). TensorFlow's gradient of ``reduce_logsumexp``
    holds the maximum fixed and gives only a first-order decomposition.
    """

    def backward(self, walk, node, m, state):
        single = m.collapse(state.delta(node.name))
        op = node.op
        if not op.keepdims:
            single = tf.expand_dims(single, op.axis)
        source = node.inputs[0]
        x0, x = state.ref_acts[source], state.x_at(source)
        c = tf.stop_gradient(tf.maximum(tf.reduce_max(x, op.axis, keepdims=True),
                                        tf.reduce_max(x0, op.axis, keepdims=True)))
        e, e0 = tf.exp(x - c), tf.exp(x0 - c)
        m_exp = rules.rescale_multiplier(x0, x - x0, e - e0, lambda v: tf.exp(v - c))
        s0 = tf.reduce_sum(e0, op.axis, keepdims=True)
        delta_s = tf.reduce_sum(e - e0, op.axis, keepdims=True)
        delta_y = tf.reduce_logsumexp(x, op.axis, keepdims=True) - tf.reduce_logsumexp(x0, op.axis, keepdims=True)
        m_log = rules.rescale_multiplier(s0, delta_s, delta_y, lambda v: 1.0 / v)
        return {source: Multipliers(single * m_log * m_exp)}
def _by_source(node: Node, per_slot: list[tf.Tensor]) -> dict[str, Multipliers]:
    """Multipliers of each input slot summed per source node (an input may fill several slots)."""
    out: dict[str, tf.Tensor] = {}
    for source, g in zip(node.inputs, per_slot):
        out[source] = out[source] + g if source in out else g
    return {source: Multipliers(g) for source, g in out.items()}


def _summed_to_inputs(coefficients: list[tf.Tensor], inputs: list[tf.Tensor], m: tf.Tensor) -> list[tf.Tensor]:
    """``m ⊙ c_i`` summed over the axes along which input ``i`` was broadcast to the output's shape.

    (The transpose of broadcasting; computed as the gradient of ``Σ_i m ⊙ c_i ⊙ x_i``.)
    """
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        linear = tf.add_n([c * x for c, x in zip(coefficients, inputs)])
    return tape.gradient(linear, inputs, output_gradients=m)


@handles(ops.Propagation.PRODUCT)
class ProductRule(NodeRule):
    """Products of varying inputs (``Multiply``, ``Dot``, attention's products): the exact Shapley split
    of :func:`seqlift.engine.rules.multilinear_multipliers`, after which every input's two parts carry
    one multiplier; the product's own parts are split by its sign."""

    def backward(self, walk, node, m, state):
        single = m.collapse(state.delta(node.name))
        references = [state.ref_acts[s] for s in node.inputs]
        inputs = [state.x_at(s) for s in node.inputs]
        return _by_source(node, rules.multilinear_multipliers(node.op, references, inputs, single))


@handles(ops.Propagation.ELEMENTWISE_JOINT)
class JointRule(NodeRule):
    """Minimum and maximum of several varying inputs: the exact Shapley split of
    :func:`seqlift.engine.rules.shapley_split`; the output's parts are split by its sign."""

    def backward(self, walk, node, m, state):
        single = m.collapse(state.delta(node.name))
        references = [state.ref_acts[s] for s in node.inputs]
        inputs = [state.x_at(s) for s in node.inputs]
        coefficients = rules.shapley_split(node.op, references, inputs)
        return _by_source(node, _summed_to_inputs(coefficients, inputs, single))


@handles(ops.Propagation.RECURRENT)
class RecurrentRule(NodeRule):
    """A recurrent layer: its cell's rules step by step (:mod:`seqlift.engine.recurrence`), the layer's
    input multipliers the transpose of the resulting linear map of differences, computed backwards
    through the recurrence; the output's parts are split by its sign.

    The cell's activations follow the rule the pass chose for the node (Rescale or RevealCancel).
    """

    chooses_nonlinearity = True

    def backward(self, walk, node, m, state):
        return self.backward_targets(walk, node, [m], state)[0]

    @staticmethod
    def linearized(walk, node, state) -> recurrence.Linearized:
        """The layer's differences as a linear map (its loop run on the pairs once, then kept)."""
        if node.name not in state.linearized:
            source = node.inputs[0]
            state.linearized[node.name] = recurrence.linearized(
                node.op, state.ref_acts[source], state.delta(source), walk.nonlinearity[node.name] == REVEALCANCEL,
                state.x_acts[source])
        return state.linearized[node.name]

    @classmethod
    def paired_output(cls, walk, node, state, sequences_input: tf.Tensor, reference_input: tf.Tensor
                      ) -> tuple[tf.Tensor, tf.Tensor]:
        """The layer's outputs on the sequences and on the references, given its inputs on both: the plain
        and reference tracks of :meth:`linearized`'s loop, which runs the references' steps anyway, so the
        forward pass runs no loop of its own (DanQ-shaped model: two loops and two projections of the
        input fewer per direction)."""
        source = node.inputs[0]
        state.x_acts[source], state.ref_acts[source] = sequences_input, reference_input
        loop = cls.linearized(walk, node, state)
        return loop.plain, loop.reference

    def backward_targets(self, walk, node, ms, state):
        """Every target's multipliers in one pass back through the loop (the targets stacked)."""
        delta = state.delta(node.name)
        stacked = tf.stack([m.collapse(delta) for m in ms])
        transposed = self.linearized(walk, node, state).transpose(stacked)
        return [{node.inputs[0]: Multipliers(g)} for g in tf.unstack(transposed, num=len(ms))]
