"""A DummyJSON-compatible HTTP API on loopback, serving any `DataSource`, with optional injected faults.

`routes.py` decides what each GET answers; this module carries it over HTTP/1.1 keep-alive with Content-Length,
so pooled clients reuse connections, and injects the faults of a `FaultPlan` (5xx, 429 with Retry-After, slow and
truncated answers). With `preload`, list pages come from records encoded once at start-up.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from ecom_local.api.data import DataSource
from ecom_local.api.faults import FaultPlan
from ecom_local.api.routes import ApiError, PreloadedRecords, answer_body, encode_json

logger = logging.getLogger("ecom_local.api.server")


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
            status, body = error.status, encode_json({"message": error.message})
        except Exception:  # a broken source must still answer in JSON, and the server keeps running
            logger.exception("source failed answering %s", self.path)
            status, body = 500, encode_json({"message": "Internal server error"})
        self._send_body(status, body, truncate=fault == "truncated")

    def _method_not_allowed(self) -> None:
        self._send_json(405, {"message": f"Method {self.command} not allowed"}, {"Allow": "GET"})

    do_POST = do_PUT = do_PATCH = do_DELETE = _method_not_allowed

    def _send_json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self._send_body(status, encode_json(document), headers)

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
