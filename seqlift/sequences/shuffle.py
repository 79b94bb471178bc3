"""Uniformly random dinucleotide shuffles of one-hot DNA.

A dinucleotide shuffle of a sequence is a sequence of the same length that
starts with the same symbol and contains every dinucleotide (pair of adjacent
symbols, all ``L - 1`` of them) exactly as often as the original. Such
shuffles are the usual DeepLIFT references for DNA models: they keep the GC
content and CpG frequency of the input while destroying its motifs.

Mathematics
-----------
Read a sequence ``s_0 s_1 ... s_{L-1}`` over the alphabet ``{A, C, G, T, N}``
as a walk in the directed multigraph whose vertices are the symbols and which
has one edge ``s_i -> s_{i+1}`` for every position, ``C[a, b]`` edges from
``a`` to ``b`` in all (the dinucleotide counts). Sequences with the same first
symbol and the same counts are exactly the Eulerian trails of this multigraph
that start at ``s_0``; they all end at ``e = s_{L-1}``. Label the parallel
edges to tell them apart; every sequence then corresponds to exactly
``prod_{a,b} C[a, b]!`` labelled trails, so a uniformly random labelled trail
gives a uniformly random sequence.

By the BEST theorem as used by Altschul & Erickson (1985) and Kandel et al.
(1996), a labelled trail from ``s_0`` is the same thing as

1. for every vertex ``v != e`` that has outgoing edges, the *last* edge by
   which the trail leaves ``v``; these last exits must form a spanning
   arborescence directed towards ``e`` (every vertex reaches ``e`` by last
   exits, no cycles), and
2. for every vertex, an order of its remaining outgoing edges,

and every such choice gives a trail. Hence a uniform labelled trail is drawn
by (1) drawing the arborescence with probability proportional to the product
of the multiplicities ``C[v, last(v)]`` of its edges (uniform over labelled
arborescences), (2) ordering each vertex's other edges uniformly at random,
(3) walking from ``s_0``, always leaving a vertex by its next unused edge.

Step 1 uses Wilson's (1996) loop-erased random walk with root ``e``, stepping
from ``u`` to ``w`` with probability ``C[u, w] / sum_w C[u, w]``: Wilson's
algorithm returns an arborescence ``T`` with probability proportional to
``prod_{u} P(u, T(u))``, which is proportional to ``prod_u C[u, T(u)]``
because the out-degrees are fixed. Steps 2 and 3 are fused: reading a
uniformly random permutation of a multiset from left to right is the same as
drawing each next element with probability proportional to how many copies of
it remain, so at vertex ``v`` the walk takes successor ``w`` with probability
``R[v, w] / sum_w R[v, w]`` over the remaining non-last edges ``R`` and takes
the last exit only when no other edge is left. (The original DeepLIFT
``dinuc_shuffle`` instead keeps each symbol's last exit from the input, which
restricts and biases the sample.)

Determinism
-----------
Each sequence gets its own random streams, derived from the user's ``seed``
and a 64-bit hash of the sequence's symbols only. With ``mix`` the SplitMix64
finaliser and ``golden = 0x9E3779B97F4A7C15`` its increment::

    hash = FNV-1a-64 of the symbol codes (0-4), started from
           FNV_offset ^ mix(L)
    key  = mix(mix(hash) ^ mix(seed mod 2**64 + golden))
    shuffle k of the sequence: SplitMix64 started from
           mix(key ^ mix((k + 1) * golden))

Random integers below a bound are drawn exactly uniformly (Lemire's
multiply-shift with rejection). The references of a sequence therefore
depend only on ``seed`` and the sequence itself, never on its position in the
input, the batch size, chunking or sharding: ``dinucleotide_shuffle(x[a:b], n, seed)``
equals ``dinucleotide_shuffle(x, n, seed)[a:b]``, and the first ``m``
shuffles of ``dinucleotide_shuffle(x, n, seed)`` are those of
``dinucleotide_shuffle(x, m, seed)``. Two identical sequences in one input get
identical shuffles; this is intended (a sequence's references, and hence its
scores, do not depend on what else was scored with it).

Performance
-----------
One-hot rows are turned into symbol codes, and the shuffles written straight
into the one-hot output, by numba kernels (compiled once, cached on disk).
Each walk step costs one random draw and a branch-free choice of successor.
The kernels run on one thread: that alone is tens of millions of shuffled
bases per second (see ``seqlift bench shuffle``), far from the bottleneck
next to a model, and unlike a multi-threaded kernel it does not slow down
when the cores are shared.

References
----------
Altschul, S. F. & Erickson, B. W. (1985). Significance of nucleotide sequence
alignments: a method for random sequence permutation that preserves
dinucleotide and codon usage. Mol. Biol. Evol. 2(6), 526-538.

Kandel, D., Matias, Y., Unger, R. & Winkler, P. (1996). Shuffling biological
sequences. Discrete Applied Mathematics 71, 171-185.

Wilson, D. B. (1996). Generating random spanning trees more quickly than the
cover time. Proc. 28th ACM STOC, 296-303.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from seqlift.errors import SeqliftError
from seqlift.inputs import check_positive_int

__all__ = ["dinucleotide_shuffle", "one_hot_to_codes"]

#: number of symbols: A, C, G, T and N (an all-zero row)
N_SYMBOLS = 5
#: the code of an all-zero (N) row
N_CODE = 4

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX_1 = _U64(0xBF58476D1CE4E5B9)
_MIX_2 = _U64(0x94D049BB133111EB)
_FNV_OFFSET = _U64(0xCBF29CE484222325)
_FNV_PRIME = _U64(0x100000001B3)
_MASK_32 = _U64(0xFFFFFFFF)
_TWO_32 = _U64(1 << 32)
_S27 = _U64(27)
_S30 = _U64(30)
_S31 = _U64(31)
_S32 = _U64(32)


# --------------------------------------------------------------------------
# random numbers: SplitMix64 (Steele, Lea & Flood 2014), state in a 1-array
# --------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _mix64(z):
    """SplitMix64 finaliser: a bijective 64-bit mixing function."""
    z = (z ^ (z >> _S30)) * _MIX_1
    z = (z ^ (z >> _S27)) * _MIX_2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def _next_u32(state):
    """Advance the SplitMix64 state and return 32 random bits (as uint64)."""
    state[0] += _GOLDEN
    return _mix64(state[0]) >> _S32


@njit(cache=True, inline="always")
def _uniform_below(state, bound):
    """Exactly uniform integer in ``[0, bound)``, ``1 <= bound < 2**32``.

    Lemire's multiply-and-shift with rejection of the biased low products.
    """
    bound = _U64(bound)
    product = _next_u32(state) * bound
    low = product & _MASK_32
    if low < bound:
        threshold = (_TWO_32 - bound) % bound
        while low < threshold:
            product = _next_u32(state) * bound
            low = product & _MASK_32
    return np.int64(product >> _S32)


@njit(cache=True, inline="always")
def _pick(weights, row, draw):
    """The symbol ``w`` such that ``draw`` falls in its share of ``weights[row]``."""
    for symbol in range(N_SYMBOLS - 1):
        draw -= weights[row, symbol]
        if draw < 0:
            return symbol
    return N_SYMBOLS - 1


# --------------------------------------------------------------------------
# one-hot -> symbol codes, with validation
# --------------------------------------------------------------------------
@njit(cache=True)
def _codes_kernel(x, codes):
    """Fill ``codes`` (N, L) from one-hot ``x`` (N, L, 4); return the first bad row.

    Returns ``-1`` when every row is one-hot or all-zero, else the flat index
    ``i * L + j`` of the first row that is neither.
    """
    n_seqs, length = codes.shape
    for i in range(n_seqs):
        for j in range(length):
            code = N_CODE
            ones = 0
            for c in range(4):
                value = x[i, j, c]
                if value == 1:
                    ones += 1
                    code = c
                elif value != 0:
                    return i * length + j
            if ones > 1:
                return i * length + j
            codes[i, j] = code
    return -1


def _as_kernel_input(x: np.ndarray) -> np.ndarray:
    """A C-contiguous view or copy of ``x`` in a dtype the kernels compile for."""
    if x.dtype == np.bool_:
        return np.ascontiguousarray(x).view(np.uint8)
    if x.dtype.kind in "iu" or x.dtype in (np.float32, np.float64):
        return np.ascontiguousarray(x)
    if x.dtype.kind == "f":  # float16, longdouble
        return np.ascontiguousarray(x, dtype=np.float64)
    raise SeqliftError(f"one-hot input must be numeric or boolean, not dtype {x.dtype}")


def one_hot_to_codes(x: np.ndarray) -> np.ndarray:
    """Symbol codes of one-hot sequences.

    Parameters
    ----------
    x : np.ndarray
        One-hot sequences, shape (N, L, 4) with columns A, C, G, T. Every row
        must be one-hot or all zero.

    Returns
    -------
    np.ndarray
        uint8 codes, shape (N, L): 0-3 for A, C, G, T and 4 for an all-zero
        (N) row.

    Raises
    ------
    SeqliftError
        If ``x`` has the wrong shape or a row is neither one-hot nor all zero.
    """
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[-1] != 4:
        raise SeqliftError(f"one-hot sequences must have shape (N, L, 4), not {x.shape}")
    codes = np.empty(x.shape[:2], dtype=np.uint8)
    bad = _codes_kernel(_as_kernel_input(x), codes)
    if bad >= 0:
        seq, position = divmod(int(bad), x.shape[1])
        raise SeqliftError(
            f"sequence {seq}, position {position} is neither one-hot nor all zero: "
            f"{x[seq, position].tolist()}"
        )
    return codes


# --------------------------------------------------------------------------
# the shuffle
# --------------------------------------------------------------------------
@njit(cache=True)
def _prepare_kernel(codes, seed_key, counts, stream_keys):
    """Per sequence: dinucleotide counts (N, 5, 5) and stream key (N,)."""
    n_seqs, length = codes.shape
    for i in range(n_seqs):
        digest = _FNV_OFFSET ^ _mix64(_U64(length))
        for j in range(length):
            digest = (digest ^ _U64(codes[i, j])) * _FNV_PRIME
        for a in range(N_SYMBOLS):
            for b in range(N_SYMBOLS):
                counts[i, a, b] = 0
        for j in range(length - 1):
            counts[i, codes[i, j], codes[i, j + 1]] += 1
        stream_keys[i] = _mix64(_mix64(digest) ^ seed_key)


@njit(cache=True)
def _shuffle_kernel(codes, counts, stream_keys, n_shuffles, one_hot_rows, out):
    """Write ``n_shuffles`` uniform dinucleotide shuffles of each row of ``codes``.

    ``out`` has shape (N, n_shuffles, L, 4); ``one_hot_rows`` (5, 4) holds the
    output row of each symbol in the output dtype. Returns the number of
    shuffles whose walk got stuck (always 0 unless the algorithm is broken).
    """
    n_seqs, length = codes.shape
    stuck = 0
    # scratch, reset for every shuffle
    state = np.empty(1, dtype=np.uint64)
    remaining = np.empty((N_SYMBOLS, N_SYMBOLS), dtype=np.int64)  # unused non-last edges
    out_degree = np.empty(N_SYMBOLS, dtype=np.int64)
    last_exit = np.empty(N_SYMBOLS, dtype=np.int64)
    in_tree = np.empty(N_SYMBOLS, dtype=np.bool_)
    left = np.empty(N_SYMBOLS, dtype=np.int64)
    upper = np.empty((N_SYMBOLS, 4), dtype=np.int64)
    for task in range(n_seqs * n_shuffles):
        i = task // n_shuffles
        k = task - i * n_shuffles
        first = np.int64(codes[i, 0])
        final = np.int64(codes[i, length - 1])
        # a random-looking start per shuffle: consecutive starts would give
        # overlapping SplitMix64 streams (it steps its state by the same constant)
        state[0] = _mix64(stream_keys[i] ^ _mix64((_U64(k) + _U64(1)) * _GOLDEN))

        for a in range(N_SYMBOLS):
            out_degree[a] = 0
            for b in range(N_SYMBOLS):
                remaining[a, b] = counts[i, a, b]
                out_degree[a] += counts[i, a, b]

        # 1. last exits: Wilson's loop-erased random walk towards `final`
        last_exit[:] = -1
        in_tree[:] = False
        in_tree[final] = True
        for start in range(N_SYMBOLS):
            if in_tree[start] or out_degree[start] == 0:
                continue
            vertex = start
            while not in_tree[vertex]:
                draw = _uniform_below(state, out_degree[vertex])
                last_exit[vertex] = _pick(remaining, vertex, draw)
                vertex = last_exit[vertex]
            vertex = start
            while not in_tree[vertex]:
                in_tree[vertex] = True
                vertex = last_exit[vertex]
        left[:] = out_degree
        for vertex in range(N_SYMBOLS):
            if last_exit[vertex] >= 0:
                remaining[vertex, last_exit[vertex]] -= 1
                left[vertex] -= 1
        # upper[v, s]: unused non-last edges from v to symbols <= s, so that a
        # draw in [0, left[v]) picks its successor without branches
        for vertex in range(N_SYMBOLS):
            total = 0
            for symbol in range(4):
                total += remaining[vertex, symbol]
                upper[vertex, symbol] = total

        # 2 + 3. walk, leaving each vertex by a uniformly random unused non-last
        # edge while it has one, then by its last exit
        vertex = first
        for c in range(4):
            out[i, k, 0, c] = one_hot_rows[vertex, c]
        for position in range(1, length):
            if left[vertex] > 0:
                draw = _uniform_below(state, left[vertex])
                successor = (
                    np.int64(draw >= upper[vertex, 0])
                    + np.int64(draw >= upper[vertex, 1])
                    + np.int64(draw >= upper[vertex, 2])
                    + np.int64(draw >= upper[vertex, 3])
                )
                for symbol in range(4):
                    upper[vertex, symbol] -= np.int64(symbol >= successor)
                left[vertex] -= 1
            else:
                successor = last_exit[vertex]
                last_exit[vertex] = -1
                if successor < 0:
                    stuck += 1
                    break
            vertex = successor
            for c in range(4):
                out[i, k, position, c] = one_hot_rows[vertex, c]
    return stuck


def _seed_key(seed: int) -> np.uint64:
    """Mix the user's integer seed into a 64-bit key."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise SeqliftError(f"seed must be an integer, not {seed!r}")
    value = (int(seed) % (1 << 64) + 0x9E3779B97F4A7C15) % (1 << 64)
    value ^= value >> 30
    value = (value * 0xBF58476D1CE4E5B9) % (1 << 64)
    value ^= value >> 27
    value = (value * 0x94D049BB133111EB) % (1 << 64)
    value ^= value >> 31
    return np.uint64(value)


def _kernel_output(out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The array the shuffle kernel writes for ``out``, and its (5, 4) one-hot rows.

    That is ``out`` itself, or a uint8 view of a boolean ``out``, or, for
    float dtypes numba does not compile (float16), a float64 scratch array
    that the caller copies into ``out``.
    """
    if out.dtype == np.bool_:
        kernel_out = out.view(np.uint8)
    elif out.dtype.kind in "iu" or out.dtype in (np.float32, np.float64):
        kernel_out = out
    else:
        kernel_out = np.empty(out.shape, dtype=np.float64)
    return kernel_out, np.eye(N_SYMBOLS, 4, dtype=kernel_out.dtype)


def dinucleotide_shuffle(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Uniformly random dinucleotide shuffles of one-hot sequences.

    Every shuffle has the first symbol (and so the last symbol) and exactly
    the dinucleotide counts of its sequence, and is drawn uniformly among all
    sequences that do (Altschul & Erickson 1985; Kandel et al. 1996; see the
    module docstring for the algorithm). An all-zero row is an ``N``, a fifth
    symbol that is shuffled like a base.

    Parameters
    ----------
    x : np.ndarray
        One-hot sequences, shape (N, L, 4), or one sequence, shape (L, 4);
        columns A, C, G, T. Rows must be one-hot or all zero.
    n : int
        Shuffles per sequence, at least 1.
    seed : int, default 0
        Seed. Each sequence's shuffles depend only on ``seed`` and the
        sequence itself (through a hash of its symbols), so slicing or
        chunking the input never changes them and identical sequences get
        identical shuffles.

    Returns
    -------
    np.ndarray
        Shape (N, n, L, 4), or (n, L, 4) for a single sequence, in the dtype of
        ``x``.

    Raises
    ------
    SeqliftError
        If ``x`` has the wrong shape or dtype, a row is neither one-hot nor all
        zero, or ``n`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 1]]
    >>> dinucleotide_shuffle(x, 3, seed=1).shape
    (3, 6, 4)
    """
    n = check_positive_int(n, "the number of shuffles")
    seed_key = _seed_key(seed)
    x = np.asarray(x)
    single = x.ndim == 2
    if single:
        x = x[np.newaxis]
    if x.ndim != 3 or x.shape[-1] != 4:
        raise SeqliftError(
            f"sequences to shuffle must have shape (N, L, 4) or (L, 4), not {x.shape[1:] if single else x.shape}"
        )
    n_seqs, length = x.shape[:2]
    if length >= 1 << 32:
        raise SeqliftError(f"sequences of length {length} are too long to shuffle")
    codes = one_hot_to_codes(x)
    out = np.empty((n_seqs, n, length, 4), dtype=x.dtype)
    if n_seqs and length:
        counts = np.empty((n_seqs, N_SYMBOLS, N_SYMBOLS), dtype=np.int64)
        stream_keys = np.empty(n_seqs, dtype=np.uint64)
        _prepare_kernel(codes, seed_key, counts, stream_keys)
        kernel_out, one_hot_rows = _kernel_output(out)
        stuck = _shuffle_kernel(codes, counts, stream_keys, n, one_hot_rows, kernel_out)
        if stuck:  # pragma: no cover - would mean the last exits were not a tree
            raise RuntimeError(f"dinucleotide shuffle: {stuck} walks got stuck")
        if kernel_out.base is not out and kernel_out is not out:
            out[...] = kernel_out
    return out[0] if single else out
