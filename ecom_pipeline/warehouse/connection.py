"""Snowflake connections, the statement runner (with the emulator adapter) and the warehouse bootstrap.

The Snowflake connector is imported when the first connection opens, not with this module: the flow imports this
module at its start, and a local run can import the connector while its Spark job runs (flows/warm_up.py).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ecom_pipeline.exceptions import WarehouseError
from ecom_pipeline.settings import Settings, SnowflakeSettings
from ecom_pipeline.warehouse.auth import EMULATOR_PASSWORD, authenticator, snowflake_credentials
from ecom_pipeline.warehouse.bootstrap_changes import BootstrapResult, track_bootstrap
from ecom_pipeline.warehouse.emulator_adapter import adapt
from ecom_pipeline.warehouse.sqlrender import SETUP_FILES, load_sql_file, names_from_settings

logger = logging.getLogger(__name__)

Row = tuple[Any, ...]
# Statement errors a later attempt can get past. The connector itself retries network failures; every other
# statement error (compilation, privileges, constraint, conversion) fails the same way again (retry_policy.py).
# 000630: "Statement reached its statement or warehouse timeout ... and was canceled" (a queued warehouse).
TRANSIENT_STATEMENT_ERRNOS = frozenset({630})


class Warehouse:
    """One Snowflake session: statements with bound `?` parameters, via the adapter on the emulator."""

    def __init__(self, connection: Any, emulator: bool) -> None:
        self.connection = connection
        self.emulator = emulator
        self.skipped: list[str] = []

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[Row]:
        """Run one statement and return its rows (DML returns Snowflake's count rows)."""
        statements: Sequence[str] = (sql,)
        merge_counts = None
        if self.emulator:
            adapted = adapt(sql, self._column_scales)
            if adapted.skipped:
                self.skipped.append(adapted.gap.statement if adapted.gap else sql[:40])
                logger.debug("emulator adapter skipped: %s", sql.splitlines()[0])
                return []
            if adapted.exists_probe and self._run(adapted.exists_probe[0], None):
                return [(adapted.exists_probe[1],)]  # what Snowflake answers for an existing object
            statements, merge_counts = adapted.statements, adapted.merge_counts
        results = [self._run(statement, params) for statement in statements]
        if merge_counts is not None:  # Snowflake's MERGE answers one row: (rows inserted, rows updated)
            return [tuple(int(results[index][0][0]) for index in merge_counts)]
        return results[-1]

    def query_dicts(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run a query and return rows as dicts keyed by lower-case column name."""
        return self.query_table(sql, params)[1]

    def query_table(
        self, sql: str, params: Sequence[Any] | None = None
    ) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
        """Run a query; return its lower-case column names in order (known even without rows) and its rows."""
        with self.connection.cursor() as cursor:
            self._execute_cursor(cursor, sql, params)
            names = tuple(column[0].lower() for column in cursor.description)
            return names, [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT, or ROLLBACK when the block raises."""
        self._run("begin", None)
        try:
            yield
        except BaseException:
            self._run("rollback", None)
            raise
        self._run("commit", None)

    def _column_scales(self, tables: Sequence[tuple[str, str, str]]) -> dict[str, int]:
        """Declared scale of the NUMBER columns of `tables` (database, schema, table) by upper-case name.

        For the emulator's SUM rewrite. A name whose scale differs between the tables is left out (then the
        adapter takes it as money).
        """
        scales: defaultdict[str, set[int]] = defaultdict(set)
        for database, schema, table in tables:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", database):
                continue  # a quoted name: no lookup (the adapter takes its sums as money)
            rows = self._run(
                f"select column_name, numeric_scale from {database}.information_schema.columns "
                "where table_schema = ? and table_name = ? and data_type = 'NUMBER'",
                [schema.upper(), table.upper()],
            )
            for name, scale in rows:
                scales[str(name).upper()].add(int(scale))
        return {name: found.pop() for name, found in scales.items() if len(found) == 1}

    def _run(self, sql: str, params: Sequence[Any] | None) -> list[Row]:
        with self.connection.cursor() as cursor:
            self._execute_cursor(cursor, sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    @staticmethod
    def _execute_cursor(cursor: Any, sql: str, params: Sequence[Any] | None) -> None:
        from snowflake.connector.errors import Error as SnowflakeError

        try:
            cursor.execute(sql, params)
        except SnowflakeError as error:
            first_line = " ".join(sql.split())[:160]
            raise WarehouseError(
                f"Snowflake statement failed: {error.msg or error} -- in: {first_line}",
                transient=error.errno in TRANSIENT_STATEMENT_ERRNOS,
            ) from error


def connect_kwargs(sf: SnowflakeSettings) -> dict[str, Any]:
    """Connector arguments for these settings: the sign-in's authenticator (`auth.py`), then the pipeline's own needs.

    No secret: the credentials block holds those and adds its fields underneath these. Without a sign-in method, the
    emulator's own password. Host/port/protocol only when set (the emulator).
    """
    method = authenticator(sf)
    kwargs: dict[str, Any] = {
        **({"authenticator": method} if method else {"password": EMULATOR_PASSWORD}),
        "account": sf.account,
        "user": sf.user,
        "role": sf.role,
        "warehouse": sf.warehouse,
        "database": sf.database,
        "schema": sf.schema_name,
        # Server-side binding: values travel as typed parameters, never inside the SQL text.
        "paramstyle": "qmark",
        "login_timeout": 60,
        # The curated files' timestamps are UTC instants (Parquet TIMESTAMP adjusted to UTC), and Snowflake turns an
        # instant into a TIMESTAMP_NTZ wall clock in the session's TIMEZONE, whose default is America/Los_Angeles
        # (https://docs.snowflake.com/en/sql-reference/parameters#timezone): UTC makes `ingested_at` the UTC time.
        "session_parameters": {"QUERY_TAG": "ecom-pipeline", "TIMEZONE": "UTC"},
    }
    if sf.host:
        kwargs["host"] = sf.host
    if sf.port:
        kwargs["port"] = sf.port
    if sf.host or sf.port:
        kwargs["protocol"] = sf.protocol
    if sf.emulator:
        # The emulator answers an unsupported statement with HTTP 500; do not retry it for minutes.
        kwargs["network_timeout"] = 60
        kwargs["session_parameters"] = {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False}
    return kwargs


@contextmanager
def connect(sf: SnowflakeSettings) -> Iterator[Warehouse]:
    """Open a Snowflake session (the emulator when `sf.emulator`), closed on exit.

    The run's prefect-snowflake credentials (`credentials.resolve_credentials`) hand out the connection, so every
    field they carry applies (the sign-in, the key opened by prefect-snowflake, a block's endpoint, workload identity
    provider, autocommit, ...); the pipeline's own arguments go on top. Only the emulator without a sign-in method
    takes the stock connector, with its own password.
    """
    import snowflake.connector
    from snowflake.connector.errors import Error as SnowflakeError

    kwargs = connect_kwargs(sf)  # a ConfigError here (no method, two) is raised before any network call
    factory = sf.credentials_block
    if factory is None and "authenticator" in kwargs:  # settings that did not go through resolve_credentials
        factory = snowflake_credentials(sf)
    try:
        connection = factory.get_client(**kwargs) if factory is not None else snowflake.connector.connect(**kwargs)
    except SnowflakeError as error:
        where = f"{sf.host}:{sf.port}" if sf.host else f"account {sf.account}"
        raise WarehouseError(f"cannot connect to Snowflake at {where} as {sf.user}: {error.msg or error}") from error
    try:
        yield Warehouse(connection, emulator=sf.emulator)
    finally:
        connection.close()


def setup_statements(settings: Settings) -> tuple[dict[str, str], list[str]]:
    """The names and every rendered statement of sql/setup/01..04 and sql/views/ (every name validated)."""
    names = names_from_settings(settings.snowflake, settings.storage)
    return names, [statement for path in SETUP_FILES for statement in load_sql_file(path, names)]


def bootstrap_session(sf: SnowflakeSettings) -> SnowflakeSettings:
    """The bootstrap's session: `bootstrap_user` (default `user`) with `bootstrap_role`."""
    return sf.model_copy(update={"user": sf.bootstrap_user or sf.user, "role": sf.bootstrap_role})


def bootstrap_warehouse(settings: Settings) -> BootstrapResult:
    """Run sql/setup/01..04 and sql/views/ (one file per view) as the bootstrap role; report what changed.

    Every statement is rendered (every name validated) before connecting. The session is the bootstrap user's
    (`bootstrap_user`, default `user`) with `bootstrap_role`; the SQL grants the loader role (`role`) to `user`.
    Every statement is safe to run again: a second run reports that nothing changed.
    """
    names, statements = setup_statements(settings)
    with connect(bootstrap_session(settings.snowflake)) as warehouse:
        return track_bootstrap(warehouse, statements, loader_role=names["role"], files=len(SETUP_FILES))
