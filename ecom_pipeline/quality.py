"""Data-quality checks of one run: its figures in, a severity out. Pure: flows/signals.py emits and enforces them.

Per resource landed (users, products, carts) and for the orders the Spark job and the warehouse made:

| check | resources | figure | severity |
|---|---|---|---|
| quarantine-share | every resource, orders | records quarantined / records received | thresholds |
| duplicate-share | orders | cart lines removed as duplicates / lines read | thresholds |
| row-change | every resource, orders | abs(rows - previous run's rows) / previous run's rows | thresholds |
| reconciliation | orders | unbalanced figures (job balance, warehouse rows and revenue vs curated) | any fails |

A figure above a check's `warn` threshold warns, above its `fail` threshold fails the run (QualitySettings,
`ECOM_DQ_*`, or the run's `quality` parameter). Shares are ratios (0.05 = 5 %); money is compared as Decimal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ecom_pipeline.settings import QualitySettings

if TYPE_CHECKING:  # read, never built here: the checks stay free of the stages' imports
    from ecom_pipeline.land.landing import LandingResult
    from ecom_pipeline.transform.job_contract import JobSummary
    from ecom_pipeline.warehouse.loader import LoadResult

ORDERS = "orders"  # the resource name of the checks on the transform's and the warehouse's output
QUARANTINE_SHARE, DUPLICATE_SHARE, ROW_CHANGE, RECONCILIATION = (
    "quarantine-share",
    "duplicate-share",
    "row-change",
    "reconciliation",
)


class Severity(StrEnum):
    """The outcome of one check; the event name ends with it (`ecom.data-quality.<severity>`)."""

    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"


@dataclass(frozen=True)
class Threshold:
    """A check's limits: a figure above `warn` warns, above `fail` fails. `setting` names them in QualitySettings."""

    warn: float
    fail: float
    setting: str | None = None  # e.g. "quarantine_share" -> quarantine_share_warn / quarantine_share_fail

    def severity(self, figure: float | None) -> Severity:
        """The severity of `figure` (None: nothing to compare, e.g. no previous run, passes)."""
        if figure is None or figure <= self.warn:
            return Severity.PASSED
        return Severity.FAILED if figure > self.fail else Severity.WARNING

    def as_json(self) -> dict[str, Any]:
        """The limits as the event payload and the artifact show them."""
        # JSON has no infinity: a limit that never trips is shown as null.
        limits: dict[str, Any] = {"warn": _finite(self.warn), "fail": _finite(self.fail)}
        if self.setting:
            limits["settings"] = [f"ECOM_DQ_{self.setting.upper()}_{level}" for level in ("WARN", "FAIL")]
        return limits


def _finite(limit: float) -> float | None:
    return None if math.isinf(limit) else limit


# Reconciliation has no knob: any unbalanced figure fails the run.
ANY_DIFFERENCE = Threshold(warn=0, fail=0)


def thresholds(quality: QualitySettings) -> dict[str, Threshold]:
    """The limits of every check from the settings (and the run's overrides)."""
    return {
        check: Threshold(getattr(quality, f"{name}_warn"), getattr(quality, f"{name}_fail"), name)
        for check, name in (
            (QUARANTINE_SHARE, "quarantine_share"),
            (DUPLICATE_SHARE, "duplicate_share"),
            (ROW_CHANGE, "row_change"),
        )
    } | {RECONCILIATION: ANY_DIFFERENCE}


@dataclass(frozen=True)
class CheckResult:
    """One check of one resource in one run: the figure compared, the limits, the severity and a one-line message."""

    check: str
    resource: str
    figure: float | None
    threshold: Threshold
    severity: Severity
    message: str
    figures: dict[str, Any] = field(default_factory=dict)  # what the figure was computed from (JSON types)

    def payload(self) -> dict[str, Any]:
        """The event payload: the figures, the threshold, the severity and the message."""
        return {
            "check": self.check,
            "resource": self.resource,
            "severity": self.severity.value,
            "figure": self.figure,
            "threshold": self.threshold.as_json(),
            "figures": self.figures,
            "message": self.message,
        }


@dataclass(frozen=True)
class PreviousRun:
    """What the previous run of this profile left: rows landed per resource and orders written by its Spark job."""

    run_id: str
    ingest_date: date
    records: dict[str, int]  # resource -> records its raw manifest lists
    orders_rows: int | None


def _result(
    check: str, resource: str, figure: float | None, limits: Threshold, text: str, figures: dict[str, Any]
) -> CheckResult:
    severity = limits.severity(figure)
    message = f"{check} {resource}: {text}"
    if severity is not Severity.PASSED and limits.setting is None:
        message += "; any difference fails the run"
    elif severity is not Severity.PASSED:
        level = "fail" if severity is Severity.FAILED else "warn"
        limit = limits.fail if severity is Severity.FAILED else limits.warn
        message += f", above the {level} threshold {limit:.2%} (ECOM_DQ_{limits.setting.upper()}_{level.upper()})"
    return CheckResult(check, resource, figure, limits, severity, message, figures)


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def quarantine_share(
    resource: str, quarantined: int, received: int, reasons: Mapping[str, int], limits: Threshold
) -> CheckResult:
    """The share of `received` records that were quarantined, with the reasons counted."""
    figure = _ratio(quarantined, received)
    text = f"{figure:.2%} of {received:,} records quarantined ({quarantined:,})"
    figures = {"quarantined": quarantined, "received": received, "reasons": dict(reasons)}
    return _result(QUARANTINE_SHARE, resource, figure, limits, text, figures)


def duplicate_share(duplicates: int, rows_read: int, limits: Threshold) -> CheckResult:
    """The share of the cart lines read that the Spark job removed as duplicated records."""
    figure = _ratio(duplicates, rows_read)
    text = f"{figure:.2%} of {rows_read:,} cart lines removed as duplicates ({duplicates:,})"
    figures = {"duplicates_removed": duplicates, "rows_read": rows_read}
    return _result(DUPLICATE_SHARE, ORDERS, figure, limits, text, figures)


def row_change(
    resource: str, rows: int, previous: PreviousRun | None, previous_rows: int | None, limits: Threshold
) -> CheckResult:
    """How far `rows` moved from the previous run's rows of the same resource (no previous run: nothing to say)."""
    figures: dict[str, Any] = {"rows": rows, "previous_rows": previous_rows}
    if previous is not None:
        figures |= {"previous_run_id": previous.run_id, "previous_ingest_date": previous.ingest_date.isoformat()}
    if previous is None or previous_rows is None:
        return _result(ROW_CHANGE, resource, None, limits, f"{rows:,} rows; no previous run to compare", figures)
    if previous_rows == 0:
        text = f"{rows:,} rows; previous run {previous.run_id} had none: nothing to compare"
        return _result(ROW_CHANGE, resource, None, limits, text, figures)
    figure = round(abs(rows - previous_rows) / previous_rows, 6)
    text = f"{rows:,} rows vs {previous_rows:,} in run {previous.run_id} ({figure:.2%} change)"
    return _result(ROW_CHANGE, resource, figure, limits, text, figures)


def reconciliation(transform: JobSummary, warehouse: LoadResult) -> CheckResult:
    """Every cart line read is written, quarantined or a duplicate; the warehouse holds the curated rows and revenue."""
    read, written = transform.rows_read, transform.rows_written
    quarantined, duplicates = transform.rows_quarantined, transform.duplicates_removed
    staged, revenue_written, revenue_staged = warehouse.rows_staged, transform.revenue_written, warehouse.revenue_staged
    balances = {
        "job": read == written + quarantined + duplicates,
        "warehouse rows": staged == written,
        "warehouse revenue": revenue_staged == revenue_written,
    }
    unbalanced = [name for name, holds in balances.items() if not holds]
    figures = {
        "rows_read": read,
        "rows_written": written,
        "rows_quarantined": quarantined,
        "duplicates_removed": duplicates,
        "rows_staged": staged,
        "revenue_written": f"{revenue_written:.2f}",
        "revenue_staged": f"{revenue_staged:.2f}",
        "unbalanced": unbalanced,
    }
    if unbalanced:
        text = (
            f"{len(unbalanced)} unbalanced ({', '.join(unbalanced)}): read {read:,} = written {written:,} + "
            f"quarantined {quarantined:,} + duplicates {duplicates:,}; warehouse {staged:,} rows, {revenue_staged:.2f} "
            f"vs curated {revenue_written:.2f}"
        )
    else:
        text = f"{read:,} lines read = {written:,} written + {quarantined:,} quarantined + {duplicates:,} duplicates; "
        text += f"warehouse holds {staged:,} rows and {revenue_staged:.2f} revenue, as curated"
    return _result(RECONCILIATION, ORDERS, float(len(unbalanced)), ANY_DIFFERENCE, text, figures)


def landing_checks(
    landed: LandingResult, previous: PreviousRun | None, limits: Mapping[str, Threshold]
) -> list[CheckResult]:
    """The checks of one landed resource: quarantine share and rows vs previous."""
    resource, received = landed.resource, landed.records + landed.quarantined
    previous_rows = previous.records.get(resource) if previous is not None else None
    return [
        quarantine_share(resource, landed.quarantined, received, landed.quarantine_reasons, limits[QUARANTINE_SHARE]),
        row_change(resource, landed.records, previous, previous_rows, limits[ROW_CHANGE]),
    ]


def orders_checks(
    transform: JobSummary, warehouse: LoadResult, previous: PreviousRun | None, limits: Mapping[str, Threshold]
) -> list[CheckResult]:
    """The checks of the orders the Spark job wrote and the warehouse loaded."""
    rows_read = transform.rows_read
    previous_rows = previous.orders_rows if previous is not None else None
    return [
        quarantine_share(
            ORDERS, transform.rows_quarantined, rows_read, transform.quarantined_by_reason, limits[QUARANTINE_SHARE]
        ),
        duplicate_share(transform.duplicates_removed, rows_read, limits[DUPLICATE_SHARE]),
        row_change(ORDERS, transform.rows_written, previous, previous_rows, limits[ROW_CHANGE]),
        reconciliation(transform, warehouse),
    ]


def failure_line(failed: list[CheckResult]) -> str:
    """One line for a run that breached fail thresholds: the first breach in full, how many more."""
    first = failed[0]
    more = f" (and {len(failed) - 1} more failed check(s))" if len(failed) > 1 else ""
    return f"data-quality check failed: {first.message}{more}"
