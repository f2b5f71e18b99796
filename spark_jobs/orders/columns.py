"""Column functions (Column -> Column): the cleaning and money rules, one expression each, no Python UDFs."""

from __future__ import annotations

from decimal import Decimal

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, StringType

from spark_jobs.orders.schema import MONEY, UNKNOWN


def blank_as_null(col: Column) -> Column:
    """Trimmed string, with empty or whitespace-only text as null."""
    trimmed = F.trim(col)
    return F.when(trimmed == "", F.lit(None).cast(StringType())).otherwise(trimmed)


def or_unknown(col: Column) -> Column:
    """The documented default for descriptive fields that are missing."""
    return F.coalesce(blank_as_null(col), F.lit(UNKNOWN))


def full_name(first: Column, last: Column) -> Column:
    """`firstName lastName`, skipping a missing part; null when both are missing."""
    return blank_as_null(F.concat_ws(" ", blank_as_null(first), blank_as_null(last)))


def order_id(cart_id: Column, product_id: Column, occurrence: Column) -> Column:
    """`ORD-{cart_id}-{product_id}`, plus `-N` for the N-th line (N > 1) of the same product in a cart.

    Null when either key is null (concat propagates nulls), which sends the row to quarantine.
    """
    suffix = F.when(occurrence > 1, F.concat(F.lit("-"), occurrence.cast(StringType()))).otherwise(F.lit(""))
    return F.concat(F.lit("ORD-"), cart_id.cast(StringType()), F.lit("-"), product_id.cast(StringType()), suffix)


def money(col: Column) -> Column:
    """Cast to DECIMAL(12,2); Spark rounds HALF_UP when the scale shrinks."""
    return col.cast(MONEY)


def unit_cost(unit_price: Column, cost_ratio: Decimal) -> Column:
    """round_half_up(unit_price × cost_ratio, 2), with the ratio as an exact decimal literal."""
    ratio = F.lit(str(cost_ratio)).cast(DecimalType(7, 6))  # string -> decimal: no float ever involved
    return money(F.round(unit_price * ratio, 2))
