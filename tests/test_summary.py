"""The run summary's stage lines say what each later stage did, including when it had nothing to do."""

from __future__ import annotations

from typing import Any

from ecom_pipeline.summary import stages_lines

TRANSFORM = {
    "run_id": "20260617T101500Z-ab12cd",
    "rows_read": 800,
    "rows_written": 798,
    "rows_quarantined": 2,
    "quarantined_by_reason": {"unknown_customer": 2},
    "duplicates_removed": 0,
    "partitions_written": ["2026-06-17"],
    "reused": False,
}
WAREHOUSE = {"rows_staged": 798, "files": 1, "rows_inserted": 798, "rows_updated": 0, "rows_deleted": 0,
             "revenue_staged": "3834278.63", "skipped": False}  # fmt: skip


def lines_of(transform: dict[str, Any], warehouse: dict[str, Any]) -> list[str]:
    return stages_lines({"transform": transform, "warehouse": warehouse})


def test_a_run_that_did_the_work_says_what_it_did() -> None:
    transform, warehouse = lines_of(TRANSFORM, WAREHOUSE)
    assert "800 cart lines -> 798 orders, 2 quarantined (unknown_customer: 2)" in transform
    assert "reused" not in transform
    assert "798 rows from 1 file(s): 798 inserted, 0 updated, 0 deleted; reconciled at 3834278.63" in warehouse


def test_an_unchanged_rerun_says_the_transform_was_reused_and_the_load_skipped() -> None:
    skipped = {**WAREHOUSE, "files": 0, "rows_inserted": 0, "skipped": True}
    transform, warehouse = lines_of({**TRANSFORM, "reused": True}, skipped)
    assert "(inputs unchanged: run 20260617T101500Z-ab12cd's output reused)" in transform
    assert "load skipped: orders already holds these 798 rows (3834278.63 revenue)" in warehouse
    assert "inserted" not in warehouse
