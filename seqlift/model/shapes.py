"""How shapes are written in messages and model summaries: ``(None, 200, 4)``."""
from __future__ import annotations

from typing import Iterable


def shape_text(shape: Iterable[int | None], batch: bool = False) -> str:
    """A shape as Python writes a tuple, with ``None`` for lengths that are not fixed.

    Parameters
    ----------
    shape
        The lengths (ints or None), e.g. a node's shape without the batch axis.
    batch
        Prepend the batch axis (``None``), as Keras shows a layer's input.

    Examples
    --------
    >>> shape_text((200, 4), batch=True)
    '(None, 200, 4)'
    >>> shape_text([3])
    '(3,)'
    """
    dims = ["None" if d is None else str(d) for d in ((None, *shape) if batch else tuple(shape))]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
