"""Start and stop every loopback service the `local` profile needs, and export their endpoints.

The runtime knows nothing of the pipeline's stages: it starts emulators, then publishes where they listen
as the same environment variables a user would set by hand (`AWS_ENDPOINT_URL`, `ECOM_API_BASE_URL`,
`SNOWFLAKE_HOST`, ...). Stages read those through `Settings` like in any other profile.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from types import FrameType, TracebackType

from ecom_local.api.data import DataSource
from ecom_local.api.server import ApiServer
from ecom_local.emulators.fakesnow_server import FakesnowEmulator
from ecom_local.emulators.ports import LOOPBACK
from ecom_local.emulators.s3 import S3Emulator, emulator_env
from ecom_pipeline.exceptions import RuntimeStartError

logger = logging.getLogger("ecom_local.emulators")

LOOPBACK_API_RATE_LIMIT = "1000"  # requests per second to the embedded API: no limit in practice


def require_java() -> str:
    """Return the `java` executable, or raise a one-line error saying how to get it."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = os.path.join(java_home, "bin", "java") if java_home else None
    java = candidate if candidate and os.access(candidate, os.X_OK) else shutil.which("java")
    if not java:
        raise RuntimeStartError(
            "Java not found: local Spark needs a JDK 11 or 17 on PATH or in JAVA_HOME "
            "(e.g. `apt-get install openjdk-17-jre-headless`)"
        )
    return java


@dataclass
class LocalEndpoints:
    """Where each emulator listens; `as_env()` is what the pipeline reads."""

    s3_endpoint_url: str
    snowflake_port: int
    api_url: str | None = None
    api_rate_limit: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def as_env(self) -> dict[str, str]:
        env = {
            **emulator_env(self.s3_endpoint_url),
            "SNOWFLAKE_HOST": LOOPBACK,
            "SNOWFLAKE_PORT": str(self.snowflake_port),
            "SNOWFLAKE_PROTOCOL": "http",
            "SNOWFLAKE_EMULATOR": "true",
            "SPARK_LOCAL_IP": LOOPBACK,
            **self.extra_env,
        }
        if self.api_url:
            env["ECOM_API_BASE_URL"] = self.api_url
        if self.api_rate_limit:
            env["ECOM_API_RATE_LIMIT_PER_SECOND"] = self.api_rate_limit
        return env


class LocalRuntime:
    """Context manager: S3 (moto), the warehouse (fakesnow) and, given a source, the DummyJSON-compatible API.

    Everything stops on exit, on Ctrl-C and on SIGTERM; the environment is restored afterwards.
    """

    def __init__(
        self,
        buckets: Iterable[str],
        source: DataSource | None = None,
        *,
        s3_port: int | None = None,
        api_port: int | None = None,
        snowflake_port: int | None = None,
        need_java: bool = True,
    ) -> None:
        self._buckets = tuple(buckets)
        self._need_java = need_java
        self.s3 = S3Emulator(port=s3_port)
        self.api: ApiServer | None = ApiServer(source, port=api_port or 0) if source is not None else None
        self._snowflake_port = snowflake_port
        self.snowflake: FakesnowEmulator | None = None
        self.endpoints: LocalEndpoints | None = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_sigterm: object = None

    def start(self) -> LocalEndpoints:
        """Start every service side by side, export the endpoints, and return them.

        moto and the API serve from threads of this process, fakesnow from a process of its own: none waits for
        another (fakesnow reads S3 only when a COPY runs, and learns S3's address before S3 is up).
        """
        if self._need_java:
            require_java()
        try:
            s3_url = self.s3.reserve()
            self.snowflake = FakesnowEmulator(port=self._snowflake_port, env=emulator_env(s3_url))
            with ThreadPoolExecutor(max_workers=3, thread_name_prefix="emulator-start") as pool:
                s3 = pool.submit(self.s3.start, self._buckets)
                api = pool.submit(self.api.start) if self.api is not None else None
                snowflake = pool.submit(self.snowflake.start)
                wait([future for future in (s3, api, snowflake) if future is not None])
            s3.result()  # the first failure is raised; the `except` below stops whatever did start
            logger.info("S3 emulator (moto) on %s with buckets %s", s3_url, ", ".join(self._buckets))
            api_url = api.result().url if api is not None else None
            if api_url:
                logger.info("DummyJSON-compatible API on %s", api_url)
            _host, snowflake_port = snowflake.result()
            logger.info("Snowflake emulator (fakesnow) on %s:%s", LOOPBACK, snowflake_port)
        except BaseException:
            self.stop()
            raise
        # The default rate limit is the public DummyJSON's manners (~10 requests/s); the embedded API is on loopback
        # and needs none. A value the user set stays.
        rate = None if not api_url or "ECOM_API_RATE_LIMIT_PER_SECOND" in os.environ else LOOPBACK_API_RATE_LIMIT
        self.endpoints = LocalEndpoints(
            s3_endpoint_url=s3_url, snowflake_port=snowflake_port, api_url=api_url, api_rate_limit=rate
        )
        self._export(self.endpoints.as_env())
        return self.endpoints

    def stop(self) -> None:
        """Stop whatever runs and restore the environment; safe to call twice.

        fakesnow is asked to stop first and waited for last: its process shuts down while the threads stop.
        """
        if self.snowflake is not None:
            self.snowflake.terminate()
        for stop in (
            self.api.stop if self.api else None,
            self.s3.stop,
            self.snowflake.stop if self.snowflake else None,
        ):
            if stop is None:
                continue
            try:
                stop()
            except Exception:  # one failing stop must not keep the others running
                logger.exception("while stopping the local runtime")
        self._restore_env()

    def __enter__(self) -> LocalEndpoints:
        self._saved_sigterm = signal.getsignal(signal.SIGTERM)
        if _in_main_thread():
            signal.signal(signal.SIGTERM, _raise_system_exit)
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if _in_main_thread() and self._saved_sigterm is not None:
            signal.signal(signal.SIGTERM, self._saved_sigterm)  # type: ignore[arg-type]

    def _export(self, env: Mapping[str, str]) -> None:
        for name, value in env.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()


def _raise_system_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
