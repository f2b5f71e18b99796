"""docs/operations.md's local route, as pasted: `emulators up` in the background, then `run` and `reprocess` as two
separate processes on those emulators (the lake lasts from one command to the next), then `emulators down`.

The CLI runs report to the docs' Prefect server (no temporary server per command).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from doc_blocks import REPO_ROOT, doc_block, run_block
from doc_shells import DocServer, start_block, wait_for
from prefect_support import stop_group

DOC = "docs/operations.md"
OUT = REPO_ROOT / "out" / "ops"  # where the blocks write their summaries, relative to the repository


@dataclass
class Route:
    """The environment every shell of the route shares, and the emulators' process and log."""

    env: dict[str, str]
    work_dir: Path
    emulators: subprocess.Popen
    log: Path


@pytest.fixture(scope="module")
def route(doc_server: DocServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Route]:
    """Shell 1: `emulators up`, in a work dir of this module's own (its state file is how later commands find it)."""
    root = tmp_path_factory.mktemp("ops-route")
    env = {**doc_server.env, "PREFECT_API_URL": doc_server.api_url, "ECOM_WORK_DIR": str(root / "work"),
           "ECOM_PROFILE": "local"}  # fmt: skip
    log = root / "emulators.log"
    process = start_block(doc_block(DOC, "ops-emulators"), env, log)
    state = root / "work" / "emulators.json"
    wait_for("emulators up", lambda: "export ECOM_API_BASE_URL=" in log.read_text() and state.is_file(), process, log)
    try:
        yield Route(env=env, work_dir=root / "work", emulators=process, log=log)
    finally:
        stop_group(process)


@pytest.fixture(scope="module")
def outputs(route: Route) -> dict[str, Any]:
    """Shell 2: the run, then the reprocess, each a process of its own; their output and JSON summaries."""
    for summary in ("run.json", "reprocess.json"):
        (OUT / summary).unlink(missing_ok=True)
    ran = run_block(doc_block(DOC, "ops-run"), env=route.env)
    reprocessed = run_block(doc_block(DOC, "ops-reprocess"), env=route.env)
    return {
        "run": ran,
        "reprocess": reprocessed,
        "run_summary": json.loads((OUT / "run.json").read_text()),
        "summary": json.loads((OUT / "reprocess.json").read_text()),
    }


def test_run_and_reprocess_work_on_the_running_emulators_whose_lake_lasts(outputs) -> None:
    run, summary = outputs["run_summary"], outputs["summary"]
    assert "using the running emulators" in outputs["run"].stderr + outputs["run"].stdout
    missing, reprocessed = summary["dates"]
    assert missing == {"ingest_date": "2026-06-16", "status": "no raw data", "missing": ["users", "products", "carts"]}
    # 2026-06-17 was landed by the `run` process: the reprocess, another process, found it and what it loaded.
    assert reprocessed["status"] == "reprocessed"
    assert reprocessed["partitions"] == run["transform"]["partitions_written"]
    kpis = run["kpis"]
    assert reprocessed["before"] == {
        "orders": kpis["total_orders"],
        "revenue": kpis["total_revenue"],
        "profit": kpis["total_profit"],
    }
    after, change = reprocessed["after"], reprocessed["change"]
    assert after["revenue"] == kpis["total_revenue"] and change["orders"] == 0 and change["revenue"] == "0.00"
    assert Decimal(after["profit"]) > Decimal(kpis["total_profit"])  # a lower cost ratio: more profit
    assert Decimal(change["profit"]) == Decimal(after["profit"]) - Decimal(kpis["total_profit"])
    assert summary["kpis"]["total_profit"] == after["profit"] and summary["cost_ratio"] == "0.5"


def test_the_progress_line_and_the_table_are_as_the_doc_shows(outputs) -> None:
    printed = outputs["reprocess"].stdout + outputs["reprocess"].stderr
    quoted = re.search(r"\(`(2026-06-17: reprocessed .*?)`\)", (REPO_ROOT / DOC).read_text(), re.DOTALL)
    assert quoted is not None
    assert " ".join(quoted.group(1).split()) in printed  # the figures the doc quotes are the run's
    assert re.search(r"2026-06-16\s+│\s+no raw data", printed)
    assert "completed reprocess 2026-06-16..2026-06-17 (profile local, cost ratio 0.5" in printed


def test_run_asking_for_other_data_than_the_running_emulators_serve_is_refused(route: Route, dummyjson_dir) -> None:
    completed = subprocess.run(
        ["uv", "run", "ecom-pipeline", "run", "--data-dir", str(dummyjson_dir), "--run-date", "2026-06-17"],
        cwd=REPO_ROOT,
        env=route.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 1
    message = " ".join(completed.stdout.split())
    assert "serve 40 synthetic carts (seed 42), not the DummyJSON files in" in message
    assert "emulators down" in message


def test_emulators_down_block_stops_them(route: Route, outputs) -> None:
    run_block(doc_block(DOC, "ops-emulators-down"), env=route.env)
    assert route.emulators.wait(timeout=30) is not None
    assert not (route.work_dir / "emulators.json").exists()
