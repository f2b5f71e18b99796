"""The loader role is granted exactly what its statements need: no more, and nothing missing.

The statements are not listed here: every one the `Warehouse` runs during a real load, skip check, reconciliation
and report against the emulator is recorded (the SQL as Snowflake would receive it, before the emulator adapter).
Each is parsed (sqlglot), its kind mapped to the privileges Snowflake's documentation requires (STATEMENT_KINDS,
one page per kind), and the result compared with the GRANT statements that sql/setup and sql/views render.
A new statement without its grant, a grant nothing uses, or a statement kind without a documented row fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlglot
from curated_data import bootstrapped_warehouse, job_summary
from sqlglot import exp

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.settings import Settings
from ecom_pipeline.warehouse.bootstrap_changes import OBJECT_STATEMENT
from ecom_pipeline.warehouse.connection import Warehouse
from ecom_pipeline.warehouse.loader import load_orders
from ecom_pipeline.warehouse.report import read_day, read_report
from ecom_pipeline.warehouse.sqlrender import SETUP_FILES, load_sql_file, names_from_settings

PRIVILEGES = "https://docs.snowflake.com/en/user-guide/security-access-control-privileges"

# Statement kind -> what Snowflake requires of the role that runs it, and where its documentation says so.
# Reading: a statement that reads a table's rows (a query, the source of a MERGE, the condition of a MERGE or
# DELETE) needs SELECT on it, as the privileges page defines SELECT; this adds no grant here, since the loader
# selects from both tables it writes for its reconciliation anyway.
STATEMENT_KINDS: dict[str, tuple[str, str]] = {
    "COPY INTO <table>": (
        "INSERT on the table; USAGE on the named external stage and on the named file format",
        "https://docs.snowflake.com/en/sql-reference/sql/copy-into-table",
    ),
    "MERGE": (
        "INSERT for WHEN NOT MATCHED ... INSERT, UPDATE for WHEN MATCHED ... UPDATE, DELETE for ... DELETE, on the "
        "target; SELECT on what it reads",
        "https://docs.snowflake.com/en/sql-reference/sql/merge",
    ),
    "DELETE": (
        "DELETE on the table; SELECT on what it reads",
        "https://docs.snowflake.com/en/sql-reference/sql/delete",
    ),
    "TRUNCATE TABLE": ("TRUNCATE on the table", "https://docs.snowflake.com/en/sql-reference/sql/truncate-table"),
    "INSERT": (
        "INSERT on the table; SELECT on what a query in it reads",
        "https://docs.snowflake.com/en/sql-reference/sql/insert",
    ),
    "SELECT": ("SELECT on every table and view it reads", "https://docs.snowflake.com/en/sql-reference/sql/select"),
    "BEGIN / COMMIT / ROLLBACK": ("nothing", "https://docs.snowflake.com/en/sql-reference/sql/begin"),
}
# What every statement that reads or writes data needs besides: a warehouse to run on (USAGE: "enables using a
# virtual warehouse and, as a result, executing queries on the warehouse"), and USAGE on the database and schema
# of each object it names ("operating on an object in a schema requires at least one privilege on the parent
# database and at least one privilege on the parent schema").
EVERY_STATEMENT: dict[str, tuple[str, str]] = {
    "warehouse": ("USAGE on the session's warehouse", f"{PRIVILEGES}#virtual-warehouse-privileges"),
    "containers": (
        "USAGE on the database and schema of every object named",
        "https://docs.snowflake.com/en/user-guide/security-access-control-considerations",
    ),
}

Privilege = tuple[str, str, str]  # (privilege, object type, fully qualified name), upper case
ROLE_GRANT = re.compile(r"^\s*grant\s+role\s+(\S+)\s+to\s+(user|role)\s+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Needs:
    """One statement's kind and the privileges it needs."""

    kind: str
    privileges: frozenset[Privilege]


def _name(table: exp.Table, names: Mapping[str, str]) -> str:
    """The fully qualified upper-case name, defaulting to the session's database and schema."""
    parts = [table.catalog or names["database"], table.db or names["schema"], table.name]
    return ".".join(part.upper() for part in parts)


def statement_needs(sql: str, names: Mapping[str, str], kinds: Mapping[str, str]) -> Needs:
    """The privileges Snowflake requires for `sql`, run in a session on `names['warehouse']`.

    `kinds` maps every object the bootstrap creates to its type (TABLE, VIEW, STAGE, FILE FORMAT).
    """
    statement = sqlglot.parse_one(sql, read="snowflake")
    if isinstance(statement, exp.Transaction | exp.Commit | exp.Rollback):
        return Needs("BEGIN / COMMIT / ROLLBACK", frozenset())
    needs: set[Privilege] = {("USAGE", "WAREHOUSE", names["warehouse"].upper())}

    def on(privilege: str, name: str) -> None:
        if name not in kinds:
            raise AssertionError(f"the loader's statement names {name}, which sql/setup does not create: {sql[:120]}")
        needs.add((privilege, kinds[name], name))
        database, schema, _object = name.split(".")
        needs.update({("USAGE", "DATABASE", database), ("USAGE", "SCHEMA", f"{database}.{schema}")})

    def reads(node: exp.Expression, skip: str | None = None) -> None:
        ctes = {cte.alias_or_name.upper() for cte in node.find_all(exp.CTE)}
        for table in node.find_all(exp.Table):
            if table.name and table.name.upper() not in ctes and _name(table, names) != skip:
                on("SELECT", _name(table, names))

    if isinstance(statement, exp.Copy):
        kind = "COPY INTO <table>"
        on("INSERT", _name(statement.this, names))
        [source] = statement.args["files"]
        stage = source.this.this.lstrip("@").split("/")[0]  # '@DB.SCHEMA.STAGE/path/'
        on("USAGE", stage.upper())
        for parameter in statement.args.get("params") or []:
            for option in parameter.expressions:
                if option.name.upper() == "FORMAT_NAME":
                    on("USAGE", option.args["value"].this.upper())
    elif isinstance(statement, exp.Merge):
        kind, target = "MERGE", _name(statement.this, names)
        actions = {exp.Insert: "INSERT", exp.Update: "UPDATE"}
        for when in statement.args["whens"].expressions:
            then = when.args["then"]
            on(actions.get(type(then), "DELETE" if "DELETE" in then.sql().upper() else "?"), target)
        reads(statement)  # the source, and the target rows its ON condition reads
    elif isinstance(statement, exp.Delete):
        kind = "DELETE"
        on("DELETE", _name(statement.this, names))
        reads(statement)
    elif isinstance(statement, exp.TruncateTable):
        kind = "TRUNCATE TABLE"
        for table in statement.expressions:
            on("TRUNCATE", _name(table, names))
    elif isinstance(statement, exp.Insert):
        kind = "INSERT"
        target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
        on("INSERT", _name(target, names))
        if statement.expression is not None:
            reads(statement.expression)
    elif isinstance(statement, exp.Select):
        kind = "SELECT"
        reads(statement)
    else:
        raise AssertionError(f"no privilege mapping for {type(statement).__name__}: add a row to STATEMENT_KINDS")
    return Needs(kind, frozenset(needs))


def setup_statements(settings: Settings) -> list[str]:
    """Every statement of the bootstrap, rendered for these settings."""
    names = names_from_settings(settings.snowflake, settings.storage)
    return [statement for path in SETUP_FILES for statement in load_sql_file(path, names)]


def object_kinds(setup: list[str]) -> dict[str, str]:
    """Each schema object the bootstrap creates -> its type."""
    kinds = {}
    for statement in setup:
        match = OBJECT_STATEMENT.match(statement)
        if match and match["verb"].lower().startswith("create") and match["name"].count(".") == 2:
            kinds[match["name"].upper()] = " ".join(match["kind"].upper().split())
    return kinds


def granted(setup: list[str], role: str) -> tuple[set[Privilege], set[tuple[str, str]]]:
    """The privileges the setup grants to `role`, and who it grants `role` to ((USER|ROLE, name))."""
    privileges: set[Privilege] = set()
    holders: set[tuple[str, str]] = set()
    for sql in setup:
        if not sql.lower().startswith("grant"):
            continue
        if holder := ROLE_GRANT.match(sql):
            if holder[1].upper() == role.upper():
                holders.add((holder[2].upper(), holder[3].upper()))
            continue
        grant = sqlglot.parse_one(sql, read="snowflake")
        assert isinstance(grant, exp.Grant), f"not a GRANT the test can read: {sql}"
        if ("ROLE", role.upper()) not in {(str(p.args.get("kind")).upper(), p.name.upper()) for p in
                                          grant.args["principals"]}:  # fmt: skip
            continue
        securable = grant.args["securable"]
        name = ".".join(part.name.upper() for part in securable.parts)
        privileges |= {(p.name.upper(), str(grant.args["kind"]).upper(), name) for p in grant.args["privileges"]}
    return privileges, holders


def missing_and_unused(
    statements: list[str], settings: Settings, setup: list[str]
) -> tuple[dict[Privilege, str], set[Privilege]]:
    """Privileges some statement needs that the setup does not grant (-> the statement), and grants none needs."""
    names = names_from_settings(settings.snowflake, settings.storage)
    kinds = object_kinds(setup)
    held, _holders = granted(setup, names["role"])
    needed: dict[Privilege, str] = {}
    for sql in statements:
        needs = statement_needs(sql, names, kinds)
        for privilege in needs.privileges:
            needed.setdefault(privilege, f"{needs.kind}: {' '.join(sql.split())[:100]}")
    return {p: sql for p, sql in needed.items() if p not in held}, held - set(needed)


@dataclass(frozen=True)
class LoaderRun:
    """The settings of a warehouse the loader and the report ran against, and every statement they ran."""

    settings: Settings
    statements: list[str]


def _record(monkeypatch: pytest.MonkeyPatch, statements: list[str]) -> None:
    """Record every statement a `Warehouse` runs: as given to it, or as sent when no public method sent it."""
    depth = [0]

    def recorded(name: str) -> Any:
        original = getattr(Warehouse, name)

        def run(self: Warehouse, sql: str, params: Any = None) -> Any:
            statements.append(sql)
            depth[0] += 1
            try:
                return original(self, sql, params)
            finally:
                depth[0] -= 1

        return run

    original_cursor = Warehouse._execute_cursor

    def cursor_execute(cursor: Any, sql: str, params: Any) -> None:
        if depth[0] == 0:  # e.g. BEGIN/COMMIT of `transaction()`, or a method added later
            statements.append(sql)
        original_cursor(cursor, sql, params)

    monkeypatch.setattr(Warehouse, "execute", recorded("execute"))
    monkeypatch.setattr(Warehouse, "query_dicts", recorded("query_dicts"))
    monkeypatch.setattr(Warehouse, "_execute_cursor", staticmethod(cursor_execute))


@pytest.fixture(scope="module")
def loader_run(
    fakesnow_emulator: tuple[str, int], s3_emulator: S3Emulator, curated: list[dict[str, Any]]
) -> Iterator[LoaderRun]:
    """A bootstrapped warehouse; then, recorded: a full load, a skip check, the report and one day's line."""
    # the bootstrap role's statements are not recorded: only the loader's below
    settings, partitions = bootstrapped_warehouse(fakesnow_emulator, s3_emulator, curated, "grants")
    statements: list[str] = []
    expected = job_summary(curated)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _record(monkeypatch, statements)
        load_orders(settings, partitions, "run-grants", expected)
        reused = load_orders(settings, partitions, "run-reused", expected, True)  # the rows' own run: skipped
        report = read_report(settings)
        day = read_day(settings, date.fromisoformat(partitions[0]))
    assert reused.skipped and report.kpis["total_orders"] == 800 and day is not None  # the run really ran
    yield LoaderRun(settings, statements)


def test_every_statement_the_loader_role_runs_is_granted_and_every_grant_is_used(loader_run: LoaderRun) -> None:
    setup = setup_statements(loader_run.settings)
    missing, unused = missing_and_unused(loader_run.statements, loader_run.settings, setup)
    assert not missing, "sql/setup does not grant the loader role:\n" + "\n".join(
        f"  {privilege} on {kind} {name}, needed by {sql}" for (privilege, kind, name), sql in missing.items()
    )
    assert not unused, f"sql/setup grants what no statement of the loader or the report needs: {sorted(unused)}"


def test_the_recording_covers_every_documented_statement_kind(loader_run: LoaderRun) -> None:
    names = names_from_settings(loader_run.settings.snowflake, loader_run.settings.storage)
    kinds = object_kinds(setup_statements(loader_run.settings))
    seen = {statement_needs(sql, names, kinds).kind for sql in loader_run.statements}
    assert seen == set(STATEMENT_KINDS)  # a row no statement exercises is stale; a missing row fails above
    views = {name for name, kind in kinds.items() if kind == "VIEW"}
    read = {name for sql in loader_run.statements for name in views if name.split(".")[-1] in sql.upper()}
    assert read == views  # the report reads every view


def test_the_loader_role_is_granted_to_the_pipeline_user_and_to_sysadmin() -> None:
    settings = Settings().updated(snowflake={"user": "ECOM_SVC", "role": "ECOM_LOADER"})
    _privileges, holders = granted(setup_statements(settings), "ECOM_LOADER")
    assert holders == {("USER", "ECOM_SVC"), ("ROLE", "SYSADMIN")}


def test_a_statement_without_its_grant_fails_the_check() -> None:
    settings = Settings()
    setup = setup_statements(settings)
    extra = "delete from ECOM.ANALYTICS.load_audit where run_id = ?"
    missing, unused = missing_and_unused([extra], settings, setup)
    audit = "ECOM.ANALYTICS.LOAD_AUDIT"
    assert set(missing) == {("DELETE", "TABLE", audit), ("SELECT", "TABLE", audit)}
    assert ("INSERT", "TABLE", audit) in unused  # only one statement given here
    without_stage_grant = [sql for sql in setup if not sql.startswith("grant usage on stage")]
    copy = "copy into ECOM.ANALYTICS.orders_staging from '@ECOM.ANALYTICS.ECOM_CURATED_STAGE/x/'"
    missing, _unused = missing_and_unused([copy], settings, without_stage_grant)
    assert set(missing) == {("USAGE", "STAGE", "ECOM.ANALYTICS.ECOM_CURATED_STAGE")}
    with pytest.raises(AssertionError, match="no privilege mapping for Update"):
        missing_and_unused(["update ECOM.ANALYTICS.orders set revenue = 0"], settings, setup)


def test_no_or_replace_can_drop_a_grant_on_a_second_bootstrap() -> None:
    setup = setup_statements(Settings())
    replaced = [(index, match) for index, sql in enumerate(setup) if (match := OBJECT_STATEMENT.match(sql))
                and match["verb"].lower() == "create or replace"]  # fmt: skip
    assert replaced, "the views are replaced on every bootstrap; the check must see them"
    for index, match in replaced:
        kind, name = " ".join(match["kind"].lower().split()), match["name"].lower()
        assert kind == "view", f"only views may be replaced (a {kind} holds data or settings): {setup[index][:80]}"
        assert "copy grants" in setup[index].lower(), f"{name} is replaced without COPY GRANTS"
        regrant = [sql for sql in setup[index + 1 :] if sql.lower().startswith("grant") and f" on {kind} {name} " in
                   sql.lower()]  # fmt: skip
        assert regrant, f"no grant on {name} after it is (re)created"
