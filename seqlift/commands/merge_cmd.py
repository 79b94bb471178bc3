"""``seqlift merge``: join the shards of a ``seqlift score --shard`` run."""
from __future__ import annotations

import argparse
import logging

log = logging.getLogger("seqlift")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``merge`` subcommand."""
    p = subparsers.add_parser(
        "merge",
        help="join the outputs of 'seqlift score --shard I/N' runs into one set",
        description="Join the outputs of the N shards of one 'seqlift score --shard I/N' run into the outputs "
        "of the whole run (PREFIX.h5, .ohe.npz, .hyp.npz, .regions.bed, .dropped.tsv, and .bw when the shards "
        "were run with --bigwig). The shards must come from the same run parameters, all N of them, each "
        "complete; rows come out in input order, equal to an unsharded run's.",
    )
    p.add_argument("shards", nargs="+", metavar="SHARD_PREFIX", help="--out prefix (or .h5 file) of each shard")
    p.add_argument("--out", required=True, metavar="PREFIX", help="prefix of the merged outputs")
    p.add_argument("--bigwig", action="store_true", default=None,
                   help="write PREFIX.bw even if the shards were run without --bigwig")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``seqlift merge`` with parsed arguments; return 0."""
    from seqlift.scoring.merge import merge_shards

    result = merge_shards(list(args.shards), args.out, bigwig=args.bigwig)
    log.info("%s", result.summary())
    return 0
