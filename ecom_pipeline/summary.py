"""The end-of-run summary: a short console table and the same figures as JSON."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecom_pipeline.extract.drift import drift_counts

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


def ingest_table(summary: dict[str, Any]) -> Table:
    """Records, quarantined, size and time per landed resource."""
    table = Table(title=f"Ingest {summary.get('run_date', '')}", title_justify="left")
    table.add_column("resource")
    for column in ("records", "quarantined", "size", "seconds"):
        table.add_column(column, justify="right")
    for name, landed in summary.get("resources", {}).items():
        table.add_row(
            name,
            f"{landed['records']:,}",
            f"{landed['quarantined']:,}",
            _human_bytes(landed["bytes"]),
            f"{landed.get('seconds', 0):.1f}",
        )
    return table


def stages_lines(summary: dict[str, Any]) -> list[str]:
    """One readable line per later stage: the Spark job and the warehouse load."""
    lines = []
    transform = summary.get("transform")
    if transform:
        by_reason = transform.get("quarantined_by_reason", {})
        reasons = ", ".join(f"{reason}: {count}" for reason, count in by_reason.items())
        reused = f" (inputs unchanged: run {transform['run_id']}'s output reused)" if transform.get("reused") else ""
        lines.append(
            f"[bold]transform[/]  {transform['rows_read']:,} cart lines -> {transform['rows_written']:,} orders, "
            f"{transform['rows_quarantined']:,} quarantined{f' ({reasons})' if reasons else ''}, "
            f"{transform.get('duplicates_removed', 0):,} duplicates removed; "
            f"partitions {', '.join(transform['partitions_written'])}{reused}"
        )
    warehouse = summary.get("warehouse")
    if warehouse and warehouse.get("skipped"):
        lines.append(
            f"[bold]warehouse[/]  load skipped: orders already holds these {warehouse['rows_staged']:,} rows "
            f"({warehouse['revenue_staged']} revenue)"
        )
    elif warehouse:
        lines.append(
            f"[bold]warehouse[/]  {warehouse['rows_staged']:,} rows from {warehouse['files']} file(s): "
            f"{warehouse['rows_inserted']:,} inserted, {warehouse['rows_updated']:,} updated, "
            f"{warehouse.get('rows_deleted', 0):,} deleted; "
            f"reconciled at {warehouse['revenue_staged']} revenue"
        )
    return lines


def signal_lines(summary: dict[str, Any]) -> list[str]:
    """Schema drift per resource, and the data-quality checks: a count, then each one that did not pass."""
    resources = summary.get("resources", {}).items()
    drift = [f"{name}: {drift_counts(report)}" for name, landed in resources if (report := landed.get("schema_drift"))]
    lines = [f"[bold]schema[/]     {'; '.join(drift)}"] if drift else []
    checks = summary.get("data_quality", [])
    if checks:
        flagged = [check for check in checks if check["severity"] != "passed"]
        lines.append(f"[bold]quality[/]    {len(checks)} checks, {len(checks) - len(flagged)} passed")
        lines += [f"  {check['severity']}: {escape(check['message'])}" for check in flagged]
    return lines


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    """Print the run's summary: ingest, stages, KPIs and view tops, total time."""
    console.print()
    console.print(ingest_table(summary))
    for name, landed in list(summary.get("resources", {}).items())[:1]:
        location = str(landed.get("location", "")).replace(f"/{name}/", "/<resource>/")
        console.print(f"raw zone: {location}", highlight=False, soft_wrap=True)
    for line in [*stages_lines(summary), *signal_lines(summary)]:
        console.print(line, highlight=False)
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
