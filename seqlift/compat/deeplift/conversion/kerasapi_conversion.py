"""``deeplift.conversion.kerasapi_conversion``: converted models from saved Keras files.

:func:`convert_model_from_saved_files` reads the files with
:func:`seqlift.load_model` (every Keras generation seqlift reads, not only the
Keras 2.0-2.2 files the original read) and names the layers as the original
did (:mod:`._naming`).
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

from seqlift.compat.deeplift._unsupported import module_getattr, refuse
from seqlift.compat.deeplift.conversion._naming import functional_names, model_layers, sequential_names
from seqlift.compat.deeplift.layers.core import (
    ConvMxtsMode,
    DenseMxtsMode,
    MaxPoolDeepLiftMode,
    NonlinearMxtsMode,
    seqlift_maxpool,
    seqlift_method,
)
from seqlift.compat.deeplift.models import GraphModel, Model, SequentialModel
from seqlift.errors import SeqliftError

__all__ = ["convert_model_from_saved_files"]

#: the model classes of a functional model's config, by Keras generation
FUNCTIONAL_CLASSES = ("Model", "Functional")


def convert_model_from_saved_files(
    h5_file: str | os.PathLike,
    json_file: str | os.PathLike | None = None,
    yaml_file: str | os.PathLike | None = None,
    nonlinear_mxts_mode: str = NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
    verbose: bool = True,
    dense_mxts_mode: str = DenseMxtsMode.Linear,
    conv_mxts_mode: str = ConvMxtsMode.Linear,
    maxpool_deeplift_mode: str = MaxPoolDeepLiftMode.deeplift,
    layer_overrides: Mapping | None = None,
    custom_conversion_funcs: Mapping | None = None,
) -> Model:
    """A converted model from Keras files, scoring with ``nonlinear_mxts_mode``.

    Parameters
    ----------
    h5_file : path
        A full-model ``.h5`` (or ``.keras``) file, or the weights file of
        ``json_file`` / ``yaml_file``.
    json_file, yaml_file : path, optional
        The model's architecture (``model.to_json()`` / ``to_yaml()``); at most one.
    nonlinear_mxts_mode : str
        A :data:`~seqlift.compat.deeplift.layers.NonlinearMxtsMode` value.
    verbose : bool
        Print the mode, as the original did.
    dense_mxts_mode, conv_mxts_mode : str
        ``"Linear"``, the only value the original had.
    maxpool_deeplift_mode : str
        ``MaxPoolDeepLiftMode.deeplift`` (seqlift's rule, default) or
        ``MaxPoolDeepLiftMode.gradient`` (the original's default, whose
        contributions do not sum to the change of the output).
    layer_overrides, custom_conversion_funcs
        Not supported (must be empty).

    Returns
    -------
    SequentialModel or GraphModel
    """
    if json_file is not None and yaml_file is not None:
        raise SeqliftError("give at most one of json_file and yaml_file")
    method, maxpool = conversion_options(nonlinear_mxts_mode, dense_mxts_mode, conv_mxts_mode,
                                         maxpool_deeplift_mode, layer_overrides, custom_conversion_funcs)
    config = read_model_config(h5_file, json_file, yaml_file)
    graph = load_graph(h5_file, json_file, config if yaml_file is not None else None)
    if verbose:
        print("nonlinear_mxts_mode is set to: " + str(nonlinear_mxts_mode))
    return converted(graph, config, method, maxpool, legacy=False)


def conversion_options(nonlinear_mxts_mode: str, dense_mxts_mode: str, conv_mxts_mode: str,
                       maxpool_deeplift_mode: str, layer_overrides: Mapping | None,
                       custom_conversion_funcs: Mapping | None) -> tuple[str, str]:
    """The seqlift ``method`` and ``maxpool`` of the original's conversion options; refuses the unsupported ones."""
    method = seqlift_method(nonlinear_mxts_mode)
    maxpool = seqlift_maxpool(maxpool_deeplift_mode)
    for option, value in (("dense_mxts_mode", dense_mxts_mode), ("conv_mxts_mode", conv_mxts_mode)):
        if value != "Linear":
            raise refuse(f"{option}={value!r}", "only 'Linear' existed")
    if layer_overrides:
        raise refuse("layer_overrides", "seqlift applies one mode to the whole model; genomics_default already "
                     "picks RevealCancel after Dense and Rescale after Conv layers")
    if custom_conversion_funcs:
        raise refuse("custom_conversion_funcs", "seqlift converts the layers it supports itself (see the README, "
                     "'Models it reads')")
    return method, maxpool


def converted(graph: Any, config: dict, method: str, maxpool: str, legacy: bool) -> Model:
    """A :class:`SequentialModel` or :class:`GraphModel` over ``graph``, named as the original named ``config``'s layers."""
    class_name = config.get("class_name")
    if class_name == "Sequential":
        entries = model_layers(class_name, config.get("config"))
        return SequentialModel(graph, sequential_names(entries, graph, count_input_layers=not legacy), method, maxpool)
    if class_name in FUNCTIONAL_CLASSES:
        return GraphModel(graph, functional_names(graph, legacy=legacy), method, maxpool)
    raise SeqliftError(f"cannot convert a {class_name} model; Sequential and functional models are converted")


def read_model_config(h5_file: str | os.PathLike, json_file: str | os.PathLike | None = None,
                      yaml_file: str | os.PathLike | None = None) -> dict:
    """The model config ``{"class_name": ..., "config": ...}`` from a JSON or YAML file, or from the model file.

    Raises
    ------
    SeqliftError
        Naming the file, when it is missing or holds no model config.
    """
    source = Path(json_file if json_file is not None else yaml_file if yaml_file is not None else h5_file)
    if not source.is_file():
        raise SeqliftError(f"model file {source} does not exist")
    if json_file is not None:
        text = source.read_text()
    elif yaml_file is not None:
        return _read_yaml(source)
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            if "config.json" not in archive.namelist():
                raise SeqliftError(f"{source} holds no config.json")
            text = archive.read("config.json").decode("utf-8")
    else:
        import h5py

        try:
            with h5py.File(source, "r") as handle:
                text = handle.attrs.get("model_config")
        except OSError:
            raise SeqliftError(f"{source} is not an HDF5 model file") from None
        if text is None:
            raise SeqliftError(f"{source} holds no model config (a weights-only file?); pass its architecture "
                               "as json_file= or yaml_file=")
        text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise SeqliftError(f"{source} is not a JSON model config ({err})") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise SeqliftError(f"{source} is not a Keras model config (no class_name)")
    return config


def _read_yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError:
        raise SeqliftError("reading a YAML model config needs PyYAML (pip install pyyaml)") from None

    class Loader(yaml.SafeLoader):
        """Safe loading, plus the python/tuple tags Keras 2's to_yaml wrote for shapes."""

    Loader.add_constructor("tag:yaml.org,2002:python/tuple", lambda loader, node: loader.construct_sequence(node))
    try:
        config = yaml.load(path.read_text(), Loader=Loader)
    except yaml.YAMLError as err:
        raise SeqliftError(f"{path} is not a YAML model config ({' '.join(str(err).split())})") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise SeqliftError(f"{path} is not a Keras model config (no class_name)")
    return config


#: models read by :func:`load_graph`, by file identity (the most recent :data:`LOADED_MAX`)
_LOADED: "OrderedDict[tuple, Any]" = OrderedDict()
LOADED_MAX = 8


def load_graph(h5_file: str | os.PathLike, json_file: str | os.PathLike | None, yaml_config: dict | None) -> Any:
    """seqlift's model from the files (a YAML config goes through a temporary JSON file).

    Converting the same unchanged files again (as notebooks do, once per
    mode) returns the same :class:`seqlift.model.Model`, so that its compiled
    functions are reused: seqlift keeps them on the model, one per method and target.
    """
    import seqlift

    key = tuple(_identity(path) for path in (h5_file, json_file) if path is not None)
    key += (json.dumps(yaml_config, sort_keys=True) if yaml_config is not None else None,)
    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    if yaml_config is None:
        graph = seqlift.load_model(json_file, weights=h5_file) if json_file is not None else seqlift.load_model(h5_file)
    else:
        with tempfile.TemporaryDirectory() as folder:
            config_path = Path(folder) / "model.json"
            config_path.write_text(json.dumps(yaml_config))
            graph = seqlift.load_model(config_path, weights=h5_file)
    _LOADED[key] = graph
    while len(_LOADED) > LOADED_MAX:
        _LOADED.popitem(last=False)
    return graph


def _identity(path: str | os.PathLike) -> tuple[str, int, int]:
    stat = Path(path).stat()
    return str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size


_FROM_FILES = "use convert_model_from_saved_files(h5_file, json_file=...)"
__getattr__ = module_getattr("deeplift.conversion.kerasapi_conversion", {
    "convert_sequential_model": _FROM_FILES,
    "convert_functional_model": _FROM_FILES,
    "sequential_container_conversion": _FROM_FILES,
    "functional_container_conversion": _FROM_FILES,
    "layer_name_to_conversion_function": "seqlift converts the layers it supports itself",
    "activation_to_conversion_function": "seqlift converts the layers it supports itself",
})
