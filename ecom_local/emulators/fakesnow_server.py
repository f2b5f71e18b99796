"""The Snowflake emulator: fakesnow's HTTP server, with `s3://` readable by DuckDB through s3fs.

DuckDB cannot download its httpfs extension offline, so every DuckDB instance fakesnow creates gets an s3fs
filesystem registered first; s3fs honours `AWS_ENDPOINT_URL`, which points it at the S3 emulator.
Run it as `python -m ecom_local.emulators.fakesnow_server --host 127.0.0.1 --port N`, or through
`FakesnowEmulator`, which runs that module as a subprocess (DuckDB and uvicorn then stay off our GIL).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ecom_local.emulators.parent_watch import stop_with_parent
from ecom_local.emulators.ports import LOOPBACK, resolve_port, wait_for_port
from ecom_pipeline.exceptions import RuntimeStartError

SERVICE = "Snowflake emulator (fakesnow)"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


# Every s3fs filesystem the emulator's DuckDB instances use: their listings are dropped when a statement starts.
_FILESYSTEMS: weakref.WeakSet[Any] = weakref.WeakSet()


def _s3_filesystem() -> Any:
    """An s3fs filesystem whose listings (and the file details they give) last for one statement at most.

    A COPY of one file asks S3 21 times (3 listings, 15 HEADs, 3 reads): DuckDB opens the file to read its schema,
    then to load it, and asks its size and time at each open. Within one statement the answers cannot change, so the
    listing is kept; `StatementScopedListings` drops every listing when the next statement arrives, so files written
    after a COPY are seen by the next one.
    """
    import s3fs

    filesystem = s3fs.S3FileSystem(use_listings_cache=True, skip_instance_cache=True)
    _FILESYSTEMS.add(filesystem)
    return filesystem


class StatementScopedListings:
    """ASGI middleware: before each statement (a `/queries/` request), forget every S3 listing."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/queries/"):
            for filesystem in list(_FILESYSTEMS):
                filesystem.invalidate_cache()
        await self.app(scope, receive, send)


def build_app(db_path: str | None = None) -> Any:
    """Return fakesnow's Starlette app with s3fs registered on every DuckDB instance it uses.

    `db_path` keeps the databases as DuckDB files in that folder (they outlive the server); by default they
    are in memory, shared by all connections of this server process.
    """
    import fakesnow.server as fakesnow_server
    from fakesnow.instance import FakeSnow

    class S3FakeSnow(FakeSnow):
        """fakesnow's DuckDB holder, which can read s3:// through s3fs."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.duck_conn.register_filesystem(_s3_filesystem())

    # login_request builds `FakeSnow(...)` per session when FAKESNOW_DB_PATH is given, and otherwise uses the
    # module-level `shared_fs`: replace both so no connection misses the filesystem.
    fakesnow_server.FakeSnow = S3FakeSnow  # type: ignore[misc]
    fakesnow_server.shared_fs = S3FakeSnow(db_path=db_path)
    return StatementScopedListings(fakesnow_server.app)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the emulator until SIGINT/SIGTERM."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db-path", default=None, help="Keep databases as DuckDB files in this folder.")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--stop-with-parent", action="store_true", help="Stop when the starting process is gone.")
    args = parser.parse_args(argv)
    if args.stop_with_parent:
        stop_with_parent()
    if args.db_path:
        Path(args.db_path).mkdir(parents=True, exist_ok=True)
    logging.getLogger("fakesnow").setLevel(args.log_level.upper())
    app = build_app(args.db_path)
    # uvicorn handles SIGTERM and SIGINT itself: it stops accepting, finishes requests, then returns.
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


class FakesnowEmulator:
    """Runs the emulator module in its own process on loopback; `start()` returns `(host, port)`."""

    def __init__(
        self, port: int | None = None, env: Mapping[str, str] | None = None, db_path: Path | None = None
    ) -> None:
        self._requested_port = port
        self._env = dict(env or {})
        self._db_path = db_path
        self._process: subprocess.Popen[bytes] | None = None
        self._terminating = False
        self._log_file: Any = None
        self.host = LOOPBACK
        self.port: int | None = None

    def start(self) -> tuple[str, int]:
        """Start the server process (idempotent) and wait until it accepts connections."""
        if self._process is not None and self._process.poll() is None and self.port is not None:
            return self.host, self.port
        # A restart keeps the port it had, so the endpoint exported to the pipeline stays valid.
        port = resolve_port(SERVICE, self._requested_port or self.port)
        command = [sys.executable, "-m", "ecom_local.emulators.fakesnow_server", "--host", self.host]
        command += ["--port", str(port), "--stop-with-parent"]
        if self._db_path is not None:
            command += ["--db-path", str(self._db_path)]
        # A file, not a pipe: nobody reads the server's log while it runs, and a full pipe would block it.
        self._log_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            command, env={**os.environ, **self._env}, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        try:
            wait_for_port(SERVICE, port, timeout_seconds=START_TIMEOUT_SECONDS)
        except RuntimeStartError as error:
            log = self._log_tail()
            self.stop()
            raise RuntimeStartError(f"{error}; its output ends with:\n{log}") from error
        if self._process.poll() is not None:  # something else answered on that port and ours died
            log = self._log_tail()
            self.stop()
            raise RuntimeStartError(f"{SERVICE} exited at start; its output ends with:\n{log}")
        self.port = port
        return self.host, port

    def terminate(self) -> None:
        """Ask the server to stop without waiting (`stop()` waits), so other services can stop meanwhile."""
        if self._process is not None and self._process.poll() is None and not self._terminating:
            self._process.terminate()
            self._terminating = True

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after a grace period); safe to call twice."""
        self.terminate()  # once: a second SIGTERM makes uvicorn skip its graceful shutdown
        process, self._process = self._process, None
        self._terminating = False
        if process is not None and process.poll() is None:
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _log_tail(self, limit: int = 4000) -> str:
        if self._log_file is None:
            return ""
        self._log_file.seek(0)
        return self._log_file.read().decode("utf-8", errors="replace")[-limit:]

    def __enter__(self) -> FakesnowEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    raise SystemExit(main())
