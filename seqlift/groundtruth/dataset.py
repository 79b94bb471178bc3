"""The sequences a ground-truth report judges, with their labels and the motif instances inserted in them.

:func:`load_dataset` reads them from one of two sources: regions (a FASTA of
equal-length sequences, or a BED of regions on a genome, told apart by content
as ``seqlift score`` does), with the labels TSV of ``seqlift simulate`` and
optionally its instances TSV; or the DeepLIFT paper's released
``sequences.simdata`` (sequences, labels and instances in one file, with its
``test.txt`` naming the test split).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqlift.errors import SeqliftError

__all__ = ["Dataset", "load_dataset"]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike


@dataclass
class Dataset:
    """Labelled sequences with their ground truth.

    Attributes
    ----------
    names : list of str
        Sequence names.
    x : numpy.ndarray
        (N, L, 4) one-hot sequences.
    labels : numpy.ndarray
        (N, 3) int8 labels: both motifs present, first present, second present.
    truth : pandas.DataFrame or None
        Inserted motif instances of these sequences (name, motif, start, end,
        strand), None when not given.
    motif_file : str
        The shipped motif file that matches the data (see
        :func:`seqlift.groundtruth.motifs.shipped_motifs`): the ENCODE
        matrices for the paper's simulation, the JASPAR ones otherwise.
    source : str
        Where the sequences come from, for the report's notes.
    """

    names: list[str]
    x: np.ndarray
    labels: np.ndarray
    truth: pd.DataFrame | None
    motif_file: str
    source: str


def load_dataset(
    regions: PathLike | None = None,
    genome: PathLike | None = None,
    paper_simdata: PathLike | None = None,
    paper_test: PathLike | None = None,
    labels: PathLike | None = None,
    truth: PathLike | None = None,
    split: str | None = None,
) -> Dataset:
    """Read the sequences, labels and ground truth of a report from one source.

    Parameters
    ----------
    regions : path, optional
        A FASTA of equal-length sequences, or a BED of regions, all of one
        width, on ``genome`` (the BED's name column names the sequences); told
        apart by content (:func:`seqlift.inputs.input_kind`). Needs ``labels``.
    genome : path, optional
        The genome FASTA of BED ``regions`` (not used for FASTA ``regions``).
    paper_simdata, paper_test : path, optional
        The paper's ``sequences.simdata(.gz)`` and its ``test.txt(.gz)``;
        with ``paper_test`` and no ``split`` only the test split is kept.
    labels : path, optional
        Labels TSV (name, task0, task1, task2[, split]); required with
        ``regions``.
    truth : path, optional
        Instances TSV (name, motif, start, end[, strand]); for the paper's
        data it replaces the instances of the simdata file.
    split : str, optional
        Keep only the sequences of this split (the labels' ``split`` column).

    Returns
    -------
    Dataset

    Raises
    ------
    SeqliftError
        When not exactly one source is given, a file is unreadable or
        malformed, a sequence has no labels, or no sequence is of ``split``.
    """
    from seqlift.groundtruth.simulate import TASK_COLUMNS, read_instances, read_labels, read_paper_simdata
    from seqlift.sequences.onehot import one_hot

    if bool(regions) == bool(paper_simdata) or (paper_simdata and genome):
        raise SeqliftError("give the sequences one way: --regions (a FASTA, or a BED with --genome) "
                           "or --paper-simdata")
    if paper_simdata:
        sim = read_paper_simdata(paper_simdata, paper_test)
        if split:
            sim = sim.subset(split)
        elif paper_test:
            sim = sim.subset("test")
        instances = read_instances(truth) if truth else sim.instances
        return Dataset(sim.names, one_hot(sim.sequences), sim.labels, instances, "encode_tal1_gata.meme",
                       f"{paper_simdata} ({len(sim)} sequences)")
    if not labels:
        raise SeqliftError("--labels is required with --regions (the class of each sequence)")
    label_table = read_labels(labels)
    names, x, source = _read_sequences(regions, genome)
    frame = label_table.set_index(label_table["name"].astype(str))
    missing = [n for n in names if n not in frame.index]
    if missing:
        raise SeqliftError(f"{labels}: no labels for {len(missing)} sequence(s), e.g. {missing[0]!r}")
    keep = np.ones(len(names), dtype=bool)
    if split:
        if "split" not in frame.columns:
            raise SeqliftError(f"{labels}: no split column for --split")
        keep = frame.loc[names, "split"].astype(str).to_numpy() == split
        if not keep.any():
            raise SeqliftError(f"no sequence of split {split!r}")
    names = [n for n, k in zip(names, keep) if k]
    x = x[keep]
    y = frame.loc[names, list(TASK_COLUMNS)].to_numpy().astype(np.int8)
    instances = read_instances(truth) if truth else None
    if instances is not None:
        instances = instances[instances["name"].astype(str).isin(set(names))]
    return Dataset(names, x, y, instances, "jaspar2024_gata1_tal1.meme", f"{source} ({len(names)} sequences)")


def _read_sequences(regions: PathLike, genome: PathLike | None) -> tuple[list[str], np.ndarray, str]:
    """Names, (N, L, 4) one-hot sequences and a description of a FASTA, or of a BED on ``genome``."""
    from seqlift.genome.regions import iter_bed
    from seqlift.genome.windows import load_fasta_sequences, load_regions
    from seqlift.inputs import input_kind

    if input_kind(regions) == "fasta":
        if genome:
            log.info("%s is a FASTA of sequences; --genome is not used", regions)
        chunks = list(load_fasta_sequences(regions))
        source = str(regions)
    else:
        if not genome:
            raise SeqliftError(f"{regions} is a BED file: give the genome FASTA with --genome")
        lines = iter_bed(regions)
        first = next(lines, None)
        lines.close()
        if first is None:
            raise SeqliftError(f"{regions}: no regions")
        chunks = list(load_regions(regions, genome, width=first.width, off_chrom="error"))
        source = f"{regions} on {genome}"
    x = np.concatenate([c.onehot for c in chunks])
    names = [str(n) for c in chunks for n in c.windows["name"]]
    return names, x, source
