"""Reprocessing ingest dates from the raw zone: the plan of a range, which dates may run at once, their figures.

A reprocess runs the transform and the load again for dates already landed (a changed cost ratio or default
status, a fixed job), never the API. Dates start in date order, at most `slots` at once, a date waits for every
earlier date whose `order_date` partitions it may share, and loads apply in date order (`LoadTurns`): the result
is the same as running them one after the other, earliest first, whatever the concurrency. Partitions come from
`transform/partitions.py`; a date whose partitions are unknown shares them with every date, so it runs alone.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ecom_pipeline.aws import make_glue_client, make_s3_client
from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import Profile, Settings
from ecom_pipeline.transform.glue import GlueLauncher
from ecom_pipeline.transform.partitions import known_partitions, missing_resources
from ecom_pipeline.warehouse.connection import connect
from ecom_pipeline.warehouse.report import DAILY_VIEW
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


class LoadTurns:
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


@dataclass(frozen=True)
class Figures:
    """Orders, revenue and profit of a set of `order_date` partitions in the warehouse (money exact, in cents)."""

    orders: int = 0
    revenue: Decimal = Decimal("0.00")
    profit: Decimal = Decimal("0.00")

    @classmethod
    def of_days(cls, days: Mapping[Any, Mapping[str, Any]]) -> Figures:
        """The sum of `vw_daily_revenue` lines."""
        return cls(
            orders=sum(int(day["orders"]) for day in days.values()),
            revenue=sum((Decimal(str(day["revenue"])) for day in days.values()), Decimal("0.00")).quantize(CENTS),
            profit=sum((Decimal(str(day["profit"])) for day in days.values()), Decimal("0.00")).quantize(CENTS),
        )

    @classmethod
    def read(cls, settings: Settings, order_dates: Sequence[date]) -> Figures:
        """What `vw_daily_revenue` shows for these order dates, added up (no dates, no orders: zeros)."""
        if not order_dates:
            return cls()
        prefix = render("{{ database }}.{{ schema }}", names_from_settings(settings.snowflake, settings.storage))
        placeholders = ", ".join("?" for _ in order_dates)
        sql = f"select orders, revenue, profit from {prefix}.{DAILY_VIEW} where order_date in ({placeholders})"
        with connect(settings.snowflake) as warehouse:
            rows = warehouse.query_dicts(sql, list(order_dates))
        return cls.of_days(dict(enumerate(rows)))

    def minus(self, other: Figures) -> Figures:
        """The change from `other` to these figures."""
        return Figures(self.orders - other.orders, self.revenue - other.revenue, self.profit - other.profit)

    def as_json(self) -> dict[str, Any]:
        """Orders as an int, money as strings with two places."""
        return {"orders": self.orders, "revenue": f"{self.revenue:.2f}", "profit": f"{self.profit:.2f}"}


def date_outcome(
    plan: DatePlan,
    transform: Mapping[str, Any],
    load: Mapping[str, Any],
    before: Figures,
    after: Figures,
    locked: tuple[str, ...] | None,
) -> dict[str, Any]:
    """One reprocessed date's summary entry: its partitions, the warehouse before and after, and the change.

    "unchanged" means nothing was written: the job's earlier output was reused and the warehouse already held it.
    """
    unchanged = bool(transform.get("reused")) and bool(load.get("skipped"))
    return {
        "ingest_date": plan.ingest_date.isoformat(),
        "status": "unchanged" if unchanged else "reprocessed",
        "partitions": list(transform["partitions_written"]),
        "locked": list(locked) if locked is not None else "all (partitions unknown before the job)",
        "rows_written": int(transform["rows_written"]),
        "rows_quarantined": int(transform["rows_quarantined"]),
        "before": before.as_json(),
        "after": after.as_json(),
        "change": after.minus(before).as_json(),
        "transform": dict(transform),
        "warehouse": dict(load),
    }


def no_raw_data_outcome(plan: DatePlan) -> dict[str, Any]:
    """The entry of a date that was not reprocessed because the raw zone lacks some of its resources."""
    return {"ingest_date": plan.ingest_date.isoformat(), "status": "no raw data", "missing": list(plan.missing)}


def failed_outcome(plan: DatePlan, error: BaseException) -> dict[str, Any]:
    """The entry of a date whose reprocess failed for good."""
    return {"ingest_date": plan.ingest_date.isoformat(), "status": "failed", "error": str(error)}


def combined_stages(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The reprocessed dates' job and load figures added up, shaped like one pipeline run's (for its report)."""
    reasons: dict[str, int] = {}
    for outcome in outcomes:
        for reason, count in outcome["transform"].get("quarantined_by_reason", {}).items():
            reasons[reason] = reasons.get(reason, 0) + int(count)

    def total(stage: str, name: str) -> int:
        return sum(int(outcome[stage].get(name, 0)) for outcome in outcomes)

    def money(stage: str, name: str) -> str:
        return f"{sum((Decimal(str(outcome[stage][name])) for outcome in outcomes), Decimal('0.00')):.2f}"

    transform = {name: total("transform", name) for name in ("rows_read", "rows_written", "rows_quarantined")}
    transform |= {"duplicates_removed": total("transform", "duplicates_removed"), "quarantined_by_reason": reasons}
    transform["revenue_written"] = money("transform", "revenue_written")
    warehouse = {
        "rows_staged": total("warehouse", "rows_staged"),
        "revenue_staged": money("warehouse", "revenue_staged"),
    }
    return {"transform": transform, "warehouse": warehouse}
