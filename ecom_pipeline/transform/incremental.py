"""Skip the Spark job when its inputs have not changed since that date's last successful job.

The inputs are the raw manifests' content checksums for the ingest date, the business parameters and the
job's code (its entry script and package, as shipped). Each date has its own reuse marker,
`<summary prefix>/latest/ingest_date=D.json` in the curated bucket (`ECOM_SUMMARY_PREFIX`, default
`job-summaries`): the fingerprint of its last successful job and that job's summary. A marker is worth trusting
only while the curated zone still holds that job's output, and a job rewrites whole `order_date` partitions, which
two ingest dates can share. So a marker goes before anything can rewrite one of its partitions:

- the date's own marker, before its job starts;
- the markers of other dates that share a partition with the job: before it starts when its partitions are known
  (`partitions.py`), and again after it from the partitions it wrote;
- when its partitions are unknown, the job keeps a note (`partitions.unknown_job_key`) from its start until its
  markers are settled; a note found at the start of a transform is a job that died or failed half-way, which may
  have rewritten any partition, so every marker goes.

A job killed at any point thus leaves no marker that a re-run could trust. All of this runs under the curated
write locks the flows hold around a transform (`locks.py`, `locks.py`): no other writer of the same
partitions, and no job of unknown partitions, runs meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from ecom_pipeline.aws import make_s3_client, missing_key
from ecom_pipeline.exceptions import TransformError
from ecom_pipeline.land.raw_zone import read_manifest
from ecom_pipeline.settings import RESOURCES, Settings, StorageSettings
from ecom_pipeline.transform.job_contract import JobRequest, JobSummary, TransformLauncher
from ecom_pipeline.transform.job_package import job_digest
from ecom_pipeline.transform.launchers import make_launcher
from ecom_pipeline.transform.partitions import known_partitions, record_partitions, unknown_job_key

LOG = logging.getLogger(__name__)

MARKER_SUFFIX = ".json"


def marker_prefix(storage: StorageSettings) -> str:
    """The common start of every reuse marker's key, e.g. `job-summaries/latest/ingest_date=`."""
    return storage.summary_key("latest", "ingest_date=")


def marker_key(storage: StorageSettings, ingest_date: date) -> str:
    """Key of a date's reuse marker in the curated bucket, e.g. `job-summaries/latest/ingest_date=2026-06-17.json`."""
    return f"{marker_prefix(storage)}{ingest_date:%Y-%m-%d}{MARKER_SUFFIX}"


def inputs_fingerprint(settings: Settings, s3_client: Any) -> str | None:
    """sha256 over the raw content of every resource for the run date and the job's parameters.

    None when a resource has no manifest for that date (nothing to compare: the job must run and will say why).
    """
    checksums = {}
    for resource in RESOURCES:
        manifest = read_manifest(s3_client, settings.storage, resource, settings.run_date)
        if manifest is None:
            return None
        checksums[resource] = manifest["content_sha256"]
    inputs = {
        "ingest_date": settings.run_date.isoformat(),
        "cost_ratio": str(settings.cost_ratio),
        "default_order_status": settings.default_order_status,
        "curated": settings.storage.curated_uri(),
        "job_code": job_digest(),
        "raw": checksums,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


@contextmanager
def _s3_call(what: str, bucket: str, key: str) -> Iterator[None]:
    """One line naming the object when S3 refuses a marker call (botocore has already retried what it could)."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise TransformError(f"transform reuse markers: {what} s3://{bucket}/{key} failed: {error}") from error


def _read_json(s3_client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The object's JSON, None when it does not exist, `{}` when it exists but is no JSON object (a marker that
    says nothing is not trusted; a note that says nothing still counts)."""
    with _s3_call("reading", bucket, key):
        try:
            body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if missing_key(error, bucket, key):  # 404, or a 403 S3 may answer for it (aws.py)
                return None
            raise
    try:
        value = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        LOG.warning("s3://%s/%s is not a JSON object: not trusted", bucket, key)
        return {}
    return value


def reusable_summary(settings: Settings, s3_client: Any, fingerprint: str | None) -> JobSummary | None:
    """The run date's last successful job summary when it was computed from exactly these inputs, else None."""
    if fingerprint is None:
        return None
    marker = _read_json(s3_client, settings.storage.curated_bucket, marker_key(settings.storage, settings.run_date))
    if marker is None or marker.get("fingerprint") != fingerprint:
        return None
    try:
        return JobSummary.model_validate(marker.get("summary"))
    except ValidationError as error:  # a marker whose summary says too little is not trusted: the job runs
        LOG.warning("reuse marker of %s holds no job summary, not trusted: %s", settings.run_date, error)
        return None


def forget_marker(settings: Settings, s3_client: Any, ingest_date: date) -> None:
    """Remove a date's marker (deleting a missing one is a no-op in S3)."""
    bucket, key = settings.storage.curated_bucket, marker_key(settings.storage, ingest_date)
    with _s3_call("deleting", bucket, key):
        s3_client.delete_object(Bucket=bucket, Key=key)


def remember_marker(settings: Settings, s3_client: Any, fingerprint: str | None, summary: JobSummary) -> None:
    """Record the run date's successful job: its inputs' fingerprint and its summary (partitions included)."""
    if fingerprint is None:
        return
    bucket, key = settings.storage.curated_bucket, marker_key(settings.storage, settings.run_date)
    job_summary = summary.model_dump(mode="json", exclude={"reused"})  # the job's own summary, as it wrote it
    body = json.dumps({"fingerprint": fingerprint, "summary": job_summary}, sort_keys=True).encode()
    with _s3_call("writing", bucket, key):
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def marked_dates(settings: Settings, s3_client: Any) -> list[date]:
    """The ingest dates that have a marker (one listing of `<summary prefix>/latest/`)."""
    bucket, prefix, days = settings.storage.curated_bucket, marker_prefix(settings.storage), []
    with _s3_call("listing", bucket, f"{prefix}*"):
        for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                day = entry["Key"].removeprefix(prefix).removesuffix(MARKER_SUFFIX)
                if _is_date(day):
                    days.append(date.fromisoformat(day))
    return sorted(days)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def forget_overlapping(settings: Settings, s3_client: Any, partitions: Collection[str]) -> list[date]:
    """Remove the markers of the other dates whose job wrote one of `partitions`; return those dates.

    A marker whose partitions cannot be read goes too: deleting a marker only ever costs a re-run.
    """
    rewritten, forgotten = set(partitions), []
    if not rewritten:
        return forgotten
    for day in marked_dates(settings, s3_client):
        if day == settings.run_date:
            continue
        marker = _read_json(s3_client, settings.storage.curated_bucket, marker_key(settings.storage, day))
        if marker is None:
            continue  # gone meanwhile
        summary = marker.get("summary")
        written = summary.get("partitions_written") if isinstance(summary, dict) else None
        if isinstance(written, list) and rewritten.isdisjoint(written):
            continue
        forget_marker(settings, s3_client, day)
        forgotten.append(day)
    if forgotten:
        LOG.info(
            "reuse markers of %s dropped: the job of %s rewrites their partitions",
            ", ".join(day.isoformat() for day in forgotten),
            settings.run_date,
        )
    return forgotten


def note_unknown_job(settings: Settings, s3_client: Any, run_id: str) -> None:
    """Leave the note that a job of unknown partitions is rewriting the curated zone."""
    bucket, key = settings.storage.raw_bucket, unknown_job_key(settings)
    body = {"ingest_date": settings.run_date.isoformat(), "run_id": run_id, "started_at": datetime.now(UTC).isoformat()}
    with _s3_call("writing", bucket, key):
        s3_client.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode(), ContentType="application/json")


def clear_unknown_job(settings: Settings, s3_client: Any) -> None:
    """Remove the note once the job's markers are settled."""
    bucket, key = settings.storage.raw_bucket, unknown_job_key(settings)
    with _s3_call("deleting", bucket, key):
        s3_client.delete_object(Bucket=bucket, Key=key)


def forget_all_after_a_dead_job(settings: Settings, s3_client: Any) -> None:
    """When a job of unknown partitions died half-way (its note is still there), drop every marker, then the note.

    Under the write locks the note cannot belong to a running job: that one would hold the global curated lock.
    """
    note = _read_json(s3_client, settings.storage.raw_bucket, unknown_job_key(settings))
    if note is None:
        return
    LOG.warning(
        "the job of %s (run %s), whose partitions were unknown, did not finish: it may have rewritten any partition, "
        "so no date's earlier output is reused",
        note.get("ingest_date"),
        note.get("run_id"),
    )
    for day in marked_dates(settings, s3_client):
        forget_marker(settings, s3_client, day)
    clear_unknown_job(settings, s3_client)


def transform_unless_unchanged(
    settings: Settings, run_id: str, launcher: TransformLauncher | None = None, s3_client: Any = None
) -> JobSummary:
    """Run the job, or return the date's last summary when its inputs are unchanged; `reused` tells which.

    Call it under the curated write locks (the flows do): the markers' rules above rely on them.
    """
    s3_client = s3_client or make_s3_client(settings.storage)
    forget_all_after_a_dead_job(settings, s3_client)
    fingerprint = inputs_fingerprint(settings, s3_client)
    previous = reusable_summary(settings, s3_client, fingerprint)
    if previous is not None:
        LOG.info("transform inputs unchanged since run %s: reusing its curated output", previous.run_id)
        record_partitions(settings, s3_client, previous)  # so a reprocess of the date knows what it writes
        return previous.model_copy(update={"reused": True})
    forget_marker(settings, s3_client, settings.run_date)
    planned = known_partitions(settings, s3_client, settings.run_date)
    if planned is None:
        note_unknown_job(settings, s3_client, run_id)
    else:
        forget_overlapping(settings, s3_client, planned)
    summary = (launcher or make_launcher(settings)).run(JobRequest.from_settings(settings, run_id))
    # Again for what it actually wrote beyond the plan (everything, when unknown). No marker over the planned
    # partitions can have appeared meanwhile: their other writers are locked out, and a reused date writes none.
    forget_overlapping(settings, s3_client, set(summary.partitions_written) - set(planned or ()))
    remember_marker(settings, s3_client, fingerprint, summary)
    if planned is None:
        clear_unknown_job(settings, s3_client)
    record_partitions(settings, s3_client, summary)
    return summary
