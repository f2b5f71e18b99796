"""`bootstrap-warehouse`: run as the administrative role, safe to repeat, and honest about what it changed."""

from __future__ import annotations

from typing import Any

import pytest
import snowflake.connector
from typer.testing import CliRunner

from ecom_cli.app import app
from ecom_pipeline.exceptions import ConfigError, WarehouseError
from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.bootstrap_changes import BootstrapTracker, track_bootstrap
from ecom_pipeline.warehouse.connection import bootstrap_warehouse, connect
from ecom_pipeline.warehouse.emulator_adapter import adapt
from ecom_pipeline.warehouse.views import ANALYTICS_VIEWS

VIEWS = tuple(view.name.upper() for view in ANALYTICS_VIEWS)  # in bootstrap order


def _environment(settings: Settings) -> dict[str, str]:
    """The variables a user exports to point `ecom-pipeline` at this emulator database."""
    sf = settings.snowflake
    return {
        "SNOWFLAKE_HOST": str(sf.host),
        "SNOWFLAKE_PORT": str(sf.port),
        "SNOWFLAKE_PROTOCOL": sf.protocol,
        "SNOWFLAKE_EMULATOR": "true",
        "SNOWFLAKE_DATABASE": sf.database,
        "SNOWFLAKE_USER": "ECOM_PIPELINE",
        "SNOWFLAKE_BOOTSTRAP_USER": "ADMIN_ALICE",
        "ECOM_CURATED_BUCKET": settings.storage.curated_bucket,
    }


def test_bootstrap_twice_from_the_cli_reports_nothing_changed_the_second_time(
    warehouse_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _environment(warehouse_settings).items():
        monkeypatch.setenv(name, value)
    logins: list[dict[str, Any]] = []
    real_connect = snowflake.connector.connect

    def recording_connect(**kwargs: Any) -> Any:
        logins.append(kwargs)
        return real_connect(**kwargs)

    monkeypatch.setattr(snowflake.connector, "connect", recording_connect)
    runner = CliRunner()
    first = runner.invoke(app, ["bootstrap-warehouse"], env={"COLUMNS": "400"})
    second = runner.invoke(app, ["bootstrap-warehouse"], env={"COLUMNS": "400"})

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    database = warehouse_settings.snowflake.database
    assert f"ready: created FILE FORMAT {database}.ANALYTICS.CURATED_PARQUET, STAGE " in first.output
    assert "nothing changed" not in first.output
    assert f"warehouse {database}.ANALYTICS ready: nothing changed (10 SQL files: 7 objects already existed, " in (
        second.output
    )
    assert "7 re-applied unchanged" in second.output
    # The administrator's session, not the pipeline's: their user, the bootstrap role.
    assert [(login["user"], login["role"]) for login in logins] == [("ADMIN_ALICE", "ACCOUNTADMIN")] * 2


def test_bootstrap_result_names_every_object_and_tells_created_from_kept(warehouse_settings: Settings) -> None:
    first = bootstrap_warehouse(warehouse_settings)
    second = bootstrap_warehouse(warehouse_settings)
    schema = f"{warehouse_settings.snowflake.database}.ANALYTICS"
    # fakesnow creates the session's database and schema at login, so only the emulator finds them already there.
    emulator_made = (f"DATABASE {warehouse_settings.snowflake.database}", f"SCHEMA {schema}")
    made = (f"FILE FORMAT {schema}.CURATED_PARQUET", f"STAGE {schema}.ECOM_CURATED_STAGE", f"TABLE {schema}.ORDERS",
            f"TABLE {schema}.ORDERS_STAGING", f"TABLE {schema}.LOAD_AUDIT")  # fmt: skip
    assert first.existed == emulator_made
    assert first.created == made + tuple(f"VIEW {schema}.{view}" for view in VIEWS)
    assert first.unchanged == (f"STAGE {schema}.ECOM_CURATED_STAGE",)  # the ALTER right after its creation
    assert not str(first).startswith("nothing changed") and str(second).startswith("nothing changed")
    with connect(warehouse_settings.snowflake) as warehouse:
        counts = [warehouse.execute(f"select count(*) from {schema}.{view}")[0][0] for view in VIEWS]
        [(total_orders,)] = warehouse.execute(f"select total_orders from {schema}.vw_kpis")
    # every view runs; the KPIs are one row of zeros
    assert dict(zip(VIEWS, counts, strict=True)) == {view: int(view == "VW_KPIS") for view in VIEWS}
    assert total_orders == 0
    assert (second.created, second.changed, second.existed) == ((), (), emulator_made + made)
    assert second.unchanged == (f"STAGE {schema}.ECOM_CURATED_STAGE", *(f"VIEW {schema}.{v}" for v in VIEWS))
    # No access control on the emulator: warehouse, role, integration and every grant are left to Snowflake.
    assert first.skipped == second.skipped
    assert first.skipped[:2] == ("WAREHOUSE ECOM_WH", "ROLE ECOM_LOADER")
    assert "STORAGE INTEGRATION ECOM_S3_INTEGRATION" in first.skipped
    grants = [label for label in first.skipped if label.startswith("grant ")]
    assert len(grants) == len(first.skipped) - 3 == 16
    assert "grant role ECOM_LOADER to user ecom" in grants and "grant role ECOM_LOADER to role sysadmin" in grants


def test_bootstrap_reports_and_repairs_what_drifted_from_the_settings(warehouse_settings: Settings) -> None:
    bootstrap_warehouse(warehouse_settings)
    schema = f"{warehouse_settings.snowflake.database}.ANALYTICS"
    with connect(warehouse_settings.snowflake) as warehouse:
        warehouse.execute(f"create or replace view {schema}.vw_kpis as select 1 as total_orders")
    moved = warehouse_settings.updated(storage={"curated_prefix": "orders/v2"})

    repaired = bootstrap_warehouse(moved)

    assert repaired.changed == (f"STAGE {schema}.ECOM_CURATED_STAGE", f"VIEW {schema}.VW_KPIS")
    assert str(repaired).startswith(f"changed STAGE {schema}.ECOM_CURATED_STAGE, VIEW {schema}.VW_KPIS (")
    with connect(warehouse_settings.snowflake) as warehouse:
        [stage] = warehouse.query_dicts(f"show stages like 'ECOM_CURATED_STAGE' in schema {schema}")
        [kpis] = warehouse.query_dicts(f"select * from {schema}.vw_kpis")
    assert stage["url"] == f"s3://{moved.storage.curated_bucket}/orders/v2/"
    assert set(kpis) == {"total_orders", "total_revenue", "total_profit", "profit_margin_pct"}
    assert str(bootstrap_warehouse(moved)).startswith("nothing changed")


def test_bootstrap_validates_every_name_before_connecting(warehouse_settings: Settings) -> None:
    unreachable = warehouse_settings.updated(snowflake={"port": 9, "user": "jane.doe@example.com"})
    with pytest.raises(
        ConfigError, match=r"placeholder 'user' \(setting SNOWFLAKE_USER\) rejects 'jane\.doe@example\.com'"
    ):
        bootstrap_warehouse(unreachable)


class SnowflakeAnswers:
    """Snowflake's documented answers for a first bootstrap and a repeat (the emulator skips grants)."""

    def __init__(self, repeat: bool) -> None:
        self.repeat = repeat
        self.skipped: list[str] = []
        self.ran: list[str] = []

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        self.ran.append(sql)
        if sql.startswith("show grants"):
            if not self.repeat and len(self.ran) == 1:
                raise WarehouseError("Snowflake statement failed: Role 'ECOM_LOADER' does not exist or not authorized.")
            if sql.startswith("show grants of") and (self.repeat or len(self.ran) > 2):
                return [("2026-11-30", "ECOM_LOADER", "USER", "ECOM_PIPELINE", "ACCOUNTADMIN")]
            held = [("2026-11-30", "USAGE", "WAREHOUSE", "ECOM_WH", "ROLE", "ECOM_LOADER", "false", "ACCOUNTADMIN")]
            return held if sql.startswith("show grants to") and (self.repeat or len(self.ran) > 2) else []
        if sql.startswith("create warehouse"):
            return [
                ("ECOM_WH already exists, statement succeeded.",)
                if self.repeat
                else ("Warehouse ECOM_WH successfully created.",)
            ]
        return [("Statement executed successfully.",)]

    def query_dicts(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        raise AssertionError(f"no SHOW probe expected here: {sql}")


@pytest.mark.parametrize("repeat", [False, True])
def test_grants_are_told_from_show_grants_before_and_after(repeat: bool) -> None:
    statements = [
        "create warehouse if not exists ECOM_WH warehouse_size = 'XSMALL'",
        "grant role ECOM_LOADER to user ECOM_PIPELINE",
        "grant usage on warehouse ECOM_WH to role ECOM_LOADER",
    ]
    result = track_bootstrap(SnowflakeAnswers(repeat), statements, loader_role="ECOM_LOADER", files=1)
    assert result.grant_statements == 2
    if repeat:
        assert (result.existed, result.grants_added) == (("WAREHOUSE ECOM_WH",), ())
        assert str(result).startswith("nothing changed")
        assert str(result) == "nothing changed (1 SQL files: 1 objects already existed, 2 grant statements)"
    else:
        assert result.created == ("WAREHOUSE ECOM_WH",)
        assert result.grants_added == ("ECOM_LOADER to USER ECOM_PIPELINE", "USAGE on WAREHOUSE ECOM_WH")


def test_a_statement_the_tracker_cannot_classify_counts_as_a_change() -> None:
    tracker = BootstrapTracker(SnowflakeAnswers(repeat=True), loader_role="ECOM_LOADER")
    tracker.run("alter warehouse ECOM_WH set warehouse_size = 'SMALL'")  # no SHOW probe for warehouses
    tracker.run("use role sysadmin")
    result = tracker.result(files=1, grants_added=frozenset())
    assert result.unknown == ("WAREHOUSE ECOM_WH", "use role sysadmin")
    assert not str(result).startswith("nothing changed")
    assert str(result).startswith("ran WAREHOUSE ECOM_WH, use role sysadmin (effect unknown) (")


def test_emulator_adapter_rewrites_for_bootstrap() -> None:
    alter = adapt("alter stage D.S.ST set\n    url = 's3://b/p/'\n    storage_integration = I")
    assert alter.statements == ("create or replace stage D.S.ST url = 's3://b/p/'\n    storage_integration = I",)
    table = adapt("create transient table if not exists D.S.orders_staging (x int)")
    assert table.statements == ("create transient table if not exists D.S.orders_staging (x int)",)
    assert table.exists_probe == (
        "select 1 from information_schema.tables where table_catalog = 'D' and table_schema = 'S' "
        "and table_name = 'ORDERS_STAGING' limit 1",
        "ORDERS_STAGING already exists, statement succeeded.",
    )
    assert adapt("create schema if not exists D.S").exists_probe is not None
    assert adapt("create schema if not exists S").exists_probe is None  # unqualified: nothing to look up
    assert adapt("show grants to role R").skipped and adapt("grant role R to user U").skipped
