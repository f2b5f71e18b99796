"""The local adapter's statement table, its MERGE and SUM rewrites, and exact sums on the emulator."""

from __future__ import annotations

from decimal import Decimal

from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.connection import connect
from ecom_pipeline.warehouse.emulator_adapter import adapt


def test_adapter_skips_what_the_emulator_cannot_parse() -> None:
    for sql in (
        "create warehouse if not exists WH warehouse_size = 'XSMALL'",
        "CREATE  ROLE if not exists R",
        "grant usage on database D to role R",
        "create storage integration if not exists I type = external_stage",
    ):
        adapted = adapt(sql)
        assert adapted.skipped and adapted.gap is not None, sql


def test_adapter_passes_other_statements_through() -> None:
    sql = "create or replace view D.S.v as select 1 as x"
    assert adapt(sql).statements == (sql,)
    assert adapt(sql).gap is None


def test_merge_becomes_count_update_insert() -> None:
    adapted = adapt(
        "merge into D.S.orders as target using (select order_id, revenue from D.S.staging) as staged "
        "on target.order_id = staged.order_id "
        "when matched then update set revenue = staged.revenue "
        "when not matched then insert (order_id, revenue) values (staged.order_id, staged.revenue)"
    )
    inserted, updated, update, insert = adapted.statements
    assert adapted.merge_counts == (0, 1)
    assert "where not exists" in inserted.lower() and "where exists" in updated.lower()
    assert update.lower().startswith("update d.s.orders as target set revenue = staged.revenue from (")
    assert insert.lower().startswith("insert into d.s.orders (order_id, revenue) select staged.order_id")


def test_sums_are_cast_to_the_scale_of_the_summed_column() -> None:
    asked: list[object] = []

    def scales(tables: object) -> dict[str, int]:
        asked.append(tables)
        return {"QUANTITY": 0, "REVENUE": 2}

    sql = (
        "create or replace view D.S.v as with orders as (select quantity, revenue, note from D.S.orders) "
        "select sum(quantity) as units, sum(revenue) as revenue, sum(quantity * 2) as doubled from orders"
    )
    [adapted] = adapt(sql, scales).statements
    assert asked == [[("D", "S", "orders")]]  # the tables the statement names, not its CTE
    assert "SUM(CAST(quantity AS DECIMAL(38, 0))) AS units" in adapted
    assert "SUM(CAST(revenue AS DECIMAL(38, 2))) AS revenue" in adapted
    assert "SUM(CAST(quantity * 2 AS DECIMAL(38, 2))) AS doubled" in adapted  # not a column: taken as money
    assert "DECIMAL(38, 2)" in adapt("select sum(x) from D.S.t").statements[0]  # no lookup given


def test_money_sums_on_the_emulator_are_exact_decimals(warehouse_settings: Settings) -> None:
    """fakesnow alone sums NUMBER through DOUBLE; through the adapter the total is exact to the cent."""
    amounts = [Decimal("12345678901234.56")] + [Decimal("0.01")] * 40 + [Decimal("0.07")] * 9
    exact = sum(amounts, Decimal(0))
    schema = f"{warehouse_settings.snowflake.database}.MONEY"
    with connect(warehouse_settings.snowflake) as warehouse:
        warehouse.execute(f"create database if not exists {warehouse_settings.snowflake.database}")
        warehouse.execute(f"create schema if not exists {schema}")
        warehouse.execute(f"create table {schema}.amounts (amount number(18, 2))")
        for amount in amounts:
            warehouse.execute(f"insert into {schema}.amounts (amount) values (?)", [str(amount)])
        [(adapted,)] = warehouse.execute(f"select cast(round(sum(amount), 2) as number(18, 2)) from {schema}.amounts")
        [(as_double,)] = warehouse.execute(f"select sum(try_cast(amount as double)) from {schema}.amounts")
        warehouse.execute(f"create table {schema}.lines (quantity number(10, 0), price number(12, 2))")
        warehouse.execute(f"insert into {schema}.lines (quantity, price) values (2, 1.10), (3, 2.25)")
        [(units, total)] = warehouse.execute(f"select sum(quantity), sum(price) from {schema}.lines")
    assert Decimal(str(adapted)) == exact
    # Snowflake's types: a sum of NUMBER(10, 0) is an integer, a sum of NUMBER(12, 2) has cents.
    assert (type(units), units, total, total.as_tuple().exponent) == (int, 5, Decimal("3.35"), -2)
    # The emulator's own way loses cents here, so the test above would catch the adapter missing.
    assert Decimal(str(as_double)).quantize(Decimal("0.01")) != exact
