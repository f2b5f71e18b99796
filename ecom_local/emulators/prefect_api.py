"""Prefect's API for the local profile: the temporary server Prefect would start for a run, started first.

Without an API configured (`PREFECT_API_URL`, a Prefect profile), Prefect starts a temporary API server the first
time a flow needs one, and the run waits for it: 8-11 s on 2 cores during which nothing else happens, after the
command imported Prefect's whole server only to start it (about 4 s more). `PrefectApi` starts the same application
(`prefect.server.api.server.create_app(ephemeral=True)`: the API without its UI, with the services Prefect runs in
its temporary servers, on Prefect's usual database) in a process of its own when a command starts, so it comes up
while the emulators start and the flow's modules import. The process first asks Prefect's own settings whether an
API is configured; if one is, it says so and exits, and the run uses that API exactly as before.

The server skips one start-up step: registering the block types of every installed Prefect collection, which
imports prefect-aws, prefect-snowflake and prefect-docker (about 5 s here) to write block types local runs never
load. A `prefect server start` on the same database registers them when it starts.

`run` stops its own server when it ends. `emulators up` keeps one running until it stops (recorded beside the
emulators' endpoints, runtime/running.py), and `run` uses it, like the emulators, unless `PREFECT_API_URL` is set.
Which API records the flow run changes nothing in what the run computes.

Run as `python -m ecom_local.emulators.prefect_api --port N`: prints `serving` or `configured` on its first line,
and stops by itself if the command that started it is killed (runtime/parent_watch.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any, NoReturn

from ecom_local.emulators.parent_watch import stop_with_parent
from ecom_local.emulators.ports import LOOPBACK, free_port
from ecom_pipeline.exceptions import RuntimeStartError

logger = logging.getLogger("ecom_local.emulators")

SERVICE = "Prefect API (temporary server)"
SERVING, CONFIGURED = "serving", "configured"
STOP_TIMEOUT_SECONDS = 10.0
# Prefect's server settings for this process only: block types are not registered at start (see the module text).
SERVER_ENV = {"PREFECT_API_BLOCKS_REGISTER_ON_START": "false", "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}
# Health checks go straight to loopback, never through an HTTP proxy the environment names.
LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def start_timeout_seconds() -> float:
    """How long to wait for the server: Prefect's own setting for its temporary server (the CLI sets 120 s)."""
    return float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or 120)


def main(argv: Sequence[str] | None = None) -> int:
    """Say whether an API is configured; if none is, serve Prefect's API on loopback until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.update(SERVER_ENV)
    from prefect.settings import PREFECT_API_URL  # Prefect's resolution: environment, .env, prefect.toml, profile

    configured = bool(PREFECT_API_URL.value())
    print(CONFIGURED if configured else SERVING, flush=True)
    if configured:
        return 0
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nobody reads stdout from here on: never let it fill up
    stop_with_parent()
    import uvicorn
    from prefect.server.api.server import create_app

    # uvicorn handles SIGTERM itself: it stops accepting, finishes requests, runs the shutdown, then returns.
    uvicorn.run(create_app(ephemeral=True, final=True), host=LOOPBACK, port=args.port, log_level="error")
    return 0


class PrefectApi:
    """The API process on a free loopback port: `start()`, then `serving()`, `wait_ready()`, and `stop()` at the end.

    A thread reads the process's answer and polls its health from the start, so `started_at` and `ready_at` say when
    it came up, whenever the caller asks.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.started_at: float | None = None  # epoch seconds
        self.ready_at: float | None = None
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[bytes] | None = None
        self._verdict: str | None = None
        self._answered = threading.Event()
        self._settled = threading.Event()  # ready, or failed (`_error`)
        self._error: RuntimeStartError | None = None

    @property
    def api_url(self) -> str:
        """What `PREFECT_API_URL` must say to use this server."""
        return f"http://{LOOPBACK}:{self.port}/api"

    def start(self) -> PrefectApi:
        """Start the process and return at once: it decides and starts up while the caller does other work."""
        if self._process is None:
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
            self.started_at = time.time()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "ecom_local.emulators.prefect_api", "--port", str(self.port)],
                stdout=subprocess.PIPE,
                stderr=self._log,
                text=True,
            )
            threading.Thread(target=self._watch, args=(self._process,), name="prefect-api-start", daemon=True).start()
        return self

    def _watch(self, process: subprocess.Popen[str]) -> None:
        try:
            assert process.stdout is not None
            self._verdict = process.stdout.readline().strip()
            process.stdout.close()
            self._answered.set()
            if self._verdict == SERVING:
                wait_healthy(self.api_url, start_timeout_seconds(), SERVICE, process)
                self.ready_at = time.time()
        except RuntimeStartError as error:
            self._error = error
        finally:
            self._answered.set()
            self._settled.set()

    def serving(self) -> bool:
        """False when Prefect already has an API configured here (the process then exits); waits for its answer."""
        self._running()
        self._answered.wait()
        if self._verdict not in (SERVING, CONFIGURED):
            self._fail(f"{SERVICE} exited before it started (answered {self._verdict!r})")
        return self._verdict == SERVING

    def wait_ready(self) -> str:
        """Block until the API answers its health check; return its URL.

        Raises:
            RuntimeStartError: the process exited or the API did not answer in time (with its output's end).
        """
        if not self.serving():
            raise RuntimeStartError(f"{SERVICE} not started: Prefect has an API configured here")
        self._settled.wait()
        if self._error is not None:
            self._fail(str(self._error))
        return self.api_url

    def terminate(self) -> None:
        """Ask the process to stop without waiting (`stop()` waits): lets other services stop meanwhile."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period); safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            self._answered.wait(timeout=STOP_TIMEOUT_SECONDS)  # the watcher has read and closed stdout
        if self._log is not None:
            self._log.close()
            self._log = None

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise RuntimeStartError(f"{SERVICE}: start() was not called")
        return self._process

    def _fail(self, message: str) -> NoReturn:
        log = self._log_tail()
        self.stop()
        raise RuntimeStartError(f"{message}; its output ends with:\n{log}" if log else message)

    def _log_tail(self, limit: int = 4000) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", errors="replace")[-limit:].strip()

    def __enter__(self) -> PrefectApi:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@contextmanager
def kept_prefect_api(wanted: bool = True) -> Iterator[Callable[[], str | None]]:
    """For `emulators up`: a Prefect API kept for the block, unless not `wanted` or Prefect has one configured.

    Yields a function that waits until the API answers and returns its URL (None when none was started), so the
    API starts up while the caller starts the emulators.
    """
    api = PrefectApi().start() if wanted else None
    try:

        def ready() -> str | None:
            if api is None or not api.serving():
                return None
            logger.info("Prefect API (for `run`) on %s", api.wait_ready())
            return api.api_url

        yield ready
    finally:
        if api is not None:
            api.stop()


def wait_healthy(api_url: str, timeout_seconds: float, what: str, process: subprocess.Popen[Any] | None = None) -> str:
    """Block until `api_url/health` answers 200; return `api_url`.

    Raises:
        RuntimeStartError: `process` (the server, when we started it) exited, or no answer within the timeout.
    """
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeStartError(f"{what} exited at start")
        try:
            with LOOPBACK_OPENER.open(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return api_url
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeStartError(f"{what} did not answer on {api_url} within {timeout_seconds:.0f} s")


def drain_prefect_workers() -> None:
    """Send the logs and events Prefect still holds to its API, before that API stops.

    Prefect's background workers would otherwise try at exit, after a temporary server is gone.
    """
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(at_exit=False)
    EventsWorker.drain_all(at_exit=False)


if __name__ == "__main__":
    raise SystemExit(main())
