"""Benchmark of the DeepLIFT engine against a plain TensorFlow gradient.

The floor to measure against is a plain gradient of the target over the same
(sequence, reference) pairs: one forward pass of every pair and one backward
pass per task, compiled with ``tf.function`` and batched like seqlift. It is
taken twice: through Keras's own model (the paper's architecture as the demo's
``.h5``, carrying the benchmarked model's weights), with TensorFlow's stock
kernels, and through seqlift's graph of the same model, whose Dense and
convolution kernels are the batch-invariant ones of :mod:`seqlift.model.invariant`.
Each method's time is reported as a ratio to each floor, measured side by side
in one process, median of several repeats (the three alternate, so load from
other processes hits them alike).

The workload is the paper's: its genomics model (from ``../shared/paper-genomics``
when present, else seqlift's demo model, which has the same architecture),
800 sequences x 20 dinucleotide shuffles x 3 tasks (``--quick``: 100 x 10).
Peak memory is measured in child processes at two numbers of sequences.

In-silico mutagenesis (``method="ism"``, 3 forward passes per position, no
references) runs on 200 of the sequences (``--quick``: 25), 3 tasks, as
ratios to the plain gradient at the same sequences (one pair each) and to
plain forward passes of as many sequences as it evaluates (seqlift's
compiled ``Model.predict``), with its forward passes per second; the spread
of the repeats is shown beside the medians.
``--oracles`` also times the original deeplift 0.6.13 (in a subprocess) and
shap's DeepExplainer on the same pairs.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from seqlift.data import shipped_file

#: the checkout seqlift runs from (a site-packages folder when installed: then there is no paper model beside it)
REPO = Path(__file__).resolve().parents[2]
PAPER = REPO.parent / "shared" / "paper-genomics"
#: the shipped demo model (package data)
DEMO_MODEL = shipped_file("demo", "model.h5")


def _model_files() -> tuple[str, Path, Path | None]:
    if (PAPER / "model.json").exists():
        return "paper model (../shared/paper-genomics)", PAPER / "model.json", PAPER / "model_weights.h5"
    return "demo model (seqlift/data/demo/model.h5)", DEMO_MODEL, None


def _workload(n: int, shuffles: int, seed: int = 0):
    import seqlift

    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, 200))]
    return x, seqlift.dinucleotide_shuffle(x, shuffles, seed=seed)


def _gradient_floor(model, target: str, tasks: list[int], batch_pairs: int):
    """A compiled plain gradient of each task over batches of pairs."""
    import tensorflow as tf

    from seqlift.engine.backprop import ancestors

    keep = set(ancestors(model, target))

    def target_values(points):
        return tf.reshape(model.forward([points], keep=keep)[target], [tf.shape(points)[0], -1])

    return _batched_gradient(target_values, model.input_shapes[0], tasks, batch_pairs)


def _keras_gradient_floor(model, tasks: list[int], batch_pairs: int):
    """The same plain gradient through Keras's own model and TensorFlow's stock kernels.

    The demo's ``.h5`` has the paper's architecture; its Dense and Conv1D
    layers are given the benchmarked model's weights, in order, so both floors
    compute the same function. Returns the gradient runner and a note saying
    whose weights it carries.
    """
    import keras

    from seqlift.model import ops

    keras_model = keras.models.load_model(DEMO_MODEL, compile=False)
    logits = keras.Model(keras_model.inputs, keras_model.layers[-2].output)
    ours = [node.op for node in model.nodes.values() if isinstance(node.op, (ops.Dense, ops.Conv))]
    theirs = [layer for layer in logits.layers if layer.weights]
    shapes_match = len(ours) == len(theirs) and all(
        op.bias is not None and tuple(op.kernel.shape) == tuple(layer.kernel.shape) for op, layer in zip(ours, theirs))
    if shapes_match:
        for op, layer in zip(ours, theirs):
            layer.set_weights([op.kernel.numpy(), op.bias.numpy()])
    note = "same weights" if shapes_match else "demo weights (the shapes differ)"
    return _batched_gradient(lambda points: logits(points, training=False), model.input_shapes[0], tasks,
                             batch_pairs), note


def _batched_gradient(target_values, input_shape, tasks: list[int], batch_pairs: int):
    """A compiled gradient of each task, run over all pairs of ``refs`` ``(N, S, ...)`` batch by batch.

    ``target_values(points)`` gives the target's units ``(pairs, units)``.
    Returns the runner; it returns the last batch's gradients ``(tasks, pairs, ...)``.
    """
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((None,) + tuple(input_shape), tf.float32)], autograph=False)
    def gradients(points):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(points)
            value = target_values(points)
            units = [value[:, t] for t in tasks]
        return tf.stack([tape.gradient(u, points) for u in units])

    def run(refs: np.ndarray) -> np.ndarray:
        flat = refs.reshape((-1,) + refs.shape[2:])
        for i in range(0, len(flat), batch_pairs):
            last = gradients(tf.constant(flat[i:i + batch_pairs])).numpy()
        return last

    return run


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(quick: bool = False, repeats: int | None = None, oracles: bool = False) -> dict:
    """Time the methods and the gradient floor; return the figures."""
    import seqlift
    from seqlift.engine import pairs_per_batch
    from seqlift.engine.attribution import _resolve_target

    label, path, weights = _model_files()
    model = seqlift.load_model(path, weights=weights)
    n, shuffles, tasks = (100, 10, [0, 1, 2]) if quick else (800, 20, [0, 1, 2])
    repeats = repeats or (3 if quick else 5)
    x, refs = _workload(n, shuffles)
    target = _resolve_target(model, None)
    batch = pairs_per_batch(model, target, "genomics_default")
    floor = _gradient_floor(model, target, tasks, batch)
    floor(refs[:2])  # compile
    keras_floor, keras_note = _keras_gradient_floor(model, tasks, batch)
    keras_floor(refs[:2])
    results = {"model": label, "sequences": n, "shuffles": shuffles, "tasks": len(tasks), "batch_pairs": batch,
               "keras_floor": keras_note, "methods": {}}
    for method in ["rescale", "genomics_default", "revealcancel"]:
        seqlift.attribute(model, x[:2], refs[:2], method=method, task=tasks, batch_size=batch)  # compile
        rows: dict[str, list[float]] = {key: [] for key in ("seconds", "gradient_seconds", "keras_seconds")}
        for _ in range(repeats):
            rows["keras_seconds"].append(_timed(lambda: keras_floor(refs)))
            rows["gradient_seconds"].append(_timed(lambda: floor(refs)))
            rows["seconds"].append(
                _timed(lambda: seqlift.attribute(model, x, refs, method=method, task=tasks, batch_size=batch)))
        ratio = [t / g for t, g in zip(rows["seconds"], rows["gradient_seconds"])]
        keras_ratio = [t / g for t, g in zip(rows["seconds"], rows["keras_seconds"])]
        results["methods"][method] = {key: statistics.median(values) for key, values in rows.items()}
        results["methods"][method].update(ratio=statistics.median(ratio), keras_ratio=statistics.median(keras_ratio))
    results["ism"] = _ism(model, target, tasks, x[: 25 if quick else 200], repeats)
    results["memory"] = {str(k): _peak_memory_mb(k, shuffles) for k in ((50, 400) if quick else (200, 2000))}
    if oracles:
        results["oracles"] = _oracles(path, weights, model, x, refs, tasks, floor)
    return results


def _ism(model, target: str, tasks: list[int], x: np.ndarray, repeats: int) -> dict:
    """In-silico mutagenesis of ``x`` beside the plain gradient at the same sequences and plain forward passes.

    The forward-pass floor runs ``Model.predict`` on as many sequences as
    ISM evaluates (each sequence and its ``3 L`` single-base mutants), in
    blocks of ISM's own size.
    """
    import seqlift
    from seqlift.engine.budget import forward_passes_per_block

    n, length = x.shape[:2]
    passes = n * (1 + 3 * length)
    block = forward_passes_per_block(model, target)
    batch = seqlift.engine.pairs_per_batch(model, target, "ism")
    gradient = _gradient_floor(model, target, tasks, batch)
    mutants = np.repeat(x, 1 + 3 * length, axis=0)  # forward passes of the same number of sequences
    seqlift.attribute(model, x[:2], method="ism", task=tasks)  # compile
    gradient(x[:2, None])
    model.predict(mutants[:block], batch_size=block)
    rows: dict[str, list[float]] = {key: [] for key in ("seconds", "gradient_seconds", "forward_seconds")}
    for _ in range(repeats):
        rows["gradient_seconds"].append(_timed(lambda: gradient(x[:, None])))
        rows["forward_seconds"].append(_timed(lambda: model.predict(mutants, batch_size=block)))
        rows["seconds"].append(_timed(lambda: seqlift.attribute(model, x, method="ism", task=tasks)))
    out: dict = {"sequences": n, "length": length, "forward_passes": passes, "sequences_per_batch": batch,
                 "passes_per_block": block}
    for key, values in rows.items():
        out[key] = statistics.median(values)
        out[key + "_range"] = (min(values), max(values))
    for floor in ("gradient", "forward"):
        out[floor + "_ratio"] = statistics.median(t / g for t, g in zip(rows["seconds"], rows[floor + "_seconds"]))
    out["passes_per_second"] = passes / out["seconds"]
    out["passes_per_second_range"] = (passes / max(rows["seconds"]), passes / min(rows["seconds"]))
    return out


def _peak_memory_mb(n: int, shuffles: int) -> float:
    """Peak resident memory (MiB) of a child process scoring ``n`` sequences."""
    code = (
        "from seqlift.bench import engine_bench as b\n"
        "import seqlift\n"
        "label, path, weights = b._model_files()\n"
        "model = seqlift.load_model(path, weights=weights)\n"
        f"x, refs = b._workload({n}, {shuffles})\n"
        "seqlift.attribute(model, x, refs, method='genomics_default', task=[0, 1, 2])\n"
        "from seqlift.bench.memory import peak_resident_mib\n"
        "print(peak_resident_mib())\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def _oracles(path: Path, weights: Path | None, model, x, refs, tasks, floor) -> dict:
    """The original deeplift and shap's DeepExplainer on the same pairs, as ratios to the gradient."""
    out = {}
    t_floor = _timed(lambda: floor(refs))
    oracle = REPO / "tests" / "oracles" / "deeplift_oracle.py"
    if weights is not None and not oracle.exists():
        out["deeplift not timed"] = f"its oracle script {oracle} is in the repository's tests, not installed"
    elif weights is not None:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            n, s = refs.shape[:2]
            np.savez(tmp / "in.npz", x=np.repeat(x, s, axis=0), refs=refs.reshape((-1,) + refs.shape[2:]))
            request = dict(json=str(path), weights=str(weights), mode="genomics_default", npz=str(tmp / "in.npz"),
                           out=str(tmp / "out.npz"), tasks=tasks, batch_size=500)
            (tmp / "request.json").write_text(json.dumps(request))
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
            start = time.perf_counter()
            done = subprocess.run([sys.executable, str(oracle), str(tmp / "request.json")], env=env,
                                  capture_output=True, text=True)
            if done.returncode == 0:
                out["deeplift 0.6.13 (genomics default, incl. start-up)"] = time.perf_counter() - start
    try:
        import keras
        import shap

        # the demo model has the paper's architecture, in a file Keras 3 reads
        keras_model = keras.models.load_model(DEMO_MODEL, compile=False)
        logits = keras.Model(keras_model.inputs, keras_model.layers[-2].output)
        subset = min(len(x), 100)
        explainer = shap.DeepExplainer(logits, refs[0])
        start = time.perf_counter()
        explainer.shap_values(x[:subset], check_additivity=False)
        t_shap = (time.perf_counter() - start) * len(x) / subset
        out["shap DeepExplainer (Rescale, demo model, extrapolated from 100 sequences)"] = t_shap
    except Exception as err:  # shap is an optional extra; say why it was not timed
        out["shap not timed"] = f"{type(err).__name__}: {err}"[:200]
    return {k: (v if isinstance(v, str) else {"seconds": v, "ratio": v / t_floor}) for k, v in out.items()}


def _spread(bounds: tuple[float, float], fmt: str = ".2f") -> str:
    """``low-high`` of a pair of figures."""
    low, high = bounds
    return f"{low:{fmt}}-{high:{fmt}}"


def run(quick: bool = False) -> None:
    """Print the engine benchmark table."""
    figures = measure(quick=quick, oracles=os.environ.get("SEQLIFT_BENCH_ORACLES") == "1")
    print(f"engine: {figures['model']}, {figures['sequences']} sequences x {figures['shuffles']} shuffles x "
          f"{figures['tasks']} tasks, {figures['batch_pairs']} pairs per batch (medians)")
    print("  plain gradient over the same pairs: 'Keras' through Keras's own model and TensorFlow's stock kernels "
          f"({figures['keras_floor']}), 'graph' through seqlift's graph of the model (batch-invariant kernels)")
    print(f"  {'method':<20}{'seconds':>10}{'Keras s':>10}{'ratio':>8}{'graph s':>10}{'ratio':>8}")
    for method, row in figures["methods"].items():
        print(f"  {method:<20}{row['seconds']:>10.2f}{row['keras_seconds']:>10.2f}{row['keras_ratio']:>8.2f}"
              f"{row['gradient_seconds']:>10.2f}{row['ratio']:>8.2f}")
    ism = figures["ism"]
    print(f"  ism (in-silico mutagenesis, no references): {ism['sequences']} sequences x {ism['length']} bp x 3 "
          f"tasks = {ism['forward_passes']:,} forward passes ({ism['sequences_per_batch']} sequences per batch, "
          f"blocks of {ism['passes_per_block']} mutants); medians (min-max of the repeats)")
    print(f"    {ism['seconds']:.2f} s ({_spread(ism['seconds_range'])}); {ism['passes_per_second']:,.0f} forward "
          f"passes/s ({_spread(ism['passes_per_second_range'], ',.0f')}), "
          f"{ism['sequences'] / ism['seconds']:.1f} sequences/s")
    print(f"    x {ism['gradient_ratio']:.0f} the plain gradient at the same sequences ({ism['gradient_seconds']:.3f} s, "
          f"{_spread(ism['gradient_seconds_range'], '.3f')}); x {ism['forward_ratio']:.2f} plain forward passes of "
          f"as many sequences ({ism['forward_seconds']:.2f} s, {_spread(ism['forward_seconds_range'])})")
    print("  peak memory (genomics default): " + ", ".join(
        f"{n} sequences {mb:.0f} MiB" for n, mb in figures["memory"].items()))
    for name, row in figures.get("oracles", {}).items():
        if isinstance(row, str):
            print(f"  {name}: {row}")
        else:
            print(f"  {name}: {row['seconds']:.1f} s, {row['ratio']:.1f} x the gradient")
