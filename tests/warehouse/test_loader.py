"""The exactly-once loader against the fakesnow emulator reading curated Parquet from the moto S3 server."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from curated_data import by_partition, job_summary, parquet_bytes, part_key

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.exceptions import ContractError, ReconciliationError, WarehouseError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.warehouse.connection import bootstrap_warehouse, connect
from ecom_pipeline.warehouse.loader import load_orders


def _count(settings: Settings, sql: str) -> int:
    with connect(settings.snowflake) as warehouse:
        [(value,)] = warehouse.execute(sql)
    return int(value)


def test_load_is_exactly_once(
    bootstrapped: Settings, curated_partitions: list[str], curated: list[dict[str, Any]]
) -> None:
    expected = job_summary(curated)
    first = load_orders(bootstrapped, curated_partitions, "run-1", expected)
    assert (first.rows_staged, first.rows_inserted, first.rows_updated) == (800, 800, 0)
    assert first.skipped is False
    assert first.files == len(curated_partitions) == 10
    assert first.revenue_staged == sum(row["revenue"] for row in curated)
    assert _count(bootstrapped, "select count(*) from orders") == 800
    assert _count(bootstrapped, "select count(*) from orders where order_date is null") == 0
    assert _count(bootstrapped, "select count(distinct order_date) from orders") == 10

    second = load_orders(bootstrapped, curated_partitions, "run-2", expected)
    assert (second.rows_inserted, second.rows_updated) == (0, 800)
    assert _count(bootstrapped, "select count(*) from orders") == 800
    assert _count(bootstrapped, "select count(distinct order_id) from orders") == 800
    audit = _count(bootstrapped, "select count(*) from load_audit where rows_staged = 800 and files = 10")
    assert audit == 2
    with connect(bootstrapped.snowflake) as warehouse:
        [audit_row] = warehouse.query_dicts("select * from load_audit where run_id = ?", ["run-1"])
    assert audit_row["started_at"] == first.started_at and audit_row["finished_at"] == first.finished_at
    assert (audit_row["rows_inserted"], audit_row["rows_updated"]) == (800, 0)
    assert audit_row["revenue_staged"] == first.revenue_staged
    assert audit_row["partition_dates"] == ",".join(curated_partitions)

    # COPY load history gone: staging dropped and recreated by the bootstrap (FORCE = TRUE reloads anyway).
    with connect(bootstrapped.snowflake) as warehouse:
        warehouse.execute("drop table orders_staging")
    bootstrap_warehouse(bootstrapped)
    third = load_orders(bootstrapped, curated_partitions, "run-3", expected)
    assert (third.rows_staged, third.rows_inserted, third.rows_updated) == (800, 0, 800)
    assert _count(bootstrapped, "select count(*) from orders") == 800
    assert _count(bootstrapped, "select count(*) from load_audit") == 3


def test_reconciliation_reports_a_changed_revenue_in_a_curated_file(
    bootstrapped: Settings, s3_emulator: S3Emulator, curated: list[dict[str, Any]]
) -> None:
    partition_date, rows = next(iter(by_partition(curated).items()))
    expected = job_summary(rows)
    tampered = [dict(row) for row in rows]
    tampered[0]["revenue"] += Decimal("10.05")
    storage = bootstrapped.storage
    key = part_key(storage.curated_prefix, partition_date)
    s3_emulator.client().put_object(Bucket=storage.curated_bucket, Key=key, Body=parquet_bytes(tampered))

    with pytest.raises(ReconciliationError) as caught:
        load_orders(bootstrapped, [partition_date], "run-tampered", expected)
    message = str(caught.value)
    assert "curated files vs job summary" in message
    assert "(+10.05)" in message and "rows" not in message.split("job summary:")[1]


def test_reconciliation_reports_a_missing_row(
    bootstrapped: Settings, s3_emulator: S3Emulator, curated: list[dict[str, Any]]
) -> None:
    partition_date, rows = next(iter(by_partition(curated).items()))
    expected = job_summary(rows)
    storage = bootstrapped.storage
    key = part_key(storage.curated_prefix, partition_date)
    s3_emulator.client().put_object(Bucket=storage.curated_bucket, Key=key, Body=parquet_bytes(rows[1:]))

    with pytest.raises(ReconciliationError) as caught:
        load_orders(bootstrapped, [partition_date], "run-short", expected)
    assert f"rows {len(rows) - 1} vs {len(rows)} (-1)" in str(caught.value)
    assert f"({-rows[0]['revenue']:+.2f})" in str(caught.value)


def test_reload_of_a_smaller_partition_removes_the_orders_it_no_longer_holds(
    bootstrapped: Settings, s3_emulator: S3Emulator, curated: list[dict[str, Any]]
) -> None:
    partition_date, rows = next(iter(by_partition(curated).items()))
    storage = bootstrapped.storage
    client = s3_emulator.client()
    client.put_object(Bucket=storage.curated_bucket, Key=part_key(storage.curated_prefix, partition_date),
                      Body=parquet_bytes(rows))  # fmt: skip
    load_orders(bootstrapped, [partition_date], "run-full", job_summary(rows))
    # The job rewrites the partition without one order: the warehouse follows, a clean replace.
    client.put_object(Bucket=storage.curated_bucket, Key=part_key(storage.curated_prefix, partition_date),
                      Body=parquet_bytes(rows[1:]))  # fmt: skip
    result = load_orders(bootstrapped, [partition_date], "run-smaller", job_summary(rows[1:]))

    assert (result.rows_inserted, result.rows_updated, result.rows_deleted) == (0, len(rows) - 1, 1)
    table = f"{bootstrapped.snowflake.database}.{bootstrapped.snowflake.schema_name}.orders"
    with connect(bootstrapped.snowflake) as warehouse:
        [(count,)] = warehouse.execute(f"select count(*) from {table} where order_date = ?", [partition_date])
        [(gone,)] = warehouse.execute(f"select count(*) from {table} where order_id = ?", [rows[0]["order_id"]])
    assert (count, gone) == (len(rows) - 1, 0)


def test_load_rejects_bad_partitions_and_missing_files(bootstrapped: Settings) -> None:
    with pytest.raises(ContractError, match="YYYY-MM-DD"):
        load_orders(bootstrapped, ["2026-06-17'; drop table orders; --"], "run-bad")
    with pytest.raises(ContractError, match="needs the reused job summary"):
        load_orders(bootstrapped, ["2026-06-17"], "run-no-summary", skip_if_loaded=True)
    with pytest.raises(WarehouseError, match="partition 2031-01-01 has no files"):
        load_orders(bootstrapped, ["2031-01-01"], "run-missing")
    # the failed load rolled back: no audit row
    assert _count(bootstrapped, "select count(*) from load_audit") == 0


def test_load_result_json_has_money_as_text_and_the_partitions_as_a_list(
    bootstrapped: Settings, curated_partitions: list[str], curated: list[dict[str, Any]]
) -> None:
    result = load_orders(bootstrapped, curated_partitions[:1], "run-dict")
    values = result.model_dump(mode="json")
    assert values["partitions"] == curated_partitions[:1]
    assert values["revenue_staged"] == f"{sum(r['revenue'] for r in by_partition(curated)[curated_partitions[0]]):.2f}"


def _reused_summary(curated: list[dict[str, Any]]) -> JobSummary:
    """The job summary of the run that wrote the curated rows, as `transform_unless_unchanged` hands it on."""
    return job_summary(curated).model_copy(update={"reused": True})


def test_a_reused_summary_already_in_the_warehouse_skips_the_load(
    bootstrapped: Settings, curated_partitions: list[str], curated: list[dict[str, Any]]
) -> None:
    summary = _reused_summary(curated)
    load_orders(bootstrapped, curated_partitions, "run-1", summary)
    # Emptied staging shows whether a COPY ran; the audit row count whether a load was recorded.
    with connect(bootstrapped.snowflake) as warehouse:
        warehouse.execute("truncate table orders_staging")

    skipped = load_orders(bootstrapped, curated_partitions, "run-2", summary, skip_if_loaded=True)

    assert skipped.skipped is True
    assert (skipped.files, skipped.rows_inserted, skipped.rows_updated, skipped.rows_deleted) == (0, 0, 0, 0)
    assert (skipped.rows_staged, skipped.revenue_staged) == (800, sum(row["revenue"] for row in curated))
    assert skipped.partitions == tuple(curated_partitions)
    assert _count(bootstrapped, "select count(*) from orders_staging") == 0
    assert _count(bootstrapped, "select count(*) from load_audit") == 1
    assert _count(bootstrapped, "select count(*) from orders") == 800

    # Not reused: the full load runs as before, even though the warehouse holds the same output.
    full = load_orders(bootstrapped, curated_partitions, "run-3", summary)
    assert (full.skipped, full.files, full.rows_updated) == (False, 10, 800)
    assert _count(bootstrapped, "select count(*) from load_audit") == 2


@pytest.mark.parametrize(
    ("change", "inserted", "updated"),
    [
        ("delete from orders where order_id = ?", 1, 799),
        ("update orders set run_id = 'spark-run-0' where order_id = ?", 0, 800),
        ("update orders set revenue = revenue + 0.01 where order_id = ?", 0, 800),
    ],
    ids=["row-deleted", "row-of-another-run", "revenue-changed"],
)
def test_a_reused_summary_reloads_when_the_warehouse_differs(
    bootstrapped: Settings,
    curated_partitions: list[str],
    curated: list[dict[str, Any]],
    change: str,
    inserted: int,
    updated: int,
) -> None:
    summary = _reused_summary(curated)
    load_orders(bootstrapped, curated_partitions, "run-1", summary)
    order = curated[0]
    with connect(bootstrapped.snowflake) as warehouse:
        warehouse.execute(change, [order["order_id"]])

    result = load_orders(bootstrapped, curated_partitions, "run-2", summary, skip_if_loaded=True)

    assert result.skipped is False
    assert (result.files, result.rows_inserted, result.rows_updated) == (10, inserted, updated)
    assert _count(bootstrapped, "select count(*) from load_audit") == 2
    with connect(bootstrapped.snowflake) as warehouse:
        [restored] = warehouse.query_dicts("select revenue, run_id from orders where order_id = ?", [order["order_id"]])
    assert restored == {"revenue": order["revenue"], "run_id": order["run_id"]}
    assert _count(bootstrapped, "select count(*) from orders") == 800
