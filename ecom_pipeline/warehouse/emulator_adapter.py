"""The local adapter: absorbs what the fakesnow emulator cannot run, so `sql/` stays real Snowflake SQL.

Used only when `settings.snowflake.emulator` is true. Every statement passes through `adapt()`, which either
returns it unchanged, drops it (`skip`), or rewrites it into statements the emulator runs with the same effect
(`rewrite`). `EMULATOR_GAPS` lists each kind with its reason (the README's table of the emulator's gaps).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["skip", "rewrite"]
# (database, schema, table) of each table a statement reads -> the declared scale of their NUMBER columns by name.
ColumnScales = Callable[[Sequence[tuple[str, str, str]]], Mapping[str, int]]
MONEY_SCALE = 2  # what a summed expression that is not a column of a known table is taken to be


@dataclass(frozen=True)
class EmulatorGap:
    """One kind of statement the adapter handles, and why."""

    statement: str
    action: Action
    pattern: re.Pattern[str]
    reason: str


def _starts(words: str) -> re.Pattern[str]:
    return re.compile(r"^\s*" + words.replace(" ", r"\s+") + r"\b", re.IGNORECASE)


EMULATOR_GAPS: tuple[EmulatorGap, ...] = (
    EmulatorGap(
        "CREATE WAREHOUSE",
        "skip",
        _starts("create warehouse"),
        "fakesnow cannot parse it; DuckDB has no compute warehouses to size or suspend.",
    ),
    EmulatorGap(
        "CREATE ROLE",
        "skip",
        _starts("create role"),
        "fakesnow cannot parse it; the emulator has no access control.",
    ),
    EmulatorGap(
        "GRANT",
        "skip",
        _starts("grant"),
        "fakesnow cannot parse grants (of privileges or of roles); every session may do everything.",
    ),
    EmulatorGap(
        "SHOW GRANTS",
        "skip",
        _starts("show grants"),
        "fakesnow cannot parse it; with no access control there are no grants to show.",
    ),
    EmulatorGap(
        "CREATE STORAGE INTEGRATION",
        "skip",
        _starts("create storage integration"),
        "fakesnow cannot parse it; the emulator reads S3 with its own s3fs credentials and endpoint.",
    ),
    EmulatorGap(
        "ALTER STAGE",
        "rewrite",
        _starts("alter stage"),
        "fakesnow cannot parse it: `ALTER STAGE s SET <params>` becomes `CREATE OR REPLACE STAGE s <params>`, "
        "which leaves the emulator's stage with the same URL and file format (it holds no grants to lose).",
    ),
    EmulatorGap(
        "CREATE DATABASE/SCHEMA/TABLE IF NOT EXISTS",
        "rewrite",
        re.compile(r"^\s*create\s+(?:transient\s+)?(?:database|schema|table)\s+if\s+not\s+exists\b", re.IGNORECASE),
        "fakesnow answers 'successfully created' when the object exists, and re-creating a table wipes its COPY "
        "load history: the adapter looks the object up first and, when it exists, runs nothing and answers as "
        "Snowflake does ('<NAME> already exists, statement succeeded.').",
    ),
    EmulatorGap(
        "MERGE",
        "rewrite",
        _starts("merge into"),
        "fakesnow runs MERGE through a temporary table in its global catalog, which DuckDB refuses inside "
        "a transaction that already wrote elsewhere: rewritten as count + UPDATE ... FROM + INSERT ... "
        "WHERE NOT EXISTS, returning Snowflake's (rows inserted, rows updated).",
    ),
    EmulatorGap(
        "SUM(number)",
        "rewrite",
        re.compile(r"\bsum\s*\(", re.IGNORECASE),
        "fakesnow sums through DOUBLE (`SUM(TRY_CAST(x AS DOUBLE))`), which drifts by cents over a million "
        "rows: each argument is cast to NUMBER(38, s) first, s the column's declared scale (fakesnow leaves a "
        "cast argument alone), so DuckDB sums exact decimals and returns NUMBER(38, s), as Snowflake does; "
        "an argument that is not a column of a table the statement names is taken as money, s = 2.",
    ),
)


@dataclass(frozen=True)
class Adapted:
    """What to run for one statement: nothing (skipped), the statement itself, or a MERGE rewrite."""

    statements: tuple[str, ...]
    gap: EmulatorGap | None = None
    # For a MERGE rewrite: the indexes of the count queries whose first value is (inserted, updated).
    merge_counts: tuple[int, int] | None = field(default=None)
    # For CREATE ... IF NOT EXISTS: a query that returns a row when the object exists, and Snowflake's answer then.
    exists_probe: tuple[str, str] | None = field(default=None)

    @property
    def skipped(self) -> bool:
        """True when the emulator runs nothing for this statement."""
        return not self.statements


def adapt(sql: str, column_scales: ColumnScales | None = None) -> Adapted:
    """Return what the emulator should run for `sql`; `column_scales` looks up summed columns' scales."""
    for gap in EMULATOR_GAPS:
        if gap.pattern.search(sql):
            if gap.action == "skip":
                return Adapted((), gap)
            if gap.statement == "SUM(number)":  # the one rewrite that needs the catalog
                return _rewrite_sums(sql, gap, column_scales)
            return REWRITES[gap.statement](sql, gap)
    return Adapted((sql,))


def _rewrite_alter_stage(sql: str, gap: EmulatorGap) -> Adapted:
    """`ALTER STAGE [IF EXISTS] name SET params` -> `CREATE OR REPLACE STAGE name params`."""
    match = re.match(r"^\s*alter\s+stage\s+(?:if\s+exists\s+)?(\S+)\s+set\s+(.*)$", sql, re.IGNORECASE | re.DOTALL)
    if match is None:
        raise ValueError(f"the ALTER STAGE rewrite handles `ALTER STAGE name SET ...` only, got: {sql[:80]}")
    return Adapted((f"create or replace stage {match.group(1)} {match.group(2)}",), gap)


# Where the emulator lists each kind of object, and the columns of its fully qualified name.
LOOKUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "DATABASE": ("information_schema.schemata", ("catalog_name",)),
    "SCHEMA": ("information_schema.schemata", ("catalog_name", "schema_name")),
    "TABLE": ("information_schema.tables", ("table_catalog", "table_schema", "table_name")),
}


def _rewrite_create_if_not_exists(sql: str, gap: EmulatorGap) -> Adapted:
    """Run the CREATE only when a lookup in the emulator's information schema finds no such object."""
    import sqlglot
    from sqlglot import exp

    create = sqlglot.parse_one(sql, read="snowflake")
    target = create.this.this if isinstance(create.this, exp.Schema) else create.this
    if not isinstance(create, exp.Create) or not isinstance(target, exp.Table):
        raise ValueError(f"expected CREATE ... IF NOT EXISTS, got: {sql[:80]}")
    parts = [part.name.upper() for part in target.parts]
    if any(not re.fullmatch(r"[A-Z_][A-Z0-9_$]*", part) for part in parts):
        return Adapted((sql,), gap)  # a quoted name: let the emulator answer as it does
    source, columns = LOOKUPS[str(create.args.get("kind")).upper()]
    if len(parts) != len(columns):
        return Adapted((sql,), gap)  # not fully qualified: the emulator's current database decides
    where = " and ".join(f"{column} = '{part}'" for column, part in zip(columns, parts, strict=True))
    probe = f"select 1 from {source} where {where} limit 1"
    return Adapted((sql,), gap, exists_probe=(probe, f"{parts[-1]} already exists, statement succeeded."))


def _rewrite_merge(sql: str, gap: EmulatorGap) -> Adapted:
    """Rewrite `MERGE INTO t AS a USING (...) AS s ON ... WHEN MATCHED UPDATE / WHEN NOT MATCHED INSERT`."""
    import sqlglot  # fakesnow's own parser: present wherever the emulator runs
    from sqlglot import exp

    merge = sqlglot.parse_one(sql, read="snowflake")
    if not isinstance(merge, exp.Merge):
        raise ValueError(f"expected a MERGE statement, got: {sql[:80]}")
    target, source, on = merge.this, merge.args["using"], merge.args["on"]
    target_name = target.copy()
    target_name.set("alias", None)
    when_clauses = merge.args["whens"].expressions if isinstance(merge.args["whens"], exp.Whens) else []
    update = next((w.args["then"] for w in when_clauses if w.args.get("matched")), None)
    insert = next((w.args["then"] for w in when_clauses if not w.args.get("matched")), None)
    if not isinstance(update, exp.Update) or not isinstance(insert, exp.Insert):
        raise ValueError("the MERGE rewrite handles exactly one WHEN MATCHED UPDATE and one WHEN NOT MATCHED INSERT")

    def dialect(node: exp.Expression) -> str:
        return node.sql(dialect="snowflake")

    matched = f"exists (select 1 from {dialect(target)} where {dialect(on)})"
    source_sql = dialect(source)
    # Counts first: after the UPDATE and INSERT every source row matches.
    count_inserted = f"select count(*) from {source_sql} where not {matched}"
    count_updated = f"select count(*) from {source_sql} where {matched}"
    # DuckDB takes no alias in SET targets: name the bare column.
    assignments = ", ".join(f"{a.this.name} = {dialect(a.expression)}" for a in update.expressions)
    update_sql = f"update {dialect(target)} set {assignments} from {source_sql} where {dialect(on)}"
    columns = ", ".join(column.name for column in insert.this.expressions)
    values = ", ".join(dialect(value) for value in insert.expression.expressions)
    insert_sql = f"insert into {dialect(target_name)} ({columns}) select {values} from {source_sql}"
    insert_sql += f" where not {matched}"
    return Adapted((count_inserted, count_updated, update_sql, insert_sql), gap, merge_counts=(0, 1))


def _rewrite_sums(sql: str, gap: EmulatorGap, column_scales: ColumnScales | None) -> Adapted:
    """Cast every SUM argument to NUMBER(38, its scale), so the emulator adds exact decimals of Snowflake's type.

    Snowflake's SUM of NUMBER(p, s) is NUMBER(38, s): a sum of quantities stays an integer, a sum of money has
    cents. The scale of a summed column comes from the tables the statement names (through CTEs too: a CTE's
    column keeps its table column's name in our SQL); anything else is taken as money.
    """
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="snowflake")
    created = tree.this if isinstance(tree, exp.Create) else None  # the view being made is not read
    read = [t for t in tree.find_all(exp.Table) if t is not created and t.catalog and t.db]
    tables = sorted({(t.catalog, t.db, t.name) for t in read})
    scales = column_scales(tables) if column_scales is not None and tables else {}

    def exact(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Sum) and not isinstance(node.this, exp.Cast | exp.TryCast):
            argument = node.this
            named = isinstance(argument, exp.Column) and argument.name.upper() in scales
            scale = scales[argument.name.upper()] if named else MONEY_SCALE
            number = exp.DataType.build(f"NUMBER(38, {scale})", dialect="snowflake")
            node.set("this", exp.cast(argument.copy(), number))
        return node

    return Adapted((tree.transform(exact).sql(dialect="snowflake"),), gap)


REWRITES: dict[str, Callable[[str, EmulatorGap], Adapted]] = {
    "ALTER STAGE": _rewrite_alter_stage,
    "CREATE DATABASE/SCHEMA/TABLE IF NOT EXISTS": _rewrite_create_if_not_exists,
    "MERGE": _rewrite_merge,
}
