"""A Keras layer that becomes several graph nodes: its small graph of ops.

Most layers are one op, or a linear op and its activation (a chain). Some are
a small graph: a ``Bidirectional`` wrapper is two recurrent ops and their
merge, ``LayerNormalization`` the steps of its formula, ``MultiHeadAttention``
its projections and products. Their translators return a :class:`LayerGraph`;
:mod:`seqlift.model.graph_builder` adds its nodes under the layer's name:
``"<layer>/<sub-node>"``, the output being ``"<layer>"`` itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from seqlift.model.ops import Op

__all__ = ["LayerGraph", "SubNode"]


@dataclass(frozen=True)
class SubNode:
    """One node of a layer's graph.

    Attributes
    ----------
    name
        Its name below the layer's (``""``: the layer's output, named as the layer).
    op
        The op it applies.
    inputs
        Its inputs: an int is the layer's input at that position, a str an
        earlier sub-node's name.
    """

    name: str
    op: Op
    inputs: tuple[int | str, ...]


@dataclass
class LayerGraph:
    """The nodes of one layer, in topological order, and which of them are its outputs."""

    nodes: list[SubNode] = field(default_factory=list)
    outputs: tuple[str, ...] = ("",)

    def add(self, name: str, op: Op, *inputs: int | str) -> str:
        """Append a node; returns its name, for later nodes' inputs."""
        if any(node.name == name for node in self.nodes):
            raise ValueError(f"two sub-nodes named {name!r}")
        self.nodes.append(SubNode(name, op, tuple(inputs)))
        return name
