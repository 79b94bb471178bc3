"""One run per output prefix: an exclusive lock taken before any output is touched.

``seqlift score`` and ``seqlift merge`` hold :class:`OutputLock` on
``PREFIX.lock`` from before they look at ``PREFIX.h5.partial`` until their
outputs are published. A second run with the same ``--out`` finds the lock
held and stops with one line naming the process that holds it, leaving
every file of the first run as it was.

The lock is ``flock`` on the lock file (on NFS, Linux maps it to a POSIX
lock the server keeps). The file is removed when the run ends; a run that
opened it just before, and locks it just after the removal, sees that the
path no longer names the file it locked and tries again, so two runs never
both believe they hold the lock. A lock file left by a killed run is not
locked and is simply taken over.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import socket

from seqlift.errors import SeqliftError

__all__ = ["OutputLock", "lock_name"]

#: attempts to lock a path that other runs keep removing and creating
_ATTEMPTS = 20


def lock_name(prefix: str) -> str:
    """The lock file of an output prefix."""
    return f"{prefix}.lock"


class OutputLock:
    """An exclusive, non-blocking lock on an output prefix, as a context manager.

    Parameters
    ----------
    prefix : str
        The ``--out`` prefix; its directory must exist.
    command : str
        The command taking it (``"seqlift score"``), written into the lock
        file with the process id and host for the message a second run shows.

    Raises
    ------
    SeqliftError
        On entering, when another run holds the lock.
    """

    def __init__(self, prefix: str, command: str) -> None:
        self.path = lock_name(prefix)
        self.prefix = prefix
        self.command = command
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        for _ in range(_ATTEMPTS):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as err:
                raise SeqliftError(f"cannot create the lock file {self.path}: {err.strerror or err}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                who = f"{holder} holds {self.path}" if holder else f"{self.path} is locked"
                raise SeqliftError(
                    f"another run is writing the outputs {self.prefix}.* ({who}); its files are left alone: "
                    "wait for it to finish, or choose another --out"
                ) from None
            except OSError as err:
                os.close(fd)
                raise SeqliftError(f"cannot lock {self.path}: {err.strerror or err}") from None
            if _same_file(fd, self.path):
                with contextlib.suppress(OSError):  # who holds it is for the message only (a full disk may refuse)
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{self.command}, process {os.getpid()} on {socket.gethostname()}\n".encode())
                self._fd = fd
                return self
            os.close(fd)  # the holder removed the file after we opened it: lock the new one
        raise SeqliftError(f"cannot lock {self.path}: other runs keep replacing it")

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        """Remove the lock file and let go of the lock (nothing when not held)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
        os.close(self._fd)
        self._fd = None


def _same_file(fd: int, path: str) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        return ""
