"""The orders job end to end: LocalSparkLauncher (spark-submit, s3a) on moto S3 with real DummyJSON data."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from contract_types import arrow_columns, contract_arrow_columns

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.exceptions import TransformError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform import JobRequest, LocalSparkLauncher

FIRST_DATE, SECOND_DATE = date(2026, 6, 17), date(2026, 6, 18)
CENT = Decimal("0.01")


@pytest.fixture
def settings(job_settings: Settings) -> Settings:
    """Settings pointing the job at this test's buckets on the moto server."""
    return job_settings


@pytest.fixture
def land_snapshot(
    s3_emulator: S3Emulator,
    settings: Settings,
    dummyjson_records: dict[str, list[dict[str, Any]]],
    land_raw_s3: Callable[..., None],
) -> Callable[[date], None]:
    """Land the real snapshot into the raw bucket for an ingest date (two parts per resource)."""
    storage = settings.storage

    def land(ingest_date: date) -> None:
        for resource, records in dummyjson_records.items():
            land_raw_s3(
                s3_emulator.client(), storage.raw_bucket, storage.raw_prefix, resource, ingest_date, records,
                records_per_part=150,
            )  # fmt: skip

    return land


def expected_totals(dummyjson_dir: Path, cost_ratio: Decimal) -> tuple[set[str], Decimal, Decimal]:
    """Order ids, revenue and profit computed from the source JSON with Decimal, independently of the job."""
    carts = json.loads((dummyjson_dir / "carts.json").read_text(), parse_float=Decimal)["carts"]
    order_ids, revenue, profit = set(), Decimal(0), Decimal(0)
    for cart in carts:
        seen: dict[int, int] = defaultdict(int)
        for line in cart["products"]:
            seen[line["id"]] += 1
            order_ids.add(f"ORD-{cart['id']}-{line['id']}" + (f"-{seen[line['id']]}" if seen[line["id"]] > 1 else ""))
            unit_cost = (line["price"] * cost_ratio).quantize(CENT, rounding=ROUND_HALF_UP)
            revenue += line["price"] * line["quantity"]
            profit += (line["price"] - unit_cost) * line["quantity"]
    return order_ids, revenue, profit


def curated_files(s3: Any, settings: Settings) -> dict[str, str]:
    """Parquet keys of the curated dataset -> ETag."""
    storage = settings.storage
    listing = s3.list_objects_v2(Bucket=storage.curated_bucket, Prefix=f"{storage.curated_prefix}/")
    return {obj["Key"]: obj["ETag"] for obj in listing.get("Contents", []) if obj["Key"].endswith(".parquet")}


def curated_rows(s3: Any, settings: Settings) -> list[dict[str, Any]]:
    """Every curated row, with the `order_date` partition value taken from the object key."""
    rows = []
    for key in curated_files(s3, settings):
        partition = next(part for part in key.split("/") if part.startswith("order_date="))
        body = s3.get_object(Bucket=settings.storage.curated_bucket, Key=key)["Body"].read()
        for row in pq.read_table(io.BytesIO(body)).to_pylist():
            rows.append({**row, "partition": date.fromisoformat(partition.split("=", 1)[1])})
    return rows


def test_job_end_to_end_on_real_data(
    settings: Settings, s3_emulator: S3Emulator, dummyjson_dir: Path, land_snapshot: Callable[[date], None]
) -> None:
    s3 = s3_emulator.client()
    launcher = LocalSparkLauncher(settings, s3_client=s3)
    expected_ids, expected_revenue, expected_profit = expected_totals(dummyjson_dir, Decimal("0.6"))
    land_snapshot(FIRST_DATE)

    summary = launcher.run(JobRequest(ingest_date=FIRST_DATE, run_id="run-1"))

    assert summary.model_dump(mode="json", exclude={"reused"}) == {  # as the job wrote it
        "run_id": "run-1",
        "ingest_date": "2026-06-17",
        "rows_read": 800,
        "rows_written": 800,
        "rows_quarantined": 0,
        "quarantined_by_reason": {},
        "duplicates_removed": 0,
        "partitions_written": ["2026-06-17"],
        "revenue_written": str(expected_revenue),
        "profit_written": str(expected_profit),
    }
    rows = curated_rows(s3, settings)
    assert {row["order_id"] for row in rows} == expected_ids and len(rows) == 800
    assert sum(row["revenue"] for row in rows) == expected_revenue
    assert sum(row["profit"] for row in rows) == expected_profit
    # DummyJSON carts carry no date: every order falls on the ingest date, also inside the files.
    assert {(row["partition"], row["order_date_copy"]) for row in rows} == {(FIRST_DATE, FIRST_DATE)}
    assert {row["run_id"] for row in rows} == {"run-1"}
    # Each file holds exactly the curated contract's columns, in its order and types (tests/test_curated_contract.py).
    for key in curated_files(s3, settings):
        body = s3.get_object(Bucket=settings.storage.curated_bucket, Key=key)["Body"].read()
        assert arrow_columns(pq.read_schema(io.BytesIO(body))) == contract_arrow_columns(), key

    # A re-run replaces the partition's files instead of adding to them.
    launcher.run(JobRequest(ingest_date=FIRST_DATE, run_id="run-2"))
    rows = curated_rows(s3, settings)
    assert len(rows) == 800 and {row["run_id"] for row in rows} == {"run-2"}
    first_date_files = curated_files(s3, settings)

    # Another ingest date adds its own partition and leaves the first one byte for byte as it was.
    land_snapshot(SECOND_DATE)
    summary = launcher.run(JobRequest(ingest_date=SECOND_DATE, run_id="run-3"))
    assert summary.partitions_written == ["2026-06-18"] and summary.rows_written == 800
    after = curated_files(s3, settings)
    assert {key: etag for key, etag in after.items() if "order_date=2026-06-17" in key} == first_date_files
    assert len(curated_rows(s3, settings)) == 1600


def test_bad_argument_exits_2_and_the_launcher_error_is_not_transient(
    settings: Settings, s3_emulator: S3Emulator
) -> None:
    launcher = LocalSparkLauncher(settings, s3_client=s3_emulator.client())
    with pytest.raises(TransformError) as error:
        launcher.run(JobRequest(ingest_date=FIRST_DATE, run_id="bad-ratio", cost_ratio=Decimal("1.5")))
    assert error.value.transient is False
    assert str(error.value) == (
        "local Spark job rejected its configuration: --cost_ratio: '1.5' must be between 0 and 1 (exclusive)"
    )
    # A missing manifest takes the same exit-2 path; test_orders_job_run covers it without a second JVM.
