"""The ``seqlift`` command: one program, one subcommand per job.

Each subcommand lives in its own module, which defines ``register(subparsers)``
(adding its parser, with ``set_defaults(func=...)``) and the function that runs
it. Modules are listed in :data:`COMMANDS`; heavy imports (TensorFlow) happen
inside the run functions, so ``seqlift --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from seqlift import __version__
from seqlift.errors import SeqliftError, UnclosableFileError

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


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, and where the help is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = _Parser(
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
    """Run the command line; return the process exit status.

    A :class:`~seqlift.errors.SeqliftError` is printed as one line and gives
    status 1; so do an operating-system error (a full disk, a file where a
    folder must be; with ``-v`` its traceback is shown) and running out of
    memory. After an
    :class:`~seqlift.errors.UnclosableFileError` the process ends at once
    (``os._exit``), since closing the damaged file at interpreter exit would
    crash it.
    """
    from seqlift import console

    parser = build_parser()
    args = parser.parse_args(argv)
    console.configure(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except SeqliftError as err:
        print(f"seqlift {args.command}: error: {err}", file=sys.stderr)
        if isinstance(err, UnclosableFileError):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        return 1
    except OSError as err:  # the machine's fault, not seqlift's: a full disk, a file where a folder must be
        if args.verbose:
            raise
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"seqlift {args.command}: error: {err.strerror or err}{where} (-v shows where it happened)",
              file=sys.stderr)
        return 1
    except MemoryError as err:
        print(f"seqlift {args.command}: error: not enough memory ({err or 'MemoryError'}); "
              "ask for less (smaller sizes, counts or batches)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"seqlift {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
