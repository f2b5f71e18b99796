"""Helpers for tests that run a real `prefect server start`: environment, health, stopping, a client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from ecom_local.emulators.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]


def without_prefect_settings(environ: Mapping[str, str], *prefixes: str) -> dict[str, str]:
    """`environ` minus PREFECT_* (and `prefixes`): a developer's profile or the harness must not reach subprocesses."""
    dropped = ("PREFECT_", *prefixes)
    return {name: value for name, value in environ.items() if not name.startswith(dropped)}


def server_env(home: Path) -> dict[str, str]:
    """What every process of one test server shares: its PREFECT_HOME, no telemetry, no UI build."""
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }


def wait_healthy(api_url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Wait until `api_url/health` answers 200; fail with the server's log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"prefect server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"prefect server not healthy after {timeout} s:\n{log.read_text()[-3000:]}")


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> bool:
    """Send `sig` to the process group `process` leads; True if it exited in time, else it is killed."""
    if process.poll() is not None:
        return True
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        return False


@contextmanager
def prefect_client(api_url: str) -> Iterator[SyncPrefectClient]:
    """A sync client for the server at `api_url`, whatever this process's own Prefect settings are."""
    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        yield client


def read_deployment(api_url: str, name: str) -> Any:
    """The deployment `ecom-pipeline/<name>`."""
    with prefect_client(api_url) as client:
        return client.read_deployment_by_name(f"ecom-pipeline/{name}")


@dataclass
class PrefectServer:
    """A `prefect server start` subprocess in its own PREFECT_HOME, and the env that talks to it."""

    api_url: str
    env: dict[str, str]
    home: Path

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run the Prefect CLI against this server from the repository root."""
        return self.run(sys.executable, "-m", "prefect", "--no-prompt", *args, env=env, timeout=timeout)

    def run(
        self, *command: str, env: dict[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess:
        """Run `command` from the repository root with this server's environment (or `env`)."""
        return subprocess.run(
            list(command), cwd=REPO_ROOT, env=env or self.env, capture_output=True, text=True, timeout=timeout
        )


@contextmanager
def running_prefect_server(home: Path) -> Iterator[PrefectServer]:
    """A real `prefect server start` (API and its services: events, triggers, actions) on a free loopback port."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**without_prefect_settings(os.environ), **server_env(home)}
    log = home / "server.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the stop below reaches uvicorn too
        )
    try:
        wait_healthy(api_url, process, log)
        yield PrefectServer(api_url=api_url, env={**env, "PREFECT_API_URL": api_url}, home=home)
    finally:
        stop_group(process)
