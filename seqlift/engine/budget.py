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
from seqlift.model import invariant
from seqlift.model.graph import Model

#: memory the activations of one batch of (sequence, reference) pairs may take. Each pass has a cost of
#: its own, whatever its size (~48 ms of the DeepSEA-shaped model's revealcancel, ~19 ms of the Basset-like
#: one's, measured as the intercept of the time of passes of 10 to 80 pairs), which larger passes share:
#: side by side on the 2-core machine (2026-12-03, ratio of wall time to a plain gradient), the
#: DeepSEA-shaped model's revealcancel at 20 pairs 2.38x, 40 pairs 2.33x, 80 pairs 2.26x; at 54 pairs
#: (this budget) 2.22-2.23x against 2.29-2.31x at 27 (1 GiB), its genomics default 1.20-1.22x against
#: 1.27-1.29x. Peak resident memory at this budget: 1.6-1.8 GiB (DeepSEA-shaped), 2.5 GiB (DanQ-shaped, 80 pairs).
BATCH_BYTES = 2**31
#: fewest and most pairs per batch by default. Beyond a few hundred pairs a pass gains nothing and holds
#: more memory: the paper's model's revealcancel ran alike at 250 and 1,000 pairs (2.18 and 2.23x) and
#: the 1 kb CNN's at 40 to 320 (2.02, 2.02, 2.07, 2.09x at 40, 80, 160, 320)
MIN_PAIRS, MAX_PAIRS = 16, 256
#: memory the activations of one block of in-silico mutagenesis's forward passes may take
FORWARD_BLOCK_BYTES = 2**30
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


#: a pass's own cost besides its pairs, in pairs' time: its sequences' rows (a forward pass only) weigh a
#: quarter of a pair's (forward passes of the reference and a backward pass per target), ...
SEQUENCE_ROW_WEIGHT = 0.25
#: ... and each pass a fixed cost (~4 ms on the paper's model, whose pairs take ~0.8 ms each for revealcancel)
PASS_OVERHEAD_PAIRS = 8


def rows_computed(rows: int) -> int:
    """Rows the batch-invariant convolutions compute for ``rows``: whole blocks of
    :data:`~seqlift.model.invariant.BLOCK_ROWS` (the last block padded with zero rows; the other blocks
    the kernels take, of 8 and 16 rows, divide it)."""
    block = invariant.BLOCK_ROWS
    return -(-rows // block) * block


def pass_cost(sequences: int, references: int) -> float:
    """The time of a pass of ``sequences`` sequences of ``references`` references each, in pairs' time:
    its pairs and its sequences' rows in whole blocks (:func:`rows_computed`), and its fixed cost."""
    return (rows_computed(sequences * references) + SEQUENCE_ROW_WEIGHT * rows_computed(sequences)
            + PASS_OVERHEAD_PAIRS)


def sequences_per_pass(references: int, most: int) -> int:
    """Sequences per pass, at most ``most`` and at least half as many, of ``references`` references each:
    the number whose passes take the least time per sequence (:func:`pass_cost`), the most among equals.
    With 20 references and at most 12 sequences (256 pairs), passes of 11 sequences compute 220 pairs
    in 7 blocks of 32 (224); passes of 12 would compute 256 pairs for 240."""
    return min(range(-(-most // 2), most + 1), key=lambda s: (pass_cost(s, references) / s, -s))


def forward_passes_per_block(model: Model, targets: str | Sequence[str], width: Any = None) -> Any:
    """Forward passes (no backward pass) that one block may run at once.

    In-silico mutagenesis evaluates its mutants in blocks of this many,
    whatever the batch: :data:`FORWARD_COPIES` copies of the activations per
    pass within :data:`FORWARD_BLOCK_BYTES`, at least 1. ``width`` may be a tensor
    (see :func:`activation_floats`); the result is then a tensor.
    """
    floats = activation_floats(model, targets, width)
    if isinstance(floats, int):
        return max(1, FORWARD_BLOCK_BYTES // (4 * FORWARD_COPIES * max(floats, 1)))
    passes = FORWARD_BLOCK_BYTES // (4 * FORWARD_COPIES * tf.maximum(tf.cast(floats, tf.int64), 1))
    return tf.cast(tf.maximum(passes, 1), tf.int32)
