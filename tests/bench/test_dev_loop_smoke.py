"""The dev-loop stage as CI runs it, so it never rots: a cold run of the README's default command, `emulators up` and a
warm run, the Spark job alone, each run's phases from its own spans, the ratio and every target line, in the printed
table and in the JSON. Whether the ratio passes depends on the machine's load (docs/scaling.md); what the runs
computed does not, so those targets must pass."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import doc_block

import bench.__main__ as bench_cli
from bench.dev_loop import FLOW_PHASES, cli_command

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = ["uv", "run", "python", "-m", "bench"]


@pytest.mark.timeout(600)
def test_the_dev_loop_stage_times_every_phase_and_prints_the_ratio(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--stages", "dev-loop", "--dev-loop-quick"]
    finished = subprocess.run(
        [*command, "--out", str(tmp_path / "bench.json"), "--work-dir", str(tmp_path / "work")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=590,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]

    dev = json.loads((tmp_path / "bench.json").read_text())["dev_loop"]
    cold, warm = dev["runs"]["cold"], dev["runs"]["warm"]
    assert set(dev["runs"]) == {"cold", "warm"}
    for run in (cold, warm):
        phases = run["phases"]
        assert all(seconds >= 0 for seconds in phases.values()), phases  # every span lies inside the run
        assert all(phases[name] > 0 for name in ("startup", "cli_start", "emulators", "imports", *FLOW_PHASES))
        parts = ("startup", *FLOW_PHASES, "bookkeeping", "shutdown")
        assert sum(phases[name] for name in parts) == pytest.approx(run["wall_seconds"], abs=0.1)
        assert phases["transform"] > phases["fetch_and_land"]  # the job ran: it is the largest stage here
    assert cold["phases"]["prefect_api"] > 0  # the cold run started Prefect's API beside the emulators
    assert "prefect_api" not in warm["phases"]  # the warm one used the API `emulators up` keeps
    assert dev["ratio"] == round(warm["wall_seconds"] / dev["spark"]["wall_seconds"], 2)
    assert dev["spark_ran_in_every_run"] is True and dev["results_equal"] is True
    assert cold["results"]["kpis"]["total_orders"] > 0
    # The README's install compiles the installed packages (`uv sync --compile-bytecode`, also .ci/run's), so no run
    # compiles Prefect's modules at every start; the stage keeps this machine's PYTHONDONTWRITEBYTECODE by default.
    assert dev["installed_bytecode"] is True, "set up as the README says: uv sync --compile-bytecode"
    assert dev["pycache"] is not bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))  # as the environment has it

    printed = finished.stdout
    assert re.search(rf"warm / Spark job alone\s+{dev['ratio']:.2f}", printed)
    assert "Python bytecode: installed packages compiled at install; the rest " in printed
    for phase_label in ("start-up, until the flow begins", "Spark job, in the run", "shutdown (services, summary"):
        assert phase_label in printed
    verdict = "PASS" if dev["ratio"] <= dev["target_ratio"] else "FAIL"
    assert f"{verdict}  dev loop: warm run / Spark job process alone: {dev['ratio']} x / <= 1.6 x" in printed
    assert "PASS  dev loop: the Spark job ran in every run" in printed
    assert "PASS  dev loop: every run's KPIs and totals equal" in printed


def shell_lines(path: str, test_id: str) -> list[list[str]]:
    """The commands of a doc block, one argv per line, comments dropped."""
    lines = [shlex.split(line, comments=True) for line in doc_block(path, test_id).text.splitlines()]
    return [argv for argv in lines if argv]


class Parsed(Exception):
    """Raised instead of running the stage: the command line was accepted."""


def test_the_docs_dev_loop_commands_parse_and_the_ci_line_is_this_test(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = shell_lines("docs/scaling.md", "bench-dev-loop")
    assert all(argv[:5] == BENCH for argv in lines), lines

    def stage(work: Path, data_dir: Path | None, quick: bool, pycache: bool) -> None:
        raise Parsed(data_dir, quick, pycache)

    monkeypatch.setattr(bench_cli, "bench_dev_loop", stage)
    seen = []
    for argv in lines:
        with pytest.raises(Parsed) as parsed:
            bench_cli.main(argv[5:])
        seen.append(parsed.value.args)
    assert (None, False, False) in seen and (None, True, False) in seen  # the full stage and the CI's quick one
    assert any(data_dir is not None and data_dir.name == "2026-06" for data_dir, _, _ in seen)  # the real snapshot
    assert (None, False, True) in seen  # the same with Python's own bytecode cache, as on most developers' machines
    assert ["--stages", "dev-loop", "--dev-loop-quick"] in [argv[5:] for argv in lines]


def test_the_readme_dev_loop_is_what_the_stage_runs() -> None:
    commands = shell_lines("README.md", "readme-dev-loop")
    assert commands == [["uv", "run", "ecom-pipeline", "emulators", "up"], ["uv", "run", "ecom-pipeline", "run"]]
    staged = [cli_command("emulators", "up"), cli_command("run")]  # what the stage runs, `uv` found on PATH
    assert [[Path(argv[0]).name, *argv[1:]] for argv in staged] == commands
