"""Loading a Keras model as a seqlift :class:`~seqlift.model.graph.Model`: from a file, or from a live model.

:func:`load_model` reads a model file without running the model's Python
code (:mod:`~seqlift.model.keras_files` reads the config and the weights,
:mod:`~seqlift.model.graph_builder` builds the graph); :func:`from_keras`
converts a live Keras 3 model the same way, from its config and weights.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from seqlift.errors import SeqliftError
from seqlift.model.graph import Model
from seqlift.model.graph_builder import build_model
from seqlift.model.keras_files import read_model_files
from seqlift.model.keras_spec import parse_model_config
from seqlift.model.keras_weights import live_store
from seqlift.model.lambdas import parse_declaration

__all__ = ["load_model", "from_keras"]


def load_model(path: str | Path, weights: str | Path | None = None,
               lambdas: Mapping[str, str] | None = None) -> Model:
    """Read a Keras model file into a seqlift :class:`~seqlift.model.graph.Model`.

    Parameters
    ----------
    path
        A ``.keras`` file, a full-model ``.h5`` file, or a JSON model config.
    weights
        The weights file, required with a JSON config; with a full-model
        file it replaces the weights stored there.
    lambdas
        What each ``Lambda`` layer computes, by layer name (or shell-style
        pattern): ``{"logcount_predictions": "logsumexp"}`` for ChromBPNet,
        ``{"*/profile": "identity", "*/counts": "identity"}`` for BPNet
        (:mod:`seqlift.model.lambdas` lists the kinds). A Lambda without a
        declaration stops the load, naming it and showing this option.

    Returns
    -------
    Model
        The graph, whose forward pass equals the Keras model's.

    Raises
    ------
    SeqliftError
        With a one-line reason: missing, truncated or foreign file; a layer
        seqlift does not support (naming it, its class and the supported
        classes); weights that do not match the config.

    Examples
    --------
    >>> model = load_model("model.json", weights="model_weights.h5")  # doctest: +SKIP
    >>> model.predict(x)  # doctest: +SKIP
    """
    for name, kind in (lambdas or {}).items():
        parse_declaration(kind, name)
    spec, store, source = read_model_files(path, weights)
    return build_model(spec, store, source, lambdas)


def from_keras(keras_model: Any, lambdas: Mapping[str, str] | None = None) -> Model:
    """Convert a live Keras 3 Sequential or functional model (from its config and weights).

    Parameters
    ----------
    keras_model
        A built ``keras.Model``.
    lambdas
        What its ``Lambda`` layers compute, as for :func:`load_model`.

    Returns
    -------
    Model
    """
    class_name = type(keras_model).__name__
    if class_name not in ("Functional", "Sequential"):
        raise SeqliftError(
            f"the model is a {class_name}; seqlift reads Sequential and functional Keras models only"
        )
    import keras  # the caller already has Keras; seqlift's file readers never need it

    config = json.loads(keras_model.to_json())
    spec = parse_model_config(config, keras.__version__)
    source = f"<live Keras model {keras_model.name!r}>"
    return build_model(spec, live_store(keras_model, source), source, lambdas)
