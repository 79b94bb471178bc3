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
