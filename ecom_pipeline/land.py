"""Land stage: stream extracted pages into the S3 raw zone as gzipped NDJSON parts plus a manifest.

Layout and manifest are the contract in docs/architecture.md ("Raw zone"). Source pages are landed in fixed
chunks of `pages_per_part` pages, one part per chunk, uploaded as soon as the chunk ends, so a resource never
sits in memory whole. A chunk whose source bytes equal those the committed run landed it from is not parsed
again: the new manifest lists the old parts. `_manifest.json` is written last: it is the commit point and the
only entry readers use, so a half-written run is invisible and a re-run swaps atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import secrets
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ecom_pipeline.aws import make_s3_client  # noqa: F401 - re-exported for callers of land
from ecom_pipeline.exceptions import LandingError
from ecom_pipeline.extract.pages import Page, PageStream, page_records
from ecom_pipeline.settings import StorageSettings

logger = logging.getLogger("ecom_pipeline.land")

MANIFEST_NAME = "_manifest.json"
_GZIP_LEVEL = 6  # level 9 costs ~3x the CPU for a few percent less on NDJSON


@dataclass
class LandingResult:
    """What one `land_pages` call committed; `as_dict()` is JSON-ready for flow summaries."""

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
    reused_parts: int = 0  # record parts of unchanged chunks, listed where an earlier run wrote them
    reused_records: int = 0

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


def pages_per_part(storage: StorageSettings, page_size: int) -> int:
    """Source pages landed together as one part: `part_max_records` worth of full pages (size 0: the one page)."""
    return max(1, storage.part_max_records // page_size) if page_size else 1


def _source_sha256(page_digests: Iterable[str]) -> str:
    """A chunk's source digest: sha256 over its pages' body sha256s (hex, in page order)."""
    return hashlib.sha256("".join(page_digests).encode("ascii")).hexdigest()


class _Part:
    """One part gzipped in memory: NDJSON lines in, bytes out. Equal lines give equal bytes, whatever the run."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        # mtime=0 and no file name: equal content gives equal bytes and checksums, whatever the run.
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._buffer, compresslevel=_GZIP_LEVEL, mtime=0)
        self.records = 0
        self.reasons: Counter[str] = Counter()

    def add(self, line: bytes, reason: str | None = None) -> None:
        """Append one line (and count the reason of a quarantined record)."""
        self._gzip.write(line)
        self.records += 1
        if reason is not None:
            self.reasons[reason] += 1

    def close(self) -> bytes:
        """Finish the gzip stream and return the part's bytes."""
        self._gzip.close()
        return self._buffer.getvalue()


class _IdOrder:
    """First and last id of a chunk's records, and whether every id was larger than the one before.

    Strictly increasing ids, chunk after chunk, prove that no record is landed twice: the Spark job then skips
    its duplicate scan (`ids_strictly_increasing` in docs/architecture.md). O(1) memory, one comparison a record.
    """

    def __init__(self) -> None:
        self.first: int | None = None
        self.last: int | None = None
        self.increasing = True

    def add(self, record_id: int) -> None:
        """Note the id of the next record landed."""
        if self.last is not None and record_id <= self.last:
            self.increasing = False
        if self.first is None:
            self.first = record_id
        self.last = record_id

    def as_dict(self) -> dict[str, Any]:
        """The chunk entry's fields."""
        return {"first_id": self.first, "last_id": self.last, "ids_increasing": self.increasing}


def ids_strictly_increasing(chunks: list[dict[str, Any]]) -> bool:
    """True when the records' ids increase strictly in landing order over all chunks (so none repeats).

    False when a chunk lacks the fields (landed before they existed) or any id is not above the one before.
    """
    previous_last: int | None = None
    for chunk in chunks:
        if not chunk.get("ids_increasing", False) or "first_id" not in chunk:
            return False
        if chunk["first_id"] is None:
            continue  # no valid record in this chunk
        if previous_last is not None and chunk["first_id"] <= previous_last:
            return False
        previous_last = chunk["last_id"]
    return True


@dataclass(frozen=True)
class _LandedChunk:
    """A chunk of the committed run: its `chunks` entry and the entries of the parts landed from it."""

    info: dict[str, Any]
    parts: list[dict[str, Any]] = field(default_factory=list)
    quarantine_parts: list[dict[str, Any]] = field(default_factory=list)


class _RunWriter:
    """The manifest lists of one run, built chunk by chunk in order: each chunk is landed from its pages or reused."""

    def __init__(self, s3_client: Any, bucket: str, folder: str, run_dir: str) -> None:
        self._s3, self._bucket, self._folder, self._run_dir = s3_client, bucket, folder, run_dir
        self.chunks: list[dict[str, Any]] = []
        self.parts: list[dict[str, Any]] = []
        self.quarantine_parts: list[dict[str, Any]] = []
        self.reused_parts = self.reused_records = 0

    def reuse(self, landed: _LandedChunk) -> None:
        """List a chunk of the committed run as it is: its parts stay in that run's folder."""
        self.chunks.append(landed.info)
        self.parts += landed.parts
        self.quarantine_parts += landed.quarantine_parts
        self.reused_parts += len(landed.parts)
        self.reused_records += sum(entry["records"] for entry in landed.parts)

    def land(self, index: int, pages: Iterable[Page], stream: PageStream) -> None:
        """Parse and check a chunk's pages, sanitize and validate their items, upload its part(s)."""
        part, quarantine = _Part(), _Part()
        numbers: list[int] = []
        digests: list[str] = []
        items = 0
        ids = _IdOrder()
        for page in pages:
            stream.count(page)
            numbers.append(page.number)
            digests.append(page.sha256)
            items += len(page.items)
            for item in page_records(page):
                if item.reason is None:
                    part.add(json_line(item.record))
                    ids.add(item.record["id"])  # type: ignore[index]  # a valid record has an id
                else:
                    quarantined = {"reason": item.reason, "page": item.page, "record": item.record}
                    quarantine.add(json_line(quarantined), item.reason)
        self.chunks.append(
            {
                "chunk": index,
                "pages": [numbers[0], numbers[-1]],
                "source_items": items,
                "source_sha256": _source_sha256(digests),
                **ids.as_dict(),
            }
        )
        # Chunk 0 always has a record part, so readers (Spark) never face a run without files; it depends on the
        # chunk's own source only, so equal sources still give equal parts and checksums.
        if part.records or index == 0:
            self.parts.append(self._upload(part, "part", index))
        if quarantine.records:
            self.quarantine_parts.append(
                {**self._upload(quarantine, "quarantine", index), "reasons": dict(quarantine.reasons)}
            )

    def _upload(self, part: _Part, stem: str, index: int) -> dict[str, Any]:
        body = part.close()
        relative = f"{self._run_dir}/{stem}-{index:05d}.jsonl.gz"
        key = f"{self._folder}/{relative}"
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/gzip")
        logger.debug("uploaded s3://%s/%s: %d records, %d bytes", self._bucket, key, part.records, len(body))
        sha256 = hashlib.sha256(body).hexdigest()
        return {"file": relative, "chunk": index, "records": part.records, "bytes": len(body), "sha256": sha256}


def land_pages(
    pages: PageStream, *, s3_client: Any, storage: StorageSettings, ingest_date: date, run_id: str
) -> LandingResult:
    """Land every page of `pages` as run `run_id` on `ingest_date`, commit its manifest, drop what it no longer lists.

    Chunks whose source bytes are those the committed run landed are reused, not parsed: their pages are held
    as raw bytes until the chunk ends (one chunk at a time), and parsed only if the chunk changed.

    Raises:
        SourceError: the source answered something unusable (nothing is committed).
        LandingError: S3 refused a read or write (the partial run folder is removed; the old manifest stays valid).
    """
    started_at, started = datetime.now(UTC), time.monotonic()
    resource, bucket = pages.resource, storage.raw_bucket
    folder, run_dir = date_folder(storage, resource, ingest_date), f"run_id={run_id}"
    per_part = pages_per_part(storage, pages.page_size)
    run = _RunWriter(s3_client, bucket, folder, run_dir)
    previous: dict[str, Any] | None = None
    try:
        previous = read_manifest(s3_client, storage, resource, ingest_date)
        landed = _landed_chunks(previous, pages.page_size, per_part, pages.total)
        for index, chunk_pages in groupby(pages, key=lambda page: (page.number - 1) // per_part):
            if index in landed:
                changed = _unless_unchanged(landed[index], chunk_pages, pages)
                if changed is None:
                    run.reuse(landed[index])
                    continue
                chunk_pages = changed
            run.land(index, chunk_pages, pages)
        pages.finish()
        content_sha256 = _source_sha256(entry["sha256"] for entry in run.parts)
        manifest = {
            "resource": resource,
            "ingest_date": ingest_date.isoformat(),
            "run_id": run_id,
            "source_url": pages.url,
            "started_at": started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "record_count": sum(e["records"] for e in run.parts),
            "quarantine_count": sum(e["records"] for e in run.quarantine_parts),
            "bytes": sum(e["bytes"] for e in run.parts),
            "content_sha256": content_sha256,
            "page_size": pages.page_size,
            "pages_per_part": per_part,
            "source_total": pages.total,
            "ids_strictly_increasing": ids_strictly_increasing(run.chunks),
            "chunks": run.chunks,
            "parts": run.parts,
            "quarantine_parts": run.quarantine_parts,
        }
        key = manifest_key(storage, resource, ingest_date)
        body = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    except BaseException as error:
        _delete_unlisted(s3_client, bucket, f"{folder}/{run_dir}/", keep=_listed_keys(folder, previous))
        if isinstance(error, BotoCoreError | ClientError):
            raise LandingError(f"landing {resource} run {run_id} in s3://{bucket}/{folder} failed: {error}") from error
        raise
    # Committed. What the manifest no longer lists is unreachable; removing it is housekeeping only.
    _delete_unlisted(s3_client, bucket, f"{folder}/run_id=", keep=_listed_keys(folder, manifest))
    reasons: Counter[str] = Counter()
    for entry in run.quarantine_parts:
        reasons.update(entry["reasons"])
    result = LandingResult(
        resource=resource,
        ingest_date=ingest_date,
        run_id=run_id,
        records=manifest["record_count"],
        quarantined=manifest["quarantine_count"],
        quarantine_reasons=dict(reasons),
        bytes=manifest["bytes"],
        parts=[f"{folder}/{entry['file']}" for entry in run.parts],
        manifest_key=key,
        content_sha256=content_sha256,
        seconds=round(time.monotonic() - started, 3),
        quarantine_parts=[f"{folder}/{entry['file']}" for entry in run.quarantine_parts],
        reused_parts=run.reused_parts,
        reused_records=run.reused_records,
    )
    if previous is not None and result.reused_parts:
        logger.info(
            "%s: %d/%d parts unchanged since run %s, reused",
            resource, result.reused_parts, len(result.parts), previous["run_id"],
        )  # fmt: skip
    logger.info(
        "landed %s %s run %s: %d records, %d quarantined, %d parts, %d bytes in %.2fs",
        resource, ingest_date, run_id, result.records, result.quarantined, len(result.parts), result.bytes,
        result.seconds,
    )  # fmt: skip
    return result


def _landed_chunks(
    previous: dict[str, Any] | None, page_size: int, per_part: int, total: int
) -> dict[int, _LandedChunk]:
    """The committed run's chunks by index when it paged the source as this run does, else none (land all)."""
    paging = (page_size, per_part, total)
    if previous is None or tuple(previous.get(k) for k in ("page_size", "pages_per_part", "source_total")) != paging:
        return {}
    landed = {info["chunk"]: _LandedChunk(info) for info in previous["chunks"]}
    for entry in previous["parts"]:
        landed[entry["chunk"]].parts.append(entry)
    for entry in previous["quarantine_parts"]:
        landed[entry["chunk"]].quarantine_parts.append(entry)
    return landed


def _unless_unchanged(landed: _LandedChunk, pages: Iterable[Page], stream: PageStream) -> Iterator[Page] | None:
    """A chunk's pages to land, or None when they are the very bytes `landed` was landed from (then counted).

    The pages are held unparsed until the chunk ends; when they are landed after all, each is released once read.
    """
    held = deque(pages)
    unchanged = (
        landed.info["pages"] == [held[0].number, held[-1].number]
        and landed.info["source_sha256"] == _source_sha256(page.sha256 for page in held)
        and stream.count_known(held, landed.info["source_items"])
    )
    return None if unchanged else (held.popleft() for _ in range(len(held)))


def _listed_keys(folder: str, manifest: dict[str, Any] | None) -> set[str]:
    """S3 keys of every part a manifest lists (none without a manifest)."""
    entries = [*manifest["parts"], *manifest["quarantine_parts"]] if manifest else []
    return {f"{folder}/{entry['file']}" for entry in entries}


def _delete_unlisted(s3_client: Any, bucket: str, prefix: str, keep: set[str]) -> None:
    """Delete every object under `prefix` except the keys in `keep`; failures are logged, not raised."""
    try:
        doomed = [
            {"Key": obj["Key"]}
            for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
            if obj["Key"] not in keep
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
