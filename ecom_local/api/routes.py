"""What the DummyJSON-compatible API answers: routes, `limit`/`skip` paging, `select`, JSON error bodies.

Semantics follow the real server; see `../shared/dummyjson/README.md`. Pure functions of a `DataSource` and a
request target, so they are tested without a socket; `server.py` carries them over HTTP. `PreloadedRecords`
encodes every record once, so list pages are joined from bytes, as the real DummyJSON serves a fixed dataset
from memory.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ecom_local.api.data import KNOWN_RESOURCES, DataSource, UnknownResourceError

try:  # orjson arrives with prefect; it encodes a page several times faster than the stdlib
    import orjson

    def encode_json(document: Any) -> bytes:
        """Compact UTF-8 JSON."""
        return orjson.dumps(document)

except ImportError:  # pragma: no cover - the stdlib encoder gives the same JSON, only slower

    def encode_json(document: Any) -> bytes:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


DEFAULT_LIMIT = 30
# The real API ignores `select` on carts; every other resource honours it.
SELECT_IGNORED = frozenset({"carts"})


class ApiError(Exception):
    """An answer other than 200: HTTP status and the JSON `message`."""

    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message
        super().__init__(f"{status}: {message}")


def _non_negative_int(params: dict[str, list[str]], name: str, default: int) -> int:
    """Read a query parameter that must be an integer >= 0 (the last one wins, like Express)."""
    values = params.get(name)
    if not values:
        return default
    raw = values[-1].strip()
    if not raw.isdigit():  # rejects '', '-1', '1.5', 'abc' in one test
        raise ApiError(400, f"Invalid '{name}' parameter '{values[-1]}': expected an integer >= 0")
    return int(raw)


def _selected(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Only the selected fields plus `id`, like the real API's `select=a,b`."""
    picked = {"id": record.get("id")}
    picked.update({name: record[name] for name in fields if name in record})
    return picked


@dataclass(frozen=True)
class _Route:
    """A GET's target, checked: the resource, a record id (None for a list page), selected fields, the query."""

    resource: str
    total: int
    record_id: str | None
    fields: list[str]
    params: dict[str, list[str]]


def _route(source: DataSource, target: str) -> _Route:
    """Parse `target` (path and query); raises ApiError(404) for a route the source does not serve."""
    url = urlsplit(target)
    parts = [part for part in url.path.split("/") if part]
    if not 1 <= len(parts) <= 2:
        raise ApiError(404, f"Route '{url.path}' not found")
    resource = parts[0]
    try:
        total = source.total(resource)
    except UnknownResourceError:
        raise ApiError(404, f"Route '{url.path}' not found") from None
    params = parse_qs(url.query, keep_blank_values=True)
    select = params.get("select", [""])[-1]
    fields = [name.strip() for name in select.split(",") if name.strip()]
    if resource in SELECT_IGNORED:
        fields = []
    return _Route(resource, total, parts[1] if len(parts) == 2 else None, fields, params)


def _page_window(route: _Route) -> tuple[int, int]:
    """`(skip, count)` of a list page: `limit` records from `skip` (0 = all), fewer at the end."""
    limit = _non_negative_int(route.params, "limit", DEFAULT_LIMIT)
    skip = _non_negative_int(route.params, "skip", 0)
    remaining = max(route.total - skip, 0)
    return skip, remaining if limit == 0 else min(limit, remaining)


def answer(source: DataSource, target: str) -> dict[str, Any]:
    """The JSON document for a GET of `target` (path and query); raises ApiError for 4xx answers."""
    route = _route(source, target)
    if route.record_id is not None:
        return _one(source, route.resource, route.record_id, route.fields)
    skip, count = _page_window(route)
    records = source.items(route.resource, skip, count) if count else []
    if route.fields:
        records = [_selected(record, route.fields) for record in records]
    return {route.resource: records, "total": route.total, "skip": skip, "limit": len(records)}


def _one(source: DataSource, resource: str, raw_id: str, fields: list[str]) -> dict[str, Any]:
    """One record by id; sources keep ids equal to position + 1, so this reads a single item."""
    noun = resource.removesuffix("s").capitalize()
    if not raw_id.isdigit() or int(raw_id) < 1:
        raise ApiError(400, f"Invalid {noun.lower()} id '{raw_id}'")
    record_id = int(raw_id)
    found = source.items(resource, record_id - 1, 1) if record_id <= source.total(resource) else []
    if not found or found[0].get("id") != record_id:
        raise ApiError(404, f"{noun} with id '{record_id}' not found")
    return _selected(found[0], fields) if fields else found[0]


def answer_body(source: DataSource, target: str, preloaded: PreloadedRecords | None = None) -> bytes:
    """The encoded answer to a GET of `target`: list pages from `preloaded` when it holds them, else generated.

    `select` (on resources that honour it) and single records take the generating path; both give the same bytes.
    """
    if preloaded is not None:
        route = _route(source, target)
        if route.record_id is None and not route.fields and route.resource in preloaded.resources:
            return preloaded.page(route.resource, *_page_window(route))
    return encode_json(answer(source, target))


class PreloadedRecords:
    """Every record of a source, encoded once: a list page is one slice of a resource's buffer.

    A resource's buffer holds each record's JSON followed by a comma, and `offsets[i]` is where record `i`
    starts, so records [skip, skip + count) are the bytes from offsets[skip] to offsets[skip + count] less the
    last comma. Compact (encoded bytes and 8-byte offsets, no dicts) and read-only once built, so threads share it.
    """

    BATCH = 1000

    def __init__(self, source: DataSource, resources: Iterable[str] = KNOWN_RESOURCES) -> None:
        self._buffers: dict[str, bytearray] = {}
        self._offsets: dict[str, array[int]] = {}
        for resource in resources:
            try:
                total = source.total(resource)
            except UnknownResourceError:
                continue  # the source does not hold it; requests for it answer 404 as before
            buffer, offsets = bytearray(), array("Q", [0])
            for skip in range(0, total, self.BATCH):
                for record in source.items(resource, skip, self.BATCH):
                    buffer += encode_json(record)
                    buffer += b","
                    offsets.append(len(buffer))
            if len(offsets) - 1 != total:
                raise ValueError(f"source gave {len(offsets) - 1} {resource} records, its total says {total}")
            self._buffers[resource], self._offsets[resource] = buffer, offsets

    @property
    def resources(self) -> tuple[str, ...]:
        """The resources held in memory."""
        return tuple(self._buffers)

    @property
    def records(self) -> int:
        """Number of records held, over every resource."""
        return sum(len(offsets) - 1 for offsets in self._offsets.values())

    @property
    def size_bytes(self) -> int:
        """Bytes of encoded JSON held."""
        return sum(len(buffer) for buffer in self._buffers.values())

    def page(self, resource: str, skip: int, count: int) -> bytes:
        """`{"<resource>":[...],"total":N,"skip":S,"limit":L}` of records [skip, skip + count), as `answer` has it."""
        offsets = self._offsets[resource]
        total = len(offsets) - 1
        start, end = min(skip, total), min(skip + count, total)
        records = memoryview(self._buffers[resource])[offsets[start] : offsets[end] - 1] if end > start else b""
        # The scalars through the same encoder as the generating path; only their opening brace is dropped.
        tail = encode_json({"total": total, "skip": skip, "limit": end - start})
        return b"".join((b"{", encode_json(resource), b":[", records, b"],", tail[1:]))
