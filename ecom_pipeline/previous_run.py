"""The previous run's figures, for the data-quality row-change check, read from what runs already leave in S3.

No new state: every Spark job writes `<summary prefix>/run_id=<run_id>.json` in the curated bucket (run ids sort by
time), and every landing a manifest per resource and ingest date in the raw zone. The previous run is the latest
job summary: its orders, and the records of the manifests of its ingest date. Buckets belong to one profile, so
this is the previous run of the same profile. Read before this run lands anything, so a re-run of the same date
compares with the manifests it is about to replace.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ecom_pipeline.exceptions import LandingError, TransformError
from ecom_pipeline.land.raw_zone import read_manifest
from ecom_pipeline.quality import PreviousRun
from ecom_pipeline.settings import RESOURCES, StorageSettings
from ecom_pipeline.transform.job_contract import read_summary, summary_key

_SUFFIX = ".json"


def summaries_prefix(storage: StorageSettings) -> str:
    """The common start of every run summary's key, e.g. `job-summaries/run_id=`."""
    return summary_key(storage, "").removesuffix(_SUFFIX)


def latest_job_run_id(s3_client: Any, storage: StorageSettings) -> str | None:
    """The run id of the newest job summary in the curated bucket, or None when no job ever finished there."""
    latest: str | None = None
    prefix = summaries_prefix(storage)
    try:
        for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=storage.curated_bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                key = entry["Key"]
                if key.endswith(_SUFFIX) and (latest is None or key > latest):
                    latest = key
    except (BotoCoreError, ClientError) as error:
        where = f"s3://{storage.curated_bucket}/{prefix}"
        raise LandingError(f"listing the job summaries {where}* failed: {error}") from error
    return latest.removeprefix(prefix).removesuffix(_SUFFIX) if latest else None


def read_previous_run(s3_client: Any, storage: StorageSettings) -> PreviousRun | None:
    """The figures of the latest run whose Spark job finished, or None when there is none."""
    run_id = latest_job_run_id(s3_client, storage)
    if run_id is None:
        return None
    try:
        summary = read_summary(s3_client, storage, run_id)
    except TransformError as error:  # unreadable, or not a job summary
        raise LandingError(f"reading the previous run's job summary {run_id} failed: {error}") from error
    ingest_date = date.fromisoformat(summary.ingest_date)
    records = {}
    for resource in RESOURCES:
        manifest = read_manifest(s3_client, storage, resource, ingest_date)
        if manifest is not None:
            records[resource] = int(manifest["record_count"])
    return PreviousRun(run_id=run_id, ingest_date=ingest_date, records=records, orders_rows=summary.rows_written)
