"""Flow test helpers: `run_flow` on fresh emulators, and the clean pair of runs every flow test module shares."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ecom_local.api.data import DirectorySource
from ecom_local.emulators.local import LocalRuntime
from ecom_pipeline.settings import load_settings
from ecom_pipeline.warehouse.connection import connect
from flows.faults import reset_faults
from flows.pipeline import PipelineParameters, ecom_pipeline

RUN_DATE = date(2026, 6, 17)


def orders_snapshot() -> list[dict[str, Any]]:
    """Every order in the warehouse with its money columns, in a stable order."""
    settings = load_settings()
    table = f"{settings.snowflake.database}.{settings.snowflake.schema_name}.orders"
    with connect(settings.snowflake) as warehouse:
        rows = warehouse.query_dicts(
            f"select order_id, order_date, quantity, unit_price, revenue, cost_price, profit from {table} "
            "order by order_id"
        )
    return [{key: str(value) for key, value in row.items()} for row in rows]


def run_flow(
    dummyjson_dir: Path, work: Path, monkeypatch: pytest.MonkeyPatch, runs: int = 1, **params: Any
) -> list[tuple[Any, Any, list[dict[str, Any]]]]:
    """Run the flow `runs` times on fresh emulators and buckets; return (state, summary or error, orders) per run."""
    # moto keeps objects per process: new bucket names give each call an empty lake.
    lake = uuid.uuid4().hex[:12]
    buckets = {"ECOM_RAW_BUCKET": f"raw-{lake}", "ECOM_CURATED_BUCKET": f"curated-{lake}"}
    for name, value in {**buckets, "ECOM_WORK_DIR": str(work)}.items():
        monkeypatch.setenv(name, value)
    results = []
    with LocalRuntime(buckets.values(), DirectorySource(dummyjson_dir)):
        for _ in range(runs):
            reset_faults()
            state = ecom_pipeline(
                PipelineParameters(run_date=RUN_DATE, page_size=50, report_dir=str(work / "report"), **params),
                return_state=True,
            )
            outcome = state.result(raise_on_failure=False)
            results.append((state, outcome, orders_snapshot() if state.is_completed() else []))
    return results
