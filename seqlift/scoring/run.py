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
``revcomp="average"``), ``S`` the number of shuffles.

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

Interruption and resuming
-------------------------
Ctrl-C and SIGTERM (what SLURM and Snakemake send first) stop the run
between two HDF5 writes; the partial file then holds every completed chunk
and ``resume=True`` continues from the last one, refusing if any parameter
differs. A hard kill (SIGKILL) while a chunk is being written can leave the
HDF5 file damaged; resuming then says so. A run that fails on its input
removes its partial file: nothing is left behind.

For tests, the environment variable :data:`TEST_SIGNAL_ENV` set to
``K:NAME`` makes the run send itself signal ``SIGNAME`` (``INT``, ``TERM``
or ``KILL``) right after chunk ``K`` is recorded.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqlift.errors import SeqliftError
from seqlift.scoring.options import ScoreOptions
from seqlift.scoring.outputs import discard, partial_name, write_outputs
from seqlift.scoring.plan import (
    Plan,
    open_partial,
    package_versions,
    prepare,
    refuse_different,
)
from seqlift.scoring.store import ScoreStore
from seqlift.sequences.onehot import reverse_complement

__all__ = ["ScoreResult", "score", "TEST_SIGNAL_ENV"]

log = logging.getLogger(__name__)

#: testing hook: ``K:NAME`` sends SIG<NAME> to the run once chunk K is recorded
TEST_SIGNAL_ENV = "SEQLIFT_TEST_SIGNAL_AFTER_CHUNK"


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
    from seqlift.sequences.references import resolve

    options = plan.options
    references = resolve(options.shuffles, x, options.seed)

    def run(inputs: np.ndarray, refs: np.ndarray) -> Any:
        return attribute(plan.model, inputs, references=refs, method=options.method, target=plan.score_sets,
                         batch_size=plan.batch * options.shuffles, seed=options.seed)

    forward = run(x, references)
    if options.revcomp != "average":
        return forward.contributions, forward.hypothetical, forward.deltas, forward.target_deltas
    reverse = run(reverse_complement(x), reverse_complement(references))
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


def _run_chunks(plan: Plan, store: ScoreStore) -> int:
    """Score and append every chunk from the store's next row; return the input rows gone through."""
    from tqdm import tqdm

    low, high = max(plan.rows[0], store.next_row), plan.rows[1]
    if low >= high:
        return 0
    log.info("scoring input rows %d-%d of %d: chunks of %d regions, %d sequences x %d references per pass%s",
             low + 1, high, plan.rows_total, plan.chunk, plan.batch, plan.options.shuffles,
             " (x2 strands)" if plan.options.revcomp == "average" else "")
    stream = _stream(plan)
    bar = tqdm(total=high - low, unit="region", desc="seqlift score", file=sys.stderr,
               disable=not sys.stderr.isatty(), dynamic_ncols=True)
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
            onehot = chunk.onehot[keep]
            scores = _score_rows(plan, onehot, windows["row"].to_numpy(np.int64))
            store.append(onehot, *scores, windows, dropped, rows=(a, b))
            log.debug("chunk %d recorded: input rows %d-%d, %d windows, %d dropped",
                      store.n_chunks, a + 1, b, len(windows), len(dropped))
            bar.update(b - a)
            _test_signal(store.n_chunks)
            if b >= high:
                break
    finally:
        bar.close()
        stream.close()
    return high - low


def _open_store(plan: Plan, path: str) -> ScoreStore:
    """The partial file to continue (``resume``) or a fresh one."""
    if plan.options.resume and os.path.exists(path):
        store = open_partial(path, "r+")
        try:
            refuse_different(path, store.parameters, plan.parameters)
        except SeqliftError:
            store.close()
            raise
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
                             package_versions(), plan.rows, plan.rows_total, targets=[s.label for s in plan.score_sets])


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
    plan = prepare(options)
    h5_partial = partial_name(plan.names["h5"])
    created = _make_directories(os.path.dirname(os.path.abspath(h5_partial)))
    try:
        store = _open_store(plan, h5_partial)
    except BaseException:
        _remove_empty(created)
        raise
    had_chunks = store.n_chunks > 0
    with _terminate_as_interrupt():
        return _score_into(plan, store, h5_partial, created, had_chunks, started)


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
    except SeqliftError:
        store.close()
        discard([h5_partial])
        _remove_empty(created)
        raise
    except BaseException:
        kept = store.n_chunks > 0 if store.file.id.valid else had_chunks
        store.close()
        if kept:
            log.warning("the unfinished run is kept in %s; run the same command with --resume to continue it",
                        h5_partial)
        else:
            discard([h5_partial])
            _remove_empty(created)
        raise
    store.close()
    try:
        paths = write_outputs(h5_partial, plan.prefix, options.bigwig, options.layout)
    except OSError as err:
        raise SeqliftError(f"writing the outputs failed ({err.strerror or err}); the scores are kept in "
                           f"{h5_partial}: run the same command with --resume to write them") from None
    except KeyboardInterrupt:
        log.warning("the finished scores are kept in %s; run the same command with --resume to write the outputs",
                    h5_partial)
        raise
    return ScoreResult(scored, dropped, rows_done, time.perf_counter() - started, paths)


def _make_directories(directory: str) -> list[str]:
    """Create ``directory`` and missing parents; return those created, outermost first."""
    missing = []
    while not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    missing.reverse()
    for path in missing:
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        except OSError as err:
            _remove_empty(missing[: missing.index(path)])
            raise SeqliftError(f"cannot create the output directory {path}: {err.strerror or err}") from None
    return missing


def _remove_empty(directories: list[str]) -> None:
    """Remove the directories a failed run created, innermost first, if they are empty."""
    for path in reversed(directories):
        with contextlib.suppress(OSError):
            os.rmdir(path)


def _reasons_text(store: ScoreStore) -> str:
    reasons = Counter(store.read_table("dropped")["reason"])
    return "; ".join(f"{count} x {reason}" for reason, count in reasons.most_common(2)) or "no reason recorded"
