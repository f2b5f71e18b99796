"""SQL safety: names are validated before they enter SQL text; values travel only as bound parameters.

The second half inspects every statement the connector executed during a whole flow run (recorded by the
`faulty_api_run` fixture), so a value formatted into SQL anywhere in the load, the audit or the report shows up.
"""

from __future__ import annotations

import re

import pytest
from reliability_support import FaultyRun

from ecom_pipeline.exceptions import ContractError
from ecom_pipeline.settings import load_settings
from ecom_pipeline.warehouse.loader import load_orders
from ecom_pipeline.warehouse.sqlrender import names_from_settings, render, validate

INJECTIONS = [
    ("database", "ECOM; drop table orders"),
    ("schema", "ANALYTICS --"),
    ("stage", "STAGE' or '1'='1"),
    ("bucket", "curated/../raw"),
    ("prefix", "orders/../../secrets"),
    ("prefix", "orders' ; select 1; --"),
    ("partition_date", "2026-06-17' or 1=1 --"),
    ("partition_date", "2026-13-45"),
    ("aws_role_arn", "arn:aws:iam::123456789012:role/x'); drop"),
]


@pytest.mark.parametrize(("name", "value"), INJECTIONS)
def test_a_name_that_is_not_a_plain_identifier_never_reaches_sql(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"placeholder '{name}'"):
        validate(name, value)
    with pytest.raises(ValueError):
        render(f"select 1 from {{{{ {name} }}}}", {name: value})


def test_names_from_the_environment_are_validated_when_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOWFLAKE_DATABASE", "ECOM;drop database ECOM")
    settings = load_settings()
    names = names_from_settings(settings.snowflake, settings.storage)
    with pytest.raises(ValueError, match="placeholder 'database'"):
        render("select * from {{ database }}.{{ schema }}.orders", names)


def test_a_malicious_partition_value_is_refused_before_any_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOWFLAKE_HOST", "127.0.0.1")
    monkeypatch.setenv("SNOWFLAKE_PORT", "9")  # nothing listens: a connection attempt would fail differently
    with pytest.raises(ContractError, match="partitions must be YYYY-MM-DD dates"):
        load_orders(load_settings(), ["2026-06-17') or ('1'='1"], "run-1")


def test_every_statement_of_a_run_binds_its_values(faulty_api_run: FaultyRun) -> None:
    executed = faulty_api_run.executed_sql
    summary = faulty_api_run.summary
    assert len(executed) > 20
    values = {
        "run id": summary.run_id,
        "revenue": f"{summary.warehouse.revenue_staged:.2f}",
        "load start": summary.warehouse.started_at.isoformat()[:19],
    }
    for label, value in values.items():
        in_text = [sql for sql, _params in executed if value in sql]
        assert in_text == [], f"the {label} {value!r} was formatted into SQL"
    bound = [params for _sql, params in executed if params]
    assert any(summary.run_id in map(str, params) for params in bound)  # ...it travelled as a parameter
    for sql, params in executed:
        assert not re.search(r"%s|%\(\w+\)s", sql), sql  # qmark binding only
        assert sql.count("?") == len(params or ()), sql  # every value has its placeholder and vice versa
