"""Reading and checking what the user gives: files (their head, gzip, FASTA or BED) and values (counts, tasks,
windows).

A file's kind is told by its content, never by its name: gzip by its magic
bytes, a FASTA of sequences by a first non-blank character ``>`` (in the
decompressed text), anything else is taken for BED. Every failure is a
:class:`~seqlift.errors.SeqliftError` whose one-line message names the file
or the option at fault.
"""
from __future__ import annotations

import gzip
import io
import numbers
import os
from typing import Literal

from seqlift.errors import SeqliftError

__all__ = ["read_head", "is_gzip", "open_text", "input_kind", "check_positive_int", "parse_tasks",
           "parse_window"]

#: first bytes of every gzip (and bgzip) file
GZIP_MAGIC = b"\x1f\x8b"
#: bytes read to tell a FASTA from a BED file
_KIND_PROBE = 4096


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


def is_gzip(path: str | os.PathLike, what: str) -> bool:
    """Whether the file at ``path`` is gzip-compressed (bgzip included), by its first two bytes.

    ``what`` names the file in errors, as for :func:`read_head`.
    """
    return read_head(path, 2, what) == GZIP_MAGIC


def open_text(path: str | os.PathLike, compressed: bool) -> io.TextIOBase:
    """Open a user's text file for reading, decompressing it when ``compressed`` (see :func:`is_gzip`).

    Undecodable bytes become U+FFFD, so a stray byte is reported by the
    parser with its line number instead of failing the read.
    """
    if compressed:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def input_kind(path: str | os.PathLike) -> Literal["fasta", "bed"]:
    """Whether a regions file is a FASTA of sequences or a BED file, by its content.

    ``"fasta"`` when the first non-blank character of the (decompressed)
    text is ``>``, else ``"bed"``; a damaged gzip file is ``"bed"``, for the
    BED reader to report the damage with a line number.

    Raises
    ------
    SeqliftError
        If the file cannot be read.
    """
    if is_gzip(path, "regions"):
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(_KIND_PROBE)
        except (OSError, EOFError):
            return "bed"
    else:
        head = read_head(path, _KIND_PROBE, "regions")
    return "fasta" if head.lstrip()[:1] == b">" else "bed"


def check_positive_int(value: object, what: str) -> int:
    """``value`` as an ``int`` if it is a positive integer (numpy integers too; ``bool`` is not accepted).

    Parameters
    ----------
    value : object
        The value given by the user.
    what : str
        What it is, for the message: ``"<what> must be a positive integer,
        got <value!r>"``.

    Returns
    -------
    int

    Raises
    ------
    SeqliftError
        If ``value`` is not a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise SeqliftError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def parse_tasks(task: str | int | list[int], option: str = "--task", allow_all: bool = True) -> str | list[int]:
    """The tasks (target units) asked for: ``"all"``, or distinct non-negative indices.

    Parameters
    ----------
    task : str, int or list of int
        ``"all"`` (any case), a comma-separated list such as ``"0,2"``, one
        index, or a list of indices.
    option : str
        The option's name, for the messages.
    allow_all : bool
        Whether ``"all"`` is accepted.

    Returns
    -------
    str or list of int
        ``"all"``, or the indices in the order given.

    Raises
    ------
    SeqliftError
        For text that is not a list of integers, a negative index or an index
        given twice.
    """
    if isinstance(task, str):
        text = task.strip()
        if allow_all and text.lower() == "all":
            return "all"
        try:
            values = [int(part) for part in text.split(",")]
        except ValueError:
            accepted = "'all' or a comma-separated list" if allow_all else "a comma-separated list"
            raise SeqliftError(f"{option} {task!r} is not {accepted} of indices such as 0,2") from None
    elif isinstance(task, numbers.Integral):
        values = [int(task)]
    else:
        values = [int(t) for t in task]
    if not values or any(v < 0 for v in values):
        raise SeqliftError(f"{option} {task!r}: task indices are 0 or more")
    if len(set(values)) != len(values):
        raise SeqliftError(f"{option} {task!r} names a task twice")
    return values


def parse_window(window: str | tuple[int, int] | list[int] | None, option: str = "--ism-window",
                 length: int | None = None) -> tuple[int, int] | None:
    """A window of positions ``[start, end)``: 0-based, end exclusive, ``0 <= start < end (<= length)``.

    Parameters
    ----------
    window : str, pair of int or None
        ``"START:END"`` (as a Python slice, e.g. ``"100:300"``), a pair of
        integers, or None (no window: None is returned).
    option : str
        The option's name, for the messages.
    length : int, optional
        The sequences' length, which the window must fit in.

    Returns
    -------
    (int, int) or None

    Raises
    ------
    SeqliftError
        For text that is not ``START:END``, values that are not integers, an
        empty or reversed window, a negative start, or an end past ``length``.
    """
    if window is None:
        return None
    if isinstance(window, str):
        parts = window.split(":")
        try:
            values = [int(part) for part in parts]
        except ValueError:
            values = []
        if len(parts) != 2 or len(values) != 2:
            raise SeqliftError(f"{option} {window!r} is not START:END (0-based, end exclusive, e.g. 100:300)")
    else:
        values = list(window) if isinstance(window, (tuple, list)) else []
        if len(values) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
            raise SeqliftError(f"{option} {window!r} is not a pair of integers (start, end)")
    start, end = (int(v) for v in values)
    if start < 0 or end <= start:
        raise SeqliftError(f"{option} {start}:{end}: need 0 <= start < end (0-based, end exclusive)")
    if length is not None and end > length:
        raise SeqliftError(f"{option} {start}:{end} runs past the end of the sequences ({length} bp)")
    return start, end
