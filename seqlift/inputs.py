"""Reading and checking what the user gives: files (their head, gzip, FASTA or BED) and values (counts, tasks,
windows).

A file's kind is told by its content, never by its name: gzip by its magic
bytes, a FASTA of sequences by a first non-blank character ``>`` (in the
decompressed text), anything else is taken for BED. Every failure is a
:class:`~seqlift.errors.SeqliftError` whose one-line message names the file
or the option at fault.
"""
from __future__ import annotations

import argparse
import gzip
import io
import numbers
import os
from collections.abc import Callable
from typing import Literal

from seqlift.errors import SeqliftError

__all__ = ["read_head", "is_gzip", "open_text", "input_kind", "check_positive_int", "parse_tasks",
           "integer_option", "fraction_option", "positive_integer", "non_negative_integer", "INT64_MAX",
           "check_output_folder", "nearest_existing", "parse_window"]

#: first bytes of every gzip (and bgzip) file
GZIP_MAGIC = b"\x1f\x8b"
#: bytes read to tell a FASTA from a BED file
_KIND_PROBE = 4096
#: the largest integer an option may take: score files store integers as 64-bit signed numbers
INT64_MAX = 2**63 - 1


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


def _range_text(minimum: int | None, maximum: int) -> str:
    top = "2^63 - 1" if maximum == INT64_MAX else str(maximum)
    return f"an integer from {minimum} to {top}" if minimum is not None else f"an integer up to {top}"


def integer_option(minimum: int | None = None, maximum: int = INT64_MAX) -> Callable[[str], int]:
    """An ``argparse`` type for an integer option that must lie in ``[minimum, maximum]``.

    Parameters
    ----------
    minimum : int, optional
        The smallest value accepted (default: down to ``-maximum - 1``).
    maximum : int
        The largest value accepted; default :data:`INT64_MAX`, the most an
        integer stored in a score file (or given to numpy) can hold.

    Returns
    -------
    Callable[[str], int]
        Converts the option's text, raising ``argparse.ArgumentTypeError``
        (printed by argparse as one line naming the option, e.g. ``argument
        --seed: 1e30 is not an integer``) for text that is not an integer or a
        value out of range.
    """
    low = -maximum - 1 if minimum is None else minimum

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{text} is out of range: give {_range_text(minimum, maximum)}")
        return value

    convert.__name__ = "integer"  # what argparse calls the type in its own messages
    return convert


#: ``argparse`` type of options that count something (1 or more)
positive_integer = integer_option(minimum=1)
#: ``argparse`` type of options that may be 0 (sizes, offsets, seeds that must not be negative)
non_negative_integer = integer_option(minimum=0)


def fraction_option(text: str) -> float:
    """An ``argparse`` type for a fraction from 0 to 1 (``argparse.ArgumentTypeError`` otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"{text} is not a fraction from 0 to 1")
    return value


def nearest_existing(path: str | os.PathLike) -> str:
    """``path`` made absolute, or its nearest ancestor that exists (where a folder would be created)."""
    probe = os.path.abspath(os.fspath(path))
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return probe


def check_output_folder(path: str | os.PathLike, option: str) -> None:
    """Fail with one line, naming the option, unless ``path`` is a folder or can be made one.

    An existing file (not a folder) at ``path``, or above it, is refused;
    the folder itself is created when the command writes into it.

    Raises
    ------
    SeqliftError
        ``"<option> <path> is a file, not a folder"`` or the reason the
        folder cannot be made.
    """
    name = os.fspath(path)
    probe = nearest_existing(name)
    if not os.path.isdir(probe):
        shown = name if probe == os.path.abspath(name) else f"{name} (under the file {probe})"
        raise SeqliftError(f"{option} {shown} is a file, not a folder; give a folder for the outputs")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SeqliftError(f"cannot write outputs in {probe}: permission denied")


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
