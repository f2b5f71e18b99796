"""SQL through jinja2: the files under `sql/` and the loader's statements are templates filled with object names.

Only names go through here (database, schema, stage, bucket, ...): Snowflake cannot bind an identifier or a
stage URL as a parameter, so every name a template reads must pass a strict pattern first. Values (dates, run
ids, counts) are always bound by the caller, never rendered. Macros are jinja's own: a view imports the one
money rounding with `{% from 'macros/money.sql' import money %}`, and sqlfluff's jinja templater (`.sqlfluff`)
resolves the same import when it lints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from jinja2 import Environment, FileSystemLoader, StrictUndefined, meta

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import REPO_ROOT, SnowflakeSettings, StorageSettings
from ecom_pipeline.warehouse.views import ANALYTICS_VIEWS

SQL_DIR = REPO_ROOT / "sql"
# What `bootstrap-warehouse` runs, in order: the setup files, then one file per view.
SETUP_FILES: tuple[str, ...] = (
    "setup/01_snowflake_setup.sql",
    "setup/02_storage_integration.sql",
    "setup/03_stage_setup.sql",
    "setup/04_orders_table.sql",
    *(view.file for view in ANALYTICS_VIEWS),
)
FILE_FORMAT_NAME = "CURATED_PARQUET"

# SQL, not HTML: autoescaping would turn a quote into `&#39;`. What a template prints is validated in `render`.
TEMPLATES = Environment(loader=FileSystemLoader(SQL_DIR), undefined=StrictUndefined, keep_trailing_newline=True)  # noqa: S701  # nosec

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

# Every name our SQL reads: its kind, and the setting its value comes from (so an error names the setting to fix;
# None for a constant or the date a load is for). A name not listed here is an error, not a default identifier.
PLACEHOLDERS: dict[str, tuple[str, str | None]] = {
    "database": ("identifier", "SNOWFLAKE_DATABASE"),
    "schema": ("identifier", "SNOWFLAKE_SCHEMA"),
    "warehouse": ("identifier", "SNOWFLAKE_WAREHOUSE"),
    "role": ("identifier", "SNOWFLAKE_ROLE"),
    "user": ("identifier", "SNOWFLAKE_USER"),
    "integration": ("identifier", "SNOWFLAKE_STORAGE_INTEGRATION"),
    "stage": ("identifier", "SNOWFLAKE_STAGE"),
    "file_format": ("identifier", None),
    "bucket": ("bucket", "ECOM_CURATED_BUCKET"),
    "prefix": ("prefix", "ECOM_CURATED_PREFIX"),
    "aws_role_arn": ("role_arn", "SNOWFLAKE_AWS_ROLE_ARN"),
    "partition_date": ("date", None),
}


class SqlPlaceholderError(ConfigError, ValueError):
    """A name our SQL cannot take (unknown, missing, or not an identifier, bucket, ARN or date): names the
    placeholder and its setting. A ValueError too, for callers that validate values generically."""


def _label(name: str) -> str:
    """`SQL placeholder 'user' (setting SNOWFLAKE_USER)`; raise SqlPlaceholderError for a name our SQL never reads."""
    if name not in PLACEHOLDERS:
        raise SqlPlaceholderError(f"unknown SQL placeholder '{name}'; known: {', '.join(sorted(PLACEHOLDERS))}")
    setting = PLACEHOLDERS[name][1]
    return f"SQL placeholder '{name}'" + (f" (setting {setting})" if setting else "")


def validate(name: str, value: str) -> str:
    """Return `value` if it is a valid `name` placeholder value; raise SqlPlaceholderError naming the placeholder."""
    label, kind = _label(name), PLACEHOLDERS[name][0]
    if not isinstance(value, str) or not PATTERNS[kind].fullmatch(value):
        raise SqlPlaceholderError(f"{label} rejects {value!r}: not a valid {kind.replace('_', ' ')}")
    if kind == "date":
        try:
            date.fromisoformat(value)  # the pattern admits 2026-13-45; the calendar does not
        except ValueError as error:
            raise SqlPlaceholderError(f"{label} rejects {value!r}: {error}") from error
    return value


def render(sql: str, values: Mapping[str, str]) -> str:
    """Render the jinja template `sql` (imports resolve under `sql/`) with the names it reads, each validated.

    Raises:
        SqlPlaceholderError: the template reads an unknown name, or one with no value or an invalid value.
    """
    template = TEMPLATES.parse(sql)
    names: dict[str, str] = {}
    for name in sorted(meta.find_undeclared_variables(template)):
        if name not in values:
            raise SqlPlaceholderError(f"{_label(name)} has no value; given: {', '.join(sorted(values))}")
        names[name] = validate(name, values[name])
    return TEMPLATES.from_string(template).render(names)


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


def load_sql_file(relative_path: str, values: Mapping[str, str]) -> list[str]:
    """Read, render and split one file under `sql/`."""
    return split_statements(render((SQL_DIR / relative_path).read_text(encoding="utf-8"), values))
