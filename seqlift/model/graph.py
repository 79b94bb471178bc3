"""seqlift's own model graph: named nodes of ops, in topological order.

A :class:`Model` is what :func:`seqlift.load_model` returns and what the
DeepLIFT engine walks. Each :class:`Node` applies one :mod:`~seqlift.model.ops`
op to the values of earlier nodes. Node names follow the Keras layers they
come from:

* ``"<layer>"`` is the layer's output exactly as Keras computes it;
* ``"<layer>/preact"`` is the linear part of a layer with an ``activation=``
  argument, and ``"<layer>"`` the activation applied to it;
* ``"<layer>@1"``, ``"<layer>@2"`` are the second and third calls of a shared
  layer (sharing one op);
* ``"<submodel>/<layer>"`` are the layers of a nested model
  (``"<submodel>@1/<layer>"`` for its second call), and ``"<submodel>"`` (or
  ``"<submodel>:<i>"`` for its i-th of several outputs) an identity node with
  the nested model's output.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from seqlift.errors import SeqliftError
from seqlift.model import ops
from seqlift.model.shapes import shape_text

__all__ = ["Model", "Node"]


@dataclass
class Node:
    """One op applied to the values of earlier nodes.

    Attributes
    ----------
    name
        Unique node name (see the module docstring for the naming scheme).
    op
        The operation; shared layers share one op object across their nodes.
    inputs
        Names of the nodes whose values feed ``op``, in argument order.
    layer
        The Keras layer this node comes from, qualified by the nested models
        that hold it (``"inner/conv"``); the same for every call of a layer.
    """

    name: str
    op: ops.Op
    inputs: list[str]
    layer: str


@dataclass
class Model:
    """A feed-forward graph of ops read from a Keras model.

    Attributes
    ----------
    nodes
        Every node by name, in topological order.
    inputs, outputs
        Names of the input and output nodes, in the Keras model's order.
    input_shapes
        Shape of each input without the batch axis.
    shapes
        Static shape of every node's value without the batch axis (``None``
        for lengths that depend on the input); :meth:`node_shapes` completes it.
    source
        The file the model was read from (or a description of the live
        Keras model it was converted from).
    name
        The Keras model's name.
    compiled
        Functions compiled for this model, by key: :meth:`predict`'s forward
        pass and the engine's batch functions (:mod:`seqlift.engine.batch`).
        They are kept with the model, so they live as long as it does.
    """

    nodes: dict[str, Node]
    inputs: list[str]
    outputs: list[str]
    input_shapes: list[tuple]
    shapes: dict[str, tuple] = field(default_factory=dict)
    source: str = ""
    name: str = "model"
    compiled: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ forward
    def _as_input_list(
        self, inputs: tf.Tensor | np.ndarray | Sequence | Mapping[str, object]
    ) -> list:
        if isinstance(inputs, Mapping):
            missing = [name for name in self.inputs if name not in inputs]
            if missing:
                raise SeqliftError(f"no value given for model input(s) {', '.join(missing)}")
            return [inputs[name] for name in self.inputs]
        if isinstance(inputs, (list, tuple)):
            values = list(inputs)
        else:
            values = [inputs]
        if len(values) != len(self.inputs):
            raise SeqliftError(
                f"model {self.name!r} takes {len(self.inputs)} input(s) "
                f"({', '.join(self.inputs)}), got {len(values)}"
            )
        return values

    def forward(
        self,
        inputs: tf.Tensor | np.ndarray | Sequence | Mapping[str, object],
        keep: Iterable[str] | None = None,
        substitute: Mapping[str, Callable[..., tf.Tensor]] | None = None,
    ) -> dict[str, tf.Tensor]:
        """Run the graph on a batch.

        Parameters
        ----------
        inputs
            One tensor per model input (a list, or a bare tensor for a
            single-input model, or a mapping from input node name), batch first.
        keep
            Node names whose values to return besides the outputs; None
            returns every node's value.
        substitute
            Node name -> a function of the node's input values that computes its value in place of
            its op (a caller that computes the same value on the way to something else).

        Returns
        -------
        dict
            Node name -> value. Works eagerly and inside ``tf.function``.
        """
        feed = dict(zip(self.inputs, self._as_input_list(inputs)))
        substitute = substitute or {}

        def apply(node: Node, values: list[tf.Tensor]) -> tf.Tensor:
            if node.name in feed:
                return node.op(tf.convert_to_tensor(feed[node.name], dtype=tf.float32))
            return substitute.get(node.name, node.op)(*values)

        return self.evaluate(apply, keep)

    def evaluate(self, apply: Callable[[Node, list], Any], keep: Iterable[str] | None = None) -> dict[str, Any]:
        """Every node's value in order, ``apply(node, its inputs' values)`` (an input node: no values):
        :meth:`forward`'s walk, for callers whose values are more than one tensor.

        Parameters
        ----------
        apply
            Computes a node's value from its inputs' values.
        keep
            Node names whose values to return besides the outputs (a value is
            dropped once its last reader has run); None returns every node's.

        Returns
        -------
        dict
            Node name -> value.
        """
        wanted: set[str] | None = None
        if keep is not None:
            wanted = set(keep) | set(self.outputs)
            unknown = sorted(wanted - set(self.nodes))
            if unknown:
                raise SeqliftError(f"model {self.name!r} has no node named {', '.join(map(repr, unknown))}")
        last_use: dict[str, int] = {}
        if wanted is not None:
            for position, node in enumerate(self.nodes.values()):
                for source in node.inputs:
                    last_use[source] = position
        values: dict[str, Any] = {}
        for position, node in enumerate(self.nodes.values()):
            values[node.name] = apply(node, [values[s] for s in node.inputs])
            if wanted is not None:
                for source in set(node.inputs):
                    if last_use.get(source) == position and source not in wanted:
                        del values[source]
        if wanted is None:
            return values
        return {name: value for name, value in values.items() if name in wanted}

    def predict(
        self, x: np.ndarray | Sequence[np.ndarray] | Mapping[str, np.ndarray], batch_size: int = 256
    ) -> np.ndarray | list[np.ndarray]:
        """Output values for a dataset, computed in batches.

        Parameters
        ----------
        x
            One array per model input (a bare array for a single input).
        batch_size
            Rows per batch.

        Returns
        -------
        numpy.ndarray or list of numpy.ndarray
            One array per output; a bare array for a single-output model.
        """
        arrays = [np.asarray(a, dtype=np.float32) for a in self._as_input_list(x)]
        count = arrays[0].shape[0]
        if any(a.shape[0] != count for a in arrays):
            raise SeqliftError("all model inputs must have the same number of rows")
        if "predict" not in self.compiled:
            outputs = list(self.outputs)
            self.compiled["predict"] = tf.function(
                lambda *xs: [self.forward(list(xs), keep=())[name] for name in outputs],
                autograph=False,
                reduce_retracing=True,
            )
        chunks: list[list[np.ndarray]] = [[] for _ in self.outputs]
        for start in range(0, max(count, 1), max(int(batch_size), 1)):
            batch = [tf.constant(a[start : start + batch_size]) for a in arrays]
            for chunk, value in zip(chunks, self.compiled["predict"](*batch)):
                chunk.append(value.numpy())
        results = [np.concatenate(c, axis=0) for c in chunks]
        return results[0] if len(results) == 1 else results

    # ------------------------------------------------------------- description
    def output_units(self) -> list[int]:
        """Number of values per example in each output (product of its non-batch axes).

        Raises
        ------
        SeqliftError
            If an output's shape depends on the input length.
        """
        shapes = self.node_shapes()
        units = []
        for name in self.outputs:
            shape = shapes.get(name)
            if shape is None or any(d is None for d in shape):
                raise SeqliftError(f"output {name!r} of model {self.name!r} has no fixed size ({shape})")
            units.append(int(math.prod(shape)))
        return units

    def node_shapes(self) -> dict[str, tuple]:
        """Every node's shape without the batch axis: :attr:`shapes`, completed.

        Shapes a model built by hand lacks, and lengths the loader's static
        inference left open, are filled from a forward pass of a zero batch
        (once) when the inputs have fixed shapes; with inputs of free length,
        lengths that depend on them stay None.
        """
        fixed_inputs = not any(d is None for shape in self.input_shapes for d in shape)
        open_names = [name for name in self.nodes if name not in self.shapes
                      or (fixed_inputs and any(d is None for d in self.shapes[name]))]
        if open_names and fixed_inputs:
            values = self.forward([tf.zeros((1, *shape), tf.float32) for shape in self.input_shapes])
            for name in open_names:
                self.shapes[name] = tuple(int(d) for d in values[name].shape[1:])
        return self.shapes

    def summary(self) -> str:
        """A table of the nodes: name, op, output shape and inputs."""
        shapes = self.node_shapes()
        rows = [("node", "op", "shape", "inputs")]
        for node in self.nodes.values():
            shape = shapes.get(node.name)
            shown = "?" if shape is None else shape_text(shape)
            rows.append((node.name, node.op.describe(), shown, ", ".join(node.inputs)))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"Model {self.name!r} from {self.source}" if self.source else f"Model {self.name!r}"]
        for i, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3])
            if i == 0:
                lines.append("-" * (sum(widths) + 6 + len(row[3])))
        lines.append(f"inputs: {', '.join(self.inputs)}; outputs: {', '.join(self.outputs)}")
        params = sum(int(np.prod(w.shape)) for w in _unique_weights(self))
        lines.append(f"{len(self.nodes)} nodes, {params:,} weights")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Model(name={self.name!r}, nodes={len(self.nodes)}, inputs={self.inputs}, "
            f"outputs={self.outputs}, source={self.source!r})"
        )


def _unique_weights(model: Model) -> list[tf.Tensor]:
    seen: set[int] = set()
    weights = []
    for node in model.nodes.values():
        if id(node.op) in seen:
            continue
        seen.add(id(node.op))
        weights.extend(node.op.weights.values())
    return weights
