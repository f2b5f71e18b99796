"""Every consumer of the curated contract against its one source in the job's package, spark_jobs/orders/
(CURATED_SCHEMA in schema.py, the business defaults DEFAULT_COST_RATIO and DEFAULT_ORDER_STATUS in args.py).

COPY ... MATCH_BY_COLUMN_NAME loads a table column that the files do not hold as NULL, without an error, so a
renamed column would load silently wrong: each consumer is checked here in its own terms (the DDL's names, order,
types and NOT NULL; the loader's MERGE; the Parquet the DuckDB reference and the test data helper write; the docs'
table) and the defaults wherever they are restated. The job's own files are checked the same way in
tests/spark_jobs/test_orders_job_e2e.py, on the output it already writes.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlglot
from contract_types import arrow_columns, contract_arrow_columns
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    DataType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)
from sqlglot import exp

from bench import duckdb_reference
from ecom_pipeline.settings import REPO_ROOT, Settings
from ecom_pipeline.transform import JobRequest
from ecom_pipeline.warehouse.loader import MERGE_ORDERS, ORDER_COLUMNS
from ecom_pipeline.warehouse.sqlrender import load_sql_file, render
from spark_jobs.orders import args as job_args
from spark_jobs.orders import job
from spark_jobs.orders import schema as contract
from spark_jobs.orders.dedupe import filter_latest_records
from spark_jobs.orders.transforms import filter_curated

NAMES = {"database": "ANALYTICS", "schema": "ECOM", "role": "LOADER"}  # any valid names: only columns are read
INGEST_DATE = date(2026, 6, 17)
REQUIRED = {name for name in contract.CURATED_COLUMNS if not contract.CURATED_SCHEMA[name].nullable}
# The job's command line with its required arguments only (any valid values), so every default applies.
JOB_VALUES = {name: f"file:///tmp/{name}" for name in job_args.REQUIRED_ARGS[1:]}
JOB_VALUES["ingest_date"] = INGEST_DATE.isoformat()
JOB_ARGV = ["orders_job.py", *[item for name, value in JOB_VALUES.items() for item in (f"--{name}", value)]]

# Spark type -> Snowflake column type. Integers as NUMBER(p,0) wide enough for them (INT is NUMBER(38,0) and TIMESTAMP
# defaults to TIMESTAMP_NTZ: https://docs.snowflake.com/en/sql-reference/intro-summary-data-types).
SNOWFLAKE_TYPES: dict[type[DataType], str] = {
    StringType: "VARCHAR",
    LongType: "NUMBER(38,0)",
    IntegerType: "NUMBER(10,0)",
    DateType: "DATE",
    TimestampType: "TIMESTAMP_NTZ",
}


def snowflake_type(kind: DataType) -> str:
    """The Snowflake column type of a curated column of Spark type `kind`."""
    if isinstance(kind, DecimalType):
        return f"NUMBER({kind.precision},{kind.scale})"
    return SNOWFLAKE_TYPES[type(kind)]


def ddl_type(kind: exp.DataType) -> str:
    """A parsed column type written as SNOWFLAKE_TYPES writes it (sqlglot reads NUMBER as DECIMAL)."""
    name = {exp.DataType.Type.DECIMAL: "NUMBER", exp.DataType.Type.TIMESTAMPNTZ: "TIMESTAMP_NTZ"}.get(
        kind.this, kind.this.name
    )
    params = ",".join(param.sql() for param in kind.expressions)
    return f"{name}({params})" if params else name


def table_columns(sql: str, table: str) -> list[tuple[str, str, bool]]:
    """(name, type, not null) of each column of `table`, as the CREATE TABLE statements in `sql` declare them."""
    for statement in sqlglot.parse(sql, read="snowflake"):
        if isinstance(statement, exp.Create) and statement.this.this.name == table:
            return [
                (column.name, ddl_type(column.args["kind"]), any(
                    isinstance(constraint.kind, exp.NotNullColumnConstraint) for constraint in column.constraints
                ))
                for column in statement.this.expressions
                if isinstance(column, exp.ColumnDef)
            ]  # fmt: skip
    raise AssertionError(f"no CREATE TABLE {table}")


def orders_ddl() -> str:
    """sql/setup/04_orders_table.sql, rendered."""
    return ";\n".join(load_sql_file("setup/04_orders_table.sql", NAMES))


def expected_staging() -> list[tuple[str, str, bool]]:
    """Staging takes the files as they are (no NOT NULL: MERGE into `orders` enforces it)."""
    return [(field.name, snowflake_type(field.dataType), False) for field in contract.CURATED_SCHEMA.fields]


def expected_orders() -> list[tuple[str, str, bool]]:
    """`orders`: the contract, with order_date_copy loaded as order_date, in the loader's column order."""
    fields = {field.name: field for field in contract.CURATED_SCHEMA.fields}
    fields["order_date"] = fields.pop("order_date_copy")
    assert sorted(ORDER_COLUMNS) == sorted(fields)  # every column once
    return [(name, snowflake_type(fields[name].dataType), not fields[name].nullable) for name in ORDER_COLUMNS]


def test_warehouse_tables_hold_the_contract() -> None:
    ddl = orders_ddl()
    assert table_columns(ddl, "orders_staging") == expected_staging()
    assert table_columns(ddl, "orders") == expected_orders()


@pytest.mark.parametrize(
    ("table", "old", "new"),
    [
        ("orders_staging", "    brand varchar,\n", "    brand_name varchar,\n"),  # renamed: COPY would load NULL
        ("orders_staging", "    quantity number(10, 0),\n", "    quantity number(12, 2),\n"),
        ("orders", "    revenue number(12, 2) not null,\n", "    revenue number(12, 2),\n"),
        ("orders", "    city varchar,\n    state varchar,\n", "    state varchar,\n    city varchar,\n"),
        ("orders", "    ingested_at timestamp_ntz,\n", "    ingested_at timestamp_tz,\n"),
    ],
)
def test_a_drifted_table_is_caught(table: str, old: str, new: str) -> None:
    [statement] = [sql for sql in orders_ddl().split(";\n") if f".{table} (" in sql]
    assert old in statement
    expected = expected_staging() if table == "orders_staging" else expected_orders()
    assert table_columns(statement.replace(old, new), table) != expected


def test_loader_merges_every_staging_column_into_every_orders_column() -> None:
    merge = sqlglot.parse_one(render(MERGE_ORDERS, NAMES), read="snowflake")
    source = merge.args["using"].this
    whens = merge.args["whens"].expressions
    update = next(when.args["then"] for when in whens if when.args.get("matched"))
    insert = next(when.args["then"] for when in whens if not when.args.get("matched"))

    read = sorted(column.name for select in source.expressions for column in select.find_all(exp.Column))
    assert read == sorted(name for name, _, _ in table_columns(orders_ddl(), "orders_staging"))
    written = [name for name, _, _ in table_columns(orders_ddl(), "orders")]
    assert [select.alias_or_name for select in source.expressions] == written
    assert [column.name for column in insert.this.expressions] == written
    assert [value.name for value in insert.expression.expressions] == written
    assert [assignment.this.name for assignment in update.expressions] == written[1:]  # all but the key


def test_duckdb_reference_writes_the_contract(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    land_for_reference(raw)

    duckdb_reference.run(raw, tmp_path / "out", INGEST_DATE.isoformat(), duckdb_reference.DEFAULT_COST_RATIO, "r1", 1)

    [part] = (tmp_path / "out" / "orders").glob(f"order_date={INGEST_DATE}/*.parquet")
    assert arrow_columns(pq.read_schema(part)) == contract_arrow_columns()
    [row] = pq.read_table(part).to_pylist()
    assert row["order_status"] == job_args.DEFAULT_ORDER_STATUS  # the cart has no status
    assert not [name for name in REQUIRED if row[name] is None]


def test_warehouse_test_data_is_written_with_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO_ROOT / "tests" / "warehouse"))  # imported as the warehouse tests import it
    curated_data = importlib.import_module("curated_data")
    assert arrow_columns(curated_data.CURATED_SCHEMA) == contract_arrow_columns()


def test_docs_table_lists_the_contract() -> None:
    text = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text.split("| column | type | rule |\n|---|---|---|\n", 1)[1].split("\n\n", 1)[0]
    documented = [
        (name, kind) for row in table.splitlines() for names, kind, _ in [row.strip("|").split(" | ", 2)]
        for name in names.strip().split(", ")
    ]  # fmt: skip
    assert documented == [(field.name, field.dataType.simpleString()) for field in contract.CURATED_SCHEMA.fields]
    assert f"the default (`{job_args.DEFAULT_ORDER_STATUS}`)" in table


def test_business_defaults_are_the_jobs_everywhere() -> None:
    defaults = (Decimal(job_args.DEFAULT_COST_RATIO), job_args.DEFAULT_ORDER_STATUS)
    settings = Settings.model_fields  # the declared defaults, not this environment's values
    request = JobRequest(ingest_date=INGEST_DATE, run_id="r1")
    parsed = job_args.parse_args(JOB_ARGV)

    assert (settings["cost_ratio"].default, settings["default_order_status"].default) == defaults
    assert (request.cost_ratio, request.default_order_status) == defaults
    assert (parsed.cost_ratio, parsed.default_order_status) == defaults
    assert (Decimal(duckdb_reference.DEFAULT_COST_RATIO), duckdb_reference.DEFAULT_ORDER_STATUS) == defaults


def test_job_publishes_the_contract(spark: SparkSession) -> None:
    cart_lines = [
        (10, "Frock", Decimal("29.99"), 2, None, None, None),  # published, without discount figures
        (10, "Frock", None, 1, None, None, None),  # no price: quarantined
        (None, "Frock", Decimal("1.00"), 1, None, None, None),  # no product: quarantined
        (11, None, Decimal("5.00"), None, None, None, None),  # no quantity: quarantined
    ]
    carts = frame(spark, contract.CART_SCHEMA, [(1, 1, None, None, cart_lines), (2, None, None, " ", cart_lines[:1])])
    products = frame(spark, contract.PRODUCT_SCHEMA, [(10, "Frock", None, "  "), (11, None, "tops", None)])
    users = frame(spark, contract.USER_SCHEMA, [(1, None, None, None, None)])
    args = job_args.parse_args(JOB_ARGV)  # the job's own defaults

    # run()'s composition when the landing proved the ids unique (no duplicate search: the cheapest plan).
    lines = job.prepare_lines(carts, args)
    products, users = products.transform(filter_latest_records(True)), users.transform(filter_latest_records(True))
    classified = job.classify_lines(lines, None, products, users, args, datetime(2026, 6, 17, 10, 15, tzinfo=UTC))
    published = classified.transform(filter_curated)

    schema = [(field.name, field.dataType) for field in published.schema.fields]
    assert schema == [(field.name, field.dataType) for field in contract.CURATED_SCHEMA.fields] + [
        ("order_date", DateType())  # the partition column, not inside the files
    ]
    [row] = [row.asDict() for row in published.collect()]
    assert not [name for name in REQUIRED if row[name] is None]
    assert row["order_status"] == job_args.DEFAULT_ORDER_STATUS


def frame(spark: SparkSession, schema: StructType, rows: list[tuple]) -> DataFrame:
    """Rows as the job reads them: its read schema plus the read-order columns its transforms expect."""
    read_order = [StructField("source_part", IntegerType()), StructField("source_position", LongType())]
    return spark.createDataFrame(
        [(*row, 0, index) for index, row in enumerate(rows)], StructType([*schema.fields, *read_order])
    )


RAW_RECORDS: dict[str, list[dict[str, Any]]] = {
    "users": [{"id": 1, "firstName": "Emily", "lastName": "Johnson", "email": "emily@x.com",
               "address": {"city": "Phoenix", "state": "Mississippi", "country": "United States"}}],
    "products": [{"id": 10, "title": "Frock", "category": "tops", "brand": "Zara"}],
    "carts": [{"id": 1, "userId": 1, "products": [{"id": 10, "title": "Frock", "price": 29.99, "quantity": 2,
                                                   "discountPercentage": 12.5, "discountedTotal": 52.48}]}],
}  # fmt: skip


def land_for_reference(raw: Path) -> None:
    """The raw zone's layout, as far as the DuckDB reference reads it: a manifest naming one NDJSON part each."""
    for resource, records in RAW_RECORDS.items():
        folder = raw / resource / f"ingest_date={INGEST_DATE.isoformat()}"
        folder.mkdir(parents=True)
        (folder / "part-00000.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
        (folder / "_manifest.json").write_text(json.dumps({"parts": [{"file": "part-00000.jsonl"}]}))
