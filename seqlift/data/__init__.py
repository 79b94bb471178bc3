"""Files shipped with seqlift and read at run time, found wherever seqlift is installed.

``motifs/``
    MEME files: ``jaspar2024_gata1_tal1.meme`` (JASPAR 2024 Gata1 and
    TAL1::TCF3, the simulation's default) and ``encode_tal1_gata.meme`` (the
    ENCODE matrices of the DeepLIFT paper).
``demo/``
    The TAL1/GATA1 demo written by ``seqlift train-sim`` (see its README):
    the paper's architecture trained on the simulation (``model.h5``, read by
    ``seqlift bench``), its test sequences, genome form, labels and ground truth.

They are package data (read through :mod:`importlib.resources`), so that an
installed seqlift (``pip install .``, a wheel) needs no checkout. In the
repository, ``data/motifs`` and ``data/demo`` are links to these folders, for
the workflow and the documentation.
"""
from __future__ import annotations

import atexit
import contextlib
from importlib import resources
from pathlib import Path

from seqlift.errors import SeqliftError

__all__ = ["shipped_file"]

_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def shipped_file(*parts: str) -> Path:
    """The path of a shipped file, e.g. ``shipped_file("demo", "model.h5")``.

    Parameters
    ----------
    *parts : str
        The file's path below this package, one folder or name per part.

    Returns
    -------
    pathlib.Path
        A file on disk (extracted to a temporary file, removed at exit, when
        seqlift is imported from a zip archive).

    Raises
    ------
    SeqliftError
        When the installation lacks the file.
    """
    resource = resources.files(__name__).joinpath(*parts)
    if not resource.is_file():
        raise SeqliftError(f"the shipped file {'/'.join(parts)} is missing from this installation of seqlift "
                           f"(looked in {resources.files(__name__)})")
    if isinstance(resource, Path):
        return resource
    return _extracted.enter_context(resources.as_file(resource))
