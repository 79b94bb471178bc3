"""Reading Keras models into seqlift's own graph of ops.

:func:`load_model` reads a model file without running the model's Python
code; :func:`from_keras` converts a live Keras 3 model the same way. The
modules, in the order a file is read:

* :mod:`~seqlift.model.keras_files`: which format a file is; its config and weights;
* :mod:`~seqlift.model.keras_spec`: the config's dialects, read into a ``ModelSpec``;
* :mod:`~seqlift.model.keras_weights`: the weights, from any Keras file layout;
* :mod:`~seqlift.model.keras_layers`: each Keras layer class as seqlift ops;
* :mod:`~seqlift.model.graph_builder`: the spec flattened into a ``Model``;
* :mod:`~seqlift.model.loading`: ``load_model`` and ``from_keras``;
* :mod:`~seqlift.model.graph`: the ``Model`` and its nodes;
* :mod:`~seqlift.model.ops`: the operations, with their form for the engine;
* :mod:`~seqlift.model.activations`: the elementwise nonlinearities, one class each;
* :mod:`~seqlift.model.invariant`: kernels whose rows do not depend on the batch;
* :mod:`~seqlift.model.shapes`: how shapes are written in messages;
* :mod:`~seqlift.model.lambdas`: Lambda layers declared by what they compute;
* :mod:`~seqlift.model.reductions`: reductions over an axis.

The public names are loaded when first used (as in :mod:`seqlift.engine`), so
reading the TensorFlow-free modules (:mod:`~seqlift.model.lambdas`, for the
command line's options) does not import TensorFlow.
"""
from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module defining it
_LAZY = {
    "Model": "seqlift.model.graph",
    "Node": "seqlift.model.graph",
    "ops": "seqlift.model.ops",
    "load_model": "seqlift.model.loading",
    "from_keras": "seqlift.model.loading",
    "SUPPORTED_LAYERS": "seqlift.model.keras_layers",
    "SUPPORTED_ACTIVATIONS": "seqlift.model.keras_layers",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if module.__name__.rpartition(".")[2] == name else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seqlift.model' has no attribute {name!r}")
