"""``seqlift logo``: draw regions' contributions from a ``seqlift score`` output.

Regions are picked with ``--region`` (BED column 4), ``--row`` (0-based: line
``row + 1`` of ``PREFIX.regions.bed``) or ``--top K`` (per task); the figures
are drawn by :func:`seqlift.plots.scored_regions.draw_regions`. One figure
goes to ``--out FILE.png`` (or ``.pdf``, ``.svg``); several go to ``--out DIR``
with an ``index.tsv`` listing them.
"""
from __future__ import annotations

import argparse
import os
import sys

from seqlift.errors import SeqliftError
from seqlift.inputs import integer_option, non_negative_integer, positive_integer
from seqlift.plots import FORMATS

#: the highest resolution of raster figures (a wide window at more would take gigabytes)
MAX_DPI = 2400


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``logo`` subcommand."""
    p = subparsers.add_parser(
        "logo",
        help="draw a region's contributions as a logo (PNG, PDF or SVG) from a 'seqlift score' output",
        description="Draw the contributions of regions scored by 'seqlift score' as sequence logos (A green, "
        "C blue, G orange, T red; negative contributions below the axis), with the hypothetical "
        "contributions below. Pick regions with --region, --row or --top.",
    )
    p.add_argument("scores", metavar="SCORES", help="PREFIX.h5 of 'seqlift score' or 'seqlift merge' (or PREFIX)")
    pick = p.add_argument_group("regions (at least one of)")
    pick.add_argument("--region", action="append", default=[], metavar="NAME",
                      help="region name (BED column 4); repeatable")
    pick.add_argument("--row", action="append", default=[], type=non_negative_integer, metavar="I",
                      help="0-based row of the score arrays (line I+1 of PREFIX.regions.bed); repeatable")
    pick.add_argument("--top", type=positive_integer, metavar="K",
                      help="the K regions of each task with the largest target change from the references")
    p.add_argument("--task", default=None, metavar="T|all|I,J",
                   help="task(s) to draw: a target unit, a comma-separated list, or 'all' "
                        "(default: the first task scored)")
    p.add_argument("--zoom", metavar="A:B|CHROM:A-B",
                   help="draw only this part of the window: offsets A:B within it (0-based, end excluded) or "
                        "genome coordinates CHROM:A-B; an overview of the whole window is added above")
    p.add_argument("--instances", metavar="TSV",
                   help="motif instances to box: TSV with columns name, motif, start, end as offsets within "
                        "the scored window (the instances.tsv of 'seqlift simulate' for sequences scored at "
                        "their own length)")
    p.add_argument("--boxes", metavar="BED", help="intervals to box, in genome coordinates (BED; column 4 labels them)")
    p.add_argument("--no-hypothetical", action="store_true", help="leave out the hypothetical-contribution panel")
    p.add_argument("--out", required=True, metavar="FILE|DIR",
                   help="a .png, .pdf, .svg, .jpg or .tif file (or .jpeg, .tiff, .webp, .gif, .eps, .ps, .svgz) "
                        "for one figure; otherwise a folder for one file per region and task plus index.tsv")
    p.add_argument("--format", choices=FORMATS, default="png", metavar="FORMAT",
                   help="file format in folder output: png (default), pdf, svg, jpg, tif, ...")
    p.add_argument("--dpi", type=integer_option(minimum=1, maximum=MAX_DPI), default=100,
                   help=f"resolution of raster output, 1 to {MAX_DPI} dots per inch (default 100)")
    p.set_defaults(func=run)


def _score_path(text: str) -> str:
    if os.path.exists(text):
        return text
    if os.path.exists(text + ".h5"):
        return text + ".h5"
    raise SeqliftError(f"{text} does not exist (give PREFIX.h5 from seqlift score or seqlift merge)")


def run(args: argparse.Namespace) -> int:
    """Draw the figures and write them; return 0."""
    import matplotlib

    matplotlib.use("Agg")
    from seqlift.plots.scored_regions import draw_regions

    draw_regions(_score_path(args.scores), args.out, regions=args.region, rows=args.row, top=args.top,
                 task=args.task, zoom=args.zoom, instances=args.instances, boxes=args.boxes,
                 hypothetical=not args.no_hypothetical, file_format=args.format, dpi=args.dpi)
    if os.path.splitext(args.out)[1].lower().lstrip(".") in FORMATS and not os.path.isdir(args.out):
        print(args.out, file=sys.stdout)
    return 0
