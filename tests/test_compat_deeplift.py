"""``seqlift.compat.deeplift`` on small synthetic models, against the original and exact computations.

* Layer naming and indexing (Sequential models with and without an
  ``InputLayer`` entry, activations inside Dense/Conv layers, a linear
  ``Activation``, Dropout, BatchNormalization, max pooling; a functional model
  with two inputs and a shared layer), dict inputs and references, and scores
  for several layers at once, compared with the original deeplift 0.6.13 making
  the same calls (``tests/oracles/deeplift_api_oracle.py``, one subprocess for
  the module) to 1e-5 of the largest score.
* The wrappers of ``util``: integrated gradients (the original's historical
  test: Dense weights [-1, -4], bias 2.5, ReLU, x = [1.1, 1.1], reference
  [0.1, 0.1], 10 intervals give [-0.4, -1.6]), shuffled references (the
  original's order of references, task lists sharing them, the same result
  through seqlift's engine and through any score function), hypothetical
  contributions.
* ``dinuc_shuffle``, ``plot_weights``, the older ``keras_conversion`` API and
  the one-line errors for what seqlift does not support.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import keras
import matplotlib
import numpy as np
import pytest
from keras import layers

matplotlib.use("Agg")

from deeplift_api import assert_agrees, has_deeplift, run_original  # noqa: E402
from model_zoo import keras2_config, randomize, sequential, write_keras2_files, write_keras2_weights  # noqa: E402

import seqlift  # noqa: E402
from seqlift.compat import deeplift  # noqa: E402
from seqlift.compat.deeplift import util  # noqa: E402
from seqlift.compat.deeplift.conversion import keras_conversion  # noqa: E402
from seqlift.compat.deeplift.conversion import kerasapi_conversion as kc  # noqa: E402
from seqlift.compat.deeplift.dinuc_shuffle import dinuc_shuffle  # noqa: E402
from seqlift.compat.deeplift.layers import MaxPoolDeepLiftMode, NonlinearMxtsMode  # noqa: E402
from seqlift.compat.deeplift.visualization import viz_sequence  # noqa: E402
from seqlift.errors import SeqliftError  # noqa: E402

needs_deeplift = pytest.mark.skipif(not has_deeplift(), reason="the dev extra 'deeplift' (0.6.13) is not installed")


def one_hot_batch(n: int, length: int, seed: int) -> np.ndarray:
    return np.eye(4, dtype=np.float32)[np.random.default_rng(seed).integers(0, 4, (n, length))]


# --------------------------------------------------------------------------- models
def _sequential_model() -> keras.Model:
    """Every kind of Sequential entry whose naming differs: layer indices 0-9 in the config."""
    return randomize(sequential(
        (30, 4),
        layers.Conv1D(6, 5, activation="relu"),          # 0: preact_0, 0
        layers.BatchNormalization(),                      # 1
        layers.Conv1D(5, 3),                              # 2 (linear: one layer)
        layers.Activation("relu"),                        # 3
        layers.Activation("linear"),                      # 4: no layer in the original
        layers.Dropout(0.2),                              # 5: NoOp
        layers.MaxPooling1D(2),                           # 6
        layers.Flatten(),                                 # 7
        layers.Dense(6, activation="tanh"),               # 8: preact_8, 8
        layers.Dense(3, activation="sigmoid"),            # 9: preact_9, 9
    ), seed=5, scale=0.4)


def _functional_model() -> keras.Model:
    """Two inputs through one shared convolution, concatenated, then two Dense layers."""
    first = keras.Input((20, 4), name="seq")
    second = keras.Input((20, 4), name="other")
    conv = layers.Conv1D(4, 5, activation="relu", name="conv")
    joined = layers.Concatenate(axis=2, name="cat")([conv(first), conv(second)])
    hidden = layers.Dense(5, activation="relu", name="hidden")(layers.Flatten(name="flat")(joined))
    out = layers.Dense(2, activation="sigmoid", name="out")(hidden)
    return randomize(keras.Model([first, second], out, name="two"), seed=8, scale=0.4)


def _tf2_sequential_files(model: keras.Model, folder: Path) -> tuple[Path, Path]:
    """A tf.keras-2 style Sequential config (with an ``InputLayer`` entry) and weights holding its group too."""
    config = keras2_config(model, "tf2")
    config_path, weights_path = folder / "tf2.json", folder / "tf2_weights.h5"
    config_path.write_text(json.dumps(config))
    with h5py.File(weights_path, "w") as handle:
        write_keras2_weights(handle, model, config["keras_version"])
        input_name = config["config"]["layers"][0]["config"]["name"]
        handle.create_group(input_name).attrs["weight_names"] = np.array([], dtype=np.float64)
        handle.attrs["layer_names"] = np.array([input_name.encode()] + list(handle.attrs["layer_names"]))
    return config_path, weights_path


SCORED_IDX = [0, 3, 6, 9]  # input, BatchNormalization ('1'), NoOp ('5'), preact_8
FUNCTIONAL_SCORED = ["seq_0", "other_0", "conv_1", "preact_hidden_0"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Keras 2 files of the models, inputs, and (with deeplift installed) the original's results."""
    folder = tmp_path_factory.mktemp("compat_synthetic")
    seq_json, seq_h5 = write_keras2_files(_sequential_model(), folder, stem="seq")
    tf2_json, tf2_h5 = _tf2_sequential_files(_sequential_model(), folder)
    fun_json, fun_h5 = write_keras2_files(_functional_model(), folder, stem="fun")
    data = dict(x=one_hot_batch(6, 30, seed=1), refs=one_hot_batch(6, 30, seed=2),
                a=one_hot_batch(5, 20, seed=3), b=one_hot_batch(5, 20, seed=4),
                ra=one_hot_batch(5, 20, seed=5), rb=np.full((20, 4), 0.25, np.float32))
    files = dict(seq=(seq_h5, seq_json), tf2=(tf2_h5, tf2_json), fun=(fun_h5, fun_json))
    result = dict(files=files, data=data, original=None)
    if not has_deeplift():
        return result
    models = {f"{name}/{mode}": dict(h5=str(h5), json=str(config), mode=mode, maxpool="gradient")
              for name, (h5, config) in files.items() for mode in ("DeepLIFT_GenomicsDefault", "Rescale")}
    calls = [dict(out="names/seq", model="seq/Rescale", getter="layers"),
             dict(out="names/tf2", model="tf2/Rescale", getter="layers"),
             dict(out="names/fun", model="fun/Rescale", getter="layers")]
    for mode in ("DeepLIFT_GenomicsDefault", "Rescale"):
        calls += [
            dict(out=f"seq/{mode}", model=f"seq/{mode}", getter="contribs", tasks=[0, 2], x={"list": ["x"]},
                 refs={"list": ["refs"]}, find=dict(find_scores_layer_idx=SCORED_IDX, target_layer_idx=-2)),
            dict(out=f"tf2/{mode}", model=f"tf2/{mode}", getter="contribs", tasks=[1], x={"list": ["x"]},
                 refs={"list": ["refs"]}, find=dict(find_scores_layer_idx=0, target_layer_idx=-2)),
            dict(out=f"fun/{mode}", model=f"fun/{mode}", getter="contribs", tasks=[0, 1],
                 x={"dict": {"seq_0": "a", "other_0": "b"}}, refs={"dict": {"seq_0": "ra", "other_0": "rb"}},
                 find=dict(find_scores_layer_name=FUNCTIONAL_SCORED, pre_activation_target_layer_name="preact_out_0")),
            dict(out=f"mult/{mode}", model=f"fun/{mode}", getter="multipliers", tasks=[1],
                 x={"list": ["a", "b"]}, refs={"list": ["ra", "rb"]},
                 find=dict(find_scores_layer_name=["seq_0", "other_0"], pre_activation_target_layer_name="preact_out_0")),
        ]
    result["original"] = run_original(folder, data, models, calls)
    return result


def _convert(synthetic, name: str, mode: str = NonlinearMxtsMode.Rescale, **kwargs):
    h5_file, json_file = synthetic["files"][name]
    return kc.convert_model_from_saved_files(str(h5_file), json_file=str(json_file), nonlinear_mxts_mode=mode,
                                             maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient, verbose=False,
                                             **kwargs)


# --------------------------------------------------------------------------- naming and indexing
def test_sequential_layers_are_indexed_as_the_original_did(synthetic):
    names = [layer.get_name() for layer in _convert(synthetic, "seq").get_layers()]
    assert names == ["input", "preact_0", "0", "1", "2", "3", "5", "6", "7", "preact_8", "8", "preact_9", "9"]
    tf2 = [layer.get_name() for layer in _convert(synthetic, "tf2").get_layers()]
    assert tf2 == ["input"] + [str(int(n) + 1) if n.isdigit() else f"preact_{int(n[7:]) + 1}" for n in names[1:]]
    if synthetic["original"] is not None:
        assert names == synthetic["original"]["names/seq/names"].tolist()
        assert tf2 == synthetic["original"]["names/tf2/names"].tolist()
        kinds = [layer.kind for layer in _convert(synthetic, "seq").get_layers()]
        assert kinds == synthetic["original"]["names/seq/classes"].tolist()


def test_functional_layers_are_named_as_the_original_did(synthetic):
    model = _convert(synthetic, "fun")
    assert model.get_input_layer_names() == ["seq_0", "other_0"]
    expected = {"seq_0", "other_0", "preact_conv_0", "conv_0", "preact_conv_1", "conv_1", "cat_0", "flat_0",
                "preact_hidden_0", "hidden_0", "preact_out_0", "out_0"}
    assert set(model.get_name_to_layer()) == expected
    assert model.get_name_to_layer()["conv_1"].get_inputs().get_name() == "preact_conv_1"
    if synthetic["original"] is not None:
        assert expected == set(synthetic["original"]["names/fun/names"].tolist())


@needs_deeplift
@pytest.mark.parametrize("mode", ["DeepLIFT_GenomicsDefault", "Rescale"])
def test_several_scored_layers_by_index_agree_with_the_original(synthetic, mode):
    func = _convert(synthetic, "seq", mode).get_target_contribs_func(find_scores_layer_idx=SCORED_IDX,
                                                                     target_layer_idx=-2)
    data = synthetic["data"]
    per_task = [func(task_idx=task, input_data_list=[data["x"]], batch_size=4, progress_update=None,
                     input_references_list=[data["refs"]]) for task in (0, 2)]
    assert isinstance(per_task[0], list) and len(per_task[0]) == len(SCORED_IDX)
    for i in range(len(SCORED_IDX)):
        assert_agrees(np.stack([scores[i] for scores in per_task]), synthetic["original"][f"seq/{mode}/{i}"])
    tf2 = _convert(synthetic, "tf2", mode).get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-2)
    ours = tf2(task_idx=1, input_data_list=[data["x"]], input_references_list=[data["refs"]])
    assert_agrees(ours[None], synthetic["original"][f"tf2/{mode}"])


@needs_deeplift
@pytest.mark.parametrize("mode", ["DeepLIFT_GenomicsDefault", "Rescale"])
def test_dict_inputs_and_several_named_layers_agree_with_the_original(synthetic, mode):
    model = _convert(synthetic, "fun", mode)
    func = model.get_target_contribs_func(find_scores_layer_name=FUNCTIONAL_SCORED,
                                          pre_activation_target_layer_name="preact_out_0")
    data = synthetic["data"]
    per_task = [func(task_idx=task, input_data_list={"seq_0": data["a"], "other_0": data["b"]}, batch_size=3,
                     progress_update=None, input_references_list={"seq_0": data["ra"], "other_0": data["rb"]})
                for task in (0, 1)]
    for i in range(len(FUNCTIONAL_SCORED)):
        assert_agrees(np.stack([scores[i] for scores in per_task]), synthetic["original"][f"fun/{mode}/{i}"])
    mults = model.get_target_multipliers_func(find_scores_layer_name=["seq_0", "other_0"],
                                              pre_activation_target_layer_name="preact_out_0")
    ours = mults(task_idx=1, input_data_list=[data["a"], data["b"]], input_references_list=[data["ra"], data["rb"]])
    for i in range(2):
        assert_agrees(ours[i][None], synthetic["original"][f"mult/{mode}/{i}"])


def test_one_task_at_a_time_equals_the_task_list_and_follows_new_inputs(synthetic):
    model = _convert(synthetic, "seq", NonlinearMxtsMode.DeepLIFT_GenomicsDefault)
    data = synthetic["data"]
    func = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-2)
    direct = seqlift.attribute(model.seqlift_model, data["x"], data["refs"][:, None], method="genomics_default",
                               task=[0, 1, 2], target_layer=model.get_layers()[-2].node, maxpool="gradient")
    for task in (2, 0, 1):
        np.testing.assert_array_equal(func(task_idx=task, input_data_list=[data["x"]],
                                           input_references_list=[data["refs"]]), direct.contributions[task])
    swapped = func(task_idx=1, input_data_list=[data["refs"]], input_references_list=[data["x"]])
    fresh = seqlift.attribute(model.seqlift_model, data["refs"], data["x"][:, None], method="genomics_default",
                              task=1, target_layer=model.get_layers()[-2].node, maxpool="gradient")
    np.testing.assert_array_equal(swapped, fresh.contributions)


def test_references_broadcast_as_in_the_original(synthetic):
    model = _convert(synthetic, "seq")
    func = model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-2)
    x = synthetic["data"]["x"]
    flat = np.array([0.3, 0.2, 0.2, 0.3], np.float32)
    full = np.broadcast_to(flat, x.shape).copy()
    expected = func(task_idx=0, input_data_list=[x], input_references_list=[full])
    for form in (flat, flat[None, None, :], np.broadcast_to(flat, x.shape[1:])):
        np.testing.assert_array_equal(func(task_idx=0, input_data_list=[x], input_references_list=[form]), expected)
    zeros = func(task_idx=0, input_data_list=[x], input_references_list=None)
    np.testing.assert_array_equal(zeros, func(task_idx=0, input_data_list=[x], input_references_list=[0.0]))


# --------------------------------------------------------------------------- util
def test_integrated_gradients_historical_case_with_a_gradient_function():
    weights, bias = np.array([-1.0, -4.0]), 2.5

    def relu_gradient(task_idx, input_data_list, input_references_list, batch_size, progress_update):
        x = np.asarray(input_data_list[0])
        return (x @ weights + bias > 0)[:, None] * weights[None, :]

    integrated = util.get_integrated_gradients_function(gradient_computation_function=relu_gradient, num_intervals=10)
    scores = integrated(task_idx=None, input_data_list=np.array([[[1.1, 1.1]]]),
                        input_references_list=np.array([0.1 * np.ones((1, 2))]), batch_size=20, progress_update=10)
    np.testing.assert_almost_equal(scores, [[-0.4, -1.6]])


def test_integrated_gradients_historical_case_through_a_converted_model(tmp_path):
    model = sequential((2,), layers.Dense(1, activation="relu"), layers.Dense(1))
    model.layers[0].set_weights([np.array([[-1.0], [-4.0]]), np.array([2.5])])
    model.layers[1].set_weights([np.array([[1.0]]), np.array([0.0])])
    config, weights = write_keras2_files(model, tmp_path)
    converted = kc.convert_model_from_saved_files(str(weights), json_file=str(config),
                                                  nonlinear_mxts_mode=NonlinearMxtsMode.Gradient, verbose=False)
    gradient_func = converted.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-1)
    integrated = util.get_integrated_gradients_function(gradient_func, num_intervals=10)
    scores = integrated(task_idx=0, input_data_list=[np.array([[1.1, 1.1]])],
                        input_references_list=[np.array([[0.1, 0.1]])], batch_size=20, progress_update=None)
    np.testing.assert_allclose(scores, [[-0.4, -1.6]], atol=1e-6)


def test_shuffled_references_through_the_engine_equal_seqlift_attribute(synthetic):
    model = _convert(synthetic, "seq", NonlinearMxtsMode.DeepLIFT_GenomicsDefault)
    x = synthetic["data"]["x"]
    many_refs = util.get_shuffle_seq_ref_function(model.get_target_contribs_func(find_scores_layer_idx=0),
                                                  shuffle_func=dinuc_shuffle)
    ours = many_refs(task_idx=[0, 2], input_data_sequences=x, num_refs_per_seq=5, batch_size=7, seed=4)
    direct = seqlift.attribute(model.seqlift_model, x, references=5, seed=4, method="genomics_default",
                               task=[0, 1, 2], target_layer=model.get_layers()[-2].node, maxpool="gradient")
    np.testing.assert_array_equal(np.stack(ours), direct.contributions[[0, 2]])
    single = many_refs(task_idx=2, input_data_sequences=x, num_refs_per_seq=5, batch_size=7, seed=4)
    np.testing.assert_array_equal(single, ours[1])  # a task list shares the references


def test_shuffled_references_follow_the_original_order_with_any_functions(synthetic):
    """A foreign shuffle is called per sequence, then per reference, with one RandomState; any score function works."""
    model = _convert(synthetic, "seq")
    contribs = model.get_target_contribs_func(find_scores_layer_idx=0)
    strings = seqlift.decode(synthetic["data"]["x"])
    calls = []

    def rotate(seq, rng):
        calls.append(seq)
        shift = int(rng.randint(1, len(seq)))
        return seq[shift:] + seq[:shift]

    def encode(sequences):
        return seqlift.one_hot(sequences)

    def foreign(**kwargs):  # not one of seqlift's functions: scored pair by pair
        return contribs(**kwargs)

    ours = util.get_shuffle_seq_ref_function(foreign, shuffle_func=rotate, one_hot_func=encode)(
        task_idx=1, input_data_sequences=strings, num_refs_per_seq=3, batch_size=10, seed=9)
    assert calls == [s for s in strings for _ in range(3)]
    rng = np.random.RandomState(9)
    expected_refs = []
    for s in strings:
        for _ in range(3):
            shift = int(rng.randint(1, len(s)))
            expected_refs.append(s[shift:] + s[:shift])
    engine = util.get_shuffle_seq_ref_function(contribs, shuffle_func=rotate, one_hot_func=encode)(
        task_idx=1, input_data_sequences=strings, num_refs_per_seq=3, batch_size=10, pregen_refs=expected_refs)
    np.testing.assert_allclose(ours, engine, rtol=0, atol=1e-6)


def test_hypothetical_contributions_of_a_multipliers_function(synthetic):
    model = _convert(synthetic, "seq")
    data = synthetic["data"]
    multipliers = model.get_target_multipliers_func(find_scores_layer_idx=0, target_layer_idx=-2)
    ours = util.get_hypothetical_contribs_func_onehot(multipliers)(
        task_idx=0, input_data_list=[data["x"]], input_references_list=[data["refs"]], batch_size=5,
        progress_update=None)
    m = multipliers(task_idx=0, input_data_list=[data["x"]], input_references_list=[data["refs"]])
    by_base = np.stack([((np.eye(4)[b] - data["refs"]) * m).sum(axis=-1) for b in range(4)], axis=-1)
    np.testing.assert_allclose(ours, by_base, atol=1e-6)
    foreign = util.get_hypothetical_contribs_func_onehot(lambda **kwargs: multipliers(**kwargs))(
        0, [data["x"]], [data["refs"]], 5, None)
    np.testing.assert_allclose(foreign, by_base, atol=1e-6)
    contributions = model.get_target_contribs_func(find_scores_layer_idx=0)(
        task_idx=0, input_data_list=[data["x"]], input_references_list=[data["refs"]])
    np.testing.assert_allclose((ours * data["x"]).sum(axis=-1), contributions.sum(axis=-1), atol=1e-5)


def test_compiled_predictions_equal_the_model(synthetic):
    model = _convert(synthetic, "fun")
    data = synthetic["data"]
    names = model.get_name_to_layer()
    func = util.compile_func([names["seq_0"].get_activation_vars(), names["other_0"].get_activation_vars()],
                             [names["out_0"].get_activation_vars(), names["preact_out_0"].get_activation_vars()])
    rows = util.run_function_in_batches(func, [data["a"], data["b"]], batch_size=2, progress_update=None,
                                        multimodal_output=True)
    expected = model.seqlift_model.predict([data["a"], data["b"]])
    np.testing.assert_allclose(np.array(rows[0]), expected, atol=1e-6)
    np.testing.assert_allclose(1 / (1 + np.exp(-np.array(rows[1]))), expected, atol=1e-6)
    predict = model.get_prediction_function(["seq_0", "other_0"], "out_0")
    np.testing.assert_allclose(predict([data["a"], data["b"]], batch_size=3), expected, atol=1e-6)


# --------------------------------------------------------------------------- other ways in
def test_yaml_config_and_the_older_keras_conversion(synthetic, tmp_path):
    yaml = pytest.importorskip("yaml")
    h5_file, json_file = synthetic["files"]["seq"]
    config = json.loads(Path(json_file).read_text())
    config["config"][0]["config"]["batch_input_shape"] = tuple(config["config"][0]["config"]["batch_input_shape"])
    yaml_file = tmp_path / "model.yaml"
    yaml_file.write_text(yaml.dump(config))  # tuples become python/tuple tags, as Keras 2 wrote them
    assert "python/tuple" in yaml_file.read_text()
    x, refs = synthetic["data"]["x"], synthetic["data"]["refs"]
    from_json = _convert(synthetic, "seq").get_target_contribs_func(find_scores_layer_idx=0)
    expected = from_json(task_idx=2, input_data_list=[x], input_references_list=[refs])
    from_yaml = kc.convert_model_from_saved_files(str(h5_file), yaml_file=str(yaml_file), verbose=False,
                                                  nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
                                                  maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient)
    np.testing.assert_array_equal(from_yaml.get_target_contribs_func(find_scores_layer_idx=0)(
        task_idx=2, input_data_list=[x], input_references_list=[refs]), expected)
    loaded = keras_conversion.load_keras_model(weights=str(h5_file), json=str(json_file))
    np.testing.assert_allclose(loaded.predict(x), from_yaml.seqlift_model.predict(x), atol=1e-6)
    old = keras_conversion.convert_sequential_model(loaded, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
                                                    maxpool_deeplift_mode=MaxPoolDeepLiftMode.gradient, verbose=False)
    assert [layer.get_name() for layer in old.get_layers()] == [
        layer.get_name() for layer in from_yaml.get_layers()]  # no InputLayer entry: the same indices
    np.testing.assert_array_equal(old.get_target_contribs_func(find_scores_layer_idx=0)(
        task_idx=2, input_data_list=[x], input_references_list=[refs]), expected)


def test_older_keras_conversion_of_a_live_functional_model():
    live = _functional_model()
    model = keras_conversion.convert_functional_model(live, nonlinear_mxts_mode=NonlinearMxtsMode.Rescale,
                                                      verbose=False)
    assert {"seq", "other", "preact_conv_0", "conv_1", "cat", "preact_out", "out"} <= set(model.get_name_to_layer())
    a, b = one_hot_batch(3, 20, seed=1), one_hot_batch(3, 20, seed=2)
    func = model.get_target_contribs_func(find_scores_layer_name=["seq", "other"],
                                          pre_activation_target_layer_name="preact_out")
    scores = func(task_idx=0, input_data_list={"seq": a, "other": b})
    logits = model.get_prediction_function(["seq", "other"], "preact_out")
    delta = logits([a, b])[:, 0] - logits([np.zeros_like(a), np.zeros_like(b)])[:, 0]
    np.testing.assert_allclose(scores[0].sum(axis=(1, 2)) + scores[1].sum(axis=(1, 2)), delta, atol=1e-5)


# --------------------------------------------------------------------------- dinuc_shuffle
def _dinucleotides(sequence) -> dict:
    pairs: dict = {}
    for i in range(len(sequence) - 1):
        pair = (sequence[i], sequence[i + 1])
        pairs[pair] = pairs.get(pair, 0) + 1
    return pairs


def test_dinuc_shuffle_of_strings_keeps_dinucleotides():
    sequence = "ACGTNACGTACGGTTACNNACGTACGTTGCA" * 3
    one = dinuc_shuffle(sequence, rng=np.random.RandomState(1))
    assert isinstance(one, str) and one[0] == sequence[0] and _dinucleotides(one) == _dinucleotides(sequence)
    many = dinuc_shuffle(sequence, num_shufs=4, rng=np.random.RandomState(1))
    assert isinstance(many, list) and len(many) == 4 and len(set(many)) > 1
    assert all(_dinucleotides(s) == _dinucleotides(sequence) for s in many)
    assert dinuc_shuffle(sequence, num_shufs=4, rng=np.random.RandomState(1)) == many  # seeded by rng
    assert dinuc_shuffle(sequence, 2, rng=np.random.default_rng(3)) == dinuc_shuffle(sequence, 2, np.random.default_rng(3))
    lower = dinuc_shuffle("acgtt", rng=np.random.RandomState(0))
    assert lower[0] == "a" and _dinucleotides(lower) == _dinucleotides("acgtt")
    mixed = dinuc_shuffle(sequence[:40].lower() + sequence[40:], rng=np.random.RandomState(1))
    assert mixed.isupper() and _dinucleotides(mixed) == _dinucleotides(sequence)  # soft-masking is folded
    with pytest.raises(SeqliftError, match="at most 5"):
        dinuc_shuffle("ACGTNRY", rng=np.random.RandomState(0))


def test_dinuc_shuffle_of_one_hot_arrays():
    x = one_hot_batch(1, 60, seed=2)[0].astype(np.int8)
    x[10] = 0  # an N
    one = dinuc_shuffle(x, rng=np.random.RandomState(0))
    assert one.shape == x.shape and one.dtype == np.int8
    tokens = lambda a: [int(np.argmax(r)) if r.any() else 4 for r in a]  # noqa: E731
    assert _dinucleotides(tokens(one)) == _dinucleotides(tokens(x))
    many = dinuc_shuffle(x, num_shufs=3, rng=np.random.RandomState(0))
    assert many.shape == (3, 60, 4)
    with pytest.raises(SeqliftError, match="one-hot"):
        dinuc_shuffle(np.full((5, 4), 0.5))


# --------------------------------------------------------------------------- plot_weights
def test_plot_weights_draws_both_layouts_with_highlights_and_custom_letters():
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch, Rectangle

    values = np.zeros((12, 4))
    values[3, 0], values[5, 3], values[7, 1] = 1.0, -0.5, 0.25
    ax = Figure().add_subplot()
    viz_sequence.plot_weights(values.T, subticks_frequency=4, highlight={"purple": [(2, 6)]}, ax=ax,
                              colors={0: "black", 1: "blue", 2: "orange", 3: "red"})
    letters = [p for p in ax.patches if isinstance(p, PathPatch) and p.get_path().get_extents().height > 1e-9]
    assert sorted(to_hex(p.get_facecolor()) for p in letters) == ["#000000", "#0000ff", "#ff0000"]
    boxes = [p for p in ax.patches if isinstance(p, Rectangle) and to_hex(p.get_edgecolor()) == "#800080"]
    assert len(boxes) == 1
    assert list(ax.get_xticks()) == [0, 4, 8, 12]
    drawn = []
    viz_sequence.plot_weights(values, ax=Figure().add_subplot(),
                              plot_funcs={i: (lambda i: lambda **kw: drawn.append((i, kw["left_edge"], kw["base"],
                                                                                   kw["height"])))(i)
                                          for i in range(4)})
    assert (0, 3, 0.0, 1.0) in drawn and (3, 5, 0.0, -0.5) in drawn and len(drawn) == 48
    with pytest.raises(SeqliftError, match=r"\(L, 4\) or \(4, L\)"):
        viz_sequence.plot_weights(np.zeros((5, 3)), ax=Figure().add_subplot())


# --------------------------------------------------------------------------- one-line errors
def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_unsupported_names_raise_one_line_naming_the_alternative(synthetic):
    cases = [
        (lambda: _convert(synthetic, "seq", NonlinearMxtsMode.DeconvNet), "GuidedBackprop"),
        (lambda: _convert(synthetic, "seq", layer_overrides={3: {}}), "genomics_default"),
        (lambda: __import__("seqlift.compat.deeplift.util", fromlist=["get_session"]).get_session, "sessions"),
        (lambda: deeplift.layers.Dense, "convert_model_from_saved_files"),
        (lambda: viz_sequence.plot_a, "plot_funcs"),
        (lambda: kc.convert_sequential_model, "convert_model_from_saved_files"),
        (lambda: keras_conversion.convert_graph_model, "convert_functional_model"),
        (lambda: _convert(synthetic, "seq").get_layers()[0].get_pos_mxts(), "get_target_contribs_func"),
        (lambda: _convert(synthetic, "seq").get_target_contribs_of_input_with_filter_ref_func(), "find_scores_layer"),
    ]
    for make, alternative in cases:
        with pytest.raises(SeqliftError) as error:
            make()
        assert alternative in _one_line(error)
    with pytest.raises(SeqliftError):
        exec("from seqlift.compat.deeplift.dinuc_shuffle import one_hot_to_tokens")


def test_mistakes_raise_one_line_errors(synthetic):
    model = _convert(synthetic, "seq")
    x = synthetic["data"]["x"]
    contribs = model.get_target_contribs_func(find_scores_layer_idx=0)
    cases = [
        (lambda: model.get_target_contribs_func(find_scores_layer_idx=0, target_layer_idx=-1), "preact_9"),
        (lambda: model.get_target_contribs_func(find_scores_layer_idx=40), "13 layers"),
        (lambda: model.get_target_contribs_func(find_scores_layer_name="dense"), "preact_0"),
        (lambda: _convert(synthetic, "seq", NonlinearMxtsMode.Gradient).get_target_contribs_func(
            find_scores_layer_idx=[0, 3]), "DeepLIFT modes"),
        (lambda: contribs(task_idx=3, input_data_list=[x]), "out of range"),
        (lambda: contribs(task_idx=[0, 1], input_data_list=[x]), "one integer"),
        (lambda: contribs(task_idx=0, input_data_list=x), "pass [array]"),
        (lambda: contribs(task_idx=0, input_data_list=[x], input_references_list=[np.zeros(3)]), "broadcast"),
        (lambda: _convert(synthetic, "fun").get_target_contribs_func("seq_0", "preact_out_0")(
            task_idx=0, input_data_list={"seq_0": x}), "'other_0'"),
        (lambda: _convert(synthetic, "fun").get_target_contribs_func(find_scores_layer_name="seq_0"),
         "pre_activation_target_layer_name"),
        (lambda: kc.convert_model_from_saved_files("missing.h5"), "does not exist"),
    ]
    for make, text in cases:
        with pytest.raises(SeqliftError) as error:
            make()
        assert text in _one_line(error)
