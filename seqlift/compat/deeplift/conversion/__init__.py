"""``deeplift.conversion``: converted models from Keras files.

* :mod:`.kerasapi_conversion` (deeplift 0.6): ``convert_model_from_saved_files``;
* :mod:`.keras_conversion` (deeplift 0.5 and earlier): ``load_keras_model``,
  ``convert_sequential_model``, ``convert_functional_model``.
"""
from seqlift.compat.deeplift.conversion import keras_conversion, kerasapi_conversion

__all__ = ["kerasapi_conversion", "keras_conversion"]
