"""The fast dev loop changes nothing in what a run computes.

`ecom-pipeline emulators up` keeps the emulators and Prefect's API running and sets the warehouse up; `ecom-pipeline
run`, a process of its own each time, uses them and finds the set-up in place. Both runs end with the warehouse and
the KPIs of the clean in-process runs (`clean_runs`, tests/flows/conftest.py) on the same real snapshot and date: one
extra pair of CLI runs, because what is under test is the CLI's way of starting, finding and reusing services. What
they print is the stage lines and the summary, without the noise of tests/terminal_noise.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flow_support import RUN_DATE, orders_snapshot
from terminal_noise import noise_lines

from ecom_local.emulators.running import STATE_FILE

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGURED = ("ECOM_", "AWS_", "SNOWFLAKE_", "PREFECT_")


@pytest.fixture(scope="module")
def kept_services(dummyjson_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`emulators up --data-dir <snapshot>` in the background, from a shell with nothing configured."""
    root = tmp_path_factory.mktemp("dev-loop")
    env = {name: value for name, value in os.environ.items() if not name.startswith(CONFIGURED)}
    env.update(ECOM_WORK_DIR=str(root / "work"), PREFECT_HOME=str(root / "prefect"))
    env["MPLCONFIGDIR"] = str(root / "matplotlib")  # the first run's charts build the font cache, as on a new machine
    log = root / "emulators.log"
    with log.open("w") as output:
        up = subprocess.Popen(
            [sys.executable, "-m", "ecom_cli", "emulators", "up", "--data-dir", str(dummyjson_dir)],
            env=env, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    state = root / "work" / STATE_FILE
    try:
        deadline = time.monotonic() + 180
        while not state.is_file():
            assert up.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield {"env": env, "root": root, "state": json.loads(state.read_text())}
    finally:
        subprocess.run([sys.executable, "-m", "ecom_cli", "emulators", "down"], env=env, cwd=REPO_ROOT, timeout=60)
        up.wait(timeout=60)


def cli_run(services: dict[str, Any], dummyjson_dir: Path, name: str) -> tuple[dict[str, Any], str]:
    """`ecom-pipeline run` on the snapshot as its own process; its JSON summary and its output."""
    summary = services["root"] / f"{name}.json"
    command = [sys.executable, "-m", "ecom_cli", "run", "--data-dir", str(dummyjson_dir)]
    command += ["--run-date", RUN_DATE.isoformat(), "--page-size", "50", "--summary-json", str(summary)]
    completed = subprocess.run(command, env=services["env"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    return json.loads(summary.read_text()), output


def test_runs_on_kept_services_compute_what_clean_runs_compute(
    kept_services: dict[str, Any], dummyjson_dir: Path, clean_runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, first_output = cli_run(kept_services, dummyjson_dir, "first")
    second, second_output = cli_run(kept_services, dummyjson_dir, "second")
    day = RUN_DATE.isoformat()  # `reprocess` of the same date, same parameters: on the same kept services
    reprocess = [sys.executable, "-m", "ecom_cli", "reprocess", "--from", day, "--to", day]
    completed = subprocess.run(reprocess, env=kept_services["env"], cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=600)  # fmt: skip
    reprocess_output = completed.stdout + completed.stderr
    assert completed.returncode == 0, reprocess_output[-4000:]
    for name, value in kept_services["state"]["env"].items():  # read the kept emulator's warehouse
        monkeypatch.setenv(name, value)
    orders = orders_snapshot()

    kept_api = kept_services["state"]["prefect_api_url"]
    for output in (first_output, reprocess_output):
        assert kept_api and f"Prefect API: the one `emulators up` keeps, on {kept_api}" in output
    assert "Starting temporary server" not in first_output + second_output + reprocess_output  # Prefect started none
    for output in (first_output, second_output, reprocess_output):  # the stage lines and the summary, nothing else
        assert noise_lines(output) == [], output[-4000:]
    assert first["transform"]["reused"] is False and second["transform"]["reused"] is True
    # `emulators up` set the warehouse up: neither run does it again
    assert "set-up in place" in first_output and "set-up in place" in second_output
    assert second["warehouse"]["skipped"] is True
    (_, clean_summary, clean_orders), _ = clean_runs
    assert orders == clean_orders and len(orders) == 800  # the reprocess at the same parameters changed nothing
    assert first["kpis"] == second["kpis"] == clean_summary.kpis
    for summary in (first, second):  # where the time went, as the run measured it; no Prefect API of its own
        assert set(summary["timings"]) >= {"cli_start", "emulators", "imports", "flow", "transform", "warehouse"}
        assert "prefect_api" not in summary["timings"]
