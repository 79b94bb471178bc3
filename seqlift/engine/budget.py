"""How many (sequence, reference) pairs one batch holds: the memory budget, in one place.

Both :func:`seqlift.attribute` (its default ``batch_size``) and ``seqlift score``
(its default passes) take their batch size from :func:`pairs_per_batch`. It
depends only on the model, the target and the method, never on the machine,
so runs on different machines use the same batches (and scores are
bit-for-bit the same whatever the batch anyway).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import tensorflow as tf

from seqlift.engine.backprop import ancestors
from seqlift.engine.methods import METHODS
from seqlift.model.graph import Model

#: memory the activations of one batch may take. Measured side by side on the 2-core machine
#: (2026-12-02, rescale, ratio of wall time to a plain gradient): the 1 kb CNN of issue 15 at 45
#: pairs per batch (256 MiB) 1.36-1.44x, at 160 pairs 1.26-1.33x, at 320 pairs 1.24x; the
#: Basset-like model at 20 pairs 1.17x, 80 pairs 1.05x; the paper's model flat from 200 to 1,000
#: pairs. Peak resident memory at this budget: 1.7 GiB (1 kb CNN, 180 pairs, revealcancel),
#: 5.2 GiB (the DanQ-shaped model at 40 pairs).
BATCH_BYTES = 2**30
#: fewest and most pairs per batch by default (more gains nothing on a CPU)
MIN_PAIRS, MAX_PAIRS = 16, 4096
#: copies of the activations a plain forward pass holds at once (a layer's input and output)
FORWARD_COPIES = 2


def activation_floats(model: Model, targets: str | Sequence[str], width: Any = None) -> Any:
    """Values of every node the targets depend on, for one pair (``width`` for free lengths).

    ``width`` may be a scalar tensor (the length inside a compiled function);
    the count is then a tensor too.
    """
    shapes = model.node_shapes()
    total = 0
    for name in ancestors(model, targets):
        total += math.prod(width if d is None else int(d) for d in shapes[name])
    return total


def pairs_per_batch(model: Model, targets: str | Sequence[str], method: str, width: int | None = None) -> int:
    """Pairs per batch: as many as fit in :data:`BATCH_BYTES` of float32 activations.

    Each pair holds :meth:`~seqlift.engine.methods.Method.copies` copies of the
    activations of every node the targets depend on; the result lies between
    :data:`MIN_PAIRS` and :data:`MAX_PAIRS`.

    Parameters
    ----------
    model : Model
    targets : str or list of str
        The node(s) explained.
    method : str
        A key of :data:`seqlift.engine.methods.METHODS`.
    width : int, optional
        The input length, for models that accept any length.
    """
    floats = activation_floats(model, targets, width)
    pairs = BATCH_BYTES // (4 * METHODS[method].copies(model, width) * max(floats, 1))
    return int(min(MAX_PAIRS, max(MIN_PAIRS, pairs)))


def forward_passes_per_block(model: Model, targets: str | Sequence[str], width: Any = None) -> Any:
    """Forward passes (no backward pass) that one block may run at once.

    In-silico mutagenesis evaluates its mutants in blocks of this many,
    whatever the batch: :data:`FORWARD_COPIES` copies of the activations per
    pass within :data:`BATCH_BYTES`, at least 1. ``width`` may be a tensor
    (see :func:`activation_floats`); the result is then a tensor.
    """
    floats = activation_floats(model, targets, width)
    if isinstance(floats, int):
        return max(1, BATCH_BYTES // (4 * FORWARD_COPIES * max(floats, 1)))
    passes = BATCH_BYTES // (4 * FORWARD_COPIES * tf.maximum(tf.cast(floats, tf.int64), 1))
    return tf.cast(tf.maximum(passes, 1), tf.int32)
