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
    "one_hot": "seqlift.sequences.onehot",
    "decode": "seqlift.sequences.onehot",
    "reverse_complement": "seqlift.sequences.onehot",
    "read_bed": "seqlift.genome.regions",
    "Region": "seqlift.genome.regions",
    "Genome": "seqlift.genome.fasta",
    "dinucleotide_shuffle": "seqlift.sequences.shuffle",
    "references": "seqlift.sequences.references",
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
    if module.rpartition(".")[2] == name:  # the name is a module (seqlift.references)
        value = importlib.import_module(module)
    else:
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
