"""``deeplift.layers``: the mode enumerations (see :mod:`.core`).

The original's layer classes (``Dense``, ``Conv1D``, ``ReLU``, ...) built
models by hand; seqlift reads models from Keras files instead, and naming one
of those classes raises an error saying so.
"""
from __future__ import annotations

from seqlift.compat.deeplift._unsupported import module_getattr
from seqlift.compat.deeplift.layers import core
from seqlift.compat.deeplift.layers.core import (
    BUILD_BY_HAND,
    ActivationNames,
    ConvMxtsMode,
    DenseMxtsMode,
    MaxPoolDeepLiftMode,
    NonlinearMxtsMode,
    ScoringMode,
)

__all__ = ["core", "NonlinearMxtsMode", "DenseMxtsMode", "ConvMxtsMode", "MaxPoolDeepLiftMode", "ScoringMode",
           "ActivationNames"]

_LAYER_CLASSES = (
    "Layer", "Input", "Node", "NoOp", "Dense", "Merge", "Concat", "Flatten", "Activation", "ReLU", "PReLU",
    "Sigmoid", "Softmax", "Tanh", "Conv1D", "Conv2D", "MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D",
    "GlobalMaxPool1D", "GlobalAvgPool1D", "BatchNormalization", "activations", "convolutional", "pooling",
    "normalization", "helper_functions",
)
__getattr__ = module_getattr("deeplift.layers", {name: BUILD_BY_HAND for name in _LAYER_CLASSES})
