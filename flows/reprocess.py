"""The `ecom-reprocess` Prefect flow: rebuild the curated zone and the warehouse for a range of ingest dates from the
raw zone, with no API call (a changed cost ratio or default status, a fixed job).

Each date runs the pipeline's own `transform` and `snowflake-load` tasks under its run lock (a pipeline run of the same
date is refused meanwhile), the write locks of its partitions (`ecom_pipeline/locks.py`; the global curated
lock when its partitions are unknown) and, for the load, the lock of the one staging table. Dates are scheduled by
`ecom_pipeline/reprocess.py`: at most `concurrency` at once, never two that may share a partition.
"""

from __future__ import annotations

import contextvars
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote
from pydantic import BaseModel, Field, model_validator

from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import ContractError, PipelineError, ReprocessError, StageError
from ecom_pipeline.locks import partition_write_lock, run_lock, warehouse_load_lock
from ecom_pipeline.reprocess import (
    DateOrderedLoads,
    DateOutcome,
    DatePlan,
    FailedDate,
    NoRawData,
    PartitionTotals,
    ReprocessedDate,
    ReprocessSummary,
    combined_stages,
    concurrency_for,
    date_outcome,
    date_range,
    plan_date,
    startable,
)
from ecom_pipeline.settings import Settings
from ecom_pipeline.summary import RunSummary, new_run_id
from ecom_pipeline.transform.partitions import describe_partitions
from flows import assets
from flows.hooks import notify_failure
from flows.pipeline import PipelineParameters, build_report, load_warehouse, resolve_settings, run_transform
from flows.run_logs import stage_logs_to_flow_run


class ReprocessParameters(BaseModel):
    """A reprocess: which ingest dates, with which business parameters (empty = settings), how many at once."""

    from_date: date = Field(description="First ingest date.")
    to_date: date = Field(description="Last ingest date (included).")
    cost_ratio: Decimal | None = Field(default=None, gt=0, lt=1, description="Unit cost as a share of price.")
    default_order_status: str | None = Field(default=None, description="Status for carts without one.")
    concurrency: int = Field(default=2, ge=1, description="Dates at once, at most ECOM_REPROCESS_MAX_CONCURRENCY.")
    report_dir: str | None = Field(default=None, description="Where charts and the report go; empty = work dir.")

    @model_validator(mode="after")
    def _ordered(self) -> ReprocessParameters:
        if self.to_date < self.from_date:
            raise ValueError(f"to_date {self.to_date} is before from_date {self.from_date}")
        return self


def _flow_run_name() -> str:
    params = flow_run.parameters.get("params") or {}
    first = params.get("from_date") if isinstance(params, dict) else getattr(params, "from_date", "?")
    last = params.get("to_date") if isinstance(params, dict) else getattr(params, "to_date", "?")
    return f"reprocess-{first}..{last}"


def date_rows(summary: ReprocessSummary) -> list[dict[str, str]]:
    """Per ingest date: status, partitions, and orders, revenue and profit after, with their change."""
    rows = []
    for outcome in summary.dates:
        row = {"ingest_date": outcome.ingest_date.isoformat(), "status": outcome.status, "partitions": ""}
        row |= {
            name: "" for name in ("orders", "revenue", "profit", "orders_change", "revenue_change", "profit_change")
        }
        if isinstance(outcome, ReprocessedDate):
            row["partitions"] = ", ".join(outcome.partitions)
            row |= {name: str(getattr(outcome.after, name)) for name in ("orders", "revenue", "profit")}
            row |= {f"{name}_change": str(getattr(outcome.change, name)) for name in ("orders", "revenue", "profit")}
        rows.append(row)
    return rows


@flow(name="ecom-reprocess", flow_run_name=_flow_run_name, log_prints=True, on_failure=[notify_failure])
def ecom_reprocess(params: ReprocessParameters) -> ReprocessSummary:
    """Reprocess a range of ingest dates from the raw zone and return the summary (the CLI prints it)."""
    return _run_reprocess(params)


@stage_logs_to_flow_run()  # the stages' INFO lines (transform, warehouse, locks) into the run's logs
def _run_reprocess(params: ReprocessParameters) -> ReprocessSummary:
    """Plan the dates, run those with raw data, report; fail at the end if any date failed or none had raw data."""
    started = time.monotonic()
    logger = get_run_logger()
    business = PipelineParameters(cost_ratio=params.cost_ratio, default_order_status=params.default_order_status)
    settings = resolve_settings(business)
    slots = concurrency_for(settings, params.concurrency)
    s3_client = make_s3_client(settings.storage)
    plans = [plan_date(settings, day, s3_client) for day in date_range(params.from_date, params.to_date)]
    logger.info(
        "reprocess %s..%s from s3://%s/%s (cost ratio %s, default status %r, %d at once, profile %s)",
        params.from_date, params.to_date, settings.storage.raw_bucket, settings.storage.raw_prefix,
        settings.cost_ratio, settings.default_order_status, slots, settings.profile.value,
    )  # fmt: skip
    for plan in plans:
        if not plan.has_raw_data:
            logger.warning(
                "%s: no raw data (%s not landed): not reprocessed", plan.ingest_date, ", ".join(plan.missing)
            )
    outcomes: dict[date, DateOutcome] = {
        plan.ingest_date: NoRawData(ingest_date=plan.ingest_date, missing=list(plan.missing))
        for plan in plans
        if not plan.has_raw_data
    }
    outcomes.update(_run_dates(settings, [plan for plan in plans if plan.has_raw_data], slots))
    summary = ReprocessSummary(
        from_date=params.from_date,
        to_date=params.to_date,
        profile=settings.profile.value,
        cost_ratio=settings.cost_ratio,
        default_order_status=settings.default_order_status,
        concurrency=slots,
        dates=[outcomes[plan.ingest_date] for plan in plans],
    )
    done = [outcome for outcome in summary.dates if isinstance(outcome, ReprocessedDate)]
    if done:
        run_id = new_run_id(datetime.now(UTC))
        report_dir = Path(params.report_dir) if params.report_dir else settings.work_dir / "reports" / run_id
        span = f"reprocess {params.from_date}..{params.to_date}"
        create_table_artifact(key="ecom-reprocess", table=date_rows(summary), description=f"Each date of {span}")
        # The pipeline's report task: KPIs, views and charts; its reconciliation shows the dates' stages added up.
        transform, warehouse = combined_stages(done, run_id, span)
        stages = RunSummary(
            run_id=run_id,
            run_date=span,
            profile=summary.profile,
            resources={},
            transform=transform,
            warehouse=warehouse,
        )
        try:
            report_task = assets.materializing(build_report, assets.reporting(settings))
            reported = report_task(quote(settings), quote(stages), quote(report_dir))
        except PipelineError as error:
            raise StageError("report", error) from error
        summary.run_id, summary.kpis, summary.report_files = run_id, reported.kpis, reported.report_files
        summary.report = reported.report
    summary.seconds = round(time.monotonic() - started, 1)
    _fail_unless_done(summary)
    return summary


def _fail_unless_done(summary: ReprocessSummary) -> None:
    """Raise ReprocessError (with the summary) when a date failed or no date of the range had raw data."""
    failed = [outcome for outcome in summary.dates if isinstance(outcome, FailedDate)]
    if failed:
        listed = "; ".join(f"{outcome.ingest_date}: {outcome.error}" for outcome in failed)
        raise ReprocessError(f"reprocess failed for {len(failed)} date(s): {listed}", summary)
    if all(isinstance(outcome, NoRawData) for outcome in summary.dates):
        raise ReprocessError(
            f"no raw data for any date of {summary.from_date}..{summary.to_date}: nothing reprocessed "
            "(land them first with `ecom-pipeline run --run-date`)",
            summary,
        )


def _run_dates(settings: Settings, plans: list[DatePlan], slots: int) -> dict[date, DateOutcome]:
    """Run the dates on `slots` threads as `startable` allows; return each date's outcome. Progress per date."""
    logger = get_run_logger()
    outcomes: dict[date, DateOutcome] = {}
    if not plans:
        return outcomes
    progress = create_progress_artifact(
        progress=0.0, key="ecom-reprocess-progress", description=f"0 of {len(plans)} dates reprocessed"
    )
    # Our scheduler, not Prefect's task runner with `wait_for`: that runner resolves `wait_for` in its worker thread,
    # so a date waiting for an earlier one it overlaps would hold one of the `slots` and keep a later disjoint date
    # from running beside (`startable` starts it). An unbounded pool with a slot limit taken after the wait takes
    # slots out of date order: a later date holding the last one while it waits for an earlier date's load turn
    # (DateOrderedLoads, a wait inside the date's locks, which no `wait_for` between tasks can say) would deadlock.
    waiting, running = list(plans), {}  # type: ignore[var-annotated]
    turns = DateOrderedLoads(plan.ingest_date for plan in plans)
    with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="reprocess") as pool:
        try:
            while waiting or running:
                for plan in startable(waiting, running.values(), slots):
                    waiting.remove(plan)
                    logger.info("%s: started (partitions %s)", plan.ingest_date, _describe(plan.partitions))
                    # Each date's thread runs in a copy of the flow's context: its task runs belong to this run.
                    context = contextvars.copy_context()
                    running[pool.submit(context.run, _reprocess_date, settings, plan, turns)] = plan
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    plan = running.pop(future)
                    outcomes[plan.ingest_date] = _outcome_of(future, plan)
                    _log_outcome(outcomes[plan.ingest_date], len(outcomes), len(plans))
                update_progress_artifact(
                    progress,
                    progress=100.0 * len(outcomes) / len(plans),
                    description=f"{len(outcomes)} of {len(plans)} dates reprocessed",
                )
        finally:
            turns.release_all()  # if this loop fails, no running date may wait for a load that never comes
    return outcomes


def _outcome_of(future: Future[DateOutcome], plan: DatePlan) -> DateOutcome:
    error = future.exception()
    return FailedDate(ingest_date=plan.ingest_date, error=str(error)) if error is not None else future.result()


def _describe(partitions: tuple[str, ...] | None) -> str:
    return describe_partitions(partitions) if partitions is not None else "unknown until the job runs: the global lock"


def _log_outcome(outcome: DateOutcome, finished: int, total: int) -> None:
    logger = get_run_logger()
    day = outcome.ingest_date
    if isinstance(outcome, FailedDate):
        logger.error("%s: failed (%d/%d dates done): %s", day, finished, total, outcome.error)
        return
    if isinstance(outcome, NoRawData):  # its manifests went between planning and its lock
        logger.warning("%s: no raw data (%d/%d dates done)", day, finished, total)
        return
    before, after, change = outcome.before, outcome.after, outcome.change
    logger.info(
        "%s: %s (%d/%d dates done): %d orders, revenue %s -> %s (%+.2f), profit %s -> %s (%+.2f)",
        day, outcome.status, finished, total, after.orders, before.revenue, after.revenue,
        change.revenue, before.profit, after.profit, change.profit,
    )  # fmt: skip


def _reprocess_date(settings: Settings, plan: DatePlan, turns: DateOrderedLoads) -> DateOutcome:
    """Transform and load one date under its locks, in its load turn; read the warehouse's figures of its partitions
    around the load."""
    try:
        return _transform_and_load(settings, plan, turns)
    finally:
        turns.done(plan.ingest_date)


def _transform_and_load(settings: Settings, plan: DatePlan, turns: DateOrderedLoads) -> DateOutcome:
    day = plan.ingest_date
    dated = settings.updated(top={"run_date": day})
    run_id = new_run_id(datetime.now(UTC))
    with run_lock(dated, day):
        # Planned before the lock; again now that no run can land the date meanwhile.
        current = plan_date(dated, day)
        if not current.has_raw_data:
            return NoRawData(ingest_date=day, missing=list(current.missing))
        planned, now = plan.partitions, current.partitions
        if planned is not None and (now is None or not set(now) <= set(planned)):
            # It started beside dates chosen for the partitions planned; those may now overlap.
            raise PipelineError(
                f"{day}: its raw data changed after the reprocess planned it (landed again meanwhile), so its "
                "partitions may overlap a date running beside it: reprocess the date again"
            )
        with partition_write_lock(dated, current.partitions) as locked:
            transform_task = _in_thread(run_transform, assets.transformation(dated), f"transform-{day}")
            transform = _date_stage(day, "transform", transform_task, dated, run_id)
            written = transform.partitions_written
            if locked is not None and not set(written) <= set(locked):
                raise ContractError(
                    f"{day}: the job wrote partitions {sorted(set(written) - set(locked))} outside its locks "
                    f"{list(locked)}; the partition record of this date is wrong (transform/partitions.py)"
                )
            partition_dates = [date.fromisoformat(value) for value in written]
            turns.wait_for_earlier(day)
            with warehouse_load_lock(dated):
                before = PartitionTotals.read(dated, partition_dates)
                load_task = _in_thread(load_warehouse, assets.warehouse_load(dated), f"snowflake-load-{day}")
                load = _date_stage(day, "snowflake-load", load_task, dated, run_id, transform)
                after = PartitionTotals.read(dated, partition_dates)
    return date_outcome(current, transform, load, before, after, locked)


def _in_thread(pipeline_task: Any, plan: assets.Materialization, run_name: str) -> Any:
    """The pipeline's task for `plan`, named after its date, without Prefect's timeout: a task in a worker thread
    cannot be interrupted at its timeout (Prefect warns so on every run). The stages' own limits still stop a hung
    one: the Spark process's ECOM_SPARK_TIMEOUT_SECONDS, the Glue job's Timeout, the Snowflake connector's timeouts."""
    dated_task = assets.materializing(pipeline_task.with_options(task_run_name=run_name), plan)
    dated_task.timeout_seconds = None  # with_options reads None as "keep the task's own"
    return dated_task


def _date_stage(day: date, name: str, task_fn: Any, *args: Any) -> Any:
    """Call one of the pipeline's tasks, its arguments `quote`d (flows/assets.py says why); a failure for good names
    the stage and the date."""
    try:
        return task_fn(*(quote(arg) for arg in args))
    except PipelineError as error:
        raise StageError(f"{name} {day}", error) from error
