"""Flattening a :class:`~seqlift.model.keras_spec.ModelSpec` into a seqlift :class:`~seqlift.model.graph.Model`.

:func:`build_model` walks the spec's layers call by call (nested models
inlined, shared layers sharing their ops), translates each layer with
:func:`~seqlift.model.keras_layers.layer_ops`, checks every op against the
shapes of its inputs, and names the nodes as :mod:`seqlift.model.graph`
describes.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import tensorflow as tf

from seqlift.errors import SeqliftError
from seqlift.model import ops
from seqlift.model.graph import Model, Node
from seqlift.model.keras_layers import layer_ops
from seqlift.model.keras_spec import LayerSpec, ModelSpec
from seqlift.model.keras_weights import WeightStore
from seqlift.model.lambdas import declaration_for, lambda_help, lambda_names
from seqlift.model.layer_graph import LayerGraph
from seqlift.model.shapes import shape_text

__all__ = ["build_model"]

#: Inputs up to this many values are shape-checked by running the op on zeros
#: (fast); larger or partly unknown ones by tracing it symbolically.
_EAGER_SHAPE_LIMIT = 1 << 20


def _infer_shape(op: ops.Op, input_shapes: list[tuple]) -> tuple:
    """Output shape (without batch) of ``op`` on inputs of the given shapes."""
    known = all(d is not None for shape in input_shapes for d in shape)
    if known and all(int(np.prod(shape)) <= _EAGER_SHAPE_LIMIT for shape in input_shapes):
        out = op(*[tf.zeros((1, *shape), tf.float32) for shape in input_shapes])
        return tuple(int(d) for d in out.shape[1:])
    specs = [tf.TensorSpec((None, *shape), tf.float32) for shape in input_shapes]
    traced = tf.function(lambda *xs: op(*xs), autograph=False).get_concrete_function(*specs)
    out_shape = traced.structured_outputs.shape
    return tuple(None if d is None else int(d) for d in out_shape[1:])


class _GraphBuilder:
    """Flattens a :class:`ModelSpec` (and its nested models) into graph nodes."""

    def __init__(self, store: WeightStore, lambdas: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.lambdas = lambdas
        self.nodes: dict[str, Node] = {}
        self.shapes: dict[str, tuple] = {}
        self._ops: dict[tuple[str, ...], list[ops.Op]] = {}

    def add(self, name: str, op: ops.Op, inputs: list[str], layer: str, label: str) -> str:
        if name in self.nodes:
            raise SeqliftError(f"two nodes would be named {name!r}; rename layer {label}")
        try:
            shape = _infer_shape(op, [self.shapes[i] for i in inputs])
        except SeqliftError:
            raise
        except Exception as err:  # TensorFlow reports shape errors with many types
            shapes = ", ".join(shape_text(self.shapes[i], batch=True) for i in inputs)
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise SeqliftError(f"layer {label} cannot be applied to input shape(s) {shapes}: {first_line}") from None
        self.nodes[name] = Node(name, op, list(inputs), layer)
        self.shapes[name] = shape
        return name

    def layer_ops(self, layer: LayerSpec, inputs: list[str],
                  weight_path: tuple[str, ...]) -> list[ops.Op] | LayerGraph:
        """The layer's ops (or graph), made once per layer (the calls of a shared layer share them)."""
        if weight_path not in self._ops:
            self._ops[weight_path] = layer_ops(layer, [self.shapes[i] for i in inputs], self.store, weight_path,
                                               self.lambdas)
        return self._ops[weight_path]

    def build(
        self,
        spec: ModelSpec,
        node_prefix: str,
        layer_prefix: str,
        weight_path: tuple[str, ...],
        feeds: list[str] | None,
    ) -> tuple[list[str], list[str]]:
        """Add ``spec``'s nodes; return (input node names, output node names)."""
        tensors: dict[tuple[str, int], list[str]] = {}
        input_nodes = []
        for position, ref in enumerate(spec.inputs):
            layer = spec.layer(ref.layer)
            if feeds is None:
                shape = spec.input_shapes[position]
                if shape is None:
                    raise SeqliftError(f"input {ref.layer!r} of model {spec.name!r} has no shape in the config")
                name = node_prefix + layer.name
                if name in self.nodes:
                    raise SeqliftError(f"two nodes would be named {name!r}")
                self.nodes[name] = Node(name, ops.Input(shape), [], layer_prefix + layer.name)
                self.shapes[name] = tuple(shape)
                tensors[(layer.name, 0)] = [name]
                input_nodes.append(name)
            else:
                if len(feeds) != len(spec.inputs):
                    raise SeqliftError(
                        f"nested model {spec.name!r} takes {len(spec.inputs)} input(s), "
                        f"but is called with {len(feeds)}"
                    )
                tensors[(layer.name, 0)] = [feeds[position]]
        pending = [(layer, k) for layer in spec.layers if layer.class_name != "InputLayer" for k in range(len(layer.calls))]
        while pending:
            remaining = []
            for layer, call in pending:
                refs = layer.calls[call]
                if not all((r.layer, r.node) in tensors for r in refs):
                    remaining.append((layer, call))
                    continue
                sources = []
                for r in refs:
                    outs = tensors[(r.layer, r.node)]
                    if r.tensor >= len(outs):
                        raise SeqliftError(f"model {spec.name!r} refers to output {r.tensor} of layer {r.layer!r}, "
                                           f"which has {len(outs)}")
                    sources.append(outs[r.tensor])
                lambda_path = weight_path + (layer.name,)
                if layer.class_name == "Lambda" and declaration_for(
                        self.lambdas, lambda_names(layer.name, lambda_path)) is None:
                    raise _lambda_error(spec, layer, sources, layer_prefix)
                tensors[(layer.name, call)] = self.call_layer(
                    layer, call, sources, node_prefix, layer_prefix, weight_path + (layer.name,)
                )
            if len(remaining) == len(pending):
                names = ", ".join(sorted({layer.name for layer, _ in remaining}))
                raise SeqliftError(f"model {spec.name!r}: the inputs of layer(s) {names} are never computed")
            pending = remaining
        outputs = []
        for ref in spec.outputs:
            outs = tensors.get((ref.layer, ref.node))
            if outs is None or ref.tensor >= len(outs):
                raise SeqliftError(f"model {spec.name!r} has an output {ref.layer!r} that its layers never compute")
            outputs.append(outs[ref.tensor])
        return input_nodes, outputs

    def call_layer(
        self,
        layer: LayerSpec,
        call: int,
        sources: list[str],
        node_prefix: str,
        layer_prefix: str,
        weight_path: tuple[str, ...],
    ) -> list[str]:
        base = node_prefix + layer.name + ("" if call == 0 else f"@{call}")
        qualified = layer_prefix + layer.name
        label = f"{qualified!r} ({layer.file_class or layer.class_name})"
        if layer.model is not None:
            _, inner_outputs = self.build(layer.model, base + "/", qualified + "/", weight_path, sources)
            if len(inner_outputs) == 1:
                return [self.add(base, ops.Identity(), [inner_outputs[0]], qualified, label)]
            return [
                self.add(f"{base}:{i}", ops.Identity(), [out], qualified, label) for i, out in enumerate(inner_outputs)
            ]
        made = self.layer_ops(layer, sources, weight_path)
        if isinstance(made, LayerGraph):
            return self.add_layer_graph(made, sources, base, qualified, label)
        if len(made) == 1:
            return [self.add(base, made[0], sources, qualified, label)]
        preact = self.add(base + "/preact", made[0], sources, qualified, label)
        return [self.add(base, made[1], [preact], qualified, label)]

    def add_layer_graph(self, graph: LayerGraph, sources: list[str], base: str, qualified: str,
                        label: str) -> list[str]:
        """Add the nodes of a layer's own graph (:mod:`seqlift.model.layer_graph`) under its name."""
        names: dict[str, str] = {}
        for sub in graph.nodes:
            inputs = [sources[i] if isinstance(i, int) else names[i] for i in sub.inputs]
            names[sub.name] = self.add(f"{base}/{sub.name}" if sub.name else base, sub.op, inputs, qualified, label)
        return [names[name] for name in graph.outputs]


def _lambda_error(spec: ModelSpec, layer: LayerSpec, sources: list[str], layer_prefix: str) -> SeqliftError:
    """The one-line error for a ``Lambda`` layer, naming its position and the nodes before it (targets the
    user can score instead)."""
    called = [entry for entry in spec.layers if entry.class_name != "InputLayer"]
    position = next(k for k, entry in enumerate(called, 1) if entry is layer)
    before = ", ".join(repr(s) for s in sources)
    name = layer.name
    return SeqliftError(
        f"layer {layer_prefix + name!r} (Lambda, layer {position} of {len(called)} in model {spec.name!r}, applied "
        f"to {before}) runs Python code that is not in the file: declare what it computes with "
        f"load_model(..., lambdas={{{name!r}: KIND}}) or --lambda {name}=KIND (ChromBPNet's logcount_predictions "
        f"is logsumexp, BPNet's output-naming Lambdas identity), or score a layer before it (--target-layer / "
        f"target_layer=, e.g. {sources[0]!r}); {lambda_help()}"
    )


def build_model(spec: ModelSpec, store: WeightStore, source: str, lambdas: Mapping[str, str] | None = None) -> Model:
    """Flatten a model spec into a :class:`~seqlift.model.graph.Model`.

    Parameters
    ----------
    spec
        The parsed config.
    store
        The weights, by layer path.
    source
        Where the model came from (kept as ``Model.source``).
    lambdas
        What its Lambda layers compute, by layer name (:mod:`seqlift.model.lambdas`).

    Raises
    ------
    SeqliftError
        For unsupported layers, weights that do not fit the config, or
        weights the config has no layer for.
    """
    builder = _GraphBuilder(store, lambdas)
    inputs, outputs = builder.build(spec, "", "", (), None)
    left = store.unused()
    if left:
        shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        raise SeqliftError(
            f"weights in {store.source} do not match the model config: no layer of the config takes {shown}"
        )
    return Model(
        nodes=builder.nodes,
        inputs=inputs,
        outputs=outputs,
        input_shapes=[builder.shapes[name] for name in inputs],
        shapes=builder.shapes,
        source=source,
        name=spec.name,
    )
