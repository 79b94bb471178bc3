"""The ``seqlift`` command: one program, one subcommand per job.

Each subcommand lives in its own module, which defines ``register(subparsers)``
(adding its parser, with ``set_defaults(func=...)``) and the function that runs
it. Modules are listed in :data:`COMMANDS`; heavy imports (TensorFlow) happen
inside the run functions, so ``seqlift --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

from seqlift import __version__
from seqlift.errors import SeqliftError

#: modules that define a subcommand, in the order ``--help`` lists them
COMMANDS = [
    "seqlift.commands.score_cmd",
    "seqlift.commands.merge_cmd",
    "seqlift.commands.report_cmd",
    "seqlift.commands.logo_cmd",
    "seqlift.commands.simulate_cmd",
    "seqlift.commands.train_cmd",
    "seqlift.commands.figure5_cmd",
    "seqlift.commands.bench_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="seqlift",
        description="DeepLIFT contribution scores for Keras models of DNA sequence.",
    )
    parser.add_argument("--version", action="version", version=f"seqlift {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="seqlift: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except SeqliftError as err:
        print(f"seqlift {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"seqlift {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
