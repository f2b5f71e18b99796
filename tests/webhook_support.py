"""A loopback HTTP server standing in for a Slack/Teams/JSON incoming webhook: it records what is POSTed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookServer:
    """A loopback HTTP server that records each POST's path and JSON body and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, json.loads(body)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/T0KEN"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def bodies(self, accept: Callable[[dict[str, Any]], bool] = lambda body: True) -> list[dict[str, Any]]:
        """The JSON bodies received so far that `accept` takes, oldest first."""
        return [body for _path, body in list(self.requests) if accept(body)]

    def wait_for(self, accept: Callable[[dict[str, Any]], bool], timeout: float = 60) -> list[dict[str, Any]]:
        """Wait until a body that `accept` takes has arrived (something else, e.g. a Prefect server, sends it)."""
        deadline = time.monotonic() + timeout
        while not (found := self.bodies(accept)):
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching POST within {timeout} s; received: {self.requests}")
            time.sleep(0.2)
        return found

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
