"""The previous run's figures come from what runs leave in S3: the newest job summary and its date's manifests."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from run_results import job_summary

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import LandingError
from ecom_pipeline.land.raw_zone import manifest_key
from ecom_pipeline.previous_run import latest_job_run_id, read_previous_run
from ecom_pipeline.quality import PreviousRun
from ecom_pipeline.settings import StorageSettings


@pytest.fixture
def storage(s3_emulator: S3Emulator, s3_buckets: dict[str, str]) -> StorageSettings:
    return StorageSettings(
        raw_bucket=s3_buckets["raw"], curated_bucket=s3_buckets["curated"], aws_endpoint_url=s3_emulator.endpoint_url
    )


def put_json(s3: Any, bucket: str, key: str, value: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(value).encode())


def test_no_job_summary_means_no_previous_run(storage: StorageSettings) -> None:
    s3 = make_s3_client(storage)
    put_json(s3, storage.curated_bucket, "job-summaries/latest.json", {"fingerprint": "x", "summary": {}})
    assert read_previous_run(s3, storage) is None


def test_the_newest_summary_and_the_manifests_of_its_date_give_the_figures(storage: StorageSettings) -> None:
    s3 = make_s3_client(storage)
    for run_id, day, rows in (
        ("20260615T030000Z-aaaaaa", "2026-06-15", 700),
        ("20260617T030000Z-cccccc", "2026-06-16", 800),  # the newest run landed the 16th (a backfill)
        ("20260616T030000Z-bbbbbb", "2026-06-16", 750),
    ):
        summary = job_summary(run_id=run_id, ingest_date=day, rows_written=rows)
        put_json(s3, storage.curated_bucket, f"job-summaries/run_id={run_id}.json", summary.model_dump(mode="json"))
    put_json(s3, storage.curated_bucket, "job-summaries/latest.json", {"fingerprint": "x", "summary": {}})
    for resource, count in (("users", 207), ("carts", 210)):  # no products manifest for that day
        put_json(s3, storage.raw_bucket, manifest_key(storage, resource, date(2026, 6, 16)), {"record_count": count})
    put_json(s3, storage.raw_bucket, manifest_key(storage, "users", date(2026, 6, 15)), {"record_count": 1})

    assert latest_job_run_id(s3, storage) == "20260617T030000Z-cccccc"
    assert read_previous_run(s3, storage) == PreviousRun(
        run_id="20260617T030000Z-cccccc",
        ingest_date=date(2026, 6, 16),
        records={"users": 207, "carts": 210},
        orders_rows=800,
    )


def test_an_unreadable_summary_fails_naming_it(storage: StorageSettings) -> None:
    s3 = make_s3_client(storage)
    key = "job-summaries/run_id=20260617T030000Z-cccccc.json"
    s3.put_object(Bucket=storage.curated_bucket, Key=key, Body=b"{not json")
    with pytest.raises(LandingError, match="previous run's job summary 20260617T030000Z-cccccc"):
        read_previous_run(s3, storage)
    missing_bucket = storage.model_copy(update={"curated_bucket": "no-such-bucket-previous-run"})
    with pytest.raises(LandingError, match="listing the job summaries s3://no-such-bucket-previous-run/"):
        read_previous_run(s3, missing_bucket)
