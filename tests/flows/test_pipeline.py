"""The whole flow under a Prefect test harness, on the local emulators with the real DummyJSON data."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from flow_support import RUN_DATE, run_flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId

from ecom_pipeline.summary import stages_lines
from flows.reporting import reconciliation_rows
from oracle import expected_kpis, expected_orders


async def _task_runs_and_artifacts(flow_run_id: Any) -> tuple[str, dict[str, int], dict[str, Any]]:
    async with get_client() as client:
        flow_run = await client.read_flow_run(flow_run_id)
        task_runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    attempts = {task_run.name: task_run.run_count for task_run in task_runs}
    return flow_run.name, attempts, {artifact.key: artifact for artifact in artifacts}


def test_flow_lands_transforms_loads_and_reports_exact_kpis(clean_runs, dummyjson_dir) -> None:
    state, summary, orders = clean_runs[0]
    assert state.is_completed()
    assert {name: landed.records for name, landed in summary.resources.items()} == {
        "users": 208,
        "products": 194,
        "carts": 208,
    }
    expected = expected_kpis(expected_orders(dummyjson_dir))
    assert summary.transform.rows_written == 800 and summary.transform.reused is False
    assert summary.kpis == {
        "total_orders": expected["total_orders"],
        "total_revenue": f"{expected['total_revenue']:.2f}",
        "total_profit": f"{expected['total_profit']:.2f}",
        "profit_margin_pct": f"{expected['profit_margin_pct']:.2f}",
    }
    assert summary.transform.revenue_written == expected["total_revenue"]
    assert len(orders) == 800
    assert sum(Decimal(order["revenue"]) for order in orders) == expected["total_revenue"]


def test_flow_run_is_named_after_the_date_and_carries_the_artifacts(clean_runs) -> None:
    state, summary, _ = clean_runs[0]
    name, attempts, artifacts = asyncio.run(_task_runs_and_artifacts(state.state_details.flow_run_id))
    assert name == f"ecom-{RUN_DATE.isoformat()}"
    assert set(attempts.values()) == {1}  # nothing retried in a clean run
    assert {"ecom-kpis", "ecom-reconciliation", "ecom-quarantine", "ecom-views"} <= set(artifacts)

    def table(key: str) -> list[dict[str, str]]:
        data = artifacts[key].data
        return json.loads(data) if isinstance(data, str) else data

    kpis = {row["kpi"]: row["value"] for row in table("ecom-kpis")}
    assert kpis == {
        "Total Orders": str(summary.kpis["total_orders"]),
        "Total Revenue": summary.kpis["total_revenue"],
        "Total Profit": summary.kpis["total_profit"],
        "Profit Margin %": summary.kpis["profit_margin_pct"],
    }
    curated = next(row for row in table("ecom-reconciliation") if row["stage"].startswith("curated"))
    assert curated == {"stage": "curated: orders written", "rows": "800", "revenue": summary.kpis["total_revenue"]}


def test_rerun_with_unchanged_source_skips_the_transform_and_the_load(clean_runs) -> None:
    (_, first, orders_first), (state, second, orders_second) = clean_runs
    assert state.is_completed()
    assert second.transform.reused is True
    assert second.transform.run_id == first.run_id
    assert second.warehouse.skipped is True and first.warehouse.skipped is False
    skipped = second.warehouse
    assert [skipped.files, skipped.rows_inserted, skipped.rows_updated, skipped.rows_deleted] == [0] * 4
    assert orders_second == orders_first
    assert second.kpis == first.kpis
    # The reconciliation artifact and the console summary read the skipped result like a full load's.
    assert reconciliation_rows(second) == reconciliation_rows(first)
    assert second.model_dump(mode="json")["warehouse"]["rows_staged"] == 800 and len(stages_lines(second)) == 2


def test_one_transient_failure_in_every_stage_is_retried_to_the_same_warehouse(
    clean_runs, dummyjson_dir, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("ECOM_INJECT_FAULTS", "fetch-and-land=1,transform=1,snowflake-load=1,report=1")
    [(state, summary, orders)] = run_flow(dummyjson_dir, tmp_path, monkeypatch)
    assert state.is_completed(), state.message
    assert summary.transform.reused is False  # a fresh lake: the job really ran again

    _, attempts, _ = asyncio.run(_task_runs_and_artifacts(state.state_details.flow_run_id))

    def attempts_of(stage: str) -> list[int]:
        return sorted(count for name, count in attempts.items() if name.startswith(stage))

    assert attempts_of("fetch-and-land") == [1, 1, 2]  # the first resource's first attempt failed
    assert attempts_of("transform") == attempts_of("snowflake-load") == attempts_of("report") == [2]
    assert orders == clean_runs[0][2]
    assert summary.kpis == clean_runs[0][1].kpis


def test_a_permanent_failure_names_its_stage_and_is_not_retried(clean_runs, dummyjson_dir, tmp_path, monkeypatch):
    # Without carts in the raw zone the Spark job stops on its configuration check (exit 2): retrying cannot help.
    [(state, error, _)] = run_flow(dummyjson_dir, tmp_path, monkeypatch, resources=["users", "products"])
    assert state.is_failed()
    assert "stage transform failed" in str(error) and "carts" in str(error)
    _, attempts, _ = asyncio.run(_task_runs_and_artifacts(state.state_details.flow_run_id))
    assert [count for name, count in attempts.items() if name.startswith("transform")] == [1]
