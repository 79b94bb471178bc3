"""Score a BED file (or a FASTA of sequences) end to end: ``seqlift score``.

:func:`score` checks everything it can before writing anything (options,
output directory, the regions file and genome, the model, its input shape,
the tasks), then streams the input in chunks of regions: each chunk is
fetched from the genome, one-hot encoded, scored with
:func:`seqlift.engine.attribute` and appended to ``PREFIX.h5.partial``
(:class:`~seqlift.scoring.store.ScoreStore`) with a record that it is done.
When every chunk is in, the derived outputs are written and published
(:func:`seqlift.scoring.outputs.write_outputs`). Memory is bounded by the chunk size
and the batch size, whatever the number of regions.

Reproducibility
---------------
The references of a sequence depend only on the sequence and the seed
(:mod:`seqlift.sequences.shuffle`), and the engine computes each (sequence, reference)
pair with kernels whose result for a row does not depend on the batch
(:mod:`seqlift.model.invariant`), summing over references in a fixed order.
The arrays are therefore bit for bit identical whatever the batch size, and
whether the input is scored whole, in shards, in chunks of any size or resumed
after an interruption. As a second guard, the sequences are scored in *passes
aligned to the input*: pass ``g`` holds the input rows ``g*B .. g*B+B-1``
(``B`` the batch size, in sequences), each in its own slot, with all-zero
sequences in the slots of dropped rows, of rows outside the run (another
shard's, or already done) and past the end, so every call has the same shapes.

Each pass evaluates ``B * S`` (sequence, reference) pairs (twice with
``revcomp="average"``), ``S`` the number of shuffles. In-silico mutagenesis
(``method="ism"``) makes no references: each pass scores ``B`` sequences,
three forward passes per position of its window (``ism_window``, mirrored on
the reverse strand so that both strands mutate the same bases).

Reverse complements
-------------------
With ``revcomp="average"`` each sequence ``x`` is also scored as its reverse
complement ``x[::-1, ::-1]`` against the reverse complements of its own
references (``r[..., ::-1, ::-1]`` for every shuffle ``r`` of ``x``: a
dinucleotide shuffle of ``x`` reverse-complemented is one of the reverse
complement, and pairing them keeps the two strands' references in
correspondence), and the two results are averaged after mapping the reverse
strand's back (``a[..., ::-1, ::-1]``). Residuals and target differences are
averaged too. Windows are otherwise always read on the genome's forward
strand, whatever the BED strand column says, so that the scores line up
with genome coordinates.

Unknown bases and non-finite scores
-----------------------------------
Bases that are not A, C, G or T (``N``, IUPAC codes, padding off a contig)
are all-zero rows; each window's count is recorded (``windows/unknown``,
column 11 of ``PREFIX.regions.bed``) and the run's log says how many scored
regions have any. Windows with a larger share than ``max_unknown`` are not
scored but listed in ``PREFIX.dropped.tsv``. A region whose scores are not
finite (the model's output is NaN or infinite on it or on its references)
stops the run with one line naming the regions (``nonfinite="error"``),
keeping the finished chunks; with ``nonfinite="drop"`` it is listed in
``PREFIX.dropped.tsv`` instead. No output ever holds a NaN score.

Interruption, full disks and resuming
-------------------------------------
One run at a time writes a prefix's files: :class:`~seqlift.scoring.lock.OutputLock`
is taken before anything is read or written there. Ctrl-C and SIGTERM (what
SLURM and Snakemake send first) stop the run between two HDF5 writes; the
partial file then holds every completed chunk and ``resume=True`` continues
from the last one, refusing if any parameter differs. So does a full disk:
the space of each chunk is reserved before it is written
(:mod:`seqlift.scoring.space`), and the run stops with one line, keeping the
chunks before. A chunk is recorded as done only once its data are on disk;
resuming reads every recorded chunk back against its checksum and scores
again those that do not match (:meth:`~seqlift.scoring.store.ScoreStore.verified_chunks`),
so a hard kill (SIGKILL) or a failed write never leaves wrong rows behind. A
run that fails on its input removes its partial file: nothing is left behind.

For tests, the environment variable :data:`TEST_SIGNAL_ENV` set to
``K:NAME`` makes the run send itself signal ``SIGNAME`` (``INT``, ``TERM``
or ``KILL``) right after chunk ``K`` is recorded.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seqlift.errors import SeqliftError, UnclosableFileError
from seqlift.inputs import parse_window
from seqlift.scoring.lock import OutputLock
from seqlift.scoring.options import ScoreOptions, check_numbers, references_per_sequence
from seqlift.scoring.outputs import discard, make_directories, partial_name, remove_empty, write_outputs
from seqlift.scoring.plan import (
    Plan,
    open_partial,
    output_prefix,
    package_versions,
    prepare,
    refuse_different,
)
from seqlift.scoring.space import DiskFull, failure_reason
from seqlift.scoring.store import ScoreStore
from seqlift.sequences.onehot import reverse_complement, unknown_bases

__all__ = ["ScoreResult", "score", "RunStopped", "TEST_SIGNAL_ENV"]

log = logging.getLogger(__name__)

#: testing hook: ``K:NAME`` sends SIG<NAME> to the run once chunk K is recorded
TEST_SIGNAL_ENV = "SEQLIFT_TEST_SIGNAL_AFTER_CHUNK"
#: regions named in a message about several
_NAMED = 3


class RunStopped(SeqliftError):
    """The run stopped on something found while scoring; the chunks finished before it are kept for ``resume``."""


@dataclass
class ScoreResult:
    """What a run did.

    Attributes
    ----------
    scored : int
        Windows scored (in this shard; all of them after a resume).
    dropped : Counter
        Regions not scored, counted by reason.
    rows : int
        Input rows this invocation went through.
    seconds : float
        Wall time of this invocation.
    paths : list of str
        The output files.
    """

    scored: int
    dropped: Counter
    rows: int
    seconds: float
    paths: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The one-line account printed at the end of a run."""
        n_dropped = sum(self.dropped.values())
        if n_dropped:
            reasons = "; ".join(f"{count} x {reason}" for reason, count in self.dropped.most_common(3))
            more = "; ..." if len(self.dropped) > 3 else ""
            dropped = f"dropped {n_dropped} ({reasons}{more})"
        else:
            dropped = "dropped none"
        rate = self.rows / self.seconds if self.seconds > 0 else float("inf")
        return (f"scored {self.scored} regions, {dropped}, in {self.seconds:.1f} s ({rate:.1f} regions/s); "
                f"wrote {', '.join(self.paths)}")


def _stream(plan: Plan) -> Iterator[Any]:
    from seqlift.genome.windows import load_fasta_sequences, load_regions

    if plan.kind == "fasta":
        return load_fasta_sequences(plan.options.regions, chunk_size=plan.chunk)
    return load_regions(plan.options.regions, plan.genome_path, plan.width, off_chrom=plan.options.off_chrom,
                        revcomp_minus=False, chunk_size=plan.chunk)


def _score_pass(plan: Plan, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Contributions, hypothetical contributions, residuals and target differences of one pass.

    ``x`` is (B, L, 4); results are (T, B, L, 4), (T, B, L, 4), (T, B), (T, B).
    """
    from seqlift.engine import attribute
    from seqlift.engine.methods import METHODS
    from seqlift.sequences.references import resolve

    options = plan.options
    per_sequence = references_per_sequence(options)
    references = resolve(options.shuffles, x, options.seed) if METHODS[options.method].uses_references else None
    window = parse_window(options.ism_window)

    def run(inputs: np.ndarray, refs: np.ndarray | None, window: tuple[int, int] | None) -> Any:
        return attribute(plan.model, inputs, references=refs, method=options.method, task=plan.tasks,
                         target_layer=plan.target, batch_size=plan.batch * per_sequence, seed=options.seed,
                         ism_window=window)

    forward = run(x, references, window)
    if options.revcomp != "average":
        return forward.contributions, forward.hypothetical, forward.deltas, forward.target_deltas
    # the reverse strand's window covers the same bases
    mirrored = (plan.width - window[1], plan.width - window[0]) if window else None
    reverse = run(reverse_complement(x), None if references is None else reverse_complement(references), mirrored)
    return (
        (forward.contributions + reverse_complement(reverse.contributions)) / 2,
        (forward.hypothetical + reverse_complement(reverse.hypothetical)) / 2,
        (forward.deltas + reverse.deltas) / 2,
        (forward.target_deltas + reverse.target_deltas) / 2,
    )


def _score_rows(plan: Plan, onehot: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """Score sequences ``onehot`` (n, L, 4) of input rows ``rows`` in input-aligned passes."""
    n_tasks, batch, width = len(plan.tasks), plan.batch, plan.width
    contributions = np.zeros((n_tasks, len(rows), width, 4), np.float32)
    hypothetical = np.zeros_like(contributions)
    deltas = np.zeros((n_tasks, len(rows)), np.float32)
    target_deltas = np.zeros_like(deltas)
    passes = rows // batch
    for g in np.unique(passes):
        members = np.flatnonzero(passes == g)
        slots = rows[members] - g * batch
        x = np.zeros((batch, width, 4), np.float32)
        x[slots] = onehot[members]
        c, h, d, t = _score_pass(plan, x)
        contributions[:, members] = c[:, slots]
        hypothetical[:, members] = h[:, slots]
        deltas[:, members] = d[:, slots]
        target_deltas[:, members] = t[:, slots]
    return contributions, hypothetical, deltas, target_deltas


def _test_signal(chunks_done: int) -> None:
    spec = os.environ.get(TEST_SIGNAL_ENV)
    if not spec:
        return
    count, _, name = spec.partition(":")
    if count.strip().isdigit() and int(count) == chunks_done:
        os.kill(os.getpid(), getattr(signal, "SIG" + (name.strip().upper() or "INT")))


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while scoring, so the partial file is closed cleanly."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _region_text(plan: Plan, window: Any) -> str:
    """``peaks.bed:12 (chr1:100-500)``, or ``seqs.fa record 3 (name)`` for FASTA input."""
    if plan.kind == "fasta":
        return f"{plan.options.regions} record {window['line']} ({window['chrom']})"
    return f"{plan.options.regions}:{window['line']} ({window['chrom']}:{window['start']}-{window['end']})"


def _regions_text(plan: Plan, windows: pd.DataFrame) -> str:
    named = ", ".join(_region_text(plan, row) for _, row in windows.head(_NAMED).iterrows())
    more = f" and {len(windows) - _NAMED} more" if len(windows) > _NAMED else ""
    return named + more


def _move_to_dropped(windows: pd.DataFrame, dropped: pd.DataFrame, leave: np.ndarray,
                     reasons: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Move the windows flagged in ``leave`` into the dropped table (with ``reasons``), keeping input order."""
    from seqlift.scoring.store import DROPPED_FIELDS

    moved = windows[leave].assign(reason=reasons)[list(DROPPED_FIELDS)]
    dropped = pd.concat([dropped, moved], ignore_index=True) if len(dropped) else moved.reset_index(drop=True)
    return windows[~leave].reset_index(drop=True), dropped.sort_values("row", kind="stable").reset_index(drop=True)


def _too_unknown(plan: Plan, windows: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Windows with a larger share of unknown bases than ``--max-unknown``, and the reason for each."""
    limit = plan.options.max_unknown
    flagged = windows["unknown"].to_numpy() > limit * plan.width
    reasons = [f"{count} of {plan.width} bases unknown (not A, C, G or T), more than --max-unknown {limit:g}"
               for count in windows["unknown"].to_numpy()[flagged]]
    return flagged, reasons


def _not_finite(scores: tuple[np.ndarray, ...]) -> np.ndarray:
    """Rows (axis 1 of every array) with a NaN or infinite value anywhere."""
    bad = np.zeros(scores[0].shape[1], bool)
    for array in scores:
        bad |= ~np.isfinite(array.reshape(array.shape[0], array.shape[1], -1)).all(axis=(0, 2))
    return bad


def _score_chunk(plan: Plan, onehot: np.ndarray, windows: pd.DataFrame,
                 dropped: pd.DataFrame) -> tuple[np.ndarray, tuple[np.ndarray, ...], pd.DataFrame, pd.DataFrame]:
    """Score one chunk's windows, applying ``--max-unknown`` before and ``--nonfinite`` after.

    Returns the one-hot rows, the scores and the windows that stay, and the
    chunk's dropped regions (with those moved there).
    """
    windows = windows.assign(unknown=unknown_bases(onehot))
    dropped = dropped.assign(unknown=np.int64(-1))
    flagged, reasons = _too_unknown(plan, windows)
    if flagged.any():
        onehot = onehot[~flagged]
        windows, dropped = _move_to_dropped(windows, dropped, flagged, reasons)
    scores = _score_rows(plan, onehot, windows["row"].to_numpy(np.int64))
    bad = _not_finite(scores)
    if bad.any():
        if plan.options.nonfinite == "error":
            raise RunStopped(f"{_regions_text(plan, windows[bad])} give non-finite scores (NaN or infinity): the model "
                             f"{plan.options.model} outputs NaN or infinity on them or on their references")
        onehot = onehot[~bad]
        scores = tuple(array[:, ~bad] for array in scores)
        windows, dropped = _move_to_dropped(
            windows, dropped, bad, ["non-finite scores (NaN or infinity): the model's output is not finite"] * int(bad.sum()))
    return onehot, scores, windows, dropped


def _run_chunks(plan: Plan, store: ScoreStore) -> int:
    """Score and append every chunk from the store's next row; return the input rows gone through."""
    from seqlift.progress import Progress

    low, high = max(plan.rows[0], store.next_row), plan.rows[1]
    if low >= high:
        return 0
    log.info("scoring input rows %d-%d of %d: chunks of %d regions, %d sequences x %d references per pass%s",
             low + 1, high, plan.rows_total, plan.chunk, plan.batch, references_per_sequence(plan.options),
             " (x2 strands)" if plan.options.revcomp == "average" else "")
    stream = _stream(plan)
    progress = Progress("scoring", high - low, "regions")
    try:
        for index, chunk in enumerate(stream):
            first, end = index * plan.chunk, min((index + 1) * plan.chunk, plan.rows_total)
            if end <= low:
                continue
            a, b = max(first, low), min(end, high)
            windows = chunk.windows
            keep = ((windows["row"] >= a) & (windows["row"] < b)).to_numpy()
            windows = windows[keep].reset_index(drop=True)
            dropped = chunk.dropped[(chunk.dropped["row"] >= a) & (chunk.dropped["row"] < b)].reset_index(drop=True)
            onehot, scores, windows, dropped = _score_chunk(plan, chunk.onehot[keep], windows, dropped)
            store.append(onehot, *scores, windows, dropped, rows=(a, b))
            log.debug("chunk %d recorded: input rows %d-%d, %d windows, %d dropped",
                      store.n_chunks, a + 1, b, len(windows), len(dropped))
            progress.update(b - low)
            _test_signal(store.n_chunks)
            if b >= high:
                break
    finally:
        progress.close()
        stream.close()
    return high - low


def _open_store(plan: Plan, path: str) -> ScoreStore:
    """The partial file to continue (``resume``), or a fresh one.

    A partial file is first opened read-only and every recorded chunk read
    back against its checksum. One that was closed cleanly and reads back
    whole is appended to. Otherwise (its writer was killed or a write failed,
    it is truncated, or a chunk does not match) it is never written to: its
    intact chunks, from the first up to the first bad one, are copied into a
    new file, which replaces it, and the run goes on from there.
    """
    if plan.options.resume and os.path.exists(path):
        with open_partial(path, "r") as previous:
            refuse_different(path, previous.parameters, plan.parameters)
            try:
                good, problem = previous.verified_chunks()
            except (OSError, RuntimeError, KeyError, ValueError) as err:
                raise SeqliftError(f"cannot resume: {path} is damaged ({err}); delete it, or leave out --resume, "
                                   "to start again") from None
            if problem is not None:
                log.warning("%s: %s; the chunks from there on are scored again", path, problem)
            rebuilt = None
            if problem is not None or not previous.closed_cleanly:
                log.info("%s was not closed cleanly or is damaged: its %d intact chunks are copied into a new file",
                         path, good)
                rebuilt = _copy_intact(previous, good, path)
        store = rebuilt or open_partial(path, "r+")
        if rebuilt is not None:
            os.replace(partial_name(path), path)
            store.path = path
        store.truncate_to_record()
        done = store.next_row - plan.rows[0]
        log.info("resuming %s: %d chunks done, %d of %d input rows", path, store.n_chunks, done,
                 plan.rows[1] - plan.rows[0])
        return store
    if plan.options.resume:
        log.info("no unfinished run at %s; starting from the beginning", path)
    elif os.path.exists(path):
        log.info("replacing the unfinished run at %s (use --resume to continue it instead)", path)
    return ScoreStore.create(path, plan.parameters, plan.tasks, plan.width, plan.chrom_sizes,
                             package_versions(), plan.rows, plan.rows_total)


def _copy_intact(previous: ScoreStore, good: int, path: str) -> ScoreStore:
    """A new file (at ``partial_name(path)``, for the caller to move onto ``path``) holding ``previous``'s first ``good`` chunks."""
    fresh_path = partial_name(path)
    try:
        fresh = ScoreStore.create_like(fresh_path, previous)
        fresh.copy_chunks_from(previous, good)
    except BaseException:
        discard([fresh_path])
        raise
    return fresh


def score(options: ScoreOptions) -> ScoreResult:
    """Score every region of ``options.regions`` and write the outputs.

    Parameters
    ----------
    options : ScoreOptions
        What to score and how.

    Returns
    -------
    ScoreResult
        Counts, time and output paths (:meth:`ScoreResult.summary` is the
        one-line account).

    Raises
    ------
    SeqliftError
        For any fault of the input, with one line naming it; no output is
        left behind.
    KeyboardInterrupt
        On Ctrl-C or SIGTERM; completed chunks stay in ``PREFIX.h5.partial``
        for ``resume=True``.
    """
    started = time.perf_counter()
    check_numbers(options)
    prefix = output_prefix(options)
    created = make_directories(os.path.dirname(os.path.abspath(prefix)))
    try:
        with OutputLock(prefix, "seqlift score"):
            plan = prepare(options)
            h5_partial = partial_name(plan.names["h5"])
            store = _open_store(plan, h5_partial)
            had_chunks = store.n_chunks > 0
            with _terminate_as_interrupt():
                return _score_into(plan, store, h5_partial, created, had_chunks, started)
    except BaseException:
        remove_empty(created)
        raise


def _score_into(plan: Plan, store: ScoreStore, h5_partial: str, created: list[str], had_chunks: bool,
                started: float) -> ScoreResult:
    """Fill ``store`` (the partial file), then publish the outputs; clean up on failure."""
    options = plan.options
    try:
        rows_done = 0
        if not store.complete:
            rows_done = _run_chunks(plan, store)
            if store.n_windows == 0 and plan.parameters["shard"] is None:
                raise SeqliftError(f"all {plan.rows_total} regions of {options.regions} were dropped "
                                   f"({_reasons_text(store)}); nothing to score")
            if store.n_windows == 0:
                log.warning("every region of shard %s was dropped; its outputs are empty", plan.parameters["shard"])
            store.mark_complete()
        scored = store.n_windows
        dropped = Counter(store.read_table("dropped")["reason"])
        _log_unknown(plan, store)
    except UnclosableFileError:
        raise  # the store cannot be closed; the message says what is kept
    except (RunStopped, DiskFull) as err:
        raise _stopped(err, plan, store, h5_partial, created) from None
    except SeqliftError:
        store.close()
        discard([h5_partial])
        remove_empty(created)
        raise
    except BaseException:
        kept = store.n_chunks > 0 if store.file.id.valid else had_chunks
        store.close()
        if kept:
            log.warning("the unfinished run is kept in %s; run the same command with --resume to continue it",
                        h5_partial)
        else:
            discard([h5_partial])
            remove_empty(created)
        raise
    store.close()
    try:
        paths = write_outputs(h5_partial, plan.prefix, options.bigwig)
    except (OSError, RuntimeError) as err:  # RuntimeError: pyBigWig's
        raise SeqliftError(f"writing the outputs failed ({failure_reason(err)}); the scores are kept in "
                           f"{h5_partial}: run the same command with --resume to write them") from None
    except KeyboardInterrupt:
        log.warning("the finished scores are kept in %s; run the same command with --resume to write the outputs",
                    h5_partial)
        raise
    return ScoreResult(scored, dropped, rows_done, time.perf_counter() - started, paths)


def _stopped(err: SeqliftError, plan: Plan, store: ScoreStore, h5_partial: str, created: list[str]) -> RunStopped:
    """The one-line error of a run stopped while scoring, saying what is kept and how to go on."""
    chunks = store.n_chunks
    store.close()
    nonfinite = not isinstance(err, DiskFull)
    how = ("run the same command with --nonfinite drop --resume to list such regions in "
           f"{plan.names['dropped']} and go on" if nonfinite else "free some space and run the same command with --resume")
    if chunks:
        return RunStopped(f"{err}; the {chunks} finished chunks are kept in {h5_partial}: {how}")
    discard([h5_partial])
    remove_empty(created)
    instead = ("use --nonfinite drop to list such regions in " + plan.names["dropped"] if nonfinite
               else "free some space and run it again")
    return RunStopped(f"{err}; nothing was kept: {instead}")


def _log_unknown(plan: Plan, store: ScoreStore) -> None:
    """Log how many scored regions have unknown bases (none: nothing), naming the first."""
    counts = store.file["windows/unknown"][()] if "windows/unknown" in store.file else np.zeros(0, np.int64)
    flagged = np.flatnonzero(counts > 0)
    if not len(flagged):
        return
    first = store.read_table("windows", int(flagged[0]), int(flagged[0]) + 1).iloc[0]
    log.info("%d of %d scored regions have unknown bases (not A, C, G or T: N, IUPAC codes or padding; scored as "
             "all-zero rows), e.g. %s with %d of %d; each region's count is column 11 of %s",
             len(flagged), len(counts), _region_text(plan, first), int(counts[flagged[0]]), plan.width,
             plan.names["regions"])


def _reasons_text(store: ScoreStore) -> str:
    reasons = Counter(store.read_table("dropped")["reason"])
    return "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common(2)) or "no reason recorded"
