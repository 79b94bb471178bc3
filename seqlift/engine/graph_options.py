"""How TensorFlow's graph optimizer (grappler) treats the engine's compiled functions.

TensorFlow optimizes a ``tf.function``'s graph once, on its first call, with
the options of the thread's *function call options* (a ``ConfigProto``); by
default every optimizer runs twice over the whole graph. On the engine's
graphs the second round changes little (on the DanQ-shaped model's, it
removed 5 of 2,471 nodes), and two optimizers changed nothing on a CPU: the layout optimizer (it reorders convolutions' axes for GPUs) and
the memory optimizer (it swaps tensors to the host or recomputes them, for
accelerators). Measured on the DanQ-shaped model's revealcancel function
(4,974 nodes once its loops are lowered), grappler took 1.6-1.8 s with the
defaults and 0.6-0.7 s with one round and without those two, with the
scores bit-identical on every model of the benchmarks' zoo. On a machine
with a GPU both optimizers keep their defaults.

The options are TensorFlow's own (``RewriterConfig``), set for the engine's
calls only: the rest of the user's process keeps its configuration. The
thread's call options are reached through ``tensorflow.python.eager.context``
(TensorFlow has no public way to set them for some calls only); where a
TensorFlow lacks it the functions run with TensorFlow's defaults.
"""
from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2

try:
    from tensorflow.python.eager import context
except ImportError:  # pragma: no cover - a TensorFlow without it: grappler's defaults
    context = None

_Rewriter = rewriter_config_pb2.RewriterConfig


def _engine_call_options() -> Any:
    """The thread's function call options, with grappler set as the module docstring says."""
    ctx = context.context()
    defaults = ctx.function_call_options
    config = ctx.config
    config.allow_soft_placement = True  # what TensorFlow gives functions unless told otherwise
    rewrite = config.graph_options.rewrite_options
    if rewrite.meta_optimizer_iterations == _Rewriter.DEFAULT_NUM_ITERS:
        rewrite.meta_optimizer_iterations = _Rewriter.ONE
    if not tf.config.list_logical_devices("GPU"):
        if rewrite.layout_optimizer == _Rewriter.DEFAULT:
            rewrite.layout_optimizer = _Rewriter.OFF
        if rewrite.memory_optimization == _Rewriter.DEFAULT_MEM_OPT:
            rewrite.memory_optimization = _Rewriter.NO_MEM_OPT
    return context.FunctionCallOptions(executor_type=defaults.executor_type, config_proto=config)


def with_engine_graph_options(function: Callable) -> Callable:
    """``function`` (a ``tf.function``), called with the engine's grappler options (see the module
    docstring); the thread's own options are restored after each call. The options are built at the
    first call and kept: every call of the function passes the same ones (grappler reads them once,
    when it optimizes the graph), and the batches' loop does not rebuild them."""
    if context is None or not hasattr(context, "FunctionCallOptions"):  # pragma: no cover
        return function
    kept: list[Any] = []

    def call(*args: Any) -> Any:
        ctx = context.context()
        saved = ctx.function_call_options
        if not kept:
            kept.append(_engine_call_options())
        ctx.function_call_options = kept[0]
        try:
            return function(*args)
        finally:
            ctx.function_call_options = saved

    call.__wrapped__ = function  # the tf.function itself (its traces, concrete functions)
    return call
