"""The job's arguments, Glue-style `--name value`, validated once; and the business defaults, written once.

Settings, JobRequest and the DuckDB reference are tested against DEFAULT_COST_RATIO and DEFAULT_ORDER_STATUS
(tests/test_curated_contract.py). Inside Glue the arguments come through Glue's getResolvedOptions; elsewhere
through argparse, which ignores Glue's own system arguments (`--TempDir`, `--extra-py-files`, ...) the same way.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from spark_jobs.orders.errors import JobConfigError

try:  # Only inside Glue (or its container image).
    from awsglue.utils import getResolvedOptions
except ImportError:
    getResolvedOptions = None

REQUIRED_ARGS = (
    "JOB_NAME",
    "raw_path",
    "curated_path",
    "quarantine_path",
    "ingest_date",
    "run_id",
    "summary_path",
)
DEFAULT_COST_RATIO = "0.6"
DEFAULT_ORDER_STATUS = "completed"
OPTIONAL_ARGS = {
    "cost_ratio": DEFAULT_COST_RATIO,
    "default_order_status": DEFAULT_ORDER_STATUS,
    "shuffle_partitions": None,
}


@dataclass(frozen=True)
class JobArgs:
    """Validated job arguments."""

    job_name: str
    raw_path: str
    curated_path: str
    quarantine_path: str
    ingest_date: date
    cost_ratio: Decimal
    run_id: str
    default_order_status: str
    summary_path: str
    shuffle_partitions: int | None


class _ArgParser(argparse.ArgumentParser):
    """argparse that raises JobConfigError instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        named = re.search(r"--(\w+)", message)
        raise JobConfigError(named.group(1) if named else "arguments", message)


def _raw_options(argv: Sequence[str]) -> dict[str, str]:
    """`--name value` pairs via Glue's getResolvedOptions, else argparse (ignoring Glue's system args)."""
    if getResolvedOptions is not None:
        present = [name for name in OPTIONAL_ARGS if f"--{name}" in argv]
        return dict(getResolvedOptions(list(argv), [*REQUIRED_ARGS, *present]))
    parser = _ArgParser(prog="orders_job", allow_abbrev=False)
    for name in REQUIRED_ARGS:
        parser.add_argument(f"--{name}", required=name != "JOB_NAME", default="orders_job")
    for name, default in OPTIONAL_ARGS.items():
        parser.add_argument(f"--{name}", default=default)
    known, _glue_system_args = parser.parse_known_args(list(argv[1:]))
    return {key: value for key, value in vars(known).items() if value is not None}


def parse_args(argv: Sequence[str]) -> JobArgs:
    """Parse and validate `argv` (sys.argv form); raise JobConfigError naming the argument at fault."""
    options = {**{k: v for k, v in OPTIONAL_ARGS.items() if v is not None}, **_raw_options(argv)}
    for name in REQUIRED_ARGS:
        if not str(options.get(name, "")).strip():
            raise JobConfigError(name, "must not be empty")
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", options["ingest_date"]):
            raise ValueError(options["ingest_date"])
        ingest_date = date.fromisoformat(options["ingest_date"])
    except ValueError:
        raise JobConfigError("ingest_date", f"{options['ingest_date']!r} is not a YYYY-MM-DD date") from None
    try:
        cost_ratio = Decimal(options["cost_ratio"])
    except InvalidOperation:
        raise JobConfigError("cost_ratio", f"{options['cost_ratio']!r} is not a decimal number") from None
    if not cost_ratio.is_finite() or not Decimal(0) < cost_ratio < Decimal(1):
        raise JobConfigError("cost_ratio", f"{options['cost_ratio']!r} must be between 0 and 1 (exclusive)")
    if cost_ratio.as_tuple().exponent < -6:  # type: ignore[operator]
        raise JobConfigError("cost_ratio", f"{options['cost_ratio']!r} has more than 6 decimal places")
    status = options["default_order_status"].strip()
    if not status:
        raise JobConfigError("default_order_status", "must not be blank")
    shuffle = options.get("shuffle_partitions")
    if shuffle is not None and (not shuffle.isdigit() or int(shuffle) < 1):
        raise JobConfigError("shuffle_partitions", f"{shuffle!r} must be a positive integer")
    return JobArgs(
        job_name=options["JOB_NAME"],
        raw_path=options["raw_path"].rstrip("/"),
        curated_path=options["curated_path"].rstrip("/"),
        quarantine_path=options["quarantine_path"].rstrip("/"),
        ingest_date=ingest_date,
        cost_ratio=cost_ratio,
        run_id=options["run_id"].strip(),
        default_order_status=status,
        summary_path=options["summary_path"],
        shuffle_partitions=int(shuffle) if shuffle is not None else None,
    )
