"""Benchmark: dinucleotide shuffles per second, seqlift against DeepLIFT and tangermeme.

Shuffles random 1,000 bp one-hot sequences (float32) and reports the median
wall time of several repeats, after one warm-up run (which also loads or
compiles the numba kernels), as shuffled bases per second; seqlift's kernel is
single-threaded. Measured in the same process:

* the original ``deeplift.dinuc_shuffle.dinuc_shuffle`` (deeplift 0.6.13, pure
  numpy, one sequence per call), on fewer sequences since it is far slower
  (rates are per base, so the sizes need not match);
* tangermeme's ``ersatz.dinucleotide_shuffle`` (numba, on a torch tensor
  ``(N, 4, L)``, one job) on the same sequences as seqlift, when tangermeme is
  installed (the ``bench`` extra; it needs PyTorch).
"""
from __future__ import annotations

import importlib
import importlib.util
import statistics
import time
from types import ModuleType
from typing import Callable

import numpy as np

from seqlift.sequences.shuffle import dinucleotide_shuffle

LENGTH = 1000
SHUFFLES = 10
#: (sequences, repeats) for each implementation, full and quick
SIZES = {
    False: {"seqlift": (256, 5), "deeplift": (16, 5)},
    True: {"seqlift": (64, 3), "deeplift": (4, 3)},
}
SEQLIFT = "seqlift dinucleotide_shuffle"
DEEPLIFT = "deeplift 0.6.13 dinuc_shuffle"
TANGERMEME = "tangermeme dinucleotide_shuffle"


def _random_one_hot(n_seqs: int, seed: int = 0) -> np.ndarray:
    codes = np.random.default_rng(seed).integers(0, 4, size=(n_seqs, LENGTH))
    return np.eye(4, dtype=np.float32)[codes]


def _median_seconds(work: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median wall time of ``repeats`` calls of ``work`` after one warm-up call."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def load_deeplift_shuffle() -> tuple[ModuleType | None, str]:
    """``deeplift.dinuc_shuffle`` and '' , or None and why it could not be loaded.

    The module needs only numpy. Should importing the ``deeplift`` package
    itself fail (e.g. on TensorFlow 1 APIs), the file is loaded by its path.
    """
    try:
        return importlib.import_module("deeplift.dinuc_shuffle"), ""
    except ModuleNotFoundError as err:
        if err.name in ("deeplift", "deeplift.dinuc_shuffle"):
            return None, f"deeplift is not installed ({err})"
        first_error: Exception = err
    except Exception as err:  # noqa: BLE001 - any failure of a third-party import
        first_error = err
    try:
        package = importlib.util.find_spec("deeplift")
        locations = list(package.submodule_search_locations or []) if package else []
        spec = importlib.util.spec_from_file_location(
            "_deeplift_dinuc_shuffle", f"{locations[0]}/dinuc_shuffle.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module, ""
    except Exception as err:  # noqa: BLE001
        return None, f"importing deeplift.dinuc_shuffle failed ({first_error}; by path: {err})"


def measure(quick: bool = False) -> list[dict]:
    """Measure shuffled bases per second.

    Parameters
    ----------
    quick : bool, default False
        Fewer sequences and repeats.

    Returns
    -------
    list of dict
        One row per implementation: ``implementation``, ``sequences``,
        ``shuffles``, ``length``, ``repeats``, ``median_s``, ``times_s``,
        ``bases_per_s``; or ``implementation`` and ``skipped`` (the reason).
    """
    sizes = SIZES[quick]
    rows = []
    n_seqs, repeats = sizes["seqlift"]
    x = _random_one_hot(n_seqs)
    median, times = _median_seconds(lambda: dinucleotide_shuffle(x, SHUFFLES, seed=0), repeats)
    rows.append(_row(SEQLIFT, n_seqs, repeats, median, times))
    rows.append(_tangermeme_row(x, repeats))

    deeplift_shuffle, reason = load_deeplift_shuffle()
    if deeplift_shuffle is None:
        rows.append({"implementation": DEEPLIFT, "skipped": reason})
        return rows
    n_seqs, repeats = sizes["deeplift"]
    sequences = list(_random_one_hot(n_seqs, seed=1))
    rng = np.random.RandomState(0)

    def deeplift_work() -> None:
        for sequence in sequences:
            deeplift_shuffle.dinuc_shuffle(sequence, SHUFFLES, rng)

    median, times = _median_seconds(deeplift_work, repeats)
    rows.append(_row(DEEPLIFT, n_seqs, repeats, median, times))
    return rows


def _tangermeme_row(x: np.ndarray, repeats: int) -> dict:
    """tangermeme's shuffle of the same sequences, or a row saying why it was not measured."""
    try:
        import torch
        from tangermeme.ersatz import dinucleotide_shuffle as tangermeme_shuffle
    except Exception as err:  # noqa: BLE001 - an optional third-party import
        return {"implementation": TANGERMEME,
                "skipped": f"tangermeme is not importable ({type(err).__name__}: {err}); it is in the bench extra"}
    channels_first = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))
    median, times = _median_seconds(
        lambda: tangermeme_shuffle(channels_first, n=SHUFFLES, random_state=0), repeats)
    return _row(TANGERMEME, len(x), repeats, median, times)


def _row(name: str, n_seqs: int, repeats: int, median: float, times: list[float]) -> dict:
    return {
        "implementation": name,
        "sequences": n_seqs,
        "shuffles": SHUFFLES,
        "length": LENGTH,
        "repeats": repeats,
        "median_s": median,
        "times_s": times,
        "bases_per_s": n_seqs * SHUFFLES * LENGTH / median,
    }


def format_table(rows: list[dict]) -> str:
    """The rows as a text table; the last columns give seqlift's speed over each other implementation."""
    rates = {r["implementation"]: r["bases_per_s"] for r in rows if "skipped" not in r}
    lines = [
        f"{'implementation':<32} {'work':>18} {'median s':>9} {'M bases/s':>10} {'seqlift speed-up':>17}",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['implementation']:<32} skipped: {r['skipped']}")
            continue
        work = f"{r['sequences']}x{r['shuffles']}x{r['length']}bp"
        ratio = "-" if r["implementation"] == SEQLIFT else f"{rates[SEQLIFT] / r['bases_per_s']:,.2f}x"
        lines.append(
            f"{r['implementation']:<32} {work:>18} {r['median_s']:>9.4f} {r['bases_per_s'] / 1e6:>10.2f} {ratio:>17}"
        )
    return "\n".join(lines)


def run(quick: bool = False) -> None:
    """Measure and print the shuffle benchmark table."""
    sizes = SIZES[quick]
    print(
        f"dinucleotide shuffle of random {LENGTH} bp float32 one-hot sequences, {SHUFFLES} shuffles each; "
        f"median of {sizes['seqlift'][1]} repeats after a warm-up run"
    )
    print(format_table(measure(quick)))
