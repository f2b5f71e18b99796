"""The raw zone's layout and its readers: where a resource's day lives, its manifest, the committed records.

The layout and manifest are the contract in docs/architecture.md ("Raw zone"). `_manifest.json` is the commit
point and the only entry readers use: every reader here starts from it, so a half-written run is never read.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from ecom_pipeline.aws import missing_key
from ecom_pipeline.exceptions import LandingError
from ecom_pipeline.settings import StorageSettings

MANIFEST_NAME = "_manifest.json"


def date_folder(storage: StorageSettings, resource: str, ingest_date: date) -> str:
    """Key prefix of one resource and day, e.g. `dummyjson/carts/ingest_date=2026-06-17` (no slash)."""
    return storage.raw_key(resource, f"ingest_date={ingest_date:%Y-%m-%d}")


def manifest_key(storage: StorageSettings, resource: str, ingest_date: date) -> str:
    """Key of the manifest that names the committed run of one resource and day."""
    return f"{date_folder(storage, resource, ingest_date)}/{MANIFEST_NAME}"


def read_manifest(s3_client: Any, storage: StorageSettings, resource: str, ingest_date: date) -> dict[str, Any] | None:
    """The committed manifest of `resource` on `ingest_date`, or None when nothing was landed."""
    key = manifest_key(storage, resource, ingest_date)
    try:
        answer = s3_client.get_object(Bucket=storage.raw_bucket, Key=key)
    except ClientError as error:
        if missing_key(error, storage.raw_bucket, key):  # 404, or a 403 S3 may answer for it (aws.py)
            return None
        raise LandingError(f"reading s3://{storage.raw_bucket}/{key} failed: {error}") from error
    return json.loads(answer["Body"].read())


def read_landed_records(
    s3_client: Any, storage: StorageSettings, resource: str, ingest_date: date
) -> Iterator[dict[str, Any]]:
    """Yield the committed records of `resource` on `ingest_date`, part by part, checking each sha256."""
    yield from _read_entries(s3_client, storage, resource, ingest_date, "parts")


def read_quarantined_records(
    s3_client: Any, storage: StorageSettings, resource: str, ingest_date: date
) -> Iterator[dict[str, Any]]:
    """Yield the committed quarantine lines (`{"reason", "page", "record"}`) of `resource` on a day."""
    yield from _read_entries(s3_client, storage, resource, ingest_date, "quarantine_parts")


def _read_entries(
    s3_client: Any, storage: StorageSettings, resource: str, ingest_date: date, listing: str
) -> Iterator[dict[str, Any]]:
    manifest = read_manifest(s3_client, storage, resource, ingest_date)
    if manifest is None:
        key = manifest_key(storage, resource, ingest_date)
        raise LandingError(f"nothing landed for {resource} on {ingest_date}: no s3://{storage.raw_bucket}/{key}")
    folder = date_folder(storage, resource, ingest_date)
    for entry in manifest[listing]:
        key = f"{folder}/{entry['file']}"
        body = s3_client.get_object(Bucket=storage.raw_bucket, Key=key)["Body"].read()
        if hashlib.sha256(body).hexdigest() != entry["sha256"]:
            raise LandingError(f"s3://{storage.raw_bucket}/{key} does not match the sha256 in its manifest")
        for line in gzip.decompress(body).splitlines():
            yield json.loads(line)
