"""``seqlift bench``: run benchmark suites and print their tables.

A suite is a module exposing ``run(quick: bool) -> None`` that measures and
prints its own table; adding one is one line in :data:`SUITES`.
"""
from __future__ import annotations

import argparse
import importlib

from seqlift.bench.zoo import ZOO
from seqlift.errors import SeqliftError

#: suite name -> module exposing ``run(quick: bool) -> None``, in running order
SUITES = {
    "shuffle": "seqlift.bench.shuffle_bench",
    "engine": "seqlift.bench.engine_bench",
    "zoo": "seqlift.bench.zoo_bench",
    "score": "seqlift.bench.score_bench",
    "chrombpnet": "seqlift.bench.chrombpnet_bench",
    "profiles": "seqlift.bench.profile_targets_bench",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bench`` subcommand."""
    p = subparsers.add_parser(
        "bench",
        help="run benchmark suites",
        description="Run benchmark suites and print a table for each. Suites: "
        + ", ".join(SUITES)
        + " (default: all). With SEQLIFT_BENCH_ORACLES=1 the engine suite also times the"
        " original deeplift 0.6.13 and shap's DeepExplainer on the same pairs; the zoo suite times the engine on"
        " several architectures (SEQLIFT_BENCH_ZOO=basset,cnn1kb to choose some: "
        + ", ".join(ZOO) + ").",
    )
    p.add_argument("suites", nargs="*", metavar="SUITE", help=f"suite to run: {', '.join(SUITES)} (default: all)")
    p.add_argument("--quick", action="store_true", help="smaller, faster measurements")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen suites (all by default) in the order given; return 0."""
    names = list(args.suites) or list(SUITES)
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        raise SeqliftError(f"unknown suite {', '.join(map(repr, unknown))}; suites are {', '.join(SUITES)}")
    for index, name in enumerate(names):
        if index:
            print()
        print(f"== {name} ==", flush=True)
        importlib.import_module(SUITES[name]).run(quick=args.quick)
    return 0
