"""The original's layer names and order for the nodes of seqlift's graph.

seqlift names a node after its Keras layer (``dense_2``), its linear part
``dense_2/preact`` when the layer has an ``activation=``, ``layer@k`` for the
k-th further call of a shared layer and ``outer/inner`` inside nested models
(:mod:`seqlift.model.graph`). The original deeplift named its layers thus:

* Sequential models (``kerasapi_conversion``): ``"input"``, then each entry
  of the config by its index ``i`` (an ``InputLayer`` entry is skipped but
  counted), ``"preact_<i>"`` and ``"<i>"`` for a Dense/Conv with an
  activation, nothing for an ``Activation("linear")``, ``"<i>-<j>"`` inside
  a nested Sequential model;
* functional models (``kerasapi_conversion``): ``"<layer>_<call>"``
  (``input_1_0``, ``dense_2_0``), ``"preact_<layer>_<call>"`` for the linear
  part;
* the older ``keras_conversion``: Sequential as above but counting only the
  model's layers (no ``InputLayer``), functional layers by their Keras name
  (``"<layer>_<call>"`` only for shared layers).

Layers inside nested functional models are named by seqlift's path, joined
with ``_`` (the original's names for them depended on Keras' node numbering).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

from seqlift.errors import SeqliftError

PREACT = "/preact"


def model_layers(class_name: str, config: Any) -> list[dict]:
    """The layer entries of a model config (a Sequential's bare list or ``{"layers": [...]}``)."""
    if isinstance(config, list):
        return config
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        return config["layers"]
    raise SeqliftError(f"the {class_name} model config has no list of layers")


def _activation_name(config: dict) -> str:
    value = config.get("activation", "linear")
    if isinstance(value, dict):  # a serialised function
        value = value.get("config", value).get("name", value.get("class_name", ""))
    return str(value).lower()


def sequential_names(entries: Sequence[dict], graph: Any, count_input_layers: bool = True) -> list[tuple[str, str]]:
    """``(the original's name, seqlift node)`` of every layer of a Sequential model, the input first.

    Parameters
    ----------
    entries : list of dict
        The config's layer entries, in order.
    graph : seqlift.model.Model
        The model read from the same files.
    count_input_layers : bool
        Whether ``InputLayer`` entries take an index (``kerasapi_conversion``)
        or not (the older ``keras_conversion``, which numbered the model's layers).
    """
    names = [("input", graph.inputs[0])]
    _add_sequential(entries, graph, "", "", count_input_layers, names)
    return names


def _add_sequential(entries: Sequence[dict], graph: Any, node_prefix: str, name_prefix: str,
                    count_input_layers: bool, names: list[tuple[str, str]]) -> None:
    index = 0
    for entry in entries:
        class_name = entry.get("class_name", "")
        config = entry.get("config", {})
        if class_name == "InputLayer":
            index += 1 if count_input_layers else 0
            continue
        name = f"{name_prefix}{index}"
        index += 1
        if class_name == "Sequential":
            layer = config.get("name") if isinstance(config, dict) else entry.get("name")
            if not layer:
                raise SeqliftError(f"the nested Sequential model at index {name} of the config has no name")
            _add_sequential(model_layers(class_name, config), graph, f"{node_prefix}{layer}/", f"{name}-",
                            count_input_layers, names)
            continue
        if class_name == "Activation" and _activation_name(config) == "linear":
            continue  # the original converts it to no layer at all
        node = node_prefix + (config.get("name") or entry.get("name", ""))
        if node not in graph.nodes:
            raise SeqliftError(f"layer {node!r} of the Sequential config has no node in the model read from the "
                               "same files")
        if node + PREACT in graph.nodes:
            names.append((f"preact_{name}", node + PREACT))
        names.append((name, node))


def functional_names(graph: Any, legacy: bool = False) -> list[tuple[str, str]]:
    """``(the original's name, seqlift node)`` of every node of a functional model, in graph order.

    Parameters
    ----------
    graph : seqlift.model.Model
        The model.
    legacy : bool
        The older ``keras_conversion``'s names (no ``_<call>`` suffix on layers called once).
    """
    calls = Counter(layer for layer, _ in {_split_call(part) for node in graph.nodes for part in _path(node)})
    names: list[tuple[str, str]] = []
    taken: set[str] = set()
    for node in graph.nodes:
        preact = node.endswith(PREACT)
        parts = [_part_name(part, legacy and calls[_split_call(part)[0]] == 1) for part in _path(node)]
        name = ("preact_" if preact else "") + "_".join(parts)
        if name in taken:
            name = node  # a clash between two spellings: keep seqlift's unique name
        taken.add(name)
        names.append((name, node))
    return names


def _path(node: str) -> list[str]:
    base = node[: -len(PREACT)] if node.endswith(PREACT) else node
    return base.split("/")


def _split_call(part: str) -> tuple[str, int]:
    """``"dense@2"`` -> ``("dense", 2)``; ``"sub:1"`` (a nested model's second output) keeps its suffix."""
    layer, _, call = part.partition("@")
    return layer, int(call) if call.isdigit() else 0


def _part_name(part: str, bare: bool) -> str:
    layer, call = _split_call(part)
    return layer if bare else f"{layer}_{call}"
