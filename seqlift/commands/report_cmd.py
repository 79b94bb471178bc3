"""``seqlift report``: judge attribution methods against simulated ground truth (Figure 5)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from seqlift.errors import SeqliftError
from seqlift.groundtruth.methods import REPORT_METHODS
from seqlift.groundtruth.motifs import background_text
from seqlift.inputs import check_output_folder, integer_option, parse_tasks, positive_integer
from seqlift.model_peek import check_model_files
from seqlift.sequences.alphabet import PAPER_BACKGROUND

log = logging.getLogger("seqlift")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    paper = background_text(PAPER_BACKGROUND)
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
    src.add_argument("--regions", metavar="FILE", help="BED of regions (name column = sequence name), with "
                     "--genome, or FASTA of equal-length sequences: told apart by content, as by seqlift score")
    src.add_argument("--fasta", metavar="FILE", help="FASTA of equal-length sequences (the same as --regions)")
    src.add_argument("--bed", metavar="FILE", help="BED of regions, with --genome (the same as --regions)")
    src.add_argument("--genome", help="genome FASTA of BED regions")
    src.add_argument("--paper-simdata", help="the paper's sequences.simdata(.gz): sequences, labels and ground truth")
    src.add_argument("--paper-test", help="the paper's test.txt(.gz): names of its test set")
    p.add_argument("--labels", help="labels TSV (name, task0, task1, task2[, split]) from seqlift simulate")
    p.add_argument("--truth", help="ground-truth TSV of inserted instances (name, motif, start, end, strand)")
    p.add_argument("--split", help="keep only sequences of this split (labels' split column), e.g. test")
    p.add_argument("--motifs", help="MEME file (default: shipped JASPAR file; the ENCODE file for --paper-simdata)")
    p.add_argument("--motif-names", nargs=2, metavar=("FIRST", "SECOND"), help="motifs of task 1 and task 2 (default: the file's first two)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--methods", default=",".join(REPORT_METHODS), help=f"comma-separated (default: all of {', '.join(REPORT_METHODS)})")
    p.add_argument("--reference", choices=["flat", "shuffle", "zeros"], default="flat", help="reference of all methods but genomics_default_shuffled and ism (which has none; default flat)")
    p.add_argument("--flat-frequencies", default=paper, help=f"A,C,G,T of the flat reference (default {paper})")
    p.add_argument("--shuffles", type=positive_integer, default=10, help="dinucleotide shuffles per sequence (default 10)")
    p.add_argument("--ig-steps", type=positive_integer, default=10, help="integrated-gradients steps (default 10)")
    p.add_argument("--tasks", default="0,1,2", help="tasks to explain (default 0,1,2)")
    p.add_argument("--top-k", type=positive_integer, default=5, help="matches kept per sequence and motif (default 5)")
    p.add_argument("--strong", type=float, default=7.0, help="log-odds of a strong match (default 7)")
    p.add_argument("--scan-background", default=paper, help=f"A,C,G,T background of the log-odds (default {paper})")
    p.add_argument("--pseudocount", type=float, default=0.001, help="matrix smoothing P(1-c)+c/4 (default 0.001)")
    p.add_argument("--both-strands", action="store_true", help="scan both strands (default forward only)")
    p.add_argument("--unclipped-mask", action="store_true", help="the original notebook's masking (left-edge matches may count twice)")
    p.add_argument("--ci", choices=["wilson", "clopper-pearson"], default="wilson", help="binomial interval (default wilson)")
    p.add_argument("--batch-size", type=positive_integer, default=None, help="(sequence, reference) pairs per batch")
    p.add_argument("--seed", type=integer_option(), default=0, help="seed of the shuffles (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute the report and write its files; print the headline table; return 0."""
    from seqlift.groundtruth.dataset import load_dataset
    from seqlift.groundtruth.methods import method_scores, reference_for
    from seqlift.groundtruth.motifs import parse_background, shipped_motifs, two_motifs
    from seqlift.groundtruth.report import build_report, to_markdown, write_report
    from seqlift.groundtruth.scan import annotate_truth, find_matches

    if not args.model:
        raise SeqliftError("--model is required")
    check_model_files(args.model, args.weights)
    check_output_folder(args.out, "--out")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in REPORT_METHODS]
    if unknown or not methods:
        raise SeqliftError(f"unknown method(s) {unknown}; choose from {', '.join(REPORT_METHODS)}")
    tasks = parse_tasks(args.tasks, "--tasks", allow_all=False)
    given = [f"--{name}" for name in ("regions", "fasta", "bed") if getattr(args, name)]
    if len(given) > 1:
        raise SeqliftError(f"give the sequences one way: {' or '.join(given)}, not both")
    data = load_dataset(regions=args.regions or args.fasta or args.bed, genome=args.genome,
                        paper_simdata=args.paper_simdata, paper_test=args.paper_test, labels=args.labels,
                        truth=args.truth, split=args.split)
    motif_path = args.motifs or shipped_motifs(data.motif_file)
    motifs = two_motifs(motif_path, args.motif_names)
    matches = find_matches(
        data.x,
        motifs,
        data.names,
        k=args.top_k,
        background=parse_background(args.scan_background),
        pseudocount=args.pseudocount,
        both_strands=args.both_strands,
        clip=not args.unclipped_mask,
    )
    if data.truth is not None:
        matches = annotate_truth(matches, data.truth)

    from seqlift.model import load_model

    model = load_model(args.model, weights=args.weights) if args.weights else load_model(args.model)
    flat = parse_background(args.flat_frequencies)
    reference = reference_for(args.reference, flat, args.shuffles)
    scores = method_scores(model, data.x, methods, reference, args.shuffles, args.ig_steps, tasks, args.batch_size, args.seed)
    motif_names = (motifs[0].label, motifs[1].label)
    notes = {
        "model": args.model + (f" + {args.weights}" if args.weights else ""),
        "sequences": data.source,
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
    if "ism" in methods:
        notes["ism"] = "in-silico mutagenesis: every single-base substitution, no reference"
    report = build_report(
        matches, data.labels, scores, motif_names, strong=args.strong, ci=args.ci, notes=notes,
        method_labels=labels_shown, truth=data.truth, names=data.names,
    )
    paths = write_report(report, Path(args.out))
    sys.stdout.write(to_markdown(report.headline))
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return 0
