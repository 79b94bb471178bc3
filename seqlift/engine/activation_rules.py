"""The nonlinearities' rules as XLA-compiled functions of the activation, one trace per kind and parameters.

Each function here takes the activation op (:class:`seqlift.model.ops.Activation`)
and tensors, and applies :mod:`seqlift.engine.rules` inside one
:func:`~seqlift.engine.rules.fused` function, which XLA compiles once per
shape. ``tf.function`` traces its function again for every Python argument
it has not seen, and two activation ops of one kind and parameters are
different objects (as are two bound methods of one op: ``op.derivative``
is a new object at every access). So each function is handed
:func:`shared`'s one activation per kind and parameters and reaches the
derivative and the closed-form difference through it: ChromBPNet's nine
ReLU layers are traced once, not nine times (~60 ms each), and layers whose
values have one shape share one XLA compilation.
"""
from __future__ import annotations

import tensorflow as tf

from seqlift.engine import rules
from seqlift.model import ops

_SHARED: dict[tuple, ops.Activation] = {}


def shared(function: ops.Activation) -> ops.Activation:
    """One activation per kind and parameters; an activation with weights (PReLU) is its own."""
    if function.weights:
        return function
    parameters = tuple((name, getattr(function.function, name)) for name in function.function.parameter_names())
    return _SHARED.setdefault((function.kind, parameters), function)


def rescale_multiplier(function: ops.Activation, x0: tf.Tensor, dx: tf.Tensor, dy: tf.Tensor) -> tf.Tensor:
    """The Rescale multiplier ``Δy/Δx`` of a node (:func:`seqlift.engine.rules.rescale_multiplier`)."""
    return _rescale_multiplier(shared(function), x0, dx, dy)


def revealcancel_node(function: ops.Activation, x0: tf.Tensor, dx_pos: tf.Tensor, dx_neg: tf.Tensor,
                      parts: bool = True) -> tuple[tf.Tensor, ...]:
    """A node's RevealCancel output parts ``Δy⁺, Δy⁻`` and its multipliers as mean and half-difference,
    ``½ (m⁺ + m⁻)`` and ``½ (m⁺ − m⁻)`` (what its backward pass applies); with ``parts=False`` the
    multipliers alone (the parts, a layer-sized pass each, are not written out)."""
    return (_revealcancel_node if parts else _revealcancel_node_multipliers)(shared(function), x0, dx_pos, dx_neg)


def revealcancel_after_kernel(function: ops.Activation, x0: tf.Tensor, delta_kernel: tf.Tensor,
                              abs_response: tf.Tensor, parts: bool = True) -> tuple[tf.Tensor, ...]:
    """:func:`revealcancel_node` of a node fed by a Dense or convolution layer, whose parts are made from
    the layer's ``Δy`` and ``|W| |Δx|`` (:func:`seqlift.engine.rules.kernel_split_forward`) in the same pass."""
    rule = _revealcancel_after_kernel if parts else _revealcancel_after_kernel_multipliers
    return rule(shared(function), x0, delta_kernel, abs_response)


def revealcancel_after_scaled_kernel(function: ops.Activation, x0: tf.Tensor, delta_kernel: tf.Tensor,
                                     abs_response: tf.Tensor, scale: tf.Tensor, parts: bool = True) -> tuple[tf.Tensor, ...]:
    """:func:`revealcancel_after_kernel` of a node fed by a batch normalisation ``s ⊙ y + b`` of a Dense or
    convolution layer's ``y``: the layer's parts, then the normalisation's
    (:func:`seqlift.engine.rules.scaled_parts`), made in the same pass."""
    rule = _revealcancel_after_scaled_kernel if parts else _revealcancel_after_scaled_kernel_multipliers
    return rule(shared(function), x0, delta_kernel, abs_response, scale)


def rescaled_in_cell(function: ops.Activation, x0: tf.Tensor, dx: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``Δy`` (by the closed form where there is one) and the Rescale multiplier of an activation inside a
    recurrent cell (through :func:`_cell_form`)."""
    return _rescaled_in_cell(*_cell_form(function), x0, dx)


def revealcancel_in_cell(function: ops.Activation, x0: tf.Tensor, dx_pos: tf.Tensor,
                         dx_neg: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """The RevealCancel parts ``Δy⁺, Δy⁻`` and their multipliers ``m⁺, m⁻`` of an activation inside a
    recurrent cell (through :func:`_cell_form`)."""
    return _revealcancel_in_cell(*_cell_form(function), x0, dx_pos, dx_neg)


def _cell_form(function: ops.Activation) -> tuple[ops.Activation, tf.Tensor]:
    """The activation ``g`` a cell's rule runs for ``function`` and the scales ``(a, b)`` (a ``(2,)``
    tensor) with ``f(x) = c + b · g(a x)``: ``g`` itself and ``(1, 1)``, or the kind ``function`` is an
    affine image of (:attr:`~seqlift.model.activations.ActivationFunction.affine_image_of`).

    A cell's rules are compiled once per activation and shape, ~0.4 s of CPU
    each for tanh and sigmoid (differences and derivatives at four points),
    and an LSTM's or GRU's sigmoid gates have its tanh's shape: run as
    tanh's, the sigmoid costs no compilation of its own. With ``u = a x``
    (``a > 0`` keeps the parts' signs)::

        Δy± = b Δg±,   m± = Δy± / Δx± = a b m_g±

    and ``(1, 1)`` leaves ``g``'s values exact. The rules give no ``f(x0)``:
    as ``c + b g(u0)`` it would lose a small sigmoid's digits (``½ + ½ tanh``
    rounds ``σ(−20)`` to 0), so the cell takes it from the activation itself.
    """
    image = function.function.affine_image_of
    if image is None or function.weights:
        return shared(function), tf.constant([1.0, 1.0])
    kind, a, b, _ = image
    return shared(ops.Activation(kind)), tf.constant([a, b], tf.float32)


def _closed_form(function: ops.Activation):
    return function.difference if function.has_closed_form_difference else None


@rules.fused
def _rescale_multiplier(function, x0, dx, dy):
    return rules.rescale_multiplier(x0, dx, dy, function.derivative)


def _revealcancel(function, x0, dx_pos, dx_neg):
    dy_pos, dy_neg = rules.revealcancel_parts(x0, dx_pos, dx_neg, function, _closed_form(function))
    r_pos, r_neg = rules.revealcancel_multipliers(x0, dx_pos, dx_neg, dy_pos, dy_neg, function.derivative)
    return dy_pos, dy_neg, 0.5 * (r_pos + r_neg), 0.5 * (r_pos - r_neg)


def _multipliers_of(rule):
    """``rule`` giving the multipliers alone (its last two values)."""
    return lambda *args: rule(*args)[2:]


def _revealcancel_after_kernel_parts(function, x0, delta_kernel, abs_response):
    return _revealcancel(function, x0, *rules.kernel_split_forward(delta_kernel, abs_response))


def _revealcancel_after_scaled_kernel_parts(function, x0, delta_kernel, abs_response, scale):
    return _revealcancel(function, x0, *rules.scaled_parts(*rules.kernel_split_forward(delta_kernel, abs_response),
                                                           scale))


_revealcancel_node = rules.fused(_revealcancel)
_revealcancel_node_multipliers = rules.fused(_multipliers_of(_revealcancel))
_revealcancel_after_kernel = rules.fused(_revealcancel_after_kernel_parts)
_revealcancel_after_kernel_multipliers = rules.fused(_multipliers_of(_revealcancel_after_kernel_parts))
_revealcancel_after_scaled_kernel = rules.fused(_revealcancel_after_scaled_kernel_parts)
_revealcancel_after_scaled_kernel_multipliers = rules.fused(_multipliers_of(_revealcancel_after_scaled_kernel_parts))


@rules.fused
def _rescaled_in_cell(function, scales, x0, dx):
    a, b = scales[0], scales[1]
    u0, du = a * x0, a * dx
    dg = function.difference(u0, du)
    return b * dg, (a * b) * rules.rescale_multiplier(u0, du, dg, function.derivative)


@rules.fused
def _revealcancel_in_cell(function, scales, x0, dx_pos, dx_neg):
    a, b = scales[0], scales[1]
    u0, du_pos, du_neg = a * x0, a * dx_pos, a * dx_neg
    dg_pos, dg_neg = rules.revealcancel_parts(u0, du_pos, du_neg, function, _closed_form(function))
    m_pos, m_neg = rules.revealcancel_multipliers(u0, du_pos, du_neg, dg_pos, dg_neg, function.derivative)
    return b * dg_pos, b * dg_neg, (a * b) * m_pos, (a * b) * m_neg
