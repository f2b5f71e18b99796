"""The emulators `ecom-pipeline emulators up` keeps running, found again by later commands of the local profile.

`emulators up` records its pid, the endpoints it exports and the data its API serves in `<work dir>/emulators.json`.
While that process lives, `run` and `reprocess` work against those emulators, so the raw zone, the curated zone and
the warehouse last from one command to the next, as they do on AWS; without it, each command starts emulators of
its own and stops them when it ends (nothing lasts).

This module is imported by the CLI at start: the emulators' own packages are imported only when they start.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ecom_local.api.data import DataSource
from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Settings

logger = logging.getLogger("ecom_local.emulators")

STATE_FILE = "emulators.json"  # under the work dir (ECOM_WORK_DIR): `up`, `env`, `down`, `run` must agree on it
PROBE_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class RunningEmulators:
    """What `emulators up` recorded: its pid, the environment that points at its services, the data it serves."""

    pid: int
    env: dict[str, str]
    source: dict[str, Any] = field(default_factory=dict)
    # Prefect's API it keeps running (runtime/prefect_api.py), apart from `env`: `emulators env` never exports it.
    prefect_api_url: str | None = None


def source_spec(data_dir: Path | None, synthetic_carts: int | None, seed: int) -> dict[str, Any] | None:
    """The data an API is asked to serve, comparable across commands; None when no option asked for any."""
    if data_dir is not None:
        return {"data_dir": str(data_dir.resolve())}
    if synthetic_carts is not None:
        return {"synthetic_carts": synthetic_carts, "seed": seed}
    return None


def record_emulators(
    work_dir: Path, pid: int, env: Mapping[str, str], source: Mapping[str, Any], prefect_api_url: str | None = None
) -> Path:
    """Write the state file of a running `emulators up`; return its path."""
    state = work_dir / STATE_FILE
    state.parent.mkdir(parents=True, exist_ok=True)
    recorded = {"pid": pid, "env": dict(env), "source": dict(source), "prefect_api_url": prefect_api_url}
    state.write_text(json.dumps(recorded, indent=2))
    return state


def is_running(pid: int) -> bool:
    """Whether a process with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _answers(endpoint_url: str) -> bool:
    """Whether something accepts connections at the URL's host and port (a stale pid may belong to another process)."""
    parts = urlsplit(endpoint_url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), PROBE_TIMEOUT_SECONDS):
            return True
    except OSError:
        return False


def running_emulators(work_dir: Path) -> RunningEmulators | None:
    """The emulators recorded under `work_dir` when their process lives and their S3 answers, else None."""
    state = work_dir / STATE_FILE
    if not state.is_file():
        return None
    try:
        recorded = json.loads(state.read_text())
        running = RunningEmulators(
            int(recorded["pid"]),
            dict(recorded["env"]),
            dict(recorded.get("source") or {}),
            recorded.get("prefect_api_url") or None,
        )
    except (ValueError, KeyError, TypeError):
        logger.warning("ignoring unreadable %s", state)
        return None
    if not is_running(running.pid) or not _answers(running.env.get("AWS_ENDPOINT_URL", "")):
        logger.info("emulators recorded in %s (pid %d) are gone: starting this command's own", state, running.pid)
        return None
    return running


def describe_source(source: Mapping[str, Any]) -> str:
    """`the DummyJSON files in /path` or `500 synthetic carts (seed 42)`."""
    if "data_dir" in source:
        return f"the DummyJSON files in {source['data_dir']}"
    if "synthetic_carts" in source:
        return f"{source['synthetic_carts']} synthetic carts (seed {source.get('seed')})"
    return "data recorded without a description"


def check_same_source(running: RunningEmulators, requested: Mapping[str, Any] | None) -> None:
    """Refuse to serve other data than the running API does: its data are fixed when `emulators up` starts.

    Raises:
        ConfigError: `requested` names other data than the running emulators serve.
    """
    if requested is None or dict(requested) == running.source:
        return
    raise ConfigError(
        f"the emulators of `ecom-pipeline emulators up` (pid {running.pid}) are running and serve "
        f"{describe_source(running.source)}, not {describe_source(requested)}: drop --data-dir/--synthetic-carts to "
        "use theirs, or stop them with `ecom-pipeline emulators down` first"
    )


@contextmanager
def exported_env(env: Mapping[str, str]) -> Iterator[None]:
    """Set these environment variables for the block, then put back what was there."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _ensure_buckets(env: Mapping[str, str], buckets: tuple[str, ...]) -> None:
    """Create the buckets this command's settings name, if `emulators up` started with other names."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env.get("AWS_REGION"),
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
    )
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    for bucket in buckets:
        if bucket not in existing:
            client.create_bucket(Bucket=bucket)


@contextmanager
def local_emulators(
    settings: Settings, source: DataSource | None, requested: Mapping[str, Any] | None
) -> Iterator[RunningEmulators | None]:
    """For the block: the running `emulators up` (its endpoints in the environment), else emulators of our own
    (serving `source` when given).

    Yields the running emulators, or None when this command started (and will stop) its own.

    Raises:
        ConfigError: `requested` data differ from what the running emulators serve.
    """
    buckets = (settings.storage.raw_bucket, settings.storage.curated_bucket)
    running = running_emulators(settings.work_dir)
    if running is None:
        from ecom_local.emulators.local import LocalRuntime  # the emulators' packages load only when they start

        with LocalRuntime(buckets, source):
            yield None
        return
    check_same_source(running, requested)
    logger.info("using the running emulators (pid %d, S3 on %s)", running.pid, running.env.get("AWS_ENDPOINT_URL"))
    with exported_env(running.env):
        _ensure_buckets(running.env, buckets)
        yield running
