"""The engine benchmark's two gradient floors compute the benchmarked model's gradient."""
from __future__ import annotations

import keras
import numpy as np

import seqlift
from seqlift.bench import engine_bench
from seqlift.engine.attribution import _resolve_target


def test_keras_and_graph_gradient_floors_agree(tmp_path):
    # the demo's architecture with other (fresh random) weights: the Keras floor must take them over
    demo = keras.models.load_model(engine_bench.DEMO_MODEL, compile=False)
    other = keras.models.clone_model(demo)
    other.save(tmp_path / "other.h5")
    model = seqlift.load_model(tmp_path / "other.h5")
    target = _resolve_target(model, None)
    x, refs = engine_bench._workload(3, 4)
    graph = engine_bench._gradient_floor(model, target, [0, 1, 2], batch_pairs=64)(refs)
    keras_run, note = engine_bench._keras_gradient_floor(model, [0, 1, 2], batch_pairs=64)
    assert note == "same weights"
    stock = keras_run(refs)
    assert graph.shape == stock.shape == (3, 12, 200, 4)
    scale = np.abs(graph).max()
    assert scale > 0
    np.testing.assert_allclose(stock, graph, rtol=1e-4, atol=1e-5 * scale)
    # the demo's own weights give another gradient, so the comparison above can fail
    demo_run, _ = engine_bench._keras_gradient_floor(seqlift.load_model(engine_bench.DEMO_MODEL), [0, 1, 2], 64)
    assert np.abs(demo_run(refs) - graph).max() > 1e-3 * scale
    # and it is the multiplier seqlift's gradient method gives at the first reference of each sequence
    ours = seqlift.attribute(model, refs[:, 0], refs[:, :1], method="gradient", task=[0, 1, 2],
                             return_multipliers=True)
    np.testing.assert_allclose(ours.multipliers, graph[:, ::4], rtol=1e-4, atol=1e-5 * scale)


def test_a_childs_peak_memory_is_its_own_not_its_parents():
    """A child of a process holding 400 MB reports its own peak (a bare interpreter's tens of MB), where
    ``ru_maxrss`` reports the parent's 400 MB; and a watched child's peak includes what it allocated."""
    import subprocess
    import sys

    from seqlift.bench.memory import peak_resident_mib, run_and_watch

    held = np.ones(50_000_000)  # 400 MB, every page touched
    code = ("import resource; from seqlift.bench.memory import peak_resident_mib; "
            "print(peak_resident_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    own, maxrss = (float(v) for v in subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                     check=True).stdout.split())
    assert maxrss > 380 and own < 150, (own, maxrss)
    assert peak_resident_mib() >= held.nbytes / 2**20
    allocating = subprocess.Popen([sys.executable, "-c", "import time, numpy; a = numpy.ones(25_000_000); "
                                   "time.sleep(0.3)"])
    status, peak = run_and_watch(allocating)
    assert status == 0 and 190 < peak < 380, peak
