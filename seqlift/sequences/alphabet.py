"""The DNA alphabet: the column order of every (L, 4) array, and the paper's background composition.

Every one-hot sequence, motif matrix and contribution array in seqlift has its
last axis in :data:`ALPHABET` order. :data:`PAPER_BACKGROUND` is the letter
composition of the DeepLIFT paper's simulation: the background the simulation
draws from, the background of the log-odds its motifs are scanned with, and
the flat reference of its Figure 5 (and of :func:`seqlift.references.flat`).
"""
from __future__ import annotations

__all__ = ["ALPHABET", "PAPER_BACKGROUND"]

#: column order of every one-hot array, probability matrix and contribution array
ALPHABET = "ACGT"
#: the DeepLIFT paper's background composition, in :data:`ALPHABET` order
PAPER_BACKGROUND = (0.3, 0.2, 0.2, 0.3)
