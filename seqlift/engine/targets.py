"""Every target kind, declared once, and how ``target=`` / ``output=`` resolve on a model.

A *target* is the scalar whose change a set of contribution scores explains.
It is a function of one node of the model (normally one of its outputs, or
that output's pre-activation logit): ``target="unit"`` takes one of the node's
units, ``"sum"`` their sum, and the three profile kinds the softmax-weighted
logits that BPNet and ChromBPNet explain. A :class:`TargetKind` says what each
computes, what its contributions sum to (its summation-to-delta), and which
class of :mod:`seqlift.engine.target_rules` computes the multipliers it seeds
at the node (the DeepLIFT pass then carries them back to the input, one
backward pass per target, whatever the kind).

Notation: ``l`` the node's values (its units ``l_j``), ``x`` the sequence,
``r`` one of its references, ``Δ`` a value at ``x`` minus its value at ``r``,
``J`` the number of units a softmax runs over, ``w(s) = softmax(l(s))``.
A profile output is ``(L,)`` (ChromBPNet's 1,000 positions) or ``(L, C)``
(BPNet: ``C = 2`` strands); the softmax and the centring run jointly over all
``J = L·C`` units of the flattened output, as basepairmodels' default and
bpnet-lite do (the original BPNet's ``profile_contrib`` took the softmax per
strand, without centring).

Presets resolve both the kind and the output on the two-output models of BPNet
and ChromBPNet: ``"profile"`` (and the other profile kinds) explain the output
with more units, ``"counts"`` the sum of the output with fewer (ChromBPNet's
counts target: the log count). A model with several outputs and no choice is
refused, listing them, never explained through a silent first output.

This module imports no TensorFlow: the command line reads it cheaply.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from seqlift.errors import SeqliftError

if TYPE_CHECKING:
    from seqlift.model.graph import Model

__all__ = ["TARGET_KINDS", "PRESETS", "TargetKind", "ScoreSet", "resolve_targets", "output_node", "parse_target_list"]


@dataclass(frozen=True)
class TargetKind:
    """One kind of target.

    Attributes
    ----------
    name : str
        The value of ``target=`` (and of ``--target``).
    description : str
        What it explains, in one line.
    formula : str
        The target ``T`` (or, where it has no single value, the change the scores explain).
    sums_to : str
        What the contributions of one (sequence, reference) pair sum to: the
        ``target_deltas`` of the results, against which ``deltas`` (the
        residuals) are taken.
    rule : str
        The class of :mod:`seqlift.engine.target_rules` computing its
        multipliers and its change.
    per_unit : bool
        One set of scores per unit in ``task`` (``target="unit"``).
    profile : bool
        Needs a profile-shaped node, ``(L,)`` or ``(L, C)``.
    role : str
        Which output of a two-output BPNet-style model it explains when none
        is named: ``"profile"`` (the one with more units), ``"counts"``, or
        ``""`` (never chosen by shape).
    """

    name: str
    description: str
    formula: str
    sums_to: str
    rule: str
    per_unit: bool = False
    profile: bool = False
    role: str = ""


#: every kind by name, in the order the documentation lists them
TARGET_KINDS: dict[str, TargetKind] = {}


def _register(kind: TargetKind) -> TargetKind:
    if kind.name in TARGET_KINDS:
        raise ValueError(f"target kind {kind.name!r} is registered twice")
    TARGET_KINDS[kind.name] = kind
    return kind


_register(TargetKind(
    name="unit",
    description="one unit of the node per task (task= indexes the flattened units)",
    formula="T = l_k",
    sums_to="Δl_k",
    rule="UnitTarget",
    per_unit=True,
))
_register(TargetKind(
    name="sum",
    description="the sum of the node's units (ChromBPNet's counts target)",
    formula="T = Σ_j l_j",
    sums_to="Σ_j Δl_j",
    rule="SumTarget",
))
_register(TargetKind(
    name="profile",
    description="the softmax-weighted centred logits, weights w(x) of the sequence held for its references",
    formula="T_x(s) = Σ_j w_j(x) (l_j(s) − mean_i l_i(s)); seed multipliers w_j(x) − 1/J",
    sums_to="Σ_j (w_j(x) − 1/J) Δl_j = Σ_j w_j(x) Δl̃_j (l̃ = l − mean l)",
    rule="ProfileTarget",
    profile=True,
    role="profile",
))
_register(TargetKind(
    name="profile_chrombpnet",
    description="ChromBPNet's published profile scores: each pair weighted by ½(w(x) + w(r))",
    formula="S_r = Σ_j a_j Δl̃_j with a = ½ (w(x) + w(r)); seed multipliers a_j − 1/J",
    sums_to="Σ_j ½ (w_j(x) + w_j(r)) Δl̃_j (not T(x) − T(r): see docs/targets.md)",
    rule="ChromBPNetProfileTarget",
    profile=True,
    role="profile",
))
_register(TargetKind(
    name="profile_rescale",
    description="bpnet-lite's conserving profile target: Σ softmax(l̃)·l̃, the product rescaled elementwise",
    formula="T(s) = Σ_j w_j(s) l̃_j(s); seed multipliers a_j − mean_i a_i, a_j = Δ(w_j l̃_j) / Δl̃_j",
    sums_to="T(x) − T(r)",
    rule="ProfileRescaleTarget",
    profile=True,
    role="profile",
))

#: names that choose a kind and, on a two-output model, an output role
PRESETS: dict[str, tuple[str, str]] = {"counts": ("sum", "counts")}

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ScoreSet:
    """One set of scores an attribution computes: a target kind at one node.

    Attributes
    ----------
    label : str
        Its name in results, score files and output file names (letters,
        digits, ``_`` and ``-``): ``"task<k>"`` for a unit, the target's
        name otherwise, followed by ``_<output>`` where the output was named
        in the target (``"profile_Oct4-profile"``).
    node : str
        The node explained.
    kind : str
        A key of :data:`TARGET_KINDS`.
    unit : int or None
        The unit, for ``kind="unit"``.
    """

    label: str
    node: str
    kind: str
    unit: int | None = None


def parse_target_list(text: str | Sequence[str]) -> list[str]:
    """``"profile,counts"`` (or a list) as a list of target entries, checked against the kinds and presets."""
    entries = [t.strip() for t in (text.split(",") if isinstance(text, str) else text)]
    if not entries or any(not e for e in entries):
        raise SeqliftError(f"target {text!r} names no target; choose from {', '.join(_choices())}")
    for entry in entries:
        name = entry.partition("@")[0]
        if name not in TARGET_KINDS and name not in PRESETS:
            raise SeqliftError(f"unknown target {name!r}; choose from {', '.join(_choices())} "
                               "(optionally KIND@OUTPUT to name the output)")
    return entries


def _choices() -> list[str]:
    return list(TARGET_KINDS) + list(PRESETS)


def _describe_outputs(model: "Model") -> str:
    shapes = model.node_shapes()
    return ", ".join(f"{name} {_shape(shapes.get(name))}" for name in model.outputs)


def _shape(shape: Any) -> str:
    if shape is None:
        return "(?)"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _pre_activation(model: "Model", name: str) -> str:
    """The node feeding a final sigmoid/softmax output (its logit), else the output itself."""
    from seqlift.model import ops

    node = model.nodes[name]
    if isinstance(node.op, (ops.Activation, ops.Softmax)) and node.inputs:
        return node.inputs[0]
    return name


def output_node(model: "Model", output: str | int) -> str:
    """The node explained for model output ``output`` (a name or an index): its pre-activation logit
    when it is a final activation or softmax, else the output itself."""
    if isinstance(output, bool) or not isinstance(output, (int, str)):
        raise SeqliftError(f"output must be an output's name or index, not {output!r}")
    if isinstance(output, int) or (isinstance(output, str) and output.lstrip("-").isdigit()
                                   and output not in model.outputs):
        index = int(output)
        if not -len(model.outputs) <= index < len(model.outputs):
            raise SeqliftError(f"output {index} is out of range: the model has {len(model.outputs)} outputs "
                               f"({_describe_outputs(model)})")
        return _pre_activation(model, model.outputs[index])
    if output not in model.outputs:
        raise SeqliftError(f"{output!r} is not an output of the model; its outputs are {_describe_outputs(model)}")
    return _pre_activation(model, output)


def _units(shape: tuple) -> int:
    return int(math.prod(int(d) for d in shape))


def _by_role(model: "Model", role: str, entry: str) -> str:
    """The output a preset's role picks on a model with exactly two outputs of different sizes."""
    shapes = model.node_shapes()
    if len(model.outputs) == 2:
        sizes = [_units(shapes[name]) if all(d is not None for d in shapes[name]) else None for name in model.outputs]
        if None not in sizes and sizes[0] != sizes[1]:
            larger = model.outputs[0] if sizes[0] > sizes[1] else model.outputs[1]
            smaller = model.outputs[1] if larger == model.outputs[0] else model.outputs[0]
            return _pre_activation(model, larger if role == "profile" else smaller)
    raise SeqliftError(
        f"the model has {len(model.outputs)} outputs ({_describe_outputs(model)}) and target {entry!r} does not "
        f"say which: name it as {entry.partition('@')[0]}@OUTPUT, or choose the output with output= (--output)")


def _refuse_unchosen(model: "Model") -> None:
    raise SeqliftError(
        f"the model has {len(model.outputs)} outputs ({_describe_outputs(model)}): choose one with output=NAME "
        "(--output NAME), or a target that names its output (target='profile' / 'counts' on a BPNet-style "
        "model, or KIND@OUTPUT); seqlift never explains a silent first output")


def _check_profile_shape(model: "Model", node: str, entry: str) -> None:
    shape = model.node_shapes().get(node)
    if shape is None or not 1 <= len(shape) <= 2 or any(d is None for d in shape) or shape[0] < 2:
        raise SeqliftError(f"target {entry!r} needs a profile node of shape (L,) or (L, C) with L ≥ 2 positions; "
                           f"{node!r} has shape {_shape(shape)}")


def resolve_targets(
    model: "Model",
    target: str | ScoreSet | Sequence[str | ScoreSet] = "unit",
    output: str | int | None = None,
    task: int | Sequence[int] | str | None = None,
    target_layer: str | None = None,
) -> tuple[list[ScoreSet], bool]:
    """The score sets ``target=`` asks for on ``model``, and whether the results drop their target axis.

    Parameters
    ----------
    model : Model
    target : str, ScoreSet or list of them
        Kinds of :data:`TARGET_KINDS` or :data:`PRESETS`, each optionally
        ``KIND@OUTPUT`` (an output's name or index); a comma-separated string
        is a list. Score sets already resolved (on this model) pass unchanged.
    output : str or int, optional
        The output explained by the entries that do not name one.
    task : int, list of int or "all", optional
        Units of ``target="unit"`` (default 0; ``"all"``: every unit of its node).
    target_layer : str, optional
        Any node to explain instead of an output (exactly, without looking
        for a pre-activation).

    Returns
    -------
    (list of ScoreSet, bool)
        The score sets, in order; True when a single one was asked for with
        a single task (results then have no target axis).

    Raises
    ------
    SeqliftError
        One line: an unknown kind or output, a multi-output model without a
        choice (listing its outputs), a task out of range or given to a
        target without units, a profile target on a node of another shape.
    """
    if isinstance(target, ScoreSet) or (not isinstance(target, str) and target
                                        and all(isinstance(t, ScoreSet) for t in target)):
        sets = [target] if isinstance(target, ScoreSet) else list(target)
        for s in sets:
            if s.node not in model.nodes or s.kind not in TARGET_KINDS:
                raise SeqliftError(f"score set {s.label!r} does not fit this model (node {s.node!r})")
        return sets, isinstance(target, ScoreSet)
    entries = parse_target_list(target)
    single = isinstance(target, str) and len(entries) == 1
    if target_layer is not None:
        if output is not None:
            raise SeqliftError("give output= or target_layer=, not both")
        if target_layer not in model.nodes:
            names = list(model.nodes)
            raise SeqliftError(f"target layer {target_layer!r} is not in the model; it has "
                               f"{', '.join(names[:8])}{', ...' if len(names) > 8 else ''} ({len(names)} nodes)")
        if any("@" in entry for entry in entries):
            raise SeqliftError("a target naming its output (KIND@OUTPUT) cannot be combined with target_layer=")
    kinds = [PRESETS.get(e.partition("@")[0], (e.partition("@")[0], ""))[0] for e in entries]
    per_unit = [TARGET_KINDS[k].per_unit for k in kinds]
    if task is not None and not any(per_unit):
        raise SeqliftError(f"task= selects units of target='unit'; target {', '.join(entries)} has no units to select")
    every_unit = isinstance(task, str) and task == "all"
    single_task = task is None or isinstance(task, int) or (hasattr(task, "dtype") and getattr(task, "ndim", 1) == 0)
    tasks = [] if every_unit else [0] if task is None else [int(task)] if single_task else [int(t) for t in task]
    if not tasks and not every_unit:
        raise SeqliftError("no task given")
    sets: list[ScoreSet] = []
    for entry, kind_name in zip(entries, kinds):
        name, _, named_output = entry.partition("@")
        kind = TARGET_KINDS[kind_name]
        role = PRESETS[name][1] if name in PRESETS else kind.role
        if target_layer is not None:
            node = target_layer
        elif named_output:
            node = output_node(model, named_output)
        elif output is not None:
            node = output_node(model, output)
        elif len(model.outputs) == 1:
            node = _pre_activation(model, model.outputs[0])
        elif role:
            node = _by_role(model, role, entry)
        else:
            _refuse_unchosen(model)
        if kind.profile:
            _check_profile_shape(model, node, entry)
        suffix = "_" + _SAFE.sub("-", named_output) if named_output else ""
        if kind.per_unit:
            units = _units(model.node_shapes()[node])
            for t in range(units) if every_unit else tasks:
                if not 0 <= t < units:
                    raise SeqliftError(f"task {t} is out of range: the target {node!r} has {units} outputs "
                                       f"(0 to {units - 1})")
                sets.append(ScoreSet(f"task{t}{suffix}", node, kind.name, t))
        else:
            sets.append(ScoreSet(f"{name}{suffix}", node, kind.name))
    labels = [s.label for s in sets]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise SeqliftError(f"target {', '.join(entries)} asks for {', '.join(repeated)} more than once")
    return sets, single and single_task
