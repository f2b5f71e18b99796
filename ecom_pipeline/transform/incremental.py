"""Skip the Spark job when its inputs have not changed since the last successful run.

The inputs are the raw manifests' content checksums for the ingest date, the business parameters and the
job script itself. `job-summaries/latest.json` records the fingerprint of the last successful transform; it
is removed before a job starts, so a job killed half-way never leaves a marker that a re-run could trust.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.land import read_manifest
from ecom_pipeline.settings import RESOURCES, Settings
from ecom_pipeline.transform.job_contract import JOB_SCRIPT, JobRequest, TransformLauncher
from ecom_pipeline.transform.launchers import make_launcher

LOG = logging.getLogger(__name__)

LATEST_KEY = "job-summaries/latest.json"


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
        "job_script": hashlib.sha256(JOB_SCRIPT.read_bytes()).hexdigest(),
        "raw": checksums,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def reusable_summary(settings: Settings, s3_client: Any, fingerprint: str | None) -> dict[str, Any] | None:
    """The last successful job's summary when it was computed from exactly these inputs, else None."""
    if fingerprint is None:
        return None
    try:
        body = s3_client.get_object(Bucket=settings.storage.curated_bucket, Key=LATEST_KEY)["Body"].read()
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise
    latest = json.loads(body)
    return latest["summary"] if latest.get("fingerprint") == fingerprint else None


def forget_latest(settings: Settings, s3_client: Any) -> None:
    """Remove the marker before the curated zone is rewritten."""
    s3_client.delete_object(Bucket=settings.storage.curated_bucket, Key=LATEST_KEY)


def remember_latest(settings: Settings, s3_client: Any, fingerprint: str | None, summary: dict[str, Any]) -> None:
    """Record a successful job's inputs and summary."""
    if fingerprint is None:
        return
    body = json.dumps({"fingerprint": fingerprint, "summary": summary}, sort_keys=True).encode()
    s3_client.put_object(Bucket=settings.storage.curated_bucket, Key=LATEST_KEY, Body=body)


def transform_unless_unchanged(
    settings: Settings, run_id: str, launcher: TransformLauncher | None = None, s3_client: Any = None
) -> dict[str, Any]:
    """Run the job, or return the last summary when the inputs are unchanged; `reused` tells which."""
    s3_client = s3_client or make_s3_client(settings.storage)
    fingerprint = inputs_fingerprint(settings, s3_client)
    previous = reusable_summary(settings, s3_client, fingerprint)
    if previous is not None:
        LOG.info("transform inputs unchanged since run %s: reusing its curated output", previous.get("run_id"))
        return {**previous, "reused": True}
    forget_latest(settings, s3_client)
    summary = (launcher or make_launcher(settings)).run(JobRequest.from_settings(settings, run_id))
    remember_latest(settings, s3_client, fingerprint, summary)
    return {**summary, "reused": False}
