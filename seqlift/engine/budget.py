"""How many (sequence, reference) pairs one batch holds: the memory budget, in one place.

Both :func:`seqlift.attribute` (its default ``batch_size``) and ``seqlift score``
(its default passes) take their batch size from :func:`pairs_per_batch`. It
depends only on the model, the target and the method, never on the machine,
so runs on different machines use the same batches (and scores are
bit-for-bit the same whatever the batch anyway).
"""
from __future__ import annotations

import math
from typing import Sequence

from seqlift.engine.backprop import ancestors
from seqlift.engine.methods import METHODS
from seqlift.model.graph import Model

#: memory the activations of one batch may take (on the paper model, 661 pairs per batch
#: peaked at 3.8 GiB and 160 at 1.7 GiB, equally fast)
BATCH_BYTES = 256 * 2**20
#: fewest and most pairs per batch by default (more gains nothing on a CPU)
MIN_PAIRS, MAX_PAIRS = 16, 4096


def activation_floats(model: Model, targets: str | Sequence[str], width: int | None = None) -> int:
    """Values of every node the targets depend on, for one pair (``width`` for free lengths)."""
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
    pairs = BATCH_BYTES // (4 * METHODS[method].copies(model) * max(floats, 1))
    return int(min(MAX_PAIRS, max(MIN_PAIRS, pairs)))
