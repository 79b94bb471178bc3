"""Motif scanning, top-k masking (clipped and the notebook's unclipped), window sums, truth overlap."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqlift.groundtruth.motifs import Motif, log_odds, read_meme, shipped_motifs
from seqlift.groundtruth.scan import annotate_truth, find_matches, scan, scan_strands, top_k, window_sums
from seqlift.sequences.onehot import one_hot

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper-genomics"


def _brute_scan(seqs: list[str], matrix: np.ndarray) -> np.ndarray:
    w = matrix.shape[0]
    out = np.zeros((len(seqs), len(seqs[0]) - w + 1))
    for n, s in enumerate(seqs):
        for p in range(len(s) - w + 1):
            total = 0.0
            for i in range(w):
                letter = s[p + i]
                if letter in "ACGT":
                    total += matrix[i, "ACGT".index(letter)]
            out[n, p] = total
    return out


def _brute_top_k(row: np.ndarray, k: int, width: int, clip: bool) -> list[int]:
    """The notebook's loop, literally: Python slicing does the masking."""
    row = row.astype(float).copy()
    w = width // 2
    picks = []
    for _ in range(k):
        best = int(np.argmax(row))
        picks.append(best)
        lo = max(best - w, 0) if clip else best - w
        row[lo : best + w - 1] = -np.inf
    return picks


def test_scan_equals_brute_force_loop():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTN"), size=40, p=[0.24, 0.24, 0.24, 0.24, 0.04])) for _ in range(6)]
    matrix = rng.normal(size=(7, 4))
    np.testing.assert_allclose(scan(one_hot(seqs), matrix), _brute_scan(seqs, matrix), atol=1e-10)


def test_reverse_strand_scan_is_the_reverse_complement_scan():
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), size=30)) for _ in range(4)]
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    rc = ["".join(comp[c] for c in reversed(s)) for s in seqs]
    matrix = rng.normal(size=(5, 4))
    scores, strands = scan_strands(one_hot(seqs), matrix, both_strands=True)
    fwd = _brute_scan(seqs, matrix)
    rev = _brute_scan(rc, matrix)[:, ::-1]  # window p of the rc is window P-1-p of the original
    np.testing.assert_allclose(scores, np.maximum(fwd, rev), atol=1e-10)
    assert set(np.unique(strands)) <= {"+", "-"}
    np.testing.assert_array_equal(strands == "-", rev > fwd)


@pytest.mark.parametrize("clip", [True, False])
def test_top_k_matches_the_notebook_loop(clip):
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(50, 60))
    scores[:10, :3] += 10  # left-edge winners exercise the negative-slice case
    starts, values, valid = top_k(scores, 5, 16, clip=clip)
    assert valid.all()
    for n in range(scores.shape[0]):
        assert starts[n].tolist() == _brute_top_k(scores[n], 5, 16, clip)
        np.testing.assert_array_equal(values[n], scores[n, starts[n]])


def test_left_edge_match_is_counted_twice_only_without_clipping():
    # one strong site at start 2 of a width-10 motif (w = 5): 2 - 5 < 0
    scores = np.zeros((1, 50))
    scores[0, 2] = 9.0
    scores[0, 30] = 8.0
    scores[0, 6] = 7.5  # inside [0, 6): masked by the clipped rule
    clipped, cv, _ = top_k(scores, 3, 10, clip=True)
    unclipped, uv, _ = top_k(scores, 3, 10, clip=False)
    # the notebook's slice scores[-3:6] is empty: start 2 is picked again and again
    assert unclipped[0].tolist() == [2, 2, 2]
    # clipped: 2 masks [0, 6); next is 30, which masks [25, 34); then 6 (not masked: 6 >= 6)
    assert clipped[0].tolist() == [2, 30, 6]


def test_top_k_runs_out_of_positions():
    starts, values, valid = top_k(np.arange(6.0)[None, :], 5, 4, clip=True)
    # w = 2: each pick masks [k-2, k+1): 5 -> masks 3,4,5 ; 2 -> masks 0,1,2 ; nothing left
    assert starts[0, :2].tolist() == [5, 2]
    assert valid[0].tolist() == [True, True, False, False, False]
    assert np.isneginf(values[0, 2:]).all()


def test_find_matches_locates_an_inserted_site():
    motif = Motif("CAGATG", np.eye(4)[[1, 0, 2, 0, 3, 2]])
    seqs = ["TTTTTTTTTTCAGATGTTTTTTTTTT", "CAGATGTTTTTTTTTTTTTTTTTTTT"]
    matches = find_matches(one_hot(seqs), [motif], names=["a", "b"], k=2, background=(0.25,) * 4)
    best = matches[matches["rank"] == 0]
    assert best["start"].tolist() == [10, 0] and best["end"].tolist() == [16, 6]
    expected = log_odds(motif.probs, (0.25,) * 4)[np.arange(6), [1, 0, 2, 0, 3, 2]].sum()
    np.testing.assert_allclose(best["log_odds"], expected)
    both = find_matches(one_hot(["TTTTCATCTGTTTT"]), [motif], k=1, both_strands=True, background=(0.25,) * 4)
    assert both[["start", "strand"]].values.tolist() == [[4, "-"]]


def test_window_sums_and_truth():
    values = np.arange(2 * 3 * 10, dtype=float).reshape(2, 3, 10)
    seq, start, end = np.array([0, 2, 1]), np.array([0, 4, 9]), np.array([3, 8, 10])
    got = window_sums(values, seq, start, end)
    want = np.array([[values[t, s, a:b].sum() for s, a, b in zip(seq, start, end)] for t in range(2)])
    np.testing.assert_allclose(got, want)
    matches = pd.DataFrame(
        {"name": ["a", "a", "b"], "motif": ["M", "M", "M"], "start": [0, 20, 5], "end": [6, 26, 11], "strand": ["+"] * 3}
    )
    truth = pd.DataFrame({"name": ["a", "b"], "motif": ["M", "M"], "start": [3, 5], "end": [9, 11], "strand": ["+", "+"]})
    out = annotate_truth(matches, truth)
    assert out["overlaps_true"].tolist() == [True, False, True]
    assert out["equals_true"].tolist() == [False, False, True]


@pytest.mark.skipif(not (PAPER / "sequences.simdata.gz").exists(), reason="paper data not available")
def test_paper_denominators():
    """The README's Figure 5b denominators: 398/313 with the notebook's masking, 341/294 clipped."""
    from seqlift.groundtruth.simulate import read_paper_simdata

    sim = read_paper_simdata(PAPER / "sequences.simdata.gz", PAPER / "test.txt.gz").subset("test")
    both = sim.labels[:, 0] == 1
    x = one_hot([s for s, b in zip(sim.sequences, both) if b])
    motifs = read_meme(shipped_motifs("encode_tal1_gata.meme"))
    unclipped = find_matches(x, motifs, k=5, clip=False, min_log_odds=7).groupby("motif").size()
    clipped = find_matches(x, motifs, k=5, clip=True, min_log_odds=7).groupby("motif").size()
    assert unclipped.to_dict() == {"GATA_disc1": 313, "TAL1_known1": 398}
    assert clipped.to_dict() == {"GATA_disc1": 294, "TAL1_known1": 341}
