"""Spark test fixtures: the real snapshot's records, writers of the raw zone (raw_zone.py) into S3 or a local
folder, and the settings that point the job at this test's buckets."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from raw_zone import land_raw, land_raw_folder

from ecom_local.emulators.s3 import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY
from ecom_pipeline.settings import Settings


@pytest.fixture(scope="session")
def dummyjson_records(dummyjson_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The real snapshot's records per resource."""
    return {
        resource: json.loads((dummyjson_dir / f"{resource}.json").read_text())[resource]
        for resource in ("users", "products", "carts")
    }


@pytest.fixture
def land_raw_s3() -> Callable[..., None]:
    """Land records into `s3://bucket/prefix/` the way the raw-zone contract says."""

    def land(
        s3: Any,
        bucket: str,
        prefix: str,
        resource: str,
        ingest_date: date,
        records: Sequence[dict[str, Any]],
        **options: Any,
    ) -> None:
        def put(key: str, body: bytes) -> None:
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)

        land_raw(put, resource, ingest_date, records, **options)

    return land


@pytest.fixture
def land_raw_local(tmp_path: Path) -> Callable[..., str]:
    """Land records into a local raw root; returns that root's file:// URI."""

    def land(resource: str, ingest_date: date, records: Sequence[dict[str, Any]], **options: Any) -> str:
        return land_raw_folder(tmp_path / "raw", resource, ingest_date, records, **options)

    return land


@pytest.fixture
def job_settings(
    s3_emulator: Any, s3_buckets: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Settings:
    """Settings pointing the job, run by spark-submit, at this test's buckets on the moto server."""
    # Test-only JVM flags for short runs (about 1 s less per spark-submit here); production keeps the defaults.
    monkeypatch.setenv("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -Xshare:auto")
    return Settings().updated(
        top={"work_dir": tmp_path / "work"},  # where the launcher stages the job's files
        storage={
            "raw_bucket": s3_buckets["raw"],
            "curated_bucket": s3_buckets["curated"],
            "aws_endpoint_url": s3_emulator.endpoint_url,
            "aws_access_key_id": SecretStr(EMULATOR_ACCESS_KEY),
            "aws_secret_access_key": SecretStr(EMULATOR_SECRET_KEY),
        },
        spark={"master": "local[2]", "shuffle_partitions": 2, "timeout_seconds": 300},
    )
