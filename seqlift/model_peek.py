"""What a model file says before it is loaded, read without TensorFlow.

Loading a model (:func:`seqlift.model.load_model`) starts TensorFlow, which
takes seconds. The command line first checks what can be told from the files
alone, so that a mistake in the command or the regions is reported at once:

* :func:`check_model_files`: the files exist; a JSON config comes with
  ``--weights``; a weights-only ``.h5`` is not given as the model.
* :func:`declared_input_shape`: the input shape the config declares, when it
  has one input layer, so that regions can be checked against the window
  width before the model is loaded.

Nothing here validates a model: :func:`~seqlift.model.load_model` remains the
authority, and a run compares its own reading with what was peeked.
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import h5py

from seqlift.errors import SeqliftError

__all__ = ["check_model_files", "declared_input_shape"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _kind(path: str) -> str:
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head.startswith(b"PK"):
        return "zip"
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "unknown"


def check_model_files(model: str, weights: str | None, option: str = "--model") -> None:
    """Fail with one line, naming the option, unless ``model`` (and ``weights``) can be what a command loads.

    Parameters
    ----------
    model : str
        The model file given with ``option``.
    weights : str, optional
        The file given with ``--weights``.
    option : str
        The model's option, for the messages.

    Raises
    ------
    SeqliftError
        For a missing file, a JSON config without ``--weights``, or a file
        that holds only weights given as the model.
    """
    for what, path in ((option, model), ("--weights", weights)):
        if path is not None and not os.path.exists(path):
            raise SeqliftError(f"{what} file {path} does not exist")
        if path is not None and os.path.isdir(path):
            raise SeqliftError(f"{what} {path} is a directory, not a model file")
    try:
        kind = _kind(model)
    except OSError as err:
        raise SeqliftError(f"cannot read the model file {model}: {err.strerror or err}") from None
    if kind == "json" and weights is None:
        raise SeqliftError(f"{option} {model} is a Keras model config (JSON) without weights: "
                           "give its weights file with --weights")
    if kind == "hdf5" and _weights_only(model):
        raise SeqliftError(f"{option} {model} holds only weights, no model config: give the architecture "
                           f"(a .json file) with {option} and this file with --weights")


def _weights_only(path: str) -> bool:
    try:
        with h5py.File(path, "r") as handle:
            return "model_config" not in handle.attrs and ("layer_names" in handle.attrs or "layers" in handle)
    except OSError:
        return False  # damaged: the loader says so


def _config(path: str) -> Any:
    """The model's config (decoded JSON), or None when it cannot be read cheaply."""
    try:
        kind = _kind(path)
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("config.json"))
        if kind == "hdf5":
            with h5py.File(path, "r") as handle:
                raw = handle.attrs.get("model_config")
                return json.loads(raw) if raw is not None else None
        if kind == "json":
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, UnicodeDecodeError):
        return None
    return None


def declared_input_shape(path: str) -> tuple[int | None, ...] | None:
    """The input shape (without the batch axis) a model file's config declares, if it tells.

    Keras writes the shape into the config of the input layer (``batch_shape``
    in Keras 3, ``batch_input_shape`` in Keras 2; on the first layer of a
    Keras 2 Sequential model without an input layer). Lengths that may vary
    are None.

    Parameters
    ----------
    path : str
        A ``.keras``, ``.h5`` or JSON model file.

    Returns
    -------
    tuple or None
        E.g. ``(1000, 4)`` or ``(None, 4)``; None when the config cannot be
        read or does not declare exactly one input shape.
    """
    config = _config(path)
    if not isinstance(config, dict):
        return None
    body = config.get("config")
    layers = body.get("layers") if isinstance(body, dict) else body  # Keras 2.0 Sequential: a bare list
    if not isinstance(layers, list) or not layers:
        return None
    shapes = [_shape(layer) for layer in layers if isinstance(layer, dict) and layer.get("class_name") == "InputLayer"]
    if not shapes and config.get("class_name") == "Sequential" and isinstance(layers[0], dict):
        shapes = [_shape(layers[0])]
    if len(shapes) != 1 or shapes[0] is None:
        return None
    return shapes[0]


def _shape(layer: dict) -> tuple[int | None, ...] | None:
    settings = layer.get("config")
    if not isinstance(settings, dict):
        return None
    shape = settings.get("batch_shape") or settings.get("batch_input_shape")
    if not isinstance(shape, list) or len(shape) < 2:
        return None
    if not all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in shape[1:]):
        return None
    return tuple(shape[1:])
