"""The orders job's column functions and transforms, each on a tiny hand-made DataFrame with null and blank rows.

Every expected value is computed by hand, money to the cent. The chain of them, as `run` composes it, is tested in
test_orders_job_run.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from spark_jobs.orders import columns, transforms
from spark_jobs.orders.schema import CART_SCHEMA, CURATED_COLUMNS, CURATED_SCHEMA, MONEY, PERCENT

INGEST_DATE = date(2026, 6, 17)


def rows(df: DataFrame, *names: str) -> list[tuple[Any, ...]]:
    """The named columns of every row, sorted (nulls first), for order-free comparisons."""
    return sorted(
        (tuple(row) for row in df.select(*names).collect()), key=lambda row: [(v is not None, v) for v in row]
    )


def cart_line(product_id: int | None, title: str | None, price: str | None, quantity: int | None) -> tuple[Any, ...]:
    """A cart line as the read schema holds it (money as Decimal)."""
    return (product_id, title, Decimal(price) if price else None, quantity, None, Decimal("12.50"), Decimal("5.00"))


def test_column_functions(spark: SparkSession) -> None:
    source = spark.createDataFrame(
        [("  a b ", " Ann ", " Lee ", 7, 12, Decimal("1.45"), Decimal("29.99")),
         ("   ", "", None, 7, None, Decimal("0.01"), Decimal("10.00")),
         (None, None, None, None, 3, Decimal("2.35"), Decimal("0.05"))],
        "text string, first string, last string, cart long, product long, price decimal(12,2), other decimal(12,2)",
    )  # fmt: skip
    result = source.select(
        columns.blank_as_null(F.col("text")).alias("blank_as_null"),
        columns.or_unknown(F.col("text")).alias("or_unknown"),
        columns.full_name(F.col("first"), F.col("last")).alias("full_name"),
        columns.order_id(F.col("cart"), F.col("product"), F.lit(1)).alias("first_line"),
        columns.order_id(F.col("cart"), F.col("product"), F.lit(3)).alias("third_line"),
        columns.unit_cost(F.col("price"), Decimal("0.5")).alias("cost_half"),  # 1.45 × 0.5 = 0.725 -> 0.73
        columns.unit_cost(F.col("other"), Decimal("0.6")).alias("cost_sixty"),
        columns.money(F.col("price") / 3).alias("third_of_price"),
    ).collect()
    assert [row.asDict() for row in result] == [
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


def test_explode_cart_lines_makes_one_row_per_line_and_numbers_repeated_products(spark: SparkSession) -> None:
    read_order = [StructField("source_part", IntegerType()), StructField("source_position", LongType())]
    carts = spark.createDataFrame(
        [
            (
                1,
                7,
                "2026-05-01",
                "shipped",
                [cart_line(10, "Frock", "29.99", 2), cart_line(11, "Mug", "5.00", 1), cart_line(10, None, "29.99", 3)],
                0,
                4,
            ),
            (2, 8, None, None, [], 0, 5),  # no lines: no rows
            (3, 9, None, None, None, 1, 0),
        ],
        StructType([*CART_SCHEMA.fields, *read_order]),
    )

    lines = carts.transform(transforms.explode_cart_lines)

    assert lines.columns == [
        "cart_id", "customer_id", "cart_date", "cart_status", "source_part", "source_position", "line_position",
        "occurrence", "product_id", "line_title", "quantity", "unit_price", "discount_percentage",
        "discounted_revenue",
    ]  # fmt: skip
    assert (lines.schema["unit_price"].dataType, lines.schema["discount_percentage"].dataType) == (MONEY, PERCENT)
    money, percent = Decimal("5.00"), Decimal("12.50")
    assert rows(lines, *lines.columns) == [
        (1, 7, "2026-05-01", "shipped", 0, 4, 0, 1, 10, "Frock", 2, Decimal("29.99"), percent, money),
        (1, 7, "2026-05-01", "shipped", 0, 4, 1, 1, 11, "Mug", 1, Decimal("5.00"), percent, money),
        (1, 7, "2026-05-01", "shipped", 0, 4, 2, 2, 10, None, 3, Decimal("29.99"), percent, money),
    ]


def test_with_order_date_takes_the_carts_date_else_the_ingest_date(spark: SparkSession) -> None:
    lines = spark.createDataFrame(
        [(1, "2026-05-01"), (2, "  "), (3, None), (4, "not-a-date")], "cart_id long, cart_date string"
    )
    dated = lines.transform(transforms.with_order_date(INGEST_DATE))
    assert dated.columns == ["cart_id", "order_date_invalid", "order_date"]
    assert rows(dated, "cart_id", "order_date", "order_date_invalid") == [
        (1, date(2026, 5, 1), False),
        (2, INGEST_DATE, False),  # blank: no date given
        (3, INGEST_DATE, False),
        (4, INGEST_DATE, True),  # a date that does not parse: quarantined later
    ]


def test_with_order_id_suffixes_repeated_products_and_is_null_without_a_key(spark: SparkSession) -> None:
    lines = spark.createDataFrame(
        [(7, 12, 1), (7, 12, 2), (None, 12, 1), (7, None, 1)], "cart_id long, product_id long, occurrence int"
    )
    result = lines.transform(transforms.with_order_id)
    assert rows(result, "cart_id", "product_id", "order_id") == [
        (None, 12, None), (7, None, None), (7, 12, "ORD-7-12"), (7, 12, "ORD-7-12-2"),
    ]  # fmt: skip


def test_with_product_details_joins_the_product_and_defaults_blanks(spark: SparkSession) -> None:
    products = spark.createDataFrame(
        [(10, " Frock ", " tops ", None), (11, "  ", "", "Acme")],
        "id long, title string, category string, brand string",
    )
    lines = spark.createDataFrame(
        [(10, "line title"), (11, " Line Title "), (99, "Ghost"), (None, "t")], "product_id long, line_title string"
    )
    result = lines.transform(transforms.with_product_details(products))
    assert "line_title" not in result.columns
    assert rows(result, "product_id", "product_title", "category", "brand", "product_known") == [
        (None, "t", "Unknown", "Unknown", False),
        (10, "Frock", "tops", "Unknown", True),  # the product's own title wins over the line's
        (11, "Line Title", "Unknown", "Acme", True),  # the product's title is blank: the line's
        (99, "Ghost", "Unknown", "Unknown", False),  # no such product: quarantined as unknown_product
    ]


def test_with_customer_details_joins_the_user_and_defaults_blanks(spark: SparkSession) -> None:
    address = "struct<city: string, state: string, country: string>"
    users = spark.createDataFrame(
        [(1, " Emily ", "Johnson", " e@x.com ", ("Phoenix", " ", "US")), (2, "", None, "  ", None)],
        f"id long, firstName string, lastName string, email string, address {address}",
    )
    lines = spark.createDataFrame([(1,), (2,), (3,)], "customer_id long")
    result = lines.transform(transforms.with_customer_details(users))
    unknown = ("Unknown",) * 5
    assert rows(result, "customer_id", "customer_name", "customer_email", "city", "state", "country",
                "customer_known") == [
        (1, "Emily Johnson", "e@x.com", "Phoenix", "Unknown", "US", True),
        (2, *unknown, True),
        (3, *unknown, False),  # no such user: quarantined as unknown_customer
    ]  # fmt: skip


def test_with_order_amounts_adds_exact_revenue_cost_and_profit(spark: SparkSession) -> None:
    lines = spark.createDataFrame(
        [(Decimal("29.99"), 4), (Decimal("10.05"), 3), (Decimal("0.05"), 1)],
        StructType([StructField("unit_price", MONEY), StructField("quantity", IntegerType())]),
    )
    result = lines.transform(transforms.with_order_amounts(Decimal("0.6")))
    assert result.columns == ["unit_price", "quantity", "revenue", "cost_price", "profit"]  # added, none replaced
    assert {result.schema[name].dataType for name in ("revenue", "cost_price", "profit")} == {MONEY}
    assert rows(result, *result.columns) == [
        (Decimal("0.05"), 1, Decimal("0.05"), Decimal("0.03"), Decimal("0.02")),  # 0.05 × 0.6 = 0.030
        (Decimal("10.05"), 3, Decimal("30.15"), Decimal("6.03"), Decimal("12.06")),  # (10.05 − 6.03) × 3
        (Decimal("29.99"), 4, Decimal("119.96"), Decimal("17.99"), Decimal("48.00")),  # 29.99 × 0.6 = 17.994
    ]


def test_with_order_attributes_keeps_the_carts_status_else_the_default(spark: SparkSession) -> None:
    day = date(2026, 5, 1)
    lines = spark.createDataFrame(
        [(1, day, " shipped "), (2, day, "  "), (3, INGEST_DATE, None)],
        "cart_id long, order_date date, cart_status string",
    )
    result = lines.transform(transforms.with_order_attributes("completed"))
    assert "cart_status" not in result.columns
    assert rows(result, "cart_id", "order_status", "order_date_copy") == [
        (1, "shipped", day), (2, "completed", day), (3, "completed", INGEST_DATE),
    ]  # fmt: skip


def test_with_run_metadata_stamps_every_line(spark: SparkSession) -> None:
    started = datetime(2026, 6, 17, 10, 15, tzinfo=UTC)
    result = spark.createDataFrame([(1,), (2,)], "cart_id long").transform(transforms.with_run_metadata(started, "r7"))
    assert result.schema["ingested_at"].dataType == TimestampType()
    assert {(row.ingested_at.replace(tzinfo=UTC), row.run_id) for row in result.collect()} == {(started, "r7")}


QUARANTINE_INPUT = StructType(
    [StructField("case", StringType()), StructField("cart_id", LongType()), StructField("product_id", LongType()),
     StructField("customer_id", LongType()), StructField("product_known", BooleanType()),
     StructField("customer_known", BooleanType()), StructField("quantity", IntegerType()),
     StructField("unit_price", MONEY), StructField("product_title", StringType()),
     StructField("order_date_invalid", BooleanType())]
)  # fmt: skip


# (case, values that differ from a clean line, expected reason): each rule, and which one wins when several break.
QUARANTINE_CASES = [
    ("clean", {}, None),
    ("no product id, unknown, no quantity", {"product_id": None, "product_known": False, "quantity": 0}, "null_key"),
    ("no cart id", {"cart_id": None}, "null_key"),
    ("unknown product", {"product_known": False, "quantity": 0}, "unknown_product"),
    ("unknown customer", {"customer_known": False, "unit_price": Decimal("0.00")}, "unknown_customer"),
    ("zero quantity", {"quantity": 0}, "invalid_quantity"),
    ("no quantity", {"quantity": None}, "invalid_quantity"),
    ("zero price", {"unit_price": Decimal("0.00")}, "invalid_unit_price"),
    ("no price", {"unit_price": None, "product_title": None}, "invalid_unit_price"),
    ("no title", {"product_title": None}, "missing_product_title"),
    ("bad date", {"order_date_invalid": True}, "invalid_order_date"),
]


def test_with_quarantine_reason_names_the_first_rule_broken(spark: SparkSession) -> None:
    clean = {
        "cart_id": 1, "product_id": 10, "customer_id": 5, "product_known": True, "customer_known": True,
        "quantity": 2, "unit_price": Decimal("1.00"), "product_title": "Frock", "order_date_invalid": False,
    }  # fmt: skip
    lines = [{"case": case, **clean, **values} for case, values, _ in QUARANTINE_CASES]
    frame = spark.createDataFrame(
        [tuple(line[name] for name in QUARANTINE_INPUT.fieldNames()) for line in lines], QUARANTINE_INPUT
    )
    reasons = dict(rows(frame.transform(transforms.with_quarantine_reason), "case", "reason"))
    assert reasons == {case: reason for case, _, reason in QUARANTINE_CASES}


def classified_frame(spark: SparkSession) -> DataFrame:
    """Four classified lines (A clean, B a duplicate copy, C quarantined, D a quarantined duplicate copy), with
    every curated column, the partition column and a helper column the filters must leave out."""
    fields = [StructField(field.name, field.dataType) for field in CURATED_SCHEMA.fields]
    extra = [StructField(name, kind) for name, kind in
             (("order_date", DateType()), ("is_duplicate", BooleanType()), ("reason", StringType()),
              ("line_position", IntegerType()))]  # fmt: skip
    filler = {StringType(): "x", LongType(): 1, IntegerType(): 1, DateType(): INGEST_DATE,
              TimestampType(): datetime(2026, 6, 17, 10, 15)}  # fmt: skip

    def line(order_id: str, duplicate: bool, reason: str | None) -> tuple[Any, ...]:
        values = [Decimal("1.00") if isinstance(f.dataType, DecimalType) else filler[f.dataType] for f in fields]
        return (order_id, *values[1:], INGEST_DATE, duplicate, reason, 0)

    rows_in = [line("A", False, None), line("B", True, None), line("C", False, "invalid_quantity"),
               line("D", True, "null_key")]  # fmt: skip
    return spark.createDataFrame(rows_in, StructType(fields + extra))


def test_filter_curated_keeps_clean_latest_lines_with_the_curated_columns(spark: SparkSession) -> None:
    curated = classified_frame(spark).transform(transforms.filter_curated)
    assert curated.columns == [*CURATED_COLUMNS, "order_date"]
    assert [row.order_id for row in curated.collect()] == ["A"]


def test_filter_quarantined_keeps_rejected_lines_that_are_not_duplicates(spark: SparkSession) -> None:
    quarantined = classified_frame(spark).transform(transforms.filter_quarantined)
    assert quarantined.columns == [*CURATED_COLUMNS, "order_date", "reason"]
    assert [(row.order_id, row.reason) for row in quarantined.collect()] == [("C", "invalid_quantity")]
