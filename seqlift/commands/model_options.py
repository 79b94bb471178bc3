"""Options every command taking ``--model`` shares: ``--lambda NAME=KIND`` (what a Lambda layer computes)."""
from __future__ import annotations

import argparse

from seqlift.model.lambdas import LAMBDA_KINDS, parse_lambda_options


def add_lambda_option(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--lambda NAME=KIND`` option (:mod:`seqlift.model.lambdas`)."""
    parser.add_argument(
        "--lambda", dest="lambdas", action="append", metavar="NAME=KIND",
        help="what the model's Lambda layer NAME computes (repeatable; NAME may be a pattern such as '*/profile'): "
             f"{', '.join(LAMBDA_KINDS)}; reductions and softmax over the last axis, or KIND:AXIS (the batch axis "
             "is 0), keeping the reduced axis unless KIND:AXIS:squeeze. ChromBPNet: "
             "logcount_predictions=logsumexp; BPNet: '*/profile=identity' '*/counts=identity'")


def lambdas_from(args: argparse.Namespace) -> dict[str, str] | None:
    """The ``--lambda`` declarations as ``{NAME: KIND}`` (None when there are none); bad ones raise one line."""
    return parse_lambda_options(args.lambdas) or None
