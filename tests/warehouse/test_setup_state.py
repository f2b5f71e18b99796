"""The flow's set-up of an emulator warehouse runs once, and again whenever what it made is not what it would make."""

from __future__ import annotations

from typing import Any

import pytest
import snowflake.connector

from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.connection import bootstrap_warehouse, connect
from ecom_pipeline.warehouse.setup_state import set_up_emulator_warehouse


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement sent to the emulator from here on (the set-up's and the check's)."""
    sent: list[str] = []
    real_connect = snowflake.connector.connect

    def recording_connect(**kwargs: Any) -> Any:
        connection = real_connect(**kwargs)
        real_cursor = connection.cursor

        def cursor(*args: Any, **cursor_kwargs: Any) -> Any:
            made = real_cursor(*args, **cursor_kwargs)
            real_execute = made.execute

            def execute(sql: str, *rest: Any, **more: Any) -> Any:
                sent.append(" ".join(sql.split()).lower())
                return real_execute(sql, *rest, **more)

            made.execute = execute
            return made

        connection.cursor = cursor
        return connection

    monkeypatch.setattr(snowflake.connector, "connect", recording_connect)
    return sent


def test_the_set_up_runs_on_a_fresh_emulator_then_one_query_finds_it_in_place(
    warehouse_settings: Settings, statements: list[str]
) -> None:
    first = set_up_emulator_warehouse(warehouse_settings)
    ran = len(statements)
    statements.clear()
    second = set_up_emulator_warehouse(warehouse_settings)
    checked = list(statements)

    schema = f"{warehouse_settings.snowflake.database}.ANALYTICS"
    assert first.startswith(f"created FILE FORMAT {schema}.CURATED_PARQUET, STAGE {schema}.ECOM_CURATED_STAGE")
    assert ran > 30  # the whole set-up, then its record
    database = warehouse_settings.snowflake.database
    with connect(warehouse_settings.snowflake) as warehouse:
        [(views,)] = warehouse.execute(
            f"select count(*) from {database}.information_schema.views where table_schema = 'ANALYTICS'"
        )
        [(columns,)] = warehouse.execute(
            f"select count(*) from {database}.information_schema.columns where table_schema = 'ANALYTICS'"
        )
    assert views == 6
    assert second == f"set-up in place ({views + columns} view definitions and columns as recorded): not run again"
    assert len(checked) == 1 and checked[0].startswith("select 'applied' as kind")
    # What the skipped set-up would have found: nothing to change.
    assert str(bootstrap_warehouse(warehouse_settings)).startswith("nothing changed")


def test_a_view_changed_by_hand_or_a_changed_setting_sets_up_again(warehouse_settings: Settings) -> None:
    set_up_emulator_warehouse(warehouse_settings)
    schema = f"{warehouse_settings.snowflake.database}.ANALYTICS"
    with connect(warehouse_settings.snowflake) as warehouse:
        warehouse.execute(f"create or replace view {schema}.vw_kpis as select 1 as total_orders")

    repaired = set_up_emulator_warehouse(warehouse_settings)
    assert f"changed VIEW {schema}.VW_KPIS" in repaired
    with connect(warehouse_settings.snowflake) as warehouse:
        [kpis] = warehouse.query_dicts(f"select * from {schema}.vw_kpis")
    assert set(kpis) == {"total_orders", "total_revenue", "total_profit", "profit_margin_pct"}

    moved = warehouse_settings.updated(storage={"curated_prefix": "orders/v2"})
    assert set_up_emulator_warehouse(moved).startswith(f"changed STAGE {schema}.ECOM_CURATED_STAGE")
    assert "not run again" in set_up_emulator_warehouse(moved)


def test_a_dropped_table_sets_up_again(warehouse_settings: Settings) -> None:
    set_up_emulator_warehouse(warehouse_settings)
    schema = f"{warehouse_settings.snowflake.database}.ANALYTICS"
    with connect(warehouse_settings.snowflake) as warehouse:
        warehouse.execute(f"drop table {schema}.load_audit")
    assert f"created TABLE {schema}.LOAD_AUDIT" in set_up_emulator_warehouse(warehouse_settings)
