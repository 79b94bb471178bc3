"""Fixtures shared by the test modules."""
from __future__ import annotations

import fcntl
import os
import pwd
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _unprivileged_uid() -> int:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return 65534


@pytest.fixture
def make_unreadable(tmp_path: Path) -> Iterator[Callable[[Path], Path]]:
    """A function that makes a file unreadable (mode 000) for the rest of the test.

    Returns
    -------
    Callable[[Path], Path]
        Takes a file, sets its mode to 000 and returns it. Root ignores
        permission bits, so when the tests run as root (as in CI) the rest of
        the test runs with the effective user id of ``nobody``, and the folders
        above ``tmp_path`` are made traversable for it, so that only the file's
        own mode stops the read. Ids, folder modes and file modes are restored
        when the test ends. The test is skipped, saying why, only when the file
        can still be read after all that. The folders above ``tmp_path`` are
        shared with other test processes (pytest-xdist's workers, other runs), so
        their modes are changed and restored under a lock that those processes
        take too: none restores a mode while another still relies on it.
    """
    changed: list[Path] = []
    folders: list[tuple[Path, int]] = []
    dropped = False
    lock = None

    def make(path: Path) -> Path:
        nonlocal dropped, lock
        path.chmod(0)
        changed.append(path)
        if os.geteuid() == 0 and not dropped:
            lock = open(Path(tempfile.gettempdir()) / "seqlift-tests-folder-modes.lock", "a")
            fcntl.flock(lock, fcntl.LOCK_EX)
            for folder in [tmp_path, *tmp_path.parents]:
                mode = folder.stat().st_mode & 0o7777
                if not mode & 0o001:
                    folders.append((folder, mode))
                    folder.chmod(mode | 0o001)
            os.seteuid(_unprivileged_uid())
            dropped = True
        if os.access(path, os.R_OK, effective_ids=True):
            pytest.skip("permission bits are not enforced here, even for user nobody: "
                        "chmod 000 cannot make a file unreadable")
        return path

    yield make
    if dropped:
        os.seteuid(0)
    for folder, mode in reversed(folders):
        folder.chmod(mode)
    for path in changed:
        path.chmod(0o644)
    if lock is not None:
        lock.close()  # releases the lock
