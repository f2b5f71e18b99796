"""An S3 API on loopback: moto's threaded server, with the buckets the pipeline needs."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from moto.s3.responses import S3Response
from moto.server import ThreadedMotoServer

from ecom_local.emulators.ports import LOOPBACK, resolve_port, wait_for_port

EMULATOR_ACCESS_KEY = "testing"  # moto accepts any key; these are not secrets
EMULATOR_SECRET_KEY = "testing"  # noqa: S105  # nosec B105
EMULATOR_REGION = "us-east-1"


def emulator_env(endpoint_url: str) -> dict[str, str]:
    """Environment that points boto3, s3fs, Spark's s3a and the pipeline's settings at an S3 emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_KEY,
        "AWS_REGION": EMULATOR_REGION,
        "AWS_DEFAULT_REGION": EMULATOR_REGION,
    }


_CONDITIONAL_WRITES = threading.Lock()


def _atomic_when_conditional(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(handler)
    def handle(response: Any) -> Any:
        if "If-None-Match" in response.headers or "If-Match" in response.headers:
            with _CONDITIONAL_WRITES:
                return handler(response)
        return handler(response)

    handle.atomic_when_conditional = True  # type: ignore[attr-defined]
    return handle


def make_conditional_writes_atomic() -> None:
    """Make moto's conditional PUT and DELETE check-and-write one step, as S3's are (idempotent).

    moto 5 serves requests on parallel threads and checks `If-None-Match` / `If-Match` before it writes, with nothing
    between: two takers of one lock object (ecom_pipeline/locks.py) could both win. Real S3 answers 412 to all but one.
    """
    for name in ("put_object", "delete_object"):
        handler = getattr(S3Response, name)
        if not getattr(handler, "atomic_when_conditional", False):
            setattr(S3Response, name, _atomic_when_conditional(handler))


class S3Emulator:
    """moto server on 127.0.0.1; `start()` returns the endpoint URL."""

    def __init__(self, port: int | None = None) -> None:
        self._requested_port = port
        self._server: ThreadedMotoServer | None = None
        self.port: int | None = None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise RuntimeError("S3Emulator.endpoint_url read before start()")
        return f"http://{LOOPBACK}:{self.port}"

    def reserve(self) -> str:
        """Choose the port (checked free) before starting, and return the endpoint URL it will serve.

        Lets services that read S3 start at the same time as S3 itself.
        """
        if self.port is None:
            self.port = resolve_port("S3 emulator (moto)", self._requested_port)
        return self.endpoint_url

    def start(self, buckets: Iterable[str] = ()) -> str:
        """Start the server (idempotent) and create `buckets`; return the endpoint URL."""
        if self._server is None:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
            make_conditional_writes_atomic()
            self.port = resolve_port("S3 emulator (moto)", self._requested_port or self.port)
            self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=self.port, verbose=False)
            self._server.start()
            wait_for_port("S3 emulator (moto)", self.port, timeout_seconds=15)
        self.create_buckets(buckets)
        return self.endpoint_url

    def create_buckets(self, buckets: Iterable[str]) -> None:
        """Create each bucket unless it exists."""
        client = self.client()
        existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
        for bucket in buckets:
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)

    def client(self):
        """A boto3 S3 client bound to this emulator."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=EMULATOR_REGION,
            aws_access_key_id=EMULATOR_ACCESS_KEY,
            aws_secret_access_key=EMULATOR_SECRET_KEY,
        )

    def stop(self) -> None:
        """Stop the server; stored objects live on in moto's in-process backend until the process ends."""
        if self._server is not None:
            self._server.stop()
            self._server = None
