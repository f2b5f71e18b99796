"""What the job reads and what it publishes: the explicit read schemas and the curated schema.

The read schemas skip Spark's inference pass and read money as decimals, so "29.99" is parsed exactly. The curated
schema is the curated contract (curated.py, plain Python so that the loader needs no pyspark) as Spark types.
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

from spark_jobs.orders.curated import CURATED_COLUMNS, CURATED_CONTRACT

__all__ = ["CURATED_COLUMNS", "CURATED_SCHEMA"]

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

# The Spark type of each type name the curated contract (curated.py) uses.
_CURATED_TYPES = {
    "string": StringType(),
    "bigint": LongType(),
    "int": IntegerType(),
    "decimal(12,2)": MONEY,
    "decimal(5,2)": PERCENT,
    "timestamp": TimestampType(),
    "date": DateType(),
}
CURATED_SCHEMA = StructType(
    [StructField(name, _CURATED_TYPES[type_name], nullable) for name, type_name, nullable in CURATED_CONTRACT]
)
# Descriptive fields: blank or missing becomes `Unknown` (keys and the title are never defaulted).
PRODUCT_DEFAULTED = ("category", "brand")
CUSTOMER_DEFAULTED = ("customer_name", "customer_email", "city", "state", "country")
# Why a row is quarantined; a row that breaks several rules gets the first (transforms.with_quarantine_reason).
QUARANTINE_REASONS = (
    "null_key", "unknown_product", "unknown_customer", "invalid_quantity", "invalid_unit_price",
    "missing_product_title", "invalid_order_date",
)  # fmt: skip
