"""seqlift: DeepLIFT contribution scores for Keras models of DNA sequence.

The public API is loaded lazily, so that ``import seqlift`` (and the command
line's ``--help``) does not pay for importing TensorFlow.

Examples
--------
>>> import seqlift
>>> x = seqlift.one_hot(["ACGTN"])
>>> x.shape
(1, 5, 4)
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_API = {
    "one_hot": "seqlift.onehot",
    "decode": "seqlift.onehot",
    "reverse_complement": "seqlift.onehot",
    "read_bed": "seqlift.regions",
    "Region": "seqlift.regions",
    "Genome": "seqlift.genome",
    "dinucleotide_shuffle": "seqlift.shuffle",
    "references": "seqlift.references",
    "load_model": "seqlift.model",
    "attribute": "seqlift.engine",
    "Attribution": "seqlift.engine",
    "SeqliftError": "seqlift.errors",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'seqlift' has no attribute {name!r}")
    if module == f"seqlift.{name}":
        value = importlib.import_module(module)
    else:
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
