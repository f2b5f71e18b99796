"""Run one command as a fresh process and measure it: wall seconds and peak RSS (from the kernel's rusage)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stages import RESULT_PREFIX

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Measured:
    """What one process did: wall time, peak RSS (largest process of its tree), and its own result line."""

    wall_seconds: float
    peak_rss_mb: float
    exit_code: int
    cpu_seconds: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    output_tail: str = ""


def run_measured(
    command: list[str], env: dict[str, str] | None = None, timeout: float = 3600, cwd: Path = REPO_ROOT
) -> Measured:
    """Run `command`, wait for it with wait4 (rusage of this child and its waited-for descendants only).

    ru_maxrss of a child is the peak resident set of the largest single process in its tree (for spark-submit:
    the JVM), in KiB on Linux, so each stage gets its own figure however many stages ran before.
    """
    started = time.monotonic()
    with open(os.devnull, "rb") as stdin:
        process = subprocess.Popen(
            command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True
        )
    assert process.stdout is not None
    lines: list[str] = []
    result: dict[str, Any] = {}
    deadline = started + timeout
    for line in process.stdout:  # the child's output ends when it exits
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
        else:
            lines = [*lines[-40:], line.rstrip("\n")]
        if time.monotonic() > deadline:
            process.kill()
            break
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    return Measured(
        wall_seconds=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        exit_code=process.returncode,
        result=result,
        output_tail="\n".join(lines[-25:]),
    )


def python_stage(stage: str, params: dict[str, Any], env: dict[str, str]) -> Measured:
    """Run a `bench.stages` stage in a fresh Python process."""
    return run_measured([sys.executable, "-m", "bench.stages", stage, json.dumps(params)], env=env)
