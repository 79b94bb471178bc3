"""``seqlift train-sim``: simulate, train the paper's model, and write the demo data."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from seqlift.commands.simulate_cmd import add_simulation_arguments, simulation_from_args
from seqlift.errors import SeqliftError
from seqlift.inputs import check_output_folder, non_negative_integer, positive_integer

log = logging.getLogger("seqlift")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train-sim`` subcommand."""
    p = subparsers.add_parser(
        "train-sim",
        help="train the paper's model on the GATA1/TAL1 simulation",
        description="Simulate the paper's data (same options as 'seqlift simulate'), train the paper's "
        "architecture with a fixed seed and early stopping on the validation split, print the test auROC "
        "per task, and write OUTDIR/model.h5, the test split as FASTA + genome form (genome.fa, regions.bed), "
        "labels.tsv, instances.tsv, motifs.meme and metrics.json.",
    )
    p.add_argument("outdir", help="output folder")
    add_simulation_arguments(p)
    p.add_argument("--epochs", type=positive_integer, default=100, help="most epochs (default 100)")
    p.add_argument("--batch-size", type=positive_integer, default=128, help="mini-batch size (default 128)")
    p.add_argument("--patience", type=non_negative_integer, default=8, help="early-stopping patience in epochs (default 8)")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (default 0.001)")
    p.add_argument("--model-name", default="model.h5", help="file name of the saved model (default model.h5)")
    p.add_argument("--min-auroc", type=float, default=None, help="fail (exit 1) when the task-0 test auROC is below this")
    p.add_argument("--chromosomes", type=positive_integer, default=2, help="chromosomes of the test split's genome form (default 2)")
    p.add_argument("--spacer", type=non_negative_integer, default=20, help="bp of N between test sequences in the genome form (default 20)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Simulate, train, evaluate, save; return 0 (1 when below ``--min-auroc``)."""
    from seqlift.groundtruth.simulate import write_simulation
    from seqlift.groundtruth.train import (
        describe_tasks,
        save_model_h5,
        task_aurocs,
        train_paper_model,
    )
    from seqlift.sequences.onehot import one_hot

    check_output_folder(args.outdir, "OUTDIR")
    sim, motifs = simulation_from_args(args)
    parts = {s: sim.subset(s) for s in ("train", "valid", "test")}
    for name, part in parts.items():
        if len(part) == 0:
            raise SeqliftError(f"the {name} split is empty; change --split or --n-per-class")
    x = {s: one_hot(p.sequences) for s, p in parts.items()}
    log.info("training on %d sequences, validating on %d", len(parts["train"]), len(parts["valid"]))
    result = train_paper_model(
        x["train"],
        parts["train"].labels,
        x["valid"],
        parts["valid"].labels,
        epochs=args.epochs,
        batch_size=args.batch_size,
        patience=args.patience,
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    aucs = task_aurocs(result.model, x["test"], parts["test"].labels)
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / args.model_name
    save_model_h5(result.model, model_path)
    write_simulation(
        parts["test"],
        out,
        motifs=motifs,
        genome=True,
        n_chromosomes=args.chromosomes,
        spacer=args.spacer,
        spacer_kind="N",
        seed=args.seed,
    )
    metrics = {
        "test_auroc": aucs,
        "epochs_run": result.epochs,
        "best_epoch": result.best_epoch,
        "training_seconds": round(result.seconds, 1),
        "n_train": len(parts["train"]),
        "n_valid": len(parts["valid"]),
        "n_test": len(parts["test"]),
        "motifs": list(sim.motif_names),
        "seed": args.seed,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    for label, auc in zip(describe_tasks(sim.motif_names), aucs):
        print(f"test auROC {label}: {auc:.4f}", file=sys.stdout)
    print(
        f"trained {result.epochs} epochs (best {result.best_epoch}) in {result.seconds:.0f} s; model: {model_path}",
        file=sys.stdout,
    )
    if args.min_auroc is not None and not aucs[0] >= args.min_auroc:
        raise SeqliftError(f"task-0 test auROC {aucs[0]:.4f} is below --min-auroc {args.min_auroc}")
    return 0
