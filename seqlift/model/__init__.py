"""Reading Keras models into seqlift's own graph of ops.

:func:`load_model` reads a model file without running the model's Python
code: the config is parsed as JSON (:mod:`~seqlift.model.keras_config`) and
the weights read with h5py (:mod:`~seqlift.model.keras_weights`). Files of
every Keras generation are read:

* Keras 3 ``.keras`` zip files;
* ``.h5`` full-model files from Keras 3 (legacy format), tf.keras 2.x and
  Keras 2.0-2.3;
* a JSON architecture (``model.to_json()``) plus a weights file given as
  ``weights=`` (Keras 2 ``save_weights`` ``.h5``, a Keras 3 ``.weights.h5``,
  or a full-model file whose weights are used).

:func:`from_keras` converts a live Keras 3 model the same way.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import h5py

from seqlift.errors import SeqliftError
from seqlift.model import ops
from seqlift.model.graph import Model, Node
from seqlift.model.keras_config import (
    SUPPORTED_ACTIVATIONS,
    SUPPORTED_LAYERS,
    ModelSpec,
    build_model,
    parse_model_config,
)
from seqlift.model.keras_weights import (
    WeightStore,
    has_keras3_layout,
    has_legacy_layout,
    keras3_store,
    legacy_store,
    live_store,
)

__all__ = [
    "Model",
    "Node",
    "ops",
    "load_model",
    "from_keras",
    "SUPPORTED_LAYERS",
    "SUPPORTED_ACTIVATIONS",
]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"


def _file_kind(path: Path) -> str:
    """``'zip'``, ``'hdf5'``, ``'json'`` or ``'unknown'``, from the file's first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head.startswith(_ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    if head.lstrip().startswith((b"{", b"[")):
        return "json"
    return "unknown"


def _check_path(path: Path, what: str) -> None:
    if not path.exists():
        raise SeqliftError(f"{what} {path} does not exist")
    if path.is_dir():
        raise SeqliftError(
            f"{what} {path} is a directory; seqlift reads a .keras file, an .h5 file, "
            f"or a .json config with weights= (not TensorFlow SavedModel directories)"
        )


def _not_a_model(path: Path) -> SeqliftError:
    return SeqliftError(
        f"{path} is not a Keras model file (expected a .keras zip, an HDF5 .h5 with a model config, "
        f"or a JSON model config)"
    )


def _decode_json(text: bytes | str, path: Path, what: str) -> Any:
    try:
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SeqliftError(f"{what} in {path} is not valid JSON ({err.msg if hasattr(err, 'msg') else err})") from None


def _open_hdf5(source: Path | io.BytesIO, name: str) -> h5py.File:
    try:
        return h5py.File(source, "r")
    except OSError as err:
        raise SeqliftError(f"{name} is truncated or corrupt (HDF5 could not open it: {err})") from None


def _store_from_hdf5(handle: h5py.File | h5py.Group, spec: ModelSpec, name: str) -> WeightStore:
    if "model_weights" in handle and isinstance(handle["model_weights"], h5py.Group):
        group = handle["model_weights"]
        if has_legacy_layout(group):
            return legacy_store(group, name)
    if has_legacy_layout(handle):
        return legacy_store(handle, name)
    if has_keras3_layout(handle):
        return keras3_store(handle, spec.layer_tree(), name)
    raise SeqliftError(f"{name} holds no Keras weights (no layer_names attribute and no layers/ group)")


def _read_keras_zip(path: Path) -> tuple[Any, str | None, bytes | None]:
    """(config, keras_version, model.weights.h5 bytes or None) of a ``.keras`` file."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise SeqliftError(f"{path} is a zip file but not a .keras model (no config.json inside)")
            config = _decode_json(archive.read("config.json"), path, "config.json")
            version = None
            if "metadata.json" in names:
                version = _decode_json(archive.read("metadata.json"), path, "metadata.json").get("keras_version")
            weights = archive.read("model.weights.h5") if "model.weights.h5" in names else None
            if weights is None and any(n.startswith("model.weights") for n in names):
                raise SeqliftError(
                    f"{path} stores its weights as {sorted(n for n in names if n.startswith('model.weights'))[0]}; "
                    f"seqlift reads only model.weights.h5"
                )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as err:
        raise SeqliftError(f"{path} is truncated or corrupt (zip: {err})") from None
    return config, version, weights


def _read_weights_file(path: Path, spec: ModelSpec) -> WeightStore:
    _check_path(path, "weights file")
    kind = _file_kind(path)
    if kind == "zip":
        _, _, data = _read_keras_zip(path)
        if data is None:
            raise SeqliftError(f"{path} holds no model.weights.h5")
        try:
            with _open_hdf5(io.BytesIO(data), str(path)) as handle:
                return _store_from_hdf5(handle, spec, str(path))
        except OSError as err:
            raise SeqliftError(f"weights file {path} is truncated or corrupt ({err})") from None
    if kind != "hdf5":
        raise SeqliftError(f"weights file {path} is not an HDF5 (.h5) or .keras file")
    try:
        with _open_hdf5(path, str(path)) as handle:
            return _store_from_hdf5(handle, spec, str(path))
    except OSError as err:
        raise SeqliftError(f"weights file {path} is truncated or corrupt ({err})") from None


def _parse(config: Any, version: str | None, path: Path) -> ModelSpec:
    """Parse a decoded config, turning malformed-structure errors into one-line messages."""
    try:
        return parse_model_config(config, version)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        raise SeqliftError(f"cannot read the model config in {path}: {type(err).__name__} {err}") from None


def _read_hdf5_model(path: Path, with_weights: bool) -> tuple[ModelSpec, WeightStore | None]:
    """The spec (and, if asked, the weights) of a full-model ``.h5`` file."""
    try:
        with _open_hdf5(path, str(path)) as handle:
            raw = handle.attrs.get("model_config")
            if raw is None:
                if has_legacy_layout(handle) or has_keras3_layout(handle):
                    raise SeqliftError(
                        f"{path} holds only weights, no model config; pass the architecture "
                        f"(a .json config) as the model and this file as weights="
                    )
                raise _not_a_model(path)
            if isinstance(raw, bytes):
                raw = raw.decode("utf8")
            config = _decode_json(raw, path, "model_config")
            version = handle.attrs.get("keras_version")
            version = version.decode("utf8") if isinstance(version, bytes) else version
            spec = _parse(config, version, path)
            store = _store_from_hdf5(handle, spec, str(path)) if with_weights else None
    except OSError as err:
        raise SeqliftError(f"{path} is truncated or corrupt ({err})") from None
    return spec, store


def _read_json_model(path: Path) -> ModelSpec:
    """The spec of a JSON model config (``model.to_json()``)."""
    try:
        text = path.read_text(encoding="utf8")
    except UnicodeDecodeError:
        raise _not_a_model(path) from None
    config = _decode_json(text, path, "the model config")
    if isinstance(config, dict) and "class_name" not in config and "config" not in config:
        raise _not_a_model(path)
    version = config.get("keras_version") if isinstance(config, dict) else "2"
    return _parse(config, version, path)


def load_model(path: str | Path, weights: str | Path | None = None) -> Model:
    """Read a Keras model file into a seqlift :class:`~seqlift.model.graph.Model`.

    Parameters
    ----------
    path
        A ``.keras`` file, a full-model ``.h5`` file, or a JSON model config.
    weights
        The weights file, required with a JSON config; with a full-model
        file it replaces the weights stored there.

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
    path = Path(path)
    _check_path(path, "model file")
    kind = _file_kind(path)
    weights_path = None if weights is None else Path(weights)
    store: WeightStore | None = None
    if kind == "zip":
        config, version, data = _read_keras_zip(path)
        spec = _parse(config, version or "3", path)
        if weights_path is None:
            if data is None:
                raise SeqliftError(f"{path} holds no model.weights.h5")
            try:
                with _open_hdf5(io.BytesIO(data), str(path)) as handle:
                    store = _store_from_hdf5(handle, spec, str(path))
            except OSError as err:
                raise SeqliftError(f"{path} is truncated or corrupt ({err})") from None
    elif kind == "hdf5":
        spec, store = _read_hdf5_model(path, with_weights=weights_path is None)
    elif kind == "json":
        spec = _read_json_model(path)
        if weights_path is None:
            raise SeqliftError(f"{path} is a model config without weights; pass the weights file as weights=")
    else:
        raise _not_a_model(path)
    if store is None:
        store = _read_weights_file(weights_path, spec)
    source = str(path) if weights_path is None else f"{path} + {weights_path}"
    return build_model(spec, store, source)


def from_keras(keras_model: Any) -> Model:
    """Convert a live Keras 3 Sequential or functional model (from its config and weights).

    Parameters
    ----------
    keras_model
        A built ``keras.Model``.

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
    return build_model(spec, live_store(keras_model, source), source)
