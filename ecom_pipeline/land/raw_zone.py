"""The raw zone's layout: where a resource's day lives, and its manifest.

The layout and manifest are the contract in docs/architecture.md ("Raw zone"). `_manifest.json` is the commit
point and the only entry readers use, so a half-written run is never read.
"""

from __future__ import annotations

import json
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
