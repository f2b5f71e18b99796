"""The load's "latest copy wins" rule: two files of one partition hold the same order_id from different runs.

The curated zone replaces whole partitions, so this happens only when two runs' files meet in one partition (a
job killed after writing, a file copied in by hand). The warehouse must then keep the row ingested last (and
of two ingested at the same instant, the later run's), whichever file is listed first, and reconcile against
exactly those rows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from curated_data import by_partition, parquet_bytes, part_key

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.connection import connect
from ecom_pipeline.warehouse.loader import load_orders

EARLY, LATE = datetime(2026, 6, 17, 10, 0), datetime(2026, 6, 17, 11, 0)


def copy_of(row: dict[str, Any], run_id: str, ingested_at: datetime, extra_quantity: int) -> dict[str, Any]:
    """The same order from another run, with other figures (so the winner can be told apart)."""
    quantity = row["quantity"] + extra_quantity
    revenue = row["unit_price"] * quantity
    return {**row, "run_id": run_id, "ingested_at": ingested_at, "quantity": quantity, "revenue": revenue}


def test_the_newer_copy_wins_whichever_file_comes_first_and_the_load_reconciles(
    bootstrapped: Settings, s3_emulator: S3Emulator, curated: list[dict[str, Any]]
) -> None:
    partition_date, rows = next(iter(by_partition(curated).items()))
    rows = rows[:6]
    # rows 0-3: ingested at different times; rows 4-5: at the same instant, so the run id decides.
    older = [copy_of(r, "20260617T100000Z-aaaaaa", EARLY, 0) for r in rows[:4]]
    newer = [copy_of(r, "20260617T110000Z-bbbbbb", LATE, 2) for r in rows[:4]]
    tie_first = [copy_of(r, "20260617T100000Z-cccccc", LATE, 0) for r in rows[4:]]
    tie_later = [copy_of(r, "20260617T100500Z-dddddd", LATE, 3) for r in rows[4:]]
    storage = bootstrapped.storage
    client = s3_emulator.client()
    # The winners sit in the file listed first for the first group and last for the second.
    for index, part in enumerate((newer + tie_first, older + tie_later)):
        key = part_key(storage.curated_prefix, partition_date, index)
        client.put_object(Bucket=storage.curated_bucket, Key=key, Body=parquet_bytes(part))

    result = load_orders(bootstrapped, [partition_date], "load-latest-copy")

    winners = {row["order_id"]: row for row in newer + tie_later}
    table = f"{bootstrapped.snowflake.database}.{bootstrapped.snowflake.schema_name}.orders"
    with connect(bootstrapped.snowflake) as warehouse:
        held = warehouse.query_dicts(f"select order_id, quantity, revenue, run_id from {table}")
    assert {row["order_id"]: (int(row["quantity"]), Decimal(str(row["revenue"])), row["run_id"]) for row in held} == {
        order_id: (row["quantity"], row["revenue"], row["run_id"]) for order_id, row in winners.items()
    }
    assert (result.files, result.rows_staged, result.rows_inserted) == (2, len(winners), len(winners))
    assert result.revenue_staged == sum((row["revenue"] for row in winners.values()), Decimal(0))
