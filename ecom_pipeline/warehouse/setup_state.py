"""The emulator's warehouse set-up, run only when it is not in place: one query instead of about 40 statements.

An emulator starts empty, so the flow sets the warehouse up before each load (on Snowflake that is the one-time
`bootstrap-warehouse` command). When the emulator outlives a run (`emulators up`), the runs after the first would
set up again what is already there. So the set-up records, in the emulator itself, what it applied
(`<database>.ECOM_LOCAL.SETUP_APPLIED`): a fingerprint of the rendered set-up SQL and of the adapter that runs it on
the emulator, and a digest of the objects it left (each view's definition, each table's and view's columns). The
next run reads the record and the objects as they are now in one query, and sets up again when the SQL, a name, the
adapter or any object differs: always on a fresh emulator, and after anyone changed a view or table by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ecom_pipeline.exceptions import WarehouseError
from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse import emulator_adapter
from ecom_pipeline.warehouse.bootstrap_changes import track_bootstrap
from ecom_pipeline.warehouse.connection import Warehouse, bootstrap_session, connect, setup_statements
from ecom_pipeline.warehouse.sqlrender import SETUP_FILES, render

STATE = "{{ database }}.ecom_local.setup_applied"
# What the set-up leaves in the schema, as the emulator reports it: view text, and every column with its type.
OBJECTS = """
select 'view' as kind, table_name as name, view_definition as detail
from {{ database }}.information_schema.views
where table_schema = ?
union all
select
    'column' as kind,
    table_name || '.' || column_name as name,
    data_type || '(' || coalesce(cast(numeric_precision as varchar), '') || ','
    || coalesce(cast(numeric_scale as varchar), '') || ') ' || is_nullable as detail
from {{ database }}.information_schema.columns
where table_schema = ?
"""
RECORDED = f"select 'applied' as kind, fingerprint as name, objects as detail from {STATE}\nunion all\n{OBJECTS}"
RECORD_STATEMENTS = (
    "create schema if not exists {{ database }}.ecom_local",
    f"create table if not exists {STATE} (fingerprint varchar, objects varchar, applied_at timestamp_ltz)",
    f"delete from {STATE}",
)
INSERT_RECORD = f"insert into {STATE} (fingerprint, objects, applied_at) values (?, ?, current_timestamp())"


def setup_fingerprint(statements: Sequence[str]) -> str:
    """sha256 of the rendered set-up statements and of the emulator adapter's code, which rewrites some of them."""
    adapter = Path(emulator_adapter.__file__).read_bytes()
    return hashlib.sha256(adapter + b"\0" + "\n;\n".join(statements).encode()).hexdigest()


def objects_digest(rows: Sequence[tuple[Any, ...]]) -> str:
    """sha256 over the (kind, name, detail) rows of the schema's objects, in a fixed order."""
    lines = sorted("\t".join(str(value) for value in row) for row in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def set_up_emulator_warehouse(settings: Settings) -> str:
    """Set the emulator's warehouse up unless the same set-up is in place; say which happened.

    Raises:
        ConfigError: a name in the settings is not a valid identifier (before connecting).
        WarehouseError: a statement failed.
    """
    names, statements = setup_statements(settings)
    fingerprint = setup_fingerprint(statements)
    schema = settings.snowflake.schema_name.upper()
    with connect(bootstrap_session(settings.snowflake)) as warehouse:
        recorded, objects = _read_state(warehouse, names, schema)
        if (fingerprint, objects_digest(objects)) in recorded:
            return f"set-up in place ({len(objects)} view definitions and columns as recorded): not run again"
        result = track_bootstrap(warehouse, statements, loader_role=names["role"], files=len(SETUP_FILES))
        _record(warehouse, names, schema, fingerprint)
    return str(result)


def _read_state(
    warehouse: Warehouse, names: Mapping[str, str], schema: str
) -> tuple[set[tuple[str, str]], list[tuple[Any, ...]]]:
    """(fingerprint, objects digest) pairs recorded, and the schema's objects now; nothing recorded on a fresh one."""
    try:
        rows = warehouse.execute(render(RECORDED, names), [schema, schema])
    except WarehouseError as error:
        if "does not exist" in str(error):
            return set(), []
        raise
    recorded = {(str(row[1]), str(row[2])) for row in rows if row[0] == "applied"}
    return recorded, [tuple(row) for row in rows if row[0] != "applied"]


def _record(warehouse: Warehouse, names: Mapping[str, str], schema: str, fingerprint: str) -> None:
    """Record the set-up just applied, with the objects it left."""
    for statement in RECORD_STATEMENTS:
        warehouse.execute(render(statement, names))
    objects = warehouse.execute(render(OBJECTS, names), [schema, schema])
    warehouse.execute(render(INSERT_RECORD, names), [fingerprint, objects_digest(objects)])
