"""The attribution methods a ground-truth report compares, and their per-position scores.

:data:`REPORT_METHODS` lists the report's method keys with the engine method
behind each (``genomics_default_shuffled`` is the genomics default against
dinucleotide shuffles whatever the report's reference); :func:`reference_for`
makes a report's reference and :func:`method_scores` runs every method,
summing contributions over A, C, G, T.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Sequence

import numpy as np

from seqlift.engine.methods import METHODS
from seqlift.errors import SeqliftError
from seqlift.sequences.alphabet import PAPER_BACKGROUND

__all__ = ["REPORT_METHODS", "reference_for", "method_scores"]

log = logging.getLogger(__name__)

#: method keys of the report, in display order, with the engine method behind each: every
#: engine method (:data:`seqlift.engine.methods.METHODS`), and genomics_default against
#: dinucleotide shuffles whatever the report's reference
REPORT_METHODS = {**{name: name for name in METHODS}, "genomics_default_shuffled": "genomics_default"}


def reference_for(kind: str, frequencies: Sequence[float] = PAPER_BACKGROUND, shuffles: int = 10) -> Any:
    """The ``references`` argument of :func:`seqlift.attribute` for a reference kind.

    Parameters
    ----------
    kind : {"flat", "shuffle", "zeros"}
        ``flat``: the letter frequencies at every position (the paper's
        choice, :data:`~seqlift.sequences.alphabet.PAPER_BACKGROUND`); ``shuffle``: ``shuffles`` dinucleotide
        shuffles of each sequence; ``zeros``: the all-zero input.
    frequencies : sequence of 4 floats
        Frequencies of the flat reference.
    shuffles : int
        Number of shuffles.
    """
    from seqlift.sequences import references

    if kind == "flat":
        return references.flat(tuple(frequencies))
    if kind == "shuffle":
        return int(shuffles)
    if kind == "zeros":
        return references.zeros()
    raise SeqliftError(f"unknown reference {kind!r}; use flat, shuffle or zeros")


def method_scores(
    model: Any,
    x: np.ndarray,
    methods: Sequence[str],
    reference: Any,
    shuffles: int = 10,
    ig_steps: int = 10,
    tasks: Sequence[int] = (0, 1, 2),
    batch_size: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per-position scores of every method: contributions summed over A, C, G, T.

    Parameters
    ----------
    model : seqlift Model, path or keras.Model
        Passed to :func:`seqlift.attribute`.
    x : numpy.ndarray
        (N, L, 4) one-hot sequences.
    methods : sequence of str
        Keys of :data:`REPORT_METHODS`. ``genomics_default_shuffled`` always
        uses ``shuffles`` dinucleotide shuffles; the others use ``reference``.
    reference : int, array or generator
        References of the other methods (see :func:`reference_for`).
    shuffles : int
        Shuffles of ``genomics_default_shuffled``.
    ig_steps : int
        Steps of integrated gradients.
    tasks : sequence of int
        Output units to explain (the pre-sigmoid logits by default).
    batch_size : int, optional
        Passed to :func:`seqlift.attribute`.
    seed : int
        Seed of the shuffles.

    Returns
    -------
    dict of str to numpy.ndarray
        Method key to (T, N, L) float32 scores.
    """
    from seqlift import attribute

    out: dict[str, np.ndarray] = {}
    for method in methods:
        if method not in REPORT_METHODS:
            raise SeqliftError(f"unknown method {method!r}; choose from {', '.join(REPORT_METHODS)}")
        refs = shuffles if method == "genomics_default_shuffled" else reference
        if method == "genomics_default_shuffled" and "genomics_default" in out and reference == shuffles:
            out[method] = out["genomics_default"]  # the same computation: --reference shuffle
            continue
        start = time.perf_counter()
        result = attribute(
            model,
            x,
            refs,
            method=REPORT_METHODS[method],
            task=list(tasks),
            batch_size=batch_size,
            seed=seed,
            steps=ig_steps,
        )
        contrib = np.asarray(result.contributions)
        if contrib.ndim == 3:
            contrib = contrib[None]
        out[method] = contrib.sum(axis=-1).astype(np.float32)
        log.info("%s: %d sequences in %.1f s", method, x.shape[0], time.perf_counter() - start)
    return out
