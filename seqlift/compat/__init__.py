"""Other tools' APIs on top of seqlift.

* :mod:`seqlift.compat.deeplift`: the original deeplift 0.6.13 API (kundajelab),
  so that notebooks written for it run on current TensorFlow after changing
  ``import deeplift`` to ``from seqlift.compat import deeplift`` and
  ``from deeplift.X import Y`` to ``from seqlift.compat.deeplift.X import Y``.
  See ``docs/coming_from_deeplift.md``.
"""
