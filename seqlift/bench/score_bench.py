"""Benchmark: ``seqlift score`` end to end, regions per second and peak memory.

Runs the real command in a child process on a random genome (one 2 Mb
chromosome), random 100 bp regions and a tiny convolutional model (100 bp
input, 8 filters, one output), with the default settings (10 shuffles,
genomics_default, automatic batch and chunk sizes). Each size runs in its own
child, whose own peak resident memory (:mod:`seqlift.bench.memory`) is reported
with its wall time, start-up (Python, TensorFlow, model loading) included.
Streaming should make the peak memory of the largest run about that of the
smallest.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from seqlift.bench.memory import run_and_watch

LENGTH = 100
CHROM_SIZE = 2_000_000
#: numbers of regions, full and quick
SIZES = {False: (1_000, 100_000), True: (200, 2_000)}


def write_inputs(folder: Path, n_regions: int, seed: int = 0) -> dict[str, Path]:
    """A random genome, ``n_regions`` random BED regions and a tiny model in ``folder``."""
    rng = np.random.default_rng(seed)
    genome = folder / "genome.fa"
    if not genome.exists():
        bases = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, CHROM_SIZE)].tobytes().decode()
        genome.write_text(">chr1\n" + "\n".join(bases[i:i + 80] for i in range(0, CHROM_SIZE, 80)) + "\n")
    bed = folder / f"regions_{n_regions}.bed"
    starts = rng.integers(LENGTH, CHROM_SIZE - 2 * LENGTH, n_regions)
    bed.write_text("".join(f"chr1\t{s}\t{s + LENGTH}\tr{i}\n" for i, s in enumerate(starts)))
    model = folder / "model.keras"
    if not model.exists():
        _write_model(model, seed)
    return {"genome": genome, "regions": bed, "model": model}


def _write_model(path: Path, seed: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((LENGTH, 4))
    hidden = layers.Conv1D(8, 11, activation="relu", padding="same")(inputs)
    hidden = layers.MaxPooling1D(4)(hidden)
    hidden = layers.Conv1D(8, 5, activation="relu", padding="same")(hidden)
    hidden = layers.GlobalMaxPooling1D()(hidden)
    outputs = layers.Dense(1, activation="sigmoid")(hidden)
    keras.Model(inputs, outputs).save(path)


def run_child(command: list[str], cwd: Path) -> tuple[float, int, int, str]:
    """Run ``command``; (wall seconds, exit status, peak RSS in bytes, stderr tail).

    The peak is the child's own (:func:`seqlift.bench.memory.run_and_watch`), not ``wait4``'s
    ``ru_maxrss``, which would count this process's memory at the fork.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        returncode, peak_mib = run_and_watch(process)
        wall = time.perf_counter() - start
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-1:]
    return wall, returncode, int((peak_mib or 0) * 1024 * 1024), tail[0] if tail else ""


def measure(quick: bool = False) -> list[dict]:
    """Score each number of regions of :data:`SIZES` in a child process.

    Returns
    -------
    list of dict
        One row per size: ``regions``, ``wall_s``, ``regions_per_s``,
        ``peak_rss_mib``, ``status`` and ``summary`` (the run's last log line).
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="seqlift-bench-score-") as tmp:
        folder = Path(tmp)
        for n_regions in SIZES[quick]:
            paths = write_inputs(folder, n_regions)
            command = [sys.executable, "-m", "seqlift.cli", "score", str(paths["regions"]), "--model",
                       str(paths["model"]), "--genome", str(paths["genome"]), "--out", str(folder / f"out{n_regions}")]
            wall, status, peak, summary = run_child(command, folder)
            rows.append({"regions": n_regions, "wall_s": wall, "regions_per_s": n_regions / wall,
                         "peak_rss_mib": peak / 2**20, "status": status, "summary": summary})
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a text table, with the steady-state rate between the smallest and largest run."""
    lines = [f"{'regions':>9} {'wall s':>9} {'regions/s':>10} {'peak RSS MiB':>13}"]
    for r in rows:
        if r["status"] != 0:
            lines.append(f"{r['regions']:>9} failed (exit {r['status']}): {r['summary']}")
            continue
        lines.append(f"{r['regions']:>9} {r['wall_s']:>9.1f} {r['regions_per_s']:>10.0f} {r['peak_rss_mib']:>13.0f}")
    ok = [r for r in rows if r["status"] == 0]
    if len(ok) >= 2:
        small, large = ok[0], ok[-1]
        extra_time = large["wall_s"] - small["wall_s"]
        if extra_time > 0:
            rate = (large["regions"] - small["regions"]) / extra_time
            lines.append(f"steady state (start-up excluded): {rate:,.0f} regions/s")
        lines.append(f"peak memory, largest / smallest run: {large['peak_rss_mib'] / small['peak_rss_mib']:.2f}")
    return "\n".join(lines)


def run(quick: bool = False) -> None:
    """Measure and print the score benchmark table."""
    print(f"seqlift score end to end (child process, start-up included): random {LENGTH} bp regions on a "
          f"{CHROM_SIZE // 10**6} Mb random genome, tiny CNN ({LENGTH} bp, 8+8 filters, 1 output), "
          "10 shuffles, genomics_default, default batch and chunk sizes", flush=True)
    print(format_table(measure(quick)))
