"""MEME minimal format and log-odds matrices."""
from __future__ import annotations

import io

import numpy as np
import pytest

from seqlift.errors import SeqliftError
from seqlift.groundtruth.motifs import (
    Motif,
    log_odds,
    parse_background,
    read_meme,
    read_meme_background,
    select_motifs,
    shipped_motifs,
    write_meme,
)


def _random_motif(rng: np.random.Generator, name: str, width: int, alt: str | None = None) -> Motif:
    probs = rng.dirichlet(np.ones(4) * 0.5, size=width)
    return Motif(name, probs, alt_name=alt, nsites=17, url=f"https://example.org/{name}")


def test_meme_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    motifs = [_random_motif(rng, "M1", 7, "FOXA1"), _random_motif(rng, "M2", 12)]
    path = tmp_path / "m.meme"
    write_meme(motifs, path, background=(0.3, 0.2, 0.2, 0.3), comments=["# source: test"], decimals=9)
    back = read_meme(path)
    assert [m.name for m in back] == ["M1", "M2"]
    assert back[0].alt_name == "FOXA1" and back[1].alt_name is None
    assert back[0].nsites == 17 and back[0].url == "https://example.org/M1"
    for a, b in zip(motifs, back):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-8)
    np.testing.assert_allclose(read_meme_background(path), (0.3, 0.2, 0.2, 0.3))


def test_reads_meme_suite_style_text():
    text = """MEME version 5

ALPHABET= ACGT

strands: + -

Background letter frequencies
A 0.25 C 0.25 G 0.25 T 0.25

MOTIF one
letter-probability matrix: alength= 4 w= 2 nsites= 10 E= 1.2e-5
  1.0  0.0  0.0  0.0
  0.0 0.5 0.5 0.0
MOTIF two alt
letter-probability matrix: alength= 4 w= 1
0.1 0.2 0.3 0.4
"""
    motifs = read_meme(io.StringIO(text))
    assert [m.name for m in motifs] == ["one", "two"]
    assert motifs[0].consensus[0] == "A" and motifs[0].width == 2
    np.testing.assert_allclose(motifs[1].probs, [[0.1, 0.2, 0.3, 0.4]])


@pytest.mark.parametrize(
    "text",
    [
        "MEME version 4\n\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n\nMOTIF p\nletter-probability matrix: alength= 20 w= 1\n",
        "MEME version 4\n\nMOTIF a\nletter-probability matrix: alength= 4 w= 3\n0.25 0.25 0.25 0.25\n",
        "MEME version 4\n\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n0.5 0.5 0.0\n",
        "no motif here\n",
    ],
)
def test_bad_meme_files_raise(text):
    with pytest.raises(SeqliftError):
        read_meme(io.StringIO(text))


def test_log_odds_matches_formula():
    probs = np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    lo = log_odds(probs, background=(0.3, 0.2, 0.2, 0.3), pseudocount=0.001)
    assert lo[0, 0] == pytest.approx(np.log((1 * 0.999 + 0.00025) / 0.3))
    assert lo[0, 1] == pytest.approx(np.log(0.00025 / 0.2))
    assert lo[1, 3] == pytest.approx(np.log(0.25 / 0.3))


def test_reverse_complement_and_select():
    m = Motif("x", np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0]]), alt_name="TF")
    assert m.consensus == "AG"
    assert m.reverse_complement().consensus == "CT"
    assert select_motifs([m], ["tf"])[0] is m
    with pytest.raises(SeqliftError):
        select_motifs([m], ["nope"])


def test_parse_background():
    assert parse_background("uniform") == (0.25, 0.25, 0.25, 0.25)
    assert parse_background("3 2 2 3") == pytest.approx((0.3, 0.2, 0.2, 0.3))
    with pytest.raises(SeqliftError):
        parse_background("0.3,0.2")


def test_shipped_files_hold_the_expected_matrices():
    jaspar = read_meme(shipped_motifs("jaspar2024_gata1_tal1.meme"))
    assert [(m.name, m.alt_name, m.width) for m in jaspar] == [("MA0035.3", "Gata1", 11), ("MA0091.1", "TAL1::TCF3", 12)]
    encode = read_meme(shipped_motifs("encode_tal1_gata.meme"))
    assert [(m.name, m.width) for m in encode] == [("GATA_disc1", 10), ("TAL1_known1", 16)]
    assert encode[1].consensus[5:11] == "CAGATG"
    assert "GATAAG" in encode[0].consensus
