"""Prefect's API for local runs: started only where Prefect would start one itself, stopped with its command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from ecom_local.emulators.prefect_api import PrefectApi
from ecom_local.emulators.run_services import _own_api_needed
from ecom_local.emulators.running import RunningEmulators
from ecom_pipeline.exceptions import RuntimeStartError


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def prefect_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Prefect home of the test's own, and no API configured: what a fresh clone's shell has."""
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    return tmp_path / "prefect"


def test_the_api_serves_prefect_on_its_port_and_stops_with_stop(prefect_home: Path) -> None:
    api = PrefectApi().start()
    try:
        assert api.serving()
        assert api.wait_ready() == f"http://127.0.0.1:{api.port}/api"
        assert requests.get(f"{api.api_url}/health", timeout=5).json() is True
        assert api.started_at is not None and api.ready_at is not None and api.ready_at >= api.started_at
        assert (prefect_home / "prefect.db").is_file()  # Prefect's own database, in its home
    finally:
        api.stop()
    assert not _listening(api.port)
    api.stop()  # safe twice


def test_with_an_api_configured_it_says_so_and_serves_nothing(prefect_home: Path, monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # a user's own server (not even running)
    api = PrefectApi().start()
    try:
        assert api.serving() is False
        with pytest.raises(RuntimeStartError, match="Prefect has an API configured here"):
            api.wait_ready()
    finally:
        api.stop()
    assert not _listening(api.port)


def test_a_run_starts_its_own_api_only_where_prefect_would_start_one(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = RunningEmulators(pid=1, env={}, prefect_api_url="http://127.0.0.1:4321/api")
    without = RunningEmulators(pid=1, env={})
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setitem(sys.modules, "prefect", None)  # as if imported: its settings would be fixed already
    assert _own_api_needed(None) is False
    monkeypatch.delitem(sys.modules, "prefect")
    assert _own_api_needed(None) is True
    assert _own_api_needed(without) is True
    assert _own_api_needed(kept) is False  # `emulators up` keeps one
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert _own_api_needed(None) is False


PARENT = """
import sys, time
from ecom_local.emulators.fakesnow_server import FakesnowEmulator
emulator = FakesnowEmulator()
host, port = emulator.start()
print(port, flush=True)
time.sleep(600)
"""


def test_a_server_whose_command_is_killed_stops_by_itself(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(PARENT)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert parent.stdout is not None
    port = int(parent.stdout.readline())
    assert _listening(port)
    os.kill(parent.pid, signal.SIGKILL)  # no chance to stop its server
    parent.wait()
    deadline = time.monotonic() + 30
    while _listening(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _listening(port)


def test_process_start_is_read_from_the_kernel(tmp_path: Path) -> None:
    launched = time.time()
    printed = subprocess.run(
        [sys.executable, "-c", "import json, ecom_pipeline.timings as t; print(json.dumps(t.process_started_at()))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    started = json.loads(printed.stdout)
    assert launched - 0.5 < started < time.time()  # clock ticks: 10 ms; the bound is the launch itself
