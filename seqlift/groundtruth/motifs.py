"""Position probability matrices: MEME minimal format and log-odds matrices.

A :class:`Motif` is a (W, 4) matrix of letter probabilities in A, C, G, T
order. :func:`read_meme` and :func:`write_meme` convert between motifs and the
MEME minimal motif format (https://meme-suite.org/meme/doc/meme-format.html),
which JASPAR, HOCOMOCO and the MEME suite all export. :func:`log_odds` turns a
probability matrix into the natural-log scoring matrix used to scan sequences.

The shipped matrices are package data (``seqlift/data/motifs/``, linked from
the repository's ``data/motifs``); see :func:`shipped_motifs`.

Examples
--------
>>> import numpy as np
>>> m = Motif("toy", np.array([[1.0, 0, 0, 0], [0, 0, 0, 1.0]]))
>>> m.consensus
'AT'
>>> log_odds(m.probs, background=(0.25, 0.25, 0.25, 0.25)).shape
(2, 4)
"""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from seqlift.errors import SeqliftError
from seqlift.sequences.alphabet import ALPHABET, PAPER_BACKGROUND
from seqlift.sequences.onehot import reverse_complement

#: pseudocount used by the paper's notebook to smooth matrices before taking logs
PAPER_PSEUDOCOUNT = 0.001


@dataclass
class Motif:
    """A named position probability matrix.

    Parameters
    ----------
    name : str
        Identifier (the first word after ``MOTIF`` in MEME format).
    probs : numpy.ndarray
        (W, 4) letter probabilities in A, C, G, T order; rows are normalised
        to sum to 1 on construction.
    alt_name : str, optional
        Second word of the ``MOTIF`` line (e.g. the factor name of a JASPAR ID).
    nsites : int, optional
        Number of sites the matrix was built from, when known.
    url : str, optional
        Where the matrix comes from.
    """

    name: str
    probs: np.ndarray
    alt_name: str | None = None
    nsites: int | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        probs = np.asarray(self.probs, dtype=np.float64)
        if probs.ndim != 2 or probs.shape[1] != 4 or probs.shape[0] == 0:
            raise SeqliftError(f"motif {self.name}: matrix must be (width, 4), got {probs.shape}")
        if not np.all(np.isfinite(probs)) or np.any(probs < 0):
            raise SeqliftError(f"motif {self.name}: matrix has negative or non-finite entries")
        sums = probs.sum(axis=1, keepdims=True)
        if np.any(sums <= 0):
            raise SeqliftError(f"motif {self.name}: a row of the matrix sums to zero")
        self.probs = probs / sums

    @property
    def width(self) -> int:
        """Number of positions of the motif."""
        return int(self.probs.shape[0])

    @property
    def consensus(self) -> str:
        """Most probable letter at each position."""
        return "".join(ALPHABET[i] for i in self.probs.argmax(axis=1))

    @property
    def label(self) -> str:
        """``alt_name`` when present (a factor name), else ``name``."""
        return self.alt_name or self.name

    def reverse_complement(self) -> "Motif":
        """The motif read on the other strand (rows reversed, A<->T, C<->G)."""
        return Motif(f"{self.name}_rc", reverse_complement(self.probs), self.alt_name, self.nsites, self.url)


def log_odds(
    probs: np.ndarray,
    background: Sequence[float] = PAPER_BACKGROUND,
    pseudocount: float = PAPER_PSEUDOCOUNT,
) -> np.ndarray:
    """Natural-log odds of a probability matrix against a background.

    The matrix is smoothed as ``P * (1 - pseudocount) + pseudocount / 4`` so
    that zero probabilities give a finite score, then divided by the
    background letter frequencies: ``ln(P_smoothed / background)``.

    Parameters
    ----------
    probs : numpy.ndarray
        (W, 4) probabilities, A, C, G, T.
    background : sequence of 4 floats
        Letter frequencies of the background (normalised here).
    pseudocount : float
        Smoothing weight in [0, 1).

    Returns
    -------
    numpy.ndarray
        (W, 4) float64 log-odds; a window's score is the sum over its
        positions of the entry for the letter present.
    """
    probs = np.asarray(probs, dtype=np.float64)
    bg = _background(background)
    if not 0.0 <= pseudocount < 1.0:
        raise SeqliftError(f"pseudocount must be in [0, 1), got {pseudocount}")
    smoothed = probs * (1.0 - pseudocount) + pseudocount / 4.0
    with np.errstate(divide="ignore"):
        return np.log(smoothed / bg)


def _background(background: Sequence[float]) -> np.ndarray:
    bg = np.asarray(background, dtype=np.float64).reshape(-1)
    if bg.shape != (4,) or np.any(bg <= 0) or not np.all(np.isfinite(bg)):
        raise SeqliftError(f"background must be 4 positive frequencies (A C G T), got {list(background)}")
    return bg / bg.sum()


def parse_background(text: str) -> tuple[float, float, float, float]:
    """Parse a background given on the command line.

    Parameters
    ----------
    text : str
        Four numbers for A, C, G, T separated by commas or spaces
        (``"0.3,0.2,0.2,0.3"``), or ``"uniform"``.

    Returns
    -------
    tuple of 4 floats
        Normalised frequencies.
    """
    if text.strip().lower() == "uniform":
        return (0.25, 0.25, 0.25, 0.25)
    try:
        values = [float(v) for v in re.split(r"[,\s]+", text.strip()) if v]
    except ValueError:
        raise SeqliftError(f"background {text!r}: expected 4 numbers for A,C,G,T") from None
    if len(values) != 4:
        raise SeqliftError(f"background {text!r}: expected 4 numbers for A,C,G,T")
    bg = _background(values)
    return (float(bg[0]), float(bg[1]), float(bg[2]), float(bg[3]))


def background_text(background: Sequence[float]) -> str:
    """A background written as :func:`parse_background` reads it, e.g. ``"0.3,0.2,0.2,0.3"``."""
    return ",".join(f"{value:g}" for value in background)


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def read_meme(source: str | os.PathLike | io.TextIOBase) -> list[Motif]:
    """Read every motif of a MEME minimal format file.

    Parameters
    ----------
    source : str, path or text stream
        A path to the file, or an open text stream.

    Returns
    -------
    list of Motif
        In file order. The file's background frequencies, if any, are not
        part of the motifs (see :func:`read_meme_background`).

    Raises
    ------
    SeqliftError
        When the file cannot be read, has no motif, a matrix row does not have
        4 numbers, or the number of rows disagrees with ``w=``.
    """
    text, where = _read_text(source)
    lines = text.splitlines()
    _check_alphabet(lines, where)
    motifs: list[Motif] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line.startswith("MOTIF"):
            i += 1
            continue
        words = line.split()
        if len(words) < 2:
            raise SeqliftError(f"{where}, line {i + 1}: MOTIF line without a name")
        name = words[1]
        alt = words[2] if len(words) > 2 else None
        url = None
        nsites = None
        i += 1
        rows: list[list[float]] = []
        width = None
        while i < len(lines) and not lines[i].strip().startswith("MOTIF"):
            line = lines[i].strip()
            if line.startswith("URL"):
                url = line[3:].strip() or None
            elif line.startswith("letter-probability matrix"):
                header = line.split(":", 1)[1] if ":" in line else ""
                w_match = re.search(r"w=\s*(\d+)", header)
                n_match = re.search(r"nsites=\s*(" + _NUMBER + ")", header)
                width = int(w_match.group(1)) if w_match else None
                if n_match:
                    nsites = int(round(float(n_match.group(1))))
                i += 1
                while i < len(lines):
                    row = lines[i].strip()
                    if not row:
                        if rows and width is None:
                            break
                        if width is not None and len(rows) >= width:
                            break
                        i += 1
                        continue
                    if not re.match(_NUMBER, row):
                        break
                    values = row.split()
                    if len(values) != 4:
                        raise SeqliftError(f"{where}, line {i + 1}: motif {name}: expected 4 probabilities, got {len(values)}")
                    try:
                        rows.append([float(v) for v in values])
                    except ValueError:
                        raise SeqliftError(f"{where}, line {i + 1}: motif {name}: not a number in {row!r}") from None
                    i += 1
                    if width is not None and len(rows) == width:
                        break
                continue
            i += 1
        if not rows:
            raise SeqliftError(f"{where}: motif {name} has no letter-probability matrix")
        if width is not None and len(rows) != width:
            raise SeqliftError(f"{where}: motif {name}: w={width} but {len(rows)} rows")
        motifs.append(Motif(name, np.array(rows), alt, nsites, url))
    if not motifs:
        raise SeqliftError(f"{where}: no MOTIF found (is it a MEME minimal format file?)")
    return motifs


def read_meme_background(source: str | os.PathLike | io.TextIOBase) -> tuple[float, ...] | None:
    """The ``Background letter frequencies`` of a MEME file, or None when absent."""
    text, _ = _read_text(source)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("Background letter frequencies"):
            freqs: dict[str, float] = {}
            for follow in lines[i + 1 : i + 3]:
                words = follow.split()
                for letter, value in zip(words[::2], words[1::2]):
                    try:
                        freqs[letter.upper()] = float(value)
                    except ValueError:
                        pass
                if len(freqs) >= 4:
                    break
            if all(b in freqs for b in ALPHABET):
                return tuple(float(v) for v in _background([freqs[b] for b in ALPHABET]))
            return None
    return None


def _check_alphabet(lines: list[str], where: str) -> None:
    for line in lines:
        if line.startswith("ALPHABET"):
            value = line.split("=", 1)[1].strip() if "=" in line else ""
            if value and value.split()[0].upper() != "ACGT":
                raise SeqliftError(f"{where}: alphabet {value!r} is not DNA (ACGT)")
            return


def _read_text(source: str | os.PathLike | io.TextIOBase) -> tuple[str, str]:
    if hasattr(source, "read"):
        return source.read(), getattr(source, "name", "<stream>")
    path = Path(source)
    try:
        return path.read_text(), str(path)
    except OSError as err:
        raise SeqliftError(f"cannot read motif file {path}: {err.strerror or err}") from None


def write_meme(
    motifs: Iterable[Motif],
    dest: str | os.PathLike | io.TextIOBase,
    background: Sequence[float] | None = None,
    comments: Sequence[str] = (),
    strands: str = "+ -",
    decimals: int = 6,
) -> None:
    """Write motifs in MEME minimal format.

    Parameters
    ----------
    motifs : iterable of Motif
        The motifs, written in order.
    dest : str, path or text stream
        Where to write.
    background : sequence of 4 floats, optional
        Background letter frequencies to record (uniform when omitted).
    comments : sequence of str
        Free-text lines placed after the header (e.g. the source and licence
        of the matrices). MEME readers ignore text outside the known
        sections; lines are written as given.
    strands : str
        Value of the ``strands:`` line.
    decimals : int
        Digits after the decimal point of each probability.
    """
    bg = _background(background if background is not None else (0.25, 0.25, 0.25, 0.25))
    out = ["MEME version 4", "", "ALPHABET= ACGT", "", f"strands: {strands}", ""]
    for comment in comments:
        out.append(comment)
    if comments:
        out.append("")
    out += ["Background letter frequencies", " ".join(f"{b} {v:.{decimals}f}" for b, v in zip(ALPHABET, bg)), ""]
    for motif in motifs:
        head = f"MOTIF {motif.name}" + (f" {motif.alt_name}" if motif.alt_name else "")
        out.append(head)
        if motif.url:
            out.append(f"URL {motif.url}")
        out.append("")
        nsites = f" nsites= {motif.nsites}" if motif.nsites is not None else ""
        out.append(f"letter-probability matrix: alength= 4 w= {motif.width}{nsites} E= 0")
        for row in motif.probs:
            out.append(" " + " ".join(f"{v:.{decimals}f}" for v in row))
        out.append("")
    text = "\n".join(out) + "\n"
    if hasattr(dest, "write"):
        dest.write(text)
    else:
        Path(dest).write_text(text)


def select_motifs(motifs: Sequence[Motif], names: Sequence[str] | None) -> list[Motif]:
    """Pick motifs by ``name`` or ``alt_name`` (case-insensitive), in the order asked.

    Parameters
    ----------
    motifs : sequence of Motif
        The candidates (e.g. all motifs of a file).
    names : sequence of str or None
        Names to pick; None returns all motifs.

    Raises
    ------
    SeqliftError
        When a name matches no motif, or matches several.
    """
    if names is None:
        return list(motifs)
    chosen = []
    for want in names:
        hits = [m for m in motifs if m.name.lower() == want.lower()]
        if not hits:
            hits = [m for m in motifs if (m.alt_name or "").lower() == want.lower()]
        if not hits:
            known = ", ".join(m.name + (f" ({m.alt_name})" if m.alt_name else "") for m in motifs)
            raise SeqliftError(f"motif {want!r} not found; the file has: {known}")
        if len(hits) > 1:
            raise SeqliftError(f"motif name {want!r} is ambiguous ({len(hits)} motifs)")
        chosen.append(hits[0])
    return chosen


def two_motifs(path: str | os.PathLike, names: Sequence[str] | None = None) -> list[Motif]:
    """The two motifs of a simulation or a report: first = task 1, second = task 2.

    Parameters
    ----------
    path : str or path
        MEME minimal format file.
    names : sequence of 2 str, optional
        The two motifs' names or alt names (see :func:`select_motifs`);
        default: the file's first two motifs.

    Raises
    ------
    SeqliftError
        When the file cannot be read, a name matches no motif or several, or
        the file has fewer than two motifs.
    """
    motifs = read_meme(path)
    if names is not None:
        return select_motifs(motifs, names)
    if len(motifs) < 2:
        raise SeqliftError(f"{path}: two motifs are needed (task 1 and task 2), the file has {len(motifs)}")
    return motifs[:2]


def shipped_motifs(filename: str = "jaspar2024_gata1_tal1.meme") -> Path:
    """Path of a motif file shipped with seqlift (``seqlift/data/motifs/``).

    Parameters
    ----------
    filename : str
        ``jaspar2024_gata1_tal1.meme`` (JASPAR 2024 Gata1 (MA0035.3) and TAL1::TCF3 (MA0091.1), the
        simulation's default) or ``encode_tal1_gata.meme`` (the ENCODE
        matrices GATA_disc1 and TAL1_known1 used by the DeepLIFT paper).

    Raises
    ------
    SeqliftError
        When the installation lacks the file.
    """
    from seqlift.data import shipped_file

    return shipped_file("motifs", filename)
