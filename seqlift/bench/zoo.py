"""Models of the shapes people train, with random weights, for the benchmarks.

:data:`ZOO` lists the engine benchmark's models (``seqlift bench zoo``), each
with the target it explains and a workload sized to about a minute of
benchmark on a 2-core machine:

* ``paper``: the DeepLIFT paper's genomics model (:func:`paper_like`: its
  weights from ``../shared/paper-genomics`` when present, else random);
* ``basset``: :func:`basset_like`, 600 bp, three convolution + batch-norm +
  ReLU + max-pool blocks, two dense layers, 164 outputs;
* ``deepsea``: :func:`deepsea_like`, 1,000 bp, convolution + ReLU + max pool
  three times, a dense layer, 919 outputs;
* ``cnn1kb``: :func:`maxpool_cnn`, the 1 kb CNN of issue 15 (two convolutions
  with max pooling, two dense layers);
* ``chrombpnet``: :func:`chrombpnet_like`, its counts head;
* ``danq``: :func:`danq_like`, a convolution and a bidirectional LSTM;
* ``attention``: :func:`attention_like`, a convolution and a residual
  multi-head self-attention block.

:func:`chrombpnet_like` builds, with Keras 3, the architecture of ChromBPNet's
accessibility model (and of its bias model, which is the same with fewer
filters and layers), as chrombpnet 1.0.1's ``bpnet_model`` lays it out:

* ``Conv1D(filters, conv1_kernel, 'valid', relu)``;
* ``dilated_layers`` residual blocks: ``Conv1D(filters, 3, 'valid', relu,
  dilation 2^i)`` for ``i = 1 … dilated_layers``, added to the block's input
  cropped symmetrically to the same length;
* the profile head ``Conv1D(1, profile_kernel, 'valid')`` cropped to
  ``output_length`` and flattened: ``(N, output_length)`` logits;
* the counts head ``Dense(1)`` of the global average over positions:
  ``(N, 1)`` log counts.

The defaults are the ChromBPNet-shaped benchmark model (64 filters, 8 dilated
layers, 2,114 bp in, 1,000 bp out); ``filters=512`` is the full-size
ChromBPNet accessibility model. Weights are random, scaled by fan-in, with
non-zero biases, so every rule sees both signs and no unit is trivially zero.

:func:`torch_copy` makes the identical PyTorch model (channels first, one
``nn.ReLU`` module per nonlinearity, as tangermeme's ``deep_lift_shap``
needs), with the Keras model's weights; :func:`torch_head` selects one of
its two outputs, and :func:`torch_profile_rescale` explains its profile as
bpnet-lite does (``seqlift``'s ``target="profile_rescale"``), with the
module tangermeme must rescale in :func:`torch_profile_nonlinear_ops`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from seqlift.data import shipped_file

#: output layer names, chrombpnet's
PROFILE_OUTPUT = "logits_profile_predictions"
COUNTS_OUTPUT = "logcount_predictions"


def profile_length(input_length: int, dilated_layers: int, conv1_kernel: int, profile_kernel: int) -> int:
    """Length of the profile convolution's output before the final crop.

    Every convolution is ``valid``: the first shortens the sequence by
    ``conv1_kernel − 1``, dilated layer ``i`` (kernel 3, dilation ``2^i``) by
    ``2 · 2^i``, the profile convolution by ``profile_kernel − 1``.
    """
    dilated = sum(2 * 2 ** i for i in range(1, dilated_layers + 1))
    return input_length - (conv1_kernel - 1) - dilated - (profile_kernel - 1)


def chrombpnet_like(
    filters: int = 64,
    dilated_layers: int = 8,
    input_length: int = 2114,
    output_length: int = 1000,
    conv1_kernel: int = 21,
    profile_kernel: int = 75,
    seed: int = 0,
) -> Any:
    """A ChromBPNet-shaped Keras 3 model with random weights and non-zero biases.

    Parameters
    ----------
    filters, dilated_layers
        Width and depth of the dilated residual body (ChromBPNet: 512 and 8;
        its bias model: 128 and 4).
    input_length, output_length
        Sequence length in and profile length out; the profile convolution's
        output (:func:`profile_length`) is cropped to ``output_length``.
    conv1_kernel, profile_kernel
        Kernel widths of the first and the profile convolutions.
    seed
        Seed of the random weights.

    Returns
    -------
    keras.Model
        Input ``sequence`` ``(N, input_length, 4)``; outputs
        ``logits_profile_predictions`` ``(N, output_length)`` and
        ``logcount_predictions`` ``(N, 1)``.

    Raises
    ------
    ValueError
        If the geometry leaves a profile shorter than ``output_length``, or
        one that cannot be cropped symmetrically to it.
    """
    import keras
    from keras import layers

    uncropped = profile_length(input_length, dilated_layers, conv1_kernel, profile_kernel)
    if uncropped < output_length or (uncropped - output_length) % 2:
        raise ValueError(f"a {input_length} bp input gives a {uncropped} bp profile, which cannot be cropped "
                         f"symmetrically to {output_length} bp")
    sequence = keras.Input((input_length, 4), name="sequence")
    x = layers.Conv1D(filters, conv1_kernel, padding="valid", activation="relu", name="first_conv")(sequence)
    for i in range(1, dilated_layers + 1):
        conv = layers.Conv1D(filters, 3, padding="valid", activation="relu", dilation_rate=2 ** i,
                             name=f"dilated_conv_{i}")(x)
        x = layers.Cropping1D(2 ** i, name=f"crop_{i}")(x)
        x = layers.Add(name=f"residual_{i}")([conv, x])
    profile = layers.Conv1D(1, profile_kernel, padding="valid", name="profile_conv")(x)
    profile = layers.Cropping1D((uncropped - output_length) // 2, name="profile_crop")(profile)
    profile = layers.Flatten(name=PROFILE_OUTPUT)(profile)
    counts = layers.GlobalAveragePooling1D(name="average")(x)
    counts = layers.Dense(1, name=COUNTS_OUTPUT)(counts)
    model = keras.Model(sequence, [profile, counts], name="chrombpnet_like")
    randomize(model, seed)
    return model


def randomize(model: Any, seed: int = 0, bias_scale: float = 0.1) -> Any:
    """Give every kernel normal weights of variance ``1 / fan-in`` and every bias normal ones.

    The fan-in scaling keeps activations of order one through deep residual
    stacks; ``bias_scale`` is the biases' standard deviation (non-zero, so
    the rules' bias terms matter). Batch normalisation gets variances in
    [0.5, 1.5] and scales around 1.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for variable in layer.weights:
            shape = tuple(variable.shape)
            if "variance" in variable.name:
                value = rng.uniform(0.5, 1.5, shape)
            elif variable.name == "gamma":
                value = 1.0 + rng.normal(0.0, bias_scale, shape)
            elif len(shape) == 1:
                value = rng.normal(0.0, bias_scale, shape)
            else:
                fan_in = int(np.prod(shape[:-1]))
                value = rng.normal(0.0, 1.0, shape) / np.sqrt(fan_in)
            variable.assign(value.astype(np.float32))
    return model


def torch_copy(model: Any) -> Any:
    """The PyTorch twin of a :func:`chrombpnet_like` model, with its weights.

    Parameters
    ----------
    model : keras.Model
        A model built by :func:`chrombpnet_like`.

    Returns
    -------
    torch.nn.Module
        Takes ``(N, 4, L)`` (channels first, as tangermeme does) and returns
        the tuple ``(profile (N, output_length), counts (N, 1))``, equal to
        the Keras model's outputs on the transposed input.
    """
    import torch

    class ChromBPNetLike(torch.nn.Module):
        def __init__(self, keras_model: Any) -> None:
            super().__init__()
            first = keras_model.get_layer("first_conv")
            self.dilated_layers = sum(1 for layer in keras_model.layers if layer.name.startswith("dilated_conv_"))
            self.output_length = int(keras_model.outputs[0].shape[1])
            self.first_conv = _torch_conv(first)
            self.first_relu = torch.nn.ReLU()
            self.dilated = torch.nn.ModuleList(
                [_torch_conv(keras_model.get_layer(f"dilated_conv_{i}")) for i in range(1, self.dilated_layers + 1)])
            self.dilated_relus = torch.nn.ModuleList([torch.nn.ReLU() for _ in range(self.dilated_layers)])
            self.profile_conv = _torch_conv(keras_model.get_layer("profile_conv"))
            dense = keras_model.get_layer(COUNTS_OUTPUT)
            kernel, bias = dense.get_weights()
            self.counts = torch.nn.Linear(kernel.shape[0], kernel.shape[1])
            with torch.no_grad():
                self.counts.weight.copy_(torch.from_numpy(kernel.T.copy()))
                self.counts.bias.copy_(torch.from_numpy(bias))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = self.first_relu(self.first_conv(x))
            for conv, relu in zip(self.dilated, self.dilated_relus):
                branch = relu(conv(h))
                crop = (h.shape[-1] - branch.shape[-1]) // 2
                h = branch + h[:, :, crop:h.shape[-1] - crop]
            profile = self.profile_conv(h)
            crop = (profile.shape[-1] - self.output_length) // 2
            profile = profile[:, 0, crop:crop + self.output_length]
            return profile, self.counts(h.mean(dim=-1))

    return ChromBPNetLike(model).eval()


def _torch_conv(layer: Any) -> Any:
    """A ``torch.nn.Conv1d`` with a Keras ``Conv1D``'s kernel ``(k, in, out)`` as ``(out, in, k)`` and bias."""
    import torch

    kernel, bias = layer.get_weights()
    width, channels_in, channels_out = kernel.shape
    conv = torch.nn.Conv1d(channels_in, channels_out, width, dilation=int(layer.dilation_rate[0]))
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 1, 0))))
        conv.bias.copy_(torch.from_numpy(bias))
    return conv


def torch_head(model: Any, output: int) -> Any:
    """``model`` reduced to one of its outputs (0: profile, 1: counts), for tangermeme's ``deep_lift_shap``.

    tangermeme explains ``model(X)[:, target]`` of a model returning one
    ``(N, targets)`` tensor.
    """
    import torch

    class Head(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model(x)[output]

    return Head().eval()


# --------------------------------------------------------------------------- the CNNs of the zoo
#: the paper's model beside the checkout (absent in an installed package)
PAPER = Path(__file__).resolve().parents[3] / "shared" / "paper-genomics"
#: the shipped demo model: the paper's architecture, in a file Keras 3 reads
DEMO_MODEL = shipped_file("demo", "model.h5")


def paper_like(seed: int = 0) -> Any:
    """The DeepLIFT paper's genomics model as a Keras 3 model (200 bp, 3 sigmoid tasks).

    The architecture is the shipped demo model's; its weights are the paper's
    (``../shared/paper-genomics``) when present, else random (:func:`randomize`).
    """
    import keras

    model = keras.models.load_model(DEMO_MODEL, compile=False)
    if not (PAPER / "model.json").exists():
        return randomize(model, seed)
    import seqlift
    from seqlift.model import ops

    paper = seqlift.load_model(PAPER / "model.json", weights=PAPER / "model_weights.h5")
    kernels = [node.op for node in paper.nodes.values() if isinstance(node.op, (ops.Dense, ops.Conv))]
    for op, layer in zip(kernels, [layer for layer in model.layers if layer.weights]):
        layer.set_weights([op.kernel.numpy(), op.bias.numpy()])
    return model


def _sequential(name: str, length: int, blocks: list, seed: int) -> Any:
    import keras

    model = keras.Sequential([keras.Input((length, 4), name="sequence"), *blocks], name=name)
    return randomize(model, seed)


def basset_like(length: int = 600, filters: tuple[int, int, int] = (300, 200, 200), dense: int = 1000,
                outputs: int = 164, seed: int = 0) -> Any:
    """Basset's architecture (Kelley et al. 2016): three blocks of convolution (kernels 19, 11, 7),
    batch normalisation, ReLU and max pooling (3, 4, 4); two dense layers of ``dense`` units with
    ReLU; ``outputs`` logits (layer ``logits``, no activation)."""
    from keras import layers

    blocks = []
    for i, (width, kernel, pool) in enumerate(zip(filters, (19, 11, 7), (3, 4, 4)), 1):
        blocks += [layers.Conv1D(width, kernel, padding="same", name=f"conv{i}"),
                   layers.BatchNormalization(name=f"norm{i}"), layers.ReLU(name=f"relu{i}"),
                   layers.MaxPooling1D(pool, name=f"pool{i}")]
    blocks += [layers.Flatten(name="flatten"), layers.Dense(dense, activation="relu", name="dense1"),
               layers.Dropout(0.3, name="drop1"), layers.Dense(dense, activation="relu", name="dense2"),
               layers.Dropout(0.3, name="drop2"), layers.Dense(outputs, name="logits")]
    return _sequential("basset_like", length, blocks, seed)


def deepsea_like(length: int = 1000, filters: tuple[int, int, int] = (320, 480, 960), dense: int = 925,
                 outputs: int = 919, seed: int = 0) -> Any:
    """DeepSEA's architecture (Zhou & Troyanskaya 2015): three convolutions of kernel 8 with ReLU,
    each followed by max pooling by 4; a dense layer of ``dense`` ReLU units; ``outputs`` logits
    (layer ``logits``)."""
    from keras import layers

    blocks = []
    for i, width in enumerate(filters, 1):
        blocks += [layers.Conv1D(width, 8, activation="relu", name=f"conv{i}"),
                   layers.MaxPooling1D(4, name=f"pool{i}"), layers.Dropout(0.2, name=f"drop{i}")]
    blocks += [layers.Flatten(name="flatten"), layers.Dense(dense, activation="relu", name="dense"),
               layers.Dense(outputs, name="logits")]
    return _sequential("deepsea_like", length, blocks, seed)


def maxpool_cnn(length: int = 1000, filters: int = 64, dense: int = 64, outputs: int = 3,
                pooling: str = "max", seed: int = 0) -> Any:
    """Issue 15's 1 kb CNN: Conv1D(64, 21) ReLU, pool 4, Conv1D(64, 11) ReLU, pool 4, Dense(64) ReLU,
    Dense(3) logits (layer ``logits``); ``pooling="average"`` for its average-pooling twin."""
    from keras import layers

    pool = layers.MaxPooling1D if pooling == "max" else layers.AveragePooling1D
    blocks = [layers.Conv1D(filters, 21, activation="relu", name="conv1"), pool(4, name="pool1"),
              layers.Conv1D(filters, 11, activation="relu", name="conv2"), pool(4, name="pool2"),
              layers.Flatten(name="flatten"), layers.Dense(dense, activation="relu", name="dense"),
              layers.Dense(outputs, name="logits")]
    return _sequential(f"cnn_{pooling}pool", length, blocks, seed)


@dataclass(frozen=True)
class ZooModel:
    """A model of the benchmark zoo.

    Attributes
    ----------
    description
        What it is, in a few words (for the table).
    build
        ``build(**options) -> keras.Model`` with random (or the paper's) weights.
    target
        The layer explained: a linear layer, so the node of the same name in
        seqlift's graph and the Keras layer's output are the same values.
    sequences, shuffles
        The workload: pairs are sequences x dinucleotide shuffles.
    tasks
        The target's units scored.
    tiny
        Options of ``build`` giving a small model of the same shape (for tests).
    """

    description: str
    build: Callable[..., Any]
    target: str
    sequences: int
    shuffles: int
    tasks: tuple[int, ...] = (0, 1, 2)
    tiny: dict = field(default_factory=dict)


#: the engine benchmark's models, by name
ZOO: dict[str, ZooModel] = {
    "paper": ZooModel("the paper's model: 200 bp, 2 conv 50x11, global avg pool, dense 50, 3 tasks",
                      paper_like, "dense_2", 100, 10),
    "basset": ZooModel("Basset-like: 600 bp, 3 x (conv 300/200/200 + BN + ReLU + max pool), 2 dense 1000, "
                       "164 outputs", basset_like, "logits", 8, 10,
                       tiny=dict(length=120, filters=(4, 4, 4), dense=8, outputs=5)),
    "deepsea": ZooModel("DeepSEA-like: 1,000 bp, 3 x (conv 320/480/960 x8 + max pool 4), dense 925, 919 outputs",
                        deepsea_like, "logits", 4, 10, tiny=dict(length=300, filters=(4, 4, 4), dense=8, outputs=5)),
    "cnn1kb": ZooModel("issue 15's 1 kb CNN: conv 64x21, max pool 4, conv 64x11, max pool 4, dense 64, dense 3",
                       maxpool_cnn, "logits", 32, 10, tiny=dict(length=200, filters=4, dense=8)),
    "chrombpnet": ZooModel("ChromBPNet-shaped: 2,114 bp, conv 64x21, 8 dilated residual convs, counts head",
                           chrombpnet_like, COUNTS_OUTPUT, 6, 10, (0,),
                           tiny=dict(filters=4, dilated_layers=2, input_length=200, output_length=10)),
}
def _profile_scaling_class() -> Any:
    """The module ``l̃ ↦ l̃ ⊙ softmax(l̃)`` over the last axis, one class so that tangermeme can rescale it."""
    import torch

    global _ProfileScaling
    if _ProfileScaling is None:
        class ProfileScaling(torch.nn.Module):
            def forward(self, centred: torch.Tensor) -> torch.Tensor:
                return centred * torch.softmax(centred, dim=-1)

        _ProfileScaling = ProfileScaling
    return _ProfileScaling


_ProfileScaling = None


def torch_profile_rescale(model: Any) -> Any:
    """``model``'s profile target as bpnet-lite's ``ProfileWrapper`` defines it, for tangermeme.

    Returns a module giving ``(N, 1)``: ``Σ_j l̃_j · softmax(l̃)_j`` with
    ``l̃ = l − mean l`` of the profile logits; the product is one module
    (:func:`torch_profile_nonlinear_ops` registers it with tangermeme's
    Rescale), so the scores sum to the target's change, as seqlift's
    ``target="profile_rescale"``.
    """
    import torch

    scaling = _profile_scaling_class()

    class ProfileRescale(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.scaling = scaling()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = self.model(x)[0]
            centred = logits - logits.mean(dim=-1, keepdim=True)
            return self.scaling(centred).sum(dim=-1, keepdim=True)

    return ProfileRescale().eval()


def torch_profile(model: Any) -> Any:
    """``model``'s profile target as ChromBPNet writes it, ``Σ_j stop_gradient(softmax(l̃))_j · l̃_j``, for tangermeme.

    Returns a module giving ``(N, 1)``. tangermeme takes the multipliers of
    the sequence's rows of its batch, where the detached weights are the
    sequence's own, ``w(x)``: its scores are then seqlift's
    ``target="profile"`` (``w(x)`` held for the references), not ChromBPNet's
    pipeline's (:mod:`seqlift.engine.targets`, ``profile_chrombpnet``).
    """
    import torch

    class Profile(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = self.model(x)[0]
            centred = logits - logits.mean(dim=-1, keepdim=True)
            return (torch.softmax(centred, dim=-1).detach() * centred).sum(dim=-1, keepdim=True)

    return Profile().eval()


def torch_profile_nonlinear_ops() -> dict:
    """``additional_nonlinear_ops`` for tangermeme's ``deep_lift_shap`` on :func:`torch_profile_rescale`."""
    from tangermeme._deep_lift_utils import _nonlinear

    return {_profile_scaling_class(): _nonlinear}
def danq_like(input_length: int = 1000, filters: int = 320, conv_kernel: int = 26, pool: int = 13,
              lstm_units: int = 320, dense_units: int = 925, outputs: int = 919, seed: int = 0) -> Any:
    """A DanQ-shaped Keras 3 model (Quang & Xie 2016) with random weights and non-zero biases.

    ``Conv1D(filters, conv_kernel, 'valid', relu)``, ``MaxPooling1D(pool)``,
    ``Dropout(0.2)``, a ``Bidirectional(LSTM(lstm_units, return_sequences=True))``
    (merged by concatenation), ``Dropout(0.5)``, ``Flatten``,
    ``Dense(dense_units, relu)``, ``Dense(outputs)`` (layer ``logits``) and a
    sigmoid. The defaults are DanQ's (1,000 bp in, 919 outputs).

    Returns
    -------
    keras.Model
        Input ``sequence`` ``(N, input_length, 4)``, output ``(N, outputs)``.
    """
    import keras
    from keras import layers

    sequence = keras.Input((input_length, 4), name="sequence")
    x = layers.Conv1D(filters, conv_kernel, padding="valid", activation="relu", name="conv")(sequence)
    x = layers.Dropout(0.2)(layers.MaxPooling1D(pool, name="pool")(x))
    x = layers.Bidirectional(layers.LSTM(lstm_units, return_sequences=True), name="bilstm")(x)
    x = layers.Flatten()(layers.Dropout(0.5)(x))
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    logits = layers.Dense(outputs, name="logits")(x)
    model = keras.Model(sequence, layers.Activation("sigmoid", name="output")(logits), name="danq_like")
    return randomize(model, seed)


ZOO["danq"] = ZooModel(
    "DanQ-shaped: 1,000 bp, conv 320x26, max pool 13, BiLSTM 320, dense 925, 919 outputs", danq_like, "logits",
    2, 10, tiny=dict(input_length=60, filters=4, conv_kernel=5, pool=4, lstm_units=3, dense_units=5, outputs=4))


def attention_like(input_length: int = 1000, filters: int = 128, conv_kernel: int = 15, pool: int = 8,
                   heads: int = 4, key_dim: int = 32, dense_units: int = 64, outputs: int = 3, seed: int = 0) -> Any:
    """A convolution + self-attention Keras 3 model with random weights and non-zero biases.

    ``Conv1D(filters, conv_kernel, 'same', relu)``, ``MaxPooling1D(pool)``, a
    ``MultiHeadAttention(heads, key_dim)`` of the pooled positions over
    themselves added back to them (a residual block, without layer
    normalisation), ``GlobalAveragePooling1D``, ``Dense(dense_units, relu)``
    and ``Dense(outputs)`` (layer ``logits``): the shape of the CNN-attention
    hybrids trained on 1 kb windows.

    Returns
    -------
    keras.Model
        Input ``sequence`` ``(N, input_length, 4)``, output ``(N, outputs)``.
    """
    import keras
    from keras import layers

    sequence = keras.Input((input_length, 4), name="sequence")
    x = layers.Conv1D(filters, conv_kernel, padding="same", activation="relu", name="conv")(sequence)
    x = layers.MaxPooling1D(pool, name="pool")(x)
    attended = layers.MultiHeadAttention(heads, key_dim, name="attention")(x, x)
    x = layers.GlobalAveragePooling1D(name="average")(layers.Add(name="residual")([x, attended]))
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    logits = layers.Dense(outputs, name="logits")(x)
    return randomize(keras.Model(sequence, logits, name="attention_like"), seed)


ZOO["attention"] = ZooModel(
    "conv + self-attention: 1,000 bp, conv 128x15, max pool 8, multi-head attention 4 x 32 (residual), dense 64, "
    "3 outputs", attention_like, "logits", 16, 10,
    tiny=dict(input_length=64, filters=4, conv_kernel=5, pool=4, heads=2, key_dim=3, dense_units=5))
