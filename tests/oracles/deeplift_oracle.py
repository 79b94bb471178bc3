"""Run the original deeplift 0.6.13 on a Keras 2 model file, as a test oracle.

deeplift 0.6.13 is written for TensorFlow 1. It runs on current TensorFlow when
``tensorflow`` is aliased to ``tensorflow.compat.v1`` with v2 behaviour
disabled, which would break everything else in a process, so the tests run
this file as a subprocess::

    python deeplift_oracle.py request.json

A request names a Keras 2 model (``json`` config + ``weights`` h5, or a full
``h5``), the mode (``rescale``, ``revealcancel``, ``genomics_default``,
``gradient``, ``guided_backprop``), the max-pool mode, and an ``npz`` holding
``x`` and ``refs``, one reference row per input row (pairs). It writes ``out``
(npz) with ``contribs`` and ``multipliers`` of shape (tasks, pairs, ...).
The file holds one request, or ``{"requests": [request, ...]}``: a whole test
module's cases in one process, which starts TensorFlow once.
"""
import json
import sys

import numpy as np
import tensorflow.compat.v1 as tf1

tf1.disable_v2_behavior()
sys.modules["tensorflow"] = tf1

import deeplift.util  # noqa: E402
from deeplift.conversion import kerasapi_conversion  # noqa: E402
from deeplift.layers import NonlinearMxtsMode  # noqa: E402
from deeplift.layers.core import MaxPoolDeepLiftMode  # noqa: E402

MODES = {
    "rescale": NonlinearMxtsMode.Rescale,
    "revealcancel": NonlinearMxtsMode.RevealCancel,
    "genomics_default": NonlinearMxtsMode.DeepLIFT_GenomicsDefault,
    "gradient": NonlinearMxtsMode.Gradient,
    "guided_backprop": NonlinearMxtsMode.GuidedBackprop,
}


def main(path: str) -> None:
    request = json.load(open(path))
    for one in request.get("requests", [request]):
        answer(one)


def answer(request: dict) -> None:
    """Run one request: convert its model in its mode and write its ``out``.

    Each request starts on a new, empty graph with a new session (deeplift keeps its session in
    ``deeplift.util._SESS``), as a process of its own would: requests do not pile up in one graph.
    """
    tf1.reset_default_graph()
    deeplift.util._SESS = None
    model = kerasapi_conversion.convert_model_from_saved_files(
        h5_file=request["weights"],
        json_file=request.get("json"),
        nonlinear_mxts_mode=MODES[request["mode"]],
        maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient,
        verbose=False,
    )
    data = np.load(request["npz"])
    x, refs = data["x"], data["refs"]
    target_idx = request.get("target_layer_idx", -2)
    contribs_fn = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=target_idx)
    mults_fn = model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=target_idx)
    contribs, mults = [], []
    for task in request["tasks"]:
        kwargs = dict(task_idx=task, input_data_list=[x], input_references_list=[refs],
                      batch_size=request.get("batch_size", 200), progress_update=None)
        contribs.append(np.array(contribs_fn(**kwargs)))
        mults.append(np.array(mults_fn(**kwargs)))
    np.savez(request["out"], contribs=np.stack(contribs), multipliers=np.stack(mults))


if __name__ == "__main__":
    main(sys.argv[1])
