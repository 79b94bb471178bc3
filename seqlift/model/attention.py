"""Attention layers as graphs of ops the DeepLIFT engine has rules for.

``MultiHeadAttention`` becomes its projections (Dense: the kernel rule), the
query-key product (:class:`~seqlift.model.interactions.Einsum`: the product
rule, every term ``q_d k_d`` split exactly), the softmax over keys (the
exact softmax rule), the attention-value product (the product rule again) and
the output projection. ``Attention`` (Luong, dot or concat scores) and
``AdditiveAttention`` (Bahdanau) are the same with their own scores: a product,
or ``tanh`` of a broadcast sum (an elementwise nonlinearity) weighted and
summed (linear).

A causal mask (``use_causal_mask=True``) replaces the scores of later keys by
a large negative constant (:func:`causal_mask`), a fixed elementwise affine
map, after which their softmax weights are exactly 0, as in Keras. Masks
given as tensors (``attention_mask=``, ``mask=``) are out of scope.
"""
from __future__ import annotations

import numpy as np

from seqlift.model import ops
from seqlift.model.interactions import Einsum
from seqlift.model.layer_graph import LayerGraph
from seqlift.model.normalization import ScaleShift

__all__ = ["additive_scores", "causal_mask", "multi_head_attention_graph", "weighted_values"]

#: what a masked score becomes (Keras: 1e9 below, or replaced by a large negative number)
MASKED_SCORE = -1e9


def causal_mask(queries: int, keys: int, leading_axes: int) -> ScaleShift:
    """Scores ``(…, queries, keys)`` kept where key ≤ query and set to :data:`MASKED_SCORE` elsewhere.

    ``leading_axes`` is the number of axes before the last two, batch included.
    """
    keep = np.tril(np.ones((queries, keys), np.float32))
    shape = (1,) * leading_axes + (queries, keys)
    return ScaleShift(keep.reshape(shape), ((1.0 - keep) * MASKED_SCORE).reshape(shape),
                      axis=(leading_axes, leading_axes + 1))


def _projection(kernel: np.ndarray, bias: np.ndarray | None, heads: int, size: int) -> ops.Dense:
    """An ``EinsumDense`` projecting ``(…, d)`` to ``(…, heads, size)`` as a Dense layer to ``heads · size``."""
    return ops.Dense(np.reshape(kernel, (kernel.shape[0], heads * size)),
                     None if bias is None else np.reshape(bias, (heads * size,)))


def multi_head_attention_graph(
    query_length: int,
    key_length: int,
    weights: dict[str, tuple[np.ndarray, np.ndarray | None]],
    heads: int,
    key_dim: int,
    value_dim: int,
    separate_key: bool,
    causal: bool,
) -> LayerGraph:
    """The nodes of a Keras ``MultiHeadAttention`` layer on inputs ``(batch, length, features)``.

    Parameters
    ----------
    query_length, key_length
        Lengths of the query and of the value (and key) sequences.
    weights
        ``"query"``, ``"key"``, ``"value"``, ``"output"``: each projection's
        kernel (Keras's shapes: ``(d, heads, size)``, the output's
        ``(heads, value_dim, d_out)``) and bias (or None).
    heads, key_dim, value_dim
        Keras's ``num_heads``, ``key_dim`` and ``value_dim``.
    separate_key
        Whether the layer is called with a key (input 2) besides the value (input 1).
    causal
        ``use_causal_mask=True``.
    """
    graph = LayerGraph()
    for name, source, size in (("query", 0, key_dim), ("key", 2 if separate_key else 1, key_dim),
                               ("value", 1, value_dim)):
        kernel, bias = weights[name]
        graph.add(name, _projection(kernel, bias, heads, size), source)
        length = query_length if name == "query" else key_length
        graph.add(f"{name}_heads", ops.Reshape((length, heads, size)), name)
    scores = graph.add("scores", Einsum("aecd,abcd->acbe", "scaled query-key product", scale=key_dim ** -0.5),
                       "key_heads", "query_heads")  # (batch, heads, queries, keys)
    if causal:
        scores = graph.add("masked_scores", causal_mask(query_length, key_length, 2), scores)
    graph.add("attention", ops.Softmax(-1), scores)
    graph.add("context", Einsum("acbe,aecd->abcd", "attention-value product"), "attention", "value_heads")
    graph.add("context_flat", ops.Reshape((query_length, heads * value_dim)), "context")
    kernel, bias = weights["output"]
    graph.add("", ops.Dense(np.reshape(kernel, (heads * value_dim, -1)), bias), "context_flat")
    return graph


def additive_scores(graph: LayerGraph, query_length: int, key_length: int, features: int, key: int | str,
                    inner_scale: np.ndarray | float | None, outer_weights: np.ndarray) -> str:
    """``Σ_d w_d tanh(s_d (q_d + k_d))`` for every query and key (AdditiveAttention, Attention's concat scores).

    Adds the nodes to ``graph`` (query is its input 0) and returns the name of the scores ``(queries, keys)``.
    """
    graph.add("query_expanded", ops.Reshape((query_length, 1, features)), 0)
    graph.add("key_expanded", ops.Reshape((1, key_length, features)), key)
    pairs = graph.add("pair_sums", ops.Add(), "query_expanded", "key_expanded")
    if inner_scale is not None:
        scale = np.broadcast_to(np.asarray(inner_scale, np.float32), (features,)).reshape(1, 1, 1, features)
        pairs = graph.add("scaled_sums", ScaleShift(scale, np.zeros_like(scale), axis=(3,)), pairs)
    graph.add("tanh", ops.Activation("tanh"), pairs)
    column = np.broadcast_to(np.asarray(outer_weights, np.float32), (features,)).reshape(features, 1)
    graph.add("weighted_sums", ops.Dense(column, None), "tanh")
    return graph.add("scores", ops.Reshape((query_length, key_length)), "weighted_sums")


def weighted_values(graph: LayerGraph, scores: str, value: int | str, query_length: int, key_length: int,
                    causal: bool) -> None:
    """Softmax of ``scores`` over keys (masked if ``causal``) and the weighted sum of the values: the output."""
    if causal:
        scores = graph.add("masked_scores", causal_mask(query_length, key_length, 1), scores)
    graph.add("attention", ops.Softmax(-1), scores)
    graph.add("", Einsum("bqk,bkd->bqd", "attention-value product"), "attention", value)
