"""Simulated sequences with known motif instances: the DeepLIFT paper's design.

:func:`simulate` draws four classes of sequences (both motifs, the first
motif only, the second only, neither) on an independent-base background and
inserts motif instances sampled base by base from their matrices, at
non-overlapping uniform positions on the forward strand. Labels follow the
paper: task 0 is "both motifs present", task 1 "first motif present", task 2
"second motif present". Every inserted instance is recorded, so the result is
ground truth for judging contribution scores.

The module also reads and writes the simulation's files (FASTA, labels TSV,
instances TSV, and a "genome form": the sequences laid end to end on a few
synthetic chromosomes plus a BED of their regions), and reads the paper's own
released format (``sequences.simdata.gz`` and ``test.txt.gz``).

Examples
--------
>>> import numpy as np
>>> from seqlift.groundtruth.motifs import Motif
>>> a = Motif("A", np.eye(4)[[0, 0, 0, 0]])
>>> b = Motif("B", np.eye(4)[[2, 2, 2, 2]])
>>> sim = simulate([a, b], n_per_class=5, length=30, seed=1)
>>> len(sim), sim.labels.shape
(20, (20, 3))
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from seqlift.errors import SeqliftError
from seqlift.groundtruth.motifs import Motif, write_meme
from seqlift.inputs import is_gzip, open_text
from seqlift.sequences.alphabet import ALPHABET, PAPER_BACKGROUND

#: column names of the labels TSV after ``name``, ``class``
TASK_COLUMNS = ("task0", "task1", "task2")
#: columns of the ground-truth (instances) TSV
INSTANCE_COLUMNS = ("name", "motif", "start", "end", "strand", "site")
SPLITS = ("train", "valid", "test")


@dataclass
class Simulation:
    """Simulated sequences with labels, a train/valid/test split and ground truth.

    Attributes
    ----------
    names : list of str
        Sequence names, ``<class>_<index within class>``.
    sequences : list of str
        The sequences (upper-case A, C, G, T).
    classes : numpy.ndarray
        (N,) class name of each sequence.
    labels : numpy.ndarray
        (N, 3) int8: both motifs present, first motif present, second present.
    split : numpy.ndarray
        (N,) ``train``, ``valid`` or ``test``.
    instances : pandas.DataFrame
        One row per inserted instance: name, motif, start (0-based), end
        (exclusive), strand, site (the sampled string).
    motif_names : tuple of str
        Names of the first and second motif, as used in ``instances``.
    """

    names: list[str]
    sequences: list[str]
    classes: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    instances: pd.DataFrame
    motif_names: tuple[str, str]

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, keep: np.ndarray | str | Sequence[str]) -> "Simulation":
        """The sequences selected by a boolean mask, or by split name(s)."""
        if isinstance(keep, str):
            keep = [keep]
        if not isinstance(keep, np.ndarray) or keep.dtype != bool:
            wanted = list(keep)
            unknown = set(wanted) - set(SPLITS)
            if unknown:
                raise SeqliftError(f"unknown split(s) {sorted(unknown)}; choose from {', '.join(SPLITS)}")
            keep = np.isin(self.split, wanted)
        idx = np.flatnonzero(keep)
        names = [self.names[i] for i in idx]
        inst = self.instances[self.instances["name"].isin(set(names))].reset_index(drop=True)
        return Simulation(
            names,
            [self.sequences[i] for i in idx],
            self.classes[idx],
            self.labels[idx],
            self.split[idx],
            inst,
            self.motif_names,
        )

    def labels_frame(self) -> pd.DataFrame:
        """Labels as a table: name, class, task0, task1, task2, split."""
        frame = pd.DataFrame({"name": self.names, "class": self.classes})
        for t, col in enumerate(TASK_COLUMNS):
            frame[col] = self.labels[:, t].astype(int)
        frame["split"] = self.split
        return frame


def short_name(label: str) -> str:
    """A lower-case identifier for a motif label (``"TAL1::TCF3"`` -> ``"tal1"``)."""
    head = label.split("::")[0]
    slug = re.sub(r"[^0-9a-z]+", "_", head.lower()).strip("_")
    return slug or "motif"


def class_names(first: str, second: str) -> tuple[str, str, str, str]:
    """Class names for (both, first only, second only, neither), paper style.

    ``class_names("gata", "tal1")`` gives ``("gata_tal1", "gata_only",
    "tal1_only", "empty")``, the prefixes of the paper's sequence names.
    """
    return (f"{first}_{second}", f"{first}_only", f"{second}_only", "empty")


def truncated_poisson(rng: np.random.Generator, mean: float, low: int, high: int, size: int) -> np.ndarray:
    """Draw from a Poisson(mean) conditioned on ``low <= k <= high``.

    Equivalent to redrawing until the value falls in range.
    """
    if low < 0 or high < low:
        raise SeqliftError(f"instance counts: need 0 <= min <= max, got {low}..{high}")
    ks = np.arange(low, high + 1)
    if mean <= 0:
        if low > 0:
            raise SeqliftError(f"a Poisson mean of {mean} cannot give counts >= {low}")
        return np.zeros(size, dtype=int)
    logp = ks * math.log(mean) - np.array([math.lgamma(k + 1) for k in ks])
    p = np.exp(logp - logp.max())
    return rng.choice(ks, size=size, p=p / p.sum())


def sample_site(rng: np.random.Generator, motif: Motif) -> str:
    """Sample one instance of a motif, each base drawn from its matrix row."""
    cum = np.cumsum(motif.probs, axis=1)
    draws = rng.random(motif.width)[:, None]
    idx = np.minimum((draws >= cum).sum(axis=1), 3)
    return "".join(ALPHABET[i] for i in idx)


def _place(rng: np.random.Generator, widths: Sequence[int], length: int) -> list[int] | None:
    """Uniform non-overlapping starts, placed one after another; None when stuck."""
    occupied = np.zeros(length + 1, dtype=np.int64)
    starts = []
    for w in widths:
        if w > length:
            return None
        csum = np.concatenate([[0], np.cumsum(occupied[:length])])
        free = csum[w : length + 1] - csum[: length - w + 1] == 0
        allowed = np.flatnonzero(free)
        if allowed.size == 0:
            return None
        s = int(rng.choice(allowed))
        occupied[s : s + w] = 1
        starts.append(s)
    return starts


def simulate(
    motifs: Sequence[Motif],
    n_per_class: int | Sequence[int] = 2000,
    length: int = 200,
    background: Sequence[float] = PAPER_BACKGROUND,
    single_mean: float = 2.0,
    pair_mean: float = 1.0,
    min_count: int = 1,
    max_count: int = 3,
    seed: int = 0,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    short_names: Sequence[str] | None = None,
) -> Simulation:
    """Simulate the paper's four classes of sequences with two motifs.

    Parameters
    ----------
    motifs : sequence of 2 Motif
        The first (e.g. GATA1) and second (e.g. TAL1) motif.
    n_per_class : int or sequence of 4 ints
        Sequences per class, in the order both, first only, second only,
        neither.
    length : int
        Sequence length.
    background : sequence of 4 floats
        Probabilities of A, C, G, T, drawn independently at each position.
    single_mean : float
        Poisson mean of the number of instances in the one-motif classes.
    pair_mean : float
        Poisson mean of the number of instances of each motif in the
        two-motif class.
    min_count, max_count : int
        Counts are conditioned on ``min_count <= k <= max_count``.
    seed : int
        Seed of the random generator; the same arguments and seed give the
        same simulation.
    split : sequence of 3 floats
        Fractions of train, validation and test sequences, drawn within each
        class (stratified).
    short_names : sequence of 2 str, optional
        Identifiers used in class and sequence names; derived from the motif
        labels by default (``GATA1`` -> ``gata1``).

    Returns
    -------
    Simulation
        Sequences ordered by class (both, first only, second only, neither).

    Raises
    ------
    SeqliftError
        For invalid sizes, probabilities, or when the instances cannot be
        placed without overlap in the given length.
    """
    if len(motifs) != 2:
        raise SeqliftError(f"the simulation needs exactly 2 motifs, got {len(motifs)}")
    counts = [int(n_per_class)] * 4 if np.ndim(n_per_class) == 0 else [int(n) for n in n_per_class]
    if len(counts) != 4 or any(n < 0 for n in counts):
        raise SeqliftError(f"n_per_class must be a non-negative int or 4 of them, got {n_per_class}")
    if length < 1:
        raise SeqliftError(f"length must be positive, got {length}")
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (4,) or np.any(bg < 0) or bg.sum() <= 0:
        raise SeqliftError(f"background must be 4 non-negative frequencies, got {list(background)}")
    bg = bg / bg.sum()
    fractions = np.asarray(split, dtype=np.float64)
    if fractions.shape != (3,) or np.any(fractions < 0) or fractions.sum() <= 0:
        raise SeqliftError(f"split must be 3 non-negative fractions (train, valid, test), got {list(split)}")
    fractions = fractions / fractions.sum()
    if short_names is None:
        short_names = [short_name(m.label) for m in motifs]
        if short_names[0] == short_names[1]:
            short_names = [f"{short_names[0]}_a", f"{short_names[1]}_b"]
    first, second = short_names
    cls_names = class_names(first, second)
    motif_ids = (motifs[0].label, motifs[1].label)

    rng = np.random.default_rng(seed)
    total = sum(counts)
    base_idx = rng.choice(4, size=(total, length), p=bg)
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
    rows = letters[base_idx]

    names: list[str] = []
    classes: list[str] = []
    labels = np.zeros((total, 3), dtype=np.int8)
    records = []
    seq_index = 0
    for c, n in enumerate(counts):
        if c == 0:
            k_first = truncated_poisson(rng, pair_mean, min_count, max_count, n)
            k_second = truncated_poisson(rng, pair_mean, min_count, max_count, n)
        elif c == 1:
            k_first = truncated_poisson(rng, single_mean, min_count, max_count, n)
            k_second = np.zeros(n, dtype=int)
        elif c == 2:
            k_first = np.zeros(n, dtype=int)
            k_second = truncated_poisson(rng, single_mean, min_count, max_count, n)
        else:
            k_first = k_second = np.zeros(n, dtype=int)
        for j in range(n):
            name = f"{cls_names[c]}_{j}"
            which = [0] * int(k_first[j]) + [1] * int(k_second[j])
            order = rng.permutation(len(which))
            which = [which[o] for o in order]
            widths = [motifs[m].width for m in which]
            for _ in range(100):
                starts = _place(rng, widths, length)
                if starts is not None:
                    break
            else:
                raise SeqliftError(
                    f"cannot place {len(which)} non-overlapping instances in {length} bp; use longer sequences or fewer instances"
                )
            for m, s in sorted(zip(which, starts), key=lambda t: t[1]):
                site = sample_site(rng, motifs[m])
                rows[seq_index, s : s + len(site)] = np.frombuffer(site.encode(), dtype=np.uint8)
                records.append((name, motif_ids[m], s, s + len(site), "+", site))
            labels[seq_index] = (k_first[j] > 0 and k_second[j] > 0, k_first[j] > 0, k_second[j] > 0)
            names.append(name)
            classes.append(cls_names[c])
            seq_index += 1

    split_arr = np.empty(total, dtype=object)
    start = 0
    for n in counts:
        perm = rng.permutation(n) + start
        n_train = int(round(n * fractions[0]))
        n_valid = int(round(n * fractions[1]))
        n_train = min(n_train, n)
        n_valid = min(n_valid, n - n_train)
        split_arr[perm[:n_train]] = "train"
        split_arr[perm[n_train : n_train + n_valid]] = "valid"
        split_arr[perm[n_train + n_valid :]] = "test"
        start += n
    sequences = [r.tobytes().decode() for r in rows]
    instances = pd.DataFrame.from_records(records, columns=list(INSTANCE_COLUMNS))
    instances = instances.astype({"start": int, "end": int})
    return Simulation(names, sequences, np.array(classes), labels, split_arr.astype(str), instances, motif_ids)


# ---------------------------------------------------------------------------
# genome form


def genome_form(
    names: Sequence[str],
    sequences: Sequence[str],
    n_chromosomes: int = 4,
    spacer: int = 50,
    spacer_kind: str = "N",
    background: Sequence[float] = PAPER_BACKGROUND,
    seed: int = 0,
    prefix: str = "chrSim",
) -> tuple[dict[str, str], pd.DataFrame]:
    """Lay sequences end to end on a few synthetic chromosomes.

    Each chromosome starts and ends with a spacer, and a spacer separates
    consecutive sequences, so every region lies strictly inside its
    chromosome. Sequences are dealt in order into ``n_chromosomes`` blocks of
    near-equal size.

    Parameters
    ----------
    names, sequences : sequences of str
        The regions' names and letters.
    n_chromosomes : int
        Number of chromosomes (at most the number of sequences).
    spacer : int
        Spacer length in bp.
    spacer_kind : {"N", "random"}
        ``N`` runs, or random bases drawn from ``background``.
    background : sequence of 4 floats
        Letter frequencies of random spacers.
    seed : int
        Seed for random spacers.
    prefix : str
        Chromosome names are ``<prefix>1``, ``<prefix>2``, ...

    Returns
    -------
    chromosomes : dict of str to str
        Chromosome name to sequence.
    regions : pandas.DataFrame
        BED columns chrom, start (0-based), end (exclusive), name, score,
        strand (``+``), in input order.
    """
    if len(names) != len(sequences):
        raise SeqliftError("genome form: names and sequences differ in number")
    if spacer_kind not in ("N", "random"):
        raise SeqliftError(f"spacer kind must be 'N' or 'random', got {spacer_kind!r}")
    if spacer < 0:
        raise SeqliftError(f"spacer must be >= 0, got {spacer}")
    n = len(sequences)
    n_chromosomes = max(1, min(int(n_chromosomes), n)) if n else 1
    rng = np.random.default_rng(seed)
    bg = np.asarray(background, dtype=np.float64)
    bg = bg / bg.sum()

    def gap() -> str:
        if spacer_kind == "N":
            return "N" * spacer
        return "".join(ALPHABET[i] for i in rng.choice(4, size=spacer, p=bg))

    bounds = np.linspace(0, n, n_chromosomes + 1).round().astype(int)
    chromosomes: dict[str, str] = {}
    bed = []
    for c in range(n_chromosomes):
        chrom = f"{prefix}{c + 1}"
        parts = [gap()]
        pos = spacer
        for i in range(bounds[c], bounds[c + 1]):
            seq = sequences[i]
            bed.append((chrom, pos, pos + len(seq), names[i], 0, "+"))
            parts.append(seq)
            parts.append(gap())
            pos += len(seq) + spacer
        chromosomes[chrom] = "".join(parts)
    regions = pd.DataFrame.from_records(bed, columns=["chrom", "start", "end", "name", "score", "strand"])
    return chromosomes, regions


# ---------------------------------------------------------------------------
# files


def write_fasta(records: Iterable[tuple[str, str]], path: str | os.PathLike, width: int = 80) -> None:
    """Write (name, sequence) records as FASTA, wrapping lines at ``width`` (0: no wrap)."""
    with open(path, "w") as out:
        for name, seq in records:
            out.write(f">{name}\n")
            if width and width > 0:
                for i in range(0, len(seq), width):
                    out.write(seq[i : i + width] + "\n")
            else:
                out.write(seq + "\n")


def read_labels(path: str | os.PathLike) -> pd.DataFrame:
    """Read a labels TSV (name, class, task0, task1, task2, split).

    Only ``name`` and the three task columns are required.
    """
    try:
        frame = pd.read_csv(path, sep="\t", dtype={"name": str})
    except (OSError, pd.errors.ParserError) as err:
        raise SeqliftError(f"cannot read labels {path}: {err}") from None
    missing = [c for c in ("name",) + TASK_COLUMNS if c not in frame.columns]
    if missing:
        raise SeqliftError(f"labels {path}: missing column(s) {', '.join(missing)}")
    return frame


def read_instances(path: str | os.PathLike, require_motif: bool = True) -> pd.DataFrame:
    """Read a TSV of motif instances (name, motif, start, end[, strand, site]), e.g. a simulation's ground truth.

    ``start`` and ``end`` are 0-based offsets within the named sequence,
    ``end`` excluded. A missing ``strand`` column means ``+``; with
    ``require_motif=False`` (instances to box in a figure) a missing ``motif``
    column is filled with ``""``.
    """
    required = ("name", "motif", "start", "end") if require_motif else ("name", "start", "end")
    try:
        frame = pd.read_csv(path, sep="\t", dtype={"name": str, "motif": str, "strand": str, "site": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise SeqliftError(f"cannot read instances {path}: {err}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise SeqliftError(f"instances {path}: missing column(s) {', '.join(missing)} (needs {', '.join(required)})")
    if "motif" not in frame.columns:
        frame["motif"] = ""
    if "strand" not in frame.columns:
        frame["strand"] = "+"
    return frame


def write_simulation(
    sim: Simulation,
    outdir: str | os.PathLike,
    motifs: Sequence[Motif] | None = None,
    genome: bool = True,
    n_chromosomes: int = 4,
    spacer: int = 50,
    spacer_kind: str = "N",
    seed: int = 0,
) -> dict[str, Path]:
    """Write a simulation's files into ``outdir``.

    Files: ``sequences.fa``; ``labels.tsv`` (name, class, task0..2, split);
    ``instances.tsv`` (the ground truth); with ``genome``, ``genome.fa`` and
    ``regions.bed`` (name column = sequence name); with ``motifs``,
    ``motifs.meme``.

    Returns
    -------
    dict of str to Path
        Keys ``fasta``, ``labels``, ``instances``, and ``genome``, ``bed``,
        ``motifs`` when written.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"fasta": out / "sequences.fa", "labels": out / "labels.tsv", "instances": out / "instances.tsv"}
    write_fasta(zip(sim.names, sim.sequences), paths["fasta"], width=0)
    sim.labels_frame().to_csv(paths["labels"], sep="\t", index=False)
    sim.instances.to_csv(paths["instances"], sep="\t", index=False)
    if genome:
        chroms, regions = genome_form(sim.names, sim.sequences, n_chromosomes, spacer, spacer_kind, seed=seed)
        paths["genome"] = out / "genome.fa"
        paths["bed"] = out / "regions.bed"
        write_fasta(chroms.items(), paths["genome"], width=80)
        regions.to_csv(paths["bed"], sep="\t", index=False, header=False)
    if motifs is not None:
        paths["motifs"] = out / "motifs.meme"
        write_meme(motifs, paths["motifs"], comments=["# motifs used by seqlift simulate"])
    return paths


def read_paper_simdata(
    simdata: str | os.PathLike,
    test_names: str | os.PathLike | None = None,
) -> Simulation:
    """Read the DeepLIFT paper's released simulation (``sequences.simdata.gz``).

    The file is tab-separated with a header ``seqName sequence embeddings
    task1 task2 task3``; ``embeddings`` lists instances as
    ``pos-<start>_<motif>-<site>``, comma-separated, 0-based, forward strand.

    Parameters
    ----------
    simdata : path
        The (optionally gzipped) simdata file.
    test_names : path, optional
        File of test-set names, one a line (``test.txt.gz``); those sequences
        get split ``test`` and the others ``train``. Without it all are
        ``test``.

    Returns
    -------
    Simulation
        Classes are the name prefixes (``gata_tal1``, ``gata_only``,
        ``tal1_only``, ``empty``); motif names ``GATA_disc1``, ``TAL1_known1``
        unless the file names others.
    """
    path = Path(simdata)
    compressed = is_gzip(path, "simdata")
    names, seqs, labels, records = [], [], [], []
    motif_order: list[str] = []
    try:
        with open_text(path, compressed) as handle:
            header = handle.readline().rstrip("\n").split("\t")
            if header[:2] != ["seqName", "sequence"] or len(header) < 6:
                raise SeqliftError(f"{path}: not a simdata file (header {header[:3]})")
            for lineno, line in enumerate(handle, 2):
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 6:
                    raise SeqliftError(f"{path}, line {lineno}: expected 6 tab-separated fields")
                name, seq, emb = parts[0], parts[1].upper(), parts[2]
                names.append(name)
                seqs.append(seq)
                labels.append([int(float(v)) for v in parts[3:6]])
                for item in filter(None, emb.split(",")):
                    m = re.fullmatch(r"pos-(\d+)_(.+)-([ACGTNacgtn]+)", item.strip())
                    if not m:
                        raise SeqliftError(f"{path}, line {lineno}: cannot parse embedding {item!r}")
                    start, motif, site = int(m.group(1)), m.group(2), m.group(3).upper()
                    if motif not in motif_order:
                        motif_order.append(motif)
                    records.append((name, motif, start, start + len(site), "+", site))
    except OSError as err:
        raise SeqliftError(f"cannot read {path}: {err.strerror or err}") from None
    split = np.full(len(names), "test", dtype=object)
    if test_names is not None:
        tpath = Path(test_names)
        compressed = is_gzip(tpath, "test names")
        try:
            with open_text(tpath, compressed) as handle:
                wanted = {line.strip() for line in handle if line.strip()}
        except OSError as err:
            raise SeqliftError(f"cannot read {tpath}: {err.strerror or err}") from None
        split = np.where(np.isin(names, list(wanted)), "test", "train").astype(object)
    classes = np.array([re.sub(r"_\d+$", "", n) for n in names])
    gata = next((m for m in motif_order if m.upper().startswith("GATA")), "GATA_disc1")
    tal = next((m for m in motif_order if m.upper().startswith("TAL1")), "TAL1_known1")
    instances = pd.DataFrame.from_records(records, columns=list(INSTANCE_COLUMNS))
    return Simulation(names, seqs, classes, np.array(labels, dtype=np.int8), split.astype(str), instances, (gata, tal))
