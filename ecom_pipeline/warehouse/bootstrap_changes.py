"""What a warehouse bootstrap changed, told from Snowflake's own answers rather than assumed.

- `CREATE ... IF NOT EXISTS` answers "<NAME> already exists, statement succeeded." for an object it left alone,
  and "<Kind> <NAME> successfully created." otherwise.
- `CREATE OR REPLACE VIEW` and `ALTER STAGE` always run: the object's `SHOW` row (a view's text; a stage's URL and
  integration) read before and after says whether it changed.
- `GRANT` answers "Statement executed successfully." either way: `SHOW GRANTS TO ROLE` / `OF ROLE` for the loader
  role, read before and after the whole bootstrap, says which grants are new.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ecom_pipeline.exceptions import WarehouseError

# `CREATE [OR REPLACE] [TRANSIENT] <kind> [IF NOT EXISTS] <name>` or `ALTER <kind> [IF EXISTS] <name>`.
OBJECT_STATEMENT = re.compile(
    r"^\s*(?P<verb>create\s+or\s+replace|create|alter)\s+(?:transient\s+)?"
    r"(?P<kind>storage\s+integration|file\s+format|warehouse|database|schema|role|table|stage|view)\s+"
    r"(?P<guard>if\s+(?:not\s+)?exists\s+)?(?P<name>[A-Za-z0-9_$.]+)",
    re.IGNORECASE,
)
ALREADY_EXISTS = "already exists, statement succeeded"
# For objects re-applied on every run: the SHOW command and the columns that say what the object is.
SHOW_STATE: dict[str, tuple[str, tuple[str, ...]]] = {
    "VIEW": ("views", ("text",)),
    "STAGE": ("stages", ("url", "storage_integration")),
}


class StatementRunner(Protocol):
    """The part of `Warehouse` the tracker uses."""

    skipped: list[str]

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]: ...

    def query_dicts(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class BootstrapResult:
    """What `bootstrap_warehouse` did, object by object ("TABLE ECOM.ANALYTICS.ORDERS") and grant by grant."""

    files: int
    created: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    existed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    grants_added: tuple[str, ...] = ()
    grant_statements: int = 0
    skipped: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()

    def __str__(self) -> str:
        done = [f"created {', '.join(self.created)}"] if self.created else []
        done += [f"changed {', '.join(self.changed)}"] if self.changed else []
        done += [f"granted {', '.join(self.grants_added)}"] if self.grants_added else []
        done += [f"ran {', '.join(self.unknown)} (effect unknown)"] if self.unknown else []
        kept = [f"{len(self.existed)} objects already existed"] if self.existed else []
        kept += [f"{len(self.unchanged)} re-applied unchanged"] if self.unchanged else []
        if self.grant_statements:
            kept.append(f"{self.grant_statements} grant statements")
        if self.skipped:
            kept.append(f"{len(self.skipped)} statements skipped by the emulator adapter")
        summary = "; ".join(done) if done else "nothing changed"
        return f"{summary} ({self.files} SQL files: {', '.join(kept)})"


@dataclass
class BootstrapTracker:
    """Runs bootstrap statements one by one and records what each changed."""

    warehouse: StatementRunner
    loader_role: str
    outcomes: dict[str, list[str]] = field(
        default_factory=lambda: {name: [] for name in ("created", "changed", "existed", "unchanged", "skipped")}
    )
    unknown: list[str] = field(default_factory=list)
    grant_statements: int = 0

    def run(self, statement: str) -> None:
        """Execute one statement and classify its effect."""
        match = OBJECT_STATEMENT.match(statement)
        kind = " ".join(match["kind"].upper().split()) if match else ""
        label = f"{kind} {match['name'].upper()}" if match else " ".join(statement.split())[:120]
        reapplied = match is not None and kind in SHOW_STATE and match["verb"].lower() != "create"
        before = self._state(kind, match["name"]) if match and reapplied else None
        skipped_before = len(self.warehouse.skipped)
        rows = self.warehouse.execute(statement)
        if len(self.warehouse.skipped) > skipped_before:
            self.outcomes["skipped"].append(label)  # the emulator ran nothing for it
        elif match and reapplied:
            after = self._state(kind, match["name"])
            self.outcomes["created" if before is None else "unchanged" if before == after else "changed"].append(label)
        elif match and match["verb"].lower() == "create" and match["guard"]:
            status = str(rows[0][0]) if rows and rows[0] else ""
            self.outcomes["existed" if ALREADY_EXISTS in status.lower() else "created"].append(label)
        elif statement.lstrip().lower().startswith("grant"):
            self.grant_statements += 1  # what it changed shows in `grants()` after the run
        else:
            self.unknown.append(label)

    def grants(self) -> frozenset[str]:
        """The loader role's grants ("USAGE on WAREHOUSE ECOM_WH") and holders ("ECOM_LOADER to USER ECOM")."""
        try:
            held = self.warehouse.execute(f"show grants to role {self.loader_role}")
            holders = self.warehouse.execute(f"show grants of role {self.loader_role}")
        except WarehouseError as error:
            if "does not exist" in str(error):
                return frozenset()  # before the first bootstrap: no role, no grants
            raise
        # Columns: created_on, privilege, granted_on, name, ... and created_on, role, granted_to, grantee_name, ...
        return frozenset(
            [f"{row[1]} on {row[2]} {row[3]}" for row in held] + [f"{row[1]} to {row[2]} {row[3]}" for row in holders]
        )

    def result(self, files: int, grants_added: frozenset[str]) -> BootstrapResult:
        """The outcome of every statement run so far."""
        return BootstrapResult(
            files=files,
            grants_added=tuple(sorted(grants_added)),
            grant_statements=self.grant_statements,
            unknown=tuple(self.unknown),
            **{name: tuple(labels) for name, labels in self.outcomes.items()},
        )

    def _state(self, kind: str, name: str) -> tuple[Any, ...] | None:
        """The object's SHOW row reduced to the columns that define it, or None when it does not exist."""
        database, schema, object_name = name.upper().split(".")
        command, columns = SHOW_STATE[kind]
        # LIKE treats `_` as a wildcard: the exact name is matched below.
        rows = self.warehouse.query_dicts(f"show {command} like '{object_name}' in schema {database}.{schema}")
        found = [row for row in rows if str(row["name"]).upper() == object_name]
        return tuple(found[0].get(column) for column in columns) if found else None


def track_bootstrap(
    warehouse: StatementRunner, statements: Sequence[str], loader_role: str, files: int
) -> BootstrapResult:
    """Run `statements` in order and report what they changed, grants included."""
    tracker = BootstrapTracker(warehouse, loader_role)
    grants_before = tracker.grants()
    for statement in statements:
        tracker.run(statement)
    return tracker.result(files, tracker.grants() - grants_before)
