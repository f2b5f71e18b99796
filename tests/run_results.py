"""Stage results and a run summary as the flow builds them, for tests that need one without running the stages.

Each builder takes the fields to change; values are validated as the stage's own would be ("10.00" -> Decimal).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ecom_pipeline.land.landing import LandingResult
from ecom_pipeline.summary import RunSummary
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.warehouse.loader import LoadResult

RUN_ID = "20260617T101500Z-ab12cd"


def landing_result(resource: str = "carts", **changes: Any) -> LandingResult:
    """One resource landed whole, nothing quarantined, no drift."""
    folder = f"dummyjson/{resource}/ingest_date=2026-06-17"
    return LandingResult.model_validate(
        {
            "resource": resource,
            "ingest_date": date(2026, 6, 17),
            "run_id": RUN_ID,
            "records": 208,
            "quarantined": 0,
            "quarantine_reasons": {},
            "bytes": 20_480,
            "parts": [f"{folder}/run_id={RUN_ID}/part-00000.ndjson.gz"],
            "manifest_key": f"{folder}/_manifest.json",
            "content_sha256": "0" * 64,
            "seconds": 0.42,
            "quarantine_parts": [],
            "reused_parts": 0,
            "reused_records": 0,
            "schema_drift": {"status": "no drift", "added": [], "missing": [], "type_changed": []},
            "location": f"s3://ecom-raw/{folder}/",
            **changes,
        }
    )


def job_summary(**changes: Any) -> JobSummary:
    """The job's summary of 810 cart lines: 800 orders, 6 quarantined, 4 duplicates."""
    return JobSummary.model_validate(
        {
            "run_id": RUN_ID,
            "ingest_date": "2026-06-17",
            "rows_read": 810,
            "rows_written": 800,
            "rows_quarantined": 6,
            "quarantined_by_reason": {"unknown_product": 6},
            "duplicates_removed": 4,
            "partitions_written": ["2026-06-17"],
            "revenue_written": "123456.70",
            "profit_written": "49382.68",
            **changes,
        }
    )


def load_result(**changes: Any) -> LoadResult:
    """The load of `job_summary()`'s 800 orders, all new."""
    return LoadResult.model_validate(
        {
            "run_id": RUN_ID,
            "partitions": ("2026-06-17",),
            "files": 1,
            "rows_staged": 800,
            "revenue_staged": "123456.70",
            "rows_inserted": 800,
            "rows_updated": 0,
            "rows_deleted": 0,
            "started_at": datetime(2026, 6, 17, 10, 15, 30, tzinfo=UTC),
            "finished_at": datetime(2026, 6, 17, 10, 15, 32, tzinfo=UTC),
            **changes,
        }
    )


def run_summary(**changes: Any) -> RunSummary:
    """A completed run of the three resources, as `ecom_pipeline` returns it before the CLI adds its timings."""
    return RunSummary.model_validate(
        {
            "run_id": RUN_ID,
            "run_date": "2026-06-17",
            "profile": "local",
            "resources": {name: landing_result(name) for name in ("users", "products", "carts")},
            "transform": job_summary(),
            "warehouse": load_result(),
            **changes,
        }
    )
