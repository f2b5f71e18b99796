"""The benchmark harness at its smallest size, as CI runs it so it never rots: one command, every stage, every
target line, and a JSON file that says the same as the printed table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES = {"fetch", "ingest", "ingest-rerun", "transform", "transform-duckdb", "flow", "flow-rerun"}
TARGETS = (
    "Spark job process / DuckDB process",
    "Spark and DuckDB results equal",
    "fetch speed-up, concurrency 8 vs 1",
    "peak request rate at the API",
    "ingestion peak RSS",
    "ingestion RSS at 40k / at 10k",
    "whole flow at 10k",
    "unchanged re-run / first run",
)


@pytest.mark.timeout(240)
def test_bench_at_10k_measures_every_stage_and_prints_every_target(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "bench", "--sizes", "10k", "--repeat", "1", "--fetch-pages", "40"]
    finished = subprocess.run(
        [*command, "--out", str(out), "--work-dir", str(tmp_path / "work")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]

    results = json.loads(out.read_text())
    stages = results["sizes"]["10k"]["stages"]
    assert set(stages) == STAGES
    for name, row in stages.items():
        assert not row.get("failed"), f"{name}: {row.get('failed')}"
        assert row["rows"] > 0 and row["seconds"] > 0 and row["peak_rss_mb"] > 0, name
        assert row["rows_per_second"] == pytest.approx(row["rows"] / row["seconds"], rel=0.01), name
    assert stages["transform"]["rows"] == stages["transform-duckdb"]["rows"] == results["sizes"]["10k"]["cart_lines"]
    assert stages["transform"]["results_match_duckdb"] is True
    assert stages["flow-rerun"]["transform_reused"] is True
    assert stages["flow-rerun"]["load_skipped"] is True
    assert stages["ingest-rerun"]["rows"] == stages["ingest"]["rows"]
    assert stages["ingest-rerun"]["reused_parts"] >= 3  # every part of users, products and carts
    fetch = results["fetch_concurrency"]
    assert fetch["fetch-c8"]["rows"] == fetch["fetch-c1"]["rows"] == 40 * 100
    assert fetch["fetch-c1"]["requests"] == fetch["pages"] == 40
    assert results["ingest_memory"]["cart_lines"] == 40_000
    assert len(results["load_average_before"]) == 3 and results["machine"]["cores"] >= 1

    names = [target["name"] for target in results["targets"]]
    assert len(names) == len(TARGETS)
    for expected, target in zip(TARGETS, results["targets"], strict=True):
        assert target["name"].startswith(expected)
        assert isinstance(target["measured"], float | int) and isinstance(target["pass"], bool)
        verdict = "PASS" if target["pass"] else "FAIL"
        assert f"{verdict}  {target['name']}: {target['measured']} " in finished.stdout
