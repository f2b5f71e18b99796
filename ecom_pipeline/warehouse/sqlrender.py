"""A tiny SQL renderer: fills `{{ name }}` placeholders with object names that pass a strict pattern.

Only names go through here (database, schema, stage, bucket, ...): Snowflake cannot bind an identifier or a
stage URL as a parameter. Values (dates, run ids, counts) are always bound by the caller, never rendered.

Snowflake has no SQL macros, so the one expression our views share is a jinja macro in `sql/macros/`
(`{{ money('sum(revenue)') }}`): this renderer expands it from that file, and sqlfluff's jinja templater
(`.sqlfluff`) from the same file, so the text exists once. Not jinja itself: a macro takes one SQL expression
written in our own files, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import REPO_ROOT, SnowflakeSettings, StorageSettings
from ecom_pipeline.warehouse.views import ANALYTICS_VIEWS

SQL_DIR = REPO_ROOT / "sql"
MACRO_DIR = SQL_DIR / "macros"
# What `bootstrap-warehouse` runs, in order: the setup files, then one file per view.
SETUP_FILES: tuple[str, ...] = (
    "setup/01_snowflake_setup.sql",
    "setup/02_storage_integration.sql",
    "setup/03_stage_setup.sql",
    "setup/04_orders_table.sql",
    *(view.file for view in ANALYTICS_VIEWS),
)
FILE_FORMAT_NAME = "CURATED_PARQUET"

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# `{{ money('sum(revenue)') }}`: a macro applied to one SQL expression (no quotes or braces inside).
MACRO_CALL = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\(\s*'([^'{}]*)'\s*\)\s*\}\}")
# `{% macro money(amount) -%} body {%- endmacro %}` in sql/macros/*.sql; the body is used stripped.
MACRO_DEFINITION = re.compile(
    r"\{%-?\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*-?%\}(.*?)"
    r"\{%-?\s*endmacro\s*-?%\}",
    re.DOTALL,
)

# One pattern per kind of name. None of them admits a quote, a space, a semicolon or a comment marker.
PATTERNS: dict[str, re.Pattern[str]] = {
    "identifier": re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$"),
    # S3 bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens.
    "bucket": re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
    # Key prefix: path segments of safe characters, no leading or trailing slash, no `..`.
    "prefix": re.compile(r"^(?!.*\.\.)[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$"),
    "role_arn": re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
}

# The kind of every placeholder our SQL uses; an unknown placeholder is an error, not a default identifier.
PLACEHOLDER_KINDS: dict[str, str] = {
    "database": "identifier",
    "schema": "identifier",
    "warehouse": "identifier",
    "role": "identifier",
    "user": "identifier",
    "integration": "identifier",
    "stage": "identifier",
    "file_format": "identifier",
    "bucket": "bucket",
    "prefix": "prefix",
    "aws_role_arn": "role_arn",
    "partition_date": "date",
}


# Where each placeholder's value comes from, so a rejected value names the setting to fix.
SETTING_OF: dict[str, str] = {
    "database": "SNOWFLAKE_DATABASE",
    "schema": "SNOWFLAKE_SCHEMA",
    "warehouse": "SNOWFLAKE_WAREHOUSE",
    "role": "SNOWFLAKE_ROLE",
    "user": "SNOWFLAKE_USER",
    "integration": "SNOWFLAKE_STORAGE_INTEGRATION",
    "stage": "SNOWFLAKE_STAGE",
    "bucket": "ECOM_CURATED_BUCKET",
    "prefix": "ECOM_CURATED_PREFIX",
    "aws_role_arn": "SNOWFLAKE_AWS_ROLE_ARN",
}


class SqlPlaceholderError(ConfigError, ValueError):
    """A value that cannot go into our SQL (not an identifier, bucket, ARN or date): names the placeholder and its
    setting. A ValueError too, for callers that validate values generically."""


def validate(name: str, value: str) -> str:
    """Return `value` if it is a valid `name` placeholder value; raise SqlPlaceholderError naming the placeholder."""
    kind = PLACEHOLDER_KINDS.get(name)
    if kind is None:
        raise SqlPlaceholderError(f"unknown SQL placeholder '{name}'; known: {', '.join(sorted(PLACEHOLDER_KINDS))}")
    setting = f" (setting {SETTING_OF[name]})" if name in SETTING_OF else ""
    if not isinstance(value, str) or not PATTERNS[kind].fullmatch(value):
        problem = f"not a valid {kind.replace('_', ' ')}"
        raise SqlPlaceholderError(f"SQL placeholder '{name}'{setting} rejects {value!r}: {problem}")
    if kind == "date":
        try:
            date.fromisoformat(value)  # the pattern admits 2026-13-45; the calendar does not
        except ValueError as error:
            raise SqlPlaceholderError(f"SQL placeholder '{name}' rejects {value!r}: {error}") from error
    return value


@cache
def sql_macros(macro_dir: Path = MACRO_DIR) -> dict[str, tuple[str, str]]:
    """The macros defined in `macro_dir/*.sql`: name -> (parameter, body)."""
    macros: dict[str, tuple[str, str]] = {}
    for path in sorted(macro_dir.glob("*.sql")):
        for name, parameter, body in MACRO_DEFINITION.findall(path.read_text(encoding="utf-8")):
            macros[name] = (parameter, body.strip())
    return macros


def expand_macros(sql: str, macros: Mapping[str, tuple[str, str]]) -> str:
    """Replace every `{{ macro('expression') }}` in `sql` with the macro's body applied to the expression."""

    def expand(match: re.Match[str]) -> str:
        name, argument = match.groups()
        if name not in macros:
            raise SqlPlaceholderError(f"unknown SQL macro '{name}'; known: {', '.join(sorted(macros)) or 'none'}")
        parameter, body = macros[name]
        return re.sub(r"\{\{\s*" + parameter + r"\s*\}\}", lambda _: argument.strip(), body)

    return MACRO_CALL.sub(expand, sql)


def render(sql: str, values: Mapping[str, str], macros: Mapping[str, tuple[str, str]] | None = None) -> str:
    """Expand the macros in `sql` (default: sql/macros/), then replace every `{{ name }}` with its validated value.

    Raises:
        SqlPlaceholderError: an unknown placeholder or macro, a missing or invalid value, or template syntax left
            over (a `{{`, `{%` or `{#` neither form matches), which Snowflake would otherwise receive.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise SqlPlaceholderError(f"SQL placeholder '{name}' has no value; given: {', '.join(sorted(values))}")
        return validate(name, values[name])

    rendered = PLACEHOLDER.sub(substitute, expand_macros(sql, sql_macros() if macros is None else macros))
    leftover = re.search(r"\{[{%#].*", rendered)
    if leftover:
        raise SqlPlaceholderError(f"SQL template syntax the renderer does not know: {leftover.group(0)[:80]}")
    return rendered


def names_from_settings(sf: SnowflakeSettings, storage: StorageSettings) -> dict[str, str]:
    """The placeholder values our SQL files use, taken from settings."""
    return {
        "database": sf.database,
        "schema": sf.schema_name,
        "warehouse": sf.warehouse,
        "role": sf.role,
        "user": sf.user,
        "integration": sf.storage_integration,
        "stage": sf.stage,
        "file_format": FILE_FORMAT_NAME,
        "bucket": storage.curated_bucket,
        "prefix": storage.curated_prefix.strip("/"),
        "aws_role_arn": sf.aws_role_arn,
    }


def split_statements(sql: str) -> list[str]:
    """Split SQL on `;` at line ends, dropping comment-only chunks (our files hold no `;` in strings)."""
    statements = []
    for chunk in re.split(r";\s*(?:\n|$)", sql):
        code = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--")).strip()
        if code:
            statements.append(code)
    return statements


def load_sql_file(relative_path: str, values: Mapping[str, str], sql_dir: Path = SQL_DIR) -> list[str]:
    """Read, render and split one file under `sql/`."""
    return split_statements(render((sql_dir / relative_path).read_text(encoding="utf-8"), values))
