"""The compiled function that scores one batch of (sequence, reference) pairs, and its cache.

:func:`compiled_batch` builds, once per model, target, method and options,
a ``tf.function`` around the method's scorer (:mod:`seqlift.engine.scorers`)
and keeps it in the model's :attr:`~seqlift.model.graph.Model.compiled`. The
function takes the batch's inputs (one row per sequence), references (one row
per pair, sequence by sequence) and the references per sequence, and returns
for every target unit the target's change and each input's contributions,
multipliers and hypothetical contributions, grouped ``(units, sequences,
references, ...)`` under the keys ``target_delta``, ``contrib{i}``,
``mult{i}``, ``hyp{i}``, ``layer_contrib:{node}`` and ``layer_mult:{node}``.
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

from seqlift.engine.methods import Method
from seqlift.engine.scorers import BatchRequest

BatchFunction = Callable[[list[tf.Tensor], list[tf.Tensor], tf.Tensor], dict[str, tf.Tensor]]


def compiled_batch(request: BatchRequest, method: Method) -> BatchFunction:
    """The compiled batch function of ``method`` for ``request`` (built on first use, then cached)."""
    model = request.model
    steps = request.steps if method.uses_steps else None
    window = request.window if method.windowed else None
    key = ("batch", request.target, method.name, request.maxpool, request.units, request.layers, steps, window)
    if key not in model.compiled:
        spec = [tf.TensorSpec((None,) + tuple(s), tf.float32) for s in model.input_shapes]
        model.compiled[key] = tf.function(_batch_body(request, method), reduce_retracing=True, autograph=False,
                                          input_signature=[spec, spec, tf.TensorSpec((), tf.int32)])
    return model.compiled[key]


def _grouped(values: tf.Tensor, n: tf.Tensor, per_seq: tf.Tensor) -> tf.Tensor:
    """Pair rows ``(n · per_seq, ...)`` as ``(n, per_seq, ...)``: each sequence's references together."""
    shape = tf.concat([[n, per_seq], tf.shape(values)[1:]], axis=0)
    return tf.reshape(values, shape)


def _batch_body(request: BatchRequest, method: Method) -> BatchFunction:
    scorer = method.scorer.build(request)
    target = request.target

    def body(x: list[tf.Tensor], refs: list[tf.Tensor], per_seq: tf.Tensor) -> dict[str, tf.Tensor]:
        n = tf.shape(x[0])[0]
        pair_seq = tf.repeat(tf.range(n), per_seq)
        state = scorer.forward(x, refs, per_seq)
        fx = tf.reshape(state.x_acts[target], [tf.shape(state.x_acts[target])[0], -1])
        fr = tf.reshape(state.ref_acts[target], [tf.shape(state.ref_acts[target])[0], -1])
        target_delta = tf.gather(fx, pair_seq) - fr  # (pairs, units)
        results: dict[str, list[tf.Tensor]] = {}

        def add(key: str, value: tf.Tensor | None) -> None:
            if value is not None:
                results.setdefault(key, []).append(_grouped(value, n, per_seq))

        for unit in request.units:
            scores = scorer.unit_scores(state, unit)
            add("target_delta", target_delta[:, unit] if scores.target_delta is None else scores.target_delta)
            for i, s in enumerate(scores.inputs):
                add(f"contrib{i}", s.contributions)
                add(f"mult{i}", s.multipliers)
                add(f"hyp{i}", s.hypothetical)
            for name, s in scores.layers.items():
                add(f"layer_contrib:{name}", s.contributions)
                add(f"layer_mult:{name}", s.multipliers)
        return {key: tf.stack(values) for key, values in results.items()}

    return body
