"""References for DeepLIFT: what each input sequence is compared with.

DeepLIFT explains the difference between a model's output on an input and on
a *reference*; seqlift averages contributions over ``S`` references per
sequence. This module makes them.

The reference generator protocol
--------------------------------
A reference generator is any callable with the signature::

    generator(x: np.ndarray, seed: int) -> np.ndarray

taking one-hot inputs ``x`` of shape (N, L, 4) and returning references of
shape (N, S, L, 4), float32, ``S >= 1``. A generator must work row by row:
the references of row ``i`` may depend only on ``x[i]`` and ``seed``, never on
the other rows or on ``N``. That is what lets callers score in chunks or
shards (``generator(x[a:b], seed)`` equals ``generator(x, seed)[a:b]``); every
generator here obeys it. The one exception by construction is a *per-sequence*
:func:`given` array, whose rows belong to particular inputs: a caller that
chunks must pass the matching rows, which :func:`select_rows` does.

Built-in generators: :func:`shuffled` (dinucleotide shuffles, the usual
choice for DNA), :func:`zeros`, :func:`flat`, :func:`measured` and
:func:`given`. :func:`resolve` turns whatever a user passes (a number of
shuffles, an array or a generator) into the (N, S, L, 4) array.

Examples
--------
>>> import numpy as np
>>> from seqlift import references
>>> x = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 3, 0]][np.newaxis]
>>> references.resolve(10, x, seed=0).shape
(1, 10, 6, 4)
>>> references.resolve(references.flat(), x, seed=0)[0, 0, 0].tolist()
[0.30000001192092896, 0.20000000298023224, 0.20000000298023224, 0.30000001192092896]
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence, Union

import numpy as np

from seqlift.errors import SeqliftError
from seqlift.inputs import check_positive_int
from seqlift.sequences.alphabet import PAPER_BACKGROUND
from seqlift.sequences.shuffle import dinucleotide_shuffle

__all__ = [
    "ReferenceGenerator",
    "References",
    "shuffled",
    "zeros",
    "flat",
    "measured",
    "given",
    "resolve",
    "select_rows",
]

#: ``generator(x, seed) -> references``: (N, L, 4) in, (N, S, L, 4) float32 out
ReferenceGenerator = Callable[[np.ndarray, int], np.ndarray]
#: what a user may pass as references: S shuffles, an array, or a generator
References = Union[int, np.ndarray, ReferenceGenerator]

def _check_inputs(x: Any) -> np.ndarray:
    """``x`` as an array of shape (N, L, 4), or a SeqliftError."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[-1] != 4:
        raise SeqliftError(f"inputs must be one-hot sequences of shape (N, L, 4), not {x.shape}")
    if x.dtype.kind not in "biuf":
        raise SeqliftError(f"inputs must be numeric, not dtype {x.dtype}")
    return x


def _check_reference_array(array: Any, what: str) -> np.ndarray:
    """A numeric, finite array as float32, or a SeqliftError."""
    try:
        array = np.asarray(array)
    except (ValueError, TypeError) as err:
        raise SeqliftError(f"{what} is not an array: {err}") from None
    if array.dtype.kind not in "biuf":
        raise SeqliftError(f"{what} must be numeric, not dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise SeqliftError(f"{what} contains NaN or infinite values")
    return array


class _Shuffled:
    """``n`` uniform dinucleotide shuffles of each sequence."""

    def __init__(self, n: int) -> None:
        self.n = check_positive_int(n, "the number of shuffled references")

    def __call__(self, x: np.ndarray, seed: int) -> np.ndarray:
        shuffles = dinucleotide_shuffle(_check_inputs(x), self.n, seed=seed)
        return shuffles.astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"shuffled({self.n})"


class _Zeros:
    """``n`` all-zero references per sequence."""

    def __init__(self, n: int) -> None:
        self.n = check_positive_int(n, "the number of zero references")

    def __call__(self, x: np.ndarray, seed: int) -> np.ndarray:
        n_seqs, length, _ = _check_inputs(x).shape
        return np.zeros((n_seqs, self.n, length, 4), dtype=np.float32)

    def __repr__(self) -> str:
        return f"zeros({self.n})" if self.n != 1 else "zeros()"


class _Flat:
    """One reference per sequence with ``frequencies`` at every position."""

    def __init__(self, frequencies: Sequence[float]) -> None:
        try:
            values = [float(f) for f in frequencies]
        except (TypeError, ValueError):
            raise SeqliftError(
                f"frequencies must be 4 numbers (A, C, G, T), not {frequencies!r}"
            ) from None
        if len(values) != 4:
            raise SeqliftError(f"frequencies must be 4 numbers (A, C, G, T), not {len(values)}")
        if not all(math.isfinite(f) and f >= 0 for f in values):
            raise SeqliftError(f"frequencies must be non-negative, finite numbers, not {values}")
        if abs(math.fsum(values) - 1.0) > 1e-6:
            raise SeqliftError(f"frequencies must sum to 1, but {values} sum to {math.fsum(values):.8g}")
        self.frequencies = tuple(values)

    def __call__(self, x: np.ndarray, seed: int) -> np.ndarray:
        n_seqs, length, _ = _check_inputs(x).shape
        row = np.asarray(self.frequencies, dtype=np.float32)
        return np.ascontiguousarray(np.broadcast_to(row, (n_seqs, 1, length, 4)))

    def __repr__(self) -> str:
        return f"flat({self.frequencies})"


class _Measured:
    """One reference per sequence: its own base composition at every position."""

    def __call__(self, x: np.ndarray, seed: int) -> np.ndarray:
        x = _check_inputs(x).astype(np.float64, copy=False)
        n_seqs, length, _ = x.shape
        totals = x.sum(axis=1)  # (N, 4): base counts; N rows add nothing
        called = np.count_nonzero(x.any(axis=2), axis=1)  # positions that are not N
        composition = np.divide(
            totals, called[:, np.newaxis], out=np.zeros_like(totals), where=called[:, np.newaxis] > 0
        ).astype(np.float32)
        return np.ascontiguousarray(
            np.broadcast_to(composition[:, np.newaxis, np.newaxis, :], (n_seqs, 1, length, 4))
        )

    def __repr__(self) -> str:
        return "measured()"


class _Given:
    """User-supplied references: (S, L, 4) shared, or (N, S, L, 4) per sequence."""

    def __init__(self, array: Any) -> None:
        array = _check_reference_array(array, "given references")
        if array.ndim not in (3, 4) or array.shape[-1] != 4:
            raise SeqliftError(
                "given references must have shape (S, L, 4) (shared by all sequences) or "
                f"(N, S, L, 4) (one set per sequence), not {array.shape}"
            )
        if array.shape[-3] < 1:
            raise SeqliftError(f"given references hold no reference (S = 0): shape {array.shape}")
        self.array = array
        self.per_sequence = array.ndim == 4

    def __call__(self, x: np.ndarray, seed: int) -> np.ndarray:
        n_seqs, length, _ = _check_inputs(x).shape
        if self.array.shape[-2] != length:
            raise SeqliftError(
                f"given references have length {self.array.shape[-2]} but the inputs have length {length}"
            )
        if not self.per_sequence:
            return np.ascontiguousarray(np.broadcast_to(self.array, (n_seqs,) + self.array.shape))
        if self.array.shape[0] != n_seqs:
            raise SeqliftError(
                f"given per-sequence references are for {self.array.shape[0]} sequences but there "
                f"are {n_seqs} inputs; when scoring a slice of the inputs pass the matching rows "
                "of the references (references.select_rows does this)"
            )
        return np.ascontiguousarray(self.array)

    def rows(self, start: int, stop: int) -> "_Given":
        """The references of inputs ``start:stop`` (the same object when shared)."""
        return _Given(self.array[start:stop]) if self.per_sequence else self

    def __repr__(self) -> str:
        kind = "per sequence" if self.per_sequence else "shared"
        return f"given(array of shape {self.array.shape}, {kind})"


_BUILT_IN = (_Shuffled, _Zeros, _Flat, _Measured, _Given)


def shuffled(n: int = 10) -> ReferenceGenerator:
    """``n`` uniform dinucleotide shuffles of each sequence.

    See :func:`seqlift.sequences.shuffle.dinucleotide_shuffle`: each shuffle keeps the
    first base and the exact dinucleotide counts of its sequence and depends
    only on the seed and the sequence.

    Parameters
    ----------
    n : int, default 10
        Shuffles per sequence (S).

    Returns
    -------
    ReferenceGenerator
        Gives (N, n, L, 4) float32.
    """
    return _Shuffled(n)


def zeros(n: int = 1) -> ReferenceGenerator:
    """All-zero references (``n`` identical ones per sequence).

    Parameters
    ----------
    n : int, default 1
        References per sequence (S).

    Returns
    -------
    ReferenceGenerator
        Gives (N, n, L, 4) float32 zeros.
    """
    return _Zeros(n)


def flat(frequencies: Sequence[float] = PAPER_BACKGROUND) -> ReferenceGenerator:
    """One reference per sequence with the same base frequencies at every position.

    Parameters
    ----------
    frequencies : sequence of 4 floats, default :data:`~seqlift.sequences.alphabet.PAPER_BACKGROUND`
        Frequencies of A, C, G, T: non-negative, summing to 1 within 1e-6.
        The default is the DeepLIFT paper's (0.3, 0.2, 0.2, 0.3).

    Returns
    -------
    ReferenceGenerator
        Gives (N, 1, L, 4) float32.

    Raises
    ------
    SeqliftError
        If ``frequencies`` are not 4 non-negative numbers summing to 1.
    """
    return _Flat(frequencies)


def measured() -> ReferenceGenerator:
    """One reference per sequence: its own base composition at every position.

    The composition of a sequence is the fraction of A, C, G and T among its
    positions that are not N (all-zero rows are left out of the count). An
    all-N sequence has no composition; its reference is all zero.

    Returns
    -------
    ReferenceGenerator
        Gives (N, 1, L, 4) float32.
    """
    return _Measured()


def given(array: np.ndarray) -> ReferenceGenerator:
    """References supplied by the user.

    Parameters
    ----------
    array : np.ndarray
        Shape (S, L, 4): the same S references for every sequence; or
        (N, S, L, 4): S references for each of the N input sequences, row ``i``
        for input ``i``. A per-sequence array belongs to one particular input
        array: when the inputs are sliced or chunked, the caller must pass the
        matching rows (``select_rows(generator, start, stop)``).

    Returns
    -------
    ReferenceGenerator
        Gives (N, S, L, 4) float32.

    Raises
    ------
    SeqliftError
        At once, if the array is not numeric and finite or has the wrong number
        of dimensions; when called, if its length (or its N) does not match
        the inputs.
    """
    return _Given(array)


def select_rows(references: References, start: int, stop: int) -> References:
    """The references that go with inputs ``x[start:stop]``.

    Everything except per-sequence arrays is row-independent and comes back
    unchanged; a per-sequence array (4-D ndarray or :func:`given` of one) is
    sliced. Use this when scoring in chunks::

        resolve(select_rows(refs, a, b), x[a:b], seed)  # == resolve(refs, x, seed)[a:b]

    Parameters
    ----------
    references : int, np.ndarray or ReferenceGenerator
        What the user passed (see :func:`resolve`).
    start, stop : int
        The slice of the inputs.

    Returns
    -------
    int, np.ndarray or ReferenceGenerator
        References for the slice.
    """
    if isinstance(references, _Given):
        return references.rows(start, stop)
    if isinstance(references, np.ndarray) and references.ndim == 4:
        return references[start:stop]
    return references


def resolve(references: References, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """The (N, S, L, 4) reference array for inputs ``x``.

    Parameters
    ----------
    references : int, np.ndarray or ReferenceGenerator
        An int ``S``: S dinucleotide shuffles of each sequence
        (:func:`shuffled`). An array: (L, 4) or (S, L, 4) shared by all
        sequences, or (N, S, L, 4) per sequence (:func:`given`). A callable:
        a reference generator ``generator(x, seed)``.
    x : np.ndarray
        One-hot inputs, shape (N, L, 4).
    seed : int, default 0
        Passed to the generator (used by shuffles).

    Returns
    -------
    np.ndarray
        C-contiguous float32 array of shape (N, S, L, 4), ``S >= 1``.

    Raises
    ------
    SeqliftError
        If ``references`` is of an unsupported type, or an array or a
        generator's result has the wrong shape or non-finite values.
    """
    x = _check_inputs(x)
    n_seqs, length, _ = x.shape
    if isinstance(references, (bool, np.bool_)):
        raise SeqliftError(f"references must be a number of shuffles, an array or a generator, not {references!r}")
    if isinstance(references, (int, np.integer)):
        generator: ReferenceGenerator = shuffled(references)
    elif isinstance(references, (np.ndarray, list, tuple)):
        array = _check_reference_array(references, "reference array")
        if array.ndim == 1:
            raise SeqliftError(
                f"a reference array must have shape (L, 4), (S, L, 4) or (N, S, L, 4), not {array.shape}"
                " (for base frequencies use references.flat(...))"
            )
        if array.ndim == 2:
            array = array[np.newaxis]
        if array.ndim not in (3, 4) or array.shape[-1] != 4:
            raise SeqliftError(
                f"a reference array must have shape (L, 4), (S, L, 4) or (N, S, L, 4), not {array.shape}"
            )
        generator = given(array)
    elif callable(references):
        generator = references
    else:
        raise SeqliftError(
            "references must be a number of shuffles, an array or a generator callable, "
            f"not {type(references).__name__}"
        )
    result = generator(x, seed)
    if not isinstance(result, np.ndarray):
        raise SeqliftError(
            f"reference generator {generator!r} returned {type(result).__name__}, not a numpy array"
        )
    if result.ndim != 4 or result.shape[0] != n_seqs or result.shape[2:] != (length, 4) or result.shape[1] < 1:
        raise SeqliftError(
            f"reference generator {generator!r} returned shape {result.shape}; expected "
            f"({n_seqs}, S, {length}, 4) with S >= 1 for inputs of shape {x.shape}"
        )
    if not isinstance(generator, _BUILT_IN):  # built-in ones give finite float32
        result = _check_reference_array(result, f"the references from {generator!r}")
    return np.ascontiguousarray(result, dtype=np.float32)
