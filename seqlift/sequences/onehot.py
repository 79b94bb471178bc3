"""One-hot encoding of DNA sequences, its inverse, and reverse complements.

Encoding is in ``A, C, G, T`` column order. Lower-case (soft-masked) bases are
encoded like upper-case ones; ``N``, every other IUPAC ambiguity code and any
other character become an all-zero row, so the length of the encoding always
equals the length of the string. The work is a single 256-entry lookup table
applied to the string's bytes: no Python loop runs per base.

Examples
--------
>>> one_hot("ACgtN").astype(int).tolist()
[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
>>> decode(one_hot(["ACGT", "nnAC"]))
['ACGT', 'NNAC']
>>> reverse_complement("AACGn")
'nCGTT'
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Union, overload

import numpy as np
import numpy.typing as npt

from seqlift.errors import SeqliftError
from seqlift.sequences.alphabet import ALPHABET

__all__ = ["one_hot", "decode", "reverse_complement", "unknown_bases"]

#: byte value -> its one-hot row: A/a, C/c, G/g, T/t get a 1 in their column,
#: every other byte (N, IUPAC codes, anything else) an all-zero row
_ONE_HOT_TABLE = np.zeros((256, 4), dtype=np.float32)
for _column, _base in enumerate(ALPHABET):
    _ONE_HOT_TABLE[ord(_base), _column] = 1
    _ONE_HOT_TABLE[ord(_base.lower()), _column] = 1

#: column (0-3) or 4 -> the letter decode() writes
_DECODED_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)

#: complement of every IUPAC nucleotide code, both cases; other characters map to themselves
_COMPLEMENT = str.maketrans(
    "ACGTRYKMBVDHSWN" "acgtrykmbvdhswn",
    "TGCAYRMKVBHDSWN" "tgcayrmkvbhdswn",
)

SequenceInput = Union[str, bytes, Iterable[Union[str, bytes]]]


def _as_bytes(sequence: str | bytes) -> bytes:
    """ASCII bytes of ``sequence``, one byte per character (non-ASCII -> ``?``)."""
    if isinstance(sequence, bytes):
        return sequence
    if isinstance(sequence, str):
        return sequence.encode("ascii", "replace")
    raise SeqliftError(f"one_hot: expected a DNA string, got {type(sequence).__name__}")


def _encode_bytes(data: bytes, dtype: npt.DTypeLike) -> np.ndarray:
    """One-hot rows, shape ``(len(data), 4)``, for a flat buffer of bases."""
    table = _ONE_HOT_TABLE.astype(dtype, copy=False)
    return np.take(table, np.frombuffer(data, dtype=np.uint8), axis=0)


@overload
def one_hot(sequences: str | bytes, dtype: npt.DTypeLike = ...) -> np.ndarray: ...
@overload
def one_hot(sequences: Iterable[str | bytes], dtype: npt.DTypeLike = ...) -> np.ndarray: ...


def one_hot(sequences: SequenceInput, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
    """One-hot encode one DNA sequence or a batch of equal-length sequences.

    Parameters
    ----------
    sequences : str, bytes or iterable of str/bytes
        A single sequence, or several sequences that all have the same length.
    dtype : numpy dtype, default float32
        Element type of the result; ``np.uint8`` or ``np.float16`` save memory.

    Returns
    -------
    numpy.ndarray
        Shape ``(L, 4)`` for a single sequence, ``(N, L, 4)`` for a batch
        (``(0, 0, 4)`` for an empty batch). Columns are ``A, C, G, T``; rows for
        ``N``, other IUPAC codes and any other character are all zero.
        Lower-case bases are encoded like upper-case ones.

    Raises
    ------
    SeqliftError
        If the sequences of a batch differ in length (the message names the
        first sequence whose length differs from the first one's), or an item
        is not a string.
    """
    if isinstance(sequences, (str, bytes)):
        return _encode_bytes(_as_bytes(sequences), dtype)
    encoded = [_as_bytes(sequence) for sequence in sequences]
    if not encoded:
        return np.zeros((0, 0, 4), dtype=dtype)
    length = len(encoded[0])
    for index, item in enumerate(encoded):
        if len(item) != length:
            raise SeqliftError(
                f"one_hot: sequence {index} has length {len(item)} but sequence 0 has "
                f"length {length}; a batch needs sequences of equal length"
            )
    return _encode_bytes(b"".join(encoded), dtype).reshape(len(encoded), length, 4)


def unknown_bases(onehot: npt.ArrayLike) -> np.ndarray:
    """How many positions of each one-hot sequence are not A, C, G or T (all-zero rows: N, IUPAC codes, padding).

    Parameters
    ----------
    onehot : array_like
        ``(n, L, 4)`` one-hot sequences.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 counts.
    """
    array = np.asarray(onehot)
    return np.count_nonzero(~array.any(axis=-1), axis=-1).astype(np.int64)


def decode(onehot: npt.ArrayLike) -> str | list[str]:
    """Turn one-hot rows back into DNA letters.

    Parameters
    ----------
    onehot : array_like
        Shape ``(L, 4)`` or ``(N, L, 4)``, columns in ``A, C, G, T`` order.

    Returns
    -------
    str or list of str
        A string for a ``(L, 4)`` input, a list of ``N`` strings for ``(N, L, 4)``.
        A row with no positive entry (all zero) decodes as ``N``; otherwise the
        letter of the row's largest entry is written, so soft scores decode to
        their most likely base. Decoded letters are upper case.

    Raises
    ------
    SeqliftError
        If the array is not 2- or 3-dimensional with a last axis of size 4.
    """
    array = np.asarray(onehot)
    if array.ndim not in (2, 3) or array.shape[-1] != 4:
        raise SeqliftError(
            f"decode: expected a one-hot array of shape (L, 4) or (N, L, 4), got {array.shape}"
        )
    columns = np.argmax(array, axis=-1)
    columns[~(array.max(axis=-1) > 0)] = 4
    letters = _DECODED_LETTERS[columns]
    if array.ndim == 2:
        return letters.tobytes().decode("ascii")
    return [row.tobytes().decode("ascii") for row in letters]


@overload
def reverse_complement(sequence: str) -> str: ...
@overload
def reverse_complement(sequence: list[str]) -> list[str]: ...
@overload
def reverse_complement(sequence: np.ndarray) -> np.ndarray: ...


def reverse_complement(sequence: str | list[str] | np.ndarray) -> str | list[str] | np.ndarray:
    """Reverse complement a DNA string, a list of strings, or one-hot array(s).

    Parameters
    ----------
    sequence : str, list of str, or numpy.ndarray
        A string (IUPAC codes are complemented, case is kept, other characters
        are left as they are), a list of strings, or a one-hot array whose last
        two axes are ``(length, 4)`` in ``A, C, G, T`` order (any leading batch
        axes).

    Returns
    -------
    str, list of str, or numpy.ndarray
        The reverse complement in the same form. For arrays this is
        ``x[..., ::-1, ::-1]`` (length reversed, ``A<->T`` and ``C<->G``),
        returned as a new C-contiguous array.

    Raises
    ------
    SeqliftError
        If an array does not have a last axis of size 4.
    """
    if isinstance(sequence, str):
        return sequence.translate(_COMPLEMENT)[::-1]
    if isinstance(sequence, np.ndarray):
        if sequence.ndim < 2 or sequence.shape[-1] != 4:
            raise SeqliftError(
                f"reverse_complement: expected a one-hot array of shape (..., L, 4), got {sequence.shape}"
            )
        return np.ascontiguousarray(sequence[..., ::-1, ::-1])
    if isinstance(sequence, (list, tuple)):
        return [reverse_complement(item) for item in sequence]
    raise SeqliftError(
        f"reverse_complement: expected a string, list of strings or array, got {type(sequence).__name__}"
    )
