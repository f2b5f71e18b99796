"""Reprocessing ingest dates from the raw zone: the plan of a range, which dates may run at once, their outcomes.

A reprocess runs the transform and the load again for dates already landed (a changed cost ratio or default
status, a fixed job), never the API. Dates start in date order, at most `slots` at once, a date waits for every
earlier date whose `order_date` partitions it may share, and loads apply in date order (`DateOrderedLoads`): the result
is the same as running them one after the other, earliest first, whatever the concurrency. Partitions come from
`transform/partitions.py`; a date whose partitions are unknown shares them with every date, so it runs alone.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ecom_pipeline.aws import make_glue_client, make_s3_client
from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Profile, Settings
from ecom_pipeline.transform.glue import GlueLauncher
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.transform.partitions import known_partitions, missing_resources
from ecom_pipeline.warehouse.connection import connect
from ecom_pipeline.warehouse.loader import LoadResult
from ecom_pipeline.warehouse.report import DAILY_VIEW, Report
from ecom_pipeline.warehouse.sqlrender import names_from_settings, render

CENTS = Decimal("0.01")
MAX_DATES = 366  # one reprocess covers at most a year of ingest dates: a longer range is more likely a typo


def date_range(first: date, last: date) -> list[date]:
    """Every date from `first` to `last`, both included."""
    if last < first:
        raise ConfigError(f"reprocess range ends ({last}) before it starts ({first})")
    days = (last - first).days + 1
    if days > MAX_DATES:
        raise ConfigError(f"reprocess range {first}..{last} has {days} dates; at most {MAX_DATES} per run")
    return [first + timedelta(days=offset) for offset in range(days)]


@dataclass(frozen=True)
class DatePlan:
    """One ingest date of a reprocess: the resources it lacks, and its partitions when known (None: unknown)."""

    ingest_date: date
    missing: tuple[str, ...] = ()
    partitions: tuple[str, ...] | None = None

    @property
    def has_raw_data(self) -> bool:
        """True when every resource the job reads was landed for the date."""
        return not self.missing


def plan_date(settings: Settings, ingest_date: date, s3_client: Any = None) -> DatePlan:
    """What the raw zone holds for `ingest_date`: missing resources, and the partitions its job would write."""
    s3_client = s3_client or make_s3_client(settings.storage)
    missing = tuple(missing_resources(settings, s3_client, ingest_date))
    partitions = None if missing else known_partitions(settings, s3_client, ingest_date)
    return DatePlan(ingest_date=ingest_date, missing=missing, partitions=partitions)


def may_share_partitions(first: DatePlan, second: DatePlan) -> bool:
    """Whether the two dates' jobs may write a common partition (always, when either's partitions are unknown)."""
    if first.partitions is None or second.partitions is None:
        return True
    return not set(first.partitions).isdisjoint(second.partitions)


def startable(waiting: Sequence[DatePlan], running: Collection[DatePlan], slots: int) -> list[DatePlan]:
    """The waiting dates to start now: in date order, while slots are free, none that may share a partition with a
    running date or with an earlier date still waiting (a later date never overtakes one it overlaps)."""
    chosen: list[DatePlan] = []
    ahead = list(running)
    for plan in sorted(waiting, key=lambda waiting_plan: waiting_plan.ingest_date):
        if len(running) + len(chosen) >= slots:
            break
        if not any(may_share_partitions(plan, other) for other in ahead):
            chosen.append(plan)
        ahead.append(plan)
    return chosen


class DateOrderedLoads:
    """Loads in date order. `orders` MERGEs on order_id, and the same cart can arrive on several ingest dates with
    other order dates: the load applied last decides where such an order lands. Transforms run side by side; each
    load waits for the loads of every earlier date of the run, so the warehouse ends as if the dates ran one after
    the other. (An earlier date still waiting to start shares no partition with a running one: `startable`.)"""

    def __init__(self, days: Iterable[date]) -> None:
        self._loaded = {day: threading.Event() for day in days}

    def wait_for_earlier(self, day: date) -> None:
        """Block until every earlier date's load is done (or the date ended without one)."""
        for earlier, loaded in self._loaded.items():
            if earlier < day:
                loaded.wait()

    def done(self, day: date) -> None:
        """`day` will load no more: later dates may load."""
        self._loaded[day].set()

    def release_all(self) -> None:
        """Let every waiting load go: the run is ending, whatever the dates not started."""
        for loaded in self._loaded.values():
            loaded.set()


def concurrency_for(settings: Settings, requested: int) -> int:
    """How many dates run at once: `requested`, checked against the settings' maximum and, on aws, the Glue job's.

    Raises:
        ConfigError: `requested` is below 1 or above `ECOM_REPROCESS_MAX_CONCURRENCY`.
    """
    ceiling = settings.reprocess_max_concurrency
    if not 1 <= requested <= ceiling:
        raise ConfigError(f"concurrency {requested} is outside 1..{ceiling} (ECOM_REPROCESS_MAX_CONCURRENCY)")
    if settings.profile is Profile.AWS:
        launcher = GlueLauncher(
            settings, glue_client=make_glue_client(settings.storage), s3_client=make_s3_client(settings.storage)
        )
        # A Glue job refuses runs beyond its MaxConcurrentRuns (ConcurrentRunsExceededException); default 1.
        allowed = int(launcher.deployed_job().get("ExecutionProperty", {}).get("MaxConcurrentRuns", 1))
        return max(1, min(requested, allowed))
    return requested


class PartitionTotals(BaseModel):
    """Orders, revenue and profit of a set of `order_date` partitions in the warehouse (money exact, in cents)."""

    model_config = ConfigDict(frozen=True)

    orders: int = 0
    revenue: Decimal = Decimal("0.00")
    profit: Decimal = Decimal("0.00")

    @classmethod
    def of_days(cls, days: Mapping[Any, Mapping[str, Any]]) -> PartitionTotals:
        """The sum of `vw_daily_revenue` lines."""
        return cls(
            orders=sum(int(day["orders"]) for day in days.values()),
            revenue=sum((Decimal(str(day["revenue"])) for day in days.values()), Decimal("0.00")).quantize(CENTS),
            profit=sum((Decimal(str(day["profit"])) for day in days.values()), Decimal("0.00")).quantize(CENTS),
        )

    @classmethod
    def read(cls, settings: Settings, order_dates: Sequence[date]) -> PartitionTotals:
        """What `vw_daily_revenue` shows for these order dates, added up (no dates, no orders: zeros)."""
        if not order_dates:
            return cls()
        prefix = render("{{ database }}.{{ schema }}", names_from_settings(settings.snowflake, settings.storage))
        placeholders = ", ".join("?" for _ in order_dates)
        sql = f"select orders, revenue, profit from {prefix}.{DAILY_VIEW} where order_date in ({placeholders})"
        with connect(settings.snowflake) as warehouse:
            rows = warehouse.query_dicts(sql, list(order_dates))
        return cls.of_days(dict(enumerate(rows)))

    def minus(self, other: PartitionTotals) -> PartitionTotals:
        """The change from `other` to these figures."""
        return PartitionTotals(
            orders=self.orders - other.orders, revenue=self.revenue - other.revenue, profit=self.profit - other.profit
        )


class ReprocessedDate(BaseModel):
    """A date whose stages ran: its partitions, the warehouse's figures of them before and after its load, the change,
    and the stages' results. "unchanged": nothing was written (the job's earlier output reused, the load skipped)."""

    ingest_date: date
    status: Literal["reprocessed", "unchanged"]
    partitions: list[str]
    locked: list[str] | Literal["all (partitions unknown before the job)"]
    rows_written: int
    rows_quarantined: int
    before: PartitionTotals
    after: PartitionTotals
    change: PartitionTotals
    transform: JobSummary
    warehouse: LoadResult


class NoRawData(BaseModel):
    """A date not reprocessed because the raw zone lacks some of its resources."""

    ingest_date: date
    status: Literal["no raw data"] = "no raw data"
    missing: list[str]


class FailedDate(BaseModel):
    """A date whose reprocess failed for good."""

    ingest_date: date
    status: Literal["failed"] = "failed"
    error: str


DateOutcome = ReprocessedDate | NoRawData | FailedDate


def _once_reported() -> Any:
    """A field the report sets: absent from the JSON of a reprocess that reprocessed nothing (and so has no report)."""
    return Field(default=None, exclude_if=lambda value: value is None)


class ReprocessSummary(BaseModel):
    """A reprocess, as the flow returns it (and ReprocessError carries); `model_dump(mode="json")` is the CLI's JSON.

    The report (the views' rows, for the console) is left out of the JSON.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)  # Report: a plain dataclass, held as it is

    from_date: date
    to_date: date
    profile: str
    cost_ratio: Decimal
    default_order_status: str
    concurrency: int
    dates: list[DateOutcome]
    run_id: str | None = _once_reported()
    kpis: dict[str, Any] | None = _once_reported()
    report_files: list[str] | None = _once_reported()
    seconds: float = 0.0
    report: Report | None = Field(default=None, exclude=True)


def date_outcome(
    plan: DatePlan,
    transform: JobSummary,
    load: LoadResult,
    before: PartitionTotals,
    after: PartitionTotals,
    locked: tuple[str, ...] | None,
) -> ReprocessedDate:
    """One reprocessed date's summary entry: its partitions, the warehouse before and after, and the change."""
    return ReprocessedDate(
        ingest_date=plan.ingest_date,
        status="unchanged" if transform.reused and load.skipped else "reprocessed",
        partitions=transform.partitions_written,
        locked=list(locked) if locked is not None else "all (partitions unknown before the job)",
        rows_written=transform.rows_written,
        rows_quarantined=transform.rows_quarantined,
        before=before,
        after=after,
        change=after.minus(before),
        transform=transform,
        warehouse=load,
    )


def combined_stages(done: Sequence[ReprocessedDate], run_id: str, span: str) -> tuple[JobSummary, LoadResult]:
    """The reprocessed dates' job and load results added up, as one run's (for its report): `span` is their dates."""
    jobs, loads = [outcome.transform for outcome in done], [outcome.warehouse for outcome in done]
    reasons: Counter[str] = Counter()
    for job in jobs:
        reasons.update(job.quarantined_by_reason)
    added = ("rows_read", "rows_written", "rows_quarantined", "duplicates_removed", "revenue_written", "profit_written")
    transform = JobSummary(
        run_id=run_id,
        ingest_date=span,
        **{name: sum(getattr(job, name) for job in jobs) for name in added},
        quarantined_by_reason=dict(reasons),
        partitions_written=sorted({partition for job in jobs for partition in job.partitions_written}),
        reused=all(job.reused for job in jobs),
    )
    added = ("files", "rows_staged", "revenue_staged", "rows_inserted", "rows_updated", "rows_deleted", "setup_seconds")
    warehouse = LoadResult(
        run_id=run_id,
        partitions=tuple(sorted({partition for load in loads for partition in load.partitions})),
        **{name: sum(getattr(load, name) for load in loads) for name in added},
        started_at=min(load.started_at for load in loads),
        finished_at=max(load.finished_at for load in loads),
        skipped=all(load.skipped for load in loads),
    )
    return transform, warehouse
