"""Models of the shapes people train, with random weights, for the benchmarks.

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
its two outputs.
"""
from __future__ import annotations

from typing import Any

import numpy as np

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
    the rules' bias terms matter).
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for variable in layer.weights:
            shape = tuple(variable.shape)
            if len(shape) == 1:
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


def danq_like(input_length: int = 1000, filters: int = 320, conv_kernel: int = 26, pool: int = 13,
              lstm_units: int = 320, dense_units: int = 925, outputs: int = 919, seed: int = 0) -> Any:
    """A DanQ-shaped Keras 3 model (Quang & Xie 2016) with random weights and non-zero biases.

    ``Conv1D(filters, conv_kernel, 'valid', relu)``, ``MaxPooling1D(pool)``,
    ``Dropout(0.2)``, a ``Bidirectional(LSTM(lstm_units, return_sequences=True))``
    (merged by concatenation), ``Dropout(0.5)``, ``Flatten``,
    ``Dense(dense_units, relu)`` and ``Dense(outputs, sigmoid)``. The defaults
    are DanQ's (1,000 bp in, 919 outputs).

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
    model = keras.Model(sequence, layers.Dense(outputs, activation="sigmoid", name="output")(x), name="danq_like")
    return randomize(model, seed)
