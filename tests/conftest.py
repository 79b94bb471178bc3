"""Fixtures shared by the test modules."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def make_unreadable() -> Iterator[Callable[[Path], Path]]:
    """A function that makes a file unreadable (mode 000) for the rest of the test.

    Returns
    -------
    Callable[[Path], Path]
        Takes a file, sets its mode to 000 and returns it. The test is skipped
        when the file can still be read (running as root, whom permission bits
        do not stop). Every file is given mode 644 again when the test ends.
    """
    changed: list[Path] = []

    def make(path: Path) -> Path:
        path.chmod(0)
        changed.append(path)
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that ignore file permissions (root): chmod 000 cannot make a file unreadable")
        return path

    yield make
    for path in changed:
        path.chmod(0o644)
