"""Progress of a long pass, on a terminal or in a log file.

:class:`Progress` shows a bar (tqdm) when stderr is a terminal. When it is
not (a SLURM or Snakemake log), it writes a log line every
:func:`interval` seconds instead: how much is done, the rate and the time
left, e.g. ``seqlift: scoring: 12,288 of 300,000 regions (4.1 %), 35.2
regions/s, about 2 h 16 min left``. The interval is 60 s, or
``$SEQLIFT_PROGRESS_SECONDS``.
"""
from __future__ import annotations

import logging
import math
import os
import sys
import time
from typing import Any

__all__ = ["Progress", "interval", "INTERVAL_ENV", "duration_text"]

log = logging.getLogger("seqlift")

#: environment variable: seconds between progress lines off a terminal
INTERVAL_ENV = "SEQLIFT_PROGRESS_SECONDS"
_DEFAULT_INTERVAL = 60.0


def interval() -> float:
    """Seconds between progress lines when stderr is not a terminal (``$SEQLIFT_PROGRESS_SECONDS``, default 60)."""
    text = os.environ.get(INTERVAL_ENV, "")
    try:
        value = float(text)
    except ValueError:
        return _DEFAULT_INTERVAL
    return value if math.isfinite(value) and value >= 0 else _DEFAULT_INTERVAL


def duration_text(seconds: float) -> str:
    """``"42 s"``, ``"7 min 5 s"``, ``"2 h 16 min"``, ``"3 d 4 h"``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _amount(value: float, unit: str) -> str:
    if unit == "bytes":
        for size, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if value >= size:
                return f"{value / size:.1f} {name}"
        return f"{int(value)} bytes"
    return f"{int(value):,}"


class Progress:
    """How far a pass over ``total`` units has gone: a bar on a terminal, else a line every :func:`interval` s.

    Parameters
    ----------
    label : str
        What is being done, e.g. ``"scoring"`` or ``"checking peaks.bed"``.
    total : int
        Units in the whole pass.
    unit : str
        ``"regions"`` or another count, or ``"bytes"``.
    """

    def __init__(self, label: str, total: int, unit: str) -> None:
        self.label, self.total, self.unit = label, max(int(total), 0), unit
        self.done = 0
        self.started = self._last = time.monotonic()
        self._every = interval()
        self._bar: Any = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit="B" if unit == "bytes" else unit.rstrip("s"),
                             unit_scale=unit == "bytes", desc=f"seqlift {label}", file=sys.stderr,
                             dynamic_ncols=True)

    def update(self, done: int, note: str = "") -> None:
        """Record that ``done`` units (in all) are finished; ``note`` is added to the log line."""
        done = min(int(done), self.total) if self.total else int(done)
        if self._bar is not None:
            self._bar.update(done - self.done)
            self.done = done
            return
        self.done = done
        now = time.monotonic()
        if now - self._last >= self._every and done < self.total:
            self._last = now
            log.info("%s", self.line(now, note))

    def line(self, now: float | None = None, note: str = "") -> str:
        """The progress line as it is logged."""
        elapsed = (time.monotonic() if now is None else now) - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        share = f" ({100 * self.done / self.total:.1f} %)" if self.total else ""
        left = f", about {duration_text((self.total - self.done) / rate)} left" if rate > 0 else ""
        shown_rate = f"{_amount(rate, self.unit)}/s" if self.unit == "bytes" else f"{rate:,.1f} {self.unit}/s"
        of = f" of {_amount(self.total, self.unit)}" if self.total else ""
        unit = "" if self.unit == "bytes" else f" {self.unit}"
        extra = f"; {note}" if note else ""
        return f"{self.label}: {_amount(self.done, self.unit)}{of}{unit}{share}, {shown_rate}{left}{extra}"

    def close(self) -> None:
        """Remove the bar (nothing is logged at the end: the caller's summary says it)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
