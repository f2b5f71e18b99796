"""Land stage: stream extracted pages into the S3 raw zone as gzipped NDJSON parts plus a manifest.

Layout and manifest are the contract in docs/architecture.md ("Raw zone"; `raw_zone.py` holds the layout and the
readers). Source pages are landed in fixed chunks of `pages_per_part` pages, one part per chunk, uploaded as soon
as the chunk ends (`raw_parts.py`), so a resource never sits in memory whole. A chunk whose source bytes equal
those the committed run landed it from is not parsed again: the new manifest lists the old parts.
`_manifest.json` is written last: it is the commit point and the only entry readers use, so a half-written run
is invisible and a re-run swaps atomically.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from ecom_pipeline.exceptions import LandingError
from ecom_pipeline.extract.drift import drift_report
from ecom_pipeline.extract.pages import Page, PageStream
from ecom_pipeline.land.raw_parts import LandedChunk, RunWriter, ids_strictly_increasing, source_sha256
from ecom_pipeline.land.raw_zone import date_folder, manifest_key, read_manifest
from ecom_pipeline.settings import StorageSettings

logger = logging.getLogger("ecom_pipeline.land.landing")


class LandingResult(BaseModel):
    """What one `land_pages` call committed: one resource's entry in the run summary."""

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
    quarantine_parts: list[str]
    reused_parts: int  # record parts of unchanged chunks, listed where an earlier run wrote them
    reused_records: int
    schema_drift: dict[str, Any]  # extract/drift.py, over every chunk's fields
    location: str  # the day's folder, s3://<raw bucket>/<raw prefix>/<resource>/ingest_date=YYYY-MM-DD/


def pages_per_part(storage: StorageSettings, page_size: int) -> int:
    """Source pages landed together as one part: `part_max_records` worth of full pages (size 0: the one page)."""
    return max(1, storage.part_max_records // page_size) if page_size else 1


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
    run = RunWriter(s3_client, bucket, folder, run_dir)
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
        content_sha256 = source_sha256(entry["sha256"] for entry in run.parts)
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
        schema_drift=drift_report(resource, [chunk.get("fields") for chunk in run.chunks]),
        location=f"s3://{bucket}/{folder}/",
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
) -> dict[int, LandedChunk]:
    """The committed run's chunks by index when it paged the source as this run does, else none (land all)."""
    paging = (page_size, per_part, total)
    if previous is None or tuple(previous.get(k) for k in ("page_size", "pages_per_part", "source_total")) != paging:
        return {}
    landed = {info["chunk"]: LandedChunk(info) for info in previous["chunks"]}
    for entry in previous["parts"]:
        landed[entry["chunk"]].parts.append(entry)
    for entry in previous["quarantine_parts"]:
        landed[entry["chunk"]].quarantine_parts.append(entry)
    return landed


def _unless_unchanged(landed: LandedChunk, pages: Iterable[Page], stream: PageStream) -> Iterator[Page] | None:
    """A chunk's pages to land, or None when they are the very bytes `landed` was landed from (then counted).

    The pages are held unparsed until the chunk ends; when they are landed after all, each is released once read.
    """
    held = deque(pages)
    unchanged = (
        landed.info["pages"] == [held[0].number, held[-1].number]
        and landed.info["source_sha256"] == source_sha256(page.sha256 for page in held)
        and stream.count_unparsed(held, landed.info["source_items"])
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
