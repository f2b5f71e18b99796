"""Run a Spark job process: stream its output to a logger (Spark noise filtered), enforce a timeout, and map its
outcome to TransformError with `job_failure`, the one mapping every launcher (local, compose, Glue) uses."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Mapping, Sequence

from ecom_pipeline.exceptions import TransformError

# The job's own contract (spark_jobs/orders/errors.py: the job imports nothing of ours, so tests hold the two equal).
CONFIG_ERROR_MARKER = "orders_job: config error: "
DATA_INTEGRITY_ERROR_MARKER = "orders_job: data integrity error: "
CONFIG_ERROR_EXIT_CODE = 2
DATA_INTEGRITY_ERROR_EXIT_CODE = 3
JOB_LINE_PREFIX = "orders_job"
# log4j's default layout: "26/06/17 10:15:00 WARN Utils: ..."
SPARK_LOG_LINE = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) ")
TAIL_LINES = 15
ACCESS_DENIED = re.compile(r"AccessDenied|Access Denied|is not authorized to perform", re.IGNORECASE)
SPARK_LEVELS = {"WARN": logging.WARNING, "ERROR": logging.ERROR, "FATAL": logging.CRITICAL}
NOISE_PREFIXES = ("Setting default log level", "To adjust logging level", "[Stage ")
# WARN lines every local run prints and nobody can act on: logged at DEBUG.
HARMLESS_WARNINGS = (
    "NativeCodeLoader: Unable to load native-hadoop library",
    "MetricsConfig: Cannot locate configuration",
    "SparkStringUtils: Truncated the string representation",
)


class JobOutputLogger:
    """Logs a job's output lines: Spark WARN/ERROR and the job's own lines visible, Spark INFO noise at DEBUG.

    Lines without a log4j prefix continue the previous record (multi-line plans, JVM stack traces) and share
    its visibility, except a Python traceback, which always starts a visible block.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._level = logging.INFO

    def __call__(self, line: str) -> bool:
        """Log `line`; return whether it was visible (worth keeping in the error tail)."""
        spark_line = SPARK_LOG_LINE.match(line)
        if spark_line:
            self._level = SPARK_LEVELS.get(spark_line.group(1), logging.DEBUG)
            if any(warning in line for warning in HARMLESS_WARNINGS):
                self._level = logging.DEBUG
        elif line.startswith(JOB_LINE_PREFIX):  # "orders_job INFO ..." from logging, "orders_job: config error"
            level_name = line.split()[1] if len(line.split()) > 1 else ""
            self._level = logging.getLevelNamesMapping().get(level_name, logging.ERROR)
        elif line.startswith("Traceback"):
            self._level = logging.ERROR
        elif line.startswith(NOISE_PREFIXES) or not line.strip():
            self.logger.debug("%s", line)
            return False
        self.logger.log(self._level, "%s", line)
        return self._level > logging.DEBUG


def run_job_process(
    command: Sequence[str],
    env: Mapping[str, str],
    timeout_seconds: float,
    logger: logging.Logger,
    what: str = "Spark job",
) -> None:
    """Run `command`; return on exit 0, else raise TransformError.

    Raises:
        TransformError: as `job_failure` maps the exit code; transient=False for a missing executable,
            transient=True for a timeout.
    """
    try:
        process = subprocess.Popen(
            list(command),
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream keeps the order of Python and JVM lines
            text=True,
            errors="replace",
            start_new_session=True,  # our own process group, so a timeout also stops the JVM child
        )
    except FileNotFoundError as error:
        raise TransformError(f"{what}: cannot start {command[0]}: {error}", transient=False) from error
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    verdicts: list[str] = []
    log_line = JobOutputLogger(logger)

    def pump() -> None:
        assert process.stdout is not None
        for raw_line in process.stdout:
            line = raw_line.rstrip("\n")
            if CONFIG_ERROR_MARKER in line or DATA_INTEGRITY_ERROR_MARKER in line:
                verdicts.append(line)
            if log_line(line):
                tail.append(line)

    reader = threading.Thread(target=pump, name="spark-job-output", daemon=True)
    reader.start()
    try:
        exit_code = process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        _stop_process_group(process)
        reader.join(timeout=5)
        raise TransformError(f"{what} timed out after {timeout_seconds:g} s and was stopped", transient=True) from None
    reader.join(timeout=30)
    if exit_code == 0:
        return
    raise job_failure(what, exit_code, "\n".join([*verdicts, *tail]))


def job_failure(what: str, exit_code: int | None, output: str) -> TransformError:
    """The error for a failed job run, the same in every profile.

    Args:
        exit_code: the job process's exit code, or None where only a message is known (Glue's ErrorMessage).
        output: the job's last output lines, or Glue's ErrorMessage; the job's one-line verdict is found in it.

    Returns a TransformError that is final for a configuration error (exit 2), a data-integrity failure (exit 3)
    or an access denied by S3/IAM, and transient for anything else (a crash, a lost executor), which one retry
    may cure.
    """
    lines = output.splitlines()
    for marker, code, verdict in (
        (CONFIG_ERROR_MARKER, CONFIG_ERROR_EXIT_CODE, "rejected its configuration"),
        (DATA_INTEGRITY_ERROR_MARKER, DATA_INTEGRITY_ERROR_EXIT_CODE, "failed its data-integrity check"),
    ):
        found = [line.split(marker, 1)[1] for line in lines if marker in line]
        if exit_code == code or (exit_code is None and found):
            problem = found[-1] if found else output.strip() or "(no output)"
            return TransformError(f"{what} {verdict}: {problem}", transient=False)
    failed = f"failed with exit code {exit_code}" if exit_code is not None else "failed"
    tail = "\n".join(lines[-TAIL_LINES:]) or "(no output)"
    # Refused by S3 or IAM: the same identity is refused again, whichever profile runs the job.
    denied = ACCESS_DENIED.search(output) is not None
    return TransformError(f"{what} {failed}; last output:\n{tail}", transient=not denied)


def _stop_process_group(process: subprocess.Popen[str]) -> None:
    """SIGTERM the job's process group (spark-submit and its JVM), SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
