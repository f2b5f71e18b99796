"""The curated contract (spark_jobs/orders/schema.py, CURATED_SCHEMA) as Parquet files hold it, for the tests that read
curated files written by the job, the DuckDB reference or the warehouse tests' data helper."""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql.types import DataType, DateType, DecimalType, IntegerType, LongType, StringType, TimestampType

from spark_jobs.orders.schema import CURATED_SCHEMA

# Spark type -> the Arrow type its Parquet column reads back as. Timestamps are compared without their unit. Spark
# writes TimestampType as INT64 TIMESTAMP(MICROS) adjusted to UTC (isAdjustedToUTC=true: Spark 3.3 has no other
# timestamp to write), which reads back with zone UTC; the DuckDB reference and the warehouse tests' data write the
# same, and the loader's session is in UTC, so Snowflake's TIMESTAMP_NTZ holds the UTC wall clock.
ARROW_TYPES: dict[type[DataType], str] = {
    StringType: "string",
    LongType: "int64",
    IntegerType: "int32",
    DateType: "date32[day]",
    TimestampType: "timestamp[tz=UTC]",
}


def arrow_type(kind: DataType) -> str:
    """The Arrow type, as text, of a curated column of Spark type `kind`."""
    if isinstance(kind, DecimalType):
        return str(pa.decimal128(kind.precision, kind.scale))
    return ARROW_TYPES[type(kind)]


def contract_arrow_columns() -> list[tuple[str, str]]:
    """(name, Arrow type) of every curated column, in file order."""
    return [(field.name, arrow_type(field.dataType)) for field in CURATED_SCHEMA.fields]


def arrow_columns(schema: pa.Schema) -> list[tuple[str, str]]:
    """(name, Arrow type) of a Parquet file's columns, in file order."""
    return [(field.name, _without_unit(field.type)) for field in schema]


def _without_unit(kind: pa.DataType) -> str:
    """The type as text; a timestamp without its unit, but with its zone if it has one."""
    if not pa.types.is_timestamp(kind):
        return str(kind)
    return "timestamp" if kind.tz is None else f"timestamp[tz={kind.tz}]"
