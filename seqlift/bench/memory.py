"""Peak resident memory of a benchmark's child process, measured so that the parent's does not count.

A child's ``ru_maxrss`` (from ``getrusage`` or ``wait4``) is not its own peak
on Linux: the kernel carries the high-water mark of the memory the process had
before ``exec`` into it, and a child forked from the benchmark holds the
benchmark's whole resident memory until it execs. A child of a 2 GB parent
reports 1.9 GB as soon as it starts (measured); the zoo benchmark, whose
process holds every model it has timed, reported its own size for each model
("3.3 GiB, the same at N and 4N"), not the child's. ``VmHWM`` in
``/proc/<pid>/status`` belongs to the address space, which ``exec`` replaces,
so it is the child's own peak.
"""
from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from pathlib import Path

#: how often :func:`run_and_watch` reads a running child's peak
POLL_SECONDS = 0.01


def _vm_hwm_kib(status: str) -> int | None:
    """``VmHWM`` (KiB) from the text of a ``/proc/<pid>/status`` file, if it has one."""
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else None


def peak_resident_mib() -> float:
    """This process's peak resident memory in MiB: ``VmHWM`` where ``/proc`` has it (Linux), else
    ``ru_maxrss`` (which includes what the process held before ``exec``; see the module docstring)."""
    try:
        kib = _vm_hwm_kib(Path("/proc/self/status").read_text())
    except OSError:
        kib = None
    if kib is None:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return kib / 1024


def run_and_watch(process: subprocess.Popen) -> tuple[int, float | None]:
    """Wait for ``process``; its exit status and its own peak resident memory in MiB.

    The peak is ``VmHWM`` read every :data:`POLL_SECONDS` while the child runs
    (a high-water mark only grows, so the last reading misses at most the
    growth of the child's last 10 ms); ``None`` where ``/proc`` cannot be read.
    """
    status_file = Path(f"/proc/{process.pid}/status")
    peak = None
    while process.poll() is None:
        try:
            kib = _vm_hwm_kib(status_file.read_text())
        except OSError:
            kib = None
        if kib is not None:
            peak = max(peak or 0, kib)
        time.sleep(POLL_SECONDS)
    return process.returncode, None if peak is None else peak / 1024
