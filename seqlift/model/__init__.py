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
* :mod:`~seqlift.model.shapes`: how shapes are written in messages.
"""
from __future__ import annotations

from seqlift.model import ops
from seqlift.model.graph import Model, Node
from seqlift.model.keras_layers import SUPPORTED_ACTIVATIONS, SUPPORTED_LAYERS
from seqlift.model.loading import from_keras, load_model

__all__ = [
    "Model",
    "Node",
    "ops",
    "load_model",
    "from_keras",
    "SUPPORTED_LAYERS",
    "SUPPORTED_ACTIVATIONS",
]
