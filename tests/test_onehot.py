"""One-hot encoding, decoding and reverse complements (seqlift.sequences.onehot)."""
from __future__ import annotations

import numpy as np
import pytest

from seqlift.errors import SeqliftError
from seqlift.sequences.onehot import decode, one_hot, reverse_complement

IUPAC_AMBIGUITY = "NRYKMSWBDHVnrykmswbdhv"


def test_single_sequence_shape_dtype_and_column_order():
    x = one_hot("ACGT")
    assert x.shape == (4, 4)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, np.eye(4, dtype=np.float32))


def test_batch_shape():
    x = one_hot(["ACGTA", "TTTTT", "GGCCA"])
    assert x.shape == (3, 5, 4)
    np.testing.assert_array_equal(x[1], np.tile([0, 0, 0, 1], (5, 1)))
    np.testing.assert_array_equal(x[2, 3], [0, 1, 0, 0])
    np.testing.assert_array_equal(x[2, 4], [1, 0, 0, 0])


def test_tuple_and_generator_batches_are_accepted():
    np.testing.assert_array_equal(one_hot(("AC", "GT")), one_hot(s for s in ["AC", "GT"]))


def test_empty_inputs():
    assert one_hot("").shape == (0, 4)
    assert one_hot([]).shape == (0, 0, 4)


@pytest.mark.parametrize("dtype", [np.uint8, np.float16, np.float64])
def test_dtype_argument(dtype):
    x = one_hot(["ACGTN", "acgtn"], dtype=dtype)
    assert x.dtype == dtype
    np.testing.assert_array_equal(x.astype(np.float32), one_hot(["ACGTN", "ACGTN"]))


def test_soft_masked_lowercase_equals_uppercase():
    np.testing.assert_array_equal(one_hot("acgtACGTaCgT"), one_hot("ACGTACGTACGT"))


@pytest.mark.parametrize("code", list(IUPAC_AMBIGUITY))
def test_n_and_iupac_codes_are_all_zero_rows(code):
    x = one_hot(f"A{code}T")
    np.testing.assert_array_equal(x[1], [0, 0, 0, 0])
    np.testing.assert_array_equal(x[0], [1, 0, 0, 0])
    np.testing.assert_array_equal(x[2], [0, 0, 0, 1])


@pytest.mark.parametrize("character", ["-", ".", "U", "X", "1", " ", "\u00e9", "\u2603"])
def test_other_characters_are_zero_rows_and_keep_the_length(character):
    x = one_hot(f"C{character}G")
    assert x.shape == (3, 4)
    assert x[1].sum() == 0
    assert x[0, 1] == 1 and x[2, 2] == 1


def test_bytes_input():
    np.testing.assert_array_equal(one_hot(b"ACgN"), one_hot("ACGN"))


def test_every_byte_value_maps_to_at_most_one_column():
    every_byte = bytes(range(256))
    x = one_hot(every_byte)
    assert x.shape == (256, 4)
    assert set(np.flatnonzero(x.sum(axis=1))) == {ord(c) for c in "ACGTacgt"}
    assert x.sum(axis=1).max() == 1


def test_unequal_lengths_name_the_first_differing_index():
    with pytest.raises(SeqliftError, match=r"sequence 2 has length 3 but sequence 0 has length 4"):
        one_hot(["ACGT", "ACGT", "ACG", "A"])


def test_non_string_item_is_an_error():
    with pytest.raises(SeqliftError, match="expected a DNA string, got int"):
        one_hot(["ACGT", 5])


def test_decode_single_and_batch():
    assert decode(one_hot("ACGTN")) == "ACGTN"
    assert decode(one_hot(["acgtn", "NNNNA"])) == ["ACGTN", "NNNNA"]


def test_decode_maps_zero_rows_and_ambiguity_codes_to_n():
    assert decode(one_hot("ARYKMSWBDHVNA")) == "ANNNNNNNNNNNA"
    assert decode(np.zeros((3, 4))) == "NNN"


def test_decode_takes_the_largest_positive_entry():
    soft = np.array([[0.1, 0.7, 0.1, 0.1], [0.0, 0.0, 0.0, 0.0], [-1.0, -2.0, -0.5, -3.0]])
    assert decode(soft) == "CNN"


def test_decode_rejects_wrong_shapes():
    with pytest.raises(SeqliftError, match=r"\(5, 3\)"):
        decode(np.zeros((5, 3)))
    with pytest.raises(SeqliftError, match=r"\(4,\)"):
        decode(np.zeros(4))


def test_round_trip_of_random_sequences():
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGTN"), 50)) for _ in range(20)]
    assert decode(one_hot(sequences)) == sequences


def test_reverse_complement_string_keeps_case_and_iupac():
    assert reverse_complement("AACGTn") == "nACGTT"
    assert reverse_complement("acgtRYKMBVDHSWN") == "NWSDHBVKMRYacgt"
    assert reverse_complement(["AAC", "GGT"]) == ["GTT", "ACC"]


def test_reverse_complement_array_equals_flip_of_both_axes():
    x = one_hot(["AACGN", "TTGCA"])
    rc = reverse_complement(x)
    np.testing.assert_array_equal(rc, x[..., ::-1, ::-1])
    assert rc.flags.c_contiguous
    assert decode(rc) == ["NCGTT", "TGCAA"]
    np.testing.assert_array_equal(reverse_complement(rc), x)


def test_reverse_complement_array_matches_string_version():
    sequence = "ACGGTTAacgNNtA"
    assert decode(reverse_complement(one_hot(sequence))) == reverse_complement(sequence).upper()


def test_reverse_complement_rejects_non_one_hot_arrays():
    with pytest.raises(SeqliftError, match=r"\(3, 5\)"):
        reverse_complement(np.zeros((3, 5)))


def test_batch_encoding_is_fast():
    """10 million bases must encode in well under a second (vectorised, not per base)."""
    import time

    sequences = ["ACGTNacgtR" * 100] * 10_000
    one_hot(sequences[:10])
    start = time.perf_counter()
    x = one_hot(sequences, dtype=np.uint8)
    elapsed = time.perf_counter() - start
    assert x.shape == (10_000, 1000, 4)
    assert elapsed < 2.0, f"one_hot took {elapsed:.2f}s for 10M bases"
