"""Exactly-once load of curated partitions: COPY into staging, MERGE into `orders`, audit, then reconcile.

Re-running a load for the same partitions converges: COPY uses FORCE = TRUE (so it reloads whether or not
Snowflake still holds the files' load history), staging is emptied first, and MERGE on `order_id` updates
rows it already has instead of adding them again. When the Spark job's output was reused and `orders` already
holds exactly that output, the load is skipped: it would rewrite every row to the values it has.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, field_serializer

from ecom_pipeline.exceptions import ContractError, ReconciliationError, WarehouseError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.warehouse.connection import Warehouse, connect
from ecom_pipeline.warehouse.sqlrender import names_from_settings, render
from spark_jobs.orders.curated import CURATED_COLUMNS

LOG = logging.getLogger(__name__)

CENTS = Decimal("0.01")

# Every column of `orders`: the curated contract's (spark_jobs/orders/schema.py; importing it costs about 0.2 s and
# starts no Spark), with the partition's `order_date` second where the files hold `order_date_copy` last. Staging
# holds the file columns as they are.
ORDER_COLUMNS: tuple[str, ...] = (
    "order_id",
    "order_date",
    *(name for name in CURATED_COLUMNS if name not in ("order_id", "order_date_copy")),
)

TRUNCATE_STAGING = "truncate table {{ database }}.{{ schema }}.orders_staging"

# The stage path must be literal SQL in Snowflake; the date in it is validated by the renderer's date pattern.
COPY_PARTITION = """
copy into {{ database }}.{{ schema }}.orders_staging
from '@{{ database }}.{{ schema }}.{{ stage }}/order_date={{ partition_date }}/'
file_format = (format_name = '{{ database }}.{{ schema }}.{{ file_format }}')
match_by_column_name = case_insensitive
force = true
on_error = abort_statement
"""


# Latest copy wins: staging rows of one order_id (two runs' files in one partition) keep the one ingested last,
# and of two ingested at the same instant, the later run's (run ids sort by their start time).
LATEST_STAGED_COPY = "qualify row_number() over (partition by order_id order by ingested_at desc, run_id desc) = 1"

MERGE_TEMPLATE = """
merge into {{ database }}.{{ schema }}.orders as target
using (
    select <source_columns>
    from {{ database }}.{{ schema }}.orders_staging
    <latest_copy>
) as staged
on target.order_id = staged.order_id
when matched then update set <assignments>
when not matched then insert (<columns>) values (<values>)
"""


def _merge_sql() -> str:
    """MERGE staging (deduplicated on order_id) into `orders`, every column spelled out."""
    parts = {
        "<source_columns>": ", ".join(
            "order_date_copy as order_date" if c == "order_date" else c for c in ORDER_COLUMNS
        ),
        "<assignments>": ", ".join(f"{c} = staged.{c}" for c in ORDER_COLUMNS if c != "order_id"),
        "<columns>": ", ".join(ORDER_COLUMNS),
        "<values>": ", ".join(f"staged.{c}" for c in ORDER_COLUMNS),
    }
    parts["<latest_copy>"] = LATEST_STAGED_COPY
    sql = MERGE_TEMPLATE
    for token, text in parts.items():
        sql = sql.replace(token, text)
    return sql


MERGE_ORDERS = _merge_sql()

# The curated zone replaces a date's partition as a whole; the warehouse follows: orders of the loaded dates
# that the new files no longer hold are removed, so a re-load is a clean replace, not a union.
DELETE_VANISHED = """
delete from {{ database }}.{{ schema }}.orders
where order_date in ({placeholders})
    and order_id not in (select order_id from {{ database }}.{{ schema }}.orders_staging)
"""

INSERT_AUDIT = """
insert into {{ database }}.{{ schema }}.load_audit
    (run_id, partition_dates, files, rows_staged, revenue_staged, rows_inserted, rows_updated,
     rows_deleted, started_at, finished_at)
values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

# What the MERGE takes from staging: one row per order_id, the latest copy.
STAGED_TOTALS = f"""
select count(*), cast(round(coalesce(sum(revenue), 0), 2) as number(18, 2))
from (
    select revenue
    from {{{{ database }}}}.{{{{ schema }}}}.orders_staging
    {LATEST_STAGED_COPY}
) as latest
"""

LOADED_TOTALS = """
select count(*), cast(round(coalesce(sum(revenue), 0), 2) as number(18, 2))
from {{ database }}.{{ schema }}.orders
where order_date in ({placeholders})
"""

# What `orders` holds of the partitions, and how many of those rows another run (or none) produced.
# `is distinct from` counts a NULL run_id as different; the SUM is exact NUMBER (the emulator adapter casts it).
HELD_TOTALS = """
select
    count(*),
    cast(round(coalesce(sum(revenue), 0), 2) as number(18, 2)),
    count_if(run_id is distinct from ?)
from {{ database }}.{{ schema }}.orders
where order_date in ({placeholders})
"""


class LoadResult(BaseModel):
    """What one load did, as written to `load_audit`; the run summary's `warehouse`.

    A skipped load (`skipped`) ran no COPY or MERGE and writes no audit row: files and row changes are 0, and
    `rows_staged`/`revenue_staged` are the curated totals found already in `orders`, so reconciliation
    readers see the same figures as after a full load.
    """

    run_id: str
    partitions: tuple[str, ...]
    files: int
    rows_staged: int
    revenue_staged: Decimal
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    started_at: datetime
    finished_at: datetime
    skipped: bool = False
    setup_seconds: float = 0.0  # the emulator warehouse's set-up before the load (the flow's load task times it)

    @field_serializer("started_at", "finished_at", when_used="json")
    def _isoformat(self, moment: datetime) -> str:
        return moment.isoformat()  # `+00:00`, as the summary JSON has always written it


def _partition_dates(partitions: Sequence[str]) -> tuple[str, ...]:
    """Validate `YYYY-MM-DD` partition values; return them sorted and unique."""
    try:
        return tuple(sorted({date.fromisoformat(value).isoformat() for value in partitions}))
    except (TypeError, ValueError) as error:
        raise ContractError(f"partitions must be YYYY-MM-DD dates, got {list(partitions)}: {error}") from error


def load_orders(
    settings: Settings,
    partitions: Sequence[str],
    run_id: str,
    expected: JobSummary | None = None,
    skip_if_loaded: bool = False,
) -> LoadResult:
    """Load the run's curated partitions into `orders` and reconcile, all in one transaction.

    Args:
        skip_if_loaded: `expected` is a job summary reused from an earlier run; skip the load when `orders`
            already holds exactly its output (see `already_loaded`).

    Raises:
        WarehouseError: a statement failed (the transaction is rolled back) or a partition has no files.
        ReconciliationError: rows or revenue differ between the curated files, `orders` and `expected`;
            the load is rolled back.
    """
    dates = _partition_dates(partitions)
    names = names_from_settings(settings.snowflake, settings.storage)
    started_at = datetime.now(UTC)
    with connect(settings.snowflake) as warehouse:
        if skip_if_loaded:
            if expected is None:
                raise ContractError("load_orders(skip_if_loaded=True) needs the reused job summary as `expected`")
            if already_loaded(warehouse, names, dates, expected):
                return _skipped(run_id, dates, expected, started_at)
        with warehouse.transaction():
            return _copy_merge_reconcile(warehouse, names, dates, run_id, expected, started_at)


def already_loaded(warehouse: Warehouse, names: Mapping[str, str], dates: Sequence[str], summary: JobSummary) -> bool:
    """True when `orders`, in `dates`, holds exactly the summary's rows and revenue, every row from its run.

    Anything else (rows deleted or added, a partial earlier load, rows of another run) means a full load.
    """
    if not dates or not summary.run_id:
        return False  # nothing to compare: the full load decides
    sql = _placeholders(render(HELD_TOTALS, names), dates)
    [(rows, revenue, other_runs)] = warehouse.execute(
        sql, [summary.run_id, *(date.fromisoformat(value) for value in dates)]
    )
    held = (int(rows), Decimal(str(revenue)).quantize(CENTS))
    written = (summary.rows_written, summary.revenue_written.quantize(CENTS))
    return held == written and int(other_runs) == 0


def _skipped(run_id: str, dates: tuple[str, ...], summary: JobSummary, started_at: datetime) -> LoadResult:
    """The result of a load that found its output already in `orders`."""
    LOG.info(
        "warehouse already holds run %s's %s orders for %d dates: load skipped",
        summary.run_id,
        f"{summary.rows_written:,}",
        len(dates),
    )
    return LoadResult(
        run_id=run_id,
        partitions=dates,
        files=0,
        rows_staged=summary.rows_written,
        revenue_staged=summary.revenue_written.quantize(CENTS),
        rows_inserted=0,
        rows_updated=0,
        rows_deleted=0,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        skipped=True,
    )


def _copy_merge_reconcile(
    warehouse: Warehouse,
    names: Mapping[str, str],
    dates: tuple[str, ...],
    run_id: str,
    expected: JobSummary | None,
    started_at: datetime,
) -> LoadResult:
    """COPY the partitions into staging, MERGE into `orders`, delete vanished orders, audit and reconcile."""
    warehouse.execute(render(TRUNCATE_STAGING, names))
    files = sum(_copy_partition(warehouse, names, partition_date) for partition_date in dates)
    [(rows_inserted, rows_updated)] = warehouse.execute(render(MERGE_ORDERS, names))
    rows_deleted = _delete_vanished(warehouse, names, dates)
    staged_rows, staged_revenue = _totals(warehouse, render(STAGED_TOTALS, names), ())
    finished_at = datetime.now(UTC)
    # Money is bound as text: NUMBER(18,2) takes it exactly, where a float binding would not.
    audit = (run_id, ",".join(dates), files, staged_rows, str(staged_revenue))
    # Typed binding: a bare datetime binds as TIMESTAMP_NTZ and would take the session's time zone.
    audit += (int(rows_inserted), int(rows_updated), rows_deleted, ("TIMESTAMP_TZ", started_at))
    audit += (("TIMESTAMP_TZ", finished_at),)
    warehouse.execute(render(INSERT_AUDIT, names), audit)
    result = LoadResult(
        run_id=run_id,
        partitions=dates,
        files=files,
        rows_staged=staged_rows,
        revenue_staged=staged_revenue,
        rows_inserted=int(rows_inserted),
        rows_updated=int(rows_updated),
        rows_deleted=rows_deleted,
        started_at=started_at,
        finished_at=finished_at,
    )
    # Inside the transaction: a load that does not reconcile is rolled back, never left half-right.
    reconcile(warehouse, names, result, expected)
    return result


def _placeholders(sql: str, values: Sequence[Any]) -> str:
    return sql.replace("{placeholders}", ", ".join("?" for _ in values))


def _delete_vanished(warehouse: Warehouse, names: Mapping[str, str], dates: Sequence[str]) -> int:
    """Remove orders of the loaded dates that the curated files no longer hold; return how many."""
    if not dates:
        return 0
    sql = _placeholders(render(DELETE_VANISHED, names), dates)
    rows = warehouse.execute(sql, [date.fromisoformat(value) for value in dates])
    return int(rows[0][0]) if rows and rows[0] and rows[0][0] is not None else 0


def _copy_partition(warehouse: Warehouse, names: Mapping[str, str], partition_date: str) -> int:
    """COPY one `order_date=` folder into staging; return the number of files loaded."""
    rows = warehouse.execute(render(COPY_PARTITION, {**names, "partition_date": partition_date}))
    # Snowflake answers one row per file (file, status, ...); with no files, one status row of one column.
    loaded = [row for row in rows if len(row) > 1]
    failed = [row for row in loaded if str(row[1]).upper() not in ("LOADED", "PARTIALLY_LOADED")]
    if failed:
        raise WarehouseError(f"COPY of partition {partition_date} did not load {failed[0][0]}: {failed[0][1]}")
    if not loaded:
        location = f"s3://{names['bucket']}/{names['prefix']}/order_date={partition_date}/"
        raise WarehouseError(f"partition {partition_date} has no files under {location}")
    return len(loaded)


def _totals(warehouse: Warehouse, sql: str, params: Sequence[Any]) -> tuple[int, Decimal]:
    [(rows, revenue)] = warehouse.execute(sql, params)
    return int(rows), Decimal(str(revenue)).quantize(CENTS)


def reconcile(warehouse: Warehouse, names: Mapping[str, str], result: LoadResult, expected: JobSummary | None) -> None:
    """Check rows and revenue: curated files (staging) = `orders` in the partitions (= job summary)."""
    if result.partitions:
        sql = _placeholders(render(LOADED_TOTALS, names), result.partitions)
        loaded = _totals(warehouse, sql, [date.fromisoformat(value) for value in result.partitions])
    else:
        loaded = (0, Decimal("0.00"))
    staged = (result.rows_staged, result.revenue_staged)
    problems = [_difference("orders", loaded, "curated files", staged)]
    if expected is not None:
        summary = (expected.rows_written, expected.revenue_written.quantize(CENTS))
        problems.append(_difference("curated files", staged, "job summary", summary))
    found = [problem for problem in problems if problem]
    if found:
        raise ReconciliationError(
            f"load {result.run_id} of partitions {', '.join(result.partitions) or '(none)'} "
            f"does not reconcile: {'; '.join(found)}"
        )


def _difference(name: str, actual: tuple[int, Decimal], reference_name: str, reference: tuple[int, Decimal]) -> str:
    """Describe how `actual` differs from `reference`, or return '' when they agree."""
    parts = []
    if actual[0] != reference[0]:
        parts.append(f"rows {actual[0]} vs {reference[0]} ({actual[0] - reference[0]:+d})")
    if actual[1] != reference[1]:
        parts.append(f"revenue {actual[1]:.2f} vs {reference[1]:.2f} ({actual[1] - reference[1]:+.2f})")
    return f"{name} vs {reference_name}: {', '.join(parts)}" if parts else ""
