"""Reading the parts of a Keras model file: which format it is, its config and its weights.

Files of every Keras generation are read, without running Keras:

* Keras 3 ``.keras`` zip files (``config.json``, ``metadata.json``,
  ``model.weights.h5``);
* ``.h5`` full-model files from Keras 3 (legacy format), tf.keras 2.x and
  Keras 2.0-2.3 (a ``model_config`` attribute and the weights);
* a JSON architecture (``model.to_json()``) plus a weights file (Keras 2
  ``save_weights`` ``.h5``, a Keras 3 ``.weights.h5``, or a full-model file
  whose weights are used).

The format is told by the file's first bytes, not its name.
:func:`read_model_files` returns the parsed config
(:class:`~seqlift.model.keras_spec.ModelSpec`) and the weights
(:class:`~seqlift.model.keras_weights.WeightStore`); every problem is a
one-line :class:`~seqlift.errors.SeqliftError` naming the file.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import h5py

from seqlift.errors import SeqliftError
from seqlift.model.keras_spec import ModelSpec, parse_model_config
from seqlift.model.keras_weights import (
    WeightStore,
    has_keras3_layout,
    has_legacy_layout,
    keras3_store,
    legacy_store,
)

__all__ = ["read_model_files"]

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


def read_model_files(path: str | Path, weights: str | Path | None = None) -> tuple[ModelSpec, WeightStore, str]:
    """The config and weights of a model file (and optional weights file), and a description of the source.

    ``path`` and ``weights`` are those of :func:`seqlift.model.load_model`.
    Returns the parsed config, the weights, and the source: ``path``, or
    ``"path + weights"`` with a weights file.
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
    return spec, store, source
