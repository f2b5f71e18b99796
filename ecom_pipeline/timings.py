"""Where a command's time goes, measured by the command itself: named spans of wall-clock time.

The flow puts the spans of its stages in its summary (`timings`), and `run` adds its own (start-up, emulators,
Prefect's API, imports, shutdown) before it writes `--summary-json`; `python -m bench --stages dev-loop` reads them
to split a run into phases (bench/dev_loop.py). Spans are wall-clock (epoch) seconds, so the flow's, the CLI's and
the benchmark's own clock line up; when the process started comes from the kernel.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager


def process_started_at() -> float | None:
    """When this process started, in epoch seconds (to 10 ms), from /proc; None where there is no /proc."""
    try:
        with open("/proc/self/stat") as stat:
            # "pid (command) state ppid ...": field 22, starttime, is the 20th after the command's closing parenthesis.
            started_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as uptime:
            seconds_since_boot = float(uptime.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - (seconds_since_boot - started_ticks / os.sysconf("SC_CLK_TCK"))


class Spans:
    """Named [start, end] pairs in epoch seconds, in the order they were opened."""

    def __init__(self) -> None:
        self.spans: dict[str, list[float]] = {}

    @classmethod
    def since_process_start(cls, name: str) -> Spans:
        """New spans, the first one `name`: from the process's start until now."""
        spans, now = cls(), time.time()
        spans.add(name, process_started_at() or now, now)
        return spans

    @contextmanager
    def span(self, name: str) -> Iterator[None]:
        """Time the block as `name` (also when it raises)."""
        started = time.time()
        try:
            yield
        finally:
            self.add(name, started, time.time())

    def add(self, name: str, started: float, ended: float) -> None:
        """Record a span measured elsewhere."""
        self.spans[name] = [round(started, 3), round(ended, 3)]

    def as_json(self) -> dict[str, list[float]]:
        """The spans as plain JSON."""
        return dict(self.spans)
