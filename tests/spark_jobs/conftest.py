"""Spark test fixtures: a writer of the raw zone exactly as
docs/architecture.md describes it (gzipped NDJSON parts in `run_id=` plus `_manifest.json`, written last)."""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ecom_pipeline.runtime.s3 import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY
from ecom_pipeline.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "spark_jobs"))  # the job is a standalone script, imported as `orders_job`

# (relative key, bytes) -> stores it under the raw root; a local folder or an S3 bucket.
PutObject = Callable[[str, bytes], None]
LandRaw = Callable[..., dict[str, Any]]


def land_raw(
    put: PutObject,
    resource: str,
    ingest_date: date,
    records: Sequence[dict[str, Any]],
    *,
    run_id: str = "20260617T101500Z-test01",
    records_per_part: int = 50_000,
) -> dict[str, Any]:
    """Write `records` as the raw zone's gzipped NDJSON parts and the manifest; return the manifest."""
    folder = f"{resource}/ingest_date={ingest_date.isoformat()}"
    parts = []
    for index, start in enumerate(range(0, max(len(records), 1), records_per_part)):
        chunk = records[start : start + records_per_part]
        body = gzip.compress("".join(json.dumps(record) + "\n" for record in chunk).encode(), mtime=0)
        relative = f"run_id={run_id}/part-{index:05d}.jsonl.gz"
        put(f"{folder}/{relative}", body)
        parts.append(
            {
                "file": relative,
                "records": len(chunk),
                "bytes": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
            }
        )
    now = datetime.now(UTC).isoformat()
    manifest = {
        "resource": resource,
        "ingest_date": ingest_date.isoformat(),
        "run_id": run_id,
        "source_url": f"http://127.0.0.1:8000/{resource}",
        "started_at": now,
        "finished_at": now,
        "record_count": len(records),
        "quarantine_count": 0,
        "bytes": sum(part["bytes"] for part in parts),
        "content_sha256": hashlib.sha256("".join(part["sha256"] for part in parts).encode()).hexdigest(),
        "parts": parts,
        "quarantine_parts": [],
    }
    put(f"{folder}/_manifest.json", json.dumps(manifest, indent=2).encode())  # written last, as land does
    return manifest


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
    root = tmp_path / "raw"

    def put(key: str, body: bytes) -> None:
        target = root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)

    def land(resource: str, ingest_date: date, records: Sequence[dict[str, Any]], **options: Any) -> str:
        land_raw(put, resource, ingest_date, records, **options)
        return root.as_uri()

    return land


@pytest.fixture
def job_settings(s3_emulator: Any, s3_buckets: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing the job, run by spark-submit, at this test's buckets on the moto server."""
    # Test-only JVM flags for short runs (about 1 s less per spark-submit here); production keeps the defaults.
    monkeypatch.setenv("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -Xshare:auto")
    return Settings().updated(
        storage={
            "raw_bucket": s3_buckets["raw"],
            "curated_bucket": s3_buckets["curated"],
            "aws_endpoint_url": s3_emulator.endpoint_url,
            "aws_access_key_id": SecretStr(EMULATOR_ACCESS_KEY),
            "aws_secret_access_key": SecretStr(EMULATOR_SECRET_KEY),
        },
        spark={"master": "local[2]", "shuffle_partitions": 2, "timeout_seconds": 300},
    )
