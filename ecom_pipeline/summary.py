"""The end-of-run summary: a short console table and the same figures as JSON."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# Keys of the flow's summary that hold live objects for the console, not data for JSON.
CONSOLE_ONLY_KEYS = ("report",)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items() if key not in CONSOLE_ONLY_KEYS}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal | date | datetime | Path):
        return str(value) if not isinstance(value, date | datetime) else value.isoformat()
    return value


def summary_as_json(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with only JSON types: decimals and dates as strings, console-only objects removed."""
    return _jsonable(summary)


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} B"


def ingest_table(summary: dict[str, Any], raw_bucket: str | None = None) -> Table:
    """Records, quarantined, bytes and location per landed resource."""
    table = Table(title=f"Ingest {summary.get('run_date', '')}", title_justify="left")
    for column in ("resource", "records", "quarantined", "bytes", "location", "seconds"):
        table.add_column(
            column, justify="right" if column in {"records", "quarantined", "bytes", "seconds"} else "left"
        )
    for name, landed in summary.get("resources", {}).items():
        location = landed.get("location") or landed.get("manifest_key", "")
        table.add_row(
            name,
            f"{landed['records']:,}",
            f"{landed['quarantined']:,}",
            _human_bytes(landed["bytes"]),
            location,
            f"{landed.get('seconds', 0):.1f}",
        )
    return table


def stages_table(summary: dict[str, Any]) -> Table:
    """One line per later stage: transform and warehouse load."""
    table = Table(title="Transform and load", title_justify="left")
    table.add_column("stage")
    table.add_column("result")
    transform = summary.get("transform")
    if transform:
        reasons = ", ".join(
            f"{reason}: {count}" for reason, count in transform.get("quarantined_by_reason", {}).items()
        )
        table.add_row(
            "spark job",
            f"{transform['rows_read']:,} lines read, {transform['rows_written']:,} orders written, "
            f"{transform['rows_quarantined']:,} quarantined{f' ({reasons})' if reasons else ''}, "
            f"{transform.get('duplicates_removed', 0):,} duplicates removed, "
            f"partitions {', '.join(transform['partitions_written'])}",
        )
    warehouse = summary.get("warehouse")
    if warehouse:
        table.add_row(
            "snowflake load",
            ", ".join(
                f"{key.replace('_', ' ')} {value}"
                for key, value in warehouse.items()
                if not isinstance(value, dict | list)
            ),
        )
    return table


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    """Print the run's summary: ingest, stages, KPIs and view tops, total time."""
    console.print()
    console.print(ingest_table(summary))
    if summary.get("transform") or summary.get("warehouse"):
        console.print(stages_table(summary))
    report = summary.get("report")
    if report is not None:
        from ecom_pipeline.warehouse.report import print_report

        print_report(console, report)
    status = summary.get("status", "completed")
    console.print(
        f"[bold green]{status}[/] run {summary.get('run_id', '?')} for {summary.get('run_date', '?')} "
        f"(profile {summary.get('profile', '?')}) in {summary.get('seconds', 0):.1f} s"
    )
    for path in summary.get("report_files", []):
        console.print(f"  chart: {path}")
