"""Loading Keras files of every generation and structure, and the errors for bad input."""
from __future__ import annotations

import gzip
import io
import json
import shutil
import zipfile

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from model_zoo import (
    functional_two_inputs,
    keras_outputs,
    nested_model,
    paper_dir,
    random_inputs,
    randomize,
    save_all,
    sequential,
    write_keras2_files,
    write_tf_keras2_h5,
)

import seqlift
from seqlift.errors import SeqliftError
from seqlift.model import Model, from_keras, load_model, ops

TOL = dict(atol=1e-5, rtol=1e-5)


def assert_same_outputs(model: Model, inputs, expected):
    got = model.predict(inputs if len(inputs) > 1 else inputs[0])
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, **TOL)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("loading")


@pytest.fixture(scope="module")
def two_inputs(folder):
    model = randomize(functional_two_inputs(), seed=11)
    inputs = random_inputs(model, batch=6)
    return model, inputs, keras_outputs(model, inputs), save_all(model, folder, "two_inputs")


@pytest.fixture(scope="module")
def nested(folder):
    model = randomize(nested_model(), seed=12)
    inputs = random_inputs(model, batch=6)
    return model, inputs, keras_outputs(model, inputs), save_all(model, folder, "nested")


def paper_like_sequential() -> keras.Model:
    """The paper's architecture, shrunk: Conv1D/ReLU/Conv1D/ReLU/AvgPool/Flatten/Dense/ReLU/Dropout/Dense/Sigmoid."""
    return sequential(
        (30, 4),
        layers.Conv1D(5, 5, name="conv1d_1"),
        layers.Activation("relu", name="activation_1"),
        layers.Conv1D(5, 5, name="conv1d_2"),
        layers.Activation("relu", name="activation_2"),
        layers.AveragePooling1D(22, name="average_pooling1d_1"),
        layers.Flatten(name="flatten_1"),
        layers.Dense(6, name="dense_1"),
        layers.Activation("relu", name="activation_3"),
        layers.Dropout(0.5, name="dropout_1"),
        layers.Dense(3, name="dense_2"),
        layers.Activation("sigmoid", name="activation_4"),
        name="sequential_1",
    )


# --------------------------------------------------------------------------
# structures
# --------------------------------------------------------------------------
def test_sequential_and_functional_give_the_same_graph(folder):
    seq = randomize(sequential((9, 4), layers.Conv1D(3, 3, activation="relu", name="c"), layers.Flatten(name="f"), layers.Dense(2, name="d")), seed=3)
    x = keras.Input((9, 4), name="x")
    y = layers.Dense(2, name="d")(layers.Flatten(name="f")(layers.Conv1D(3, 3, activation="relu", name="c")(x)))
    fun = keras.Model(x, y)
    fun.set_weights(seq.get_weights())
    inputs = random_inputs(seq)
    a = load_model(save_all(seq, folder, "seq")["keras"])
    b = load_model(save_all(fun, folder, "fun")["h5"])
    assert list(a.nodes)[1:] == list(b.nodes)[1:] == ["c/preact", "c", "f", "d"]
    np.testing.assert_allclose(a.predict(inputs[0]), b.predict(inputs[0]), **TOL)
    np.testing.assert_allclose(a.predict(inputs[0]), keras_outputs(seq, inputs)[0], **TOL)


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_multi_input_multi_output_shared_layer(two_inputs, fmt):
    model, inputs, expected, paths = two_inputs
    loaded = load_model(paths[fmt])
    assert loaded.inputs == ["seq", "extra"]
    assert loaded.input_shapes == [(12, 4), (6,)]
    assert loaded.outputs == ["out1", "out2"]
    assert loaded.output_units() == [3, 2]
    assert loaded.nodes["shared"].op is loaded.nodes["shared@1"].op
    assert loaded.nodes["shared"].inputs == ["gmax"] and loaded.nodes["shared@1"].inputs == ["proj"]
    assert loaded.nodes["shared@1"].layer == "shared"
    assert loaded.nodes["avg"].inputs == ["shared", "shared@1", "add"]
    assert_same_outputs(loaded, inputs, expected)


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_nested_models(nested, fmt):
    model, inputs, expected, paths = nested
    loaded = load_model(paths[fmt])
    names = list(loaded.nodes)
    for name in ("block/inner_dense/preact", "block/inner_dense", "block/inner_bn", "block", "block@1/inner_bn", "block@1", "sub/sub_h", "sub/sub_o", "sub:0", "sub:1"):
        assert name in names, name
    assert loaded.nodes["block/inner_bn"].op is loaded.nodes["block@1/inner_bn"].op
    assert loaded.nodes["block@1/inner_dense/preact"].inputs == ["pre"]
    assert loaded.nodes["block@1/inner_bn"].layer == "block/inner_bn"
    assert loaded.nodes["cat"].inputs == ["sub:0", "sub:1"]
    assert_same_outputs(loaded, inputs, expected)
    # the nested models' outputs equal Keras' own
    values = loaded.forward(inputs)
    probe = keras.Model(model.inputs, model.get_layer("join").output)
    np.testing.assert_allclose(values["join"].numpy(), probe.predict(inputs[0], verbose=0), **TOL)


def test_dict_outputs_follow_sorted_keys(folder):
    x = keras.Input((5,), name="x")
    h = layers.Dense(4, activation="relu", name="h")(x)
    model = randomize(keras.Model(x, {"zeta": layers.Dense(1, name="z")(h), "alpha": layers.Dense(2, name="a")(h)}))
    inputs = random_inputs(model)
    loaded = load_model(save_all(model, folder, "dict")["keras"])
    assert loaded.outputs == ["a", "z"]
    assert_same_outputs(loaded, inputs, keras_outputs(model, inputs))


def test_from_keras(nested, two_inputs):
    for model, inputs, expected, _ in (nested, two_inputs):
        converted = from_keras(model)
        assert converted.source.startswith("<live Keras model")
        assert_same_outputs(converted, inputs, expected)


def test_forward_keep_and_tf_function(two_inputs):
    _, inputs, expected, paths = two_inputs
    loaded = load_model(paths["keras"])
    everything = loaded.forward(inputs)
    assert list(everything) == list(loaded.nodes)
    some = loaded.forward(inputs, keep=["conv/preact"])
    assert set(some) == {"conv/preact", "out1", "out2"}

    @tf.function
    def run(a, b):
        return loaded.forward([a, b], keep=["gmax"])

    traced = run(tf.constant(inputs[0]), tf.constant(inputs[1]))
    np.testing.assert_allclose(traced["gmax"].numpy(), everything["gmax"].numpy(), **TOL)
    np.testing.assert_allclose(traced["out1"].numpy(), expected[0], **TOL)
    batched = loaded.predict(inputs, batch_size=4)
    np.testing.assert_allclose(batched[1], expected[1], **TOL)
    by_name = loaded.predict({"seq": inputs[0], "extra": inputs[1]})
    np.testing.assert_allclose(by_name[0], expected[0], **TOL)
    summary = loaded.summary()
    assert "shared@1" in summary and "Conv1D(5, 3, same)" in summary


def test_public_api_exports_load_model(two_inputs):
    assert seqlift.load_model is load_model
    assert isinstance(seqlift.load_model(two_inputs[3]["keras"]), Model)


# --------------------------------------------------------------------------
# older Keras files
# --------------------------------------------------------------------------
@pytest.mark.parametrize("flavour", ["keras2.1", "keras2.2", "tf2"])
def test_keras2_json_and_save_weights(folder, flavour):
    model = randomize(paper_like_sequential(), seed=5)
    inputs = random_inputs(model)
    config_path, weights_path = write_keras2_files(model, folder, flavour, stem=f"paperlike_{flavour}")
    config = json.loads(config_path.read_text())
    if flavour == "keras2.1":
        assert isinstance(config["config"], list) and "batch_input_shape" in config["config"][0]["config"]
    loaded = load_model(config_path, weights=weights_path)
    assert loaded.outputs == ["activation_4"]
    assert_same_outputs(loaded, inputs, keras_outputs(model, inputs))


def test_keras2_sequential_with_dict_config_bn_and_activation_args(folder):
    model = randomize(
        sequential(
            (8, 4),
            layers.Conv1D(4, 3, padding="same", activation="relu", name="conv1d_1"),
            layers.BatchNormalization(name="batch_normalization_1"),
            layers.LeakyReLU(negative_slope=0.2, name="leaky_re_lu_1"),
            layers.MaxPooling1D(2, name="max_pooling1d_1"),
            layers.Flatten(name="flatten_1"),
            layers.Dense(2, activation="softmax", name="dense_1"),
            name="seq_k22",
        ),
        seed=6,
    )
    inputs = random_inputs(model)
    config_path, weights_path = write_keras2_files(model, folder, "keras2.2", stem="k22")
    assert "alpha" in json.loads(config_path.read_text())["config"]["layers"][2]["config"]
    loaded = load_model(config_path, weights=weights_path)
    assert isinstance(loaded.nodes["dense_1"].op, ops.Softmax)
    assert_same_outputs(loaded, inputs, keras_outputs(model, inputs))


def test_keras2_old_class_name_alias(folder):
    model = randomize(paper_like_sequential(), seed=8)
    inputs = random_inputs(model)
    config_path, weights_path = write_keras2_files(model, folder, "keras2.1", stem="alias")
    config_path.write_text(config_path.read_text().replace('"Conv1D"', '"Convolution1D"'))
    loaded = load_model(config_path, weights=weights_path)
    assert isinstance(loaded.nodes["conv1d_1"].op, ops.Conv)
    assert_same_outputs(loaded, inputs, keras_outputs(model, inputs))


def test_keras1_style_config_and_weight_names(folder):
    """Keras 1 parameter names (nb_filter, filter_length, output_dim, p...), ``_W``/``_b`` weight
    names matched by order, a 4-D Convolution1D kernel, and ThresholdedReLU."""
    model = randomize(
        sequential(
            (30, 4),
            layers.Conv1D(5, 5, activation="relu", name="convolution1d_1"),
            layers.MaxPooling1D(2, name="maxpooling1d_1"),
            layers.Flatten(name="flatten_1"),
            layers.Dense(3, name="dense_1"),
        ),
        seed=13,
    )
    inputs = random_inputs(model)
    config = {
        "class_name": "Sequential",
        "keras_version": "1.2.2",
        "config": [
            {"class_name": "Convolution1D", "config": {
                "name": "convolution1d_1", "nb_filter": 5, "filter_length": 5, "border_mode": "valid",
                "subsample_length": 1, "activation": "relu", "bias": True, "batch_input_shape": [None, 30, 4],
                "input_dim": 4, "input_length": 30}},
            {"class_name": "MaxPooling1D", "config": {
                "name": "maxpooling1d_1", "pool_length": 2, "stride": None, "border_mode": "valid"}},
            {"class_name": "ThresholdedReLU", "config": {"name": "thresholdedrelu_1", "theta": 0.0}},
            {"class_name": "Flatten", "config": {"name": "flatten_1"}},
            {"class_name": "Dropout", "config": {"name": "dropout_1", "p": 0.2}},
            {"class_name": "Dense", "config": {
                "name": "dense_1", "output_dim": 3, "activation": "linear", "bias": True, "input_dim": None}},
        ],
    }  # fmt: skip
    config_path = folder / "keras1.json"
    config_path.write_text(json.dumps(config))
    weights_path = folder / "keras1_weights.h5"
    kernel, bias = model.get_layer("convolution1d_1").get_weights()
    dense_kernel, dense_bias = model.get_layer("dense_1").get_weights()
    arrays = {
        "convolution1d_1": {"convolution1d_1_W": kernel[:, None], "convolution1d_1_b": bias},
        "maxpooling1d_1": {}, "thresholdedrelu_1": {}, "flatten_1": {}, "dropout_1": {},
        "dense_1": {"dense_1_W": dense_kernel, "dense_1_b": dense_bias},
    }  # fmt: skip
    with h5py.File(weights_path, "w") as handle:
        handle.attrs["layer_names"] = np.array([name.encode() for name in arrays])
        for layer, named in arrays.items():
            group = handle.create_group(layer)
            group.attrs["weight_names"] = np.array([n.encode() for n in named]) if named else np.array([], np.float64)
            for name, value in named.items():
                group[name] = value
    loaded = load_model(config_path, weights=weights_path)
    assert loaded.nodes["thresholdedrelu_1"].op.kind == "relu"
    assert_same_outputs(loaded, inputs, keras_outputs(model, inputs))


@pytest.mark.parametrize("flavour", ["keras2.2", "tf2"])
def test_keras2_functional_with_nested_models(nested, folder, flavour):
    model, inputs, expected, _ = nested
    config_path, weights_path = write_keras2_files(model, folder, flavour, stem=f"nested_{flavour}")
    config = json.loads(config_path.read_text())
    assert config["class_name"] == ("Model" if flavour == "keras2.2" else "Functional")
    inbound = {entry["name"]: entry["inbound_nodes"] for entry in config["config"]["layers"]}
    assert inbound["join"][0][0][:2] == ["block", 1]  # Keras 2 numbers a nested model's calls from 1
    loaded = load_model(config_path, weights=weights_path)
    assert_same_outputs(loaded, inputs, expected)


@pytest.mark.parametrize("which,flavour", [("two_inputs", "tf2"), ("nested", "tf2"), ("nested", "keras2.2")])
def test_keras2_full_model_h5(request, folder, which, flavour):
    model, inputs, expected, _ = request.getfixturevalue(which)
    path = write_tf_keras2_h5(model, folder / f"{which}_{flavour}.h5", flavour)
    with h5py.File(path) as handle:
        text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
        assert text(handle.attrs["keras_version"]).startswith("2.")
        assert "batch_input_shape" in text(handle.attrs["model_config"])
    assert_same_outputs(load_model(path), inputs, expected)


def test_keras2_full_model_h5_sequential(folder):
    model = randomize(paper_like_sequential(), seed=9)
    inputs = random_inputs(model)
    for flavour in ("tf2", "keras2.1"):
        path = write_tf_keras2_h5(model, folder / f"paperlike_full_{flavour}.h5", flavour)
        assert_same_outputs(load_model(path), inputs, keras_outputs(model, inputs))


def test_variable_length_input(folder):
    model = randomize(
        sequential(
            (None, 4),
            layers.Conv1D(3, 5, padding="same", activation="relu", name="conv"),
            layers.MaxPooling1D(2, name="pool"),
            layers.GlobalMaxPooling1D(name="gmax"),
            layers.Dense(2, name="out"),
        )
    )
    loaded = load_model(save_all(model, folder, "varlen")["keras"])
    assert loaded.input_shapes == [(None, 4)] and loaded.shapes["pool"] == (None, 3)
    assert loaded.output_units() == [2]
    for length in (17, 40):
        x = np.random.default_rng(length).normal(size=(3, length, 4)).astype(np.float32)
        np.testing.assert_allclose(loaded.predict(x), model.predict(x, verbose=0), **TOL)


def test_functional_inside_sequential_and_sequential_without_input(folder):
    sub_in = keras.Input((5,))
    sub = keras.Model(sub_in, layers.Dense(4, activation="tanh", name="fd")(sub_in), name="fsub")
    unbuilt = keras.Sequential([layers.Dense(3, activation="relu", name="u1"), layers.Dense(2, name="u2")], name="unbuilt")
    outer = randomize(keras.Sequential([keras.Input((5,)), sub, unbuilt, layers.Dense(1, name="after")]), seed=4)
    inputs = random_inputs(outer)
    for path in save_all(outer, folder, "seq_nest").values():
        loaded = load_model(path)
        assert {"fsub/fd/preact", "fsub", "unbuilt/u1", "unbuilt/u2", "unbuilt"} <= set(loaded.nodes)
        assert_same_outputs(loaded, inputs, keras_outputs(outer, inputs))


def _rewrite_keras_zip(source, target, edit_weights):
    """Copy a .keras file, editing its model.weights.h5 with ``edit_weights(h5py.File)``."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "a") as handle:
        edit_weights(handle)
    members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _drop_name_attributes(handle):
    def visit(_, obj):
        if isinstance(obj, h5py.Group) and "name" in obj.attrs:
            del obj.attrs["name"]

    handle.visititems(visit)


@pytest.mark.parametrize("which", ["two_inputs", "nested", "sequential"])
def test_keras3_file_without_layer_names_in_weights(request, folder, which):
    """Earlier Keras 3 versions did not store layer names beside the weights: keys are rebuilt."""
    if which == "sequential":
        model = randomize(paper_like_sequential(), seed=10)
        inputs = random_inputs(model)
        expected, paths = keras_outputs(model, inputs), save_all(model, folder, "paperlike3")
    else:
        model, inputs, expected, paths = request.getfixturevalue(which)
    target = _rewrite_keras_zip(paths["keras"], folder / f"{which}_unnamed.keras", _drop_name_attributes)
    with zipfile.ZipFile(target) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as handle:
        found = []
        handle.visititems(lambda name, obj: found.append(name) if "name" in obj.attrs else None)
        assert not found
    assert_same_outputs(load_model(target), inputs, expected)


def test_keras_2_13_keras_file_layout(nested, folder):
    model, inputs, expected, paths = nested

    def to_2_13(handle):
        _drop_name_attributes(handle)

        def rename(group):
            for key in list(group.keys()):
                if isinstance(group[key], h5py.Group):
                    rename(group[key])
            if "layers" in group:
                group.move("layers", "_layer_checkpoint_dependencies")

        rename(handle)

    target = _rewrite_keras_zip(paths["keras"], folder / "nested_213.keras", to_2_13)
    assert_same_outputs(load_model(target), inputs, expected)


def test_json_config_with_keras3_weights_file(two_inputs, folder):
    model, inputs, expected, paths = two_inputs
    config_path = folder / "two_inputs.json"
    config_path.write_text(model.to_json())
    weights_path = folder / "two_inputs.weights.h5"
    model.save_weights(weights_path)
    assert_same_outputs(load_model(config_path, weights=weights_path), inputs, expected)
    # a full-model file can serve as weights= too
    assert_same_outputs(load_model(config_path, weights=paths["h5"]), inputs, expected)
    assert_same_outputs(load_model(paths["keras"], weights=paths["h5"]), inputs, expected)


# --------------------------------------------------------------------------
# the paper's own model
# --------------------------------------------------------------------------
def _one_hot(sequences: list[str]) -> np.ndarray:
    table = {"A": 0, "C": 1, "G": 2, "T": 3}
    out = np.zeros((len(sequences), len(sequences[0]), 4), np.float32)
    for i, seq in enumerate(sequences):
        for j, base in enumerate(seq):
            if base in table:
                out[i, j, table[base]] = 1.0
    return out


def _paper_numpy_forward(x: np.ndarray, weights: h5py.File) -> tuple[np.ndarray, np.ndarray]:
    """Conv1D/ReLU/Conv1D/ReLU/AvgPool/Flatten/Dense/ReLU/Dropout/Dense/Sigmoid, by hand."""

    def w(layer: str, name: str) -> np.ndarray:
        return np.asarray(weights[layer][layer][f"{name}:0"], np.float64)

    def conv_valid(h: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
        width = kernel.shape[0]
        steps = h.shape[1] - width + 1
        out = np.zeros((h.shape[0], steps, kernel.shape[2]))
        for offset in range(width):
            out += h[:, offset : offset + steps, :] @ kernel[offset]
        return out + bias

    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    h = relu(conv_valid(x.astype(np.float64), w("conv1d_1", "kernel"), w("conv1d_1", "bias")))
    h = relu(conv_valid(h, w("conv1d_2", "kernel"), w("conv1d_2", "bias")))
    steps = h.shape[1] // 180
    h = h[:, : steps * 180].reshape(h.shape[0], steps, 180, -1).mean(axis=2)  # AveragePooling1D(180)
    h = h.reshape(h.shape[0], -1)  # Flatten
    h = relu(h @ w("dense_1", "kernel") + w("dense_1", "bias"))  # Dropout is the identity
    logits = h @ w("dense_2", "kernel") + w("dense_2", "bias")
    return logits, 1.0 / (1.0 + np.exp(-logits))


def test_paper_model_loads_and_predicts_exactly():
    folder = paper_dir()
    if not (folder / "model.json").exists():
        pytest.skip(f"the paper's genomics model is not at {folder} (../shared/paper-genomics beside the checkout)")
    model = load_model(folder / "model.json", weights=folder / "model_weights.h5")
    assert model.input_shapes == [(200, 4)]
    assert model.outputs == ["activation_4"]
    assert model.output_units() == [3]
    assert [type(model.nodes[n].op).__name__ for n in model.nodes] == [
        "Input", "Conv", "Activation", "Conv", "Activation", "AvgPool", "Flatten",
        "Dense", "Activation", "Identity", "Dense", "Activation",
    ]  # fmt: skip
    with gzip.open(folder / "sequences.simdata.gz", "rt") as handle:
        next(handle)
        sequences = [next(handle).split("\t")[1] for _ in range(24)]
    x = np.concatenate([_one_hot(sequences), np.random.default_rng(0).dirichlet(np.ones(4), (8, 200)).astype(np.float32)])
    with h5py.File(folder / "model_weights.h5") as weights:
        logits, probabilities = _paper_numpy_forward(x, weights)
    values = model.forward(x, keep=["dense_2"])
    np.testing.assert_allclose(values["dense_2"].numpy(), logits, **TOL)
    np.testing.assert_allclose(model.predict(x, batch_size=10), probabilities, **TOL)
    assert np.ptp(probabilities) > 0.1  # the check is not vacuous


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------
def load_error(*args, **kwargs) -> str:
    with pytest.raises(SeqliftError) as caught:
        load_model(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_unsupported_layer_names_layer_class_and_supported_list(folder):
    model = sequential((5, 3), layers.GroupNormalization(1, name="my_norm"), layers.Dense(1))
    for path in save_all(model, folder, "group_norm").values():
        message = load_error(path)
        assert "'my_norm' (GroupNormalization) is not supported" in message
        assert "supported layer classes:" in message and "Conv1D" in message and "BatchNormalization" in message


def test_lambda_layer_is_named_with_its_position_and_the_layer_before_it(folder):
    model = sequential((5, 4), layers.Conv1D(2, 3, name="conv"), layers.Lambda(lambda t: 2.0 * t, name="double"),
                       layers.Flatten(), layers.Dense(1))
    for path in save_all(model, folder, "lambda").values():
        message = load_error(path)
        assert "'double' (Lambda, layer 2 of 4" in message and "e.g. 'conv'" in message, message


def test_unsupported_activation(folder):
    model = sequential((5,), layers.Dense(2, activation="softsign", name="ss"))
    message = load_error(save_all(model, folder, "softsign")["keras"])
    assert "'ss'" in message and "'softsign' is not supported" in message


def test_not_a_model_file(folder):
    text = folder / "notes.h5"
    text.write_text("just some text\n")
    assert "is not a Keras model file" in load_error(text)
    plain = folder / "plain.h5"
    with h5py.File(plain, "w") as handle:
        handle["data"] = np.arange(3)
    assert "is not a Keras model file" in load_error(plain)
    bad_json = folder / "bad.json"
    bad_json.write_text('{"class_name": "MyModel", "config": {"units": 3}}')
    assert "'MyModel'" in load_error(bad_json, weights=plain)


def test_weights_only_file_as_model(folder):
    model = randomize(paper_like_sequential())
    config_path, weights_path = write_keras2_files(model, folder, "keras2.1", stem="wonly")
    assert "holds only weights" in load_error(weights_path)
    assert "weights=" in load_error(config_path)


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_truncated_file(two_inputs, folder, fmt):
    source = two_inputs[3][fmt]
    data = source.read_bytes()
    target = folder / f"truncated.{fmt}"
    target.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in load_error(target)


def test_missing_files(folder):
    assert str(folder / "absent.keras") in load_error(folder / "absent.keras")
    model = randomize(paper_like_sequential())
    config_path, _ = write_keras2_files(model, folder, "keras2.1", stem="nofile")
    message = load_error(config_path, weights=folder / "absent_weights.h5")
    assert "absent_weights.h5 does not exist" in message
    assert "is a directory" in load_error(folder)


def test_weights_with_wrong_shape_name_layer_and_shapes(folder):
    model = randomize(paper_like_sequential())
    config_path, weights_path = write_keras2_files(model, folder, "keras2.1", stem="shape")
    config = json.loads(config_path.read_text())
    config["config"][6]["config"]["units"] = 7  # dense_1: 6 -> 7 units
    config_path.write_text(json.dumps(config))
    message = load_error(config_path, weights=weights_path)
    assert "'dense_1' (Dense)" in message
    assert "kernel has shape (5, 6) in the weights file but the config needs (5, 7)" in message


def test_weights_missing_a_layer(folder):
    model = randomize(paper_like_sequential())
    config_path, weights_path = write_keras2_files(model, folder, "keras2.1", stem="missing")
    with h5py.File(weights_path, "a") as handle:
        del handle["conv1d_2"]
        names = [n for n in handle.attrs["layer_names"] if n != b"conv1d_2"]
        handle.attrs["layer_names"] = np.array(names)
    message = load_error(config_path, weights=weights_path)
    assert "has no weights for layer 'conv1d_2' (Conv1D)" in message


def test_weights_of_another_model(folder, two_inputs):
    model = randomize(paper_like_sequential())
    config_path, weights_path = write_keras2_files(model, folder, "keras2.1", stem="other")
    shutil.copy(two_inputs[3]["h5"], folder / "other_model.h5")
    message = load_error(config_path, weights=folder / "other_model.h5")
    assert "has no weights for layer 'conv1d_1' (Conv1D)" in message


def test_weights_file_with_extra_layer(folder):
    model = randomize(paper_like_sequential())
    config_path, weights_path = write_keras2_files(model, folder, "keras2.1", stem="extra")
    with h5py.File(weights_path, "a") as handle:
        group = handle.create_group("dense_9")
        group.attrs["weight_names"] = np.array([b"dense_9/kernel:0"])
        group["dense_9/kernel:0"] = np.zeros((2, 2), np.float32)
        handle.attrs["layer_names"] = np.array(list(handle.attrs["layer_names"]) + [b"dense_9"])
    message = load_error(config_path, weights=weights_path)
    assert "no layer of the config takes dense_9/kernel:0" in message


def test_malformed_configs(folder):
    model = randomize(paper_like_sequential())
    config_path, weights_path = write_keras2_files(model, folder, "keras2.1", stem="malformed")
    config = json.loads(config_path.read_text())
    del config["config"][6]["config"]["units"]
    config_path.write_text(json.dumps(config))
    message = load_error(config_path, weights=weights_path)
    assert "'dense_1' (Dense): cannot read its config" in message
    functional = folder / "functional_broken.json"
    functional.write_text(json.dumps({"class_name": "Functional", "config": {"name": "f", "layers": [{"class_name": "Dense"}]}}))
    assert "has no name" in load_error(functional, weights=weights_path)
    dangling = folder / "functional_dangling.json"
    dangling.write_text(json.dumps({"class_name": "Functional", "config": {
        "name": "f", "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0]],
        "layers": [
            {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [None, 3], "name": "x"}, "inbound_nodes": []},
            {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 2}, "inbound_nodes": [[["ghost", 0, 0, {}]]]},
        ]}}))  # fmt: skip
    assert "refers to unknown layer 'ghost'" in load_error(dangling, weights=weights_path)


def test_model_built_by_hand():
    """The engine's tests may assemble a Model directly from ops."""
    from seqlift.model import Node

    kernel = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
    model = Model(
        nodes={
            "x": Node("x", ops.Input((3,)), [], "x"),
            "d": Node("d", ops.Dense(kernel, np.array([0.5, -0.5])), ["x"], "d"),
            "r": Node("r", ops.Activation("relu"), ["d"], "r"),
        },
        inputs=["x"],
        outputs=["r"],
        input_shapes=[(3,)],
    )
    x = np.array([[1.0, -2.0, 3.0]], np.float32)
    np.testing.assert_allclose(model.predict(x), np.maximum(x @ kernel + [0.5, -0.5], 0), **TOL)
    assert model.output_units() == [2]
    assert "Dense(2)" in model.summary()
