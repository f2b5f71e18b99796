"""The job's contract with every launcher: the request, its Glue-style arguments, where the summary is written.

Every launcher (`local.py`, `compose.py`, `glue.py`) takes a JobRequest, runs the orders job somewhere (its entry
script and package zip, `job_package.py`), and returns the job summary it wrote to S3 (docs/architecture.md,
"Curated zone"); how a failed run is judged is `process.job_failure`, the same for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from ecom_pipeline.exceptions import TransformError
from ecom_pipeline.settings import Settings, StorageSettings


@dataclass(frozen=True)
class JobRequest:
    """One transform run: which raw ingest date, under which run id, with which business parameters."""

    ingest_date: date
    run_id: str
    cost_ratio: Decimal = Decimal("0.6")
    default_order_status: str = "completed"

    @classmethod
    def from_settings(cls, settings: Settings, run_id: str, ingest_date: date | None = None) -> JobRequest:
        """A request for `settings.run_date` (or `ingest_date`) with the configured business parameters."""
        return cls(
            ingest_date=ingest_date or settings.run_date,
            run_id=run_id,
            cost_ratio=settings.cost_ratio,
            default_order_status=settings.default_order_status,
        )


class JobSummary(BaseModel):
    """The summary the job writes (spark_jobs/orders/outcome.py; docs/architecture.md, "Curated zone").

    `ingest_date` is text as the job writes it (a reprocess's added-up figures hold their range there). `reused`
    is ours, not the job's: the transform returned an earlier job's summary because its inputs were unchanged.
    """

    run_id: str
    ingest_date: str
    rows_read: int
    rows_written: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int]
    duplicates_removed: int
    partitions_written: list[str]
    revenue_written: Decimal
    profit_written: Decimal
    reused: bool = False


class TransformLauncher(Protocol):
    """Runs the orders job for one request and returns its summary."""

    def run(self, request: JobRequest) -> JobSummary:
        """Run the job to completion; raise TransformError on failure."""
        ...


def summary_key(storage: StorageSettings, run_id: str) -> str:
    """Key of a run's summary inside the curated bucket, under the summary prefix (`ECOM_SUMMARY_PREFIX`)."""
    return storage.summary_key(f"run_id={run_id}.json")


def job_arguments(settings: Settings, request: JobRequest, scheme: str) -> dict[str, str]:
    """The job's `--name value` arguments for this request (paths with `scheme`: s3a locally, s3 on Glue)."""
    storage = settings.storage
    return {
        "--raw_path": storage.raw_uri(scheme),
        "--curated_path": storage.curated_uri(scheme),
        "--quarantine_path": storage.quarantine_uri(scheme),
        "--ingest_date": request.ingest_date.isoformat(),
        "--run_id": request.run_id,
        "--cost_ratio": str(request.cost_ratio),
        "--default_order_status": request.default_order_status,
        "--summary_path": f"{scheme}://{storage.curated_bucket}/{summary_key(storage, request.run_id)}",
    }


def flatten(arguments: dict[str, str]) -> list[str]:
    """`{"--a": "1"}` -> `["--a", "1"]`."""
    return [item for pair in arguments.items() for item in pair]


def read_summary(s3_client: Any, storage: StorageSettings, run_id: str) -> JobSummary:
    """The summary the job wrote for `run_id`."""
    bucket, key = storage.curated_bucket, summary_key(storage, run_id)
    try:
        return JobSummary.model_validate_json(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, ValidationError) as error:
        raise TransformError(
            f"the job finished but its summary s3://{bucket}/{key} cannot be read: {error}", transient=False
        ) from error
