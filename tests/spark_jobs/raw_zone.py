"""The raw zone exactly as docs/architecture.md describes it, for the job's tests: gzipped NDJSON parts in
`run_id=` folders plus `_manifest.json`, written last."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

# (relative key, bytes) -> stores it under the raw root; a local folder or an S3 bucket.
PutObject = Callable[[str, bytes], None]


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


def land_raw_folder(
    root: Path, resource: str, ingest_date: date, records: Sequence[dict[str, Any]], **options: Any
) -> str:
    """Land `records` under the local raw root `root`; return the root's file:// URI (the job's --raw_path)."""

    def put(key: str, body: bytes) -> None:
        target = root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)

    land_raw(put, resource, ingest_date, records, **options)
    return root.as_uri()
