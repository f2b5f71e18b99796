"""Property-based tests of the money path: JSON text -> raw zone -> the job's formulas -> totals.

For any valid input, every amount is exact to the cent: revenue = price × quantity,
cost_price = round_half_up(price × cost_ratio, 2), profit = (price − cost_price) × quantity, and therefore
revenue = cost_price × quantity + profit; totals over many lines equal the exact Decimal sums.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, IntegerType, StructField, StructType

from ecom_pipeline.extract.models import MONEY_LIMIT, validate_record
from ecom_pipeline.land.raw_parts import json_line
from spark_jobs.orders.schema import MONEY
from spark_jobs.orders.transforms import with_order_amounts

CENT = Decimal("0.01")

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
quantities = st.integers(min_value=1, max_value=10_000)
cost_ratios = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.9999"), places=4)
lines = st.lists(st.tuples(prices, quantities), min_size=1, max_size=80)


@given(price=prices, quantity=quantities)
def test_a_price_survives_the_api_json_validation_and_the_raw_zone_exactly(price: Decimal, quantity: int) -> None:
    # The API sends a JSON number; the client parses it as Python does, validation reads its literal.
    sent = f'{{"id": 1, "userId": 1, "products": [{{"id": 1, "price": {price}, "quantity": {quantity}}}]}}'
    record = json.loads(sent)
    assert validate_record("carts", record) is None
    landed = json.loads(json_line(record), parse_float=Decimal)
    assert landed["products"][0]["price"] == price  # the exact digits that were sent


@given(price=prices, quantity=st.integers(min_value=1, max_value=2**31 - 1))
def test_a_line_whose_revenue_would_overflow_the_curated_type_is_refused_at_the_door(
    price: Decimal, quantity: int
) -> None:
    reason = validate_record(
        "carts", {"id": 1, "userId": 1, "products": [{"id": 1, "price": price, "quantity": quantity}]}
    )
    assert (reason is None) == (price * quantity < MONEY_LIMIT)


# Each example is a Spark job (~0.5 s): fewer examples, each with many lines.
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order_lines=lines, cost_ratio=cost_ratios)
def test_the_jobs_amounts_are_exact_and_revenue_is_cost_plus_profit(
    spark: SparkSession, order_lines: list[tuple[Decimal, int]], cost_ratio: Decimal
) -> None:
    schema = StructType([StructField("unit_price", MONEY), StructField("quantity", IntegerType())])
    frame = spark.createDataFrame(order_lines, schema).withColumn(
        "discount_percentage", F.lit(None).cast("decimal(5,2)")
    )
    frame = frame.withColumn("discounted_revenue", F.lit(None).cast(MONEY))
    amounts = frame.transform(with_order_amounts(cost_ratio))
    totals = amounts.agg(
        F.sum("revenue").alias("revenue"),
        F.sum("profit").alias("profit"),
        F.sum(F.col("cost_price") * F.col("quantity")),
    ).first()
    rows = amounts.select("unit_price", "quantity", "revenue", "cost_price", "profit").collect()

    for (price, quantity), row in zip(order_lines, rows, strict=True):
        cost = (price * cost_ratio).quantize(CENT, rounding=ROUND_HALF_UP)
        assert row["revenue"] == price * quantity
        assert row["cost_price"] == cost
        assert row["profit"] == (price - cost) * quantity
        assert row["revenue"] == row["cost_price"] * row["quantity"] + row["profit"]
    assert isinstance(totals[0], Decimal)  # never a float on the way
    assert totals[0] == sum((price * quantity for price, quantity in order_lines), Decimal(0))
    assert totals[0] == totals[2] + totals[1]  # revenue = cost + profit, over the whole set too


def test_money_is_a_decimal_with_two_places() -> None:
    assert isinstance(MONEY, DecimalType) and (MONEY.precision, MONEY.scale) == (12, 2)
