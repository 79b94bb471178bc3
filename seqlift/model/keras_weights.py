"""Reading a Keras model's weights, layer by layer, from any Keras file layout.

Three layouts exist, all read here into a :class:`WeightStore` that hands each
layer its arrays by *layer path* (the layer's name, prefixed by the names of
the nested models that hold it):

* **Keras 3** (``model.weights.h5`` inside a ``.keras`` zip, or a
  ``.weights.h5`` file): ``layers/<key>/vars/0, 1, ...`` where ``<key>`` is
  the snake-cased class name made unique within its model (``dense``,
  ``dense_1``...), nested models adding ``layers/<key>/layers/...``. Recent
  Keras versions store the layer name as the ``name`` attribute of ``vars``;
  otherwise the keys are rebuilt from the model config. Keras 2.13-2.15
  ``.keras`` files use ``_layer_checkpoint_dependencies`` for ``layers``.
* **Legacy HDF5** (Keras 2.x ``save_weights``/``save`` and Keras 3
  ``.h5``): one group per layer (in the root, or in ``model_weights`` for a
  full model) listed by the ``layer_names`` attribute, each with a
  ``weight_names`` attribute such as ``conv1d_1/kernel:0``. A nested model's
  group holds the weights of all its layers.
* **A live Keras 3 model** (for :func:`seqlift.model.from_keras`).

Arrays are matched to what a layer needs by variable name (``kernel``,
``bias``, ``gamma``...) where the file names them, else by order, and their
shapes are checked against the shapes the model config implies.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import h5py
import numpy as np

from seqlift.errors import SeqliftError
from seqlift.model.shapes import shape_text

__all__ = [
    "LayerTree",
    "WeightStore",
    "WeightSpec",
    "has_keras3_layout",
    "has_legacy_layout",
    "keras3_store",
    "legacy_store",
    "live_store",
    "snake_case",
]

#: A model's layers for rebuilding Keras 3 weight keys: ``(name, class_name,
#: children)`` per layer, ``children`` being the nested model's own tree or None.
LayerTree = Sequence[tuple[str, str, "LayerTree | None"]]

_KNOWN_VARIABLES = {
    "kernel",
    "bias",
    "gamma",
    "beta",
    "moving_mean",
    "moving_variance",
    "alpha",
    "recurrent_kernel",
    "depthwise_kernel",
    "pointwise_kernel",
    "scale",
    "concat_score_weight",
}

#: Keras 3 saves the weights of a layer's sub-layers (a recurrent layer's ``cell``, a
#: ``Bidirectional``'s two layers, an attention layer's projections) in groups named by
#: attribute; this is the order in which the layers create them (their ``weights`` order,
#: which legacy files and live models list). Other sub-groups follow, by name.
_SUBLAYER_ORDER = ("forward_layer", "backward_layer", "cell", "query_dense", "key_dense", "value_dense",
                   "output_dense")


@dataclass(frozen=True)
class WeightSpec:
    """One array a layer needs.

    Attributes
    ----------
    name
        Keras variable name (``kernel``, ``bias``, ``gamma``...).
    shape
        The shape the config implies (``None`` entries match any length).
    """

    name: str
    shape: tuple


@dataclass
class _Entry:
    """One stored array: its variable name (None when the layout has none) and data."""

    name: str | None
    data: np.ndarray
    label: str  # full name in the file, for messages


def snake_case(class_name: str) -> str:
    """Keras' file key for a class name: ``'PReLU'`` -> ``'p_re_lu'``, ``'Conv1D'`` -> ``'conv1d'``."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _variable_name(full_name: str) -> str | None:
    """``'conv1d_1/kernel:0'`` -> ``'kernel'``; None when not a known variable name."""
    last = full_name.split("/")[-1]
    last = re.sub(r":\d+$", "", last)
    return last if last in _KNOWN_VARIABLES else None


def _layer_components(full_name: str) -> list[str]:
    """``'inner/d_in/kernel:0'`` -> ``['inner', 'd_in']``."""
    return full_name.split("/")[:-1]


def _read_dataset(dataset: h5py.Dataset) -> np.ndarray:
    raw = dataset[()]
    if dataset.attrs.get("dtype") in ("bfloat16", b"bfloat16"):
        bits = np.asarray(raw).view(np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32).reshape(np.shape(raw))
    return np.asarray(raw, dtype=np.float32)


def _text(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _chunked_attribute(group: h5py.Group, name: str) -> list[str] | None:
    """An HDF5 string-list attribute, joining Keras' ``name0``, ``name1``... chunks."""
    if name in group.attrs:
        return [_text(v) for v in np.atleast_1d(group.attrs[name]) if not isinstance(v, float)]
    if f"{name}0" in group.attrs:
        values: list[str] = []
        chunk = 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(_text(v) for v in np.atleast_1d(group.attrs[f"{name}{chunk}"]))
            chunk += 1
        return values
    return None


def _shapes_agree(actual: tuple, wanted: tuple) -> bool:
    return len(actual) == len(wanted) and all(w is None or a == w for a, w in zip(actual, wanted))


def _squeezable(actual: tuple, wanted: tuple) -> bool:
    """True when ``actual`` equals ``wanted`` once length-1 axes are ignored."""
    if any(w is None for w in wanted):
        return False
    return [d for d in actual if d != 1] == [d for d in wanted if d != 1]


class WeightStore:
    """Weights of a model, by layer path.

    Built by :func:`keras3_store`, :func:`legacy_store` or :func:`live_store`;
    :meth:`take` hands a layer its arrays and :meth:`unused` lists what no
    layer took.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        # path -> entries for layers whose arrays are stored on their own
        self._layers: dict[tuple[str, ...], list[_Entry]] = {}
        # top-level group -> entries, for legacy nested-model groups
        self._groups: dict[str, list[_Entry]] = {}
        self._taken: set[int] = set()
        self._taken_layers: set[tuple[str, ...]] = set()

    # ------------------------------------------------------------- building
    def _add_layer(self, path: tuple[str, ...], entries: list[_Entry]) -> None:
        self._layers[path] = entries

    def _add_group(self, name: str, entries: list[_Entry]) -> None:
        self._groups[name] = entries

    # -------------------------------------------------------------- lookup
    def _entries_for(self, path: tuple[str, ...], count: int) -> list[_Entry] | None:
        if path in self._layers:
            self._taken_layers.add(path)
            return self._layers[path]
        group = self._groups.get(path[0])
        if group is None:
            return None
        if len(path) == 1:
            return group
        return self._match_in_group(group, path[1:], count)

    def _match_in_group(self, group: list[_Entry], inner: tuple[str, ...], count: int) -> list[_Entry]:
        """The entries of a nested model's group that belong to the inner layer ``inner``."""

        def common_suffix(components: list[str]) -> int:
            n = 0
            while n < min(len(components), len(inner)) and components[-1 - n] == inner[-1 - n]:
                n += 1
            return n

        scores = [common_suffix(_layer_components(e.label)) for e in group]
        best = max(scores, default=0)
        if best > 0:
            chosen = [e for e, s in zip(group, scores) if s == best and id(e) not in self._taken]
            if chosen:
                return chosen
        # names do not identify the layer: take the next arrays in file order
        free = [e for e in group if id(e) not in self._taken]
        return free[:count]

    def take(self, path: Sequence[str], layer_label: str, wanted: Sequence[WeightSpec]) -> list[np.ndarray]:
        """The arrays of one layer, in the order of ``wanted``.

        Parameters
        ----------
        path
            The layer's name prefixed by the names of the nested models holding it.
        layer_label
            How to name the layer in messages, e.g. ``"'conv1d_1' (Conv1D)"``.
        wanted
            The arrays the layer needs, by Keras variable name and shape.

        Raises
        ------
        SeqliftError
            If the store has no weights for the layer, a different number of
            arrays, or an array of the wrong shape.
        """
        path = tuple(path)
        entries = self._entries_for(path, len(wanted))
        if not wanted:
            return []
        if entries is None or not entries:
            raise SeqliftError(
                f"weights file {self.source} has no weights for layer {layer_label}; "
                f"it does not match the model config"
            )
        names = [e.name for e in entries]
        wanted_names = [w.name for w in wanted]
        if all(n is not None for n in names) and len(set(names)) == len(names):
            if set(names) != set(wanted_names):
                raise SeqliftError(
                    f"weights in {self.source} do not match the model config: layer {layer_label} "
                    f"has arrays {', '.join(e.label for e in entries)} in the weights file but the config "
                    f"needs {', '.join(wanted_names)}"
                )
            by_name = {e.name: e for e in entries}
            chosen = [by_name[n] for n in wanted_names]
        else:
            if len(entries) != len(wanted):
                raise SeqliftError(
                    f"weights in {self.source} do not match the model config: layer {layer_label} "
                    f"has {len(entries)} array(s) in the weights file but the config needs "
                    f"{len(wanted)} ({', '.join(wanted_names)})"
                )
            chosen = entries
        arrays = []
        for spec, entry in zip(wanted, chosen):
            data = entry.data
            if not _shapes_agree(tuple(data.shape), spec.shape):
                if _squeezable(tuple(data.shape), spec.shape):
                    data = data.reshape(spec.shape)
                else:
                    raise SeqliftError(
                        f"weights in {self.source} do not match the model config: layer {layer_label} "
                        f"{spec.name} has shape {shape_text(data.shape)} in the weights file but the "
                        f"config needs {shape_text(spec.shape)}"
                    )
            self._taken.add(id(entry))
            arrays.append(data)
        return arrays

    def unused(self) -> list[str]:
        """Names of stored arrays that no layer took."""
        left = []
        for path, entries in self._layers.items():
            left.extend(e.label for e in entries if id(e) not in self._taken)
        for entries in self._groups.values():
            left.extend(e.label for e in entries if id(e) not in self._taken)
        return left


# --------------------------------------------------------------------------
# legacy HDF5 layout
# --------------------------------------------------------------------------
def has_legacy_layout(group: h5py.Group) -> bool:
    """True if ``group`` holds weights in the Keras 2 / legacy ``.h5`` layout."""
    return _chunked_attribute(group, "layer_names") is not None


def legacy_store(group: h5py.Group, source: str) -> WeightStore:
    """Read the legacy ``layer_names``/``weight_names`` layout.

    Parameters
    ----------
    group
        The file root (weights-only file) or its ``model_weights`` group.
    source
        The file name, for messages.
    """
    store = WeightStore(source)
    layer_names = _chunked_attribute(group, "layer_names") or []
    for layer_name in layer_names:
        if layer_name not in group:
            raise SeqliftError(f"weights file {source} lists layer {layer_name!r} but holds no group for it")
        layer_group = group[layer_name]
        weight_names = _chunked_attribute(layer_group, "weight_names") or []
        entries = []
        for weight_name in weight_names:
            if weight_name not in layer_group:
                raise SeqliftError(
                    f"weights file {source} is incomplete: layer {layer_name!r} lists "
                    f"{weight_name!r} but holds no such array"
                )
            try:
                data = _read_dataset(layer_group[weight_name])
            except (OSError, KeyError, TypeError) as err:
                raise SeqliftError(f"weights file {source} is truncated or corrupt: {err}") from None
            entries.append(_Entry(_variable_name(weight_name), data, weight_name))
        if entries:
            store._add_group(layer_name, entries)
    return store


# --------------------------------------------------------------------------
# Keras 3 layout
# --------------------------------------------------------------------------
_CONTAINER_KEYS = ("layers", "_layer_checkpoint_dependencies")


def has_keras3_layout(group: h5py.Group) -> bool:
    """True if ``group`` holds weights in the Keras 3 ``layers/<key>/vars`` layout."""
    return any(k in group for k in _CONTAINER_KEYS) or "vars" in group


def _container(group: h5py.Group) -> h5py.Group | None:
    for key in _CONTAINER_KEYS:
        if key in group and isinstance(group[key], h5py.Group):
            return group[key]
    return None


def _vars_entries(vars_group: h5py.Group, label: str, source: str) -> list[_Entry]:
    keys = sorted(vars_group.keys(), key=lambda k: int(k) if k.isdigit() else 1 << 30)
    entries = []
    for key in keys:
        try:
            data = _read_dataset(vars_group[key])
        except (OSError, KeyError, TypeError) as err:
            raise SeqliftError(f"weights file {source} is truncated or corrupt: {err}") from None
        entries.append(_Entry(None, data, f"{label}/vars/{key}"))
    return entries


def _layer_entries(group: h5py.Group, label: str, source: str) -> list[_Entry]:
    """A Keras 3 layer's own ``vars``, then those of its sub-layers (:data:`_SUBLAYER_ORDER`), recursively."""
    entries = _vars_entries(group["vars"], label, source) if "vars" in group else []
    subgroups = [key for key in group if key not in ("vars", *_CONTAINER_KEYS) and isinstance(group[key], h5py.Group)]
    rank = {key: i for i, key in enumerate(_SUBLAYER_ORDER)}
    for key in sorted(subgroups, key=lambda k: (rank.get(k, len(rank)), k)):
        entries.extend(_layer_entries(group[key], f"{label}/{key}", source))
    return entries


def _all_named(group: h5py.Group) -> bool:
    """True when every layer's ``vars`` group below ``group`` carries a ``name`` attribute."""
    container = _container(group)
    if container is None:
        return True
    for child in container.values():
        if not isinstance(child, h5py.Group):
            continue
        if "vars" in child and "name" not in child["vars"].attrs:
            return False
        if not _all_named(child):
            return False
    return True


def _walk_named(group: h5py.Group, prefix: tuple[str, ...], file_path: str, store: WeightStore) -> None:
    container = _container(group)
    if container is None:
        return
    for key, child in container.items():
        if not isinstance(child, h5py.Group) or "vars" not in child:
            continue
        name = _text(child["vars"].attrs["name"])
        path = prefix + (name,)
        label = f"{file_path}/{container.name.split('/')[-1]}/{key}"
        entries = _layer_entries(child, label, store.source)
        if entries:
            store._add_layer(path, entries)
        _walk_named(child, path, label, store)


def _walk_rebuilt(
    group: h5py.Group, tree: LayerTree, prefix: tuple[str, ...], file_path: str, store: WeightStore
) -> None:
    container = _container(group)
    used: dict[str, int] = {}
    for name, class_name, children in tree:
        base = snake_case(class_name)
        if base in used:
            used[base] += 1
            key = f"{base}_{used[base]}"
        else:
            used[base] = 0
            key = base
        if container is None or key not in container:
            continue
        child = container[key]
        label = f"{file_path}/{key}"
        entries = _layer_entries(child, label, store.source)
        if entries:
            store._add_layer(prefix + (name,), entries)
        if children is not None:
            _walk_rebuilt(child, children, prefix + (name,), label, store)


def keras3_store(group: h5py.Group, tree: LayerTree, source: str) -> WeightStore:
    """Read the Keras 3 ``layers/<key>/vars/<i>`` layout.

    Parameters
    ----------
    group
        The root of ``model.weights.h5`` (or of a ``.weights.h5`` file).
    tree
        The model's layers, used to rebuild the keys of files whose ``vars``
        groups do not carry the layer name.
    source
        The file name, for messages.
    """
    store = WeightStore(source)
    if _all_named(group):
        _walk_named(group, (), "", store)
    else:
        _walk_rebuilt(group, tree, (), "", store)
    return store


# --------------------------------------------------------------------------
# live Keras 3 model
# --------------------------------------------------------------------------
def live_store(model: Any, source: str) -> WeightStore:
    """Weights of a live Keras 3 model (Functional or Sequential), nested models included."""
    store = WeightStore(source)

    def walk(container: Any, prefix: tuple[str, ...]) -> None:
        for layer in container.layers:
            path = prefix + (layer.name,)
            if hasattr(layer, "layers") and type(layer).__name__ in ("Functional", "Sequential"):
                walk(layer, path)
                continue
            variables = list(layer.weights)
            if variables:
                store._add_layer(
                    path,
                    [
                        _Entry(
                            getattr(v, "name", "").split("/")[-1].split(":")[0] or None,
                            np.asarray(v.numpy(), dtype=np.float32),
                            getattr(v, "path", v.name),
                        )
                        for v in variables
                    ],
                )

    walk(model, ())
    return store
