"""A weight's derived forms (``|W|``, ``Wᵀ``, a transpose's flipped kernel), each computed once and kept.

Computed inside a pass, a derived form would be an operation of every pass
(of every step of a recurrent layer's loop), and TensorFlow does not fold
constants over 10 MB (DeepSEA's third convolution is 15 MB). A form is kept
beside its source tensor, found by the source's identity, for as long as the
source lives; the source, a model's constant, is not kept alive by it.
"""
from __future__ import annotations

import functools
import weakref
from typing import Callable

import tensorflow as tf

#: id of a source tensor -> (a weak reference to it, its derived forms by name)
_KEPT: dict[int, tuple[weakref.ref, dict[str, tf.Tensor]]] = {}


def _forget(key: int, reference: weakref.ref) -> None:
    """Drop the forms of a source that is gone (unless its id already names a newer source)."""
    entry = _KEPT.get(key)
    if entry is not None and entry[0] is reference:
        del _KEPT[key]


def derived(source: tf.Tensor, name: str, fn: Callable[[tf.Tensor], tf.Tensor]) -> tf.Tensor:
    """``fn(source)``, computed once as a constant and kept while ``source`` lives.

    Parameters
    ----------
    source
        A constant (an eager tensor: a model's weight). A tensor of a graph
        being traced gets ``fn`` in that graph, every time.
    name
        The form's name (``"abs"``, ``"transposed"``, ...): one ``fn`` per name.
    fn
        Computes the form; run outside any function being traced.

    Returns
    -------
    tf.Tensor
        The kept constant (``fn(source)`` for a graph tensor).
    """
    if not isinstance(source, tf.__internal__.EagerTensor):
        return fn(source)
    key = id(source)
    entry = _KEPT.get(key)
    if entry is None or entry[0]() is not source:
        entry = _KEPT[key] = (weakref.ref(source, functools.partial(_forget, key)), {})
    forms = entry[1]
    if name not in forms:
        with tf.init_scope():  # computed now, outside any function being traced
            forms[name] = fn(source)
    return forms[name]


def is_kept(source: tf.Tensor, name: str) -> bool:
    """Whether ``source``'s form ``name`` has been computed and kept."""
    entry = _KEPT.get(id(source))
    return entry is not None and entry[0]() is source and name in entry[1]
