"""The partitions a date's job writes, recorded after a transform and known again while its inputs are unchanged."""

from __future__ import annotations

import json
from datetime import date

import pytest
from run_results import job_summary

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.land.raw_zone import manifest_key
from ecom_pipeline.settings import Settings, load_settings
from ecom_pipeline.transform.partitions import known_partitions, missing_resources, record_key, record_partitions

DAY = date(2026, 6, 17)
JOB = job_summary(run_id="20260617T000000Z-abc123", partitions_written=["2026-06-17", "2026-06-03"])


@pytest.fixture
def settings(s3_emulator: S3Emulator, s3_buckets: dict[str, str]) -> Settings:
    return load_settings(run_date=DAY).updated(
        storage={"raw_bucket": s3_buckets["raw"], "aws_endpoint_url": s3_emulator.endpoint_url}
    )


def land(s3_emulator: S3Emulator, settings: Settings, resource: str, content: str) -> None:
    """A committed manifest of `resource` on DAY whose content checksum is `content`."""
    body = json.dumps({"resource": resource, "content_sha256": content})
    key = manifest_key(settings.storage, resource, DAY)
    s3_emulator.client().put_object(Bucket=settings.storage.raw_bucket, Key=key, Body=body)


def test_without_raw_data_nothing_is_known_or_recorded(settings, s3_emulator) -> None:
    client = s3_emulator.client()
    land(s3_emulator, settings, "users", "u1")
    assert missing_resources(settings, client, DAY) == ["products", "carts"]
    record_partitions(settings, client, JOB)
    assert client.list_objects_v2(Bucket=settings.storage.raw_bucket, Prefix="dummyjson/_partitions/")["KeyCount"] == 0
    assert known_partitions(settings, client, DAY) is None


def test_recorded_partitions_are_known_until_the_date_is_landed_again(settings, s3_emulator) -> None:
    client = s3_emulator.client()
    for resource in ("users", "products", "carts"):
        land(s3_emulator, settings, resource, f"{resource}-1")
    assert missing_resources(settings, client, DAY) == []
    assert known_partitions(settings, client, DAY) is None  # no transform recorded yet

    record_partitions(settings, client, JOB)
    assert record_key(settings, DAY) == "dummyjson/_partitions/ingest_date=2026-06-17.json"
    assert known_partitions(settings, client, DAY) == ("2026-06-03", "2026-06-17")

    land(s3_emulator, settings, "carts", "carts-2")  # other carts: other dates, maybe
    assert known_partitions(settings, client, DAY) is None
    land(s3_emulator, settings, "carts", "carts-1")  # the same content again: the same partitions
    assert known_partitions(settings, client, DAY) == ("2026-06-03", "2026-06-17")


def test_an_unreadable_record_means_unknown(settings, s3_emulator) -> None:
    client = s3_emulator.client()
    for resource in ("users", "products", "carts"):
        land(s3_emulator, settings, resource, f"{resource}-1")
    client.put_object(Bucket=settings.storage.raw_bucket, Key=record_key(settings, DAY), Body=b"{half")
    assert known_partitions(settings, client, DAY) is None
