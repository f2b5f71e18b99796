"""The `ecom-pipeline` Prefect flow: fetch and land -> Spark/Glue transform -> Snowflake load -> report.

Tasks are thin: each calls one plain function of a stage module and returns plain values.
Task retries come from `ecom_pipeline/retry_policy.py` and retry only errors that say a retry can help
(`ecom_pipeline/exceptions.py`): a 4xx, bad data, bad settings or a failed reconciliation fails at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Literal, TypeVar

from prefect import flow, get_run_logger
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.states import State
from prefect.tasks import MaterializingTask, Task
from prefect.utilities.annotations import quote
from pydantic import BaseModel, Field

from ecom_pipeline.credentials.resolve import resolve_credentials
from ecom_pipeline.exceptions import PipelineError, StageError, is_transient
from ecom_pipeline.land.ingest import ingest_resource
from ecom_pipeline.land.landing import LandingResult
from ecom_pipeline.locks import curated_write_lock, run_lock
from ecom_pipeline.retry_policy import TASK_RETRIES
from ecom_pipeline.settings import Profile, Settings, load_settings
from ecom_pipeline.summary import RunSummary, new_run_id
from ecom_pipeline.timings import Spans
from ecom_pipeline.transform.incremental import transform_unless_unchanged
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.transform.partitions import describe_partitions
from ecom_pipeline.warehouse.loader import LoadResult, load_orders
from ecom_pipeline.warehouse.report import read_report
from ecom_pipeline.warehouse.setup_state import set_up_emulator_warehouse
from flows import assets
from flows.faults import inject_fault
from flows.hooks import notify_failure
from flows.reporting import publish_artifacts, write_report_files
from flows.run_logs import stage_logs_to_flow_run
from flows.signals import QualityGate, QualityOverrides, quality_with_overrides
from flows.warm_up import warm_up_for_load

Resource = Literal["users", "products", "carts"]
R = TypeVar("R")


class PipelineParameters(BaseModel):
    """Run parameters, shown with their defaults in the Prefect UI. Empty means "from settings"."""

    run_date: date | None = Field(default=None, description="Ingest date; empty = today (UTC).")
    resources: list[Resource] = Field(default=["users", "products", "carts"], min_length=1)
    page_size: int | None = Field(default=None, ge=0, description="Items per API request; 0 = all at once.")
    cost_ratio: Decimal | None = Field(default=None, gt=0, lt=1, description="Unit cost as a share of price.")
    default_order_status: str | None = Field(default=None, description="Status for carts without one.")
    api_url: str | None = Field(default=None, description="Source API base URL; empty = settings.")
    report_dir: str | None = Field(default=None, description="Where charts and the report go; empty = work dir.")
    quality: QualityOverrides | None = Field(  # type: ignore[valid-type]  # built from QualitySettings' fields
        default=None, description="Data-quality thresholds for this run (ECOM_DQ_* in lower case); empty = settings."
    )


def resolve_settings(params: PipelineParameters, base: Settings | None = None) -> Settings:
    """Apply the run's parameters on top of the environment's settings."""
    settings = base or load_settings()
    # Credentials and names from the environment, the Prefect blocks (aws profile only: a local run must not pick up
    # real credentials from a shared Prefect server) and Secrets Manager: once per run, here, so a missing secret or
    # a bad key fails the run before any task (no retry) and a rotated one is used next run.
    settings = resolve_credentials(settings, "ecom" if settings.profile is Profile.AWS else None)
    top: dict[str, Any] = {"resources": tuple(params.resources)}
    if params.run_date:
        top["run_date"] = params.run_date
    if params.cost_ratio is not None:
        top["cost_ratio"] = params.cost_ratio
    if params.default_order_status:
        top["default_order_status"] = params.default_order_status
    if params.quality is not None:
        top["quality"] = quality_with_overrides(settings.quality, params.quality)
    api: dict[str, Any] = {}
    if params.page_size is not None:
        api["page_size"] = params.page_size
    if params.api_url:
        api["base_url"] = params.api_url
    return settings.updated(top=top, api=api)


def _retry_if_transient(_task: Task, _run: TaskRun, state: State) -> bool:
    """Retry a task only when its failure says a retry can help (exceptions.is_transient)."""
    error = state.data if isinstance(state.data, BaseException) else state.result(raise_on_failure=False)
    return is_transient(error)


def _retries(stage: str) -> dict[str, Any]:
    """The task options of `stage`'s retry policy (retry_policy.TASK_RETRIES)."""
    policy = TASK_RETRIES[stage]
    return {
        "retries": policy.retries,
        "retry_delay_seconds": list(policy.delay_seconds),
        "retry_condition_fn": _retry_if_transient,
    }


# Each task materializes nothing of its own: a call materializes what its plan says (assets.materializing).
# No timeout on fetch-and-land: it runs in a worker thread, where Prefect cannot interrupt it (and warns so on every
# run); the HTTP client's timeouts and retries bound it (ecom_pipeline/extract/client.py).
@partial(
    MaterializingTask,
    assets=[],
    name="fetch-and-land",
    **_retries("fetch-and-land"),
    cache_policy=NO_CACHE,
    task_run_name="fetch-and-land-{resource}",
)
def fetch_and_land(settings: Settings, resource: str, run_id: str) -> LandingResult:
    """Fetch one resource from the API and land it in the raw zone."""
    inject_fault("fetch-and-land")
    landed = ingest_resource(settings, resource, run_id)
    get_run_logger().info(
        "%s: %d records landed, %d quarantined, %d bytes in %d part(s) -> %s",
        resource,
        landed.records,
        landed.quarantined,
        landed.bytes,
        len(landed.parts),
        landed.location,
    )
    assets.record(assets.landed_figures(settings, run_id, landed))
    return landed


@partial(
    MaterializingTask,
    assets=[],
    name="transform",
    **_retries("transform"),
    timeout_seconds=7200,
    cache_policy=NO_CACHE,
)
def run_transform(settings: Settings, run_id: str) -> JobSummary:
    """Run the Spark job (local PySpark, Glue container or AWS Glue, by profile) and return its summary.

    When the raw inputs and parameters equal those of the last successful job, its output is reused.
    """
    inject_fault("transform")
    summary = transform_unless_unchanged(settings, run_id)
    get_run_logger().info(
        "transform%s: %s rows read, %s written, %s quarantined, partitions %s",
        " (unchanged inputs, output reused)" if summary.reused else "",
        summary.rows_read,
        summary.rows_written,
        summary.rows_quarantined,
        describe_partitions(summary.partitions_written),
    )
    assets.record(assets.transformed_figures(settings, run_id, summary))
    return summary


@partial(
    MaterializingTask,
    assets=[],
    name="snowflake-load",
    **_retries("snowflake-load"),
    timeout_seconds=3600,
    cache_policy=NO_CACHE,
)
def load_warehouse(settings: Settings, run_id: str, job_summary: JobSummary) -> LoadResult:
    """COPY the run's partitions into staging, MERGE into `orders`, reconcile, audit.

    When the transform reused an earlier job's output and `orders` already holds it, the load is skipped.
    """
    inject_fault("snowflake-load")
    setup_started = time.monotonic()
    if settings.snowflake.emulator:
        # An emulator starts empty; on Snowflake the set-up is the one-time `bootstrap-warehouse` command. One query
        # tells when it is in place already (an emulator `emulators up` keeps): then nothing is re-run.
        get_run_logger().info("warehouse emulator: %s", set_up_emulator_warehouse(settings))
    setup_seconds = round(time.monotonic() - setup_started, 3)
    result = load_orders(
        settings, job_summary.partitions_written, run_id, expected=job_summary, skip_if_loaded=job_summary.reused
    )
    if result.skipped:
        get_run_logger().info("warehouse: load skipped, orders already holds these %s rows", result.rows_staged)
    else:
        get_run_logger().info(
            "warehouse: %s rows of partitions %s from %s file(s): %s inserted, %s updated, %s deleted; "
            "reconciled at %s revenue",
            result.rows_staged,
            describe_partitions(result.partitions),
            result.files,
            result.rows_inserted,
            result.rows_updated,
            result.rows_deleted,
            result.revenue_staged,
        )
    assets.record(assets.loaded_figures(settings, run_id, result, job_summary))
    return result.model_copy(update={"setup_seconds": setup_seconds})


@partial(MaterializingTask, assets=[], name="report", **_retries("report"), timeout_seconds=600, cache_policy=NO_CACHE)
def build_report(settings: Settings, summary: RunSummary, report_dir: Path) -> RunSummary:
    """Read the views, publish artifacts, write charts; return the summary with the KPIs, the report and its files."""
    inject_fault("report")
    report = read_report(settings)
    files = write_report_files(report, report_dir)
    publish_artifacts(report, summary)
    assets.record(assets.reported_figures(settings, summary.run_id, report))
    return summary.model_copy(
        update={"kpis": report.kpis_json(), "report": report, "report_files": [str(path) for path in files]}
    )


def _stage(name: str, task_fn: Callable[..., R], *args: Any) -> R:
    """Call a task (or wait for a submitted one's result), its arguments `quote`d (flows/assets.py says why); if it
    fails for good (after its retries), fail the flow with the stage's name in front."""
    try:
        return task_fn(*(quote(arg) for arg in args))
    except PipelineError as error:
        raise StageError(name, error) from error


def _flow_run_name() -> str:
    params = flow_run.parameters.get("params") or {}
    run_date = params.get("run_date") if isinstance(params, dict) else getattr(params, "run_date", None)
    return f"ecom-{run_date or load_settings().run_date.isoformat()}"


@flow(name="ecom-pipeline", flow_run_name=_flow_run_name, log_prints=True, on_failure=[notify_failure])
def ecom_pipeline(params: PipelineParameters | None = None) -> RunSummary:
    """Run the whole pipeline for one date and return its summary (the CLI prints and saves it)."""
    # Not a decorator on the flow itself: Prefect resolves the flow's annotations in the wrapper's module.
    return _run_pipeline(params or PipelineParameters())


@stage_logs_to_flow_run()  # INFO lines of extract, land, transform, warehouse into the run's logs
def _run_pipeline(params: PipelineParameters) -> RunSummary:
    """The flow's body: lock, fetch and land each resource, transform, load, report."""
    settings = resolve_settings(params)
    logger = get_run_logger()
    started = time.monotonic()
    run_id = new_run_id(datetime.now(UTC))
    logger.info("run %s for %s (profile %s)", run_id, settings.run_date, settings.profile.value)

    # One run per date at a time: a second one is refused with a clear error, never interleaved. Transform and
    # load rewrite whole order_date partitions, which runs of other dates may share: one run at a time, the
    # others wait (locks.py).
    spans = Spans()  # each stage's wall-clock span, in the summary as `timings` (ecom_pipeline/timings.py)
    with run_lock(settings, settings.run_date):
        quality = QualityGate(settings, run_id)  # reads the previous run's figures before this run replaces any
        with spans.span("fetch_and_land"):  # the resources side by side, on the flow's thread pool
            landing = {
                resource: assets.materializing(fetch_and_land, assets.landing(settings, resource)).submit(
                    quote(settings), quote(resource), quote(run_id)
                )
                for resource in settings.resources
            }
            wait(list(landing.values()))  # all of them end before the run lock goes, even when one has failed
            # The first failure in resource order fails the flow, as if they had run one after the other.
            resources = {
                resource: _stage(f"fetch-and-land {resource}", future.result) for resource, future in landing.items()
            }
        quality.after_landing(resources)  # schema drift, raw-zone checks: events, artifacts; a breach stops the run
        with curated_write_lock(settings):
            # The warehouse set-up and the load's and report's imports do not need the job: they run beside it.
            with spans.span("transform"), warm_up_for_load(settings):
                transform_task = assets.materializing(run_transform, assets.transformation(settings))
                transform = _stage("transform", transform_task, settings, run_id)
            with spans.span("warehouse"):
                load_task = assets.materializing(load_warehouse, assets.warehouse_load(settings))
                warehouse = _stage("snowflake-load", load_task, settings, run_id, transform)
        quality.after_load(transform, warehouse)  # the orders' checks, then the data-quality artifact
    summary = RunSummary(
        run_id=run_id,
        run_date=settings.run_date.isoformat(),
        profile=settings.profile.value,
        resources=resources,
        data_quality=quality.payloads(),
        transform=transform,
        warehouse=warehouse,
    )
    report_dir = Path(params.report_dir) if params.report_dir else settings.work_dir / "reports" / run_id
    with spans.span("reporting"):
        report_task = assets.materializing(build_report, assets.reporting(settings))
        summary = _stage("report", report_task, settings, summary, report_dir)
    summary.timings = spans.as_json()
    summary.seconds = round(time.monotonic() - started, 1)
    return summary
