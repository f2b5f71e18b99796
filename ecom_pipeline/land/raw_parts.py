"""Writing one landing run: records as gzipped NDJSON parts, and the manifest's lists, chunk by chunk.

`land.py` drives it: each chunk of source pages is either landed here (parsed, sanitized, validated, uploaded as
one part plus a quarantine part) or reused from the committed run as it is. Equal lines give equal bytes, so a
re-run of unchanged data writes parts with the same checksums.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ecom_pipeline.exceptions import LandingError
from ecom_pipeline.extract.drift import FieldProfile
from ecom_pipeline.extract.pages import Page, PageStream, page_records

# A child of the land stage's logger: the stage's lines stay under one name.
logger = logging.getLogger("ecom_pipeline.land.landing.parts")

_GZIP_LEVEL = 6  # level 9 costs ~3x the CPU for a few percent less on NDJSON


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


def source_sha256(page_digests: Iterable[str]) -> str:
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
class LandedChunk:
    """A chunk of the committed run: its `chunks` entry and the entries of the parts landed from it."""

    info: dict[str, Any]
    parts: list[dict[str, Any]] = field(default_factory=list)
    quarantine_parts: list[dict[str, Any]] = field(default_factory=list)


class RunWriter:
    """The manifest lists of one run, built chunk by chunk in order: each chunk is landed from its pages or reused."""

    def __init__(self, s3_client: Any, bucket: str, folder: str, run_dir: str) -> None:
        self._s3, self._bucket, self._folder, self._run_dir = s3_client, bucket, folder, run_dir
        self.chunks: list[dict[str, Any]] = []
        self.parts: list[dict[str, Any]] = []
        self.quarantine_parts: list[dict[str, Any]] = []
        self.reused_parts = self.reused_records = 0

    def reuse(self, landed: LandedChunk) -> None:
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
        fields = FieldProfile(stream.resource)  # schema drift: the raw items' paths and types, never values
        for page in pages:
            stream.count(page)
            numbers.append(page.number)
            digests.append(page.sha256)
            items += len(page.items)
            fields.observe(page.items)  # before sanitizing drops anything
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
                "source_sha256": source_sha256(digests),
                **ids.as_dict(),
                "fields": fields.as_json(),
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
