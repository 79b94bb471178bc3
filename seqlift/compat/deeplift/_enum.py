"""The original's enumerations: classes whose attributes are string constants."""
from __future__ import annotations

from typing import Any


def enum(**values: Any) -> type:
    """A class with one attribute per keyword, plus ``vals`` and ``the_dict``, as ``deeplift.util.enum``.

    Examples
    --------
    >>> Colour = enum(red="red", blue="blue")
    >>> Colour.red, sorted(Colour.vals)
    ('red', ['blue', 'red'])
    """
    namespace: dict[str, Any] = {
        key: staticmethod(value) if callable(value) else value for key, value in values.items()
    }
    namespace["vals"] = list(values.values())
    namespace["the_dict"] = dict(values)
    return type("Enum", (), namespace)
