"""Enrichment formulas and cleaning/quarantine rules of the orders job, on tiny hand-made DataFrames.

One `classify_orders` run over a crafted set of carts (null, blank, unknown, repeated and duplicated cases) is
collected once; each test asserts one rule against hand-computed values, to the cent.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orders_job as job
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StructField,
    StructType,
)

INGEST_DATE = date(2026, 6, 17)
INGESTED_AT = datetime(2026, 6, 17, 10, 15, tzinfo=UTC)
PART_A, PART_B = 0, 1  # indexes of the parts in the manifest: B was landed after A
SOURCE_COLUMNS = [StructField("source_part", IntegerType()), StructField("source_position", LongType())]


def line(product_id: int | None, price: str | None, quantity: int | None, title: str | None = "Line") -> tuple:
    """A cart line as read from JSON (money as Decimal)."""
    price_value = Decimal(price) if price is not None else None
    return (product_id, title, price_value, quantity, None, Decimal("10.00"), Decimal("1.00"))


def frame(spark: SparkSession, schema: StructType, rows: list[tuple]) -> DataFrame:
    """A DataFrame with the job's read schema plus the read-order columns."""
    return spark.createDataFrame(rows, StructType([*schema.fields, *SOURCE_COLUMNS]))


CARTS = [
    (1, 1, None, None, [(10, " Blue Frock ", Decimal("29.99"), 4, None, Decimal("12.13"), Decimal("105.41")),
                        line(11, "10.05", 3)], PART_A, 0),
    (2, 2, "", "  ", [line(12, "5.00", 1, title="Line Title")], PART_A, 1),
    (3, 99, None, None, [line(10, "1.00", 1)], PART_A, 2),
    (4, 1, None, None, [line(999, "1.00", 1)], PART_A, 3),
    (5, None, None, None, [line(10, "1.00", 1)], PART_A, 4),
    (6, 1, None, None, [line(10, "1.00", 0), line(11, "0.00", 1), line(None, "1.00", 1), line(11, None, 2)],
     PART_A, 5),
    (7, 1, None, None, [line(10, "2.50", 2), line(10, "2.50", 5)], PART_A, 6),
    (8, 1, None, None, [line(10, "3.00", 1)], PART_A, 7),
    (8, 1, None, None, [line(10, "3.00", 7)], PART_A, 8),
    (8, 1, None, None, [line(10, "3.00", 9)], PART_B, 0),  # later part: wins over both copies in part A
    (9, 1, "2026-05-01", " shipped ", [line(10, "1.00", 1)], PART_B, 1),
    (10, 1, "not-a-date", None, [line(10, "1.00", 1)], PART_B, 2),
    (11, 1, None, None, [line(13, "1.00", 1, title="   ")], PART_B, 3),
    (None, 1, None, None, [line(10, "1.00", 1)], PART_B, 4),
    (13, 1, None, None, [], PART_B, 5),
    (14, 1, None, None, None, PART_B, 6),
]  # fmt: skip
PRODUCTS = [
    (10, "Old Title", "old", "OldBrand", PART_A, 0),
    (10, "Blue Frock Deluxe", " tops ", " Zara ", PART_B, 0),
    (11, "Mug", "", None, PART_A, 1),
    (12, "  ", " ", None, PART_A, 2),
    (13, None, "misc", "Acme", PART_A, 3),
    (None, "ghost", "x", "y", PART_A, 4),
]
USERS = [
    (1, "Old", "Name", "old@x.com", ("Nowhere", "NA", "Nowhere"), PART_A, 0),
    (1, " Emily ", "Johnson", " emily@x.com ", ("Phoenix", " ", "United States"), PART_B, 0),
    (2, "", None, "  ", None, PART_A, 1),
]
LINES_READ = 2 + 1 + 1 + 1 + 1 + 4 + 2 + 3 + 1 + 1 + 1 + 1 + 0 + 0  # lines per cart record, in CARTS order


def job_args() -> job.JobArgs:
    """Arguments as main() would parse them (cost ratio 0.6, default status `completed`)."""
    paths = {name: "file:///unused" for name in ("raw_path", "curated_path", "quarantine_path", "summary_path")}
    options = {**paths, "ingest_date": INGEST_DATE.isoformat(), "run_id": "run-7"}
    return job.parse_args(
        ["orders_job.py", *[item for name, value in options.items() for item in (f"--{name}", value)]]
    )


@pytest.fixture(scope="module")
def classified(spark: SparkSession) -> list[dict[str, Any]]:
    """The crafted carts through the whole enrich + clean chain, collected once."""
    result = job.classify_orders(
        frame(spark, job.CART_SCHEMA, CARTS),
        frame(spark, job.PRODUCT_SCHEMA, PRODUCTS),
        frame(spark, job.USER_SCHEMA, USERS),
        job_args(),
        INGESTED_AT,
    )
    return [row.asDict() for row in result.collect()]


def published(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows that would be written to the curated zone, by order_id."""
    return {row["order_id"]: row for row in rows if not row["is_duplicate"] and row["reason"] is None}


def test_line_is_enriched_with_product_customer_and_exact_money(classified: list[dict[str, Any]]) -> None:
    order = published(classified)["ORD-1-10"]
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


def test_cost_price_rounds_half_up_per_unit(classified: list[dict[str, Any]]) -> None:
    order = published(classified)["ORD-1-11"]
    assert order["cost_price"] == Decimal("6.03")  # 10.05 × 0.6 = 6.030
    assert order["revenue"] == Decimal("30.15")
    assert order["profit"] == Decimal("12.06")  # (10.05 − 6.03) × 3


def test_blank_descriptive_fields_become_unknown_and_title_falls_back(
    classified: list[dict[str, Any]],
) -> None:
    mug = published(classified)["ORD-1-11"]
    assert (mug["product_title"], mug["category"], mug["brand"]) == ("Mug", "Unknown", "Unknown")
    order = published(classified)["ORD-2-12"]
    assert order["product_title"] == "Line Title"  # the product's own title is blank
    assert {key: order[key] for key in job.DEFAULTED_COLUMNS} == dict.fromkeys(job.DEFAULTED_COLUMNS, "Unknown")
    assert (order["order_status"], order["order_date"]) == ("completed", INGEST_DATE)  # blank status and date


def test_cart_date_and_status_are_used_when_present(classified: list[dict[str, Any]]) -> None:
    order = published(classified)["ORD-9-10"]
    assert (order["order_date"], order["order_date_copy"], order["order_status"]) == (
        date(2026, 5, 1),
        date(2026, 5, 1),
        "shipped",
    )


def test_repeated_product_in_a_cart_is_a_second_order_with_suffix(classified: list[dict[str, Any]]) -> None:
    orders = published(classified)
    assert (orders["ORD-7-10"]["quantity"], orders["ORD-7-10-2"]["quantity"]) == (2, 5)
    assert orders["ORD-7-10-2"]["revenue"] == Decimal("12.50")


def test_latest_landed_copy_of_a_cart_wins(classified: list[dict[str, Any]]) -> None:
    copies = [row for row in classified if row["cart_id"] == 8]
    assert sorted((row["quantity"], row["is_duplicate"]) for row in copies) == [
        (1, True),
        (7, True),
        (9, False),
    ]
    assert published(classified)["ORD-8-10"]["quantity"] == 9


def test_rows_breaking_a_rule_are_quarantined_with_the_first_reason(classified: list[dict[str, Any]]) -> None:
    reasons = sorted(
        (row["cart_id"] or 0, row["line_position"], row["reason"]) for row in classified if row["reason"] is not None
    )
    assert reasons == [
        (0, 0, "null_key"),  # cart without id
        (3, 0, "unknown_customer"),
        (4, 0, "unknown_product"),
        (5, 0, "null_key"),  # cart without user
        (6, 0, "invalid_quantity"),
        (6, 1, "invalid_unit_price"),
        (6, 2, "null_key"),  # line without product id
        (6, 3, "invalid_unit_price"),  # price missing
        (10, 0, "invalid_order_date"),
        (11, 0, "missing_product_title"),
    ]


def test_every_line_read_is_written_quarantined_or_a_duplicate(classified: list[dict[str, Any]]) -> None:
    written = published(classified)
    quarantined = [row for row in classified if not row["is_duplicate"] and row["reason"] is not None]
    duplicates = [row for row in classified if row["is_duplicate"]]
    assert len(classified) == LINES_READ == len(written) + len(quarantined) + len(duplicates)
    assert (len(written), len(quarantined), len(duplicates)) == (7, 10, 2)
    assert not any(row["is_duplicate"] and row["reason"] for row in classified)  # a duplicate is not quarantined


def test_curated_and_quarantine_frames_have_the_contract_schema(spark: SparkSession) -> None:
    empty = job.classify_orders(
        frame(spark, job.CART_SCHEMA, []),
        frame(spark, job.PRODUCT_SCHEMA, []),
        frame(spark, job.USER_SCHEMA, []),
        job_args(),
        INGESTED_AT,
    )
    curated = {field.name: field.dataType for field in empty.transform(job.filter_curated).schema.fields}
    assert list(curated) == [*job.CURATED_COLUMNS, "order_date"]
    money = DecimalType(12, 2)
    assert [curated[name] for name in ("unit_price", "discounted_revenue", "revenue", "cost_price", "profit")] == [
        money
    ] * 5
    assert curated["discount_percentage"] == DecimalType(5, 2)
    assert (curated["cart_id"], curated["quantity"], curated["order_date_copy"]) == (
        LongType(),
        IntegerType(),
        DateType(),
    )
    assert empty.transform(job.filter_quarantined).columns == [*job.CURATED_COLUMNS, "order_date", "reason"]


def test_column_functions(spark: SparkSession) -> None:
    source = spark.createDataFrame(
        [("  a b ", " Ann ", " Lee ", 7, 12, Decimal("1.45"), Decimal("29.99")),
         ("   ", "", None, 7, None, Decimal("0.01"), Decimal("10.00")),
         (None, None, None, None, 3, Decimal("2.35"), Decimal("0.05"))],
        "text string, first string, last string, cart long, product long, price decimal(12,2), other decimal(12,2)",
    )  # fmt: skip
    rows = source.select(
        job.blank_as_null(F.col("text")).alias("blank_as_null"),
        job.or_unknown(F.col("text")).alias("or_unknown"),
        job.full_name(F.col("first"), F.col("last")).alias("full_name"),
        job.order_id(F.col("cart"), F.col("product"), F.lit(1)).alias("first_line"),
        job.order_id(F.col("cart"), F.col("product"), F.lit(3)).alias("third_line"),
        job.unit_cost(F.col("price"), Decimal("0.5")).alias("cost_half"),  # 1.45 × 0.5 = 0.725 -> 0.73
        job.unit_cost(F.col("other"), Decimal("0.6")).alias("cost_sixty"),
        job.money(F.col("price") / 3).alias("third_of_price"),
    ).collect()
    assert [row.asDict() for row in rows] == [
        {"blank_as_null": "a b", "or_unknown": "a b", "full_name": "Ann Lee", "first_line": "ORD-7-12",
         "third_line": "ORD-7-12-3", "cost_half": Decimal("0.73"), "cost_sixty": Decimal("17.99"),
         "third_of_price": Decimal("0.48")},
        {"blank_as_null": None, "or_unknown": "Unknown", "full_name": None, "first_line": None,
         "third_line": None, "cost_half": Decimal("0.01"), "cost_sixty": Decimal("6.00"),
         "third_of_price": Decimal("0.00")},
        {"blank_as_null": None, "or_unknown": "Unknown", "full_name": None, "first_line": None,
         "third_line": None, "cost_half": Decimal("1.18"), "cost_sixty": Decimal("0.03"),
         "third_of_price": Decimal("0.78")},
    ]  # fmt: skip
