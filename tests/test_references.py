"""Tests of seqlift.references: generators, resolve, select_rows, errors."""
from __future__ import annotations

import numpy as np
import pytest

from seqlift import references
from seqlift.errors import SeqliftError
from seqlift.sequences.shuffle import dinucleotide_shuffle

ONE_HOT_ROWS = np.eye(5, 4, dtype=np.float32)  # row 4: N


def random_inputs(n_seqs: int = 6, length: int = 40, seed: int = 0) -> np.ndarray:
    codes = np.random.default_rng(seed).choice(5, size=(n_seqs, length), p=[0.23] * 4 + [0.08])
    return ONE_HOT_ROWS[codes]


def test_shuffled_generator_matches_dinucleotide_shuffle():
    x = random_inputs()
    refs = references.shuffled(5)(x, 3)
    assert refs.shape == (6, 5, 40, 4) and refs.dtype == np.float32
    np.testing.assert_array_equal(refs, dinucleotide_shuffle(x, 5, seed=3))
    assert repr(references.shuffled(5)) == "shuffled(5)"


def test_shuffled_of_boolean_inputs_is_float32():
    x = random_inputs().astype(bool)
    refs = references.shuffled(2)(x, 0)
    assert refs.dtype == np.float32
    np.testing.assert_array_equal(refs, dinucleotide_shuffle(x.astype(np.float32), 2, seed=0))


def test_zeros():
    x = random_inputs()
    assert references.zeros()(x, 0).shape == (6, 1, 40, 4)
    refs = references.zeros(3)(x, 0)
    assert refs.shape == (6, 3, 40, 4) and refs.dtype == np.float32 and not refs.any()


def test_flat():
    x = random_inputs(length=7)
    refs = references.flat()(x, 0)
    assert refs.shape == (6, 1, 7, 4) and refs.dtype == np.float32
    np.testing.assert_allclose(refs[3, 0, 5], [0.3, 0.2, 0.2, 0.3])
    refs = references.flat([0.25] * 4)(x, 0)
    np.testing.assert_allclose(refs, 0.25)
    references.flat((0.1, 0.2, 0.3, 0.4 + 5e-7))  # within tolerance


@pytest.mark.parametrize(
    "frequencies, match",
    [
        ((0.5, 0.5, 0.5, -0.5), "non-negative"),
        ((0.3, 0.2, 0.2), "4 numbers"),
        ((0.3, 0.2, 0.2, 0.2), "sum to 1"),
        ((0.1, 0.2, 0.3, 0.4 + 1e-5), "sum to 1"),
        ((float("nan"), 0.5, 0.25, 0.25), "finite"),
        (("a", "c", "g", "t"), "4 numbers"),
        (0.25, "4 numbers"),
    ],
)
def test_flat_rejects_bad_frequencies(frequencies, match):
    with pytest.raises(SeqliftError, match=match):
        references.flat(frequencies)


def test_measured_excludes_n_positions():
    text = "AACGNNNT"  # 5 called bases: A 2, C 1, G 1, T 1
    codes = ["ACGTN".index(ch) for ch in text]
    x = ONE_HOT_ROWS[[codes, [4] * 8]]  # second sequence all N
    refs = references.measured()(x, 0)
    assert refs.shape == (2, 1, 8, 4) and refs.dtype == np.float32
    expected = np.array([2, 1, 1, 1]) / 5
    np.testing.assert_allclose(refs[0, 0], np.tile(expected, (8, 1)), rtol=1e-6)
    assert not refs[1].any()  # an all-N sequence has no composition


def test_given_shared_and_per_sequence():
    x = random_inputs(n_seqs=4, length=9)
    shared = np.random.default_rng(1).random((3, 9, 4))
    refs = references.given(shared)(x, 0)
    assert refs.shape == (4, 3, 9, 4) and refs.dtype == np.float32
    np.testing.assert_allclose(refs[2], shared.astype(np.float32))
    per_sequence = np.random.default_rng(2).random((4, 2, 9, 4)).astype(np.float32)
    np.testing.assert_array_equal(references.given(per_sequence)(x, 0), per_sequence)


@pytest.mark.parametrize(
    "array, match",
    [
        (np.zeros((9, 4)), "shape"),
        (np.zeros((2, 9, 5)), "shape"),
        (np.zeros((1, 2, 3, 9, 4)), "shape"),
        (np.zeros((0, 9, 4)), "S = 0"),
        (np.full((1, 9, 4), np.nan), "NaN"),
        (np.array([[["a"] * 4] * 9]), "numeric"),
    ],
)
def test_given_rejects_bad_arrays(array, match):
    with pytest.raises(SeqliftError, match=match):
        references.given(array)


def test_given_rejects_mismatched_inputs():
    x = random_inputs(n_seqs=4, length=9)
    with pytest.raises(SeqliftError, match="length 10 but the inputs have length 9"):
        references.given(np.zeros((2, 10, 4)))(x, 0)
    with pytest.raises(SeqliftError, match="for 5 sequences but there are 4 inputs.*select_rows"):
        references.given(np.zeros((5, 2, 9, 4)))(x, 0)


def test_resolve_int_array_and_generator():
    x = random_inputs(n_seqs=5, length=30)
    np.testing.assert_array_equal(references.resolve(4, x, seed=7), dinucleotide_shuffle(x, 4, seed=7))
    np.testing.assert_array_equal(references.resolve(np.int64(2), x, seed=7), dinucleotide_shuffle(x, 2, seed=7))
    single = np.random.default_rng(0).random((30, 4))
    out = references.resolve(single, x)
    assert out.shape == (5, 1, 30, 4) and out.dtype == np.float32
    assert references.resolve(np.zeros((3, 30, 4)), x).shape == (5, 3, 30, 4)
    assert references.resolve(np.zeros((5, 2, 30, 4)), x).shape == (5, 2, 30, 4)
    assert references.resolve(references.measured(), x).shape == (5, 1, 30, 4)

    def doubled_zeros(inputs: np.ndarray, seed: int) -> np.ndarray:
        return np.zeros((len(inputs), 2) + inputs.shape[1:], dtype=np.float64)

    out = references.resolve(doubled_zeros, x, seed=1)
    assert out.shape == (5, 2, 30, 4) and out.dtype == np.float32 and out.flags.c_contiguous


def test_resolve_passes_the_seed():
    x = random_inputs()
    seen = []

    def spy(inputs: np.ndarray, seed: int) -> np.ndarray:
        seen.append(seed)
        return references.zeros()(inputs, seed)

    references.resolve(spy, x, seed=42)
    assert seen == [42]


@pytest.mark.parametrize(
    "refs, match",
    [
        (0, "positive integer"),
        (-3, "positive integer"),
        (True, "not True"),
        (2.5, "not float"),
        ("shuffle", "not str"),
        (None, "not NoneType"),
        ((0.3, 0.2, 0.2, 0.3), "references.flat"),
        (np.zeros((2, 30, 5)), "shape"),
        (np.zeros((2, 31, 4)), "length 31"),
        (np.zeros((4, 2, 30, 4)), "for 4 sequences but there are 6"),
        (np.full((30, 4), np.inf), "infinite"),
        (lambda inputs, seed: [0.0], "returned list"),
        (lambda inputs, seed: np.zeros((6, 30, 4)), r"returned shape \(6, 30, 4\)"),
        (lambda inputs, seed: np.zeros((6, 0, 30, 4)), "S >= 1"),
        (lambda inputs, seed: np.zeros((5, 1, 30, 4)), r"expected \(6, S, 30, 4\)"),
        (lambda inputs, seed: np.full((6, 1, 30, 4), np.nan), "NaN"),
    ],
)
def test_resolve_errors(refs, match):
    x = random_inputs(n_seqs=6, length=30)
    with pytest.raises(SeqliftError, match=match):
        references.resolve(refs, x)


def test_resolve_rejects_bad_inputs():
    with pytest.raises(SeqliftError, match=r"\(N, L, 4\)"):
        references.resolve(2, np.zeros((30, 4)))
    with pytest.raises(SeqliftError, match="neither one-hot nor all zero"):
        references.resolve(2, np.full((1, 30, 4), 0.25))


@pytest.mark.parametrize(
    "refs",
    [
        3,
        references.shuffled(2),
        references.zeros(2),
        references.flat(),
        references.measured(),
        np.random.default_rng(3).random((2, 50, 4)),
        np.random.default_rng(4).random((11, 2, 50, 4)),
        references.given(np.random.default_rng(5).random((11, 3, 50, 4))),
        references.given(np.random.default_rng(6).random((3, 50, 4))),
    ],
    ids=repr,
)
def test_chunked_resolution_equals_whole(refs):
    x = random_inputs(n_seqs=11, length=50, seed=9)
    whole = references.resolve(refs, x, seed=5)
    chunks = [
        references.resolve(references.select_rows(refs, a, min(a + 4, 11)), x[a : a + 4], seed=5)
        for a in range(0, 11, 4)
    ]
    np.testing.assert_array_equal(np.concatenate(chunks), whole)


def test_lazy_export():
    import seqlift

    assert seqlift.references is references
    assert seqlift.dinucleotide_shuffle is dinucleotide_shuffle
