"""Tests of seqlift.sequences.shuffle: counts, uniformity, determinism, errors."""
from __future__ import annotations

import importlib
import random

import numpy as np
import pytest
from scipy.stats import chisquare

from seqlift.errors import SeqliftError
from seqlift.sequences.shuffle import dinucleotide_shuffle, one_hot_to_codes

ALPHABET = "ACGTN"
ONE_HOT_ROWS = np.eye(5, 4, dtype=np.float32)  # row 4: all zero (N)


def encode(text: str, dtype=np.float32) -> np.ndarray:
    return ONE_HOT_ROWS[[ALPHABET.index(ch) for ch in text]].astype(dtype)


def codes_of(one_hot: np.ndarray) -> np.ndarray:
    """Symbol codes 0-4 of one-hot arrays of any leading shape."""
    return np.where(one_hot.any(-1), one_hot.argmax(-1), 4)


def dinucleotide_counts(codes: np.ndarray) -> np.ndarray:
    counts = np.zeros((5, 5), dtype=int)
    np.add.at(counts, (codes[:-1], codes[1:]), 1)
    return counts


def all_shuffles(text: str) -> list[tuple[int, ...]]:
    """Every sequence with the first symbol and dinucleotide counts of ``text``."""
    codes = [ALPHABET.index(ch) for ch in text]
    counts = dinucleotide_counts(np.array(codes))
    found: list[tuple[int, ...]] = []
    path = [codes[0]]

    def extend(vertex: int) -> None:
        if len(path) == len(codes):
            found.append(tuple(path))
            return
        for successor in range(5):
            if counts[vertex, successor]:
                counts[vertex, successor] -= 1
                path.append(successor)
                extend(successor)
                path.pop()
                counts[vertex, successor] += 1

    extend(codes[0])
    return found


def uniformity_pvalue(text: str, samples: list[tuple[int, ...]]) -> float:
    """Chi-square p-value of ``samples`` against the uniform law on all shuffles."""
    index = {seq: i for i, seq in enumerate(all_shuffles(text))}
    observed = np.bincount([index[s] for s in samples], minlength=len(index))
    return float(chisquare(observed).pvalue)


def unweighted_tree_shuffles(text: str, n: int, seed: int) -> list[tuple[int, ...]]:
    """A deliberately biased sampler: the plausible bug of drawing the tree of
    last exits uniformly over *distinct* successors, ignoring multiplicities."""
    rng = random.Random(seed)
    codes = [ALPHABET.index(ch) for ch in text]
    counts = dinucleotide_counts(np.array(codes)).tolist()
    final = codes[-1]
    vertices = [v for v in range(5) if v != final and sum(counts[v])]
    successors = {v: [w for w in range(5) if counts[v][w]] for v in vertices}
    samples = []
    while len(samples) < n:
        last = {v: rng.choice(successors[v]) for v in vertices}
        if not all(_reaches(v, last, final) for v in vertices):
            continue
        remaining = [row[:] for row in counts]
        for v in vertices:
            remaining[v][last[v]] -= 1
        vertex, seq = codes[0], [codes[0]]
        for _ in range(len(codes) - 1):
            pool = [w for w in range(5) for _ in range(remaining[vertex][w])]
            if pool:
                successor = rng.choice(pool)
                remaining[vertex][successor] -= 1
            else:
                successor = last[vertex]
            seq.append(successor)
            vertex = successor
        samples.append(tuple(seq))
    return samples


def _reaches(vertex: int, last: dict[int, int], final: int) -> bool:
    for _ in range(len(last) + 1):
        if vertex == final:
            return True
        vertex = last[vertex]
    return vertex == final


# sequences with a few hundred distinct shuffles; 30k draws give >100 per cell
UNIFORMITY_CASES = ["AACAGTTACGAT", "AACGANNAGCTTNAC"]
DRAWS = 30_000


# ---------------------------------------------------------------- shapes
def test_shapes_and_dtype():
    x = encode("ACGTTGCAAN")[np.newaxis].repeat(3, axis=0)
    out = dinucleotide_shuffle(x, 4, seed=2)
    assert out.shape == (3, 4, 10, 4) and out.dtype == np.float32
    single = dinucleotide_shuffle(x[0], 4, seed=2)
    assert single.shape == (4, 10, 4)
    np.testing.assert_array_equal(single, out[0])


@pytest.mark.parametrize("dtype", [np.float64, np.bool_, np.float16])
def test_other_dtypes_give_same_shuffles(dtype):
    x = encode("ACGTTGCANNAGGCTA")[np.newaxis]
    reference = dinucleotide_shuffle(x, 5, seed=3)
    out = dinucleotide_shuffle(x.astype(dtype), 5, seed=3)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.astype(np.float32), reference)


def test_degenerate_lengths():
    assert dinucleotide_shuffle(np.zeros((2, 0, 4)), 3).shape == (2, 3, 0, 4)
    assert dinucleotide_shuffle(np.zeros((0, 7, 4)), 3).shape == (0, 3, 7, 4)
    one = encode("G")[np.newaxis]
    np.testing.assert_array_equal(dinucleotide_shuffle(one, 2)[0], np.stack([one[0]] * 2))
    for fixed in ["NNNNNN", "AAAAA", "AC"]:
        x = encode(fixed)
        np.testing.assert_array_equal(dinucleotide_shuffle(x, 3), np.stack([x] * 3))


# ---------------------------------------------------------------- counts
@pytest.mark.parametrize("length", [2, 3, 5, 50, 1000])
def test_exact_dinucleotide_counts_first_and_last_symbol(length):
    rng = np.random.default_rng(length)
    codes = rng.choice(5, size=(40, length), p=[0.24, 0.24, 0.24, 0.24, 0.04])
    codes[:5, : length // 2] = 4  # runs of N
    codes[5] = 4  # an all-N sequence
    x = ONE_HOT_ROWS[codes]
    shuffled = codes_of(dinucleotide_shuffle(x, 7, seed=11))
    for i in range(len(codes)):
        expected = dinucleotide_counts(codes[i])
        for k in range(7):
            np.testing.assert_array_equal(dinucleotide_counts(shuffled[i, k]), expected)
        assert (shuffled[i, :, 0] == codes[i, 0]).all()
        assert (shuffled[i, :, -1] == codes[i, -1]).all()


def test_output_rows_are_one_hot_or_zero():
    x = ONE_HOT_ROWS[np.random.default_rng(0).integers(0, 5, size=(8, 300))]
    out = dinucleotide_shuffle(x, 3)
    assert set(np.unique(out).tolist()) <= {0.0, 1.0}
    assert (out.sum(-1) <= 1).all()


def test_long_sequences_are_actually_shuffled():
    x = ONE_HOT_ROWS[np.random.default_rng(1).integers(0, 4, size=(4, 1000))]
    out = dinucleotide_shuffle(x, 5)
    same_position = (codes_of(out) == codes_of(x)[:, np.newaxis]).mean()
    assert 0.15 < same_position < 0.4  # about 1/4 for random sequence
    assert len({codes_of(out[0, k]).tobytes() for k in range(5)}) == 5


# ---------------------------------------------------------------- uniformity
@pytest.mark.parametrize("text", UNIFORMITY_CASES)
def test_uniform_over_all_shuffles(text):
    samples = codes_of(dinucleotide_shuffle(encode(text), DRAWS, seed=20240601))
    p_value = uniformity_pvalue(text, [tuple(s) for s in samples.tolist()])
    assert p_value > 1e-3, p_value


def test_uniformity_across_seeds_one_draw_each():
    """Uniformity also holds when each draw is the first shuffle of its own seed."""
    text = UNIFORMITY_CASES[0]
    x = encode(text)
    samples = [tuple(codes_of(dinucleotide_shuffle(x, 1, seed=seed))[0].tolist()) for seed in range(6000)]
    # 6,000 draws over 192 cells: about 31 per cell
    assert uniformity_pvalue(text, samples) > 1e-3


def test_uniformity_test_detects_a_biased_sampler():
    text = UNIFORMITY_CASES[0]
    samples = unweighted_tree_shuffles(text, DRAWS, seed=5)
    assert uniformity_pvalue(text, samples) < 1e-6


@pytest.mark.parametrize("text", UNIFORMITY_CASES)
def test_uniformity_test_detects_deeplift_dinuc_shuffle(text):
    try:
        deeplift_shuffle = importlib.import_module("deeplift.dinuc_shuffle")
    except ImportError as err:  # pragma: no cover - deeplift is a dev dependency
        pytest.skip(f"deeplift not importable: {err}")
    draws = deeplift_shuffle.dinuc_shuffle(encode(text), DRAWS, np.random.RandomState(0))
    samples = [tuple(s) for s in codes_of(draws).tolist()]
    assert uniformity_pvalue(text, samples) < 1e-6


# ---------------------------------------------------------------- determinism
def test_chunking_and_slicing_do_not_change_shuffles():
    x = ONE_HOT_ROWS[np.random.default_rng(3).integers(0, 5, size=(30, 120))]
    whole = dinucleotide_shuffle(x, 6, seed=9)
    for a, b in [(0, 1), (3, 17), (29, 30), (0, 30)]:
        np.testing.assert_array_equal(dinucleotide_shuffle(x[a:b], 6, seed=9), whole[a:b])
    order = np.random.default_rng(4).permutation(30)
    np.testing.assert_array_equal(dinucleotide_shuffle(x[order], 6, seed=9), whole[order])
    np.testing.assert_array_equal(dinucleotide_shuffle(x[::-1].copy(), 6, seed=9), whole[::-1])


def test_fewer_shuffles_are_a_prefix():
    x = ONE_HOT_ROWS[np.random.default_rng(5).integers(0, 4, size=(5, 200))]
    np.testing.assert_array_equal(dinucleotide_shuffle(x, 3, seed=1), dinucleotide_shuffle(x, 8, seed=1)[:, :3])


def test_seed_matters_and_identical_sequences_share_shuffles():
    x = encode("ACGTAGGCTTACGATCGATCGGATCCAGTACGTA")
    both = dinucleotide_shuffle(np.stack([x, x]), 4, seed=0)
    np.testing.assert_array_equal(both[0], both[1])  # intended: depends on the sequence only
    np.testing.assert_array_equal(both[0], dinucleotide_shuffle(x, 4, seed=0))
    assert not np.array_equal(both[0], dinucleotide_shuffle(x, 4, seed=1))
    # seeds are taken modulo 2**64; numpy integers are accepted
    np.testing.assert_array_equal(dinucleotide_shuffle(x, 4, seed=2**64 + 5), dinucleotide_shuffle(x, 4, seed=np.int64(5)))
    assert not np.array_equal(dinucleotide_shuffle(x, 4, seed=-1), both[0])


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "bad_row",
    [[0.5, 0, 0, 0], [1, 1, 0, 0], [np.nan, 0, 0, 0], [0, 0, 2, 0], [-1, 0, 0, 0]],
)
def test_rows_neither_one_hot_nor_zero_are_rejected(bad_row):
    x = encode("ACGTACGT")[np.newaxis].repeat(2, axis=0)
    x[1, 5] = bad_row
    with pytest.raises(SeqliftError, match="sequence 1, position 5"):
        dinucleotide_shuffle(x, 2)


@pytest.mark.parametrize(
    "x, n, seed, match",
    [
        (np.zeros((2, 5, 3)), 2, 0, "shape"),
        (np.zeros(5), 2, 0, "shape"),
        (np.zeros((1, 2, 5, 4)), 2, 0, "shape"),
        (np.array([["A", "C", "G", "T"]]), 2, 0, "dtype"),
        (np.zeros((1, 5, 4)), 0, 0, "positive integer"),
        (np.zeros((1, 5, 4)), 2.0, 0, "positive integer"),
        (np.zeros((1, 5, 4)), True, 0, "positive integer"),
        (np.zeros((1, 5, 4)), 2, 1.5, "seed"),
        (np.zeros((1, 5, 4)), 2, "1", "seed"),
    ],
)
def test_bad_arguments(x, n, seed, match):
    with pytest.raises(SeqliftError, match=match):
        dinucleotide_shuffle(x, n, seed=seed)


def test_one_hot_to_codes():
    np.testing.assert_array_equal(one_hot_to_codes(encode("ACGTN")[np.newaxis]), [[0, 1, 2, 3, 4]])
    with pytest.raises(SeqliftError, match="shape"):
        one_hot_to_codes(np.zeros((5, 4)))


# ---------------------------------------------------------------- benchmark
def test_bench_command_runs_the_shuffle_suite(capsys):
    from seqlift.bench import shuffle_bench
    from seqlift.cli import main
    from seqlift.commands.bench_cmd import SUITES

    assert SUITES["shuffle"] == "seqlift.bench.shuffle_bench"
    rows = shuffle_bench.measure(quick=True)
    assert rows[0]["implementation"].startswith("seqlift") and rows[0]["bases_per_s"] > 0
    # deeplift and tangermeme each measured, or a row saying why it was skipped
    assert [r["implementation"] for r in rows] == [shuffle_bench.SEQLIFT, shuffle_bench.TANGERMEME,
                                                   shuffle_bench.DEEPLIFT]
    table = shuffle_bench.format_table(rows)
    assert "seqlift dinucleotide_shuffle" in table and "deeplift" in table and "tangermeme" in table
    assert main(["bench", "no-such-suite"]) == 1
    assert "unknown suite 'no-such-suite'" in capsys.readouterr().err
