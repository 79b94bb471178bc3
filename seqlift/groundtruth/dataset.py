"""The sequences a ground-truth report judges, with their labels and the motif instances inserted in them.

:func:`load_dataset` reads them from one of three sources: a FASTA of
equal-length sequences, or a BED of regions on a genome (each with the labels
TSV of ``seqlift simulate`` and optionally its instances TSV), or the DeepLIFT
paper's released ``sequences.simdata`` (sequences, labels and instances in one
file, with its ``test.txt`` naming the test split).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqlift.errors import SeqliftError

__all__ = ["Dataset", "load_dataset"]

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
    fasta: PathLike | None = None,
    bed: PathLike | None = None,
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
    fasta : path, optional
        FASTA of equal-length sequences (with ``labels``).
    bed, genome : path, optional
        BED of regions, all of one width, and the genome they are on (with
        ``labels``); the BED's name column names the sequences.
    paper_simdata, paper_test : path, optional
        The paper's ``sequences.simdata(.gz)`` and its ``test.txt(.gz)``;
        with ``paper_test`` and no ``split`` only the test split is kept.
    labels : path, optional
        Labels TSV (name, task0, task1, task2[, split]); required with
        ``fasta`` or ``bed``.
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
    from seqlift.groundtruth.simulate import TASK_COLUMNS, read_fasta, read_instances, read_labels, read_paper_simdata
    from seqlift.sequences.onehot import one_hot

    given = [bool(fasta), bool(bed or genome), bool(paper_simdata)]
    if sum(given) != 1:
        raise SeqliftError("give the sequences one way: --fasta, --bed with --genome, or --paper-simdata")
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
        raise SeqliftError("--labels is required with --fasta or --bed (the class of each sequence)")
    label_table = read_labels(labels)
    if fasta:
        records = read_fasta(fasta)
        names = list(records)
        lengths = {len(s) for s in records.values()}
        if len(lengths) != 1:
            raise SeqliftError(f"{fasta}: sequences must all have the same length, found {sorted(lengths)[:5]}")
        x = one_hot([records[n] for n in names])
        source = str(fasta)
    else:
        if not (bed and genome):
            raise SeqliftError("--bed needs --genome (and --genome needs --bed)")
        from seqlift.genome.regions import read_bed
        from seqlift.genome.windows import load_regions

        first = next(iter(next(iter(read_bed(bed, chunk_size=1)), [])), None)
        if first is None:
            raise SeqliftError(f"{bed}: no regions")
        width = first.end - first.start
        chunks = list(load_regions(bed, genome, width=width, off_chrom="error"))
        x = np.concatenate([c.onehot for c in chunks]) if chunks else np.zeros((0, width, 4), np.float32)
        names = [str(n) for c in chunks for n in c.windows["name"]]
        source = f"{bed} on {genome}"
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
