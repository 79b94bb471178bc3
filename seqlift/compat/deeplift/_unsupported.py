"""One-line errors for the names of the original deeplift that seqlift does not provide."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from seqlift.errors import SeqliftError


def refuse(name: str, alternative: str) -> SeqliftError:
    """The error for using ``name``: what it is not, and what to use instead.

    Parameters
    ----------
    name : str
        The original's name, qualified (``"deeplift.util.get_session"``).
    alternative : str
        What to use instead, in one sentence.

    Returns
    -------
    SeqliftError
    """
    return SeqliftError(f"{name} is not supported by seqlift.compat.deeplift: {alternative}")


def module_getattr(module: str, alternatives: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that refuses the original's names listed in ``alternatives``.

    The error is a :class:`~seqlift.errors.SeqliftError`, not an
    ``AttributeError``, so that ``from module import name`` shows the
    alternative instead of Python's generic "cannot import name".

    Parameters
    ----------
    module : str
        The original's module name (``"deeplift.util"``), for the message.
    alternatives : mapping
        Name -> what to use instead.
    """

    def __getattr__(name: str) -> Any:
        if name in alternatives:
            raise refuse(f"{module}.{name}", alternatives[name])
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
