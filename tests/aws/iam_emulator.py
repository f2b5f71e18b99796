"""An AWS emulator that enforces IAM: moto's server (S3, Glue, IAM, STS, Secrets Manager) with the adapters of
`moto_iam`, for tests that prove a policy is enough and no more.

Run it as `python tests/aws/iam_emulator.py --port N`, or through `IamEmulator`, which runs it as a
subprocess: moto's IAM state and its enforcement switch are per process, so enforcing here never touches another
emulator. It starts with authorisation off, to create users, roles and buckets; `IamEmulator.enforce()` turns it on
(moto's `/moto-api/reset-auth`, the server side of `INITIAL_NO_AUTH_ACTION_COUNT`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from moto_iam import DENIAL, apply_adapters

from ecom_local.emulators.ports import LOOPBACK, resolve_port, wait_for_port
from ecom_pipeline.exceptions import RuntimeStartError

SERVICE = "IAM-enforcing AWS emulator (moto)"


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the emulator on loopback until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
    os.environ.setdefault("INITIAL_NO_AUTH_ACTION_COUNT", "inf")  # off until enforce(): set-up needs no identity
    from moto.server import ThreadedMotoServer

    apply_adapters()
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # before the server's threads start: they inherit it
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=args.port, verbose=False)
    server.start()
    signal.sigwait(stop_signals)
    server.stop()
    return 0


class IamEmulator:
    """The emulator in its own process (IAM state and the enforcement switch are per process)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self.port: int | None = None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise RuntimeError("IamEmulator.endpoint_url read before start()")
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> str:
        """Start the server (authorisation off) and return its endpoint URL."""
        port = resolve_port(SERVICE, None)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        command = [sys.executable, __file__, "--port", str(port)]
        self._process = subprocess.Popen(
            command, env={**os.environ, **self._env}, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            wait_for_port(SERVICE, port, timeout_seconds=30)
        except RuntimeStartError as error:
            log = self.log()
            self.stop()
            raise RuntimeStartError(f"{error}; its output ends with:\n{log[-4000:]}") from error
        self.port = port
        return self.endpoint_url

    def enforce(self, enabled: bool = True) -> None:
        """Authorise every request from now on (or stop doing so)."""
        count = b"0" if enabled else b"inf"
        url = f"{self.endpoint_url}/moto-api/reset-auth"  # http://127.0.0.1:<port>, never another scheme
        # text/plain: with a form content type the server would not read the body
        request = urllib.request.Request(url, data=count, method="POST", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as answer:  # nosec B310
            answer.read()

    def log(self) -> str:
        """Everything the server wrote so far."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", errors="replace")

    def denials(self) -> list[str]:
        """One line per request the emulator refused, in order."""
        return [line for line in self.log().splitlines() if line.startswith(DENIAL)]

    def stop(self) -> None:
        """Stop the server; safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> IamEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    raise SystemExit(main())
