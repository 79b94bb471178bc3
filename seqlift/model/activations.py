"""The elementwise nonlinearities, one class each: value, derivative and exact difference.

Each kind is one :class:`ActivationFunction` subclass, registered in
:data:`ACTIVATIONS` by the :func:`kind` decorator, that holds

* its parameters (dataclass fields, with their defaults);
* ``__call__``, the forward value, computing exactly what Keras 3 computes;
* :meth:`~ActivationFunction.derivative`, the exact ``f'(x)`` (the left
  derivative at the kinks of piecewise-linear kinds);
* optionally :meth:`~ActivationFunction.closed_form_difference`, ``f(x0 + dx) − f(x0)``
  free of cancellation, for kinds that saturate (its mathematics in its docstring);
* optionally :attr:`~ActivationFunction.affine_image_of`, another kind ``g`` with
  ``f(x) = c + b · g(a x)`` (sigmoid of tanh);
* :attr:`~ActivationFunction.keras_names`, the ``activation=`` strings that
  mean this kind, with the parameters each implies (the Keras reader reads them here).

Adding an activation is adding one class here. The graph op that applies one
is :class:`seqlift.model.ops.Activation`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import tensorflow as tf

from seqlift.model.shapes import shape_text

__all__ = ["ACTIVATIONS", "ActivationFunction", "keras_activation_names", "kind"]

#: every kind by name
ACTIVATIONS: dict[str, type["ActivationFunction"]] = {}


def kind(cls: type["ActivationFunction"]) -> type["ActivationFunction"]:
    """Class decorator: register an activation kind under its ``name``."""
    if cls.name in ACTIVATIONS:
        raise ValueError(f"activation kind {cls.name!r} is registered twice")
    ACTIVATIONS[cls.name] = cls
    return cls


def keras_activation_names() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every Keras ``activation=`` string seqlift reads: the kind it means and that kind's parameters."""
    return {
        keras_name: (name, dict(params))
        for name, cls in ACTIVATIONS.items()
        for keras_name, params in cls.keras_names.items()
    }


@dataclass(eq=False)
class ActivationFunction:
    """An elementwise nonlinearity ``f``; subclasses are the kinds (see the module docstring)."""

    #: the kind's name, as ``Activation(kind)`` takes it
    name: ClassVar[str]
    #: Keras ``activation=`` strings meaning this kind, and the parameters each implies
    keras_names: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: whether the kind computes with IEEE-exact operations only (compare, multiply, add, clip), which give
    #: every element the same bits whatever the tensor's size (others: :func:`seqlift.model.invariant.elementwise`)
    exact_arithmetic: ClassVar[bool] = False
    #: ``closed_form_difference(x0, dx, plain)`` where the kind has one (see the subclasses), else None
    closed_form_difference: ClassVar[Callable[..., tf.Tensor] | None] = None
    #: ``(g, a, b, c)`` where ``f(x) = c + b · g(a x)`` for the kind named ``g`` and ``a > 0``, else None: a
    #: rule compiled once per kind and shape (a recurrent cell's) then runs ``g``'s compilation for both
    affine_image_of: ClassVar[tuple[str, float, float, float] | None] = None

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        """The kind's parameters (its dataclass fields)."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_parameters(cls, **given: Any) -> "ActivationFunction":
        """The kind with those of ``given`` it takes; None values and other parameters are ignored."""
        return cls(**{k: v for k, v in given.items() if k in cls.parameter_names() and v is not None})

    def __call__(self, x: tf.Tensor) -> tf.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, x: tf.Tensor) -> tf.Tensor:  # pragma: no cover - abstract
        """The exact elementwise derivative ``f'(x)``."""
        raise NotImplementedError

    @property
    def weights(self) -> dict[str, tf.Tensor]:
        """Learned parameters as tensors (PReLU's slopes); empty for the others."""
        return {}

    def describe_parameters(self) -> list[str]:
        """The parameters worth showing in a model summary."""
        return []


# --------------------------------------------------------------------------- piecewise linear
@kind
@dataclass(eq=False)
class ReLU(ActivationFunction):
    """Keras' ``ReLU`` layer: ``min(x, max_value)`` for ``x > threshold``, else
    ``negative_slope · (x − threshold)``; plain ``max(x, 0)`` by default."""

    exact_arithmetic = True
    name = "relu"
    keras_names = {"relu": {}, "relu6": {"max_value": 6.0}}
    max_value: float | None = None
    negative_slope: float = 0.0
    threshold: float = 0.0

    def __post_init__(self) -> None:
        self.max_value = None if self.max_value is None else float(self.max_value)
        self.negative_slope = float(self.negative_slope or 0.0)
        self.threshold = float(self.threshold or 0.0)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        slope, top, thr = self.negative_slope, self.max_value, self.threshold
        if slope == 0.0 and top is None and thr == 0.0:
            return tf.nn.relu(x)
        if slope != 0.0 and top is None and thr == 0.0:
            return tf.nn.leaky_relu(x, alpha=slope)
        y = tf.where(x > thr, x, tf.zeros_like(x)) if thr != 0.0 else tf.nn.relu(x)
        if top is not None:
            y = tf.clip_by_value(y, 0.0, top)
        if slope != 0.0:
            y = y - slope * tf.nn.relu(thr - x)
        return y

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        """1 between ``threshold`` and ``max_value``, ``negative_slope`` below, 0 above (0 at the kink)."""
        inside = x > self.threshold
        if self.max_value is not None:
            inside = tf.logical_and(inside, x < self.max_value)
        if self.negative_slope == 0.0 and self.max_value is None:
            return tf.cast(inside, x.dtype)
        # scalars broadcast: few graph operations (each costs in every compiled rule that uses the derivative)
        outside = tf.where(x > self.threshold, tf.constant(0.0, x.dtype), tf.constant(self.negative_slope, x.dtype))
        return tf.where(inside, tf.constant(1.0, x.dtype), outside)

    def describe_parameters(self) -> list[str]:
        shown = []
        if self.max_value is not None:
            shown.append(f"max_value={self.max_value:g}")
        if self.negative_slope:
            shown.append(f"negative_slope={self.negative_slope:g}")
        if self.threshold:
            shown.append(f"threshold={self.threshold:g}")
        return shown


@kind
@dataclass(eq=False)
class LeakyReLU(ActivationFunction):
    """``x`` above 0, ``alpha · x`` below (Keras ``negative_slope``, formerly ``alpha``)."""

    exact_arithmetic = True
    name = "leaky_relu"
    keras_names = {"leaky_relu": {"alpha": 0.2}}
    alpha: Any = 0.2

    def __post_init__(self) -> None:
        self.alpha = float(self.alpha)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.leaky_relu(x, alpha=self.alpha)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        """1 above 0, ``alpha`` below (``alpha`` at 0)."""
        one = tf.ones_like(x)
        return tf.where(x > 0, one, self.alpha * one)

    def describe_parameters(self) -> list[str]:
        return [f"alpha={self.alpha:g}"]


@kind
@dataclass(eq=False)
class PReLU(LeakyReLU):
    """A leaky ReLU with learned slopes: ``alpha`` is a tensor shaped to broadcast on
    the input without its batch axis (Keras' ``PReLU`` layer). Its derivative is the leaky ReLU's."""

    name = "prelu"
    keras_names = {}
    alpha: Any = None

    def __post_init__(self) -> None:
        if self.alpha is None:
            raise ValueError("a prelu activation needs its alpha tensor")
        self.alpha = tf.constant(np.asarray(self.alpha, dtype=np.float32))

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        # as Keras: relu(x) - alpha * relu(-x)
        return tf.nn.relu(x) - self.alpha * tf.nn.relu(-x)

    @property
    def weights(self) -> dict[str, tf.Tensor]:
        return {"alpha": self.alpha}

    def describe_parameters(self) -> list[str]:
        return [f"alpha {shape_text(self.alpha.shape)}"]


# --------------------------------------------------------------------------- saturating
def _tanh_difference(x0: tf.Tensor, dx: tf.Tensor, plain: tf.Tensor) -> tf.Tensor:
    """``tanh(x0 + dx) − tanh(x0)`` by the closed form of :meth:`Tanh.closed_form_difference`.

    ``plain`` is the direct difference, used where the two points lie on
    opposite sides of 0.
    """
    side = tf.sign(x0)
    same = side * tf.sign(x0 + dx) > 0
    u, d = tf.abs(x0), side * dx
    v = tf.maximum(u + d, 0.0)  # |x0 + dx| where both lie on one side (the only place it is used)
    closed = side * tf.sign(d) * 2.0 * tf.exp(-2.0 * tf.minimum(u, v)) * -tf.math.expm1(-2.0 * tf.abs(d)) / (
        (1.0 + tf.exp(-2.0 * u)) * (1.0 + tf.exp(-2.0 * v)))
    return tf.where(same, closed, plain)


@kind
@dataclass(eq=False)
class Tanh(ActivationFunction):
    """The hyperbolic tangent."""

    name = "tanh"
    keras_names = {"tanh": {}}

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.tanh(x)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        t = tf.tanh(x)
        return 1.0 - t * t

    def closed_form_difference(self, x0: tf.Tensor, dx: tf.Tensor, plain: tf.Tensor) -> tf.Tensor:
        """``tanh(x0 + dx) − tanh(x0)`` without subtracting two values that round alike.

        Where tanh saturates, ``tanh(x0 + dx)`` and ``tanh(x0)`` round to nearly
        the same float32 number and their difference keeps few correct digits
        (none once both round to 1), which the Rescale and RevealCancel
        quotients ``Δy / Δx`` would pass on to every input below. With
        ``u = |x0|`` and ``v = |x0 + dx|`` on the same side of 0 (``s`` its
        sign, ``d = s·dx = v − u``; every exponent is ≤ 0)::

            s · sign(d) · 2 e^(−2 min(u, v)) · (−expm1(−2|d|)) / ((1 + e^(−2u)) (1 + e^(−2v)))

        and the plain difference across 0, where nothing cancels.
        """
        return _tanh_difference(x0, dx, plain)


@kind
@dataclass(eq=False)
class HardSigmoid(ActivationFunction):
    """``clip(slope · x + ½, 0, 1)``: Keras 3's ``hard_sigmoid`` has slope 1/6 (``relu6(x + 3) / 6``),
    Keras 2 and tf.keras 2's 0.2 (the Keras reader sets it from the Keras version that wrote the file)."""

    exact_arithmetic = True
    name = "hard_sigmoid"
    keras_names = {"hard_sigmoid": {}}
    slope: float = 1.0 / 6.0

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(self.slope * x + 0.5, 0.0, 1.0)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        """``slope`` where ``|x| < ½ / slope``, else 0."""
        return tf.where(tf.abs(x) < 0.5 / self.slope, tf.fill(tf.shape(x), tf.constant(self.slope, x.dtype)),
                        tf.zeros_like(x))

    def describe_parameters(self) -> list[str]:
        return [f"slope={self.slope:g}"]


@kind
@dataclass(eq=False)
class Sigmoid(ActivationFunction):
    """The logistic function ``σ(x) = 1 / (1 + e^(−x))``."""

    name = "sigmoid"
    keras_names = {"sigmoid": {}}
    #: ``σ(x) = ½ + ½ tanh(x / 2)``
    affine_image_of = ("tanh", 0.5, 0.5, 0.5)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.sigmoid(x)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        s = tf.sigmoid(x)
        return s * (1.0 - s)

    def closed_form_difference(self, x0: tf.Tensor, dx: tf.Tensor, plain: tf.Tensor) -> tf.Tensor:
        """``σ(a) − σ(b) = ½ [tanh(a/2) − tanh(b/2)]``, by tanh's closed form."""
        return 0.5 * _tanh_difference(0.5 * x0, 0.5 * dx, 2.0 * plain)


@kind
@dataclass(eq=False)
class Softplus(ActivationFunction):
    """``log(1 + e^x)``."""

    name = "softplus"
    keras_names = {"softplus": {}}
    #: the closed form is used for |dx| up to this; beyond, the plain difference has no
    #: cancellation to fear, while ``1 + σ(x0) expm1(dx)`` would cancel for large negative dx
    SPAN: ClassVar[float] = 1.0

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.math.softplus(x)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        return tf.sigmoid(x)

    def closed_form_difference(self, x0: tf.Tensor, dx: tf.Tensor, plain: tf.Tensor) -> tf.Tensor:
        """``log1p(σ(x0) · expm1(dx))`` for ``|dx| ≤ SPAN``, the plain difference beyond."""
        closed = tf.math.log1p(tf.sigmoid(x0) * tf.math.expm1(tf.minimum(dx, self.SPAN)))
        return tf.where(tf.abs(dx) <= self.SPAN, closed, plain)


def _exponential_below_zero_difference(x0: tf.Tensor, dx: tf.Tensor, plain: tf.Tensor, alpha: float,
                                       scale: float) -> tf.Tensor:
    """``f(x0 + dx) − f(x0)`` of ``f(x) = scale · (x if x > 0 else α (eˣ − 1))`` (ELU, SELU).

    Where both points are below 0 it is ``α e^(x0) expm1(dx) = −α e^(x0 + dx) expm1(−dx)``
    (times ``scale``), taking the form whose factors stay within [−1, 1]; where
    both are above 0 it is ``scale · dx``; across 0 the plain difference.
    """
    x1 = x0 + dx
    # eᵇ expm1(d) = −eᵃ expm1(−d) with a = b + d: take the form whose factors stay within [−1, 1]
    rising = -tf.exp(tf.minimum(x1, 0.0)) * tf.math.expm1(-tf.maximum(dx, 0.0))
    falling = tf.exp(tf.minimum(x0, 0.0)) * tf.math.expm1(tf.minimum(dx, 0.0))
    below = scale * alpha * tf.where(dx > 0, rising, falling)
    return tf.where(tf.logical_and(x0 <= 0.0, x1 <= 0.0), below,
                    tf.where(tf.logical_and(x0 > 0.0, x1 > 0.0), scale * dx, plain))


@kind
@dataclass(eq=False)
class ELU(ActivationFunction):
    """``x`` above 0, ``alpha · (eˣ − 1)`` below."""

    name = "elu"
    keras_names = {"elu": {}}
    alpha: float = 1.0

    def __post_init__(self) -> None:
        self.alpha = float(self.alpha)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        y = tf.nn.elu(x)
        return y if self.alpha == 1.0 else tf.where(x > 0, y, self.alpha * y)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        return tf.where(x > 0, tf.ones_like(x), self.alpha * tf.exp(x))

    def closed_form_difference(self, x0: tf.Tensor, dx: tf.Tensor, plain: tf.Tensor) -> tf.Tensor:
        """See :func:`_exponential_below_zero_difference` (scale 1)."""
        return _exponential_below_zero_difference(x0, dx, plain, self.alpha, 1.0)

    def describe_parameters(self) -> list[str]:
        return [f"alpha={self.alpha:g}"]


@kind
@dataclass(eq=False)
class SELU(ActivationFunction):
    """The scaled ELU, ``λ · elu_α(x)`` with the fixed constants of Klambauer et al. (2017)."""

    name = "selu"
    keras_names = {"selu": {}}
    ALPHA: ClassVar[float] = 1.6732632423543772848170429916717
    SCALE: ClassVar[float] = 1.0507009873554804934193349852946

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.selu(x)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        return self.SCALE * tf.where(x > 0, tf.ones_like(x), self.ALPHA * tf.exp(x))

    def closed_form_difference(self, x0: tf.Tensor, dx: tf.Tensor, plain: tf.Tensor) -> tf.Tensor:
        """See :func:`_exponential_below_zero_difference` (ELU's, times λ)."""
        return _exponential_below_zero_difference(x0, dx, plain, self.ALPHA, self.SCALE)


# --------------------------------------------------------------------------- smooth, non-saturating
@kind
@dataclass(eq=False)
class GELU(ActivationFunction):
    """``x · Φ(x)`` (the exact erf form, Keras 3's default), or its tanh approximation."""

    name = "gelu"
    keras_names = {"gelu": {}}
    approximate: bool = False

    def __post_init__(self) -> None:
        self.approximate = bool(self.approximate)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.gelu(x, approximate=self.approximate)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        if self.approximate:
            c = math.sqrt(2.0 / math.pi)
            inner = c * (x + 0.044715 * x * x * x)
            t = tf.tanh(inner)
            return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * x * x)
        cdf = 0.5 * (1.0 + tf.math.erf(x / math.sqrt(2.0)))
        pdf = tf.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return cdf + x * pdf

    def describe_parameters(self) -> list[str]:
        return ["approximate"] if self.approximate else []


@kind
@dataclass(eq=False)
class Swish(ActivationFunction):
    """``x · σ(x)`` (also called SiLU)."""

    name = "swish"
    keras_names = {"swish": {}, "silu": {}}

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.silu(x)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        s = tf.sigmoid(x)
        return s + x * s * (1.0 - s)


@kind
@dataclass(eq=False)
class Exponential(ActivationFunction):
    """``eˣ``."""

    name = "exponential"
    keras_names = {"exponential": {}}

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.exp(x)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        return tf.exp(x)


@kind
@dataclass(eq=False)
class Log(ActivationFunction):
    """The natural logarithm (what a ``Lambda`` declared ``log`` computes; no Keras ``activation=`` name)."""

    name = "log"

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.math.log(x)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        return 1.0 / x

    def closed_form_difference(self, x0: tf.Tensor, dx: tf.Tensor, plain: tf.Tensor) -> tf.Tensor:
        """``log(x0 + dx) − log(x0) = log1p(dx / x0)``: no subtraction of two logarithms that round alike
        where ``dx`` is small beside ``x0``."""
        return tf.math.log1p(dx / x0)
# --------------------------------------------------------------------------- inside normalisation layers
@kind
@dataclass(eq=False)
class InverseSqrt(ActivationFunction):
    """``1 / √(v + ε)``: the inverse standard deviation of a normalisation layer, from its variance ``v``."""

    name = "inverse_sqrt"
    keras_names = {}
    epsilon: float = 1e-3

    def __post_init__(self) -> None:
        self.epsilon = float(self.epsilon)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.math.rsqrt(x + self.epsilon)

    def derivative(self, x: tf.Tensor) -> tf.Tensor:
        return -0.5 * tf.math.rsqrt(x + self.epsilon) / (x + self.epsilon)

    def closed_form_difference(self, x0: tf.Tensor, dx: tf.Tensor, plain: tf.Tensor) -> tf.Tensor:
        """``1/√(a + d) − 1/√a = −d / (√a √(a + d) (√a + √(a + d)))`` with ``a = x0 + ε``: no cancellation."""
        a, b = tf.sqrt(x0 + self.epsilon), tf.sqrt(x0 + dx + self.epsilon)
        return -dx / (a * b * (a + b))

    def describe_parameters(self) -> list[str]:
        return [f"epsilon={self.epsilon:g}"]
