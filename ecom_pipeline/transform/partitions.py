"""Which curated partitions a date's job writes, known before the job runs when its inputs are unchanged.

The job's `order_date` partitions follow from the ingest date's raw content and the job's code alone (cart dates,
else the ingest date, minus rows quarantined for a missing key, a bad quantity or price, an unknown customer or
product), never from the cost ratio or the default status. So after each transform, the partitions it wrote are
recorded under the fingerprint of exactly those inputs, in `<raw prefix>/_partitions/ingest_date=D.json`; a later
run of the date whose inputs have that fingerprint knows its partitions before its job starts, and locks only those
(`locks.py`). With any other fingerprint, or no record, they are unknown.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ecom_pipeline.exceptions import PipelineError
from ecom_pipeline.land.raw_zone import read_manifest
from ecom_pipeline.settings import RESOURCES, Settings
from ecom_pipeline.transform.job_contract import JobSummary
from ecom_pipeline.transform.job_package import job_digest

LOG = logging.getLogger(__name__)

RECORD_FOLDER = "_partitions"
UNKNOWN_JOB_NAME = "unknown-job.json"


def _folder_key(settings: Settings, name: str) -> str:
    return settings.storage.raw_key(RECORD_FOLDER, name)


def record_key(settings: Settings, ingest_date: date) -> str:
    """Key of a date's record, e.g. `dummyjson/_partitions/ingest_date=2026-06-17.json` (in the raw bucket)."""
    return _folder_key(settings, f"ingest_date={ingest_date:%Y-%m-%d}.json")


def unknown_job_key(settings: Settings) -> str:
    """Key of the note a job of unknown partitions keeps while it runs, `dummyjson/_partitions/unknown-job.json`.

    Such a job may rewrite any partition, so the transform's reuse markers (`incremental.py`) trust none while the
    note is there; only one such job runs at a time (it holds the global curated lock), so one key is enough.
    """
    return _folder_key(settings, UNKNOWN_JOB_NAME)


def missing_resources(settings: Settings, s3_client: Any, ingest_date: date) -> list[str]:
    """The resources the job needs that have no committed manifest for `ingest_date`."""
    return [
        resource for resource in RESOURCES if read_manifest(s3_client, settings.storage, resource, ingest_date) is None
    ]


def partition_fingerprint(settings: Settings, s3_client: Any, ingest_date: date) -> str | None:
    """sha256 over what decides the partitions: the date, its raw content, the job's code; None without raw data."""
    raw = {}
    for resource in RESOURCES:
        manifest = read_manifest(s3_client, settings.storage, resource, ingest_date)
        if manifest is None:
            return None
        raw[resource] = manifest["content_sha256"]
    inputs = {"ingest_date": ingest_date.isoformat(), "raw": raw, "job_code": job_digest()}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def record_partitions(settings: Settings, s3_client: Any, summary: JobSummary) -> None:
    """Record the partitions a successful job wrote (or whose output was reused) under its inputs' fingerprint.

    Best effort: without the record, a later run only loses the knowledge and takes the global lock.
    """
    ingest_date = settings.run_date  # the date the job ran for (JobRequest.from_settings)
    try:
        fingerprint = partition_fingerprint(settings, s3_client, ingest_date)
        if fingerprint is None:
            return
        body = {
            "fingerprint": fingerprint,
            "run_id": summary.run_id,
            "partitions": summary.partitions_written,
        }
        s3_client.put_object(
            Bucket=settings.storage.raw_bucket,
            Key=record_key(settings, ingest_date),
            Body=json.dumps(body, sort_keys=True).encode(),
            ContentType="application/json",
        )
    except (BotoCoreError, ClientError, PipelineError) as error:
        LOG.warning("partitions of %s not recorded (a later run takes the global lock): %s", ingest_date, error)


def known_partitions(settings: Settings, s3_client: Any, ingest_date: date) -> tuple[str, ...] | None:
    """The partitions a job of `ingest_date` writes from the raw data as it is now, or None when unknown."""
    key = record_key(settings, ingest_date)
    try:
        recorded = json.loads(s3_client.get_object(Bucket=settings.storage.raw_bucket, Key=key)["Body"].read())
    except (BotoCoreError, ClientError, ValueError) as error:
        code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
        if code not in {"NoSuchKey", "404"}:  # a missing record is the usual unknown; anything else is worth a line
            LOG.warning(
                "partitions of %s unknown: s3://%s/%s unreadable: %s",
                ingest_date,
                settings.storage.raw_bucket,
                key,
                error,
            )
        return None
    if recorded.get("fingerprint") != partition_fingerprint(settings, s3_client, ingest_date):
        return None  # landed again, or the job changed: what it writes is unknown until it runs
    return tuple(sorted(recorded["partitions"]))


def describe_partitions(days: Iterable[str]) -> str:
    """Partition dates for a log line: `2026-06-16, 2026-06-17`, `2026-06-01..2026-06-30 (30)`.

    Runs of three or more consecutive dates are written `first..last`, with the count at the end whenever one is
    (`2026-06-01..2026-06-03, 2026-06-05 (4)`), so thirty dates read as one range and a gap still shows.

    Raises:
        ValueError: a value is not a `YYYY-MM-DD` date.
    """
    dates = sorted({date.fromisoformat(day) for day in days})
    runs: list[list[date]] = []
    for day in dates:
        if runs and day - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [
        part
        for run in runs
        for part in ([f"{run[0]}..{run[-1]}"] if len(run) >= 3 else [day.isoformat() for day in run])
    ]
    counted = f" ({len(dates)})" if any(len(run) >= 3 for run in runs) else ""
    return f"{', '.join(parts)}{counted}" if parts else "none"
