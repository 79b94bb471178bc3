"""Running the original deeplift's API as an oracle, for the tests of ``seqlift.compat.deeplift``.

:func:`run_original` hands a list of calls to ``oracles/deeplift_api_oracle.py``
(its docstring describes them) in one subprocess and returns the original's
results; :func:`assert_agrees` compares scores to a share of the largest one.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ORACLE = Path(__file__).parent / "oracles" / "deeplift_api_oracle.py"
#: agreement asked of seqlift.compat.deeplift, as a share of the largest score
RELATIVE = 1e-5


def has_deeplift() -> bool:
    """Whether the original deeplift (the dev extra) imports."""
    try:
        import deeplift  # noqa: F401
    except Exception:
        return False
    return True


def run_original(folder: Path, arrays: dict[str, np.ndarray], models: dict, calls: list[dict]) -> dict[str, np.ndarray]:
    """The original's results of ``calls`` on ``models``, with ``arrays`` as the named inputs."""
    np.savez(folder / "in.npz", **arrays)
    request = dict(npz=str(folder / "in.npz"), out=str(folder / "out.npz"), models=models, calls=calls)
    (folder / "request.json").write_text(json.dumps(request))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, str(ORACLE), str(folder / "request.json")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(folder / "out.npz") as out:
        return {key: out[key] for key in out.files}


def assert_agrees(ours, theirs, relative: float = RELATIVE) -> None:
    """``ours`` equals ``theirs`` (same shape) to ``relative`` of the largest absolute value of ``theirs``."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = np.abs(theirs).max()
    assert scale > 0
    error = np.abs(ours - theirs).max() / scale
    assert error <= relative, f"max difference {error:.2e} of the largest score"
