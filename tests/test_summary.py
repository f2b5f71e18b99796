"""The run summary: its stage lines say what each later stage did, and its JSON keeps the documented shape."""

from __future__ import annotations

import json
import re
from pathlib import Path

from run_results import job_summary, load_result, run_summary

from ecom_pipeline.summary import stages_lines
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.warehouse.report import Report

ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

# The JSON of `run --summary-json`, key by key and in order: a key gone missing (or a new one) fails here first.
# `transform` is the job's summary as docs/architecture.md shows it, plus `reused`.
RUN_KEYS = ["run_id", "run_date", "profile", "resources", "data_quality", "transform", "warehouse", "timings", "kpis",
            "report_files", "seconds"]  # fmt: skip
LANDED_KEYS = ["resource", "ingest_date", "run_id", "records", "quarantined", "quarantine_reasons", "bytes", "parts",
               "manifest_key", "content_sha256", "seconds", "quarantine_parts", "reused_parts", "reused_records",
               "schema_drift", "location"]  # fmt: skip
LOAD_KEYS = ["run_id", "partitions", "files", "rows_staged", "revenue_staged", "rows_inserted", "rows_updated",
             "rows_deleted", "started_at", "finished_at", "skipped", "setup_seconds"]  # fmt: skip


def documented_job_summary() -> dict[str, object]:
    """The job summary docs/architecture.md shows ("The job writes its summary ...")."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = re.search(r"The job writes its summary to.*?```json\n(.*?)```", text, re.DOTALL)
    assert block, "docs/architecture.md no longer shows the job summary"
    return json.loads(block.group(1))


def test_the_summary_json_keeps_its_documented_shape() -> None:
    check = {"check": "row-change", "resource": "carts", "severity": "passed", "message": "row-change carts: ..."}
    summary = run_summary(
        data_quality=[check],
        timings={"cli_start": [0.0, 0.4], "flow": [2.1, 14.0]},
        kpis={"total_orders": 800, "total_revenue": "123456.70"},
        report_files=["out/report.md"],
        seconds=14.2,
        report=Report(kpis={"total_orders": 800}),
    )
    document = json.loads(json.dumps(summary.model_dump(mode="json")))
    assert list(document) == RUN_KEYS  # no `report`: its rows are for the console
    assert {name: list(landed) for name, landed in document["resources"].items()} == {
        name: LANDED_KEYS for name in ("users", "products", "carts")
    }
    assert list(document["transform"]) == [*documented_job_summary(), "reused"]
    assert list(document["warehouse"]) == LOAD_KEYS
    assert document["data_quality"] == [check]
    # Money exact, as text; dates and times in ISO 8601; partitions a list.
    assert (document["transform"]["revenue_written"], document["warehouse"]["revenue_staged"]) == ("123456.70",) * 2
    assert document["resources"]["carts"]["ingest_date"] == "2026-06-17"
    assert document["warehouse"]["started_at"].startswith("2026-06-17T10:15:30")
    assert document["warehouse"]["partitions"] == ["2026-06-17"]


def test_the_documented_job_summary_reads_and_writes_back_unchanged() -> None:
    documented = documented_job_summary()
    assert JobSummary.model_validate(documented).model_dump(mode="json", exclude={"reused"}) == documented


def test_a_run_that_did_the_work_says_what_it_did() -> None:
    job = job_summary(
        rows_read=800, rows_written=798, rows_quarantined=2, quarantined_by_reason={"unknown_customer": 2},
        duplicates_removed=0,
    )  # fmt: skip
    load = load_result(rows_staged=798, rows_inserted=798, revenue_staged="3834278.63")
    transform, warehouse = stages_lines(run_summary(transform=job, warehouse=load))
    assert "800 cart lines -> 798 orders, 2 quarantined (unknown_customer: 2)" in transform
    assert "reused" not in transform
    assert "798 rows from 1 file(s): 798 inserted, 0 updated, 0 deleted; reconciled at 3834278.63" in warehouse


def test_an_unchanged_rerun_says_the_transform_was_reused_and_the_load_skipped() -> None:
    skipped = load_result(files=0, rows_inserted=0, rows_staged=798, revenue_staged="3834278.63", skipped=True)
    transform, warehouse = stages_lines(run_summary(transform=job_summary(reused=True), warehouse=skipped))
    assert "(inputs unchanged: run 20260617T101500Z-ab12cd's output reused)" in transform
    assert "load skipped: orders already holds these 798 rows (3834278.63 revenue)" in warehouse
    assert "inserted" not in warehouse
