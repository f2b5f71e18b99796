"""The Snowflake emulator: fakesnow's HTTP server, with `s3://` readable by DuckDB through s3fs.

DuckDB cannot download its httpfs extension offline, so every DuckDB instance fakesnow creates gets an s3fs
filesystem registered first; s3fs honours `AWS_ENDPOINT_URL`, which points it at the S3 emulator.
Run it as `python -m ecom_pipeline.runtime.fakesnow_server --host 127.0.0.1 --port N`, or through
`FakesnowEmulator`, which runs that module as a subprocess (DuckDB and uvicorn then stay off our GIL).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ecom_pipeline.exceptions import RuntimeStartError
from ecom_pipeline.runtime.ports import LOOPBACK, resolve_port, wait_for_port

SERVICE = "Snowflake emulator (fakesnow)"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0


def _s3_filesystem() -> Any:
    """An s3fs filesystem without listing caches: files written after a COPY must be seen by the next one."""
    import s3fs

    return s3fs.S3FileSystem(use_listings_cache=False, skip_instance_cache=True)


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
    return fakesnow_server.app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the emulator until SIGINT/SIGTERM."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db-path", default=None, help="Keep databases as DuckDB files in this folder.")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
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
        self._log_file: Any = None
        self.host = LOOPBACK
        self.port: int | None = None

    def start(self) -> tuple[str, int]:
        """Start the server process (idempotent) and wait until it accepts connections."""
        if self._process is not None and self._process.poll() is None and self.port is not None:
            return self.host, self.port
        # A restart keeps the port it had, so the endpoint exported to the pipeline stays valid.
        port = resolve_port(SERVICE, self._requested_port or self.port)
        command = [sys.executable, "-m", "ecom_pipeline.runtime.fakesnow_server", "--host", self.host]
        command += ["--port", str(port)]
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

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after a grace period); safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
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
