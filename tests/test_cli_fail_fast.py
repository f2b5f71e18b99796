"""`ecom-pipeline run` against a source that cannot work fails in seconds, with one line naming the URL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_doubles import NoCarts

from ecom_local.api.server import ApiServer
from ecom_local.emulators.ports import free_port


@pytest.fixture
def no_carts_api() -> Iterator[ApiServer]:
    server = ApiServer(NoCarts(carts=5))
    server.start()
    yield server
    server.stop()


def run_cli(api_url: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PREFECT_", "ECOM_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), ECOM_WORK_DIR=str(tmp_path / "work"))
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "ecom_cli", "run", "--api-url", api_url, "--run-date", "2026-06-17"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return completed, time.monotonic() - started


def error_lines(completed: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (completed.stdout + completed.stderr).splitlines() if line.strip()]


def test_a_closed_port_fails_in_under_15_s_with_one_line_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    completed, seconds = run_cli(url, tmp_path)
    assert completed.returncode != 0
    assert seconds < 15, f"took {seconds:.1f} s"
    lines = error_lines(completed)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: cannot reach the source API at " + url)
    assert "Traceback" not in completed.stderr


def test_a_source_answering_404_for_carts_fails_in_under_15_s_naming_the_resource(
    no_carts_api: ApiServer, tmp_path: Path
) -> None:
    completed, seconds = run_cli(no_carts_api.url, tmp_path)
    assert completed.returncode != 0
    assert seconds < 15, f"took {seconds:.1f} s"
    lines = error_lines(completed)
    assert len(lines) == 1, lines
    assert "resource 'carts'" in lines[0] and "HTTP 404" in lines[0] and f"{no_carts_api.url}/carts" in lines[0]
    assert no_carts_api.source.carts_asked == 1, "a 404 is never retried"


@pytest.mark.parametrize("command", [["ecom-pipeline"], [sys.executable, "-m", "ecom_cli"]], ids=["script", "module"])
def test_settings_that_cannot_work_fail_in_one_line_naming_them(command: list[str], tmp_path: Path) -> None:
    if command == ["ecom-pipeline"]:
        command = [str(Path(sys.executable).with_name("ecom-pipeline"))]  # the installed entry point
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PREFECT_", "ECOM_"))}
    env.update(ECOM_WORK_DIR=str(tmp_path / "work"), ECOM_DQ_ROW_CHANGE_WARN="0.5", ECOM_DQ_ROW_CHANGE_FAIL="0.1")
    completed = subprocess.run([*command, "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 1
    lines = error_lines(completed)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: invalid settings: ") and "row_change_warn (0.5)" in lines[0], lines[0]
