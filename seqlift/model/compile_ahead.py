"""XLA compilations started in a background thread while a batch function is traced.

A function compiled by XLA (the engine's fused rules,
:func:`seqlift.engine.rules.fused`, and the overlap-add of a convolution's
transpose, :func:`seqlift.model.invariant.conv_transpose`) is compiled the
first time it runs on a shape, on the critical path of the first call:
ChromBPNet's RevealCancel compiles its forward rule once for each of its nine
dilated layers' lengths (0.15 s each, 0.25 s of CPU), DanQ its recurrent
cell's rules (0.7-0.8 s each). But the whole of the first call's tracing (~1.7 s of Python)
comes before any of that, and every shape is known as soon as the function is
traced but the batch's row count, which the caller knows. So
:class:`CompiledAhead` notes each such function as it is traced and, inside
:func:`rows_of_batch`, hands a compilation of it on those rows to a thread
of its own, which runs on another core while the main thread traces on
(one call of the very concrete function the batch function calls, on zeros,
from a graph of its own: XLA's cache is keyed on the function and the
shapes, so the batch function's call finds it compiled; an eager call of it
is compiled in a cache of its own and would not do). Measured side by side
on a 2-core AMD EPYC, in fresh processes alternated (medians of 3), the
first RevealCancel call took 3.48 -> 2.84 s on ChromBPNet, 4.47 -> 2.78 s
on DanQ (docs/benchmarks.md, issue 15's sixteenth round).

It changes no value: the batch function compiles what it runs as before and
finds the compilation done, or in progress (and waits for it). A function
traced on rows other than the batch's pairs (none known) would be compiled
for nothing, on the other core. Nothing is started on a machine with one
core (the thread would take the tracing's), nor while
:data:`ENABLED` is false.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import os
import threading
from typing import Callable, Iterator, Sequence

import tensorflow as tf

#: start compilations ahead (set False to compile every function on its first run instead)
ENABLED = True

_ROWS: contextvars.ContextVar[int | None] = contextvars.ContextVar("seqlift_batch_rows", default=None)
_STARTED: dict[tuple, concurrent.futures.Future] = {}
_LOCK = threading.Lock()
_POOL: list[concurrent.futures.ThreadPoolExecutor] = []


@contextlib.contextmanager
def rows_of_batch(rows: int) -> Iterator[None]:
    """Within this context, functions traced with an unknown row count are compiled ahead for ``rows`` rows
    (the pairs of the batch about to be scored)."""
    token = _ROWS.set(rows)
    try:
        yield
    finally:
        _ROWS.reset(token)


class CompiledAhead:
    """A ``tf.function`` compiled by XLA (``jit_compile=True``) whose compilations start ahead when it is
    traced within :func:`rows_of_batch`; called like the function itself."""

    def __init__(self, function: Callable) -> None:
        self.function = function

    def __call__(self, *args):
        out = self.function(*args)
        rows = _ROWS.get()
        if rows is not None and ENABLED and not tf.executing_eagerly() and _cores() > 1:
            flat = tf.nest.flatten(args)
            shapes = _concrete_shapes(flat, rows)
            if shapes is not None:
                _start(self.function.get_concrete_function(*args), args, flat, shapes)
        return out


def started() -> dict[tuple, concurrent.futures.Future]:
    """The compilations started so far, by (concrete function name, argument shapes): each future's
    result is ``None``, or it raises what the compilation raised."""
    with _LOCK:
        return dict(_STARTED)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _concrete_shapes(values: Sequence, rows: int) -> list[list[int]] | None:
    """Each tensor's shape among ``values`` (the arguments, flattened) with an unknown first axis read
    as ``rows``; ``None`` where any other axis is unknown."""
    shapes = []
    for value in values:
        if not isinstance(value, tf.Tensor):
            continue
        dims = value.shape.as_list() if value.shape.rank is not None else None
        if not dims:
            return None
        dims[0] = rows if dims[0] is None else dims[0]
        if any(d is None for d in dims[1:]):
            return None
        shapes.append(dims)
    return shapes


def _start(concrete, args: Sequence, flat: list, shapes: list[list[int]]) -> None:
    """Hand ``concrete``'s compilation for ``shapes`` (of the tensors among ``flat``, the arguments
    flattened) to the thread (once per function and shapes)."""
    key = (concrete.name, tuple(tuple(s) for s in shapes))
    with _LOCK:
        if key in _STARTED:
            return
    runner = _runner(concrete, args, flat, shapes)
    dtypes = [value.dtype for value in flat if isinstance(value, tf.Tensor)]
    with _LOCK:
        if not _POOL:
            _POOL.append(concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="seqlift-compile-ahead"))
        _STARTED[key] = _POOL[0].submit(_run_on_zeros, runner, shapes, dtypes)


def _runner(concrete, args: Sequence, flat: list, shapes: list[list[int]]):
    """A graph function of its own that calls ``concrete`` on tensors of ``shapes``, traced in the tracing
    thread (a few operations; the other thread then only runs it, with no Python work to contend for
    the interpreter's lock) and outside the batch function's graph (``tf.init_scope``), so that its
    captures are the variables themselves. Every tensor among the arguments (nested ones too) is
    replaced by one of the runner's."""
    slots = [i for i, value in enumerate(flat) if isinstance(value, tf.Tensor)]

    def call(*tensors):
        full = list(flat)
        for i, tensor in zip(slots, tensors):
            full[i] = tensor
        return concrete(*tf.nest.pack_sequence_as(list(args), full))

    with tf.init_scope():
        specs = [tf.TensorSpec(shape, flat[i].dtype) for i, shape in zip(slots, shapes)]
        return tf.function(call, autograph=False).get_concrete_function(*specs)


def _run_on_zeros(runner, shapes: list[list[int]], dtypes: list[tf.DType]) -> None:
    """Run ``runner`` once on zeros (XLA compiles the function it calls, into the cache the batch
    function reads)."""
    runner(*[tf.zeros(shape, dtype) for shape, dtype in zip(shapes, dtypes)])
