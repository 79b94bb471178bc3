"""Join the shards of a score run into one set of outputs: ``seqlift merge``.

``seqlift score --shard I/N`` scores the I-th of N contiguous pieces of the
input rows. :func:`merge_shards` checks that the given shards come from the
same run (every parameter equal but the shard), that all N are there once
each, complete, and that their rows follow each other from the first input
row to the last; it then copies them, chunk by chunk (bounded memory), into
one score file and writes its derived outputs exactly as a whole run would
(:func:`seqlift.scoring.outputs.write_outputs`). The merged arrays equal those of an
unsharded run with the same parameters, bit for bit.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass

from seqlift.errors import SeqliftError
from seqlift.scoring.lock import OutputLock, lock_name
from seqlift.scoring.options import parameter_differences, parse_shard
from seqlift.scoring.outputs import (
    bigwig_available,
    check_not_an_input,
    check_output_prefix,
    discard,
    make_directories,
    output_names,
    partial_name,
    remove_empty,
    write_outputs,
)
from seqlift.scoring.space import failure_reason
from seqlift.scoring.store import ScoreStore

__all__ = ["merge_shards", "MergeResult", "SHARD_PARAMETERS"]

log = logging.getLogger("seqlift.scoring.merge")

#: parameters that differ between the shards of one run
SHARD_PARAMETERS = ("shard", "rows")


@dataclass
class MergeResult:
    """What a merge wrote: windows and dropped regions in all, and the output paths."""

    scored: int
    dropped: int
    shards: int
    paths: list[str]

    def summary(self) -> str:
        """One line for the log."""
        return (f"merged {self.shards} shards: {self.scored} regions scored, {self.dropped} dropped; "
                f"wrote {', '.join(self.paths)}")


def _score_file(prefix: str) -> str:
    """``PREFIX.h5`` (a path already ending in ``.h5`` is taken as it is)."""
    if prefix.endswith(".h5"):
        return prefix
    path = prefix + ".h5"
    if not os.path.exists(path) and os.path.exists(partial_name(path)):
        raise SeqliftError(f"{path} does not exist but {partial_name(path)} does: that shard's run did not finish "
                           "(finish it with seqlift score ... --resume)")
    return path


def _check_shards(stores: list[ScoreStore]) -> list[ScoreStore]:
    """The stores in shard order, after checking they make one complete run."""
    first = stores[0]
    for store in stores:
        if not store.complete:
            raise SeqliftError(f"{store.path} is not complete")
        if store.parameters.get("shard") is None:
            raise SeqliftError(f"{store.path} is not a shard (its run had no --shard); nothing to merge")
    for store in stores[1:]:
        differences = parameter_differences(first.parameters, store.parameters, ignore=SHARD_PARAMETERS)
        if differences:
            readable = "; ".join(d.replace("(now ", f"(in {store.path}: ") for d in differences)
            raise SeqliftError(f"{first.path} and {store.path} come from different runs: {readable}")
    shards = {}
    counts = set()
    for store in stores:
        index, count = parse_shard(store.parameters["shard"])
        counts.add(count)
        if index in shards:
            raise SeqliftError(f"{shards[index].path} and {store.path} are both shard {index}/{count}")
        shards[index] = store
    count = counts.pop()  # parameters are equal, so every shard says the same N
    missing = [str(i) for i in range(1, count + 1) if i not in shards]
    if missing:
        raise SeqliftError(f"shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} of {count} "
                           f"{'are' if len(missing) > 1 else 'is'} missing")
    ordered = [shards[i] for i in range(1, count + 1)]
    expected = 0
    for store in ordered:
        start, stop = store.rows
        if start != expected:
            raise SeqliftError(f"{store.path} covers input rows {start}-{stop} but the previous shard ends at "
                               f"row {expected}: the shards are not contiguous")
        expected = stop
    if expected != first.rows_total:
        raise SeqliftError(f"the shards cover input rows 0-{expected} of {first.rows_total}")
    return ordered


def merge_shards(prefixes: list[str], out: str, bigwig: bool | None = None) -> MergeResult:
    """Join shard outputs into the outputs of the whole run.

    Parameters
    ----------
    prefixes : list of str
        The shards' ``--out`` prefixes (or their ``.h5`` files), in any order.
    out : str
        Prefix of the merged outputs.
    bigwig : bool, optional
        Write bigWig files; default: if the shards were run with ``--bigwig``.

    Returns
    -------
    MergeResult

    Raises
    ------
    SeqliftError
        If a shard is missing, incomplete, duplicated, from another run, or
        not contiguous with the others, or ``out`` cannot be written. No
        output is left behind.
    """
    if not prefixes:
        raise SeqliftError("no shards given")
    check_output_prefix(out)
    paths = [_score_file(p) for p in prefixes]
    if len(set(map(os.path.abspath, paths))) != len(paths):
        raise SeqliftError("the same shard is given twice")
    for path in paths:
        if os.path.abspath(path[: -len(".h5")]) == os.path.abspath(out):
            raise SeqliftError(f"--out {out} is the prefix of the shard {path}: merging would overwrite it; "
                               "choose another --out")
    names = output_names(out, list(range(2)), True)
    written = [*names.values(), *(partial_name(n) for n in names.values()), lock_name(out),
               *output_names(out, [0], True).values()]
    check_not_an_input(written, {f"shard {p}": p for p in paths})
    created = make_directories(os.path.dirname(os.path.abspath(out)))
    try:
        with OutputLock(out, "seqlift merge"):
            return _merge(paths, out, bigwig)
    except BaseException:
        remove_empty(created)
        raise


def _merge(paths: list[str], out: str, bigwig: bool | None) -> MergeResult:
    """Check the shards at ``paths`` and write the merged outputs (the caller holds the lock on ``out``)."""
    with contextlib.ExitStack() as stack:
        stores = [stack.enter_context(ScoreStore.open(path)) for path in paths]
        ordered = _check_shards(stores)
        first = ordered[0]
        parameters = dict(first.parameters, shard=None, rows=[0, first.rows_total])
        write_bigwig = any(s.parameters.get("bigwig") for s in ordered) if bigwig is None else bigwig
        parameters["bigwig"] = write_bigwig
        if write_bigwig and not bigwig_available():
            raise SeqliftError("writing bigWig files needs the pyBigWig package (pip install pyBigWig)")
        h5_partial = partial_name(out + ".h5")
        try:
            with ScoreStore.create(h5_partial, parameters, first.tasks, first.width, first.chrom_sizes(),
                                   first.versions, (0, first.rows_total), first.rows_total) as merged:
                merged.file.attrs["merged_from"] = json.dumps([os.path.abspath(s.path) for s in ordered])
                for store in ordered:
                    merged.copy_chunks_from(store)
                if merged.n_windows == 0:
                    raise SeqliftError(f"every one of the {first.rows_total} regions was dropped in all shards; "
                                       "nothing to merge")
                merged.mark_complete()
                scored, dropped = merged.n_windows, merged.n_dropped
        except BaseException:
            discard([h5_partial])
            raise
    try:
        written = write_outputs(h5_partial, out, write_bigwig)
    except (OSError, RuntimeError) as err:  # RuntimeError: pyBigWig's
        discard([h5_partial])
        raise SeqliftError(f"writing the merged outputs failed ({failure_reason(err)}); nothing was written") from None
    except BaseException:
        discard([h5_partial])
        raise
    return MergeResult(scored, dropped, len(ordered), written)
