"""The run's outcome: aggregates observed while the files are written, and the summary with its balance check."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from spark_jobs.orders.args import JobArgs
from spark_jobs.orders.errors import JobDataIntegrityError
from spark_jobs.orders.schema import QUARANTINE_REASONS


def outcome_metrics() -> list[Column]:
    """Aggregates over the classified rows, observed while the curated files are written (no extra pass)."""
    kept = ~F.col("is_duplicate")
    written = kept & F.col("reason").isNull()
    return [
        F.count(F.when(written, 1)).alias("rows_written"),
        F.count(F.when(F.col("is_duplicate"), 1)).alias("duplicates_removed"),
        F.sum(F.when(written, F.col("revenue"))).alias("revenue_written"),
        F.sum(F.when(written, F.col("profit"))).alias("profit_written"),
        # Text, not an array: observed values cross from the JVM as plain scalars only.
        F.array_join(F.collect_set(F.when(written, F.col("order_date"))).cast("array<string>"), ",").alias(
            "partitions_written"
        ),
        *[F.count(F.when(kept & (F.col("reason") == name), 1)).alias(name) for name in QUARANTINE_REASONS],
    ]


def summarize(values: dict[str, Any], args: JobArgs, rows_read: int) -> dict[str, Any]:
    """The job summary from the observed outcome_metrics; raises unless every line read is accounted for."""
    quarantined = {name: int(values[name]) for name in QUARANTINE_REASONS if values[name]}
    summary = {
        "run_id": args.run_id,
        "ingest_date": args.ingest_date.isoformat(),
        "rows_read": rows_read,
        "rows_written": int(values["rows_written"]),
        "rows_quarantined": sum(quarantined.values()),
        "quarantined_by_reason": dict(sorted(quarantined.items())),
        "duplicates_removed": int(values["duplicates_removed"]),
        "partitions_written": sorted(day for day in (values["partitions_written"] or "").split(",") if day),
        "revenue_written": str(values["revenue_written"] or Decimal("0.00")),
        "profit_written": str(values["profit_written"] or Decimal("0.00")),
    }
    accounted = summary["rows_written"] + summary["rows_quarantined"] + summary["duplicates_removed"]
    if accounted != rows_read:  # a join fan-out or a lost row: never publish a summary that does not add up
        raise JobDataIntegrityError(f"rows_read {rows_read} != written + quarantined + duplicates = {accounted}")
    return summary
