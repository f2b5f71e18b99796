"""The `ecom-reprocess` flow on the real snapshot: one pipeline run fills the lake, then reprocesses of its date.

`clean_runs`' emulators are gone once that fixture returns (its warehouse lived in their fakesnow process), so this
module fills a lake of its own with one pipeline run (2026-06-17), then, on the same emulators:

1. cost ratio 0.5: every order's profit is the oracle's Decimal computation at 0.5;
2. cost ratio 0.6 again: every order and the KPIs are the original run's, to the cent;
3. 0.6 once more, over 2026-06-16..17: 06-16 has no raw data and is reported; 06-17 is reused, nothing is written;
4. after a pipeline run lands 2026-06-16 (the same carts, no cart dates: partition 06-16 only), 0.55 over
   2026-06-16..17 with concurrency 2: the two jobs run side by side, the loads in date order;
5. that reprocess again: each date keeps its own reuse marker, so both are reused and nothing is written.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flow_support import RUN_DATE
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId

from ecom_local.api.data import DirectorySource
from ecom_local.emulators.local import LocalRuntime
from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.reprocess import ReprocessSummary
from ecom_pipeline.settings import load_settings
from ecom_pipeline.warehouse.connection import connect
from flows.faults import reset_faults
from flows.pipeline import PipelineParameters, ecom_pipeline
from flows.reprocess import ReprocessParameters, ecom_reprocess
from oracle import expected_kpis, expected_orders

MONEY = ("unit_price", "revenue", "cost_price", "profit")
DAY_BEFORE = RUN_DATE - timedelta(days=1)


def warehouse_tables() -> dict[str, list[dict[str, str]]]:
    """Every row and column of `orders` and `load_audit`, as text, in a stable order."""
    settings = load_settings()
    schema = f"{settings.snowflake.database}.{settings.snowflake.schema_name}"
    with connect(settings.snowflake) as warehouse:
        return {
            table: [
                {key: str(value) for key, value in row.items()}
                for row in warehouse.query_dicts(f"select * from {schema}.{table} order by {order}")
            ]
            for table, order in (("orders", "order_id"), ("load_audit", "finished_at, run_id"))
        }


def curated_objects() -> dict[str, str]:
    """Every object of the curated bucket with its ETag: a rewritten file gets a new one."""
    settings = load_settings()
    s3 = make_s3_client(settings.storage)
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.storage.curated_bucket):
        objects.update({item["Key"]: item["ETag"] for item in page.get("Contents", [])})
    return objects


def summary_json(state: Any) -> Any:
    """The reprocess's summary as `--summary-json` writes it (the error, when the run failed)."""
    summary = state.result(raise_on_failure=False)
    return summary.model_dump(mode="json") if isinstance(summary, ReprocessSummary) else summary


def progress_of(state: Any) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )


def task_runs_of(state: Any) -> dict[str, Any]:
    """The flow run's task runs by name (`transform-2026-06-16`, ...)."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    return {run.name: run for run in runs}


@pytest.fixture(scope="module")
def runs(prefect_harness: None, dummyjson_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The pipeline run, then the reprocesses; each with its summary and what the warehouse held after."""
    work = tmp_path_factory.mktemp("reprocess")
    lake = uuid.uuid4().hex[:12]
    buckets = {"ECOM_RAW_BUCKET": f"raw-{lake}", "ECOM_CURATED_BUCKET": f"curated-{lake}"}
    results: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in {**buckets, "ECOM_WORK_DIR": str(work), "ECOM_PROFILE": "local"}.items():
            monkeypatch.setenv(name, value)
        with LocalRuntime(buckets.values(), DirectorySource(dummyjson_dir)):
            reset_faults()
            original = ecom_pipeline(PipelineParameters(run_date=RUN_DATE, page_size=50, report_dir=str(work / "run")))
            results["original"] = {"summary": original.model_dump(mode="json"), "tables": warehouse_tables()}
            for name, ratio, first in (
                ("half", "0.5", RUN_DATE),
                ("restored", "0.6", RUN_DATE),
                ("again", "0.6", DAY_BEFORE),
            ):
                params = ReprocessParameters(
                    from_date=first, to_date=RUN_DATE, cost_ratio=Decimal(ratio), report_dir=str(work / name)
                )
                state = ecom_reprocess(params, return_state=True)
                results[name] = {
                    "state": state,
                    "summary": summary_json(state),
                    "tables": warehouse_tables(),
                    "curated": curated_objects(),
                    "artifacts": progress_of(state),
                }
            ecom_pipeline(PipelineParameters(run_date=DAY_BEFORE, page_size=50, report_dir=str(work / "run-16")))
            params = ReprocessParameters(
                from_date=DAY_BEFORE, to_date=RUN_DATE, cost_ratio=Decimal("0.55"), concurrency=2,
                report_dir=str(work / "two"),
            )  # fmt: skip
            for name in ("two", "two_again"):
                state = ecom_reprocess(params, return_state=True)
                results[name] = {
                    "state": state,
                    "summary": summary_json(state),
                    "tables": warehouse_tables(),
                    "curated": curated_objects(),
                    "task_runs": task_runs_of(state),
                }
    return results


def by_order(tables: dict[str, list[dict[str, str]]]) -> dict[str, dict[str, str]]:
    return {row["order_id"]: row for row in tables["orders"]}


def the_date(run: dict[str, Any]) -> dict[str, Any]:
    [outcome] = [entry for entry in run["summary"]["dates"] if entry["ingest_date"] == RUN_DATE.isoformat()]
    return outcome


def test_cost_ratio_half_gives_the_oracles_profit_for_every_order_and_in_total(runs, dummyjson_dir) -> None:
    half = runs["half"]
    assert half["state"].is_completed(), half["summary"]
    expected = expected_orders(dummyjson_dir, cost_ratio=Decimal("0.5"))
    held = by_order(half["tables"])
    assert set(held) == set(expected) and len(held) == 800
    wrong = {
        order_id: (row["profit"], str(expected[order_id]["profit"]))
        for order_id, row in held.items()
        if Decimal(row["profit"]) != expected[order_id]["profit"]
        or Decimal(row["revenue"]) != expected[order_id]["revenue"]
    }
    assert wrong == {}
    kpis = expected_kpis(expected)
    assert half["summary"]["kpis"]["total_profit"] == f"{kpis['total_profit']:.2f}"
    assert half["summary"]["kpis"]["total_revenue"] == f"{kpis['total_revenue']:.2f}"

    outcome = the_date(half)
    original_profit = expected_kpis(expected_orders(dummyjson_dir))["total_profit"]
    assert outcome["status"] == "reprocessed"
    assert outcome["locked"] == ["2026-06-17"]  # the pipeline run recorded its partitions: no global lock
    assert outcome["before"]["profit"] == f"{original_profit:.2f}"
    assert outcome["after"] == {"orders": 800, "revenue": f"{kpis['total_revenue']:.2f}",
                                "profit": f"{kpis['total_profit']:.2f}"}  # fmt: skip
    assert outcome["change"] == {
        "orders": 0,
        "revenue": "0.00",
        "profit": f"{kpis['total_profit'] - original_profit:.2f}",
    }


def test_cost_ratio_back_to_0_6_restores_every_order_and_the_kpis_to_the_cent(runs) -> None:
    restored, original = runs["restored"], runs["original"]
    assert restored["state"].is_completed(), restored["summary"]
    before, after = by_order(original["tables"]), by_order(restored["tables"])
    assert set(after) == set(before)
    differing = [
        order_id
        for order_id, row in after.items()
        if any(row[column] != before[order_id][column] for column in ("quantity", "order_date", *MONEY))
    ]
    assert differing == []
    assert restored["summary"]["kpis"] == original["summary"]["kpis"]
    half_change = Decimal(the_date(runs["half"])["change"]["profit"])
    assert the_date(restored)["change"]["profit"] == f"{-half_change:.2f}"


def test_the_same_reprocess_again_writes_nothing_and_reports_the_date_without_raw_data(runs) -> None:
    again, restored = runs["again"], runs["restored"]
    assert again["state"].is_completed(), again["summary"]
    missing, outcome = again["summary"]["dates"]
    assert missing == {"ingest_date": "2026-06-16", "status": "no raw data", "missing": ["users", "products", "carts"]}
    assert outcome["status"] == "unchanged"
    assert outcome["transform"]["reused"] and outcome["warehouse"]["skipped"]
    assert outcome["transform"]["run_id"] == the_date(restored)["transform"]["run_id"]
    assert outcome["change"] == {"orders": 0, "revenue": "0.00", "profit": "0.00"}
    assert again["tables"] == restored["tables"]  # orders and load_audit, every column: byte-equal
    assert again["curated"] == restored["curated"]  # no curated file rewritten (same keys, same ETags)


def test_progress_and_the_dates_table_are_artifacts_of_the_run(runs) -> None:
    artifacts = {artifact.key: artifact for artifact in runs["again"]["artifacts"]}
    assert artifacts["ecom-reprocess-progress"].data == 100.0
    rows = json.loads(artifacts["ecom-reprocess"].data)
    assert [(row["ingest_date"], row["status"]) for row in rows] == [
        ("2026-06-16", "no raw data"),
        ("2026-06-17", "unchanged"),
    ]
    assert rows[1]["orders"] == "800" and rows[1]["profit_change"] == "0.00"


def test_dates_on_disjoint_partitions_transform_side_by_side_and_load_in_date_order(runs, dummyjson_dir) -> None:
    two = runs["two"]
    assert two["state"].is_completed(), two["summary"]
    first, second = two["summary"]["dates"]
    assert (first["status"], first["locked"]) == ("reprocessed", ["2026-06-16"])
    assert (second["status"], second["locked"]) == ("reprocessed", ["2026-06-17"])
    assert two["summary"]["concurrency"] == 2

    tasks = two["task_runs"]
    jobs = [tasks[f"transform-{day}"] for day in ("2026-06-16", "2026-06-17")]
    assert all(job.state.is_completed() for job in jobs)
    # Each job started before the other ended: they ran at the same time.
    assert jobs[0].start_time < jobs[1].end_time and jobs[1].start_time < jobs[0].end_time
    loads = [tasks[f"snowflake-load-{day}"] for day in ("2026-06-16", "2026-06-17")]
    assert loads[0].end_time <= loads[1].start_time

    # Both dates hold the same carts: the load applied last (06-17's, in date order) decides where each order lands.
    expected = expected_orders(dummyjson_dir, cost_ratio=Decimal("0.55"))
    held = by_order(two["tables"])
    assert set(held) == set(expected)
    assert {row["order_date"] for row in held.values()} == {"2026-06-17"}
    assert all(Decimal(row["profit"]) == expected[order_id]["profit"] for order_id, row in held.items())
    assert second["before"]["orders"] == 0 and second["after"]["orders"] == 800  # 06-16's load had them
    assert first["after"] == {"orders": 800, "revenue": second["after"]["revenue"], "profit": second["after"]["profit"]}


def test_the_two_dates_again_reuse_both_jobs_and_leave_the_orders_byte_equal(runs) -> None:
    again, two = runs["two_again"], runs["two"]
    assert again["state"].is_completed(), again["summary"]
    outcomes = again["summary"]["dates"]
    assert [outcome["ingest_date"] for outcome in outcomes] == ["2026-06-16", "2026-06-17"]
    for outcome, earlier in zip(outcomes, two["summary"]["dates"], strict=True):
        assert outcome["transform"]["reused"] is True  # each date kept its own marker
        assert outcome["transform"]["run_id"] == earlier["transform"]["run_id"]  # the job of the run before
    assert again["curated"] == two["curated"]  # no Spark job: no curated file or job summary written
    assert again["tables"]["orders"] == two["tables"]["orders"]  # every row and column: byte-equal
    # Both dates hold the same order ids: 06-17's load took them from partition 06-16, so 06-16's load cannot be
    # skipped, and moves them back for 06-17's (docs/operations.md, "Limits"). Earlier audit rows stay as they were.
    audit_before = two["tables"]["load_audit"]
    assert again["tables"]["load_audit"][: len(audit_before)] == audit_before
