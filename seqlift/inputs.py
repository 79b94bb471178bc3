"""Reading and checking what the user gives: the head of a file, whether it is gzip'd, positive integers.

Every failure is a :class:`~seqlift.errors.SeqliftError` whose one-line
message names the file or the option at fault.
"""
from __future__ import annotations

import os

from seqlift.errors import SeqliftError


def read_head(path: str | os.PathLike, size: int, what: str) -> bytes:
    """The first ``size`` bytes of a user's file, with one-line errors naming it.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    size : int
        How many bytes to read at most (fewer when the file is shorter).
    what : str
        What the file is, for the messages (``"FASTA"``, ``"BED"``,
        ``"regions"``): ``"<what> file not found: <path>"``, ``"<what> path is
        a directory, not a file: <path>"``, ``"cannot read <what> file <path>:
        permission denied"`` and ``"cannot read <what> file <path>: <reason>"``.

    Returns
    -------
    bytes
        The bytes read.

    Raises
    ------
    SeqliftError
        If the file cannot be opened or read.
    """
    name = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except FileNotFoundError:
        raise SeqliftError(f"{what} file not found: {name}") from None
    except IsADirectoryError:
        raise SeqliftError(f"{what} path is a directory, not a file: {name}") from None
    except PermissionError:
        raise SeqliftError(f"cannot read {what} file {name}: permission denied") from None
    except OSError as err:
        raise SeqliftError(f"cannot read {what} file {name}: {err.strerror or err}") from None


def check_positive_int(value: object, what: str) -> None:
    """Fail unless ``value`` is a positive ``int`` (``bool`` is not accepted).

    Parameters
    ----------
    value : object
        The value given by the user.
    what : str
        What it is, for the message: ``"<what> must be a positive integer,
        got <value!r>"``.

    Raises
    ------
    SeqliftError
        If ``value`` is not a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SeqliftError(f"{what} must be a positive integer, got {value!r}")
