"""README.md's shell blocks: the set-up and check commands are what CI runs; the others run as pasted."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from doc_blocks import REPO_ROOT, doc_block, run_block
from doc_shells import DocServer
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId, LogFilter, LogFilterFlowRunId
from prefect.client.schemas.sorting import FlowRunSort
from prefect_support import prefect_client

from oracle import expected_kpis, expected_orders

README = "README.md"
CI_SCRIPT = REPO_ROOT / ".ci" / "run"
SUMMARY = REPO_ROOT / "out" / "summary.json"  # where the real-data block writes, relative to the repository
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STAGE_LOGGERS = (
    "ecom_pipeline.locks",
    "ecom_pipeline.extract",
    "ecom_pipeline.land.landing",
    "ecom_pipeline.transform",
)


def commands(script: str) -> list[list[str]]:
    """The commands of a shell text, one argv per `&&`-joined part of each line, comments dropped."""
    found = []
    for line in script.splitlines():
        for part in line.split("&&"):
            argv = shlex.split(part, comments=True)
            if argv:
                found.append(argv)
    return found


def as_ci_runs_it(argv: list[str]) -> list[str]:
    """`argv` without what CI adds for itself: `python3 -m` before pip, `--quiet`, a pinned version (`uv==0.13.8`)."""
    if argv[:2] == ["python3", "-m"]:
        argv = argv[2:]
    return [word.split("==")[0] for word in argv if word != "--quiet"]


def ci_commands() -> list[list[str]]:
    return [as_ci_runs_it(argv) for argv in commands(CI_SCRIPT.read_text())]


def runs_in_ci(argv: list[str]) -> bool:
    """True if .ci/run runs `argv`, possibly with options of its own after it (e.g. a summary file)."""
    return any(ci[: len(argv)] == argv for ci in ci_commands())


def test_quick_start_block_is_what_ci_runs() -> None:
    readme = commands(doc_block(README, "readme-quick-start").text)
    assert readme == [
        ["pip", "install", "uv"],
        ["uv", "sync", "--compile-bytecode"],  # every process then reads compiled modules (docs/scaling.md)
        ["uv", "run", "ecom-pipeline", "run"],
        ["uv", "run", "pytest"],
    ]
    missing = [argv for argv in readme if not runs_in_ci(argv)]
    assert not missing, f".ci/run no longer runs the README's quick start: {missing}"


def test_development_block_is_what_ci_runs() -> None:
    block = commands(doc_block(README, "readme-development").text)
    # `uv run pytest <folder> -q` runs part of what `uv run pytest` runs in CI.
    areas = [argv for argv in block if argv[:3] == ["uv", "run", "pytest"] and len(argv) > 3]
    assert areas and all(
        (REPO_ROOT / argv[3]).is_dir() and list((REPO_ROOT / argv[3]).glob("test_*.py")) for argv in areas
    )
    missing = [argv for argv in block if argv not in areas and argv not in ci_commands()]
    assert not missing, f".ci/run does not run these README commands: {missing}"


def test_the_agreement_check_would_notice_a_command_ci_does_not_run() -> None:
    assert not runs_in_ci(["uv", "run", "ecom-pipeline", "serve-api"])
    assert not runs_in_ci(["pip", "install", "poetry"])


def test_sqlfluff_block_passes() -> None:
    run_block(doc_block(README, "readme-sqlfluff"), timeout=300)


def test_real_data_block_runs_and_its_flow_run_carries_the_stage_lines(
    doc_server: DocServer, dummyjson_dir: Path
) -> None:
    """The CLI run, reporting to the docs' Prefect server as it does for any user with PREFECT_API_URL set."""
    SUMMARY.unlink(missing_ok=True)
    completed = run_block(
        doc_block(README, "readme-real-data"), env={**doc_server.env, "PREFECT_API_URL": doc_server.api_url}
    )

    summary = json.loads(SUMMARY.read_text())
    expected = expected_kpis(expected_orders(dummyjson_dir))
    assert summary["run_date"] == "2026-06-17"
    assert summary["kpis"] == {
        "total_orders": 800,
        "total_revenue": f"{expected['total_revenue']:.2f}",
        "total_profit": f"{expected['total_profit']:.2f}",
        "profit_margin_pct": f"{expected['profit_margin_pct']:.2f}",
    }
    landed = {name: resource["records"] for name, resource in summary["resources"].items()}
    assert landed == {"users": 208, "products": 194, "carts": 208}
    assert summary["transform"]["partitions_written"] == ["2026-06-17"]
    assert summary["warehouse"]["rows_staged"] == 800
    charts = [Path(path) for path in summary["report_files"] if path.endswith(".png")]
    assert len(charts) == 2 and all(chart.read_bytes().startswith(PNG_MAGIC) for chart in charts)
    assert all(chart.parent == SUMMARY.parent for chart in charts)
    for headline in ("Ingest 2026-06-17", "Total Revenue", f"{expected['total_revenue']:,.2f}", "completed run"):
        assert headline in completed.stdout

    with prefect_client(doc_server.api_url) as client:
        [cli_run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(is_null_=True)),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[cli_run.id])), limit=200)
    names = {log.name for log in logs}
    missing = [stage for stage in STAGE_LOGGERS if not any(n == stage or n.startswith(f"{stage}.") for n in names)]
    assert not missing, f"the CLI run stored no line from {missing}; loggers seen: {sorted(names)}"
    assert any(re.match(r"extracted carts: 208 items", log.message) for log in logs)
