"""Disk space for a growing file: reserved before each write, and failed writes told in words.

HDF5 cannot recover from a write that fails half-way (a full disk, a quota,
a file size limit): its cached metadata can no longer be flushed, closing the
file fails, and the library crashes the process at exit. So the score file
never lets HDF5 meet a full disk: before a chunk is written,
:func:`reserve` allocates the bytes it may need past the end of what HDF5
has allocated (``posix_fallocate``), where HDF5 writes next. When the
reservation fails, nothing has been written and the file closes cleanly
(:class:`DiskFull`). A file system that cannot reserve space (no
``fallocate``, nor glibc's fallback) is asked for its free space instead.

:func:`trim` gives back what the last reservation did not use, once the file
is complete. :func:`failure_reason` puts an ``OSError`` or an HDF5 error
message into words (``"no space left on device"``).

For tests, :data:`TEST_NO_RESERVE_ENV` set to ``1`` skips the reservations,
so that a full disk reaches HDF5 itself.
"""
from __future__ import annotations

import errno
import os
import re

from seqlift.errors import SeqliftError

__all__ = ["DiskFull", "reserve", "trim", "hdf5_end", "free_bytes", "failure_reason", "is_full", "size_text", "TEST_NO_RESERVE_ENV"]

#: testing hook: ``1`` skips :func:`reserve` (a full disk then fails inside HDF5)
TEST_NO_RESERVE_ENV = "SEQLIFT_TEST_NO_RESERVE"
#: errors that mean "no room for more bytes"
FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (the file size limit, ulimit -f, is reached)",
}


class DiskFull(SeqliftError):
    """There is no room for the next write; nothing of it was written."""


def size_text(count: int) -> str:
    """``count`` bytes as ``"12.3 MiB"``."""
    for size, name in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if count >= size:
            return f"{count / size:.1f} {name}"
    return f"{count} bytes"


def free_bytes(path: str) -> int | None:
    """Bytes free for an unprivileged user on the file system of ``path`` (None if it cannot tell)."""
    try:
        stat = os.statvfs(path)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def reserve(fd: int, start: int, count: int, path: str) -> None:
    """Make sure ``count`` bytes from offset ``start`` of the open file ``fd`` can be written.

    Parameters
    ----------
    fd : int
        The file's descriptor.
    start : int
        Where the next writes go (HDF5's end of allocated space).
    count : int
        How many bytes they may take.
    path : str
        The file, for messages.

    Raises
    ------
    DiskFull
        If the space cannot be had; the message says how much was needed
        and how much is free.
    """
    if os.environ.get(TEST_NO_RESERVE_ENV) == "1":
        return
    try:
        os.posix_fallocate(fd, start, count)
        return
    except OSError as err:
        if err.errno in FULL:
            raise DiskFull(_full_message(path, count, err.errno)) from None
        if err.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.ENODEV):
            raise
    free = free_bytes(os.path.dirname(os.path.abspath(path)))
    if free is not None and free < count:
        raise DiskFull(_full_message(path, count, errno.ENOSPC))


def _full_message(path: str, count: int, code: int) -> str:
    free = free_bytes(os.path.dirname(os.path.abspath(path)))
    shown = f"; {size_text(free)} free" if free is not None and code == errno.ENOSPC else ""
    return f"{_REASONS[code]} for {path} (the next chunk needs up to {size_text(count)}{shown})"


def hdf5_end(path: str) -> int | None:
    """Where a closed HDF5 file ends by its own account: the end-of-file address in its superblock.

    HDF5 refuses to open a file shorter than this (it calls it truncated) and
    never reads past it, so bytes beyond it are unused. Superblock versions
    0 and 1 keep the base address and the end-of-file address at bytes 24 and
    40 (28 and 44 in version 1), versions 2 and 3 at bytes 12 and 28, each
    ``size of offsets`` bytes long (byte 13, or byte 9), little-endian.

    Returns
    -------
    int or None
        The end, or None when the file does not start with an HDF5
        superblock seqlift knows.
    """
    with open(path, "rb") as handle:
        head = handle.read(64)
    if len(head) < 48 or not head.startswith(b"\x89HDF\r\n\x1a\n"):
        return None
    version = head[8]
    if version in (0, 1):
        size, base_at = head[13], 24 + (4 if version == 1 else 0)
    elif version in (2, 3):
        size, base_at = head[9], 12
    else:
        return None
    end_at = base_at + 2 * size
    if size not in (4, 8) or end_at + size > len(head):
        return None
    base = int.from_bytes(head[base_at:base_at + size], "little")
    return base + int.from_bytes(head[end_at:end_at + size], "little")


def trim(path: str) -> None:
    """Cut a closed HDF5 file back to where it ends by its superblock (space reserved but not used)."""
    end = hdf5_end(path)
    if end is not None and os.path.getsize(path) > end > 0:
        os.truncate(path, end)


def _errno(err: BaseException) -> int | None:
    """The error number of an ``OSError``, or the one HDF5 writes into its messages (``errno = 28``)."""
    code = getattr(err, "errno", None)
    if code is None:
        found = re.search(r"errno = (\d+)", str(err))
        code = int(found.group(1)) if found else None
    return code


def failure_reason(err: BaseException) -> str:
    """An ``OSError``'s or an HDF5 error's cause in words (``"no space left on device"``), else its text."""
    code = _errno(err)
    if code in _REASONS:
        return _REASONS[code]
    if code is not None:
        return os.strerror(code).lower()
    return " ".join(str(err).split())


def is_full(err: BaseException) -> bool:
    """Whether a failed write failed for want of room (full disk, quota, file size limit)."""
    return _errno(err) in FULL
