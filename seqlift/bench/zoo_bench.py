"""Benchmark of the DeepLIFT engine on the zoo of architectures (``seqlift bench zoo``).

For each model of :data:`seqlift.bench.zoo.ZOO` (random weights with non-zero
biases; the paper's own for the paper's model when ``../shared`` has it), on
its workload of random sequences x dinucleotide shuffles x 3 tasks:

* the ratio of each DeepLIFT method's time to the floor's, where the floor is
  a plain ``tf.GradientTape`` gradient of the same target units through
  Keras's own model (TensorFlow's stock kernels, batches of
  :data:`FLOOR_BATCH`, compiled with ``tf.function``) over the same reference
  rows. The floor is timed just before each method, so each ratio compares
  two runs made under the same load; the table gives the median of the
  repeats and their range, and the floor's own range (the machine's noise).
  Ratios are given of wall-clock time (what a user waits) and of the
  process's CPU time (all threads; far steadier on a shared machine, where
  other processes stretch wall-clock times unevenly);
* the first call of each method on a fresh model (tracing and XLA
  compilation), reported separately as first-call time minus the same
  call again, in a fresh process (:func:`first_calls`: the methods in
  turn, each on a model of its own, as the bench did in one process
  before, where a second fresh model of one architecture reused the
  first's compiled rules and came 0.8 s faster); the median and range of
  :data:`FIRST_CALLS` processes (one first call varied by 0.5 s from run
  to run on a 2-core machine);
* peak resident memory of a child process scoring N and 4N sequences
  (genomics default, the automatic batch size);
* for one model, the ratio at several batch sizes (the curve the automatic
  batch size should sit on);
* the paper workload (800 sequences x 20 shuffles x 3 tasks, genomics
  default) as one cold call in a fresh process, compilation included.

``SEQLIFT_BENCH_ZOO=basset,cnn1kb`` limits the run to some models.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from seqlift.bench import zoo
from seqlift.bench.engine_bench import _batched_gradient, _timed

#: the methods timed, in the table's order
METHODS = ("rescale", "genomics_default", "revealcancel")
#: pairs per batch of the floor (issue 15's)
FLOOR_BATCH = 128
#: fresh processes in which the first call of each method is timed (their median reported, and the range)
FIRST_CALLS = 3
#: the model and batch sizes of the batch-size curve
#: pairs per batch of the curve: whole passes of 2 to 32 of cnn1kb's sequences (10 references each), each
#: dividing its 32 sequences, so that no pass is padded
CURVE_MODEL, CURVE_SIZES = "cnn1kb", (20, 40, 80, 160, 320)


@dataclass
class Spread:
    """Median and range of repeated measurements."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        return cls(statistics.median(values), min(values), max(values))

    def text(self, digits: int = 2) -> str:
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


@dataclass
class ModelFigures:
    """What :func:`measure_model` measured on one model of the zoo."""

    name: str
    description: str
    sequences: int
    shuffles: int
    tasks: int
    batch: dict[str, int]
    floor_seconds: Spread
    ratios: dict[str, Spread]
    cpu_ratios: dict[str, Spread]
    first_call: dict[str, Spread]
    memory_mib: dict[int, float] = field(default_factory=dict)


def _dna(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]


def _setup(name: str, tiny: bool):
    """The zoo model ``name`` as Keras and seqlift models, its workload and its floor."""
    import keras
    import tensorflow as tf

    import seqlift

    entry = zoo.ZOO[name]
    keras_model = entry.build(**(entry.tiny if tiny else {}))
    length = int(keras_model.inputs[0].shape[1])
    n, shuffles = (2, 2) if tiny else (entry.sequences, entry.shuffles)
    x = _dna(n, length, seed=1)
    refs = seqlift.dinucleotide_shuffle(x, shuffles, seed=0)
    target = keras.Model(keras_model.inputs, keras_model.get_layer(entry.target).output)
    floor = _batched_gradient(lambda points: tf.reshape(target(points, training=False), [tf.shape(points)[0], -1]),
                              (length, 4), list(entry.tasks), FLOOR_BATCH)
    floor(refs[:1])  # compile
    return entry, keras_model, x, refs, floor


def measure_model(name: str, repeats: int = 5, tiny: bool = False, memory: bool = True,
                  methods: tuple[str, ...] = METHODS, first_call_runs: int = 0) -> ModelFigures:
    """Time the DeepLIFT ``methods`` against the floor on one zoo model (see the module docstring);
    their first calls in ``first_call_runs`` fresh processes (:data:`FIRST_CALLS`, or 1 for the tiny
    workload, by default)."""
    import seqlift
    from seqlift.engine import pairs_per_batch
    from seqlift.model import from_keras

    entry, keras_model, x, refs, floor = _setup(name, tiny)

    def score(model, method):
        return seqlift.attribute(model, x, refs, method=method, task=list(entry.tasks), target_layer=entry.target)

    runs = [_first_calls_in_child(name, tiny, methods) for _ in range(first_call_runs or (1 if tiny else FIRST_CALLS))]
    models = {method: from_keras(keras_model) for method in methods}
    for method in methods:
        score(models[method], method)  # compiled before timing
    floors, ratios, cpu_ratios = [], {method: [] for method in methods}, {method: [] for method in methods}
    for repeat in range(repeats):
        turn = repeat % len(methods)
        for method in methods[turn:] + methods[:turn]:
            floor_wall, floor_cpu = _wall_and_cpu(lambda: floor(refs))
            wall, cpu = _wall_and_cpu(lambda: score(models[method], method))
            floors.append(floor_wall)
            ratios[method].append(wall / floor_wall)
            cpu_ratios[method].append(cpu / floor_cpu)
    batch = {m: pairs_per_batch(models[m], entry.target, m) for m in methods}
    figures = ModelFigures(name, entry.description, len(x), refs.shape[1], len(entry.tasks), batch, Spread.of(floors),
                           {m: Spread.of(r) for m, r in ratios.items()},
                           {m: Spread.of(r) for m, r in cpu_ratios.items()},
                           {m: Spread.of([run[m] for run in runs]) for m in methods})
    if memory:
        figures.memory_mib = {n: _peak_memory_mib(name, n) for n in (len(x), 4 * len(x))}
    return figures


def _wall_and_cpu(fn) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _child(code: str) -> list[str]:
    """Run Python ``code`` in a fresh process; its output lines."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip().splitlines()


def first_calls(name: str, tiny: bool = False, methods: tuple[str, ...] = METHODS) -> dict[str, float]:
    """Seconds of the first call of each of ``methods`` (in turn, each on a fresh model of zoo model
    ``name``: tracing and XLA compilation) on one sequence of its workload, less the same call again."""
    import seqlift
    from seqlift.model import from_keras

    entry, keras_model, x, refs, _ = _setup(name, tiny)
    seconds = {}
    for method in methods:
        model = from_keras(keras_model)

        def score() -> None:
            seqlift.attribute(model, x[:1], refs[:1], method=method, task=list(entry.tasks), target_layer=entry.target)

        seconds[method] = _timed(score) - _timed(score)
    return seconds


def _first_calls_in_child(name: str, tiny: bool, methods: tuple[str, ...]) -> dict[str, float]:
    """:func:`first_calls` in a fresh process (nothing compiled yet but the floor)."""
    code = ("import json\n"
            "from seqlift.bench import zoo_bench\n"
            f"print(json.dumps(zoo_bench.first_calls({name!r}, {tiny!r}, {tuple(methods)!r})))\n")
    return json.loads(_child(code)[-1])


def _peak_memory_mib(name: str, n: int) -> float:
    """Peak resident memory (MiB) of a child process scoring ``n`` sequences of zoo model ``name``."""
    code = (
        "import seqlift\n"
        "from seqlift.bench import zoo, zoo_bench\n"
        f"entry = zoo.ZOO[{name!r}]\n"
        "model = entry.build()\n"
        f"x = zoo_bench._dna({n}, int(model.inputs[0].shape[1]))\n"
        "seqlift.attribute(model, x, entry.shuffles, task=list(entry.tasks), target_layer=entry.target)\n"
        "from seqlift.bench.memory import peak_resident_mib\n"
        "print(peak_resident_mib())\n"
    )
    return float(_child(code)[-1])


def paper_cold_call(sequences: int = 800, shuffles: int = 20) -> tuple[float, float, float]:
    """Seconds of one cold ``seqlift.attribute`` call on the paper workload in a fresh process
    (genomics default, 3 tasks, compilation included), of the same call again, and of the floor (a
    plain gradient of the 3 tasks through Keras's own model, batches of :data:`FLOOR_BATCH`, compiled
    first) over as many pairs, in the same process."""
    code = (
        "import time\n"
        "import seqlift\n"
        "from seqlift.bench import engine_bench as b\n"
        "label, path, weights = b._model_files()\n"
        "model = seqlift.load_model(path, weights=weights)\n"
        f"x, refs = b._workload({sequences}, {shuffles})\n"
        "for _ in range(2):\n"
        "    start = time.perf_counter()\n"
        f"    seqlift.attribute(model, x, {shuffles}, method='genomics_default', task=[0, 1, 2])\n"
        "    print(time.perf_counter() - start)\n"
        f"floor, _ = b._keras_gradient_floor(model, [0, 1, 2], {FLOOR_BATCH})\n"
        "floor(refs[:2])\n"
        "start = time.perf_counter()\n"
        "floor(refs)\n"
        "print(time.perf_counter() - start)\n"
    )
    cold, warm, floor = (float(line) for line in _child(code)[-3:])
    return cold, warm, floor


def batch_curve(name: str = CURVE_MODEL, sizes=CURVE_SIZES, repeats: int = 3, tiny: bool = False,
                method: str = "genomics_default") -> dict[str, Spread]:
    """Ratio to the floor of ``method`` on zoo model ``name`` at each batch size (and the automatic one)."""
    import seqlift
    from seqlift.engine import pairs_per_batch
    from seqlift.model import from_keras

    entry, keras_model, x, refs, floor = _setup(name, tiny)
    model = from_keras(keras_model)
    auto = pairs_per_batch(model, entry.target, method)
    labels = {f"{size}": size for size in sizes} | {f"automatic (budget {auto})": None}
    for size in labels.values():  # compiled before timing
        seqlift.attribute(model, x, refs, method=method, task=list(entry.tasks), target_layer=entry.target,
                          batch_size=size)
    ratios: dict[str, list[float]] = {label: [] for label in labels}
    for _ in range(repeats):
        for label, size in labels.items():
            base = _timed(lambda: floor(refs))
            ratios[label].append(_timed(lambda: seqlift.attribute(
                model, x, refs, method=method, task=list(entry.tasks), target_layer=entry.target, batch_size=size)) / base)
    return {label: Spread.of(values) for label, values in ratios.items()}


def table(figures: list[ModelFigures]) -> str:
    """The markdown table of :func:`measure_model`'s figures: wall-clock ratios, then CPU-time ratios."""
    lines = ["| model | pairs x tasks | pairs per batch (r / g / rc) | floor s | rescale | genomics_default "
             "| revealcancel | CPU: rescale | genomics_default | revealcancel | first call s (r / g / rc) "
             "| peak MiB (N, 4N) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in figures:
        memory = ", ".join(f"{mib:,.0f}" for mib in f.memory_mib.values()) or "-"
        lines.append(
            f"| {f.name} | {f.sequences} x {f.shuffles} x {f.tasks} | "
            + " / ".join(str(f.batch.get(m, "-")) for m in METHODS)
            + f" | {f.floor_seconds.text()} | "
            + " | ".join(f.ratios[m].text() + "x" if m in f.ratios else "-" for m in METHODS) + " | "
            + " | ".join(f.cpu_ratios[m].text() + "x" if m in f.cpu_ratios else "-" for m in METHODS)
            + " | " + " / ".join(f.first_call[m].text(1) if m in f.first_call else "-" for m in METHODS)
            + f" | {memory} |")
    return "\n".join(lines)


def run(quick: bool = False) -> None:
    """Measure every zoo model (or those in ``SEQLIFT_BENCH_ZOO``) and print the tables."""
    chosen = os.environ.get("SEQLIFT_BENCH_ZOO")
    names = [n.strip() for n in chosen.split(",")] if chosen else list(zoo.ZOO)
    unknown = [n for n in names if n not in zoo.ZOO]
    if unknown:
        from seqlift.errors import SeqliftError

        raise SeqliftError(f"SEQLIFT_BENCH_ZOO names {', '.join(unknown)}; the zoo has {', '.join(zoo.ZOO)}")
    repeats = 3 if quick else 5
    print(f"engine on the zoo: ratios to a plain tf.GradientTape gradient of the same target units through "
          f"Keras's own model (batches of {FLOOR_BATCH}) over the same pairs, median (range) of {repeats} "
          "repeats, the floor timed just before each method", flush=True)
    figures = []
    for name in names:
        figures.append(measure_model(name, repeats=repeats, memory=not quick))
        print(f"  {name}: {figures[-1].description}", flush=True)
    print(table(figures))
    if quick:
        return
    if CURVE_MODEL in names:
        print(f"\nbatch-size curve, genomics_default on {CURVE_MODEL} (ratio to the floor, median (range) of 3)")
        print("| pairs per batch | ratio |\n|---|---|")
        for label, spread in batch_curve().items():
            print(f"| {label} | {spread.text()}x |")
    cold, warm, floor = paper_cold_call()
    print(f"\npaper workload (800 x 20 shuffles x 3 tasks, genomics_default) in a fresh process: "
          f"first call {cold:.1f} s, the same call again {warm:.1f} s; the floor over as many pairs {floor:.1f} s")
