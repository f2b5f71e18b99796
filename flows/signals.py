"""Data-quality and schema-drift signals in Prefect: events, artifacts, and the gate that fails a run on a breach.

The event names and resources are a contract with the automations (flows/automations.yaml); change them only
together:

- `ecom.data-quality.<passed|warning|failed>`, one per check and resource per run, resource
  `ecom.data-quality.<check>.<resource>` (labels `ecom.check`, `ecom.resource`, `ecom.profile`), payload: the
  figure, the figures it came from, the thresholds, the severity and a one-line message;
- `ecom.schema.drift-detected`, one per drifting resource per run, resource `ecom.source.<resource>`, payload:
  the added, missing and type-changed JSON paths with their types. No drift emits nothing (the summary says so).

Emitted from the flow run, so Prefect relates each event to it (and to the flow and deployment). The checks are
pure (ecom_pipeline/quality.py); the gate emits every result first, then fails the run on a fail-severity breach
with one line (a DataQualityError: never retried). Raw-zone checks run after landing, before the transform, so
bad input stops before it reaches the curated zone; the orders' checks run after the load.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.events import emit_event
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import ConfigError, DataQualityError
from ecom_pipeline.extract.drift import drift_counts
from ecom_pipeline.land.landing import LandingResult
from ecom_pipeline.previous_run import read_previous_run
from ecom_pipeline.quality import CheckResult, Severity, failure_line, landing_checks, orders_checks, thresholds
from ecom_pipeline.settings import QualitySettings, Settings
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.warehouse.loader import LoadResult

QUALITY_EVENT = "ecom.data-quality.{severity}"
DRIFT_EVENT = "ecom.schema.drift-detected"
QUALITY_ARTIFACT = "ecom-data-quality"
DRIFT_ARTIFACT = "ecom-schema-drift"

# The run's overrides of the ECOM_DQ_* thresholds: the same names, each optional (empty = the settings' value).
QualityOverrides: type[BaseModel] = create_model(
    "QualityOverrides",
    __config__=ConfigDict(extra="forbid"),
    **{
        name: (float | None, Field(default=None, ge=0, description=info.description))
        for name, info in QualitySettings.model_fields.items()
    },
)


def quality_with_overrides(quality: QualitySettings, overrides: BaseModel | None) -> QualitySettings:
    """The settings' thresholds with the run's overrides on top; ConfigError (one line) when they contradict."""
    if overrides is None:
        return quality
    values = {**quality.model_dump(), **overrides.model_dump(exclude_none=True)}
    try:
        return QualitySettings.model_validate(values)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise ConfigError(f"data-quality thresholds of this run: {first['msg']}") from None


def check_resource(result: CheckResult, profile: str) -> dict[str, str]:
    """The event resource of one check result."""
    return {
        "prefect.resource.id": f"ecom.data-quality.{result.check}.{result.resource}",
        "prefect.resource.name": f"{result.check} of {result.resource}",
        "ecom.check": result.check,
        "ecom.resource": result.resource,
        "ecom.profile": profile,
    }


def source_resource(resource: str, profile: str) -> dict[str, str]:
    """The event resource of a source endpoint whose fields drifted."""
    return {
        "prefect.resource.id": f"ecom.source.{resource}",
        "prefect.resource.name": f"source {resource}",
        "ecom.resource": resource,
        "ecom.profile": profile,
    }


def drift_rows(resources: dict[str, LandingResult]) -> list[dict[str, str]]:
    """One row per drifted path (or one `no drift` row) per resource, for the `ecom-schema-drift` table."""
    rows = []
    for resource, landed in resources.items():
        report = landed.schema_drift
        changes = [
            (change, entry) for change in ("added", "missing", "type_changed") for entry in report.get(change, [])
        ]
        if not changes:
            rows.append({"resource": resource, "change": "no drift", "path": "", "expected": "", "seen": ""})
        for change, entry in changes:
            seen = entry.get("types") or entry.get("seen") or []
            rows.append(
                {
                    "resource": resource,
                    "change": change.replace("_", " "),
                    "path": entry["path"],
                    "expected": entry.get("expected", "(unknown field: not landed)"),
                    "seen": ", ".join(seen) if seen else "(absent)",
                }
            )
    return rows


def quality_rows(results: list[CheckResult]) -> list[dict[str, str]]:
    """One row per check result, for the `ecom-data-quality` table."""
    return [
        {
            "check": result.check,
            "resource": result.resource,
            "severity": result.severity.value,
            "figure": "" if result.figure is None else f"{result.figure:g}",
            **{level: _limit(result.threshold.as_json()[level]) for level in ("warn", "fail")},
            "message": result.message,
        }
        for result in results
    ]


def _limit(value: float | None) -> str:
    return "never" if value is None else f"{value:g}"


class QualityGate:
    """The run's checks: the previous run's figures, read before landing; results emitted, then enforced."""

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.profile = settings.profile.value
        self.run = {"run_id": run_id, "run_date": settings.run_date.isoformat()}  # in every event's payload
        self.described = f"run {run_id} for {settings.run_date.isoformat()}"  # in every artifact's description
        self.limits = thresholds(settings.quality)
        self.previous = read_previous_run(make_s3_client(settings.storage), settings.storage)
        self.results: list[CheckResult] = []

    def after_landing(self, resources: dict[str, LandingResult]) -> None:
        """Report each resource's drift, check what landed; fail the run on a fail-severity breach."""
        self._report_drift(resources)
        checks = [
            result for landed in resources.values() for result in landing_checks(landed, self.previous, self.limits)
        ]
        self._record(checks, final=False)

    def after_load(self, transform: JobSummary, warehouse: LoadResult) -> None:
        """Check the orders the job wrote and the warehouse loaded; publish every result; fail on a breach."""
        self._record(orders_checks(transform, warehouse, self.previous, self.limits), final=True)

    def payloads(self) -> list[dict[str, Any]]:
        """Every result so far as its event payload, less the run's id and date: the run summary's `data_quality`."""
        return [result.payload() for result in self.results]

    def _report_drift(self, resources: dict[str, LandingResult]) -> None:
        logger = get_run_logger()
        for resource, landed in resources.items():
            report = landed.schema_drift
            logger.info("schema drift %s: %s", resource, drift_counts(report))
            if report.get("status") == "drift":
                payload = {
                    **{key: report[key] for key in ("added", "missing", "type_changed", "records", "complete")},
                    "message": f"source {resource} drifted: {drift_counts(report)}",
                    **self.run,
                }
                emit_event(DRIFT_EVENT, resource=source_resource(resource, self.profile), payload=payload)
        create_table_artifact(
            key=DRIFT_ARTIFACT,
            table=drift_rows(resources),
            description=f"Fields the source sent vs the fields the pipeline knows, {self.described}",
        )

    def _record(self, checks: list[CheckResult], final: bool) -> None:
        logger = get_run_logger()
        for result in checks:
            emit_event(
                QUALITY_EVENT.format(severity=result.severity.value),
                resource=check_resource(result, self.profile),
                payload={**result.payload(), **self.run},
            )
            log = logger.info if result.severity is Severity.PASSED else logger.warning
            log("data quality %s: %s", result.severity.value, result.message)
        self.results += checks
        failed = [result for result in self.results if result.severity is Severity.FAILED]
        if failed or final:
            create_table_artifact(
                key=QUALITY_ARTIFACT,
                table=quality_rows(self.results),
                description=f"Data-quality checks and thresholds, {self.described}",
            )
        if failed:
            raise DataQualityError(failure_line(failed))
