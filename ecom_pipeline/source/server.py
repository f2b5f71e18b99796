"""A DummyJSON-compatible HTTP API on loopback, serving any `DataSource`, with optional injected faults.

Semantics follow the real server (`limit`/`skip` paging, `select`, JSON error bodies); see
`../shared/dummyjson/README.md`. HTTP/1.1 keep-alive with Content-Length, so pooled clients reuse connections.
With `preload`, every record is built and encoded once at start-up and list pages are joined from those bytes,
as the real DummyJSON serves a fixed dataset from memory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ecom_pipeline.source.data import KNOWN_RESOURCES, DataSource, UnknownResourceError
from ecom_pipeline.source.faults import FaultPlan

try:  # orjson arrives with prefect; it encodes a page several times faster than the stdlib
    import orjson

    def _encode(document: Any) -> bytes:
        return orjson.dumps(document)

except ImportError:  # pragma: no cover - the stdlib encoder gives the same JSON, only slower

    def _encode(document: Any) -> bytes:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


logger = logging.getLogger("ecom_pipeline.source.server")

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
    return _encode(answer(source, target))


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
                    buffer += _encode(record)
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
        tail = _encode({"total": total, "skip": skip, "limit": end - start})
        return b"".join((b"{", _encode(resource), b":[", records, b"],", tail[1:]))


class _Handler(BaseHTTPRequestHandler):
    """One connection; `self.server.api` is the ApiServer that owns the source and the fault plan."""

    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
    server: _HttpServer

    def do_GET(self) -> None:
        api = self.server.api
        fault = api._next_fault()
        if api.latency_seconds:
            time.sleep(api.latency_seconds)
        plan = api.faults
        if fault == "server_error":
            self._send_json(500, {"message": "Injected fault: internal server error"})
            return
        if fault == "rate_limited" and plan is not None:
            wait = plan.retry_after_seconds
            header = str(int(wait)) if float(wait).is_integer() else f"{wait:g}"
            self._send_json(429, {"message": f"Too many requests, retry after {header} s"}, {"Retry-After": header})
            return
        if fault == "slow" and plan is not None:
            time.sleep(plan.slow_seconds)
        try:
            status, body = 200, answer_body(api.source, self.path, api.preloaded)
        except ApiError as error:
            status, body = error.status, _encode({"message": error.message})
        except Exception:  # a broken source must still answer in JSON, and the server keeps running
            logger.exception("source failed answering %s", self.path)
            status, body = 500, _encode({"message": "Internal server error"})
        self._send_body(status, body, truncate=fault == "truncated")

    def _method_not_allowed(self) -> None:
        self._send_json(405, {"message": f"Method {self.command} not allowed"}, {"Allow": "GET"})

    do_POST = do_PUT = do_PATCH = do_DELETE = _method_not_allowed

    def _send_json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self._send_body(status, _encode(document), headers)

    def _send_body(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, truncate: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))  # the full length, even when truncating
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if truncate:
            # Half the promised body, then hang up: the client must see an incomplete read.
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no access log lines on stderr."""


class _HttpServer(ThreadingHTTPServer):
    """Threaded server that remembers open connections so stop() can end idle keep-alive ones."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: ApiServer) -> None:
        self.api = api
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every handler blocked on an idle keep-alive connection."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, truncation tests) are normal; anything else goes to the log."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        logger.exception("API server error while serving %s", client_address)


class ApiServer:
    """The DummyJSON-compatible API over `source`, on a background thread; use as a context manager.

    `preload=True` builds and encodes every record here, once, and serves list pages from memory.
    """

    def __init__(
        self,
        source: DataSource,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
        latency_seconds: float = 0.0,
        preload: bool = False,
    ) -> None:
        if latency_seconds < 0:
            raise ValueError(f"latency_seconds must be >= 0, got {latency_seconds}")
        self.source = source
        self.preloaded = _preload(source) if preload else None
        self.host, self.port = host, port
        self.faults = faults
        self.latency_seconds = latency_seconds
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._request_times: list[float] = []

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321` (the real port once started)."""
        if self._httpd is None:
            raise RuntimeError("ApiServer.url read before start()")
        return f"http://{self.host}:{self.port}"

    @property
    def request_times(self) -> list[float]:
        """`time.monotonic()` of each request received, in arrival order (a copy)."""
        with self._lock:
            return list(self._request_times)

    def _next_fault(self) -> str | None:
        """Record the request's arrival and return its fault, if any."""
        with self._lock:
            number = len(self._request_times)
            self._request_times.append(time.monotonic())
        return self.faults.pick(number) if self.faults is not None else None

    def bind(self) -> _HttpServer:
        """Open the listening socket (idempotent); `port=0` picks a free one."""
        if self._httpd is None:
            self._httpd = _HttpServer((self.host, self.port), self)
            self.port = int(self._httpd.server_address[1])
        return self._httpd

    def start(self) -> ApiServer:
        """Serve on a daemon thread; returns self so `ApiServer(src).start().url` reads well."""
        if self._thread is None:
            httpd = self.bind()
            self._thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="api-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and idle connections; safe to call twice."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        if thread is not None:
            httpd.shutdown()
            thread.join(timeout=5)
        httpd.close_connections()
        httpd.server_close()
        self._httpd, self._thread = None, None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _preload(source: DataSource) -> PreloadedRecords:
    started = time.monotonic()
    preloaded = PreloadedRecords(source)
    logger.info(
        "preloaded %d records (%.1f MB of JSON) in %.1f s",
        preloaded.records,
        preloaded.size_bytes / 1e6,
        time.monotonic() - started,
    )
    return preloaded


def serve_forever(
    source: DataSource,
    host: str,
    port: int,
    faults: FaultPlan | None = None,
    latency_seconds: float = 0.0,
    on_ready: Callable[[str], None] | None = None,
    preload: bool = False,
) -> None:
    """Serve `source` in the calling thread until Ctrl-C; `on_ready(url)` runs once the socket listens."""
    api = ApiServer(source, host=host, port=port, faults=faults, latency_seconds=latency_seconds, preload=preload)
    httpd = api.bind()
    if on_ready is not None:
        on_ready(api.url)
    try:
        httpd.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        logger.info("API server on %s stopped", api.url)
    finally:
        httpd.close_connections()
        httpd.server_close()
