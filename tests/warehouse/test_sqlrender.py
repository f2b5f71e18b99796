"""The SQL renderer lets only well-formed names into SQL text."""

from __future__ import annotations

import re

import pytest
from jinja2 import UndefinedError

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.sqlrender import (
    SETUP_FILES,
    SQL_DIR,
    SqlPlaceholderError,
    load_sql_file,
    names_from_settings,
    render,
    split_statements,
)
from ecom_pipeline.warehouse.views import ANALYTICS_VIEWS


def test_render_fills_valid_names() -> None:
    sql = render(
        "copy into {{ database }}.{{schema}}.orders "
        "from 's3://{{ bucket }}/{{ prefix }}/order_date={{ partition_date }}/'",
        {"database": "ECOM_1", "schema": "analytics$x", "bucket": "ecom-curated", "prefix": "orders/v1",
         "partition_date": "2026-06-17"},
    )  # fmt: skip
    assert sql == "copy into ECOM_1.analytics$x.orders from 's3://ecom-curated/orders/v1/order_date=2026-06-17/'"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("database", "orders; DROP TABLE x"),
        ("schema", "a.b"),
        ("stage", "1stage"),
        ("warehouse", "wh -- comment"),
        ("bucket", "Bad_Bucket"),
        ("bucket", "b' or '1'='1"),
        ("prefix", "../etc"),
        ("prefix", "orders/'; drop"),
        ("aws_role_arn", "arn:aws:iam::123:role/x"),
        ("aws_role_arn", "arn:aws:iam::000000000000:role/x'"),
        ("partition_date", "2026-13-45"),
        ("partition_date", "2026-06-17' or 1=1"),
    ],
)
def test_render_rejects_values_that_are_not_names(name: str, value: str) -> None:
    with pytest.raises(SqlPlaceholderError, match=f"placeholder '{name}'") as error:
        render(f"select {{{{ {name} }}}}", {name: value})
    assert isinstance(error.value, ConfigError)  # the pipeline's own error, never retried


def test_a_rejected_name_says_which_setting_holds_it() -> None:
    settings = Settings().updated(snowflake={"user": "jane.doe@example.com"})
    with pytest.raises(SqlPlaceholderError, match=r"placeholder 'user' \(setting SNOWFLAKE_USER\) rejects"):
        render("grant role r to user {{ user }}", names_from_settings(settings.snowflake, settings.storage))


def test_render_rejects_unknown_and_missing_placeholders() -> None:
    with pytest.raises(SqlPlaceholderError, match="unknown SQL placeholder 'table'"):
        render("select * from {{ table }}", {"table": "orders"})
    with pytest.raises(SqlPlaceholderError, match=r"placeholder 'schema' \(setting SNOWFLAKE_SCHEMA\) has no value"):
        render("select 1 from {{ database }}.{{ schema }}.t", {"database": "ECOM"})


def test_every_setup_file_renders_from_default_settings() -> None:
    names = names_from_settings(Settings().snowflake, Settings().storage)
    statements = [s for path in SETUP_FILES for s in load_sql_file(path, names)]
    assert all("{{" not in statement for statement in statements)
    assert any(s.startswith("create or replace view ECOM.ANALYTICS.vw_kpis") for s in statements)
    assert sum(s.startswith("create or replace view") for s in statements) == 6


def test_each_view_file_creates_the_view_it_is_named_after_and_grants_it() -> None:
    names = names_from_settings(Settings().snowflake, Settings().storage)
    assert [view.name for view in ANALYTICS_VIEWS] == [
        "vw_daily_revenue", "vw_kpis", "vw_order_status", "vw_sales_by_category", "vw_sales_by_country",
        "vw_top_customers",
    ]  # fmt: skip
    for view in ANALYTICS_VIEWS:
        create, grant = load_sql_file(view.file, names)
        assert create.startswith(f"create or replace view ECOM.ANALYTICS.{view.name} copy grants as\nwith\n")
        assert grant == f"grant select on view ECOM.ANALYTICS.{view.name} to role ECOM_LOADER"


def test_the_money_macro_is_imported_from_its_file() -> None:
    template = (
        "{% from 'macros/money.sql' import money %}select {{ money('sum(revenue)') }} as revenue from {{ schema }}"
    )
    sql = render(template + ".orders", {"schema": "S"})
    assert sql == "select cast(round(cast(sum(revenue) as number(38, 6)), 2) as number(18, 2)) as revenue from S.orders"
    # Every money column of the views goes through it: no view spells a rounding out itself.
    names = names_from_settings(Settings().snowflake, Settings().storage)
    views = [s for view in ANALYTICS_VIEWS for s in load_sql_file(view.file, names)]
    rendered = "\n".join(views)
    assert rendered.count("as number(18, 2))") == rendered.count("round(") == 13
    raw = "\n".join((SQL_DIR / view.file).read_text() for view in ANALYTICS_VIEWS)
    assert "round(" not in raw and raw.count("{{ money(") == 13


def test_a_macro_must_be_imported_and_nothing_undefined_renders_as_empty() -> None:
    with pytest.raises(SqlPlaceholderError, match="unknown SQL placeholder 'money'"):
        render("select {{ money('x') }}", {})
    # StrictUndefined: what does not exist fails instead of rendering as ''.
    with pytest.raises(UndefinedError, match="has no attribute 'name'"):
        render("select * from {{ database.name }}.orders", {"database": "ECOM"})


def test_each_view_ends_in_select_from_final() -> None:
    for view in ANALYTICS_VIEWS:
        text = (SQL_DIR / view.file).read_text()
        assert "\n\nselect * from final;\n" in text and text.count(" from final") == 1, view.file


def test_split_statements_drops_comments_and_keeps_order() -> None:
    sql = "-- header\ncreate table a (x int);\n\n-- b next\ncreate table b (y int);\n"
    assert split_statements(sql) == ["create table a (x int)", "create table b (y int)"]


def test_the_storage_integration_allows_exactly_the_stages_url() -> None:
    """Least privilege on the Snowflake side too: the integration may reach the curated orders prefix, no more."""
    settings = Settings()
    names = names_from_settings(settings.snowflake, settings.storage)
    [integration] = load_sql_file("setup/02_storage_integration.sql", names)
    stage = next(s for s in load_sql_file("setup/03_stage_setup.sql", names) if s.startswith("create stage"))
    allowed = re.search(r"storage_allowed_locations = \('([^']+)'\)", integration)
    url = re.search(r"url = '([^']+)'", stage)
    assert allowed and url
    assert (
        allowed.group(1) == url.group(1) == f"s3://{settings.storage.curated_bucket}/{settings.storage.curated_prefix}/"
    )
