"""``seqlift simulate``: the paper's simulated sequences with ground truth."""
from __future__ import annotations

import argparse
import logging

from seqlift.errors import SeqliftError
from seqlift.groundtruth.motifs import background_text
from seqlift.inputs import check_output_folder, non_negative_integer, positive_integer
from seqlift.sequences.alphabet import PAPER_BACKGROUND

log = logging.getLogger("seqlift")


def _floats(text: str, n: int, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise SeqliftError(f"{what}: expected {n} numbers, got {text!r}") from None
    if len(values) != n:
        raise SeqliftError(f"{what}: expected {n} numbers, got {text!r}")
    return values


def add_motif_arguments(parser: argparse.ArgumentParser) -> None:
    """Options choosing two motifs from a MEME file (shared with train-sim)."""
    parser.add_argument(
        "--motifs",
        metavar="MEME",
        help="MEME minimal format file (default: the shipped data/motifs/jaspar2024_gata1_tal1.meme; "
        "data/motifs/encode_tal1_gata.meme holds the paper's GATA_disc1 and TAL1_known1)",
    )
    parser.add_argument(
        "--motif-names",
        nargs=2,
        metavar=("FIRST", "SECOND"),
        help="the two motifs (name or alt name), first = task 1 (e.g. GATA1), second = task 2 "
        "(e.g. TAL1); default: the file's first two",
    )


def add_simulation_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the simulation design (shared with train-sim)."""
    add_motif_arguments(parser)
    parser.add_argument("--n-per-class", type=positive_integer, default=2000, help="sequences in each of the 4 classes (default 2000)")
    parser.add_argument("--length", type=positive_integer, default=200, help="sequence length in bp (default 200)")
    paper = background_text(PAPER_BACKGROUND)
    parser.add_argument("--background", default=paper, help=f"A,C,G,T probabilities (default {paper})")
    parser.add_argument("--single-mean", type=float, default=2.0, help="Poisson mean of instance counts in one-motif classes (default 2)")
    parser.add_argument("--pair-mean", type=float, default=1.0, help="Poisson mean per motif in the two-motif class (default 1)")
    parser.add_argument("--min-count", type=non_negative_integer, default=1, help="smallest instance count (default 1)")
    parser.add_argument("--max-count", type=non_negative_integer, default=3, help="largest instance count (default 3)")
    parser.add_argument("--seed", type=non_negative_integer, default=0, help="random seed, 0 or more (default 0)")
    parser.add_argument("--split", default="0.8,0.1,0.1", help="train,valid,test fractions, stratified by class (default 0.8,0.1,0.1)")


def load_two_motifs(args: argparse.Namespace) -> list:
    """The two motifs chosen by ``--motifs`` and ``--motif-names``."""
    from seqlift.groundtruth.motifs import shipped_motifs, two_motifs

    return two_motifs(args.motifs or shipped_motifs(), args.motif_names)


def simulation_from_args(args: argparse.Namespace):
    """Run :func:`seqlift.groundtruth.simulate.simulate` with the parsed options; returns (simulation, motifs)."""
    from seqlift.groundtruth.motifs import parse_background
    from seqlift.groundtruth.simulate import simulate

    motifs = load_two_motifs(args)
    sim = simulate(
        motifs,
        n_per_class=args.n_per_class,
        length=args.length,
        background=parse_background(args.background),
        single_mean=args.single_mean,
        pair_mean=args.pair_mean,
        min_count=args.min_count,
        max_count=args.max_count,
        seed=args.seed,
        split=_floats(args.split, 3, "--split"),
    )
    return sim, motifs


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    p = subparsers.add_parser(
        "simulate",
        help="simulate the paper's GATA1/TAL1 sequences with ground truth",
        description="Simulate 4 classes of sequences (both motifs, first only, second only, neither) with "
        "motif instances sampled from their matrices; write sequences.fa, labels.tsv, instances.tsv "
        "(ground truth), motifs.meme, and a genome form (genome.fa + regions.bed).",
    )
    p.add_argument("outdir", help="output folder")
    add_simulation_arguments(p)
    p.add_argument("--splits", default="train,valid,test", help="which splits to write (default all), e.g. 'test'")
    p.add_argument("--no-genome", action="store_true", help="do not write genome.fa and regions.bed")
    p.add_argument("--chromosomes", type=positive_integer, default=4, help="synthetic chromosomes of the genome form (default 4)")
    p.add_argument("--spacer", type=non_negative_integer, default=50, help="bp between sequences in the genome form (default 50)")
    p.add_argument("--spacer-kind", choices=["N", "random"], default="N", help="spacer letters (default N)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Simulate and write the files; return 0."""
    from seqlift.groundtruth.simulate import write_simulation

    check_output_folder(args.outdir, "OUTDIR")
    sim, motifs = simulation_from_args(args)
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    sim = sim.subset(splits)
    paths = write_simulation(
        sim,
        args.outdir,
        motifs=motifs,
        genome=not args.no_genome,
        n_chromosomes=args.chromosomes,
        spacer=args.spacer,
        spacer_kind=args.spacer_kind,
        seed=args.seed,
    )
    log.info("wrote %d sequences, %d instances: %s", len(sim), len(sim.instances), ", ".join(str(p) for p in paths.values()))
    return 0
