"""The original deeplift's README quickstart and genomics notebook, through ``seqlift.compat.deeplift``.

Each test runs the original's calls with only the imports changed, on the
paper's genomics model (``../shared/paper-genomics``) and 40 of its test
sequences, and compares with the original deeplift 0.6.13 making the same
calls (``tests/oracles/deeplift_api_oracle.py``, one subprocess for the whole
module) to 1e-5 of the largest score:

* the quickstart, sequential form (``find_scores_layer_idx=0,
  target_layer_idx=-2``, no reference: zeros) and functional form
  (``find_scores_layer_name``, ``pre_activation_target_layer_name``) on a
  functional copy of the model whose first and last activations are folded
  into their layers (so that ``preact_`` names occur);
* the notebook: the converted model's predictions, the five modes against
  the flat 0.3/0.2/0.2/0.3 reference, integrated gradients with 10 intervals,
  20 shuffled references per sequence given as ``pregen_refs`` (strings,
  encoded by the notebook's ``one_hot_func``), and hypothetical contributions
  over the same references.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from deeplift_api import assert_agrees, has_deeplift, run_original
from model_zoo import paper_dir

import seqlift
from seqlift.compat import deeplift
from seqlift.compat.deeplift.conversion import kerasapi_conversion as kc
from seqlift.compat.deeplift.dinuc_shuffle import dinuc_shuffle
from seqlift.compat.deeplift.layers import NonlinearMxtsMode
from seqlift.compat.deeplift.util import get_hypothetical_contribs_func_onehot, get_shuffle_seq_ref_function

N_SEQUENCES = 40
N_REFS = 20
TASKS = [0, 1, 2]
FLAT = [0.3, 0.2, 0.2, 0.3]
MODES = ["DeepLIFT_GenomicsDefault", "Rescale", "RevealCancel", "Gradient", "GuidedBackprop"]


pytestmark = [
    pytest.mark.skipif(not has_deeplift(), reason="the dev extra 'deeplift' (0.6.13) is not installed"),
    pytest.mark.skipif(not paper_dir().exists(), reason="../shared/paper-genomics (the paper's model) is absent"),
]


def one_hot_encode(sequences: list[str]) -> np.ndarray:
    """The notebook's encoding: (N, L, 4) int8, A/C/G/T columns."""
    out = np.zeros((len(sequences), len(sequences[0]), 4), dtype=np.int8)
    for i, sequence in enumerate(sequences):
        for j, letter in enumerate(sequence):
            if letter in "ACGT":
                out[i, j, "ACGT".index(letter)] = 1
    return out


def _functional_copy(folder: Path) -> tuple[Path, Path]:
    """The paper model as a Keras 2 functional model, activation_1 and activation_4 folded into their layers."""
    entries = json.loads((paper_dir() / "model.json").read_text())["config"]
    folded = {"activation_1": "conv1d_1", "activation_4": "dense_2"}
    layers = [{"name": "input_1", "class_name": "InputLayer", "inbound_nodes": [],
               "config": {"name": "input_1", "batch_input_shape": [None, 200, 4], "dtype": "float32",
                          "sparse": False}}]
    by_name = {}
    for entry in entries:
        config = dict(entry["config"])
        config.pop("batch_input_shape", None)
        if config["name"] in folded:
            by_name[folded[config["name"]]]["config"]["activation"] = config["activation"]
            continue
        layer = {"name": config["name"], "class_name": entry["class_name"], "config": config,
                 "inbound_nodes": [[[layers[-1]["name"], 0, 0, {}]]]}
        by_name[config["name"]] = layer
        layers.append(layer)
    model = {"class_name": "Model", "keras_version": "2.1.6", "backend": "tensorflow",
             "config": {"name": "paper_functional", "layers": layers, "input_layers": [["input_1", 0, 0]],
                        "output_layers": [[layers[-1]["name"], 0, 0]]}}
    config_path, weights_path = folder / "functional.json", folder / "functional_weights.h5"
    config_path.write_text(json.dumps(model))
    with h5py.File(paper_dir() / "model_weights.h5", "r") as source, h5py.File(weights_path, "w") as target:
        names = [layer["name"] for layer in layers]
        for name in names[1:]:
            source.copy(source[name], target, name)
        target.create_group("input_1").attrs["weight_names"] = np.array([], dtype=np.float64)
        target.attrs["layer_names"] = np.array([n.encode() for n in names])
        for key in ("backend", "keras_version"):
            target.attrs[key] = source.attrs[key]
    return config_path, weights_path


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """The test sequences, their shuffled references, and the original's results for every call."""
    folder = tmp_path_factory.mktemp("paper_compat")
    table = pd.read_csv(paper_dir() / "sequences.simdata.gz", sep="\t")
    test_ids = pd.read_csv(paper_dir() / "test.txt.gz", header=None)[0].tolist()[:N_SEQUENCES]
    sequences = table.set_index("seqName").loc[test_ids, "sequence"].tolist()
    x = one_hot_encode(sequences)
    pregen = [s for row in seqlift.dinucleotide_shuffle(x, N_REFS, seed=3) for s in seqlift.decode(row)]
    functional_json, functional_h5 = _functional_copy(folder)
    weights, config = str(paper_dir() / "model_weights.h5"), str(paper_dir() / "model.json")
    models = {mode: dict(h5=weights, json=config, mode=mode) for mode in MODES}
    models["functional"] = dict(h5=str(functional_h5), json=str(functional_json), mode="DeepLIFT_GenomicsDefault")
    sequential = dict(find_scores_layer_idx=0, target_layer_idx=-2)
    calls = [
        dict(out="quickstart", model="DeepLIFT_GenomicsDefault", getter="contribs", find=sequential, tasks=TASKS,
             x={"list": ["x"]}, refs=None, batch_size=10),
        dict(out="quickstart_functional", model="functional", getter="contribs", tasks=TASKS,
             find=dict(find_scores_layer_name="input_1_0", pre_activation_target_layer_name="preact_dense_2_0"),
             x={"list": ["x"]}, refs=None, batch_size=10),
        dict(out="functional_layers", model="functional", getter="contribs", tasks=TASKS, x={"dict": {"input_1_0": "x"}},
             find=dict(find_scores_layer_name=["input_1_0", "preact_conv1d_1_0", "dense_1_0"],
                       pre_activation_target_layer_name="preact_dense_2_0"), refs={"dict": {"input_1_0": "flat"}}),
        dict(out="names", model="DeepLIFT_GenomicsDefault", getter="layers"),
        dict(out="functional_names", model="functional", getter="layers"),
        dict(out="predictions", model="DeepLIFT_GenomicsDefault", getter="predict", find=dict(inputs=[0], output=-1),
             x={"list": ["x"]}),
        dict(out="integrated_gradients10", model="Gradient", getter="multipliers", find=sequential,
             wrap=[["integrated_gradients", 10]], tasks=TASKS, x={"list": ["x"]}, refs={"list": ["flat"]}),
        dict(out="multiref", model="DeepLIFT_GenomicsDefault", getter="contribs", find=sequential, tasks=TASKS,
             shuffle=dict(num_refs=N_REFS, one_hot=True), x={"strings": "sequences"}, pregen_refs={"strings": "pregen"}),
        dict(out="hypothetical_multiref", model="DeepLIFT_GenomicsDefault", getter="multipliers", find=sequential,
             wrap=["hypothetical"], tasks=TASKS, shuffle=dict(num_refs=N_REFS, one_hot=True),
             x={"strings": "sequences"}, pregen_refs={"strings": "pregen"}),
    ]
    calls += [dict(out=f"flat/{mode}", model=mode, getter="contribs", find=sequential, tasks=TASKS,
                   x={"list": ["x"]}, refs={"list": ["flat"]}, batch_size=200) for mode in MODES]
    arrays = dict(x=x, flat=np.array(FLAT)[None, None, :], sequences=np.array(sequences), pregen=np.array(pregen))
    original = run_original(folder, arrays, models, calls)
    return dict(sequences=sequences, x=x, pregen=pregen, original=original,
                functional=(functional_h5, functional_json))


def _convert(mode: str = NonlinearMxtsMode.DeepLIFT_GenomicsDefault):
    return kc.convert_model_from_saved_files(h5_file=str(paper_dir() / "model_weights.h5"),
                                             json_file=str(paper_dir() / "model.json"), nonlinear_mxts_mode=mode)


@pytest.fixture(scope="module")
def genomics_default():
    return _convert()


# --------------------------------------------------------------------------- the README quickstart
def test_quickstart_sequential_form(paper, genomics_default):
    func = genomics_default.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-2)
    scores = [np.array(func(task_idx=task, input_data_list=[paper["x"]], batch_size=10, progress_update=1000))
              for task in TASKS]
    assert_agrees(np.stack(scores), paper["original"]["quickstart"])


def test_quickstart_functional_form(paper):
    h5_file, json_file = paper["functional"]
    model = kc.convert_model_from_saved_files(str(h5_file), json_file=str(json_file),
                                              nonlinear_mxts_mode=deeplift.layers.NonlinearMxtsMode.DeepLIFT_GenomicsDefault)
    func = model.get_target_contribs_func(find_scores_layer_name="input_1_0",
                                          pre_activation_target_layer_name="preact_dense_2_0")
    scores = [np.array(func(task_idx=task, input_data_list=[paper["x"]], batch_size=10, progress_update=None))
              for task in TASKS]
    assert_agrees(np.stack(scores), paper["original"]["quickstart_functional"])
    several = model.get_target_contribs_func(find_scores_layer_name=["input_1_0", "preact_conv1d_1_0", "dense_1_0"],
                                             pre_activation_target_layer_name="preact_dense_2_0")
    per_task = [several(task_idx=task, input_data_list={"input_1_0": paper["x"]}, batch_size=200,
                        input_references_list={"input_1_0": np.array(FLAT)[None, None, :]}) for task in TASKS]
    for i in range(3):
        assert_agrees(np.stack([scores[i] for scores in per_task]), paper["original"][f"functional_layers/{i}"])


def test_layer_names_and_classes_are_the_originals(paper, genomics_default):
    original = paper["original"]
    assert [layer.get_name() for layer in genomics_default.get_layers()] == original["names/names"].tolist()
    assert [layer.kind for layer in genomics_default.get_layers()] == original["names/classes"].tolist()
    h5_file, json_file = paper["functional"]
    functional = kc.convert_model_from_saved_files(str(h5_file), json_file=str(json_file), verbose=False)
    assert sorted(functional.get_name_to_layer()) == sorted(original["functional_names/names"].tolist())


# --------------------------------------------------------------------------- the genomics notebook
def test_notebook_prediction_check(paper, genomics_default):
    from seqlift.compat.deeplift.util import compile_func

    predict = compile_func([genomics_default.get_layers()[0].get_activation_vars()],
                           genomics_default.get_layers()[-1].get_activation_vars())
    predictions = deeplift.util.run_function_in_batches(input_data_list=[paper["x"]], func=predict, batch_size=200,
                                                        progress_update=None)
    assert np.max(np.abs(np.array(predictions) - paper["original"]["predictions"])) < 1e-5


@pytest.mark.parametrize("mode", MODES)
def test_notebook_flat_reference_five_methods(paper, mode):
    func = _convert(getattr(NonlinearMxtsMode, mode)).get_target_contribs_func(find_scores_layer_idx=0,
                                                                                target_layer_idx=-2)
    scores = [np.array(func(task_idx=task, input_data_list=[paper["x"]], batch_size=200, progress_update=None,
                            input_references_list=[np.array(FLAT)[None, None, :]])) for task in TASKS]
    assert_agrees(np.stack(scores), paper["original"][f"flat/{mode}"])


def test_notebook_integrated_gradients(paper):
    gradient_func = _convert(NonlinearMxtsMode.Gradient).get_target_multipliers_func(find_scores_layer_idx=0,
                                                                                     target_layer_idx=-2)
    integrated_gradients10 = deeplift.util.get_integrated_gradients_function(
        gradient_computation_function=gradient_func, num_intervals=10)
    scores = [np.array(integrated_gradients10(task_idx=task, input_data_list=[paper["x"]], batch_size=200,
                                              input_references_list=[np.array(FLAT)[None, None, :]],
                                              progress_update=None)) for task in TASKS]
    assert_agrees(np.stack(scores), paper["original"]["integrated_gradients10"])


def test_notebook_shuffled_references(paper, genomics_default):
    many_refs = get_shuffle_seq_ref_function(
        score_computation_function=genomics_default.get_target_contribs_func(find_scores_layer_idx=0,
                                                                             target_layer_idx=-2),
        shuffle_func=dinuc_shuffle, one_hot_func=one_hot_encode)
    scores = many_refs(task_idx=TASKS, input_data_sequences=paper["sequences"], num_refs_per_seq=N_REFS,
                       batch_size=200, progress_update=1000, pregen_refs=paper["pregen"])
    assert isinstance(scores, list) and len(scores) == 3
    assert_agrees(np.stack(scores), paper["original"]["multiref"])


def test_notebook_hypothetical_contributions_over_shuffled_references(paper, genomics_default):
    multipliers = genomics_default.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-2)
    many_refs = get_shuffle_seq_ref_function(score_computation_function=get_hypothetical_contribs_func_onehot(multipliers),
                                             shuffle_func=dinuc_shuffle, one_hot_func=one_hot_encode)
    scores = many_refs(task_idx=TASKS, input_data_sequences=paper["sequences"], num_refs_per_seq=N_REFS,
                       batch_size=200, pregen_refs=paper["pregen"])
    assert_agrees(np.stack(scores), paper["original"]["hypothetical_multiref"])
