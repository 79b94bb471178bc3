"""``seqlift figure5``: the steps of the Figure 5b seeds experiment (run by the workflow's ``figure5`` target)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from seqlift.errors import SeqliftError

log = logging.getLogger("seqlift")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``figure5`` subcommand with its steps ``answers``, ``tables`` and ``splice``."""
    p = subparsers.add_parser(
        "figure5",
        help="steps of the Figure 5b seeds experiment (the workflow's figure5 target runs them)",
        description="The steps of the Figure 5b seeds experiment of docs/figure5_seeds.md. The workflow's figure5 "
        "target runs them after 'seqlift train-sim' and 'seqlift report'.",
    )
    steps = p.add_subparsers(dest="step", metavar="STEP", required=True)

    a = steps.add_parser(
        "answers",
        help="the model's own answers for one run",
        description="For one run: the ablation drop of every strong match in a both-motif sequence (REPORT/"
        "ablation.tsv) and the model's logits at the references (REPORT/model_answers.json).",
    )
    a.add_argument("--model", required=True,
                   help="the run's Keras model (.h5, .keras, or a JSON architecture with --weights)")
    a.add_argument("--weights", help="weights file for a JSON architecture")
    a.add_argument("--report", required=True,
                   help="the run's 'seqlift report' folder (reads matches.tsv, writes beside it)")
    a.add_argument("--fasta", help="the test sequences (train-sim's sequences.fa), with --labels")
    a.add_argument("--labels", help="their labels TSV (train-sim's labels.tsv)")
    a.add_argument("--paper-simdata", help="instead: the paper's sequences.simdata(.gz)")
    a.add_argument("--paper-test", help="with --paper-simdata: the paper's test.txt(.gz)")
    a.set_defaults(func=run_answers)

    t = steps.add_parser(
        "tables",
        help="collect the runs into the Markdown tables",
        description="Collect the runs' reports, answers and training metrics into Markdown tables. Columns: the "
        "demo, then the seeds in increasing order, then the paper's model.",
    )
    t.add_argument("--out", required=True, help="Markdown file to write")
    t.add_argument("--seed-run", nargs=3, action="append", default=[], metavar=("SEED", "REPORT", "METRICS"),
                   help="a seed: its seed, report folder and train-sim metrics.json (repeatable)")
    t.add_argument("--demo-run", nargs=2, metavar=("REPORT", "METRICS"),
                   help="the shipped demo model: its report folder and metrics.json")
    t.add_argument("--paper-run", metavar="REPORT", help="the paper's model: its report folder (a control, not pooled)")
    t.set_defaults(func=run_tables)

    s = steps.add_parser(
        "splice",
        help="put the tables into a document",
        description="Replace the block between <!-- figure5-tables[-NAME]:begin --> and <!-- "
        "figure5-tables[-NAME]:end --> of a Markdown document by the tables (appended when missing).",
    )
    s.add_argument("tables", help="the tables (from 'seqlift figure5 tables')")
    s.add_argument("doc", help="the document")
    s.add_argument("--block", help="NAME of the block (default: the unnamed block)")
    s.set_defaults(func=run_splice)


def run_answers(args: argparse.Namespace) -> int:
    """Compute and write one run's answers; return 0."""
    import pandas as pd

    from seqlift.groundtruth.figure5 import (
        model_answers,
        read_paper_sequences,
        read_simulated_sequences,
        write_model_answers,
    )
    from seqlift.model import load_model
    from seqlift.model_peek import check_model_files

    check_model_files(args.model, args.weights)
    if bool(args.paper_simdata) == bool(args.fasta or args.labels):
        raise SeqliftError("give the sequences one way: --fasta with --labels, or --paper-simdata")
    if args.paper_simdata:
        split = read_paper_sequences(args.paper_simdata, args.paper_test)
    elif not (args.fasta and args.labels):
        raise SeqliftError("--fasta needs --labels (and --labels needs --fasta)")
    else:
        split = read_simulated_sequences(args.fasta, args.labels)
    matches_path = Path(args.report) / "matches.tsv"
    if not matches_path.is_file():
        raise SeqliftError(f"{matches_path}: no such file (run 'seqlift report' first)")
    model = load_model(args.model, weights=args.weights) if args.weights else load_model(args.model)
    ablation, answers = model_answers(model, split, pd.read_csv(matches_path, sep="\t"))
    paths = write_model_answers(args.report, ablation, answers)
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return 0


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SeqliftError(f"--seed-run: the seed must be an integer, got {text!r}") from None


def run_tables(args: argparse.Namespace) -> int:
    """Read the runs and write the tables; return 0."""
    from seqlift.groundtruth.figure5 import PAPER_RUN, figure5_tables, read_run, read_seed_run

    if not (args.seed_run or args.demo_run):
        raise SeqliftError("give at least one --seed-run or --demo-run")
    keyed = []  # (seed, 0 for the demo else 1, run): the demo before a trained seed of the same number
    for seed, report, metrics in args.seed_run:
        keyed.append((_seed(seed), 1, read_seed_run(report, metrics, seed=_seed(seed))))
    if args.demo_run:
        demo = read_seed_run(*args.demo_run, demo=True)
        keyed.append((int(demo.metrics["seed"]), 0, demo))
    runs = [run for *_, run in sorted(keyed, key=lambda item: item[:2])]
    if args.paper_run:
        runs.append(read_run(PAPER_RUN, args.paper_run))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(figure5_tables(runs))
    partial.replace(out)
    log.info("wrote %s (%d runs)", out, len(runs))
    return 0


def run_splice(args: argparse.Namespace) -> int:
    """Replace the document's block by the tables; return 0."""
    from seqlift.groundtruth.figure5 import replace_block

    try:
        tables = Path(args.tables).read_text()
        doc = Path(args.doc)
        text = doc.read_text() if doc.exists() else "# Figure 5b over seeds\n"
    except OSError as err:
        raise SeqliftError(f"cannot read {err.filename}: {err.strerror}") from None
    partial = doc.with_name(doc.name + ".partial")
    partial.write_text(replace_block(text, tables, args.block))
    partial.replace(doc)
    log.info("wrote the tables of %s into %s", args.tables, doc)
    return 0
