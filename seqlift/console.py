"""What a ``seqlift`` command prints on stderr: its own log lines, and not the libraries' start-up noise.

:func:`configure` sets up logging for the command line. seqlift's own
records (loggers ``seqlift.*``) are printed as ``seqlift: message`` from
INFO up (DEBUG with ``-v``). Other libraries' records are printed only from
ERROR up, or from WARNING up with ``-v``: matplotlib's "building the font
cache" line and TensorFlow's Python-side warnings are WARNING records.

TensorFlow's native start-up lines (absl's "All log messages before
absl::InitializeLog()", oneDNN, "Could not find cuda drivers", "failed call
to cuInit", CPU feature notes) are written by C++ straight to file
descriptor 2 while TensorFlow is imported and its devices are found, before
``TF_CPP_MIN_LOG_LEVEL`` applies. Without ``-v``, :func:`configure` installs
a one-time import hook that imports TensorFlow, and lists its devices, with
descriptor 2 pointed at a temporary file; what was written there is
dropped, or printed if the import fails. ``TF_CPP_MIN_LOG_LEVEL`` is set to
3 (to 0 with ``-v``) unless the user set it, which silences TensorFlow's
later native messages too.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any, BinaryIO

__all__ = ["configure", "NOISY_MODULES"]

#: libraries whose Python warnings are hidden without ``-v``
NOISY_MODULES = ("tensorflow", "keras", "tf_keras", "absl", "h5py", "numba", "matplotlib")
_OWN = "seqlift"


class _Filter(logging.Filter):
    """seqlift's records from ``own`` up, everyone else's from ``others`` up."""

    def __init__(self, own: int, others: int) -> None:
        super().__init__()
        self.own, self.others = own, others

    def filter(self, record: logging.LogRecord) -> bool:
        mine = record.name == _OWN or record.name.startswith(_OWN + ".")
        return record.levelno >= (self.own if mine else self.others)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        mine = record.name == _OWN or record.name.startswith(_OWN + ".")
        return f"{_OWN if mine else record.name}: {record.getMessage()}"


class _Handler(logging.StreamHandler):
    """The handler :func:`configure` installs (replaced, not added, when it runs again)."""


def configure(verbose: bool) -> None:
    """Set up logging and quiet library start-up for one run of the command line.

    Parameters
    ----------
    verbose : bool
        ``-v``: seqlift's DEBUG records, other libraries' warnings and
        TensorFlow's native start-up lines are shown.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
    handler = _Handler(sys.stderr)
    handler.setFormatter(_Formatter())
    handler.addFilter(_Filter(logging.DEBUG if verbose else logging.INFO,
                              logging.WARNING if verbose else logging.ERROR))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    if verbose:
        return
    for module in NOISY_MODULES:
        warnings.filterwarnings("ignore", module=rf"{module}(\.|$)")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


@contextlib.contextmanager
def _native_stderr_into(sink: BinaryIO) -> Iterator[None]:
    """Point file descriptor 2 at ``sink`` for the block (what C and C++ code write goes there)."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, with a loader that imports it quietly; then steps aside."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "tensorflow":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in sys.meta_path:
            spec = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of ``tensorflow`` (and lists its devices) with fd 2 in a temporary file."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        with tempfile.TemporaryFile() as sink:
            try:
                with _native_stderr_into(sink):
                    self._loader.exec_module(module)
                    module.config.list_physical_devices()  # CUDA's start-up (cuInit) happens here
            except BaseException:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
