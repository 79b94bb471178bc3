"""``seqlift.attribute``: contribution scores averaged over many references.

The work is split into batches of (sequence, reference) pairs whose size is
bounded, so memory does not grow with the number of sequences. Each batch runs
one compiled TensorFlow function (cached per model, target, method and tasks)
that returns the contributions, hypothetical contributions, multipliers and
target differences of every pair; they are summed per sequence in float64, in
reference order, and divided by the number of references at the end. The
model's kernels give each row the same bits whatever the batch
(:mod:`seqlift.model.invariant`) and every call has the same shapes, so the
results are bit-for-bit the same whatever the batch size, and wherever a
sequence stands in the input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from seqlift.engine.batch import compiled_batch
from seqlift.engine.budget import pairs_per_batch, pass_cost
from seqlift.engine.methods import METHODS, sequence_inputs
from seqlift.engine.scorers import BatchRequest
from seqlift.engine.targets import ScoreSet, resolve_targets
from seqlift.errors import SeqliftError
from seqlift.inputs import parse_window
from seqlift.model import compile_ahead
from seqlift.model.graph import Model


@dataclass
class Attribution:
    """Scores for N sequences, averaged over their references.

    Arrays have shape ``(N, *input_shape)`` (``(N, L, 4)`` for one-hot DNA),
    with a leading target axis ``(T, N, ...)`` when several targets or tasks
    were asked for (in :attr:`targets` order), and are lists (one per model
    input) for models with several inputs.

    Attributes
    ----------
    contributions : np.ndarray
        Contribution of each input element, ``m · (x − r)`` averaged over the
        references (per channel; summed over A/C/G/T at a position it is the
        position's contribution). For ``method="gradient"``: gradient × input.
        For ``method="ism"``: at the observed base, the target minus its mean
        over the four bases at that position (¾ of the mean loss over the
        three substitutions; :class:`~seqlift.engine.scorers.MutagenesisScorer`).
    hypothetical : np.ndarray or None
        For one-hot inputs, the contribution each base would have had at each
        position: ``m_b − Σ_c m_c r_c`` averaged over references (the input
        TF-MoDISco needs; ``hypothetical * x`` summed over bases equals
        ``contributions`` summed over bases). For ``method="ism"``: the
        target with base b at the position minus the mean over the four bases.
    deltas : np.ndarray
        Summation-to-delta residual per sequence: the mean change of the target
        from reference to input minus the sum of the contributions (≈0 for the
        DeepLIFT methods; a diagnostic for the others; for ``method="ism"``,
        0 up to rounding by definition, see ``target_deltas``).
    target_deltas : np.ndarray
        The mean change of the target from reference to input, per sequence:
        what the target kind's contributions sum to
        (:data:`seqlift.engine.targets.TARGET_KINDS`, ``sums_to``).
        For ``method="ism"``, which has no references: the sum of its
        contributions, i.e. of each mutated position's target minus its mean
        over the four bases.
    multipliers : np.ndarray or None
        Multipliers of the input averaged over the references (on request).
    layers : dict
        For each inner node asked for: ``{"multipliers": ..., "contributions": ...}``.
    """

    contributions: Any
    hypothetical: Any
    deltas: np.ndarray
    target_deltas: np.ndarray
    multipliers: Any = None
    layers: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    method: str = ""
    target: str = ""
    tasks: list[int | None] = field(default_factory=list)
    n_references: int = 0
    targets: list[str] = field(default_factory=list)
    """The name of each entry of the target axis: ``task<k>`` for a unit, else the target's name
    (``profile``, ``counts``, ...); ``target`` is the node (or nodes) explained and ``tasks`` each
    entry's unit (None for a target that is not one unit)."""


def attribute(
    model: Model | str | Path | Any,
    x: np.ndarray | Sequence[np.ndarray],
    references: int | np.ndarray | Sequence[np.ndarray] | Callable[[np.ndarray, int], np.ndarray] = 10,
    method: str = "genomics_default",
    task: int | Sequence[int] | None = None,
    target_layer: str | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    steps: int = 20,
    maxpool: str = "deeplift",
    softmax_normalize: bool = False,
    return_multipliers: bool = False,
    layers: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    ism_window: tuple[int, int] | None = None,
    output: str | int | None = None,
    target: str | Sequence[str] = "unit",
) -> Attribution:
    """Contribution scores of each input base to a target, averaged over references.

    Parameters
    ----------
    model : Model, str, Path or keras.Model
        A model from :func:`seqlift.load_model`, a path to load, or a live Keras model.
    x : np.ndarray or list of np.ndarray
        Inputs, ``(N, L, 4)`` one-hot (or ``(L, 4)`` for one sequence); a list
        with one array per input for models with several inputs.
    references : int, np.ndarray, list or callable
        An int S: S dinucleotide shuffles of each sequence (seeded by ``seed``);
        an array ``(N, S, L, 4)`` or ``(S, L, 4)``; or a reference generator
        ``generator(x, seed) -> (N, S, L, 4)`` from :mod:`seqlift.references`.
        For several inputs, a list with one such array per input. Ignored by
        ``method="ism"``, which has none (``n_references`` is then 0).
    method : str
        One of :data:`METHODS`. ``"ism"``: in-silico mutagenesis, every
        single-base substitution of the one-hot inputs (which must be one-hot:
        one base per position, or none for N), 3 forward passes per position.
    task : int or list of int, optional
        Unit(s) of the explained node (flattened) for ``target="unit"``
        (default 0); a list computes all of them sharing the forward passes,
        and gives arrays a leading target axis.
    target_layer : str, optional
        Node to explain, exactly. Default: the pre-activation of the model's
        output (the logit before a final sigmoid or softmax); see ``output``.
    batch_size : int, optional
        Number of (sequence, reference) pairs per batch (for integrated
        gradients, pairs × steps are evaluated in ``steps`` passes). Default:
        as many as fit in about 2 GiB of activations (at most 256), and at
        least one sequence's references.
    seed : int
        Seed of the dinucleotide shuffles when ``references`` is an int.
    steps : int
        Integrated-gradients steps (midpoint Riemann sum; ``steps=10``
        reproduces the original's published figures).
    maxpool : {'deeplift', 'gradient'}
        Max-pooling rule; ``'gradient'`` reproduces the original deeplift.
    softmax_normalize : bool
        Subtract from each task's contributions their mean over all units of
        the target (the paper's section 3.6, for targets before a softmax).
    return_multipliers : bool
        Also return the input multipliers.
    layers : list of str
        Inner nodes whose multipliers and contributions to return (DeepLIFT methods).
    progress : callable, optional
        Called with the number of sequences finished after each batch.
    ism_window : (int, int), optional
        ``method="ism"`` only: mutate positions ``start`` to ``end − 1``
        (0-based, end exclusive) and no others; positions outside score 0.
    output : str or int, optional
        The model output explained (its name or index; its pre-activation when
        it ends in a sigmoid or softmax). Required for a model with several
        outputs unless ``target`` names them (``"profile"``, ``"counts"`` or
        ``KIND@OUTPUT``) or ``target_layer`` is given.
    target : str or list of str
        What is explained at that output (:data:`seqlift.engine.targets.TARGET_KINDS`):
        ``"unit"`` (the units ``task``), ``"sum"``, ``"profile"``,
        ``"profile_chrombpnet"``, ``"profile_rescale"``, or the preset
        ``"counts"`` (``"sum"`` of the counts output of a BPNet-style model);
        each may name its output, ``"profile@logits_profile_predictions"``.
        A list computes every target sharing the forward passes and the
        references, and gives arrays a leading target axis.

    Returns
    -------
    Attribution

    Raises
    ------
    SeqliftError
        With one line: a model with several outputs and no choice (listing
        them), an unknown method, target, output or layer, a task out of range.
    """
    if method not in METHODS:
        raise SeqliftError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if maxpool not in ("deeplift", "gradient"):
        raise SeqliftError(f"unknown maxpool rule {maxpool!r}; choose 'deeplift' or 'gradient'")
    if steps < 1:
        raise SeqliftError(f"steps must be at least 1, not {steps}")
    spec = METHODS[method]
    if ism_window is not None and not spec.windowed:
        raise SeqliftError(f"ism_window is for method='ism', not {method!r}")
    model = _as_model(model)
    inputs, single_input = _as_input_list(model, x)
    if spec.one_hot_only:
        _check_one_hot(model, inputs, method)
    window = _check_window(ism_window, model, inputs) if spec.windowed else None
    n = inputs[0].shape[0]
    score_sets, single_target = resolve_targets(model, target, output, task, target_layer)
    computed = _all_units(model, score_sets) if softmax_normalize else score_sets
    layers = list(layers)
    for name in layers:
        if name not in model.nodes:
            raise SeqliftError(f"layer {name!r} is not in the model; it has {_some(model.nodes)}")
    if layers and not spec.deeplift:
        raise SeqliftError(f"inner-layer scores are computed for the DeepLIFT methods only, not {method!r}")
    request = _Request(
        n_inputs=len(model.inputs), method=method, targets=score_sets, computed=computed,
        single_target=single_target, single_input=single_input, layers=layers,
        return_multipliers=return_multipliers, softmax_normalize=softmax_normalize,
        uses_references=spec.uses_references,
    )
    fn = compiled_batch(BatchRequest(model, tuple(computed), tuple(layers), maxpool, steps, window), spec)
    width = inputs[0].shape[1] if inputs[0].ndim > 2 else None
    batch_pairs = batch_size or pairs_per_batch(model, [s.node for s in computed], method, width)
    if batch_pairs < 1:
        raise SeqliftError(f"batch size must be at least 1, not {batch_pairs}")

    # Every call of the compiled function gets the same shapes (the last chunk
    # is padded): with the batch-invariant kernels this is not needed for
    # bit-identity, but it keeps a single compiled trace per run.
    def chunk_references(start: int, stop: int, x_chunk: list[np.ndarray]) -> list[np.ndarray]:
        if not spec.uses_references:  # one pair per sequence, whose reference is the sequence itself
            return [a[:, None] for a in x_chunk]
        return _resolve_references(_chunk_references(references, inputs, start, stop, single_input), x_chunk, seed)

    n_refs = chunk_references(0, 1, [a[:1] for a in inputs])[0].shape[1]
    if batch_size is None:
        # Whole sequences per pass, as many as come nearest the budget's pairs (at least one): a sequence's
        # references split over two passes repeat its forward pass (20 references in passes of 16: 16 + 4),
        # and rounding down wastes the budget (16 pairs of sequences with 10 references: passes of 10).
        seqs_per_chunk = _even_passes_in_blocks(n, n_refs, max(1, round(batch_pairs / n_refs)))
        batch_pairs = max(batch_pairs, n_refs)
    else:
        seqs_per_chunk = max(1, batch_pairs // n_refs)
    refs_per_pass = max(1, min(n_refs, batch_pairs))
    sums: dict[str, list[np.ndarray]] = {}
    for start in range(0, n, seqs_per_chunk):
        stop = min(n, start + seqs_per_chunk)
        x_chunk = [a[start:stop] for a in inputs]
        ref_chunk = chunk_references(start, stop, x_chunk)
        if any(r.shape[1] != n_refs for r in ref_chunk):
            raise SeqliftError("every sequence and input must have the same number of references")
        real = stop - start
        x_chunk = [_pad_rows(a, seqs_per_chunk) for a in x_chunk]
        ref_chunk = [_pad_rows(r, seqs_per_chunk) for r in ref_chunk]
        chunk_sums: dict[str, np.ndarray] = {}
        for r0 in range(0, n_refs, refs_per_pass):
            r1 = min(n_refs, r0 + refs_per_pass)
            flat_refs = [
                tf.constant(np.ascontiguousarray(r[:, r0:r1].reshape((-1,) + r.shape[2:]), dtype=np.float32))
                for r in ref_chunk
            ]
            with compile_ahead.rows_of_batch(int(flat_refs[0].shape[0])):  # the first call traces fn
                out = fn([tf.constant(a, dtype=tf.float32) for a in x_chunk], flat_refs, tf.constant(r1 - r0, tf.int32))
            for key, value in out.items():
                _add_references_in_order(chunk_sums, key, value.numpy()[:, :real])
        for key, value in chunk_sums.items():
            sums.setdefault(key, []).append(value)
        if progress is not None:
            progress(stop)
    return _finish(request, sums, n_refs)


def _even_passes(n: int, most: int) -> int:
    """Sequences per pass for ``n`` sequences, at most ``most``: the passes share them about equally.

    The last pass is padded to the size of the others (one compiled shape per
    run), so filling every pass to ``most`` would compute up to a whole pass
    of padding (100 sequences in passes of 88: 176 computed). The even share
    ``⌈n / passes⌉`` is rounded up to 4 significant bits (at most 16 sizes per
    doubling, so repeated calls on different numbers of sequences reuse few
    compiled shapes, and at most 1/16 of a pass is padding): 100 sequences in
    passes of at most 88 run as 2 passes of 52, 32 in passes of at most 18 as
    2 of 16. (Rounded to 3 bits, the 100 ran as 2 of 56: the paper's model
    took 2.35x the gradient's time for revealcancel there, 2.15x in passes
    of exactly 50.)
    """
    passes = -(-n // most)
    even = -(-n // passes)
    step = 1 << max(even.bit_length() - 4, 0)
    return min(most, -(-even // step) * step)


def _even_passes_in_blocks(n: int, references: int, most: int) -> int:
    """Sequences per pass for ``n`` sequences of ``references`` references each: of the even shares
    :func:`_even_passes` gives for at most ``most`` sequences down to half as many, the one whose passes
    take the least time in all (their rows in whole blocks of the batch-invariant kernels,
    :func:`seqlift.engine.budget.pass_cost`), the fewest passes among equals.

    The paper's model, 100 sequences of 10 references: passes of 26 sequences (260 pairs, 9 blocks of
    32, the ninth holding 4 pairs) took 2.43x the gradient's time for revealcancel, passes of 25 (250
    pairs in 8 blocks) 2.20x (a 2-core AMD Zen 4, oneDNN's kernels, median of 7 in one process).
    """
    shares = {_even_passes(n, cap) for cap in range(-(-most // 2), most + 1)}
    return min(shares, key=lambda s: (-(-n // s) * pass_cost(s, references), -s))


def _add_references_in_order(sums: dict[str, np.ndarray], key: str, values: np.ndarray) -> None:
    """Add per-pair values ``(units, n, refs, ...)`` to ``sums[key]``, one reference after another.

    The sums are float64 and always taken in reference order, so they come out
    bit-for-bit the same however the references were split into batches.
    """
    if key not in sums:
        sums[key] = np.zeros(values.shape[:2] + values.shape[3:], np.float64)
    total = sums[key]
    for j in range(values.shape[2]):
        np.add(total, values[:, :, j], out=total)


# --------------------------------------------------------------------------- set-up
def _as_model(model: Any) -> Model:
    if isinstance(model, Model):
        return model
    if isinstance(model, (str, Path)):
        from seqlift.model import load_model

        return load_model(model)
    from seqlift.model import from_keras

    return from_keras(model)


def _as_input_list(model: Model, x: Any) -> tuple[list[np.ndarray], bool]:
    single = not isinstance(x, (list, tuple))
    arrays = [np.asarray(a, dtype=np.float32) for a in ([x] if single else x)]
    if len(arrays) != len(model.inputs):
        raise SeqliftError(f"the model has {len(model.inputs)} inputs but {len(arrays)} arrays were given")
    out = []
    for a, shape, name in zip(arrays, model.input_shapes, model.inputs):
        expected = tuple(shape)
        if a.shape == expected:
            a = a[None]
        if a.shape[1:] != expected:
            raise SeqliftError(
                f"input {name!r} expects arrays of shape (N, {', '.join(map(str, expected))}), got {a.shape}"
            )
        out.append(a)
    if len({a.shape[0] for a in out}) != 1:
        raise SeqliftError("all inputs must have the same number of sequences")
    return out, single


def _check_one_hot(model: Model, inputs: list[np.ndarray], method: str) -> None:
    """Refuse, in one line, input a method that mutates one-hot DNA (in-silico mutagenesis) cannot take.

    The model must have an input of shape ``(length, 4)``, and each such
    input must be one-hot: at every position a single 1, or all 0 (N).
    """
    mutated = sequence_inputs(model)
    if not mutated:
        shapes = ", ".join(f"{name!r} {tuple(shape)}" for name, shape in zip(model.inputs, model.input_shapes))
        raise SeqliftError(f"method {method!r} mutates one-hot DNA inputs of shape (length, 4); the model's inputs "
                           f"are {shapes}")
    for k in mutated:
        a = inputs[k]
        bad = ~((a == 0) | (a == 1)).all(axis=-1) | (a.sum(axis=-1) > 1)
        if bad.any():
            seq, pos = (int(v) for v in np.argwhere(bad)[0])
            raise SeqliftError(f"method {method!r} needs one-hot DNA: input {model.inputs[k]!r}, sequence {seq}, "
                               f"position {pos} is {a[seq, pos].tolist()} (each position must be a single 1, "
                               "or all 0 for N)")


def _check_window(window: Any, model: Model, inputs: list[np.ndarray]) -> tuple[int, int] | None:
    """``ism_window`` as ``(start, end)``, checked to fit every input of shape ``(length, 4)``."""
    lengths = [inputs[k].shape[1] for k in sequence_inputs(model)]
    return parse_window(window, "ism_window", min(lengths) if lengths else None)


def _resolve_target(model: Model, target_layer: str | None) -> str:
    """The node ``target="unit"`` explains on a model with one output (or ``target_layer``)."""
    (score_set,), _ = resolve_targets(model, "unit", None, None, target_layer)
    return score_set.node


def _all_units(model: Model, score_sets: list[ScoreSet]) -> list[ScoreSet]:
    """Every unit of the node of ``score_sets`` (for ``softmax_normalize``, which needs units of one node)."""
    nodes = {s.node for s in score_sets}
    if any(s.kind != "unit" for s in score_sets) or len(nodes) != 1:
        raise SeqliftError("softmax_normalize=True normalises over the units of one node: it needs target='unit'")
    node = score_sets[0].node
    return [ScoreSet(f"task{u}", node, "unit", u) for u in range(int(np.prod(model.node_shapes()[node])))]


def _some(names: Any, k: int = 8) -> str:
    names = list(names)
    shown = ", ".join(names[:k])
    return f"{shown}{', ...' if len(names) > k else ''} ({len(names)} nodes)"


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` with zero rows appended up to ``rows`` rows."""
    if a.shape[0] >= rows:
        return a
    return np.concatenate([a, np.zeros((rows - a.shape[0],) + a.shape[1:], a.dtype)])


def _chunk_references(references: Any, inputs: list[np.ndarray], start: int, stop: int, single_input: bool) -> list:
    """Per input, what the references of sequences ``start:stop`` are made from.

    Arrays with one row per sequence, ``(N, S, *input_shape)``, are sliced;
    shared arrays ``(S, *input_shape)``, counts and generators pass unchanged.
    """
    if single_input:
        per_input = [references]
    else:
        per_input = list(references) if isinstance(references, (list, tuple)) else [references] * len(inputs)
    if len(per_input) != len(inputs):
        raise SeqliftError(f"the model has {len(inputs)} inputs but references were given for {len(per_input)}")
    out = []
    for r, a in zip(per_input, inputs):
        if isinstance(r, (list, tuple)):
            r = np.asarray(r, dtype=np.float32)
        if isinstance(r, np.ndarray) and r.ndim == a.ndim + 1:
            if r.shape[0] != a.shape[0]:
                raise SeqliftError(f"references have {r.shape[0]} rows but there are {a.shape[0]} sequences")
            r = r[start:stop]
        out.append(r)
    return out


def _resolve_references(per_input: list, x_chunk: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """References of a chunk as arrays ``(n, S, *input_shape)``, one per input.

    Arrays are broadcast here (so inputs of any shape work); counts and
    generators go to :func:`seqlift.references.resolve`, which makes
    references for one-hot DNA.
    """
    from seqlift import references as refmod

    out = []
    for r, a in zip(per_input, x_chunk):
        if isinstance(r, np.ndarray):
            shape = a.shape[1:]
            if r.shape == shape:
                r = r[None]
            if r.shape[-len(shape):] != shape or r.ndim not in (len(shape) + 1, len(shape) + 2):
                raise SeqliftError(
                    f"references of shape {r.shape} do not fit inputs of shape {a.shape}: expected "
                    f"(N, S, {', '.join(map(str, shape))}) or (S, {', '.join(map(str, shape))})"
                )
            if r.ndim == len(shape) + 1:
                r = np.broadcast_to(r[None], (a.shape[0],) + r.shape)
            if not np.all(np.isfinite(r)):
                raise SeqliftError("references contain NaN or infinite values")
            out.append(np.asarray(r, dtype=np.float32))
        else:
            out.append(np.asarray(refmod.resolve(r, a, seed), dtype=np.float32))
    return out


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class _Request:
    """What :func:`attribute` was asked, resolved: how the summed results are to be shaped.

    ``targets`` are the score sets asked for, ``computed`` those computed
    (every unit of the node when ``softmax_normalize``); ``single_target`` and
    ``single_input`` drop the target axis and the per-input list.
    """

    n_inputs: int
    method: str
    targets: list[ScoreSet]
    computed: list[ScoreSet]
    single_target: bool
    single_input: bool
    layers: list[str]
    return_multipliers: bool
    softmax_normalize: bool
    uses_references: bool = True
    uses_references: bool = True


def _finish(request: _Request, sums: dict[str, list[np.ndarray]], n_refs: int) -> Attribution:
    """The :class:`Attribution`: per-sequence sums over references divided by their number, shaped as asked."""
    softmax_normalize = request.softmax_normalize
    keys = [(c.node, c.kind, c.unit) for c in request.computed]

    def mean(key: str) -> np.ndarray | None:
        if key not in sums:
            return None
        return np.concatenate(sums[key], axis=1) / n_refs  # (units, N, ...)

    def select(a: np.ndarray | None, normalize: bool = False) -> np.ndarray | None:
        if a is None:
            return None
        if normalize:
            a = a - a.mean(axis=0, keepdims=True)
        a = a[[keys.index((t.node, t.kind, t.unit)) for t in request.targets]].astype(np.float32)
        return a[0] if request.single_target else a

    n_inputs = request.n_inputs
    contributions = [mean(f"contrib{i}") for i in range(n_inputs)]
    target_delta = mean("target_delta")
    total = sum(c.reshape(c.shape[0], c.shape[1], -1).sum(axis=2) for c in contributions)
    residual = target_delta - total
    if softmax_normalize:
        # contributions to (t − mean over units): the target differences are normalised the same way
        target_delta = target_delta - target_delta.mean(axis=0, keepdims=True)
        residual = residual - residual.mean(axis=0, keepdims=True)

    def per_input(prefix: str, normalize: bool) -> Any:
        values = [select(mean(f"{prefix}{i}"), normalize) for i in range(n_inputs)]
        return values[0] if request.single_input else values

    layer_results = {
        name: {
            "contributions": select(mean(f"layer_contrib:{name}"), softmax_normalize),
            "multipliers": select(mean(f"layer_mult:{name}"), softmax_normalize),
        }
        for name in request.layers
    }
    return Attribution(
        contributions=per_input("contrib", softmax_normalize),
        hypothetical=per_input("hyp", softmax_normalize),
        deltas=select(residual),
        target_deltas=select(target_delta),
        multipliers=per_input("mult", softmax_normalize) if request.return_multipliers else None,
        layers=layer_results,
        method=request.method,
        target=", ".join(dict.fromkeys(s.node for s in request.targets)),
        tasks=[s.unit for s in request.targets],
        n_references=int(n_refs or 0) if request.uses_references else 0,
        targets=[s.label for s in request.targets],
    )
