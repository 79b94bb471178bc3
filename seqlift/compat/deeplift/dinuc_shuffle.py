"""``deeplift.dinuc_shuffle``: dinucleotide shuffles of strings and one-hot arrays, by seqlift's uniform shuffle.

:func:`dinuc_shuffle` keeps the original's signature and return types but draws
with :func:`seqlift.dinucleotide_shuffle`: uniformly among all sequences with
the sequence's first symbol and dinucleotide counts. The original kept each
symbol's last outgoing edge from the input, which restricts and biases the
sample; the draws therefore differ from the original's for the same ``rng``
(the original's are not reproduced), and depend only on the sequence and on
one number drawn from ``rng`` per call.

Any alphabet of at most five symbols is shuffled (A, C, G, T and N, or the
channels of a one-hot array plus all-zero rows). A string mixing upper- and
lower-case bases (soft-masked DNA), which the original shuffled as up to ten
symbols, is shuffled as its upper-case bases and comes back upper-case.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from seqlift.compat.deeplift._unsupported import module_getattr
from seqlift.errors import SeqliftError

__all__ = ["dinuc_shuffle"]

#: symbols seqlift's shuffle tells apart: the four one-hot channels and the all-zero row
_MAX_SYMBOLS = 5


def dinuc_shuffle(seq: str | np.ndarray, num_shufs: int | None = None,
                  rng: np.random.RandomState | np.random.Generator | None = None) -> Any:
    """Shuffles of ``seq`` with the same dinucleotide counts (and first symbol).

    Parameters
    ----------
    seq : str or np.ndarray
        A string of length L, or an (L, D) one-hot array (rows one-hot or all zero).
    num_shufs : int, optional
        How many shuffles; one, without a leading axis, when None.
    rng : numpy.random.RandomState or numpy.random.Generator, optional
        Source of the seed of seqlift's shuffle (one draw per call); fresh
        entropy when None.

    Returns
    -------
    str, list of str or np.ndarray
        For a string: a string, or a list of ``num_shufs`` strings. For an
        array: (L, D), or (num_shufs, L, D), in the dtype of ``seq``.
    """
    import seqlift

    if num_shufs is not None and (isinstance(num_shufs, (bool, np.bool_))
                                  or not isinstance(num_shufs, (int, np.integer)) or num_shufs < 1):
        raise SeqliftError(f"num_shufs must be a positive integer or None, not {num_shufs!r}")
    if isinstance(seq, str):
        if len(set(seq)) > _MAX_SYMBOLS and len(set(seq.upper())) <= _MAX_SYMBOLS:
            seq = seq.upper()  # soft-masked (mixed-case) DNA: shuffled as its bases
        tokens = np.array(list(seq))
    elif isinstance(seq, np.ndarray) and seq.ndim == 2:
        if np.any((seq != 0) & (seq != 1)) or np.any(seq.sum(axis=1) > 1):
            raise SeqliftError("a one-hot array to shuffle must have rows that are one-hot or all zero")
        tokens = np.where(seq.any(axis=1), seq.argmax(axis=1), seq.shape[1])
    else:
        raise SeqliftError(f"dinuc_shuffle takes a string or an (L, D) one-hot array, not "
                           f"{type(seq).__name__}{getattr(seq, 'shape', '')}")
    symbols, codes = np.unique(tokens, return_inverse=True)
    if len(symbols) > _MAX_SYMBOLS:
        raise SeqliftError(f"the sequence has {len(symbols)} distinct symbols; seqlift's shuffle takes at most "
                           f"{_MAX_SYMBOLS} (A, C, G, T and N)")
    one_hot = np.eye(_MAX_SYMBOLS, 4, dtype=np.uint8)[codes.reshape(-1)]
    shuffled = seqlift.dinucleotide_shuffle(one_hot, num_shufs or 1, seed=_seed(rng))
    back = np.where(shuffled.any(axis=-1), shuffled.argmax(axis=-1), 4)  # (n, L) codes
    if isinstance(seq, str):
        results: Any = ["".join(row) for row in symbols[back]]
    else:
        results = np.eye(seq.shape[1] + 1, seq.shape[1], dtype=seq.dtype)[symbols[back]]
    return results if num_shufs else results[0]


def _seed(rng: Any) -> int:
    """One 63-bit seed drawn from ``rng`` (a RandomState or a Generator; fresh entropy when None)."""
    if rng is None:
        rng = np.random.default_rng()
    if hasattr(rng, "integers"):
        return int(rng.integers(0, 2**63 - 1))
    return int(rng.randint(0, 2**63 - 1, dtype=np.int64))


_USE_SEQLIFT = "use seqlift.one_hot and seqlift.decode"
__getattr__ = module_getattr("deeplift.dinuc_shuffle", {
    "string_to_char_array": _USE_SEQLIFT,
    "char_array_to_string": _USE_SEQLIFT,
    "one_hot_to_tokens": _USE_SEQLIFT,
    "tokens_to_one_hot": _USE_SEQLIFT,
})
