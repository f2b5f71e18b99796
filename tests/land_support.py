"""What the landing tests share: an in-memory source they edit between runs, landing through the real client."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from ecom_local.api import UnknownResourceError
from ecom_pipeline.exceptions import LandingError
from ecom_pipeline.extract.client import DummyJsonClient
from ecom_pipeline.extract.drift import FieldProfile
from ecom_pipeline.land.landing import LandingResult, land_pages
from ecom_pipeline.land.raw_zone import date_folder, manifest_key, read_manifest
from ecom_pipeline.settings import ApiSettings, StorageSettings

DAY = date(2026, 6, 17)


class ListSource:
    """A `DataSource` over lists held in memory: a test edits `records` between runs to change the source."""

    def __init__(self, **records: list[Any]) -> None:
        self.records = records

    def total(self, resource: str) -> int:
        """Number of items of `resource`."""
        return len(self._of(resource))

    def items(self, resource: str, skip: int, count: int) -> list[Any]:
        """Copies of items [skip, skip+count)."""
        return copy.deepcopy(self._of(resource)[skip : skip + count])

    def _of(self, resource: str) -> list[Any]:
        if resource not in self.records:
            raise UnknownResourceError(resource, tuple(self.records))
        return self.records[resource]


class FlipsTotal(ListSource):
    """A source whose `total` grows by one once an item at `flip_at` or later has been served."""

    def __init__(self, flip_at: int, **records: list[Any]) -> None:
        super().__init__(**records)
        self.flip_at, self.flipped = flip_at, False

    def total(self, resource: str) -> int:
        return super().total(resource) + self.flipped

    def items(self, resource: str, skip: int, count: int) -> list[Any]:
        self.flipped = self.flipped or skip >= self.flip_at
        return super().items(resource, skip, count)


def cart(number: int, quantity: int = 1) -> dict[str, Any]:
    """A small cart, valid unless `quantity` < 1, with a field the allow-list drops."""
    line = {"id": 5, "title": "Lamp", "price": 20.5, "quantity": quantity}
    return {"id": number, "userId": 1, "products": [line], "password": "p"}


def api_settings(url: str, page_size: int, **overrides: Any) -> ApiSettings:
    """Client settings for loopback tests: a high rate limit, few fast retries."""
    return ApiSettings(base_url=url, page_size=page_size, rate_limit_per_second=2000.0, max_attempts=2, **overrides)


def land(s3: Any, storage: StorageSettings, api: ApiSettings, resource: str, run_id: str) -> LandingResult:
    """Fetch `resource` through the real client and land it as run `run_id` of `DAY`."""
    with DummyJsonClient(api) as client:
        return land_pages(client.page_stream(resource), s3_client=s3, storage=storage, ingest_date=DAY, run_id=run_id)


def all_objects(s3: Any, bucket: str) -> dict[str, bytes]:
    """Every object of `bucket`, by key."""
    listing = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [obj["Key"] for page in listing for obj in page.get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


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


def profile_of(resource: str, items: list[Any]) -> dict[str, Any]:
    """The profile of `items` as a landed chunk's entry holds it."""
    profile = FieldProfile(resource)
    profile.observe(items)
    return profile.as_json()
