"""The batched DeepLIFT engine: the methods, the rules, the backward pass, and ``attribute``.

The method registry (:mod:`seqlift.engine.methods`) imports no TensorFlow;
``attribute`` and ``Attribution`` are loaded when first used, so reading the
registry stays cheap.

Modules:

* :mod:`~seqlift.engine.methods`: every method, declared once;
* :mod:`~seqlift.engine.attribution`: ``attribute``, references, averaging;
* :mod:`~seqlift.engine.batch`: the compiled function scoring one batch;
* :mod:`~seqlift.engine.budget`: pairs per batch;
* :mod:`~seqlift.engine.scorers`: how each kind of method scores a batch;
* :mod:`~seqlift.engine.backprop`: the DeepLIFT and guided-backprop passes over the graph;
* :mod:`~seqlift.engine.node_rules`: the DeepLIFT rule of each form of op;
* :mod:`~seqlift.engine.multipliers`: what a pass carries;
* :mod:`~seqlift.engine.rules`: the rules' mathematics, one function per equation.
"""
from __future__ import annotations

import importlib
from typing import Any

from seqlift.engine.methods import DEEPLIFT_METHODS, METHODS

__all__ = ["attribute", "Attribution", "METHODS", "DEEPLIFT_METHODS", "pairs_per_batch"]

_LAZY = {
    "attribute": "seqlift.engine.attribution",
    "Attribution": "seqlift.engine.attribution",
    "pairs_per_batch": "seqlift.engine.budget",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seqlift.engine' has no attribute {name!r}")
