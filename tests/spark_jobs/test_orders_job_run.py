"""`run(spark, args)`, the composition `main()` runs, in-process on a local raw zone: reads, classification, writes.

A crafted set of carts (null, blank, unknown, repeated and duplicated cases, in two parts) goes through one run,
read back once; each test asserts one rule against hand-computed values, to the cent. Smaller runs check the
manifest order, the duplicate search the landing can prove unneeded, and a missing manifest.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from contract_types import arrow_columns, contract_arrow_columns
from pyspark.sql import SparkSession
from raw_zone import land_raw_folder

from spark_jobs.orders import dedupe
from spark_jobs.orders import job as orders_job
from spark_jobs.orders.args import JobArgs, parse_args
from spark_jobs.orders.errors import JobConfigError
from spark_jobs.orders.schema import CURATED_COLUMNS, CUSTOMER_DEFAULTED, PRODUCT_DEFAULTED

DEFAULTED_COLUMNS = PRODUCT_DEFAULTED + CUSTOMER_DEFAULTED

INGEST_DATE = date(2026, 6, 17)
INGESTED_AT = datetime(2026, 6, 17, 10, 15, tzinfo=UTC)


def job_args(paths: dict[str, str], **extra: str) -> JobArgs:
    """Arguments as main() parses them from Glue-style `--name value` pairs."""
    options = {**paths, "ingest_date": INGEST_DATE.isoformat(), "run_id": "run-7", **extra}
    return parse_args(["orders_job.py", *[item for key, value in options.items() for item in (f"--{key}", value)]])


def output_paths(root: Path, raw: str) -> dict[str, str]:
    """The job's path arguments: the landed raw zone, and local output folders under `root`."""
    return {
        "raw_path": raw,
        "curated_path": (root / "curated").as_uri(),
        "quarantine_path": (root / "quarantine").as_uri(),
        "summary_path": (root / "summaries" / "summary.json").as_uri(),
    }


def line(product_id: int | None, price: float | None, quantity: int | None, title: str | None = "Line") -> dict:
    """A cart line as the API sends it (money as a JSON number)."""
    return {"id": product_id, "title": title, "price": price, "quantity": quantity, "discountPercentage": 10,
            "discountedTotal": 1}  # fmt: skip


def cart(cart_id: int | None, user_id: int | None, lines: list[dict] | None, **fields: Any) -> dict[str, Any]:
    return {"id": cart_id, "userId": user_id, "products": lines, **fields}


# Landed in two parts of 9 and 7 records: the third copy of cart 8 is in the later part.
CARTS = [
    cart(1, 1, [{"id": 10, "title": " Blue Frock ", "price": 29.99, "quantity": 4, "discountPercentage": 12.13,
                 "discountedTotal": 105.41}, line(11, 10.05, 3)]),
    cart(2, 2, [line(12, 5.00, 1, title="Line Title")], date="", status="  "),
    cart(3, 99, [line(10, 1.00, 1)]),
    cart(4, 1, [line(999, 1.00, 1)]),
    cart(5, None, [line(10, 1.00, 1)]),
    cart(6, 1, [line(10, 1.00, 0), line(11, 0.00, 1), line(None, 1.00, 1), line(11, None, 2)]),
    cart(7, 1, [line(10, 2.50, 2), line(10, 2.50, 5)]),
    cart(8, 1, [line(10, 3.00, 1)]),
    cart(8, 1, [line(10, 3.00, 7)]),
    cart(8, 1, [line(10, 3.00, 9)]),  # later part: wins over both copies in the first
    cart(9, 1, [line(10, 1.00, 1)], date="2026-05-01", status=" shipped "),
    cart(10, 1, [line(10, 1.00, 1)], date="not-a-date"),
    cart(11, 1, [line(13, 1.00, 1, title="   ")]),
    cart(None, 1, [line(10, 1.00, 1)]),
    cart(13, 1, []),
    cart(14, 1, None),
]  # fmt: skip
PRODUCTS = [  # two parts: the second record of product 10 is landed later and wins
    {"id": 10, "title": "Old Title", "category": "old", "brand": "OldBrand"},
    {"id": 11, "title": "Mug", "category": "", "brand": None},
    {"id": 12, "title": "  ", "category": " ", "brand": None},
    {"id": 13, "title": None, "category": "misc", "brand": "Acme"},
    {"id": None, "title": "ghost", "category": "x", "brand": "y"},
    {"id": 10, "title": "Blue Frock Deluxe", "category": " tops ", "brand": " Zara "},
]
USERS = [  # two parts: the second record of user 1 wins
    {"id": 1, "firstName": "Old", "lastName": "Name", "email": "old@x.com",
     "address": {"city": "Nowhere", "state": "NA", "country": "Nowhere"}},
    {"id": 2, "firstName": "", "lastName": None, "email": "  ", "address": None},
    {"id": 1, "firstName": " Emily ", "lastName": "Johnson", "email": " emily@x.com ",
     "address": {"city": "Phoenix", "state": " ", "country": "United States"}},
]  # fmt: skip
LINES_READ = 2 + 1 + 1 + 1 + 1 + 4 + 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 0 + 0  # lines per cart record, in CARTS order


@dataclass(frozen=True)
class Outcome:
    """One run's summary and what it wrote, read back."""

    summary: dict[str, Any]
    summary_file: dict[str, Any]
    curated: dict[str, dict[str, Any]]  # by order_id
    quarantined: list[dict[str, Any]]
    curated_files: list[Path]
    quarantine_columns: list[str]


@pytest.fixture(scope="module")
def crafted(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The crafted carts through `run`, once."""
    root = tmp_path_factory.mktemp("crafted")
    land_raw_folder(root / "raw", "users", INGEST_DATE, USERS, records_per_part=2)
    land_raw_folder(root / "raw", "products", INGEST_DATE, PRODUCTS, records_per_part=5)
    raw = land_raw_folder(root / "raw", "carts", INGEST_DATE, CARTS, records_per_part=9)
    args = job_args(output_paths(root, raw))

    summary = orders_job.run(spark, args, INGESTED_AT)

    curated = [row.asDict() for row in spark.read.parquet(args.curated_path).collect()]
    quarantine = spark.read.parquet(f"{args.quarantine_path}/ingest_date={INGEST_DATE.isoformat()}")
    return Outcome(
        summary=summary,
        summary_file=json.loads((root / "summaries" / "summary.json").read_text()),
        curated={row["order_id"]: row for row in curated},
        quarantined=[row.asDict() for row in quarantine.collect()],
        curated_files=sorted((root / "curated").glob("order_date=*/*.parquet")),
        quarantine_columns=quarantine.columns,
    )


def test_line_is_enriched_with_product_customer_and_exact_money(crafted: Outcome) -> None:
    order = crafted.curated["ORD-1-10"]
    assert {key: order[key] for key in ("product_title", "category", "brand", "customer_name", "customer_email")} == {
        "product_title": "Blue Frock Deluxe",  # the latest product record, not the line's title
        "category": "tops",
        "brand": "Zara",
        "customer_name": "Emily Johnson",
        "customer_email": "emily@x.com",
    }
    assert (order["city"], order["state"], order["country"]) == ("Phoenix", "Unknown", "United States")
    assert order["quantity"] == 4
    assert order["unit_price"] == Decimal("29.99")
    assert order["revenue"] == Decimal("119.96")  # 29.99 × 4
    assert order["cost_price"] == Decimal("17.99")  # 29.99 × 0.6 = 17.994
    assert order["profit"] == Decimal("48.00")  # (29.99 − 17.99) × 4
    assert order["discount_percentage"] == Decimal("12.13")
    assert order["discounted_revenue"] == Decimal("105.41")
    assert (order["order_status"], order["order_date"], order["order_date_copy"]) == (
        "completed",
        INGEST_DATE,
        INGEST_DATE,
    )
    assert (order["run_id"], order["ingested_at"].replace(tzinfo=UTC)) == ("run-7", INGESTED_AT)


def test_cost_price_rounds_half_up_per_unit(crafted: Outcome) -> None:
    order = crafted.curated["ORD-1-11"]
    assert order["cost_price"] == Decimal("6.03")  # 10.05 × 0.6 = 6.030
    assert order["revenue"] == Decimal("30.15")
    assert order["profit"] == Decimal("12.06")  # (10.05 − 6.03) × 3


def test_blank_descriptive_fields_become_unknown_and_title_falls_back(crafted: Outcome) -> None:
    mug = crafted.curated["ORD-1-11"]
    assert (mug["product_title"], mug["category"], mug["brand"]) == ("Mug", "Unknown", "Unknown")
    order = crafted.curated["ORD-2-12"]
    assert order["product_title"] == "Line Title"  # the product's own title is blank
    assert {key: order[key] for key in DEFAULTED_COLUMNS} == dict.fromkeys(DEFAULTED_COLUMNS, "Unknown")
    assert (order["order_status"], order["order_date"]) == ("completed", INGEST_DATE)  # blank status and date


def test_cart_date_and_status_are_used_when_present(crafted: Outcome) -> None:
    order = crafted.curated["ORD-9-10"]
    assert (order["order_date"], order["order_date_copy"], order["order_status"]) == (
        date(2026, 5, 1),
        date(2026, 5, 1),
        "shipped",
    )
    assert crafted.summary["partitions_written"] == ["2026-05-01", "2026-06-17"]


def test_repeated_product_in_a_cart_is_a_second_order_with_suffix(crafted: Outcome) -> None:
    assert (crafted.curated["ORD-7-10"]["quantity"], crafted.curated["ORD-7-10-2"]["quantity"]) == (2, 5)
    assert crafted.curated["ORD-7-10-2"]["revenue"] == Decimal("12.50")


def test_latest_landed_copy_of_a_cart_wins(crafted: Outcome) -> None:
    assert crafted.curated["ORD-8-10"]["quantity"] == 9
    assert crafted.summary["duplicates_removed"] == 2  # the two older copies, one line each


def test_rows_breaking_a_rule_are_quarantined_with_the_first_reason(crafted: Outcome) -> None:
    reasons = sorted((row["cart_id"] or 0, row["product_id"] or 0, row["reason"]) for row in crafted.quarantined)
    assert reasons == [
        (0, 10, "null_key"),  # cart without id
        (3, 10, "unknown_customer"),
        (4, 999, "unknown_product"),
        (5, 10, "null_key"),  # cart without user
        (6, 0, "null_key"),  # line without product id
        (6, 10, "invalid_quantity"),
        (6, 11, "invalid_unit_price"),  # price 0
        (6, 11, "invalid_unit_price"),  # price missing
        (10, 10, "invalid_order_date"),
        (11, 13, "missing_product_title"),
    ]
    assert crafted.summary["quarantined_by_reason"] == {
        "invalid_order_date": 1, "invalid_quantity": 1, "invalid_unit_price": 2, "missing_product_title": 1,
        "null_key": 3, "unknown_customer": 1, "unknown_product": 1,
    }  # fmt: skip


def test_every_line_read_is_written_quarantined_or_a_duplicate(crafted: Outcome) -> None:
    summary = crafted.summary
    assert (summary["rows_read"], summary["rows_written"], summary["rows_quarantined"]) == (LINES_READ, 7, 10)
    assert summary["rows_written"] + summary["rows_quarantined"] + summary["duplicates_removed"] == LINES_READ
    assert len(crafted.curated) == summary["rows_written"] and len(crafted.quarantined) == summary["rows_quarantined"]
    assert Decimal(summary["revenue_written"]) == sum(row["revenue"] for row in crafted.curated.values())


def test_run_writes_the_summary_it_returns(crafted: Outcome) -> None:
    assert crafted.summary_file == crafted.summary
    assert (crafted.summary["run_id"], crafted.summary["ingest_date"]) == ("run-7", "2026-06-17")
    # 119.96 + 30.15 + 5.00 + 5.00 + 12.50 + 27.00 + 1.00; 48.00 + 12.06 + 2.00 + 2.00 + 5.00 + 10.80 + 0.40
    assert (crafted.summary["revenue_written"], crafted.summary["profit_written"]) == ("200.61", "80.26")


def test_written_files_have_the_contract_schema(crafted: Outcome) -> None:
    assert crafted.curated_files and all(file.name.endswith(".snappy.parquet") for file in crafted.curated_files)
    for file in crafted.curated_files:
        assert arrow_columns(pq.read_schema(io.BytesIO(file.read_bytes()))) == contract_arrow_columns(), file
    assert crafted.quarantine_columns == [*CURATED_COLUMNS, "order_date", "reason"]


# ---------------------------------------------------------------- smaller runs

# A sensitive field the job never reads (the landing drops it; here it only shows the read schema ignores it).
USER = {"id": 1, "firstName": "Emily", "lastName": "Johnson", "email": "emily@x.com",
        "password": "not-read",  # pragma: allowlist secret - a placeholder, not a secret
        "address": {"city": "Phoenix", "state": "Mississippi", "country": "United States"}}  # fmt: skip
PRODUCT = {"id": 162, "title": "Blue Frock", "category": "tops", "brand": "Zara", "price": 29.99}
SMALL_CARTS = [
    cart(1, 1, [{"id": 162, "title": "Blue Frock", "price": 29.99, "quantity": 4, "discountedTotal": 105.41}]),
    cart(2, 1, [{"id": 162, "title": "Blue Frock", "price": 29.99, "quantity": 0, "discountedTotal": 0}]),
    cart(3, 42, [{"id": 162, "title": "Blue Frock", "price": 29.99, "quantity": 1}]),
    # The same cart again, in the second part: this copy wins.
    cart(1, 1, [{"id": 162, "title": "Blue Frock", "price": 29.99, "quantity": 5, "discountedTotal": 131.77}]),
]


@pytest.fixture
def small_paths(tmp_path: Path, land_raw_local: Callable[..., str]) -> dict[str, str]:
    """A landed raw zone (carts in two parts) and output locations, all local."""
    land_raw_local("users", INGEST_DATE, [USER])
    land_raw_local("products", INGEST_DATE, [PRODUCT])
    return output_paths(tmp_path, land_raw_local("carts", INGEST_DATE, SMALL_CARTS, records_per_part=3))


def test_missing_manifest_is_a_config_error_naming_raw_path(spark: SparkSession, small_paths: dict[str, str]) -> None:
    with pytest.raises(JobConfigError) as error:
        orders_job.run(spark, job_args(small_paths, ingest_date="2026-06-18"))
    assert error.value.argument == "raw_path"
    assert "carts/ingest_date=2026-06-18/_manifest.json" in str(error.value)


def test_latest_copy_follows_the_manifest_order_not_the_file_names(
    spark: SparkSession, small_paths: dict[str, str], tmp_path: Path
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

    assert orders_job.run(spark, job_args(small_paths))["revenue_written"] == "149.95"  # the later-listed part wins
    reversed_order = {**manifest, "parts": [{**second, "file": moved}, first]}
    (folder / "_manifest.json").write_text(json.dumps(reversed_order))
    assert orders_job.run(spark, job_args(small_paths))["revenue_written"] == "119.96"  # listed first now: the other


def test_ids_the_landing_proved_unique_skip_the_duplicate_search(
    spark: SparkSession,
    small_paths: dict[str, str],
    land_raw_local: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    land_raw_local("carts", INGEST_DATE, SMALL_CARTS[:3])  # no repeated cart this time
    for resource in ("users", "products", "carts"):  # flagged as the landing flags ids strictly increasing
        manifest_file = tmp_path / "raw" / resource / f"ingest_date={INGEST_DATE.isoformat()}" / "_manifest.json"
        manifest_file.write_text(json.dumps({**json.loads(manifest_file.read_text()), "ids_strictly_increasing": True}))

    def not_searched(*_args: Any) -> None:
        raise AssertionError("the duplicate search ran although the landing proved the ids unique")

    monkeypatch.setattr(orders_job, "latest_copies", not_searched)
    monkeypatch.setattr(dedupe, "filter_latest_by", not_searched)

    summary = orders_job.run(spark, job_args(small_paths))

    assert (summary["rows_read"], summary["rows_written"], summary["duplicates_removed"]) == (3, 1, 0)
    assert summary["quarantined_by_reason"] == {"invalid_quantity": 1, "unknown_customer": 1}
    assert summary["revenue_written"] == "119.96"  # 29.99 × 4: the only copy of cart 1
