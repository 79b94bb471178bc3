"""``seqlift score``: contribution scores for every region of a BED file."""
from __future__ import annotations

import argparse
import logging

from seqlift.commands.model_options import add_lambda_option, lambdas_from
from seqlift.engine.methods import METHODS
from seqlift.inputs import fraction_option, integer_option, positive_integer

log = logging.getLogger("seqlift")

DESCRIPTION = """\
Score every region of REGIONS (BED or narrowPeak, plain or gzip; or a FASTA of
sequences of the model's length) with DeepLIFT against dinucleotide-shuffled
references. Each region becomes a window of the model's input length centred on
its summit (narrowPeak column 10) or midpoint, read on the genome's forward
strand.

What is explained: --target (default unit: the units --task of the model's
output, or of its pre-activation logit). For BPNet and ChromBPNet models
(a profile and a counts output): --target profile,counts, both heads sharing
the forward passes and the references. A model with several outputs needs
--output NAME or targets that name theirs (KIND@OUTPUT); Lambda layers need
--lambda NAME=KIND (ChromBPNet: --lambda logcount_predictions=logsumexp).

Outputs, row i of each for the i-th scored window:
  PREFIX.h5             sequences, contributions and hypothetical contributions
                        per target, residuals, windows, parameters (gzip HDF5)
  PREFIX.ohe.npz        one-hot sequences (N, 4, L)      } for modisco motifs
  PREFIX.hyp.npz        hypothetical contributions       } -s ... -a ...
                        (PREFIX.<target>.hyp.npz per target with several:
                        PREFIX.task<k>, PREFIX.profile, PREFIX.counts, ...)
  PREFIX.regions.bed    the scored windows (narrowPeak, summit column), then
                        column 11: the window's unknown bases (not A, C, G, T)
  PREFIX.dropped.tsv    regions not scored, and why
  PREFIX.bw             with --bigwig: per-base contributions (sum over bases)
With --layout chrombpnet, ChromBPNet's files instead of the .npz:
  PREFIX.<target>_scores.h5       raw/seq, shap/seq, projected_shap/seq
                                  (N, 4, L), for modisco motifs -i
  PREFIX.interpreted_regions.bed  the scored windows
  PREFIX.<target>_scores.bw       with --bigwig

Files appear only when finished. An interrupted run (Ctrl-C, SIGTERM, a full
disk, a region with non-finite scores) keeps PREFIX.h5.partial; run the same
command with --resume to continue it. One run at a time writes a prefix
(PREFIX.lock). Arrays are bit-identical whatever the batch size, chunking,
sharding or resuming. Off a terminal a progress line is logged every 60 s
($SEQLIFT_PROGRESS_SECONDS).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``score`` subcommand."""
    p = subparsers.add_parser(
        "score",
        help="score the regions of a BED file (HDF5, modisco npz, BED, bigWig outputs)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("regions", metavar="REGIONS", help="BED/narrowPeak file, or FASTA of fixed-length sequences")
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="Keras model file (.keras, .h5, or a Keras 2 JSON config with --weights)")
    p.add_argument("--weights", metavar="FILE",
                   help="weights file (.h5) of a JSON model config, or weights replacing those of the model file")
    p.add_argument("--genome", metavar="FASTA",
                   help="genome FASTA for BED input (default: $SEQLIFT_GENOME); not needed for FASTA input")
    p.add_argument("--shuffles", type=positive_integer, default=10, metavar="S",
                   help="dinucleotide-shuffled references per sequence (default 10)")
    p.add_argument("--method", default="genomics_default",
                   help=f"attribution method: {', '.join(METHODS)} (default genomics_default); 'ism' is "
                        "in-silico mutagenesis (every single-base substitution, no references: --shuffles unused)")
    p.add_argument("--ism-window", metavar="START:END",
                   help="with --method ism: mutate only positions START to END-1 of each window (0-based, forward "
                        "strand); the others score 0. Default: every position")
    p.add_argument("--task", default=None, metavar="all|I,J",
                   help="units to explain with --target unit: 'all' (default; refused beyond 64 units unless "
                        "given) or indices such as 0,2")
    p.add_argument("--target-layer", metavar="NAME",
                   help="node to explain (default: the output's pre-activation logit)")
    p.add_argument("--output", metavar="NAME",
                   help="model output to explain (a name or an index); needed for a model with several outputs "
                        "unless --target names them")
    p.add_argument("--target", metavar="KIND[,KIND...]",
                   help="what to explain, comma-separated, sharing the forward passes: unit (default), sum, "
                        "profile, profile_chrombpnet, profile_rescale, counts (the sum of a BPNet-style model's "
                        "counts output); KIND@OUTPUT names the output (see docs/targets.md)")
    add_lambda_option(p)
    p.add_argument("--width", type=positive_integer, metavar="W",
                   help="window width (default: the model's input length; must agree with it; needed for a model "
                        "that accepts any length)")
    p.add_argument("--off-chrom", choices=("drop", "pad", "error"), default="drop",
                   help="windows running off a chromosome end: drop (default, listed in PREFIX.dropped.tsv), "
                        "pad with N, or error")
    p.add_argument("--revcomp", choices=("none", "average"), default="none",
                   help="'average': also score each reverse complement (against the reverse complements of "
                        "the same references) and average the two, mapped to the forward strand")
    p.add_argument("--seed", type=integer_option(), default=0,
                   help="seed of the shuffles, a 64-bit signed integer (default 0)")
    p.add_argument("--max-unknown", type=fraction_option, default=1.0, metavar="F",
                   help="do not score windows with more than this fraction of unknown bases (N, IUPAC codes, "
                        "padding), list them in PREFIX.dropped.tsv (default 1: score all)")
    p.add_argument("--nonfinite", choices=("error", "drop"), default="error",
                   help="regions whose scores are not finite (the model outputs NaN or infinity): stop the run "
                        "naming them, keeping the finished chunks (error, default), or list them in "
                        "PREFIX.dropped.tsv (drop)")
    p.add_argument("--batch-size", type=positive_integer, metavar="N",
                   help="SEQUENCES per model pass; each pass evaluates N x S (sequence, reference) pairs "
                        "(twice with --revcomp average). Default: as many as fit in about 2 GiB of "
                        "activations (at most 256 pairs). Changes memory and speed, never the results")
    p.add_argument("--chunk-size", type=positive_integer, metavar="N",
                   help="regions read, scored and written at a time, the unit of resuming (default about "
                        "1000, fewer for long windows or many tasks; rounded up to a multiple of the batch "
                        "size); does not change the results")
    p.add_argument("--out", metavar="PREFIX",
                   help="output prefix (default: REGIONS' name without extension, in the current directory)")
    p.add_argument("--bigwig", action="store_true", help="also write PREFIX.bw (needs pyBigWig)")
    p.add_argument("--layout", choices=("seqlift", "chrombpnet"), default="seqlift",
                   help="derived files: seqlift's (default; .npz for modisco -s/-a) or ChromBPNet's "
                        "(PREFIX.<target>_scores.h5 for modisco -i, PREFIX.interpreted_regions.bed)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run kept in PREFIX.h5.partial (same parameters required)")
    p.add_argument("--shard", metavar="I/N",
                   help="score only the I-th of N contiguous pieces of the input rows (1-based); "
                        "join the pieces with 'seqlift merge'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``seqlift score`` with parsed arguments; return 0."""
    from seqlift.scoring.options import ScoreOptions
    from seqlift.scoring.run import score

    options = ScoreOptions(
        regions=args.regions, model=args.model, weights=args.weights, out=args.out, genome=args.genome,
        shuffles=args.shuffles, method=args.method, task=args.task, target_layer=args.target_layer, width=args.width,
        off_chrom=args.off_chrom, revcomp=args.revcomp, seed=args.seed, max_unknown=args.max_unknown,
        nonfinite=args.nonfinite, batch_size=args.batch_size, chunk_size=args.chunk_size, bigwig=args.bigwig,
        resume=args.resume, shard=args.shard, ism_window=args.ism_window, output=args.output, target=args.target,
        lambdas=lambdas_from(args), layout=args.layout,
    )
    result = score(options)
    log.info("%s", result.summary())
    return 0
