"""Every supported Keras layer: seqlift's forward pass equals Keras', from .keras and legacy .h5."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from model_zoo import keras_outputs, random_inputs, randomize, rich_model, save_all, sequential

from seqlift.model import load_model, ops

TOL = dict(atol=1e-5, rtol=1e-5)

ACTIVATIONS = [
    "linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "softplus", "elu", "selu",
    "gelu", "swish", "silu", "exponential", "leaky_relu", "hard_sigmoid",
]  # fmt: skip

# name -> (input shape without batch, layers)
CASES: dict[str, tuple[tuple, list]] = {
    "dense": ((7,), [layers.Dense(5)]),
    "dense_no_bias": ((7,), [layers.Dense(5, use_bias=False)]),
    "dense_on_3d": ((6, 4), [layers.Dense(3, activation="relu")]),
    "conv1d_valid": ((12, 4), [layers.Conv1D(3, 5)]),
    "conv1d_same": ((12, 4), [layers.Conv1D(3, 4, padding="same")]),
    "conv1d_causal_dilated": ((12, 4), [layers.Conv1D(3, 3, padding="causal", dilation_rate=2)]),
    "conv1d_strided": ((13, 4), [layers.Conv1D(3, 3, strides=2, padding="same")]),
    "conv1d_dilated_valid": ((15, 4), [layers.Conv1D(2, 3, dilation_rate=3)]),
    "conv1d_no_bias": ((12, 4), [layers.Conv1D(3, 5, use_bias=False)]),
    "conv1d_channels_first": ((4, 12), [layers.Conv1D(3, 3, padding="same", data_format="channels_first")]),
    "conv1d_groups": ((10, 4), [layers.Conv1D(6, 3, groups=2)]),
    "conv2d_valid": ((7, 6, 3), [layers.Conv2D(2, (3, 2))]),
    "conv2d_same_strided": ((7, 6, 3), [layers.Conv2D(2, 3, strides=2, padding="same")]),
    "conv2d_dilated": ((9, 9, 2), [layers.Conv2D(2, 3, dilation_rate=2, padding="same", use_bias=False)]),
    "conv2d_channels_first": ((3, 7, 6), [layers.Conv2D(4, 3, strides=(1, 2), data_format="channels_first")]),
    "maxpool1d": ((12, 3), [layers.MaxPooling1D(3)]),
    "maxpool1d_same_strided": ((11, 3), [layers.MaxPooling1D(3, strides=2, padding="same")]),
    "maxpool1d_channels_first": ((3, 12), [layers.MaxPooling1D(2, data_format="channels_first")]),
    "maxpool2d": ((6, 7, 2), [layers.MaxPooling2D((2, 3), padding="same")]),
    "maxpool2d_channels_first": ((2, 6, 6), [layers.MaxPooling2D(2, data_format="channels_first")]),
    "avgpool1d": ((12, 3), [layers.AveragePooling1D(4)]),
    "avgpool1d_same": ((11, 3), [layers.AveragePooling1D(3, strides=2, padding="same")]),
    "avgpool2d": ((6, 6, 2), [layers.AveragePooling2D(2, strides=1)]),
    "avgpool2d_channels_first_same": ((2, 5, 5), [layers.AveragePooling2D(2, padding="same", data_format="channels_first")]),
    "global_max1d": ((9, 3), [layers.GlobalMaxPooling1D()]),
    "global_max1d_keepdims": ((9, 3), [layers.GlobalMaxPooling1D(keepdims=True)]),
    "global_avg1d": ((9, 3), [layers.GlobalAveragePooling1D()]),
    "global_avg1d_channels_first": ((3, 9), [layers.GlobalAveragePooling1D(data_format="channels_first")]),
    "global_max2d": ((4, 5, 3), [layers.GlobalMaxPooling2D()]),
    "global_avg2d_keepdims": ((4, 5, 3), [layers.GlobalAveragePooling2D(keepdims=True)]),
    "global_max2d_channels_first": ((3, 4, 5), [layers.GlobalMaxPooling2D(data_format="channels_first")]),
    "batchnorm": ((6,), [layers.BatchNormalization()]),
    "batchnorm_3d_last": ((5, 4), [layers.BatchNormalization()]),
    "batchnorm_axis1": ((5, 4), [layers.BatchNormalization(axis=1)]),
    "batchnorm_no_center": ((5, 4), [layers.BatchNormalization(center=False, epsilon=0.1)]),
    "batchnorm_no_scale": ((5, 4), [layers.BatchNormalization(scale=False)]),
    "batchnorm_bare": ((5, 4), [layers.BatchNormalization(center=False, scale=False)]),
    "batchnorm_4d_axis_minus3": ((3, 4, 5), [layers.BatchNormalization(axis=-3)]),
    "dropout": ((6,), [layers.Dense(4), layers.Dropout(0.5)]),
    "spatial_dropout1d": ((8, 3), [layers.SpatialDropout1D(0.5)]),
    "spatial_dropout2d": ((4, 4, 3), [layers.SpatialDropout2D(0.5)]),
    "spatial_dropout3d": ((2, 3, 3, 2), [layers.SpatialDropout3D(0.5)]),
    "gaussian_noise": ((6,), [layers.GaussianNoise(1.0)]),
    "gaussian_dropout": ((6,), [layers.GaussianDropout(0.3)]),
    "alpha_dropout": ((6,), [layers.AlphaDropout(0.3)]),
    "flatten": ((4, 3), [layers.Flatten()]),
    "flatten_channels_first": ((3, 4, 2), [layers.Flatten(data_format="channels_first")]),
    "reshape": ((12,), [layers.Reshape((4, 3))]),
    "reshape_minus_one": ((4, 3), [layers.Reshape((-1, 2))]),
    "permute": ((4, 3), [layers.Permute((2, 1))]),
    "permute_3d": ((2, 3, 4), [layers.Permute((3, 1, 2))]),
    "cropping1d": ((10, 3), [layers.Cropping1D((2, 3))]),
    "cropping1d_end_zero": ((10, 3), [layers.Cropping1D((2, 0))]),
    "zero_padding1d": ((6, 3), [layers.ZeroPadding1D((1, 3))]),
    "zero_padding1d_int": ((6, 3), [layers.ZeroPadding1D(2)]),
    "relu_layer": ((8,), [layers.ReLU()]),
    "relu_layer_params": ((8,), [layers.ReLU(max_value=0.8, negative_slope=0.1, threshold=0.2)]),
    "relu_layer_max6": ((8,), [layers.ReLU(max_value=6.0)]),
    "relu_layer_leaky": ((8,), [layers.ReLU(negative_slope=0.3)]),
    "leaky_relu_layer": ((8,), [layers.LeakyReLU(negative_slope=0.15)]),
    "prelu_layer": ((5, 3), [layers.PReLU()]),
    "prelu_layer_shared": ((5, 3), [layers.PReLU(shared_axes=[1])]),
    "elu_layer": ((8,), [layers.ELU(alpha=0.7)]),
    "softmax_layer": ((3, 5), [layers.Softmax()]),
    "softmax_layer_axis1": ((3, 5), [layers.Softmax(axis=1)]),
    "conv1d_relu": ((12, 4), [layers.Conv1D(3, 3, activation="relu")]),
    "conv2d_sigmoid": ((5, 5, 2), [layers.Conv2D(2, 2, activation="sigmoid")]),
}
for _name in ACTIVATIONS:
    CASES[f"activation_layer_{_name}"] = ((7,), [layers.Activation(_name)])
    CASES[f"dense_activation_{_name}"] = ((7,), [layers.Dense(4, activation=_name)])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("layers")


def _channels_last_twin_outputs(model: keras.Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs of a one-layer ``channels_first`` model computed by Keras as its ``channels_last`` twin
    (the same layer and weights, the channels axis moved last in and moved back out): TensorFlow's
    Eigen CPU kernels (a CPU without oneDNN's) cannot run a ``channels_first`` convolution at all."""
    (layer,) = [lay for lay in model.layers if not isinstance(lay, keras.layers.InputLayer)]
    config = dict(layer.get_config(), data_format="channels_last")
    twin_layer = type(layer).from_config(config)
    channels_first_shape = tuple(model.inputs[0].shape[1:])
    twin = sequential(channels_first_shape[1:] + channels_first_shape[:1], twin_layer)
    twin_layer.set_weights(layer.get_weights())
    moved = np.moveaxis(inputs[0], 1, -1)
    return [np.moveaxis(np.asarray(twin.predict(moved, verbose=0)), -1, 1)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_keras(case, folder):
    shape, stack = CASES[case]
    model = randomize(sequential(shape, *stack, name=case), seed=len(case))
    inputs = random_inputs(model, batch=3)
    try:
        expected = keras_outputs(model, inputs)
    except tf.errors.UnimplementedError:  # NCHW convolutions on a CPU without oneDNN
        assert "channels_first" in case
        expected = _channels_last_twin_outputs(model, inputs)
    paths = save_all(model, folder, case)
    for fmt, path in paths.items():
        loaded = load_model(path)
        got = loaded.forward(inputs)[loaded.outputs[0]].numpy()
        np.testing.assert_allclose(got, expected[0], **TOL, err_msg=f"{case} from {fmt}")
        assert loaded.shapes[loaded.outputs[0]] == tuple(model.outputs[0].shape[1:])


def test_activation_split_names(folder):
    model = randomize(sequential((6,), layers.Dense(3, activation="relu", name="fc"), layers.Dense(2, name="out")))
    loaded = load_model(save_all(model, folder, "split")["keras"])
    assert list(loaded.nodes) == ["input_layer", "fc/preact", "fc", "out"] or list(loaded.nodes)[1:] == [
        "fc/preact",
        "fc",
        "out",
    ]
    assert isinstance(loaded.nodes["fc/preact"].op, ops.Dense)
    assert isinstance(loaded.nodes["fc"].op, ops.Activation) and loaded.nodes["fc"].op.kind == "relu"
    assert loaded.nodes["fc"].inputs == ["fc/preact"]
    assert loaded.nodes["fc"].layer == loaded.nodes["fc/preact"].layer == "fc"


def test_op_classes(folder):
    """Layer classes map to the op classes of the contract."""
    model = randomize(
        sequential(
            (10, 4),
            layers.Conv1D(3, 3, name="conv"),
            layers.Activation("linear", name="lin"),
            layers.Activation("softmax", name="sm"),
            layers.LeakyReLU(name="lrelu"),
            layers.PReLU(name="prelu"),
            layers.ELU(name="elu"),
            layers.ReLU(max_value=2.0, name="relu"),
            layers.MaxPooling1D(2, name="mp"),
            layers.AveragePooling1D(2, name="ap"),
            layers.BatchNormalization(name="bn"),
            layers.Dropout(0.1, name="drop"),
            layers.Flatten(name="flat"),
            layers.Dense(2, name="dense"),
        )
    )
    loaded = load_model(save_all(model, folder, "classes")["keras"])
    kinds = {name: type(loaded.nodes[name].op) for name in loaded.nodes}
    assert kinds["conv"] is ops.Conv and kinds["lin"] is ops.Identity and kinds["sm"] is ops.Softmax
    assert kinds["mp"] is ops.MaxPool and kinds["ap"] is ops.AvgPool and kinds["bn"] is ops.BatchNorm
    assert kinds["drop"] is ops.Identity and kinds["flat"] is ops.Flatten and kinds["dense"] is ops.Dense
    assert loaded.nodes["lrelu"].op.kind == "leaky_relu" and loaded.nodes["lrelu"].op.alpha == pytest.approx(0.3)
    assert loaded.nodes["prelu"].op.kind == "prelu" and tuple(loaded.nodes["prelu"].op.alpha.shape) == (8, 3)
    assert loaded.nodes["elu"].op.kind == "elu"
    assert loaded.nodes["relu"].op.kind == "relu" and loaded.nodes["relu"].op.max_value == 2.0
    for linear in ("conv", "lin", "ap", "bn", "drop", "flat", "dense"):
        assert isinstance(loaded.nodes[linear].op, ops.Linear)
    for nonlinear in ("sm", "lrelu", "prelu", "mp"):
        assert not isinstance(loaded.nodes[nonlinear].op, ops.Linear)
    bn = loaded.nodes["bn"].op
    assert tuple(bn.scale.shape) == (1, 1, 3)
    conv = loaded.nodes["conv"].op
    x = tf.random.normal((2, 10, 4))
    np.testing.assert_allclose(conv.apply(x, conv.kernel) + conv.bias, conv(x), **TOL)
    np.testing.assert_allclose(conv.homogeneous(x), conv.apply(x, conv.kernel), **TOL)


def test_every_intermediate_node_matches_keras(folder):
    """Each node named after a Keras layer equals that layer's output in a Keras sub-model."""
    model = randomize(rich_model(), seed=7)
    inputs = random_inputs(model, batch=5)
    for path in save_all(model, folder, "rich").values():
        loaded = load_model(path)
        values = loaded.forward(inputs)
        named = [layer for layer in model.layers if layer.name in loaded.nodes and not isinstance(layer, layers.InputLayer)]
        assert len(named) == len(model.layers) - 1
        probe = keras.Model(model.inputs, [layer.output for layer in named])
        reference = probe.predict(inputs[0], verbose=0)
        for layer, expected in zip(named, reference):
            np.testing.assert_allclose(values[layer.name].numpy(), expected, **TOL, err_msg=layer.name)
        for name in ("c1/preact", "fc/preact"):
            assert name in values


# --------------------------------------------------------------------------
# ops on their own
# --------------------------------------------------------------------------
DERIVATIVE_CASES = [
    ("relu", {}),
    ("relu", {"max_value": 1.0, "negative_slope": 0.2, "threshold": 0.3}),
    ("relu", {"max_value": 6.0}),
    ("relu", {"negative_slope": 0.2}),
    ("relu", {"threshold": 0.3}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("softplus", {}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("gelu", {}),
    ("gelu", {"approximate": True}),
    ("swish", {}),
    ("exponential", {}),
    ("leaky_relu", {"alpha": 0.1}),
    ("prelu", {"alpha": np.linspace(-0.5, 0.5, 6).astype(np.float32)}),
]


@pytest.mark.parametrize("kind,params", DERIVATIVE_CASES, ids=[f"{k}{'-' + '-'.join(p) if p else ''}" for k, p in DERIVATIVE_CASES])
def test_activation_derivative_is_exact(kind, params):
    op = ops.Activation(kind, **params)
    x = tf.constant(np.random.default_rng(3).normal(0, 2, (50, 6)).astype(np.float32))
    # keep away from kinks, where the derivative is one-sided
    x = tf.where(tf.abs(x) < 1e-2, x + 0.05, x)
    for kink in (0.3, 1.0):
        x = tf.where(tf.abs(x - kink) < 1e-2, x + 0.05, x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = op(x)
    autodiff = tape.gradient(y, x)
    np.testing.assert_allclose(op.derivative(x).numpy(), autodiff.numpy(), atol=1e-5, rtol=1e-4)


def test_relu_derivative_at_zero_is_zero():
    assert float(ops.Activation("relu").derivative(tf.constant([0.0]))[0]) == 0.0


def test_gelu_default_is_erf_form():
    x = tf.constant([-1.5, -0.3, 0.4, 2.0])
    exact = 0.5 * x * (1 + tf.math.erf(x / np.sqrt(2.0)))
    np.testing.assert_allclose(ops.Activation("gelu")(x), exact, atol=1e-6)
    assert not np.allclose(ops.Activation("gelu", approximate=True)(x), exact, atol=1e-6)
    np.testing.assert_allclose(
        ops.Activation("gelu", approximate=True)(x), keras.activations.gelu(x, approximate=True), atol=1e-6
    )


def test_keras_activation_functions_agree_with_ops():
    x = tf.constant(np.linspace(-3, 3, 41).astype(np.float32))
    pairs = {
        "relu": keras.activations.relu,
        "sigmoid": keras.activations.sigmoid,
        "tanh": keras.activations.tanh,
        "softplus": keras.activations.softplus,
        "elu": keras.activations.elu,
        "selu": keras.activations.selu,
        "gelu": keras.activations.gelu,
        "swish": keras.activations.silu,
        "exponential": keras.activations.exponential,
    }
    for kind, reference in pairs.items():
        np.testing.assert_allclose(ops.Activation(kind)(x), reference(x), atol=1e-6, err_msg=kind)
    np.testing.assert_allclose(
        ops.Activation("leaky_relu")(x), keras.activations.leaky_relu(x), atol=1e-6
    )  # Keras' function default slope is 0.2
