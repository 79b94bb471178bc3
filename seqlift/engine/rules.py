"""The DeepLIFT rules, one function each, with the paper's equations.

Notation follows Shrikumar, Greenside & Kundaje, "Learning Important Features
Through Propagating Activation Differences", ICML 2017 (arXiv 1704.02685).
For a neuron ``y = f(x)`` with reference input ``x0``, ``Δx = x - x0`` and
``Δy = f(x) - f(x0)``. A *multiplier* ``m_{Δx Δt}`` is the contribution of
``Δx`` to the change of the target ``Δt`` divided by ``Δx`` (eq. 2); the chain
rule for multipliers (eq. 3) lets them be propagated backwards layer by layer,
and *summation-to-delta* (eq. 1), ``Σ_i m_{Δx_i Δt} Δx_i = Δt``, holds exactly
when every rule below satisfies it for its own layer.

Every function here works elementwise on tensors whose first axis runs over
(sequence, reference) pairs. Multipliers travel as a pair ``(m_plus, m_minus)``
for the positive and negative parts of a layer's difference-from-reference
(section 3.5.1); the two are the same tensor object until a RevealCancel
nonlinearity separates them, and a Dense or convolution layer joins them again.
"""
from __future__ import annotations

import itertools
import math
from typing import Callable

import tensorflow as tf

from seqlift.model import compile_ahead

#: below this |Δx| a difference quotient is replaced by its limit (a derivative)
NEAR_ZERO = 1e-7


def fused(rule: Callable) -> Callable:
    """A rule compiled with XLA, which fuses its chain of elementwise operations (the nonlinearities'
    rules, :mod:`seqlift.engine.activation_rules`, and max pooling's routed pass use it).

    Each rule reads and writes several tensors of a layer's size; unfused, the
    memory traffic of those passes costs more than the layer's convolution.
    XLA compiles once per shape (~0.2 s each, in the first call), so only the
    long chains are fused: ``g + sign(Δx) ⊙ a`` (the kernel's split backward)
    runs as TensorFlow's three kernels, which cost the same on ChromBPNet's
    revealcancel (1.90x the gradient against 2.04x fused, side by side) and
    spare its nine convolution shapes' compilations (first call 3.7 -> 3.1 s).
    The compilations of a first call start ahead, in a thread of their own, as
    the rules are traced (:mod:`seqlift.model.compile_ahead`).
    """
    return compile_ahead.CompiledAhead(tf.function(rule, jit_compile=True, autograph=False, reduce_retracing=True))


def split_by_sign(delta: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Split a difference-from-reference into positive and negative parts.

    ``Δx⁺ = max(Δx, 0)`` and ``Δx⁻ = min(Δx, 0)``, so ``Δx = Δx⁺ + Δx⁻``. This is
    how an input layer (or any layer without a finer split) attributes its
    difference to the two parts (section 3.5.1).
    """
    zero = tf.zeros_like(delta)
    return tf.maximum(delta, zero), tf.minimum(delta, zero)


def rescale_multiplier(x0: tf.Tensor, delta_x: tf.Tensor, delta_y: tf.Tensor, derivative) -> tf.Tensor:
    """The Rescale rule for an elementwise nonlinearity (section 3.5.2, eq. 6).

    ``m_{ΔxΔy} = Δy / Δx``, so that ``m Δx = Δy`` (summation-to-delta through the
    neuron). Where ``|Δx| < NEAR_ZERO`` the quotient is replaced by its limit,
    the derivative at the reference ``f'(x0)``. (The original deeplift takes the
    derivative at ``f(x0)`` instead of ``x0`` for sigmoid and tanh, which is wrong.)

    Parameters
    ----------
    x0, delta_x, delta_y : tf.Tensor
        Reference input, input difference and output difference.
    derivative : callable
        ``f'`` evaluated elementwise.
    """
    near_zero = tf.abs(delta_x) < NEAR_ZERO
    safe_dx = tf.where(near_zero, tf.ones_like(delta_x), delta_x)
    return tf.where(near_zero, derivative(x0), delta_y / safe_dx)


def revealcancel_parts(x0: tf.Tensor, dx_pos: tf.Tensor, dx_neg: tf.Tensor, fn, difference=None) -> tuple[tf.Tensor, tf.Tensor]:
    """Output differences of the RevealCancel rule (section 3.5.3, eqs. 7-8).

    The positive and negative parts of the input difference are each given the
    average of their effect when added before and after the other::

        Δy⁺ = ½ [f(x0 + Δx⁺) − f(x0)] + ½ [f(x0 + Δx⁻ + Δx⁺) − f(x0 + Δx⁻)]
        Δy⁻ = ½ [f(x0 + Δx⁻) − f(x0)] + ½ [f(x0 + Δx⁺ + Δx⁻) − f(x0 + Δx⁺)]

    so that ``Δy⁺ + Δy⁻ = f(x0 + Δx⁺ + Δx⁻) − f(x0) = Δy``.

    Parameters
    ----------
    x0, dx_pos, dx_neg : tf.Tensor
        Reference input and the positive and negative parts of its difference.
    fn : callable
        ``f``; the four brackets are differences of its four values.
    difference : callable, optional
        ``difference(a, d) = f(a + d) − f(a)`` computed without subtracting
        (:meth:`seqlift.model.ops.Activation.difference`, for nonlinearities
        that saturate, where the float32 values of ``f`` round alike); each
        bracket is then one call.
    """
    if difference is not None:
        dy_pos = 0.5 * (difference(x0, dx_pos) + difference(x0 + dx_neg, dx_pos))
        dy_neg = 0.5 * (difference(x0, dx_neg) + difference(x0 + dx_pos, dx_neg))
        return dy_pos, dy_neg
    f0 = fn(x0)
    f_pos = fn(x0 + dx_pos)
    f_neg = fn(x0 + dx_neg)
    f_both = fn(x0 + dx_pos + dx_neg)
    dy_pos = 0.5 * ((f_pos - f0) + (f_both - f_neg))
    dy_neg = 0.5 * ((f_neg - f0) + (f_both - f_pos))
    return dy_pos, dy_neg


def revealcancel_multipliers(
    x0: tf.Tensor, dx_pos: tf.Tensor, dx_neg: tf.Tensor, dy_pos: tf.Tensor, dy_neg: tf.Tensor, derivative
) -> tuple[tf.Tensor, tf.Tensor]:
    """Multipliers of the RevealCancel rule: ``m⁺ = Δy⁺/Δx⁺`` and ``m⁻ = Δy⁻/Δx⁻``.

    Where a part is near zero the quotient is replaced by its limit, the
    average of the derivatives at the two points it is added at:
    ``lim_{Δx⁺→0} Δy⁺/Δx⁺ = ½ [f'(x0) + f'(x0 + Δx⁻)]`` (and symmetrically for
    ``Δx⁻``). The original deeplift divides by a 1e-7 pseudocount there, which
    leaves float32 rounding artefacts in the multipliers.
    """
    d0 = derivative(x0)
    pos_small = tf.abs(dx_pos) < NEAR_ZERO
    neg_small = tf.abs(dx_neg) < NEAR_ZERO
    one = tf.ones_like(dx_pos)
    m_pos = tf.where(
        pos_small, 0.5 * (d0 + derivative(x0 + dx_neg)), dy_pos / tf.where(pos_small, one, dx_pos)
    )
    m_neg = tf.where(
        neg_small, 0.5 * (d0 + derivative(x0 + dx_pos)), dy_neg / tf.where(neg_small, one, dx_neg)
    )
    return m_pos, m_neg


def kernel_split_forward(delta_y: tf.Tensor, abs_kernel_response: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Positive and negative parts of a Dense or convolution output (section 3.5.1).

    The paper's linear rule splits ``Δy = Σ_i w_i Δx_i`` by the sign of each term
    ``w_i Δx_i``: ``Δy⁺ = Σ_i [w_i Δx_i]⁺`` and ``Δy⁻ = Σ_i [w_i Δx_i]⁻``. Since
    ``|w_i Δx_i| = |w_i| |Δx_i|``, this is computed with one extra pass of the
    layer with kernel ``|W|`` on ``|Δx|``::

        Δy⁺ = ½ (Δy + |W| |Δx|),   Δy⁻ = ½ (Δy − |W| |Δx|).

    Parameters
    ----------
    delta_y : tf.Tensor
        ``W Δx`` (the layer's output difference; the bias cancels).
    abs_kernel_response : tf.Tensor
        ``|W| |Δx|``, the layer applied with kernel ``|W|`` and no bias to ``|Δx|``.
    """
    return 0.5 * (delta_y + abs_kernel_response), 0.5 * (delta_y - abs_kernel_response)


def scaled_parts(pos: tf.Tensor, neg: tf.Tensor, scale: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Parts of ``y = s ⊙ x + b`` (batch normalisation) from those of ``x``: a negative scale swaps them,
    ``Δy⁺ = s⁺ Δx⁺ + s⁻ Δx⁻`` and ``Δy⁻ = s⁺ Δx⁻ + s⁻ Δx⁺`` (``s⁺ = max(s, 0)``, ``s⁻ = min(s, 0)``)."""
    s_pos, s_neg = tf.maximum(scale, 0.0), tf.minimum(scale, 0.0)
    return s_pos * pos + s_neg * neg, s_pos * neg + s_neg * pos


def kernel_split_backward(delta_x: tf.Tensor, grad_mean: tf.Tensor, grad_abs_half: tf.Tensor) -> tf.Tensor:
    """Input multipliers of a Dense or convolution layer whose output parts differ.

    An input ``x_i`` with ``Δx_i > 0`` feeds ``Δy⁺`` through positive weights and
    ``Δy⁻`` through negative ones (and conversely for ``Δx_i < 0``), so::

        m_i = Σ_j [w_ij]⁺ m⁺_j + [w_ij]⁻ m⁻_j        if Δx_i > 0
        m_i = Σ_j [w_ij]⁻ m⁺_j + [w_ij]⁺ m⁻_j        if Δx_i < 0
        m_i = ½ Σ_j w_ij (m⁺_j + m⁻_j)               if Δx_i = 0

    which is, with ``Wᵀ`` the layer's transpose (its gradient map) and the
    output multipliers held as ``mean = ½(m⁺ + m⁻)``, ``half = ½(m⁺ − m⁻)``,
    ``m = Wᵀ mean + sign(Δx) ⊙ |W|ᵀ half``. Both parts of the input then carry
    the same multiplier (the split is joined again).

    Parameters
    ----------
    delta_x : tf.Tensor
        The layer's input difference.
    grad_mean : tf.Tensor
        ``Wᵀ mean``.
    grad_abs_half : tf.Tensor
        ``|W|ᵀ half``.
    """
    return grad_mean + tf.sign(delta_x) * grad_abs_half


def transpose_operands(terms: tuple[tf.Tensor, ...], mean: tf.Tensor, half: tf.Tensor
                       ) -> tuple[tf.Tensor, tf.Tensor]:
    """A convolution's two transpose operands below a RevealCancel nonlinearity.

    With ``m`` the nonlinearity's joined output multipliers (``terms``: ``(m,)``,
    or ``(Δx, g, a)`` for ``m = g + sign(Δx) ⊙ a``, :func:`kernel_split_backward`)
    and ``(mean, half)`` its RevealCancel multipliers, the convolution's
    output multipliers are ``m ⊙ mean`` and ``m ⊙ half``, which its transposes
    (``Wᵀ`` and ``|W|ᵀ``) read. Where the transposes convolve rows one by one
    or in blocks, each row's operands are made inside their loop
    (:class:`seqlift.model.invariant.RowwiseOperands`): no XLA compilation per
    layer shape (ChromBPNet's nine), and the row in the cache; elsewhere
    :func:`padded_products` makes them, padded.
    """
    m = terms[0] if len(terms) == 1 else kernel_split_backward(*terms)
    return m * mean, m * half


def padded_products_unfused(terms: tuple[tf.Tensor, ...], mean: tf.Tensor, half: tf.Tensor,
                            pads: tuple[tuple[int, int], ...]) -> tuple[tf.Tensor, tf.Tensor]:
    """:func:`transpose_operands` padded by ``pads`` for the transposes' forward convolutions."""
    return tuple(tf.pad(operand, pads) for operand in transpose_operands(terms, mean, half))


#: :func:`padded_products_unfused` in one fused pass over whole tensors, each element in the same operations
#: as unfused (the same bits)
padded_products = fused(padded_products_unfused)


def maxpool_routed_contributions(window_max_input, window_max_reference, multiplier):
    """Split the change of a max-pooling output between the two argmaxes.

    With ``y = max_i x_i`` and ``y0 = max_i x0_i``, let ``M = max(y, y0)``. Then
    ``Δy = (M − y0) + (y − M)``: the first term is credited to the argmax of the
    input and the second to the argmax of the reference. Each credited element
    ``i`` gets the contribution ``m · term``, and its multiplier is that
    contribution divided by its own ``Δx_i``; when ``Δx_i = 0`` the routed term
    is exactly zero, so summation-to-delta holds for any reference (the rule
    DeepSHAP and Captum use). The original deeplift routes ``m`` through the
    input's argmax only (``maxpool="gradient"``), which breaks summation-to-delta
    against a non-uniform reference.

    Returns
    -------
    (tf.Tensor, tf.Tensor)
        The output-gradients to route through the input's argmax and through the
        reference's argmax: ``m (M − y0)`` and ``m (y − M)``.
    """
    upper = tf.maximum(window_max_input, window_max_reference)
    return multiplier * (upper - window_max_reference), multiplier * (window_max_input - upper)


def product_multipliers(a0, delta_a, b0, delta_b):
    """Exact multipliers for a product ``y = a b`` (used inside the softmax rule).

    ``Δ(ab) = Δa (b0 + ½Δb) + Δb (a0 + ½Δa)`` exactly (the Shapley split of two
    factors), so ``m_a = b0 + ½Δb`` and ``m_b = a0 + ½Δa``.
    """
    return b0 + 0.5 * delta_b, a0 + 0.5 * delta_a


# --------------------------------------------------------------------------- several varying inputs
def shapley_coalitions(n: int, player: int) -> list[tuple[float, frozenset[int]]]:
    """The coalitions ``S`` of the other players of an ``n``-player game and their Shapley weights.

    The Shapley value of player ``i`` is its marginal effect averaged over
    the ``n!`` orders in which the players can join: over the coalitions
    ``S ⊆ N∖{i}`` that precede it, each with weight
    ``w(|S|) = |S|! (n − 1 − |S|)! / n!`` (the share of orders in which exactly
    ``S`` comes first). The weights of one player sum to 1.
    """
    others = [j for j in range(n) if j != player]
    coalitions = []
    for size in range(n):
        weight = math.factorial(size) * math.factorial(n - 1 - size) / math.factorial(n)
        coalitions.extend((weight, frozenset(members)) for members in itertools.combinations(others, size))
    return coalitions


def multilinear_multipliers(product, references: list[tf.Tensor], inputs: list[tf.Tensor],
                            output_multipliers: tf.Tensor) -> list[tf.Tensor]:
    """Exact multipliers of a multilinear op ``y = P(a_1, …, a_n)`` (a product of varying tensors).

    The inputs are the players of a game whose value is ``P``; input ``i``
    is credited its Shapley value, its change's marginal effect averaged over
    the orders in which the inputs change from reference to input
    (:func:`shapley_coalitions`)::

        φ_i = Σ_{S ⊆ N∖{i}} w(|S|) [P(a_i, a_S, a0_rest) − P(a0_i, a_S, a0_rest)]

    where ``a_S`` are the inputs in ``S`` at their input values and the rest
    at their references. The Shapley values sum to ``P(a) − P(a0) = Δy``
    (efficiency), so summation-to-delta holds exactly. ``P`` is linear in
    ``a_i``, so each bracket is ``P(Δa_i, a_S, a0_rest)``, linear in ``Δa_i``:
    the multipliers are, without any division,

        m_i = Σ_S w(|S|) ∂P/∂a_i (a_S, a0_rest)

    (a vector-Jacobian product of ``P`` in its ``i``-th slot at each
    coalition's point). For two inputs both weights are ½ and, ``P`` being
    linear in the other input, the two points merge into its midpoint:
    ``m_a = ∂P/∂a (b̄)`` with ``b̄ = ½(b + b0)``. For ``y = a b`` that is
    ``m_a = ½(b + b0)``, ``m_b = ½(a + a0)`` (:func:`product_multipliers`, what
    DeepSHAP does); for a matrix product ``Y = A B``, ``m_A = M B̄ᵀ`` and
    ``m_B = Āᵀ M``: every term ``A_ik B_kj`` of the sum split the same way.
    For three factors ``y = a b c``, ``m_a = ⅓ b0 c0 + ⅙ (b c0 + b0 c) + ⅓ b c``.

    Parameters
    ----------
    product : callable
        ``P``, taking the ``n`` inputs in order.
    references, inputs : list of tf.Tensor
        Each input's reference and input values (one row per pair).
    output_multipliers : tf.Tensor
        The multipliers of ``y``.

    Returns
    -------
    list of tf.Tensor
        The multipliers of each input, shaped like it.
    """
    n = len(inputs)
    slots = [tf.zeros_like(r) for r in references]  # any value: P is linear in the slot differentiated
    with tf.GradientTape() as tape:
        tape.watch(slots)
        terms = []
        for i in range(n):
            if n == 2:
                other = 1 - i
                args = [None, None]
                args[i], args[other] = slots[i], 0.5 * (inputs[other] + references[other])
                terms.append(product(*args))
                continue
            for weight, members in shapley_coalitions(n, i):
                args = [slots[j] if j == i else inputs[j] if j in members else references[j] for j in range(n)]
                terms.append(weight * product(*args))
        total = tf.add_n(terms)
    return tape.gradient(total, slots, output_gradients=output_multipliers)


def shapley_split(fn, references: list[tf.Tensor], inputs: list[tf.Tensor]) -> list[tf.Tensor]:
    """Multipliers of an elementwise function of several varying inputs (minimum, maximum), by Shapley values.

    Each input ``i`` is credited, elementwise,

        φ_i = Σ_{S ⊆ N∖{i}} w(|S|) [f(x_{S∪{i}}) − f(x_S)]

    (:func:`shapley_coalitions`; ``x_S`` has the inputs in ``S`` at their
    input values and the others at their references), and ``Σ_i φ_i =
    f(x) − f(x0)`` exactly. For two inputs::

        φ_a = ½ [f(a, b0) − f(a0, b0)] + ½ [f(a, b) − f(a0, b)]

    which for ``min(a, b)`` is the paper's motivating case for RevealCancel:
    with ``a0 = b0 = 0`` and ``a = b = 1`` each input is credited ½ (the
    gradient credits only one, or neither at ``a = b``). The multipliers are
    ``φ_i / Δx_i``; where ``|Δx_i| < NEAR_ZERO`` the bracket vanishes and the
    multiplier is its limit, ``Σ_S w(|S|) ∂f/∂x_i (x_S)``. ``f`` is evaluated
    at each of the ``2ⁿ`` corners once.

    Returns
    -------
    list of tf.Tensor
        Per input, the multipliers shaped like the output ``f(x)`` (inputs
        that broadcast are summed back to their shape by the caller).
    """
    n = len(inputs)
    corners = {}
    for size in range(n + 1):
        for members in itertools.combinations(range(n), size):
            corners[frozenset(members)] = fn(*[inputs[j] if j in members else references[j] for j in range(n)])
    shape = tf.shape(corners[frozenset()])
    multipliers = []
    for i in range(n):
        share = tf.add_n([w * (corners[s | {i}] - corners[s]) for w, s in shapley_coalitions(n, i)])
        slopes = []
        for w, s in shapley_coalitions(n, i):
            point = tf.broadcast_to(references[i], shape)
            with tf.GradientTape() as tape:
                tape.watch(point)
                value = fn(*[point if j == i else inputs[j] if j in s else references[j] for j in range(n)])
            slopes.append(w * tape.gradient(value, point))
        delta = tf.broadcast_to(inputs[i] - references[i], shape)
        small = tf.abs(delta) < NEAR_ZERO
        multipliers.append(tf.where(small, tf.add_n(slopes), share / tf.where(small, tf.ones_like(delta), delta)))
    return multipliers
