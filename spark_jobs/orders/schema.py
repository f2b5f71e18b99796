"""What the job reads and what it publishes: the explicit read schemas and the curated contract, written once.

The read schemas skip Spark's inference pass and read money as decimals, so "29.99" is parsed exactly. The curated
contract is every column of the curated files, in file order, with its type and whether it may be null (not null:
what the quarantine rules guarantee and `orders` requires). The loader's column list derives from it; the warehouse
DDL, the DuckDB reference, the docs' table and the test data are tested against it (tests/test_curated_contract.py),
because COPY ... MATCH_BY_COLUMN_NAME loads a renamed column as NULL, silently. Importing this module starts no
Spark: the loader imports it.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

MONEY = DecimalType(12, 2)
PERCENT = DecimalType(5, 2)
UNKNOWN = "Unknown"

CART_LINE_SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("title", StringType()),
        StructField("price", MONEY),
        StructField("quantity", IntegerType()),
        StructField("total", MONEY),
        StructField("discountPercentage", PERCENT),
        StructField("discountedTotal", MONEY),
    ]
)
CART_SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("userId", LongType()),
        StructField("date", StringType()),  # DummyJSON carts have none; other sources may
        StructField("status", StringType()),
        StructField("products", ArrayType(CART_LINE_SCHEMA)),
    ]
)
PRODUCT_SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("title", StringType()),
        StructField("category", StringType()),
        StructField("brand", StringType()),
    ]
)
USER_SCHEMA = StructType(
    [
        StructField("id", LongType()),
        StructField("firstName", StringType()),
        StructField("lastName", StringType()),
        StructField("email", StringType()),
        StructField(
            "address",
            StructType([StructField(name, StringType()) for name in ("city", "state", "country")]),
        ),
    ]
)
READ_SCHEMAS = {"carts": CART_SCHEMA, "products": PRODUCT_SCHEMA, "users": USER_SCHEMA}

CURATED_SCHEMA = StructType(
    [
        StructField("order_id", StringType(), nullable=False),
        StructField("cart_id", LongType(), nullable=False),
        StructField("product_id", LongType(), nullable=False),
        StructField("customer_id", LongType(), nullable=False),
        StructField("product_title", StringType()),
        StructField("category", StringType()),
        StructField("brand", StringType()),
        StructField("customer_name", StringType()),
        StructField("customer_email", StringType()),
        StructField("city", StringType()),
        StructField("state", StringType()),
        StructField("country", StringType()),
        StructField("quantity", IntegerType(), nullable=False),
        StructField("unit_price", MONEY, nullable=False),
        StructField("discount_percentage", PERCENT),
        StructField("discounted_revenue", MONEY),
        StructField("revenue", MONEY, nullable=False),
        StructField("cost_price", MONEY, nullable=False),
        StructField("profit", MONEY, nullable=False),
        StructField("order_status", StringType()),
        StructField("ingested_at", TimestampType()),
        StructField("run_id", StringType()),
        StructField("order_date_copy", DateType(), nullable=False),  # the partition's order_date, inside the files
    ]
)
CURATED_COLUMNS = tuple(CURATED_SCHEMA.fieldNames())
# Descriptive fields: blank or missing becomes `Unknown` (keys and the title are never defaulted).
PRODUCT_DEFAULTED = ("category", "brand")
CUSTOMER_DEFAULTED = ("customer_name", "customer_email", "city", "state", "country")
DEFAULTED_COLUMNS = PRODUCT_DEFAULTED + CUSTOMER_DEFAULTED
# Why a row is quarantined; a row that breaks several rules gets the first (transforms.with_quarantine_reason).
QUARANTINE_REASONS = (
    "null_key", "unknown_product", "unknown_customer", "invalid_quantity", "invalid_unit_price",
    "missing_product_title", "invalid_order_date",
)  # fmt: skip
