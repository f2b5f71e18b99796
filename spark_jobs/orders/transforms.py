"""Transforms (DataFrame -> DataFrame) from cart records to classified order lines, chained by job.run.

`explode_cart_lines` makes one row per cart line; each `with_*` adds columns (and drops the helper columns it
consumed); each `filter_*` drops rows. A transform that needs a parameter is a function returning the transform,
so every step chains with `.transform(...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from spark_jobs.orders.columns import blank_as_null, full_name, money, or_unknown, order_id, unit_cost
from spark_jobs.orders.schema import (
    CURATED_COLUMNS,
    CUSTOMER_DEFAULTED,
    PERCENT,
    PRODUCT_DEFAULTED,
    QUARANTINE_REASONS,
    UNKNOWN,
)

# Per cart: the occurrence of each line's product among the lines up to it (1, 2, ... in line order). Higher-order
# functions run interpreted, so they are only evaluated for the rare carts that list a product twice; numbering
# inside the cart's array needs no shuffle (a window over all lines would sort them).
OCCURRENCES = "transform(products, (line, i) -> size(filter(slice(products, 1, i), e -> e.id <=> line.id)) + 1)"


def explode_cart_lines(carts: DataFrame) -> DataFrame:
    """One row per cart line: the cart's keys, the line's position and product occurrence, its exact amounts."""
    repeats_a_product = F.size(F.array_distinct(F.col("products.id"))) < F.size("products")
    exploded = carts.select(
        F.col("id").alias("cart_id"),
        F.col("userId").alias("customer_id"),
        F.col("date").alias("cart_date"),
        F.col("status").alias("cart_status"),
        "source_part",
        "source_position",
        F.when(repeats_a_product, F.expr(OCCURRENCES)).alias("occurrences"),
        F.posexplode("products").alias("line_position", "line"),
    )
    return exploded.select(
        "cart_id", "customer_id", "cart_date", "cart_status", "source_part", "source_position", "line_position",
        F.coalesce(F.element_at("occurrences", F.col("line_position") + 1), F.lit(1)).alias("occurrence"),
        F.col("line.id").alias("product_id"),
        F.col("line.title").alias("line_title"),  # trimmed only where it is used: when the product has none
        F.col("line.quantity").alias("quantity"),
        money(F.col("line.price")).alias("unit_price"),
        F.col("line.discountPercentage").cast(PERCENT).alias("discount_percentage"),
        money(F.col("line.discountedTotal")).alias("discounted_revenue"),
    )  # fmt: skip


def with_order_date(ingest_date: date) -> Callable[[DataFrame], DataFrame]:
    """order_date (the cart's date, else the ingest date) and order_date_invalid (a date that does not parse).

    Computed on the narrow lines, before job.run sorts them by it: the partitioned write then finds its rows
    already in order_date order and skips its own sort of the wide rows.
    """

    def transform(lines: DataFrame) -> DataFrame:
        cart_date = blank_as_null(F.col("cart_date"))
        return (
            lines.withColumn("_parsed_date", F.to_date(cart_date))
            .withColumn("order_date_invalid", cart_date.isNotNull() & F.col("_parsed_date").isNull())
            .withColumn("order_date", F.coalesce("_parsed_date", F.to_date(F.lit(ingest_date.isoformat()))))
            .drop("_parsed_date", "cart_date")
        )

    return transform


def with_order_id(lines: DataFrame) -> DataFrame:
    """order_id, numbering repeated products inside one cart record in line order."""
    return lines.withColumn("order_id", order_id(F.col("cart_id"), F.col("product_id"), F.col("occurrence")))


def with_product_details(products: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Join the product record (one per id: dedupe.filter_latest_records): title (fallback: the line's title),
    category, brand, product_known.

    The descriptive defaults are applied to the small lookup, not to every line; a line without a product gets
    `Unknown` from the join's miss (and is quarantined as unknown_product).
    """
    lookup = products.select(
        F.col("id").alias("product_id"),
        blank_as_null(F.col("title")).alias("_product_title"),
        or_unknown(F.col("category")).alias("category"),
        or_unknown(F.col("brand")).alias("brand"),
        F.lit(True).alias("product_known"),
    )

    def transform(lines: DataFrame) -> DataFrame:
        joined = lines.join(lookup, on="product_id", how="left")
        return joined.withColumns(
            {
                "product_title": F.coalesce("_product_title", blank_as_null(F.col("line_title"))),
                "product_known": F.coalesce("product_known", F.lit(False)),
                **_unknown_when_missing(PRODUCT_DEFAULTED),
            }
        ).drop("_product_title", "line_title")

    return transform


def with_customer_details(users: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Join the user record (one per id: dedupe.filter_latest_records): customer_name, customer_email, city,
    state, country, customer_known."""
    lookup = users.select(
        F.col("id").alias("customer_id"),
        or_unknown(full_name(F.col("firstName"), F.col("lastName"))).alias("customer_name"),
        or_unknown(F.col("email")).alias("customer_email"),
        or_unknown(F.col("address.city")).alias("city"),
        or_unknown(F.col("address.state")).alias("state"),
        or_unknown(F.col("address.country")).alias("country"),
        F.lit(True).alias("customer_known"),
    )

    def transform(lines: DataFrame) -> DataFrame:
        return lines.join(lookup, on="customer_id", how="left").withColumns(
            {
                "customer_known": F.coalesce("customer_known", F.lit(False)),
                **_unknown_when_missing(CUSTOMER_DEFAULTED),
            }
        )

    return transform


def _unknown_when_missing(names: Sequence[str]) -> dict[str, Column]:
    """`Unknown` for descriptive columns that a lookup join did not fill (its values are already defaulted)."""
    return {name: F.coalesce(F.col(name), F.lit(UNKNOWN)) for name in names}


def with_order_amounts(cost_ratio: Decimal) -> Callable[[DataFrame], DataFrame]:
    """revenue, cost_price (per unit) and profit, all DECIMAL(12,2) and exact, from unit_price and quantity."""

    def transform(lines: DataFrame) -> DataFrame:
        unit_price = F.col("unit_price")
        cost_price = unit_cost(unit_price, cost_ratio)
        return lines.withColumns(
            {
                "revenue": money(unit_price * F.col("quantity")),
                "cost_price": cost_price,
                "profit": money((unit_price - cost_price) * F.col("quantity")),
            }
        )

    return transform


def with_order_attributes(default_status: str) -> Callable[[DataFrame], DataFrame]:
    """order_date_copy (order_date inside the files) and order_status (the cart's status, else the default)."""

    def transform(lines: DataFrame) -> DataFrame:
        return lines.withColumns(
            {
                "order_date_copy": F.col("order_date"),
                "order_status": F.coalesce(blank_as_null(F.col("cart_status")), F.lit(default_status)),
            }
        ).drop("cart_status")

    return transform


def with_run_metadata(ingested_at: datetime, run_id: str) -> Callable[[DataFrame], DataFrame]:
    """ingested_at (job start, UTC) and run_id."""

    def transform(lines: DataFrame) -> DataFrame:
        return lines.withColumns({"ingested_at": F.lit(ingested_at).cast("timestamp"), "run_id": F.lit(run_id)})

    return transform


def with_quarantine_reason(lines: DataFrame) -> DataFrame:
    """reason: the first rule a row breaks, in QUARANTINE_REASONS order (null when it is clean)."""
    rules = [
        (
            "null_key",
            F.col("cart_id").isNull() | F.col("product_id").isNull() | F.col("customer_id").isNull(),
        ),
        ("unknown_product", ~F.col("product_known")),
        ("unknown_customer", ~F.col("customer_known")),
        ("invalid_quantity", F.col("quantity").isNull() | (F.col("quantity") <= 0)),
        ("invalid_unit_price", F.col("unit_price").isNull() | (F.col("unit_price") <= 0)),
        ("missing_product_title", F.col("product_title").isNull()),
        ("invalid_order_date", F.col("order_date_invalid")),
    ]
    assert tuple(name for name, _ in rules) == QUARANTINE_REASONS
    reason = F.lit(None).cast(StringType())
    for name, broken in reversed(rules):
        reason = F.when(broken, F.lit(name)).otherwise(reason)
    return lines.withColumn("reason", reason)


def filter_curated(classified: DataFrame) -> DataFrame:
    """Rows to publish: not a duplicate, no quarantine reason; curated columns plus the partition column."""
    kept = classified.where(~F.col("is_duplicate") & F.col("reason").isNull())
    return kept.select(*CURATED_COLUMNS, "order_date")


def filter_quarantined(classified: DataFrame) -> DataFrame:
    """Rejected rows (duplicate cart copies are counted, not quarantined), with their reason."""
    return classified.where(~F.col("is_duplicate") & F.col("reason").isNotNull()).select(
        *CURATED_COLUMNS, "order_date", "reason"
    )
