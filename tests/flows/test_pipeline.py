"""The whole flow under a Prefect test harness, on the local emulators with the real DummyJSON data."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from ecom_pipeline.runtime.local import LocalRuntime
from ecom_pipeline.source.data import DirectorySource
from flows.pipeline import PipelineParameters, ecom_pipeline
from oracle import expected_kpis, expected_orders

RUN_DATE = date(2026, 6, 17)


@pytest.fixture(scope="module")
def flow_result(prefect_harness, dummyjson_dir, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("ECOM_RAW_BUCKET", "flow-raw")
    monkeypatch_module.setenv("ECOM_CURATED_BUCKET", "flow-curated")
    monkeypatch_module.setenv("ECOM_WORK_DIR", str(tmp_path_factory.mktemp("work")))
    report_dir = tmp_path_factory.mktemp("report")
    with LocalRuntime(["flow-raw", "flow-curated"], DirectorySource(dummyjson_dir)):
        state = ecom_pipeline(
            PipelineParameters(run_date=RUN_DATE, page_size=50, report_dir=str(report_dir)), return_state=True
        )
        summary = state.result()
    return state, summary


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_flow_lands_transforms_loads_and_reports_exact_kpis(flow_result, dummyjson_dir) -> None:
    state, summary = flow_result
    assert state.is_completed()
    assert {name: landed["records"] for name, landed in summary["resources"].items()} == {
        "users": 208,
        "products": 194,
        "carts": 208,
    }
    expected = expected_kpis(expected_orders(dummyjson_dir))
    assert summary["transform"]["rows_written"] == 800
    assert summary["kpis"] == {
        "total_orders": expected["total_orders"],
        "total_revenue": f"{expected['total_revenue']:.2f}",
        "total_profit": f"{expected['total_profit']:.2f}",
        "profit_margin_pct": f"{expected['profit_margin_pct']:.2f}",
    }
    assert Decimal(summary["transform"]["revenue_written"]) == expected["total_revenue"]


def test_flow_run_is_named_after_the_date_and_carries_the_artifacts(flow_result) -> None:
    state, summary = flow_result

    async def read() -> tuple[str, dict[str, str]]:
        async with get_client() as client:
            flow_run = await client.read_flow_run(state.state_details.flow_run_id)
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id]))
            )
            return flow_run.name, {artifact.key: artifact for artifact in artifacts}

    name, artifacts = asyncio.run(read())
    assert name == f"ecom-{RUN_DATE.isoformat()}"
    assert {"ecom-kpis", "ecom-reconciliation", "ecom-quarantine"} <= set(artifacts)
    kpi_rows = {row["kpi"]: row["value"] for row in artifacts["ecom-kpis"].data}
    assert kpi_rows["Total Orders"] == str(summary["kpis"]["total_orders"])
    assert kpi_rows["Total Revenue"] == summary["kpis"]["total_revenue"]
