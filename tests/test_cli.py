"""The `ecom-pipeline` command as a new user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from terminal_noise import noise_lines
from typer.testing import CliRunner

from ecom_cli.app import app


@pytest.mark.parametrize(
    "command",
    [["run"], ["serve-api"], ["serve-snowflake"], ["emulators", "up"], ["emulators", "down"], ["bootstrap-warehouse"],
     ["report"], ["blocks"], ["automations", "apply"], ["slas", "apply"], ["reprocess"]],
)  # fmt: skip
def test_every_command_explains_itself(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output and len(result.output.splitlines()) > 4


def test_data_dir_with_a_remote_profile_is_refused(dummyjson_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOM_PROFILE", "local")  # `--profile` sets it for the process: restored after the test
    result = CliRunner().invoke(app, ["run", "--profile", "aws", "--data-dir", str(dummyjson_dir)])
    assert result.exit_code == 1
    assert "only apply to the local profile" in result.output


def test_reprocess_without_running_emulators_says_there_is_nothing_to_reprocess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECOM_WORK_DIR", str(tmp_path))
    monkeypatch.setenv("ECOM_PROFILE", "local")
    result = CliRunner().invoke(app, ["reprocess", "--from", "2026-06-16", "--to", "2026-06-17"])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "nothing to reprocess" in message and f"no live {tmp_path / 'emulators.json'}" in message


def test_bad_run_date_names_the_option() -> None:
    result = CliRunner().invoke(app, ["run", "--run-date", "17/06/2026"])
    assert result.exit_code != 0
    assert "--run-date" in result.output


def test_emulators_up_prints_endpoints_and_down_stops_them(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "ECOM_", "SNOWFLAKE_"))}
    up = subprocess.Popen(
        [sys.executable, "-m", "ecom_cli", "emulators", "up", "--synthetic-carts", "20"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    state_file = tmp_path / ".ecom" / "emulators.json"
    try:
        deadline = time.monotonic() + 120
        while not state_file.is_file() and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state_file.is_file(), up.stdout.read() if up.poll() is not None else "no state file"
        exported = json.loads(state_file.read_text())["env"]
        carts = requests.get(f"{exported['ECOM_API_BASE_URL']}/carts?limit=1", timeout=5).json()
        assert carts["total"] == 20
        assert requests.get(exported["AWS_ENDPOINT_URL"], timeout=5).status_code == 200

        down = subprocess.run(
            [sys.executable, "-m", "ecom_cli", "emulators", "down"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert down.returncode == 0, down.stdout + down.stderr
        assert up.wait(timeout=30) is not None
        output = up.stdout.read()
        assert f"export AWS_ENDPOINT_URL={exported['AWS_ENDPOINT_URL']}" in output
        assert not state_file.exists()
    finally:
        if up.poll() is None:
            up.kill()


def test_reprocess_parameters_the_flow_refuses_fail_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOM_PROFILE", "local")  # `--profile` sets it for the process: restored after the test
    arguments = ["reprocess", "--profile", "aws", "--from", "2026-06-16", "--to", "2026-06-17", "--cost-ratio", "1.5"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    message = " ".join(result.output.split())  # the console wraps long lines
    assert "invalid reprocess parameters: cost_ratio: Input should be less than 1" in message


def with_bad_carts(dummyjson_dir: Path, folder: Path) -> Path:
    """A copy of the real snapshot whose first 3 carts (of 208) have a quantity of 0: quarantined at landing."""
    folder.mkdir()
    for resource in ("users", "products", "carts"):
        document = json.loads((dummyjson_dir / f"{resource}.json").read_text(encoding="utf-8"))
        for cart in document["carts"][:3] if resource == "carts" else []:
            cart["products"][0]["quantity"] = 0
        (folder / f"{resource}.json").write_text(json.dumps(document), encoding="utf-8")
    return folder


def test_a_failed_run_ends_with_its_one_line_and_no_noise(dummyjson_dir: Path, tmp_path: Path) -> None:
    """A data-quality failure on the run's own emulators and Prefect API: the run's lines, then `error: ...`.

    Prefect's temporary API stops only after the run's last lines reached it (no "Error logging to API").
    """
    source = with_bad_carts(dummyjson_dir, tmp_path / "source")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PREFECT_", "ECOM_", "AWS_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), ECOM_WORK_DIR=str(tmp_path / "work"))
    env["ECOM_DQ_QUARANTINE_SHARE_FAIL"] = "0.01"  # 3 of 208 carts quarantined: 1.44 %
    completed = subprocess.run(
        [sys.executable, "-m", "ecom_cli", "run", "--data-dir", str(source), "--run-date", "2026-06-17"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output[-4000:]
    assert "Prefect API: this run's temporary server" in output
    failure = "data-quality check failed: quarantine-share carts: 1.44% of 208 records quarantined (3)"
    assert completed.stdout.startswith(f"error: {failure}"), completed.stdout
    assert noise_lines(output) == [], output[-4000:]
