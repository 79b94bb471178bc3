"""Benchmark of ChromBPNet's two heads: seqlift against a plain TensorFlow gradient and tangermeme.

The model is the benchmark zoo's ChromBPNet-shaped one
(:func:`seqlift.bench.zoo.chrombpnet_like`: 64 filters, 8 dilated layers,
2,114 bp in, a 1,000-position profile and a log count out, random weights
with non-zero biases), explained as ChromBPNet users do: 20 dinucleotide
shuffles per sequence, Rescale, the counts target (``target="counts"``), the
profile target (``"profile"``; ``"profile_rescale"`` is bpnet-lite's) and both
heads in one call (``["profile", "counts"]``, sharing the forward passes).

Figures, each a median of repeats measured side by side in one process:

* **ratio to the gradient**: seqlift's time over a plain TensorFlow gradient
  of the same target(s) over the same (sequence, reference) pairs, through
  Keras's own model and TensorFlow's stock kernels, compiled with
  ``tf.function``, in batches of the same size (one forward pass of every
  pair and one backward pass per target: the least any DeepLIFT
  implementation can cost; the issue's goal is at most 1.3 per target);
* **tangermeme** (with the ``bench`` extra): ``deep_lift_shap`` on the
  identical PyTorch model (:func:`seqlift.bench.zoo.torch_copy`): the counts
  head, and bpnet-lite's profile target (``profile_rescale``); its time over
  seqlift's, and how far the scores are apart (the largest difference over
  the largest score; the goal is 1e-5);
* **batch size**: seqlift's time for both heads at several batch sizes;
* **end to end**: ``seqlift score --target profile,counts --layout chrombpnet
  --shuffles 20`` on random 2,114 bp windows in a child process, regions per
  second, start-up included and excluded, with its default batch size;
* **full size** (not with ``--quick``): ChromBPNet's own width, 512 filters,
  both heads on a few sequences, as seconds per 1,000 regions, beside the
  gradient, and the floating-point operations of one pass
  (:func:`pass_flops`), from which docs/benchmarks.md estimates a GPU's time.
"""
from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

#: references per sequence, ChromBPNet's
SHUFFLES = 20
#: the targets timed: a label and the ``target=`` of :func:`seqlift.attribute`
TARGETS = {"counts": "counts", "profile": "profile", "profile_rescale": "profile_rescale",
           "both heads": ["profile", "counts"]}
#: which heads' gradients the floor of each target takes (0: profile, 1: counts)
FLOOR_HEADS = {"counts": [1], "profile": [0], "profile_rescale": [0], "both heads": [0, 1]}
#: batch sizes (pairs) of the sweep
BATCH_SWEEP = (20, 40, 80, 160)


def _sequences(n: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]


def pass_flops(keras_model: Any) -> int:
    """Floating-point operations (2 per multiply-add) of one forward pass of a :func:`~seqlift.bench.zoo.chrombpnet_like`
    model's convolutions and dense layer, for one sequence; the additions of the residuals and the ReLUs are
    left out (under 0.1 %). A backward pass to the input costs about as much again."""
    total = 0
    for layer in keras_model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        shape = tuple(kernel.shape)
        positions = int(layer.output.shape[1]) if len(shape) == 3 else 1
        total += 2 * positions * int(np.prod(shape))
    return total


def heads_gradient(keras_model: Any, heads: list[int], batch_pairs: int) -> Callable[[np.ndarray], np.ndarray]:
    """A plain gradient of ChromBPNet's targets over batches of pairs, through Keras (the floor).

    Head 0 is the profile target ``Σ_j w_j l̃_j`` with ``w = softmax(l̃)`` held
    fixed (``stop_gradient``, as ChromBPNet), head 1 the log count; the
    gradient is taken at each pair's own point. Returns the runner of
    :func:`seqlift.bench.engine_bench._batched_gradient` over ``(N, S, L, 4)``.
    """
    import tensorflow as tf

    from seqlift.bench.engine_bench import _batched_gradient

    def target_values(points):
        logits, counts = keras_model(points, training=False)
        centred = logits - tf.reduce_mean(logits, axis=-1, keepdims=True)
        profile = tf.reduce_sum(tf.stop_gradient(tf.nn.softmax(centred, axis=-1)) * centred, axis=-1)
        return tf.stack([profile, tf.reduce_sum(counts, axis=-1)], axis=1)

    return _batched_gradient(target_values, tuple(keras_model.inputs[0].shape[1:]), heads, batch_pairs)


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _seqlift_runner(model: Any, x: np.ndarray, refs: np.ndarray, target: Any, batch: int) -> Callable[[], Any]:
    import seqlift

    return lambda: seqlift.attribute(model, x, refs, method="rescale", target=target, batch_size=batch)


def measure_targets(keras_model: Any, n: int, repeats: int, targets: dict = TARGETS) -> dict:
    """seqlift's time per target over the gradient floor's, on ``n`` sequences x :data:`SHUFFLES` shuffles."""
    import seqlift
    from seqlift.engine import pairs_per_batch
    from seqlift.engine.targets import resolve_targets
    from seqlift.model import from_keras

    model = from_keras(keras_model)
    x = _sequences(n, int(keras_model.inputs[0].shape[1]))
    refs = seqlift.dinucleotide_shuffle(x, SHUFFLES, seed=0).astype(np.float32)
    nodes = list(dict.fromkeys(s.node for s in resolve_targets(model, ["profile", "counts"])[0]))
    batch = max(SHUFFLES, pairs_per_batch(model, nodes, "rescale") // SHUFFLES * SHUFFLES)  # seqlift's default
    rows = {}
    for label, target in targets.items():
        floor = heads_gradient(keras_model, FLOOR_HEADS[label], batch)
        ours = _seqlift_runner(model, x, refs, target, batch)
        floor(refs[:1, :2])  # compile both
        _seqlift_runner(model, x[:1], refs[:1, :2], target, batch)()
        times: dict[str, list[float]] = {"seconds": [], "gradient_seconds": []}
        for _ in range(repeats):
            times["gradient_seconds"].append(_timed(lambda: floor(refs)))
            times["seconds"].append(_timed(ours))
        rows[label] = {key: statistics.median(values) for key, values in times.items()}
        rows[label]["ratio"] = statistics.median(s / g for s, g in zip(times["seconds"], times["gradient_seconds"]))
    return {"sequences": n, "shuffles": SHUFFLES, "batch_pairs": batch, "targets": rows}


def measure_batch_sizes(keras_model: Any, n: int, sizes: tuple[int, ...] = BATCH_SWEEP) -> dict[int, float]:
    """Seconds for both heads on ``n`` sequences at each batch size (pairs), one run each after a warm-up.

    ``n`` should fill the largest batch: a pass is padded to whole batches.
    """
    import seqlift
    from seqlift.model import from_keras

    model = from_keras(keras_model)
    x = _sequences(n, int(keras_model.inputs[0].shape[1]), seed=3)
    refs = seqlift.dinucleotide_shuffle(x, SHUFFLES, seed=0).astype(np.float32)
    seconds = {}
    for size in sizes:
        run = _seqlift_runner(model, x, refs, TARGETS["both heads"], size)
        _seqlift_runner(model, x[:1], refs[:1, :2], TARGETS["both heads"], size)()
        seconds[size] = _timed(run)
    return seconds


def measure_tangermeme(keras_model: Any, n: int) -> dict:
    """tangermeme's ``deep_lift_shap`` on the PyTorch twin against seqlift, per target: seconds and agreement."""
    import torch
    from tangermeme.deep_lift_shap import deep_lift_shap

    import seqlift
    from seqlift.bench import zoo
    from seqlift.model import from_keras

    model = from_keras(keras_model)
    twin = zoo.torch_copy(keras_model)
    x = _sequences(n, int(keras_model.inputs[0].shape[1]), seed=1)
    refs = seqlift.dinucleotide_shuffle(x, SHUFFLES, seed=0).astype(np.float32)
    x_torch = torch.from_numpy(x.transpose(0, 2, 1).copy())
    refs_torch = torch.from_numpy(refs.transpose(0, 1, 3, 2).copy())
    cases = {
        "counts": (zoo.torch_head(twin, 1), {}),
        "profile": (zoo.torch_profile(twin), {}),
        "profile_rescale": (zoo.torch_profile_rescale(twin), {
            "additional_nonlinear_ops": zoo.torch_profile_nonlinear_ops()}),
    }
    rows = {}
    for label, (module, options) in cases.items():
        def theirs(count: int = n) -> np.ndarray:
            return deep_lift_shap(module, x_torch[:count], references=refs_torch[:count], hypothetical=True,
                                  device="cpu", batch_size=32, **options).numpy().transpose(0, 2, 1)

        with warnings.catch_warnings():  # "profile": its scores sum to Σ w(x) Δl̃, not to the change it checks
            warnings.simplefilter("ignore", RuntimeWarning)
            theirs(1)  # warm-up
            start = time.perf_counter()
            expected = theirs()
            their_seconds = time.perf_counter() - start
        _seqlift_runner(model, x[:1], refs[:1], label, None)()  # warm-up: the timed call's passes (1 x 20 pairs)
        start = time.perf_counter()
        ours = seqlift.attribute(model, x, refs, method="rescale", target=label)
        our_seconds = time.perf_counter() - start
        rows[label] = {"tangermeme_seconds": their_seconds, "seconds": our_seconds,
                       "speed_up": their_seconds / our_seconds,
                       "difference": float(np.abs(ours.hypothetical - expected).max() / np.abs(expected).max())}
    return {"sequences": n, "shuffles": SHUFFLES, "targets": rows, "threads": torch.get_num_threads()}


def measure_score(sizes: tuple[int, int]) -> dict:
    """``seqlift score`` with both heads in ChromBPNet's layout, in a child process, at two numbers of regions."""
    from seqlift.bench import zoo
    from seqlift.bench.score_bench import run_child

    length = 2114
    rows = []
    with tempfile.TemporaryDirectory(prefix="seqlift-bench-chrombpnet-") as tmp:
        folder = Path(tmp)
        chrom = 40 * length * max(sizes)
        rng = np.random.default_rng(0)
        bases = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, chrom)].tobytes().decode()
        (folder / "genome.fa").write_text(">chr1\n" + "\n".join(bases[i:i + 80] for i in range(0, chrom, 80)) + "\n")
        zoo.chrombpnet_like().save(folder / "model.keras")
        for count in sizes:
            summits = rng.integers(length, chrom - length, count)
            (folder / f"peaks{count}.bed").write_text(
                "".join(f"chr1\t{s - 100}\t{s + 100}\tpeak{i}\t0\t.\t1\t-1\t-1\t100\n" for i, s in enumerate(summits)))
            command = [sys.executable, "-m", "seqlift.cli", "score", str(folder / f"peaks{count}.bed"), "--model",
                       str(folder / "model.keras"), "--genome", str(folder / "genome.fa"), "--target",
                       "profile,counts", "--layout", "chrombpnet", "--shuffles", str(SHUFFLES), "--out",
                       str(folder / f"out{count}")]
            wall, status, peak, summary = run_child(command, folder)
            batch = None
            if status == 0:
                import h5py

                with h5py.File(folder / f"out{count}.h5", "r") as handle:
                    batch = int(json.loads(handle.attrs["parameters"])["batch_size"])
            rows.append({"regions": count, "wall_s": wall, "status": status, "summary": summary,
                         "peak_rss_mib": peak / 2**20, "batch_sequences": batch})
    ok = [r for r in rows if r["status"] == 0]
    steady = None
    if len(ok) == 2 and ok[1]["wall_s"] > ok[0]["wall_s"]:
        steady = (ok[1]["regions"] - ok[0]["regions"]) / (ok[1]["wall_s"] - ok[0]["wall_s"])
    return {"runs": rows, "steady_regions_per_s": steady}


def measure(quick: bool = False) -> dict:
    """Every figure of the suite (see the module documentation)."""
    from seqlift.bench import zoo

    n, repeats = (2, 1) if quick else (8, 3)
    keras_model = zoo.chrombpnet_like()
    figures = {"flops": pass_flops(keras_model), "targets": measure_targets(keras_model, n, repeats)}
    sweep = BATCH_SWEEP[:2] if quick else BATCH_SWEEP
    figures["batch_sizes"] = measure_batch_sizes(keras_model, max(sweep) // SHUFFLES, sweep)
    if importlib.util.find_spec("tangermeme") is not None:
        figures["tangermeme"] = measure_tangermeme(keras_model, n)
    figures["score"] = measure_score((2, 6) if quick else (8, 40))
    if not quick:
        full = zoo.chrombpnet_like(filters=512)
        figures["full_size"] = measure_targets(full, 1, 1, {"both heads": TARGETS["both heads"]})
        figures["full_size"]["flops"] = pass_flops(full)
    return figures


def format_report(figures: dict) -> str:
    """The figures as the text tables ``seqlift bench chrombpnet`` prints."""
    t = figures["targets"]
    lines = [f"ChromBPNet-shaped model (64 filters, 8 dilated layers, 2,114 bp in, 1,000 out; "
             f"{figures['flops'] / 1e9:.2f} GFLOP per pass), {t['sequences']} sequences x {t['shuffles']} shuffles, "
             f"Rescale, {t['batch_pairs']} pairs per batch (medians)",
             "  gradient: a plain TensorFlow gradient of the same target(s) through Keras, same pairs and batches",
             f"  {'target':<18}{'seconds':>10}{'gradient s':>12}{'ratio':>8}"]
    for label, row in t["targets"].items():
        lines.append(f"  {label:<18}{row['seconds']:>10.2f}{row['gradient_seconds']:>12.2f}{row['ratio']:>8.2f}")
    if "tangermeme" in figures:
        tg = figures["tangermeme"]
        lines.append(f"  tangermeme deep_lift_shap on the PyTorch twin ({tg['sequences']} sequences x "
                     f"{tg['shuffles']} shuffles, batch 32, {tg['threads']} threads):")
        lines.append(f"  {'target':<18}{'tangermeme s':>14}{'seqlift s':>11}{'speed-up':>10}{'max diff / largest':>20}")
        for label, row in tg["targets"].items():
            lines.append(f"  {label:<18}{row['tangermeme_seconds']:>14.2f}{row['seconds']:>11.2f}"
                         f"{row['speed_up']:>9.1f}x{row['difference']:>20.1e}")
    else:
        lines.append("  tangermeme not timed: it is in the bench extra (make bench installs it)")
    lines.append("  both heads by batch size (pairs): " + ", ".join(
        f"{size} {seconds:.2f} s" for size, seconds in figures["batch_sizes"].items()))
    score = figures["score"]
    for row in score["runs"]:
        if row["status"]:
            lines.append(f"  seqlift score, {row['regions']} regions: failed (exit {row['status']}): {row['summary']}")
        else:
            lines.append(f"  seqlift score --target profile,counts --layout chrombpnet --shuffles {SHUFFLES}, "
                         f"{row['regions']} regions: {row['wall_s']:.1f} s, {row['regions'] / row['wall_s']:.2f} "
                         f"regions/s (start-up included), {row['batch_sequences']} sequence(s) per pass, peak RSS "
                         f"{row['peak_rss_mib']:.0f} MiB")
    if score["steady_regions_per_s"]:
        lines.append(f"  steady state (start-up excluded): {score['steady_regions_per_s']:.2f} regions/s")
    if "full_size" in figures:
        full = figures["full_size"]
        row = full["targets"]["both heads"]
        per_1000 = 1000 / full["sequences"]
        lines.append(f"  full size (512 filters, {full['flops'] / 1e9:.1f} GFLOP per pass), both heads, "
                     f"{full['sequences']} sequence(s) x {SHUFFLES} shuffles, {full['batch_pairs']} pairs per batch: "
                     f"{row['seconds']:.1f} s (gradient {row['gradient_seconds']:.1f} s, ratio {row['ratio']:.2f}); "
                     f"per 1,000 regions {row['seconds'] * per_1000 / 3600:.1f} h")
    return "\n".join(lines)


def run(quick: bool = False) -> None:
    """Measure and print the ChromBPNet benchmark."""
    print(format_report(measure(quick)))
