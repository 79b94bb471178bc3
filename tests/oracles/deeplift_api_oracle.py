"""Run calls of the original deeplift 0.6.13's own API, as the oracle of ``seqlift.compat.deeplift``.

Like ``deeplift_oracle.py`` (which explains why the original runs in a
subprocess), but driving the original's user-facing API: converted models,
``get_target_contribs_func`` / ``get_target_multipliers_func`` with any layer
choice, and the wrappers of ``deeplift.util``. One run serves a whole test
module::

    python deeplift_api_oracle.py request.json

The request (JSON)::

    {"npz": inputs.npz, "out": results.npz,
     "models": {id: {"h5": path, "json": path or null, "mode": "Rescale" | ... (a NonlinearMxtsMode name),
                     "maxpool": "gradient"}},
     "calls": [call, ...]}

A call::

    {"out": name, "model": id, "getter": "contribs" | "multipliers" | "layers" | "predict",
     "find": {keyword arguments of the getter},
     "wrap": [] | ["hypothetical"] | [["integrated_gradients", n]],   (applied in order)
     "shuffle": null | {"num_refs": S, "seed": s, "one_hot": bool},   (get_shuffle_seq_ref_function)
     "tasks": [..], "x": SPEC, "refs": SPEC or null, "pregen_refs": SPEC or null, "batch_size": n}

SPEC: an npz key; {"list": [keys]}; {"dict": {name: key}}; {"strings": key} (an
npz array of str, a list of strings). Plain calls run once per task and store
the results stacked over tasks (``name``, or ``name/i`` for each scored layer
when the getter returned a list); ``shuffle`` calls pass the task list once.
``"layers"`` stores the converted model's layer names and classes
(``name/names``, ``name/classes``); ``"predict"`` stores the values of layer
``find["output"]`` (an index, or a name for functional models) computed with
``compile_func`` and ``run_function_in_batches``, as the genomics notebook checks them.
"""
import json
import sys

import numpy as np
import tensorflow.compat.v1 as tf1

tf1.disable_v2_behavior()
sys.modules["tensorflow"] = tf1

from deeplift import util  # noqa: E402
from deeplift.conversion import kerasapi_conversion  # noqa: E402
from deeplift.dinuc_shuffle import dinuc_shuffle  # noqa: E402
from deeplift.layers import NonlinearMxtsMode  # noqa: E402

BASES = "ACGT"


def one_hot_strings(sequences):
    """(N, L, 4) int8, A/C/G/T columns, other letters all zero: the genomics notebook's encoding."""
    out = np.zeros((len(sequences), len(sequences[0]), 4), dtype=np.int8)
    for i, sequence in enumerate(sequences):
        for j, letter in enumerate(sequence.upper()):
            if letter in BASES:
                out[i, j, BASES.index(letter)] = 1
    return out


def resolve(spec, data):
    if spec is None:
        return None
    if isinstance(spec, str):
        return data[spec]
    if "list" in spec:
        return [data[key] for key in spec["list"]]
    if "dict" in spec:
        return {name: data[key] for name, key in spec["dict"].items()}
    return [str(s) for s in data[spec["strings"]]]


def convert(model_spec):
    return kerasapi_conversion.convert_model_from_saved_files(
        h5_file=model_spec["h5"], json_file=model_spec.get("json"),
        nonlinear_mxts_mode=getattr(NonlinearMxtsMode, model_spec["mode"]),
        maxpool_deeplift_mode=model_spec.get("maxpool", "gradient"), verbose=False)


def layer_index(model, key):
    return model.get_layers()[key] if isinstance(key, int) else model.get_name_to_layer()[key]


def run_call(call, model, data, results):
    out = call["out"]
    if call["getter"] == "layers":
        layers = model.get_layers() if hasattr(model, "get_layers") else list(model.get_name_to_layer().values())
        results[out + "/names"] = np.array([layer.get_name() for layer in layers])
        results[out + "/classes"] = np.array([type(layer).__name__ for layer in layers])
        return
    if call["getter"] == "predict":
        inputs = [layer_index(model, key) for key in call["find"]["inputs"]]
        output = layer_index(model, call["find"]["output"])
        func = util.compile_func([layer.get_activation_vars() for layer in inputs], output.get_activation_vars())
        rows = util.run_function_in_batches(func=func, input_data_list=resolve(call["x"], data),
                                            batch_size=call.get("batch_size", 200), progress_update=None)
        results[out] = np.array(rows)
        return
    getter = model.get_target_contribs_func if call["getter"] == "contribs" else model.get_target_multipliers_func
    func = getter(**call["find"])
    for wrapper in call.get("wrap", []):
        if wrapper == "hypothetical":
            func = util.get_hypothetical_contribs_func_onehot(func)
        else:
            func = util.get_integrated_gradients_function(func, wrapper[1])
    batch_size = call.get("batch_size", 200)
    if call.get("shuffle"):
        shuffle = call["shuffle"]
        many_refs = util.get_shuffle_seq_ref_function(
            score_computation_function=func, shuffle_func=dinuc_shuffle,
            one_hot_func=one_hot_strings if shuffle.get("one_hot") else None)
        per_task = many_refs(task_idx=call["tasks"], input_data_sequences=resolve(call["x"], data),
                             num_refs_per_seq=shuffle["num_refs"], batch_size=batch_size,
                             seed=shuffle.get("seed", 1), progress_update=None,
                             pregen_refs=resolve(call.get("pregen_refs"), data))
        results[out] = np.stack([np.asarray(scores) for scores in per_task])
        return
    per_task = []
    for task in call["tasks"]:
        kwargs = dict(task_idx=task, input_data_list=resolve(call["x"], data), batch_size=batch_size,
                      progress_update=None)
        refs = resolve(call.get("refs"), data)
        if refs is not None or call.get("wrap"):
            kwargs["input_references_list"] = refs
        per_task.append(func(**kwargs))
    scored = call["find"].get("find_scores_layer_idx", call["find"].get("find_scores_layer_name"))
    if isinstance(scored, list):  # one array per scored layer (a single layer comes back as a list of rows)
        for i in range(len(per_task[0])):
            results[f"{out}/{i}"] = np.stack([np.asarray(scores[i]) for scores in per_task])
    else:
        results[out] = np.stack([np.asarray(scores) for scores in per_task])


def main(path):
    """Run the calls model by model, each model converted once on a new, empty graph and session (in
    one graph the converted models piled up and every later conversion and run got slower)."""
    request = json.load(open(path))
    data = np.load(request["npz"])
    results = {}
    for model_id in dict.fromkeys(call["model"] for call in request["calls"]):
        tf1.reset_default_graph()
        util._SESS = None
        model = convert(request["models"][model_id])
        for call in request["calls"]:
            if call["model"] == model_id:
                run_call(call, model, data, results)
    np.savez(request["out"], **results)


if __name__ == "__main__":
    main(sys.argv[1])
