"""``deeplift.conversion.keras_conversion``: the API of deeplift 0.5 and earlier.

There, ``load_keras_model(weights, json=...)`` loaded a Keras model and
``convert_sequential_model(model, ...)`` / ``convert_functional_model(model, ...)``
converted it. Here :func:`load_keras_model` returns seqlift's reading of the
files (:class:`KerasModelFiles`, whose ``predict`` runs the model), and the
converters take it or a live Keras 3 model. Layers are named as the old
converter named them (:mod:`._naming`: Sequential layers counted without the
``InputLayer``, functional layers by their Keras names).
"""
from __future__ import annotations

import json as json_module
import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from seqlift.compat.deeplift._unsupported import module_getattr, refuse
from seqlift.compat.deeplift.conversion.kerasapi_conversion import (
    FUNCTIONAL_CLASSES,
    conversion_options,
    converted,
    load_graph,
    read_model_config,
)
from seqlift.compat.deeplift.layers.core import ConvMxtsMode, DenseMxtsMode, MaxPoolDeepLiftMode, NonlinearMxtsMode
from seqlift.compat.deeplift.models import GraphModel, SequentialModel
from seqlift.errors import SeqliftError

__all__ = ["KerasModelFiles", "load_keras_model", "convert_sequential_model", "convert_functional_model"]


@dataclass
class KerasModelFiles:
    """A Keras model read from its files by seqlift: what :func:`load_keras_model` returns.

    Attributes
    ----------
    model : seqlift.model.Model
        The model (``seqlift.load_model``).
    config : dict
        Its Keras config, which fixes the old converter's layer names.
    """

    model: Any
    config: dict

    def predict(self, x: np.ndarray | list[np.ndarray], batch_size: int = 256) -> np.ndarray | list[np.ndarray]:
        """The model's outputs (``seqlift.model.Model.predict``)."""
        return self.model.predict(x, batch_size=batch_size)


def load_keras_model(weights: str | os.PathLike, yaml: str | os.PathLike | None = None,
                     json: str | os.PathLike | None = None, normalise_conv_for_one_hot_encoded_input: bool = False,
                     axis_of_normalisation: int | None = None,
                     name_of_conv_layer_to_normalise: str | None = None) -> KerasModelFiles:
    """Read a model from its weights file and its JSON or YAML architecture.

    Parameters
    ----------
    weights : path
        The weights (``save_weights``) file.
    yaml, json : path
        The architecture; exactly one.
    normalise_conv_for_one_hot_encoded_input, axis_of_normalisation, name_of_conv_layer_to_normalise
        Not supported (seqlift scores the model as saved).

    Returns
    -------
    KerasModelFiles
    """
    if normalise_conv_for_one_hot_encoded_input:
        raise refuse("normalise_conv_for_one_hot_encoded_input",
                     "seqlift scores the model as saved; mean-normalise the first convolution's weights in Keras "
                     "before saving if you need it")
    if (yaml is None) == (json is None):
        raise SeqliftError("give exactly one of yaml= and json= (the model's architecture)")
    config = read_model_config(weights, json_file=json, yaml_file=yaml)
    return KerasModelFiles(load_graph(weights, json, config if yaml is not None else None), config)


def _graph_and_config(model: Any) -> tuple[Any, dict]:
    if isinstance(model, KerasModelFiles):
        return model.model, model.config
    if hasattr(model, "to_json") and hasattr(model, "layers"):
        from seqlift.model import from_keras

        return from_keras(model), json_module.loads(model.to_json())
    raise SeqliftError(f"cannot convert a {type(model).__name__}; pass what load_keras_model returns or a Keras model")



def convert_sequential_model(model: Any, num_dims: int | None = None,
                             nonlinear_mxts_mode: str = NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
                             verbose: bool = True, dense_mxts_mode: str = DenseMxtsMode.Linear,
                             conv_mxts_mode: str = ConvMxtsMode.Linear,
                             maxpool_deeplift_mode: str = MaxPoolDeepLiftMode.deeplift,
                             layer_overrides: Mapping | None = None) -> SequentialModel:
    """Convert a Sequential model (from :func:`load_keras_model`, or a live Keras model).

    Parameters are those of
    :func:`~seqlift.compat.deeplift.conversion.kerasapi_conversion.convert_model_from_saved_files`;
    ``num_dims`` is ignored (the input shape comes from the model).

    Returns
    -------
    SequentialModel
    """
    graph, config = _graph_and_config(model)
    if config.get("class_name") != "Sequential":
        raise SeqliftError(f"the model is a {config.get('class_name')} model; use convert_functional_model")
    return _convert(graph, config, nonlinear_mxts_mode, verbose, dense_mxts_mode, conv_mxts_mode,
                    maxpool_deeplift_mode, layer_overrides, None)


def convert_functional_model(model: Any, nonlinear_mxts_mode: str = NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
                             verbose: bool = True, dense_mxts_mode: str = DenseMxtsMode.Linear,
                             conv_mxts_mode: str = ConvMxtsMode.Linear,
                             maxpool_deeplift_mode: str = MaxPoolDeepLiftMode.deeplift,
                             custom_conversion_funcs: Mapping | None = None,
                             auto_build_outputs: bool = True) -> GraphModel:
    """Convert a functional model (from :func:`load_keras_model`, or a live Keras model).

    Layers are named by their Keras names (``"<layer>_<call>"`` for shared
    layers, ``"preact_<layer>"`` for the linear part of a layer with an
    activation). ``auto_build_outputs`` is ignored.

    Returns
    -------
    GraphModel
    """
    graph, config = _graph_and_config(model)
    if config.get("class_name") not in FUNCTIONAL_CLASSES:
        raise SeqliftError(f"the model is a {config.get('class_name')} model; use convert_sequential_model")
    return _convert(graph, config, nonlinear_mxts_mode, verbose, dense_mxts_mode, conv_mxts_mode,
                    maxpool_deeplift_mode, None, custom_conversion_funcs)


def _convert(graph: Any, config: dict, nonlinear_mxts_mode: str, verbose: bool, dense_mxts_mode: str,
             conv_mxts_mode: str, maxpool_deeplift_mode: str, layer_overrides: Mapping | None,
             custom_conversion_funcs: Mapping | None) -> Any:
    method, maxpool = conversion_options(nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
                                         maxpool_deeplift_mode, layer_overrides, custom_conversion_funcs)
    if verbose:
        print("nonlinear_mxts_mode is set to: " + str(nonlinear_mxts_mode))
    return converted(graph, config, method, maxpool, legacy=True)


__getattr__ = module_getattr("deeplift.conversion.keras_conversion", {
    "convert_graph_model": "Keras 1 Graph containers are gone; save the model as a functional Keras model and "
                           "use convert_functional_model",
    "mean_normalise_first_conv_layer_weights": "seqlift scores the model as saved; normalise the weights in Keras",
    "mean_normalise_softmax_weights": "use seqlift.attribute(..., softmax_normalize=True), the paper's "
                                      "section 3.6 adjustment",
})
