"""Land stage: stream extracted records into the S3 raw zone as gzipped NDJSON parts plus a manifest.

Layout and manifest are the contract in docs/architecture.md ("Raw zone"). Parts are uploaded as soon as
they are full, so a resource never sits in memory whole. `_manifest.json` is written last: it is the commit
point and the only entry readers use, so a half-written run is invisible and a re-run swaps atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ecom_pipeline.aws import make_s3_client  # noqa: F401 - re-exported for callers of land
from ecom_pipeline.exceptions import LandingError
from ecom_pipeline.extract.client import ExtractedRecord
from ecom_pipeline.settings import StorageSettings

logger = logging.getLogger("ecom_pipeline.land")

MANIFEST_NAME = "_manifest.json"
_GZIP_LEVEL = 6  # level 9 costs ~3x the CPU for a few percent less on NDJSON


@dataclass
class LandingResult:
    """What one `land_resource` call committed; `as_dict()` is JSON-ready for flow summaries."""

    resource: str
    ingest_date: date
    run_id: str
    records: int
    quarantined: int
    quarantine_reasons: dict[str, int]
    bytes: int
    parts: list[str]
    manifest_key: str
    content_sha256: str
    seconds: float
    quarantine_parts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only (the date as ISO text)."""
        return {**asdict(self), "ingest_date": self.ingest_date.isoformat()}


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id such as `20260617T101500Z-ab12cd` (naive datetimes are taken as UTC)."""
    now = now or datetime.now(UTC)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def date_folder(storage: StorageSettings, resource: str, ingest_date: date) -> str:
    """Key prefix of one resource and day, e.g. `dummyjson/carts/ingest_date=2026-06-17` (no slash)."""
    return "/".join(p for p in (storage.raw_prefix.strip("/"), resource, f"ingest_date={ingest_date:%Y-%m-%d}") if p)


def manifest_key(storage: StorageSettings, resource: str, ingest_date: date) -> str:
    """Key of the manifest that names the committed run of one resource and day."""
    return f"{date_folder(storage, resource, ingest_date)}/{MANIFEST_NAME}"


def json_line(value: Any) -> bytes:
    """Compact UTF-8 JSON plus newline; Decimals are written as exact JSON numbers, NaN is refused."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except TypeError:  # a Decimal (or something unserialisable) somewhere: take the exact, slower path
        text = _exact_json(value)
    except ValueError as error:
        raise LandingError(f"record holds a non-finite number, not valid JSON: {error}") from error
    return text.encode("utf-8") + b"\n"


def _exact_json(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise LandingError(f"record holds a non-finite Decimal {value}, not valid JSON")
        return str(value)  # Decimal's text is a valid JSON number with exactly its digits (e.g. 12.50, 1E+2)
    if isinstance(value, dict):
        items = (f"{_exact_json(str(key))}:{_exact_json(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_exact_json(item) for item in value) + "]"
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise LandingError(f"cannot write {type(value).__name__} value {value!r} as JSON") from error


class _PartWriter:
    """Gzips lines into numbered parts (`<stem>-00000.jsonl.gz`) and uploads each as soon as it is full."""

    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        folder: str,
        run_dir: str,
        stem: str,
        max_records: int,
        *,
        with_reasons: bool = False,
    ) -> None:
        self._with_reasons = with_reasons
        self._s3, self._bucket, self._folder, self._run_dir = s3_client, bucket, folder, run_dir
        self._stem, self._max_records = stem, max_records
        self.entries: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self._buffer: io.BytesIO | None = None
        self._gzip: gzip.GzipFile | None = None
        self._count = 0
        self._reasons: Counter[str] = Counter()

    def _open(self) -> None:
        self._buffer = io.BytesIO()
        # mtime=0 and no file name: equal content gives equal bytes and checksums, whatever the run.
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._buffer, compresslevel=_GZIP_LEVEL, mtime=0)

    def add(self, line: bytes, reason: str | None = None) -> None:
        """Append one line; upload the part when it reaches `max_records`."""
        if self._gzip is None:
            self._open()
        assert self._gzip is not None
        self._gzip.write(line)
        self._count += 1
        if reason is not None:
            self._reasons[reason] += 1
        if self._count >= self._max_records:
            self.flush()

    def flush(self, *, allow_empty: bool = False) -> None:
        """Upload the open part (or an empty one when `allow_empty` and nothing was written yet)."""
        if self._gzip is None:
            if not (allow_empty and not self.entries):
                return
            self._open()
        assert self._gzip is not None and self._buffer is not None
        self._gzip.close()
        body = self._buffer.getvalue()
        relative = f"{self._run_dir}/{self._stem}-{len(self.entries):05d}.jsonl.gz"
        key = f"{self._folder}/{relative}"
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/gzip")
        entry: dict[str, Any] = {
            "file": relative,
            "records": self._count,
            "bytes": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        if self._with_reasons:
            entry["reasons"] = dict(self._reasons)
        self.entries.append(entry)
        self.keys.append(key)
        logger.debug("uploaded s3://%s/%s: %d records, %d bytes", self._bucket, key, self._count, len(body))
        self._buffer, self._gzip, self._count, self._reasons = None, None, 0, Counter()


def land_resource(
    records: Iterable[ExtractedRecord],
    *,
    s3_client: Any,
    storage: StorageSettings,
    resource: str,
    ingest_date: date,
    run_id: str,
    source_url: str,
) -> LandingResult:
    """Write `records` as run `run_id` of `resource` on `ingest_date`, commit its manifest, drop older runs.

    Raises:
        LandingError: S3 refused a write (the partial run folder is removed; the old manifest stays valid).
    """
    started_at, started = datetime.now(UTC), time.monotonic()
    bucket, folder, run_dir = (
        storage.raw_bucket,
        date_folder(storage, resource, ingest_date),
        f"run_id={run_id}",
    )
    parts = _PartWriter(s3_client, bucket, folder, run_dir, "part", storage.part_max_records)
    quarantine = _PartWriter(
        s3_client, bucket, folder, run_dir, "quarantine", storage.part_max_records, with_reasons=True
    )
    reasons: Counter[str] = Counter()
    try:
        for item in records:
            if item.reason is None:
                parts.add(json_line(item.record))
            else:
                reasons[item.reason] += 1
                quarantine.add(
                    json_line({"reason": item.reason, "page": item.page, "record": item.record}), item.reason
                )
        # Always at least one record part, so readers (Spark) never face a run without files.
        parts.flush(allow_empty=True)
        quarantine.flush()
        content_sha256 = hashlib.sha256("".join(e["sha256"] for e in parts.entries).encode("ascii")).hexdigest()
        manifest = {
            "resource": resource,
            "ingest_date": ingest_date.isoformat(),
            "run_id": run_id,
            "source_url": source_url,
            "started_at": started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "record_count": sum(e["records"] for e in parts.entries),
            "quarantine_count": sum(e["records"] for e in quarantine.entries),
            "bytes": sum(e["bytes"] for e in parts.entries),
            "content_sha256": content_sha256,
            "parts": parts.entries,
            "quarantine_parts": quarantine.entries,
        }
        key = manifest_key(storage, resource, ingest_date)
        body = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    except BaseException as error:
        _delete_prefix(s3_client, bucket, f"{folder}/{run_dir}/", keep=None)
        if isinstance(error, BotoCoreError | ClientError):
            raise LandingError(f"landing {resource} run {run_id} in s3://{bucket}/{folder} failed: {error}") from error
        raise
    # Committed. Older runs are now unreachable through the manifest; removing them is housekeeping only.
    _delete_prefix(s3_client, bucket, f"{folder}/run_id=", keep=f"{folder}/{run_dir}/")
    result = LandingResult(
        resource=resource,
        ingest_date=ingest_date,
        run_id=run_id,
        records=manifest["record_count"],
        quarantined=manifest["quarantine_count"],
        quarantine_reasons=dict(reasons),
        bytes=manifest["bytes"],
        parts=parts.keys,
        manifest_key=key,
        content_sha256=content_sha256,
        seconds=round(time.monotonic() - started, 3),
        quarantine_parts=quarantine.keys,
    )
    logger.info(
        "landed %s %s run %s: %d records, %d quarantined, %d parts, %d bytes in %.2fs",
        resource, ingest_date, run_id, result.records, result.quarantined, len(result.parts), result.bytes,
        result.seconds,
    )  # fmt: skip
    return result


def _delete_prefix(s3_client: Any, bucket: str, prefix: str, keep: str | None) -> None:
    """Delete every object under `prefix` except those under `keep`; failures are logged, not raised."""
    try:
        doomed = [
            {"Key": obj["Key"]}
            for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
            if keep is None or not obj["Key"].startswith(keep)
        ]
        for start in range(0, len(doomed), 1000):  # DeleteObjects takes at most 1000 keys
            answer = s3_client.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000]})
            for problem in answer.get("Errors", []):
                logger.warning("could not delete s3://%s/%s: %s", bucket, problem.get("Key"), problem.get("Message"))
    except (BotoCoreError, ClientError) as error:
        logger.warning("could not clean up s3://%s/%s: %s", bucket, prefix, error)


def read_manifest(s3_client: Any, storage: StorageSettings, resource: str, ingest_date: date) -> dict[str, Any] | None:
    """The committed manifest of `resource` on `ingest_date`, or None when nothing was landed."""
    key = manifest_key(storage, resource, ingest_date)
    try:
        answer = s3_client.get_object(Bucket=storage.raw_bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
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
