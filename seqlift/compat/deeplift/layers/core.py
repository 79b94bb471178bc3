"""The original's mode enumerations (``deeplift.layers.core``) and the seqlift method each mode runs.

=============================  =====================  ===========================================
``NonlinearMxtsMode``           ``seqlift.attribute``   what it computes
=============================  =====================  ===========================================
``DeepLIFT_GenomicsDefault``    ``genomics_default``    RevealCancel after Dense, Rescale after Conv
``RevealCancel``                ``revealcancel``        RevealCancel at every nonlinearity
``Rescale``                     ``rescale``             Rescale at every nonlinearity
``Gradient``                    ``grad_x_input``        multipliers: the gradient; contributions:
                                                        gradient x (input - reference)
``GuidedBackprop``              ``guided_backprop``     guided backpropagation x (input - reference)
=============================  =====================  ===========================================

``DeconvNet``, ``GuidedBackpropRescale`` and ``PassThrough`` exist as values
(so code that lists the modes runs) but converting a model with them raises
an error naming the alternative.

``MaxPoolDeepLiftMode.gradient`` is the original's max-pooling rule (the
multiplier goes to the input's argmax only); seqlift's default,
``MaxPoolDeepLiftMode.deeplift``, also credits the reference's argmax so that
contributions sum to the change of the output (see the README, "Where seqlift
differs").
"""
from __future__ import annotations

from seqlift.compat.deeplift._enum import enum
from seqlift.compat.deeplift._unsupported import module_getattr, refuse

__all__ = [
    "NonlinearMxtsMode",
    "DenseMxtsMode",
    "ConvMxtsMode",
    "MaxPoolDeepLiftMode",
    "ScoringMode",
    "ActivationNames",
    "seqlift_method",
    "seqlift_maxpool",
]

NonlinearMxtsMode = enum(
    Gradient="Gradient",
    Rescale="Rescale",
    DeconvNet="DeconvNet",
    GuidedBackprop="GuidedBackprop",
    GuidedBackpropRescale="GuidedBackpropRescale",
    RevealCancel="RevealCancel",
    PassThrough="PassThrough",
    DeepLIFT_GenomicsDefault="DeepLIFT_GenomicsDefault",
)
DenseMxtsMode = enum(Linear="Linear")
ConvMxtsMode = enum(Linear="Linear")
MaxPoolDeepLiftMode = enum(gradient="gradient", deeplift="deeplift")
ScoringMode = enum(OneAndZeros="OneAndZeros", SoftmaxPreActivation="SoftmaxPreActivation")
ActivationNames = enum(sigmoid="sigmoid", hard_sigmoid="hard_sigmoid", tanh="tanh", relu="relu", linear="linear")

#: NonlinearMxtsMode value -> seqlift.attribute method
_METHODS = {
    NonlinearMxtsMode.DeepLIFT_GenomicsDefault: "genomics_default",
    NonlinearMxtsMode.RevealCancel: "revealcancel",
    NonlinearMxtsMode.Rescale: "rescale",
    NonlinearMxtsMode.Gradient: "grad_x_input",
    NonlinearMxtsMode.GuidedBackprop: "guided_backprop",
}
_UNSUPPORTED_MODES = {
    NonlinearMxtsMode.DeconvNet: "use NonlinearMxtsMode.GuidedBackprop or Gradient",
    NonlinearMxtsMode.GuidedBackpropRescale: "use NonlinearMxtsMode.GuidedBackprop or Rescale",
    NonlinearMxtsMode.PassThrough: "use NonlinearMxtsMode.Gradient",
}


def seqlift_method(nonlinear_mxts_mode: str) -> str:
    """The ``seqlift.attribute`` method that a ``NonlinearMxtsMode`` value runs.

    Raises
    ------
    SeqliftError
        For the modes seqlift does not implement (naming the alternative) and unknown values.
    """
    if nonlinear_mxts_mode in _UNSUPPORTED_MODES:
        raise refuse(f"NonlinearMxtsMode.{nonlinear_mxts_mode}", _UNSUPPORTED_MODES[nonlinear_mxts_mode])
    if nonlinear_mxts_mode not in _METHODS:
        raise refuse(f"nonlinear_mxts_mode={nonlinear_mxts_mode!r}",
                     f"choose one of NonlinearMxtsMode.{', '.join(_METHODS)}")
    return _METHODS[nonlinear_mxts_mode]


def seqlift_maxpool(maxpool_deeplift_mode: str) -> str:
    """The ``seqlift.attribute`` ``maxpool`` rule of a ``MaxPoolDeepLiftMode`` value."""
    if maxpool_deeplift_mode not in MaxPoolDeepLiftMode.vals:
        raise refuse(f"maxpool_deeplift_mode={maxpool_deeplift_mode!r}",
                     "choose MaxPoolDeepLiftMode.gradient (the original's rule) or MaxPoolDeepLiftMode.deeplift")
    return maxpool_deeplift_mode


#: why the original's layer classes are refused
BUILD_BY_HAND = (
    "seqlift does not build models layer by layer; save the model with Keras and convert it with "
    "conversion.kerasapi_conversion.convert_model_from_saved_files (or seqlift.load_model)"
)
__getattr__ = module_getattr(
    "deeplift.layers.core",
    {name: BUILD_BY_HAND for name in (
        "Layer", "Input", "Node", "NoOp", "Dense", "Merge", "Concat", "Flatten",
        "SingleInputMixin", "ListInputMixin", "OneDimOutputMixin",
    )},
)
