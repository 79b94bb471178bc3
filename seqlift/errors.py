"""The one exception type that reaches users.

Every error caused by the user's input (a file, a line of it, a layer of a
model, an option) is raised as :class:`SeqliftError` with a one-line message
naming what is at fault. The command line prints that line and exits non-zero;
anything else escaping is a bug in seqlift and keeps its traceback.
"""
from __future__ import annotations


class SeqliftError(Exception):
    """An error in the user's input, with a one-line message naming the culprit."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class UnclosableFileError(SeqliftError):
    """A write failed inside a library (HDF5) that can no longer close the file cleanly.

    The message says what happened and what was kept. The command line
    prints it and ends the process at once: the library's own attempt to
    flush the file at interpreter exit would crash the process.
    """
