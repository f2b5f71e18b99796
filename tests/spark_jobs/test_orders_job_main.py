"""main() in-process on a local raw zone: manifest, exact decimals, writes, quarantine and summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import orders_job as job
import pytest
from pyspark.sql import SparkSession

INGEST_DATE = date(2026, 6, 17)
USERS = [
    {"id": 1, "firstName": "Emily", "lastName": "Johnson", "email": "emily@x.com", "password": "not-read",
     "address": {"city": "Phoenix", "state": "Mississippi", "country": "United States"}},
]  # fmt: skip
PRODUCTS = [{"id": 162, "title": "Blue Frock", "category": "tops", "brand": "Zara", "price": 29.99}]
CARTS = [
    {"id": 1, "userId": 1, "products": [
        {"id": 162, "title": "Blue Frock", "price": 29.99, "quantity": 4, "discountPercentage": 12.13,
         "discountedTotal": 105.41}]},
    {"id": 2, "userId": 1, "products": [
        {"id": 162, "title": "Blue Frock", "price": 29.99, "quantity": 0, "discountedTotal": 0}]},
    {"id": 3, "userId": 42, "products": [{"id": 162, "title": "Blue Frock", "price": 29.99, "quantity": 1}]},
    {"id": 1, "userId": 1, "products": [  # the same cart again, in the second part: this copy wins
        {"id": 162, "title": "Blue Frock", "price": 29.99, "quantity": 5, "discountPercentage": 12.13,
         "discountedTotal": 131.77}]},
]  # fmt: skip


@pytest.fixture
def job_paths(tmp_path: Path, land_raw_local: Callable[..., str]) -> dict[str, str]:
    """A landed raw zone (carts in two parts) and output locations, all local."""
    land_raw_local("users", INGEST_DATE, USERS)
    land_raw_local("products", INGEST_DATE, PRODUCTS)
    raw = land_raw_local("carts", INGEST_DATE, CARTS, records_per_part=3)
    return {
        "raw_path": raw,
        "curated_path": (tmp_path / "curated").as_uri(),
        "quarantine_path": (tmp_path / "quarantine").as_uri(),
        "summary_path": (tmp_path / "summaries" / "run_id=local-1.json").as_uri(),
    }


def run_main(paths: dict[str, str], **extra: str) -> dict[str, Any]:
    """Call main() with Glue-style arguments."""
    options = {**paths, "ingest_date": INGEST_DATE.isoformat(), "run_id": "local-1", **extra}
    return job.main(["orders_job.py", *[item for key, value in options.items() for item in (f"--{key}", value)]])


def test_main_reads_writes_quarantines_and_summarizes(spark: SparkSession, job_paths: dict[str, str]) -> None:
    summary = run_main(job_paths)

    assert summary == {
        "run_id": "local-1",
        "ingest_date": "2026-06-17",
        "rows_read": 4,
        "rows_written": 1,
        "rows_quarantined": 2,
        "quarantined_by_reason": {"invalid_quantity": 1, "unknown_customer": 1},
        "duplicates_removed": 1,
        "partitions_written": ["2026-06-17"],
        "revenue_written": "149.95",  # 29.99 × 5, the later copy of cart 1
        "profit_written": "60.00",  # (29.99 − 17.99) × 5
    }
    assert json.loads(Path(job_paths["summary_path"].removeprefix("file://")).read_text()) == summary

    curated = spark.read.parquet(job_paths["curated_path"]).collect()
    assert [(r.order_id, r.quantity, r.unit_price, r.discounted_revenue) for r in curated] == [
        ("ORD-1-162", 5, Decimal("29.99"), Decimal("131.77"))  # JSON 29.99 read as an exact decimal
    ]
    assert curated[0].order_date == curated[0].order_date_copy == INGEST_DATE
    files = list(Path(job_paths["curated_path"].removeprefix("file://")).glob("order_date=2026-06-17/*.parquet"))
    assert files and all(file.name.endswith(".snappy.parquet") for file in files)

    quarantine_folder = f"{job_paths['quarantine_path']}/ingest_date=2026-06-17"
    quarantined = spark.read.parquet(quarantine_folder).select("cart_id", "reason").collect()
    assert sorted((r.cart_id, r.reason) for r in quarantined) == [
        (2, "invalid_quantity"),
        (3, "unknown_customer"),
    ]


def test_missing_manifest_is_a_config_error_naming_raw_path(spark: SparkSession, job_paths: dict[str, str]) -> None:
    with pytest.raises(job.JobConfigError) as error:
        run_main(job_paths, ingest_date="2026-06-18")
    assert error.value.argument == "raw_path"
    assert "carts/ingest_date=2026-06-18/_manifest.json" in str(error.value)


def test_latest_copy_follows_the_manifest_order_not_the_file_names(
    spark: SparkSession, job_paths: dict[str, str], tmp_path: Path
) -> None:
    """A part reused from an older run folder can be listed after a newer one: the manifest order is the
    landing order, whatever the folder names sort as."""
    folder = tmp_path / "raw" / "carts" / f"ingest_date={INGEST_DATE.isoformat()}"
    manifest = json.loads((folder / "_manifest.json").read_text())
    first, second = manifest["parts"]  # cart 1 with quantity 4 is in the first part, quantity 5 in the second
    moved = "run_id=00000000T000000Z-older0/part-00001.jsonl.gz"  # sorts before the first part's folder
    (folder / moved).parent.mkdir()
    (folder / second["file"]).rename(folder / moved)
    manifest["parts"] = [first, {**second, "file": moved}]
    (folder / "_manifest.json").write_text(json.dumps(manifest))

    summary = run_main(job_paths)

    assert summary["revenue_written"] == "149.95"  # 29.99 × 5: the copy in the later-listed part still wins
    reversed_order = {**manifest, "parts": [{**second, "file": moved}, first]}
    (folder / "_manifest.json").write_text(json.dumps(reversed_order))
    assert run_main(job_paths)["revenue_written"] == "119.96"  # listed first now: the other copy wins


def test_ids_the_landing_proved_unique_skip_the_duplicate_search(
    spark: SparkSession,
    job_paths: dict[str, str],
    land_raw_local: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    land_raw_local("carts", INGEST_DATE, CARTS[:3])  # no repeated cart this time
    for resource in ("users", "products", "carts"):  # flagged as the landing flags ids strictly increasing
        manifest_file = tmp_path / "raw" / resource / f"ingest_date={INGEST_DATE.isoformat()}" / "_manifest.json"
        manifest_file.write_text(json.dumps({**json.loads(manifest_file.read_text()), "ids_strictly_increasing": True}))

    def not_searched(*_args: Any) -> None:
        raise AssertionError("the duplicate search ran although the landing proved the ids unique")

    monkeypatch.setattr(job, "latest_copies", not_searched)
    monkeypatch.setattr(job, "filter_latest_by", not_searched)

    summary = run_main(job_paths)

    assert (summary["rows_read"], summary["rows_written"], summary["duplicates_removed"]) == (3, 1, 0)
    assert summary["quarantined_by_reason"] == {"invalid_quantity": 1, "unknown_customer": 1}
    assert summary["revenue_written"] == "119.96"  # 29.99 × 4: the only copy of cart 1
