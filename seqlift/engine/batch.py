"""The compiled function that scores one batch of (sequence, reference) pairs, and its cache.

:func:`compiled_batch` builds, once per model, targets, method and options,
a ``tf.function`` around the method's scorer (:mod:`seqlift.engine.scorers`),
called with the engine's graph optimizer options (:mod:`seqlift.engine.graph_options`),
and keeps it in the model's :attr:`~seqlift.model.graph.Model.compiled`. The
function takes the batch's inputs (one row per sequence), references (one row
per pair, sequence by sequence) and the references per sequence, and returns
for every target (:class:`~seqlift.engine.targets.ScoreSet`) the change its
contributions sum to and each input's contributions, multipliers and
hypothetical contributions, grouped ``(targets, sequences, references, ...)``
under the keys ``target_delta``, ``contrib{i}``, ``mult{i}``, ``hyp{i}``,
``layer_contrib:{node}`` and ``layer_mult:{node}``. The forward passes are
shared by all the targets; each target costs one backward pass.
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

from seqlift.engine.graph_options import with_engine_graph_options
from seqlift.engine.methods import Method
from seqlift.engine.scorers import BatchRequest
from seqlift.engine.target_rules import BoundTarget, rule_for_kind

BatchFunction = Callable[[list[tf.Tensor], list[tf.Tensor], tf.Tensor], dict[str, tf.Tensor]]


def compiled_batch(request: BatchRequest, method: Method) -> BatchFunction:
    """The compiled batch function of ``method`` for ``request`` (built on first use, then cached)."""
    model = request.model
    steps = request.steps if method.uses_steps else None
    window = request.window if method.windowed else None
    key = ("batch", request.targets, method.name, request.maxpool, request.layers, steps, window)
    if key not in model.compiled:
        spec = [tf.TensorSpec((None,) + tuple(s), tf.float32) for s in model.input_shapes]
        function = tf.function(_batch_body(request, method), reduce_retracing=True, autograph=False,
                               input_signature=[spec, spec, tf.TensorSpec((), tf.int32)])
        model.compiled[key] = with_engine_graph_options(function)
    return model.compiled[key]


def _grouped(values: tf.Tensor, n: tf.Tensor, per_seq: tf.Tensor) -> tf.Tensor:
    """Pair rows ``(n · per_seq, ...)`` as ``(n, per_seq, ...)``: each sequence's references together."""
    shape = tf.concat([[n, per_seq], tf.shape(values)[1:]], axis=0)
    return tf.reshape(values, shape)


def _batch_body(request: BatchRequest, method: Method) -> BatchFunction:
    scorer = method.scorer.build(request)
    rules = [rule_for_kind(s.kind, s.unit) for s in request.targets]

    def body(x: list[tf.Tensor], refs: list[tf.Tensor], per_seq: tf.Tensor) -> dict[str, tf.Tensor]:
        n = tf.shape(x[0])[0]
        pair_seq = tf.repeat(tf.range(n), per_seq)
        state = scorer.forward(x, refs, per_seq)
        results: dict[str, list[tf.Tensor]] = {}

        def add(key: str, value: tf.Tensor | None) -> None:
            if value is not None:
                results.setdefault(key, []).append(_grouped(value, n, per_seq))

        targets = [BoundTarget(s.node, rule, tf.gather(state.x_acts[s.node], pair_seq), state.ref_acts[s.node],
                               state.x_acts[s.node]) for s, rule in zip(request.targets, rules)]
        for target, scores in zip(targets, scorer.scores(state, targets)):
            add("target_delta", target.delta() if scores.target_delta is None else scores.target_delta)
            for i, s in enumerate(scores.inputs):
                add(f"contrib{i}", s.contributions)
                add(f"mult{i}", s.multipliers)
                add(f"hyp{i}", s.hypothetical)
            for name, s in scores.layers.items():
                add(f"layer_contrib:{name}", s.contributions)
                add(f"layer_mult:{name}", s.multipliers)
        return {key: tf.stack(values) for key, values in results.items()}

    return body
