"""Converted models (``deeplift.models``): the original's layer names over seqlift's graph.

A converted model wraps the :class:`seqlift.model.Model` that
:func:`seqlift.load_model` reads, and names its nodes as the original's
conversion named its layers (:mod:`seqlift.compat.deeplift.conversion`), so
that ``find_scores_layer_idx``, ``target_layer_idx``, ``find_scores_layer_name``
and ``pre_activation_target_layer_name`` pick the same layers as before. The
score functions it hands out run :func:`seqlift.attribute`
(:mod:`seqlift.compat.deeplift._scoring`).

* :class:`SequentialModel`: ``get_layers()`` lists the layers; index 0 is the
  input, and a Dense or Conv layer with an ``activation=`` counts twice (its
  linear part ``preact_<i>``, then the activation ``<i>``), so
  ``target_layer_idx=-2`` is the logit before a final sigmoid.
* :class:`GraphModel`: ``get_name_to_layer()`` maps names such as
  ``input_1_0``, ``preact_dense_2_0`` and ``dense_2_0`` to layers.

Both kinds answer ``get_layers()``, ``get_name_to_layer()`` and both ways of
choosing layers (indices or names).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np

from seqlift.compat.deeplift._scoring import (
    ContribsFunction,
    MultipliersFunction,
    ScoreFunction,
    Scoring,
    scored_sizes,
)
from seqlift.compat.deeplift._unsupported import refuse
from seqlift.engine.methods import DEEPLIFT_METHODS
from seqlift.errors import SeqliftError

__all__ = ["Layer", "Model", "SequentialModel", "GraphModel", "ActivationVars"]

#: seqlift op class -> the original's layer class (activations by kind, Conv/pooling by rank below)
_KINDS = {
    "Input": "Input", "Dense": "Dense", "Identity": "NoOp", "Flatten": "Flatten", "BatchNorm": "BatchNormalization",
    "Concatenate": "Concat", "Softmax": "Softmax", "GlobalMaxPool": "GlobalMaxPool1D",
    "GlobalAvgPool": "GlobalAvgPool1D",
}
_RANKED = {"Conv": "Conv{}D", "MaxPool": "MaxPool{}D", "AvgPool": "AvgPool{}D"}
_ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "prelu": "PReLU"}
#: the original's methods on layers that exposed TensorFlow 1 graph pieces
_SYMBOLIC = (
    "get_reference_vars", "get_pos_mxts", "get_neg_mxts", "get_mxts", "get_target_contrib_vars",
    "get_pos_and_neg_contribs", "update_task_index", "set_active", "set_inactive", "set_scoring_mode",
    "update_mxts", "reset_mxts_updated", "build_fwd_pass_vars", "reset_built_fwd_pass_vars", "set_inputs",
)


class ActivationVars:
    """What ``layer.get_activation_vars()`` returns: a stand-in for the layer's values, for ``util.compile_func``."""

    def __init__(self, layer: "Layer") -> None:
        self.layer = layer

    def __repr__(self) -> str:
        return f"<activation vars of {self.layer!r}>"


class Layer:
    """One layer of a converted model: a node of seqlift's graph under the original's name.

    Attributes
    ----------
    name : str
        The original's name (``"preact_9"``, ``"dense_2_0"``).
    node : str
        The node of :attr:`Model.seqlift_model` it stands for.
    """

    def __init__(self, model: "Model", name: str, node: str) -> None:
        self._model = model
        self.name = name
        self.node = node

    @property
    def kind(self) -> str:
        """The original's class name for this layer (``"Dense"``, ``"ReLU"``, ``"NoOp"``, ...)."""
        op = self._model.seqlift_model.nodes[self.node].op
        op_class = type(op).__name__
        if op_class == "Activation":
            return _ACTIVATIONS.get(op.kind, f"Activation({op.kind})")
        if op_class in _RANKED:
            return _RANKED[op_class].format(max(1, len(self.get_shape()) - 2))
        return _KINDS.get(op_class, op_class)

    def get_name(self) -> str:
        """The layer's name."""
        return self.name

    def get_shape(self) -> tuple:
        """``(None, *shape)``: the layer's output shape with the batch axis first."""
        return (None, *self._model._shapes()[self.node])

    def get_inputs(self) -> "Layer | list[Layer] | None":
        """The layer(s) feeding this one (None for an input)."""
        sources = [self._model._layer_at_or_before(name) for name in self._model.seqlift_model.nodes[self.node].inputs]
        if not sources:
            return None
        return sources[0] if len(sources) == 1 else sources

    def get_output_layers(self) -> list["Layer"]:
        """The layers this one feeds."""
        fed = []
        for layer in self._model.get_layers():
            sources = layer.get_inputs()
            if self is sources or (isinstance(sources, list) and self in sources):
                fed.append(layer)
        return fed

    def get_activation_vars(self) -> ActivationVars:
        """A stand-in for the layer's values, to pass to ``util.compile_func``."""
        return ActivationVars(self)

    def __getattr__(self, name: str) -> Any:
        if name in _SYMBOLIC:
            raise refuse(f"layer.{name}", "seqlift has no TensorFlow 1 graph pieces; use "
                         "model.get_target_contribs_func or get_target_multipliers_func (seqlift.attribute)")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name!r} (seqlift node {self.node!r})>"


class Model:
    """A converted model (base of :class:`SequentialModel` and :class:`GraphModel`).

    Parameters
    ----------
    seqlift_model : seqlift.model.Model
        The model read by :func:`seqlift.load_model`.
    names : list of (str, str)
        ``(the original's layer name, seqlift node)`` for every layer, in the original's order.
    method : str
        The ``seqlift.attribute`` method of the conversion's ``nonlinear_mxts_mode``.
    maxpool : str
        The ``seqlift.attribute`` max-pooling rule.
    """

    def __init__(self, seqlift_model: Any, names: Sequence[tuple[str, str]], method: str, maxpool: str) -> None:
        self.seqlift_model = seqlift_model
        self.method = method
        self.maxpool = maxpool
        self._layers = [Layer(self, name, node) for name, node in names]
        self._name_to_layer = OrderedDict((layer.name, layer) for layer in self._layers)
        self._node_to_layer = {layer.node: layer for layer in self._layers}
        self._input_layer_names = [self._node_to_layer[node].name for node in seqlift_model.inputs]
        self._forward_functions: dict[tuple, Callable] = {}

    # ------------------------------------------------------------------ layers
    def get_layers(self) -> list[Layer]:
        """Every layer, in the original's order (for a Sequential model, what ``target_layer_idx`` indexes)."""
        return list(self._layers)

    def get_name_to_layer(self) -> "OrderedDict[str, Layer]":
        """Layers by name."""
        return OrderedDict(self._name_to_layer)

    def get_input_layer_names(self) -> list[str]:
        """Names of the input layers, in the model's input order (the keys of dict arguments)."""
        return list(self._input_layer_names)

    def _layer_at_or_before(self, node: str) -> Layer:
        """The layer of ``node``, or of the nearest node before it that has one (the original drops linear activations)."""
        nodes = self.seqlift_model.nodes
        while node not in self._node_to_layer:
            node = nodes[node].inputs[0]
        return self._node_to_layer[node]

    def _shapes(self) -> dict[str, tuple]:
        return self.seqlift_model.node_shapes()

    # ------------------------------------------------------------------ scores
    def get_target_contribs_func(self, *args: Any, **kwargs: Any) -> ContribsFunction:
        """A function computing contributions; arguments as the subclass's ``_resolve``."""
        return self._score_function(ContribsFunction, *args, **kwargs)

    def get_target_multipliers_func(self, *args: Any, **kwargs: Any) -> MultipliersFunction:
        """A function computing multipliers (gradients for ``NonlinearMxtsMode.Gradient``)."""
        return self._score_function(MultipliersFunction, *args, **kwargs)

    def _resolve(self, *args: Any, **kwargs: Any) -> tuple[list[Layer], bool, Layer]:  # pragma: no cover
        raise NotImplementedError

    def _score_function(self, kind: type[ScoreFunction], *args: Any, **kwargs: Any) -> ScoreFunction:
        scored, listed, target = self._resolve(*args, **kwargs)
        return kind(self._scoring(scored, listed, target))

    def _scoring(self, scored: list[Layer], listed: bool, target: Layer) -> Scoring:
        graph = self.seqlift_model
        op_class = type(graph.nodes[target.node].op).__name__
        if op_class in ("Activation", "Softmax"):
            before = target.get_inputs()
            raise SeqliftError(
                f"the target layer {target.name!r} is an activation ({target.kind}); target the layer before it, "
                f"{before.name!r} (target_layer_idx=-2 or pre_activation_target_layer_name={before.name!r} for a "
                "final activation), as the original required")
        if target.node in graph.inputs:
            raise SeqliftError(f"the target layer {target.name!r} is an input layer; target a later layer")
        inner = [layer.name for layer in scored if layer.node not in graph.inputs]
        if inner and self.method not in DEEPLIFT_METHODS:
            raise SeqliftError(
                f"scores of inner layers ({', '.join(inner)}) are computed for the DeepLIFT modes only "
                "(NonlinearMxtsMode.DeepLIFT_GenomicsDefault, RevealCancel, Rescale); score an input layer instead")
        shapes = self._shapes()
        return Scoring(
            graph=graph, method=self.method, maxpool=self.maxpool, target=target.node,
            target_units=int(np.prod(shapes[target.node])), scored=tuple(layer.node for layer in scored),
            listed=listed, input_names=tuple(self._input_layer_names),
            scored_sizes=scored_sizes(shapes, [layer.node for layer in scored]),
        )

    def _pick_layers(self, idx: Any, name: Any, idx_arg: str, name_arg: str) -> tuple[list[Layer], bool]:
        """Layers chosen by index into :meth:`get_layers` or by name; whether they were given as a list."""
        if (idx is None) == (name is None):
            raise SeqliftError(f"give exactly one of {idx_arg} (an index into get_layers()) and {name_arg} "
                               "(a name from get_name_to_layer())")
        chosen = idx if name is None else name
        listed = isinstance(chosen, (list, tuple))
        keys = list(chosen) if listed else [chosen]
        layers = []
        for key in keys:
            if name is None:
                if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)) \
                        or not -len(self._layers) <= key < len(self._layers):
                    raise SeqliftError(f"{idx_arg} {key!r} is not an index into the {len(self._layers)} layers "
                                       "of get_layers()")
                layers.append(self._layers[key])
            else:
                if key not in self._name_to_layer:
                    shown = ", ".join(list(self._name_to_layer)[:12])
                    raise SeqliftError(f"{name_arg} {key!r} is not a layer of the converted model; its layers are "
                                       f"{shown}{', ...' if len(self._name_to_layer) > 12 else ''}")
                layers.append(self._name_to_layer[key])
        return layers, listed

    # ------------------------------------------------------------------ predictions
    def forward_function(self, inputs: Sequence[Layer], outputs: Sequence[Layer]) -> Callable[[list], list[np.ndarray]]:
        """``f([arrays for inputs]) -> [arrays for outputs]``, the layers' values (a compiled seqlift forward pass)."""
        graph = self.seqlift_model
        input_nodes = [layer.node for layer in inputs]
        if sorted(input_nodes) != sorted(graph.inputs):
            raise SeqliftError(f"the inputs of a compiled function must be the activation vars of every input layer "
                               f"({', '.join(self._input_layer_names)}), not {', '.join(layer.name for layer in inputs)}")
        output_nodes = [layer.node for layer in outputs]
        key = (tuple(input_nodes), tuple(output_nodes))
        if key not in self._forward_functions:
            import tensorflow as tf

            compiled = tf.function(
                lambda *xs: [graph.forward(dict(zip(input_nodes, xs)), keep=output_nodes)[n] for n in output_nodes],
                autograph=False, reduce_retracing=True)
            self._forward_functions[key] = lambda arrays: [
                v.numpy() for v in compiled(*[tf.constant(np.asarray(a, np.float32)) for a in arrays])]
        return self._forward_functions[key]

    def _prediction_function(self, inputs: Sequence[Layer], output: Layer) -> Callable[..., np.ndarray]:
        forward = self.forward_function(inputs, [output])

        def prediction_function(input_data_list: Sequence[np.ndarray], batch_size: int = 256,
                                progress_update: int | None = None) -> np.ndarray:
            from seqlift.compat.deeplift.util import run_function_in_batches

            rows = run_function_in_batches(lambda batch: forward(batch)[0], list(input_data_list),
                                           batch_size=batch_size, progress_update=progress_update)
            return np.asarray(rows)

        return prediction_function

    # ------------------------------------------------------------------ the original's other methods
    def get_target_contribs_of_input_with_filter_ref_func(self, *args: Any, **kwargs: Any) -> None:
        """Not supported."""
        raise refuse("get_target_contribs_of_input_with_filter_ref_func",
                     "use get_target_contribs_func with find_scores_layer set to the layers you need")

    def save_to_yaml_only(self, *args: Any, **kwargs: Any) -> None:
        """Not supported."""
        raise refuse("save_to_yaml_only", "keep the Keras files and convert them again (seqlift.load_model)")

    def __repr__(self) -> str:
        return (f"<{type(self).__name__}: {len(self._layers)} layers, method {self.method!r}, "
                f"from {self.seqlift_model.source}>")


class SequentialModel(Model):
    """A converted Sequential model: layers chosen by index into :meth:`get_layers`."""

    def _resolve(self, find_scores_layer_idx: Any = None, target_layer_idx: Any = -2,
                 find_scores_layer_name: Any = None, pre_activation_target_layer_name: Any = None,
                 slice_objects: Any = None) -> tuple[list[Layer], bool, Layer]:
        """Arguments of ``get_target_contribs_func`` / ``get_target_multipliers_func``.

        Parameters
        ----------
        find_scores_layer_idx : int or list of int
            Layer(s) to score (0 is the input); a list returns a list of arrays.
        target_layer_idx : int
            The layer explained; ``-2`` (the default) is the logit before a
            final activation, ``-1`` the last layer when it is linear.
        find_scores_layer_name, pre_activation_target_layer_name : str, optional
            The same layers by name (``"0"``, ``"preact_9"``), instead of indices.
        """
        if slice_objects is not None:
            raise refuse("slice_objects", "slice the returned arrays instead")
        scored, listed = self._pick_layers(find_scores_layer_idx, find_scores_layer_name, "find_scores_layer_idx",
                                          "find_scores_layer_name")
        if pre_activation_target_layer_name is not None:
            target_layer_idx = None
        target, _ = self._pick_layers(target_layer_idx, pre_activation_target_layer_name, "target_layer_idx",
                                     "pre_activation_target_layer_name")
        return scored, listed, target[0]

    def get_prediction_function(self, input_layer_idx: int, output_layer_idx: int) -> Callable[..., np.ndarray]:
        """``f(input_data_list, batch_size, progress_update=None)``: the values of layer ``output_layer_idx``."""
        return self._prediction_function([self._layers[input_layer_idx]], self._layers[output_layer_idx])


class GraphModel(Model):
    """A converted functional model: layers chosen by name (see :meth:`get_name_to_layer`)."""

    def _resolve(self, find_scores_layer_name: Any = None, pre_activation_target_layer_name: Any = None,
                 find_scores_layer_idx: Any = None, target_layer_idx: Any = None,
                 slice_objects: Any = None) -> tuple[list[Layer], bool, Layer]:
        """Arguments of ``get_target_contribs_func`` / ``get_target_multipliers_func``.

        Parameters
        ----------
        find_scores_layer_name : str or list of str
            Layer(s) to score, e.g. ``"input_1_0"``; a list returns a list of arrays.
        pre_activation_target_layer_name : str
            The layer explained, e.g. ``"preact_dense_2_0"`` (the linear part
            of ``dense_2``, before its activation).
        find_scores_layer_idx, target_layer_idx : int, optional
            The same layers by index into :meth:`get_layers`.
        """
        if slice_objects is not None:
            raise refuse("slice_objects", "slice the returned arrays instead")
        scored, listed = self._pick_layers(find_scores_layer_idx, find_scores_layer_name, "find_scores_layer_idx",
                                          "find_scores_layer_name")
        if pre_activation_target_layer_name is None and target_layer_idx is None:
            raise SeqliftError("give pre_activation_target_layer_name, the layer to explain (get_name_to_layer() "
                               "lists the names; 'preact_<layer>_0' is a layer's output before its activation)")
        target, _ = self._pick_layers(target_layer_idx, pre_activation_target_layer_name, "target_layer_idx",
                                     "pre_activation_target_layer_name")
        return scored, listed, target[0]

    def get_prediction_function(self, input_layer_names: Sequence[str], output_layer_name: str) -> Callable[..., np.ndarray]:
        """``f(input_data_list, batch_size, progress_update=None)``: the values of layer ``output_layer_name``."""
        inputs, _ = self._pick_layers(None, list(input_layer_names), "input_layer_idx", "input_layer_names")
        output, _ = self._pick_layers(None, output_layer_name, "output_layer_idx", "output_layer_name")
        return self._prediction_function(inputs, output[0])
