"""``seqlift report``: judge attribution methods against simulated ground truth (Figure 5)."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from seqlift.errors import SeqliftError

log = logging.getLogger("seqlift")

#: method keys of the report, in display order, with the engine method behind each
REPORT_METHODS = {
    "gradient": "gradient",
    "grad_x_input": "grad_x_input",
    "guided_backprop": "guided_backprop",
    "integrated_gradients": "integrated_gradients",
    "rescale": "rescale",
    "revealcancel": "revealcancel",
    "genomics_default": "genomics_default",
    "genomics_default_shuffled": "genomics_default",
}
PAPER_FLAT = (0.3, 0.2, 0.2, 0.3)


def reference_for(kind: str, frequencies: Sequence[float] = PAPER_FLAT, shuffles: int = 10) -> Any:
    """The ``references`` argument of :func:`seqlift.attribute` for a reference kind.

    Parameters
    ----------
    kind : {"flat", "shuffle", "zeros"}
        ``flat``: the letter frequencies at every position (the paper's
        choice, 0.3/0.2/0.2/0.3); ``shuffle``: ``shuffles`` dinucleotide
        shuffles of each sequence; ``zeros``: the all-zero input.
    frequencies : sequence of 4 floats
        Frequencies of the flat reference.
    shuffles : int
        Number of shuffles.
    """
    from seqlift import references

    if kind == "flat":
        return references.flat(tuple(frequencies))
    if kind == "shuffle":
        return int(shuffles)
    if kind == "zeros":
        return references.zeros()
    raise SeqliftError(f"unknown reference {kind!r}; use flat, shuffle or zeros")


def method_scores(
    model: Any,
    x: np.ndarray,
    methods: Sequence[str],
    reference: Any,
    shuffles: int = 10,
    ig_steps: int = 10,
    tasks: Sequence[int] = (0, 1, 2),
    batch_size: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per-position scores of every method: contributions summed over A, C, G, T.

    Parameters
    ----------
    model : seqlift Model, path or keras.Model
        Passed to :func:`seqlift.attribute`.
    x : numpy.ndarray
        (N, L, 4) one-hot sequences.
    methods : sequence of str
        Keys of :data:`REPORT_METHODS`. ``genomics_default_shuffled`` always
        uses ``shuffles`` dinucleotide shuffles; the others use ``reference``.
    reference : int, array or generator
        References of the other methods (see :func:`reference_for`).
    shuffles : int
        Shuffles of ``genomics_default_shuffled``.
    ig_steps : int
        Steps of integrated gradients.
    tasks : sequence of int
        Output units to explain (the pre-sigmoid logits by default).
    batch_size : int, optional
        Passed to :func:`seqlift.attribute`.
    seed : int
        Seed of the shuffles.

    Returns
    -------
    dict of str to numpy.ndarray
        Method key to (T, N, L) float32 scores.
    """
    from seqlift import attribute

    out: dict[str, np.ndarray] = {}
    for method in methods:
        if method not in REPORT_METHODS:
            raise SeqliftError(f"unknown method {method!r}; choose from {', '.join(REPORT_METHODS)}")
        refs = shuffles if method == "genomics_default_shuffled" else reference
        if method == "genomics_default_shuffled" and "genomics_default" in out and reference == shuffles:
            out[method] = out["genomics_default"]  # the same computation: --reference shuffle
            continue
        start = time.perf_counter()
        result = attribute(
            model,
            x,
            refs,
            method=REPORT_METHODS[method],
            task=list(tasks),
            batch_size=batch_size,
            seed=seed,
            steps=ig_steps,
        )
        contrib = np.asarray(result.contributions)
        if contrib.ndim == 3:
            contrib = contrib[None]
        out[method] = contrib.sum(axis=-1).astype(np.float32)
        log.info("%s: %d sequences in %.1f s", method, x.shape[0], time.perf_counter() - start)
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    p = subparsers.add_parser(
        "report",
        help="judge attribution methods on simulated ground truth (Figure 5)",
        description="Scan sequences for two motifs, score each top match with every attribution method, and "
        "report the share of strong matches with non-positive task-0 scores in two-motif sequences "
        "(Figure 5b), off-task positives and cooperativity, with scatter plots (Figure 5a), TSV, Markdown "
        "and one self-contained HTML page.",
    )
    p.add_argument("--model", help="Keras model (.h5, .keras, or a JSON architecture with --weights)")
    p.add_argument("--weights", help="weights file for a JSON architecture")
    src = p.add_argument_group("sequences (one of)")
    src.add_argument("--fasta", help="FASTA of equal-length sequences")
    src.add_argument("--bed", help="BED of regions (name column = sequence name), with --genome")
    src.add_argument("--genome", help="genome FASTA for --bed")
    src.add_argument("--paper-simdata", help="the paper's sequences.simdata(.gz): sequences, labels and ground truth")
    src.add_argument("--paper-test", help="the paper's test.txt(.gz): names of its test set")
    p.add_argument("--labels", help="labels TSV (name, task0, task1, task2[, split]) from seqlift simulate")
    p.add_argument("--truth", help="ground-truth TSV of inserted instances (name, motif, start, end, strand)")
    p.add_argument("--split", help="keep only sequences of this split (labels' split column), e.g. test")
    p.add_argument("--motifs", help="MEME file (default: shipped JASPAR file; the ENCODE file for --paper-simdata)")
    p.add_argument("--motif-names", nargs=2, metavar=("FIRST", "SECOND"), help="motifs of task 1 and task 2 (default: the file's first two)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--methods", default=",".join(REPORT_METHODS), help=f"comma-separated (default: all of {', '.join(REPORT_METHODS)})")
    p.add_argument("--reference", choices=["flat", "shuffle", "zeros"], default="flat", help="reference of all methods but genomics_default_shuffled (default flat)")
    p.add_argument("--flat-frequencies", default="0.3,0.2,0.2,0.3", help="A,C,G,T of the flat reference (default 0.3,0.2,0.2,0.3)")
    p.add_argument("--shuffles", type=int, default=10, help="dinucleotide shuffles per sequence (default 10)")
    p.add_argument("--ig-steps", type=int, default=10, help="integrated-gradients steps (default 10)")
    p.add_argument("--tasks", default="0,1,2", help="tasks to explain (default 0,1,2)")
    p.add_argument("--top-k", type=int, default=5, help="matches kept per sequence and motif (default 5)")
    p.add_argument("--strong", type=float, default=7.0, help="log-odds of a strong match (default 7)")
    p.add_argument("--scan-background", default="0.3,0.2,0.2,0.3", help="A,C,G,T background of the log-odds (default 0.3,0.2,0.2,0.3)")
    p.add_argument("--pseudocount", type=float, default=0.001, help="matrix smoothing P(1-c)+c/4 (default 0.001)")
    p.add_argument("--both-strands", action="store_true", help="scan both strands (default forward only)")
    p.add_argument("--unclipped-mask", action="store_true", help="the original notebook's masking (left-edge matches may count twice)")
    p.add_argument("--ci", choices=["wilson", "clopper-pearson"], default="wilson", help="binomial interval (default wilson)")
    p.add_argument("--batch-size", type=int, default=None, help="(sequence, reference) pairs per batch")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffles (default 0)")
    p.set_defaults(func=run)


def _load_inputs(args: argparse.Namespace):
    """(names, one-hot x, labels (N, 3), truth frame or None, default motif file, source text)."""
    from seqlift.groundtruth.simulate import (
        TASK_COLUMNS,
        read_fasta,
        read_instances,
        read_labels,
        read_paper_simdata,
    )
    from seqlift.sequences.onehot import one_hot

    given = [bool(args.fasta), bool(args.bed or args.genome), bool(args.paper_simdata)]
    if sum(given) != 1:
        raise SeqliftError("give the sequences one way: --fasta, --bed with --genome, or --paper-simdata")
    if args.paper_simdata:
        sim = read_paper_simdata(args.paper_simdata, args.paper_test)
        if args.split:
            sim = sim.subset(args.split)
        elif args.paper_test:
            sim = sim.subset("test")
        truth = read_instances(args.truth) if args.truth else sim.instances
        x = one_hot(sim.sequences)
        return sim.names, x, sim.labels, truth, "encode_tal1_gata.meme", f"{args.paper_simdata} ({len(sim)} sequences)"
    if not args.labels:
        raise SeqliftError("--labels is required with --fasta or --bed (the class of each sequence)")
    labels = read_labels(args.labels)
    if args.fasta:
        records = read_fasta(args.fasta)
        names = list(records)
        lengths = {len(s) for s in records.values()}
        if len(lengths) != 1:
            raise SeqliftError(f"{args.fasta}: sequences must all have the same length, found {sorted(lengths)[:5]}")
        seqs = [records[n] for n in names]
        x = one_hot(seqs)
        source = args.fasta
    else:
        if not (args.bed and args.genome):
            raise SeqliftError("--bed needs --genome (and --genome needs --bed)")
        from seqlift.genome.regions import read_bed
        from seqlift.genome.windows import load_regions

        first = next(iter(next(iter(read_bed(args.bed, chunk_size=1)), [])), None)
        if first is None:
            raise SeqliftError(f"{args.bed}: no regions")
        width = first.end - first.start
        chunks = list(load_regions(args.bed, args.genome, width=width, off_chrom="error"))
        x = np.concatenate([c.onehot for c in chunks]) if chunks else np.zeros((0, width, 4), np.float32)
        names = [str(n) for c in chunks for n in c.windows["name"]]
        source = f"{args.bed} on {args.genome}"
    frame = labels.set_index(labels["name"].astype(str))
    missing = [n for n in names if n not in frame.index]
    if missing:
        raise SeqliftError(f"{args.labels}: no labels for {len(missing)} sequence(s), e.g. {missing[0]!r}")
    keep = np.ones(len(names), dtype=bool)
    if args.split:
        if "split" not in frame.columns:
            raise SeqliftError(f"{args.labels}: no split column for --split")
        keep = frame.loc[names, "split"].astype(str).to_numpy() == args.split
        if not keep.any():
            raise SeqliftError(f"no sequence of split {args.split!r}")
    names = [n for n, k in zip(names, keep) if k]
    x = x[keep]
    y = frame.loc[names, list(TASK_COLUMNS)].to_numpy().astype(np.int8)
    truth = read_instances(args.truth) if args.truth else None
    if truth is not None:
        truth = truth[truth["name"].astype(str).isin(set(names))]
    return names, x, y, truth, "jaspar2024_gata1_tal1.meme", f"{source} ({len(names)} sequences)"


def run(args: argparse.Namespace) -> int:
    """Compute the report and write its files; print the headline table; return 0."""
    from seqlift.groundtruth.motifs import (
        parse_background,
        read_meme,
        select_motifs,
        shipped_motifs,
    )
    from seqlift.groundtruth.report import build_report, to_markdown, write_report
    from seqlift.groundtruth.scan import annotate_truth, find_matches

    if not args.model:
        raise SeqliftError("--model is required")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in REPORT_METHODS]
    if unknown or not methods:
        raise SeqliftError(f"unknown method(s) {unknown}; choose from {', '.join(REPORT_METHODS)}")
    try:
        tasks = [int(t) for t in args.tasks.split(",") if t.strip()]
    except ValueError:
        raise SeqliftError(f"--tasks {args.tasks!r}: expected comma-separated integers") from None
    names, x, labels, truth, default_motifs, source = _load_inputs(args)
    motif_path = args.motifs or shipped_motifs(default_motifs)
    motifs = read_meme(motif_path)
    motifs = select_motifs(motifs, args.motif_names) if args.motif_names else motifs[:2]
    if len(motifs) != 2:
        raise SeqliftError(f"{motif_path}: the report needs 2 motifs")
    matches = find_matches(
        x,
        motifs,
        names,
        k=args.top_k,
        background=parse_background(args.scan_background),
        pseudocount=args.pseudocount,
        both_strands=args.both_strands,
        clip=not args.unclipped_mask,
    )
    if truth is not None:
        matches = annotate_truth(matches, truth)

    from seqlift.model import load_model

    model = load_model(args.model, weights=args.weights) if args.weights else load_model(args.model)
    flat = parse_background(args.flat_frequencies)
    reference = reference_for(args.reference, flat, args.shuffles)
    scores = method_scores(model, x, methods, reference, args.shuffles, args.ig_steps, tasks, args.batch_size, args.seed)
    motif_names = (motifs[0].label, motifs[1].label)
    notes = {
        "model": args.model + (f" + {args.weights}" if args.weights else ""),
        "sequences": source,
        "motifs": f"{motif_path}: {motif_names[0]} (task 1), {motif_names[1]} (task 2)",
        "reference": args.reference + (f" {args.flat_frequencies}" if args.reference == "flat" else f" ({args.shuffles} shuffles)" if args.reference == "shuffle" else ""),
        "genomics_default_shuffled": f"{args.shuffles} dinucleotide shuffles, seed {args.seed}",
        "integrated gradients steps": args.ig_steps,
        "scan": f"top {args.top_k} per sequence and motif, {'both strands' if args.both_strands else 'forward strand'}, "
        f"log-odds (natural log) against {args.scan_background}, pseudocount {args.pseudocount}, "
        f"mask {'unclipped (notebook)' if args.unclipped_mask else 'clipped at 0'}",
        "strong match": f"log-odds >= {args.strong:g}",
        "interval": f"95% {args.ci}",
        "targets": "pre-sigmoid outputs, tasks " + ",".join(map(str, tasks)),
    }
    labels_shown = {
        "integrated_gradients": f"integrated gradients ({args.ig_steps} steps)",
        "genomics_default_shuffled": f"genomics default, {args.shuffles} dinucleotide shuffles",
    }
    report = build_report(
        matches, labels, scores, motif_names, strong=args.strong, ci=args.ci, notes=notes, method_labels=labels_shown
    )
    paths = write_report(report, Path(args.out))
    sys.stdout.write(to_markdown(report.headline))
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return 0
