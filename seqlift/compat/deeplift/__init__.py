"""The original deeplift 0.6.13 API (kundajelab/deeplift) on top of seqlift.

Change ``import deeplift`` to ``from seqlift.compat import deeplift`` and
``from deeplift.X import Y`` to ``from seqlift.compat.deeplift.X import Y``;
the rest of a notebook written for the original runs unchanged, on current
TensorFlow, with seqlift's engine underneath (:func:`seqlift.load_model`,
:func:`seqlift.attribute`). See ``docs/coming_from_deeplift.md`` for each call
beside seqlift's own and for where the numbers differ.

Modules, as in the original:

* :mod:`.layers`: ``NonlinearMxtsMode`` and the other mode enumerations;
* :mod:`.conversion`: ``kerasapi_conversion.convert_model_from_saved_files``
  (and the older ``keras_conversion``), giving :mod:`.models`'
  ``SequentialModel`` / ``GraphModel``;
* :mod:`.util`: shuffled references, hypothetical contributions, integrated
  gradients, ``compile_func`` and ``run_function_in_batches``;
* :mod:`.dinuc_shuffle`: dinucleotide shuffles (seqlift's uniform shuffle);
* :mod:`.visualization`: ``viz_sequence.plot_weights``.
"""
from seqlift.compat.deeplift import conversion, dinuc_shuffle, layers, models, util, visualization

#: the version of the original whose API this mirrors
__version__ = "0.6.13.0"

__all__ = ["conversion", "dinuc_shuffle", "layers", "models", "util", "visualization", "__version__"]
