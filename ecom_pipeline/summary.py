"""The end-of-run summary: what each stage did, for a short console table and, the same figures, as JSON."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecom_pipeline.extract.drift import drift_counts
from ecom_pipeline.land.landing import LandingResult
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.transform.partitions import describe_partitions
from ecom_pipeline.warehouse.loader import LoadResult
from ecom_pipeline.warehouse.report import Report, print_report


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id such as `20260617T101500Z-ab12cd` (naive datetimes are taken as UTC)."""
    now = now or datetime.now(UTC)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class RunSummary(BaseModel):
    """One pipeline run, as the flow returns it; `model_dump(mode="json")` is the JSON the CLI writes.

    JSON has money as exact strings and dates in ISO 8601; the report (the views' rows, for the console) is left out.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)  # Report: a plain dataclass, held as it is

    run_id: str
    run_date: str  # a reprocess's report covers a range of dates: `2026-06-16..2026-06-17`
    profile: str
    resources: dict[str, LandingResult]
    data_quality: list[dict[str, Any]] = Field(default_factory=list)  # the checks' event payloads (flows/signals.py)
    transform: JobSummary
    warehouse: LoadResult
    timings: dict[str, list[float]] = Field(default_factory=dict)  # each phase's wall-clock span (timings.py)
    kpis: dict[str, Any] = Field(default_factory=dict)
    report_files: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    report: Report | None = Field(default=None, exclude=True)


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} B"


def ingest_table(summary: RunSummary) -> Table:
    """Records, quarantined, size and time per landed resource."""
    table = Table(title=f"Ingest {summary.run_date}", title_justify="left")
    table.add_column("resource")
    for column in ("records", "quarantined", "size", "seconds"):
        table.add_column(column, justify="right")
    for name, landed in summary.resources.items():
        table.add_row(
            name, f"{landed.records:,}", f"{landed.quarantined:,}", _human_bytes(landed.bytes), f"{landed.seconds:.1f}"
        )
    return table


def stages_lines(summary: RunSummary) -> list[str]:
    """One readable line per later stage: the Spark job and the warehouse load."""
    transform, warehouse = summary.transform, summary.warehouse
    reasons = ", ".join(f"{reason}: {count}" for reason, count in transform.quarantined_by_reason.items())
    reused = f" (inputs unchanged: run {transform.run_id}'s output reused)" if transform.reused else ""
    lines = [
        f"[bold]transform[/]  {transform.rows_read:,} cart lines -> {transform.rows_written:,} orders, "
        f"{transform.rows_quarantined:,} quarantined{f' ({reasons})' if reasons else ''}, "
        f"{transform.duplicates_removed:,} duplicates removed; "
        f"partitions {describe_partitions(transform.partitions_written)}{reused}"
    ]
    if warehouse.skipped:
        lines.append(
            f"[bold]warehouse[/]  load skipped: orders already holds these {warehouse.rows_staged:,} rows "
            f"({warehouse.revenue_staged} revenue)"
        )
    else:
        lines.append(
            f"[bold]warehouse[/]  {warehouse.rows_staged:,} rows from {warehouse.files} file(s): "
            f"{warehouse.rows_inserted:,} inserted, {warehouse.rows_updated:,} updated, "
            f"{warehouse.rows_deleted:,} deleted; "
            f"reconciled at {warehouse.revenue_staged} revenue"
        )
    return lines


def signal_lines(summary: RunSummary) -> list[str]:
    """Schema drift per resource, and the data-quality checks: a count, then each one that did not pass."""
    resources = summary.resources.items()
    drift = [f"{name}: {drift_counts(landed.schema_drift)}" for name, landed in resources if landed.schema_drift]
    lines = [f"[bold]schema[/]     {'; '.join(drift)}"] if drift else []
    checks = summary.data_quality
    if checks:
        flagged = [check for check in checks if check["severity"] != "passed"]
        lines.append(f"[bold]quality[/]    {len(checks)} checks, {len(checks) - len(flagged)} passed")
        lines += [f"  {check['severity']}: {escape(check['message'])}" for check in flagged]
    return lines


def print_summary(console: Console, summary: RunSummary) -> None:
    """Print the run's summary: ingest, stages, KPIs and view tops, total time."""
    console.print()
    console.print(ingest_table(summary))
    for name, landed in list(summary.resources.items())[:1]:
        location = landed.location.replace(f"/{name}/", "/<resource>/")
        console.print(f"raw zone: {location}", highlight=False, soft_wrap=True)
    for line in [*stages_lines(summary), *signal_lines(summary)]:
        console.print(line, highlight=False)
    if summary.report is not None:
        print_report(console, summary.report)
    console.print(
        f"[bold green]completed[/] run {summary.run_id} for {summary.run_date} "
        f"(profile {summary.profile}) in {summary.seconds:.1f} s"
    )
    for path in summary.report_files:
        console.print(f"  chart: {path}")
