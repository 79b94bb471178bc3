"""``Lambda`` layers, declared by what they compute: the menu of kinds and the declarations' syntax.

A Keras ``Lambda`` layer stores a Python function as bytecode, which seqlift
never runs. The user says what it computes instead, by the layer's name:
``seqlift.load_model(path, lambdas={"logcount_predictions": "logsumexp"})``, or
``--lambda logcount_predictions=logsumexp`` on every command that takes
``--model``. A declaration is ``KIND``, ``KIND:AXIS`` or ``KIND:AXIS:squeeze``:

* the elementwise kinds (``identity``, ``exp``, ``log``, ``softplus``,
  ``sigmoid``, ``tanh``, ``relu``) take no axis;
* the reductions (``sum``, ``mean``, ``max``, ``logsumexp``) and ``softmax``
  work over ``AXIS`` (default ``-1``, the last), counting the batch axis as 0
  as TensorFlow's functions inside the Lambda do. Reductions keep the reduced
  axis with length 1 (TensorFlow's ``keepdims=True``, as ChromBPNet's
  ``reduce_logsumexp``); ``:squeeze`` drops it.

A layer name may be a shell-style pattern (``*/profile=identity`` declares
all of BPNet's output-naming Lambdas); an exact name wins over a pattern.
Each kind becomes ops the engine already explains: activations
(:mod:`seqlift.model.activations`), the reductions of
:mod:`seqlift.model.reductions` (sum and mean are linear, max is routed like
max pooling, log-sum-exp has its own exact rule), softmax.

Reading declarations imports no TensorFlow; building their ops does.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

from seqlift.errors import SeqliftError

if TYPE_CHECKING:
    from seqlift.model.ops import Op

__all__ = ["LAMBDA_KINDS", "LambdaDeclaration", "parse_declaration", "parse_lambda_options", "declaration_for",
           "lambda_op", "lambda_help"]

#: kind -> (what it computes, whether it takes an axis, whether it reduces the axis)
LAMBDA_KINDS: dict[str, tuple[str, bool, bool]] = {
    "identity": ("x (e.g. BPNet's output-naming Lambdas)", False, False),
    "exp": ("exp(x)", False, False),
    "log": ("log(x)", False, False),
    "softplus": ("log(1 + exp(x))", False, False),
    "sigmoid": ("1 / (1 + exp(-x))", False, False),
    "tanh": ("tanh(x)", False, False),
    "relu": ("max(x, 0)", False, False),
    "softmax": ("softmax over the axis", True, False),
    "sum": ("sum over the axis", True, True),
    "mean": ("mean over the axis", True, True),
    "max": ("maximum over the axis", True, True),
    "logsumexp": ("log Σ exp(x) over the axis (ChromBPNet's joined counts)", True, True),
}

#: the Activation kind of each elementwise Lambda kind
_ACTIVATION_OF = {"exp": "exponential", "log": "log", "softplus": "softplus", "sigmoid": "sigmoid",
                  "tanh": "tanh", "relu": "relu"}


@dataclass(frozen=True)
class LambdaDeclaration:
    """What a Lambda layer computes: a kind of :data:`LAMBDA_KINDS`, its axis, and whether a reduction keeps it."""

    kind: str
    axis: int = -1
    keepdims: bool = True

    def __str__(self) -> str:
        if not LAMBDA_KINDS[self.kind][1]:
            return self.kind
        return f"{self.kind}:{self.axis}" + ("" if self.keepdims or not LAMBDA_KINDS[self.kind][2] else ":squeeze")


def lambda_help() -> str:
    """One line naming the kinds and the syntax (for errors and ``--help``)."""
    return (f"kinds: {', '.join(LAMBDA_KINDS)}; reductions and softmax take KIND:AXIS (default -1, the last; "
            "the batch axis is 0) and keep the reduced axis unless KIND:AXIS:squeeze")


def parse_declaration(text: str, name: str = "") -> LambdaDeclaration:
    """``KIND``, ``KIND:AXIS`` or ``KIND:AXIS:squeeze`` as a :class:`LambdaDeclaration` (``name``: for errors)."""
    where = f" for {name!r}" if name else ""
    parts = [p.strip() for p in str(text).split(":")]
    kind = parts[0]
    if kind not in LAMBDA_KINDS:
        raise SeqliftError(f"unknown Lambda kind {kind!r}{where}; {lambda_help()}")
    _, takes_axis, reduces = LAMBDA_KINDS[kind]
    if len(parts) > 1 and not takes_axis:
        raise SeqliftError(f"Lambda kind {kind!r}{where} is elementwise and takes no axis ({text!r})")
    if len(parts) > 3 or (len(parts) == 3 and (parts[2] != "squeeze" or not reduces)):
        raise SeqliftError(f"cannot read the Lambda declaration {text!r}{where}; {lambda_help()}")
    axis = -1
    if len(parts) > 1:
        try:
            axis = int(parts[1])
        except ValueError:
            raise SeqliftError(f"the axis of Lambda declaration {text!r}{where} is not an integer") from None
        if axis == 0:
            raise SeqliftError(f"Lambda declaration {text!r}{where} works over axis 0, the batch: "
                               "axes count the batch axis as 0, so the last axis is -1")
    return LambdaDeclaration(kind, axis, len(parts) < 3)


def parse_lambda_options(items: Iterable[str] | None) -> dict[str, str]:
    """``--lambda NAME=KIND`` options as ``{NAME: KIND}``, each checked (repeated names refused)."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, kind = str(item).partition("=")
        if not sep or not name.strip() or not kind.strip():
            raise SeqliftError(f"--lambda {item!r} is not of the form NAME=KIND (e.g. "
                               f"logcount_predictions=logsumexp); {lambda_help()}")
        name = name.strip()
        if name in out:
            raise SeqliftError(f"--lambda declares {name!r} twice")
        parse_declaration(kind.strip(), name)
        out[name] = kind.strip()
    return out


def lambda_names(name: str, weight_path: tuple[str, ...]) -> list[str]:
    """The names a Lambda layer may be declared by: its own, and its path among nested models."""
    return [name, "/".join(weight_path)]


def declaration_for(lambdas: Mapping[str, str] | None, names: Iterable[str]) -> LambdaDeclaration | None:
    """The declaration of a layer known by ``names`` (its name, its path among nested models): an exact
    name first, then the first matching pattern; None when undeclared."""
    if not lambdas:
        return None
    names = list(names)
    for name in names:
        if name in lambdas:
            return parse_declaration(lambdas[name], name)
    for pattern, text in lambdas.items():
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return parse_declaration(text, pattern)
    return None


def lambda_op(declaration: LambdaDeclaration) -> "Op":
    """The op computing a declared Lambda."""
    from seqlift.model import ops, reductions

    kind, axis, keepdims = declaration.kind, declaration.axis, declaration.keepdims
    if kind == "identity":
        return ops.Identity()
    if kind in _ACTIVATION_OF:
        return ops.Activation(_ACTIVATION_OF[kind])
    if kind == "softmax":
        return ops.Softmax(axis)
    if kind in ("sum", "mean"):
        return reductions.Reduce(kind, axis, keepdims)
    if kind == "max":
        return reductions.ReduceMax(axis, keepdims)
    return reductions.LogSumExp(axis, keepdims)
