"""The benchmark's loopback services, each in its own process so its memory never counts against a stage.

`python -m bench.services api --cart-lines N [--latency S] [--times-file F] [--no-preload]` serves the synthetic
source and, on SIGTERM, writes the arrival time of every request to F (the request-rate check reads it). Like the
real DummyJSON it serves its data from memory: every record is built and encoded before the URL is printed
(`--no-preload` generates each page on request instead).
`python -m bench.services s3` serves moto. Both print their URL on the first stdout line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import boto3

from ecom_local.emulators.s3 import EMULATOR_ACCESS_KEY, EMULATOR_REGION, EMULATOR_SECRET_KEY

if TYPE_CHECKING:
    from ecom_local.api.server import ApiServer

BUCKETS = ("ecom-raw", "ecom-curated")


class Service:
    """A child process that printed its URL; stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.services", *args],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"bench service {args[0]} did not start (said {line!r})")
        self.url = line

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def s3_client(url: str) -> Any:
    """A boto3 client for the emulator."""
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name=EMULATOR_REGION,
        aws_access_key_id=EMULATOR_ACCESS_KEY,
        aws_secret_access_key=EMULATOR_SECRET_KEY,
    )


def api_server(args: argparse.Namespace) -> ApiServer:
    """The synthetic API of the `api` service's arguments, built (and preloaded) but not yet listening."""
    from ecom_local.api.server import ApiServer
    from ecom_local.api.synthetic import SyntheticSource

    if args.carts is not None:
        source = SyntheticSource(carts=args.carts)
    else:
        source = SyntheticSource.for_cart_lines(args.cart_lines or 0)
    return ApiServer(source, latency_seconds=args.latency, preload=args.preload)


def _serve_api(args: argparse.Namespace) -> None:
    api = api_server(args)
    times_file = args.times_file
    httpd = api.bind()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        if times_file:
            Path(times_file).write_text(json.dumps(api.request_times))
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(api.url, flush=True)
    httpd.serve_forever(poll_interval=0.1)


def _serve_s3() -> None:
    import logging

    from moto.server import ThreadedMotoServer

    from ecom_local.emulators.ports import free_port, wait_for_port

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_for_port("moto", port, timeout_seconds=15)
    url = f"http://127.0.0.1:{port}"
    client = s3_client(url)
    for bucket in BUCKETS:
        client.create_bucket(Bucket=bucket)
    signal.signal(signal.SIGTERM, lambda _s, _f: os._exit(0))
    print(url, flush=True)
    signal.pause()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The service's command line."""
    parser = argparse.ArgumentParser(prog="bench.services")
    sub = parser.add_subparsers(dest="service", required=True)
    api = sub.add_parser("api")
    size = api.add_mutually_exclusive_group(required=True)
    size.add_argument("--cart-lines", type=int, help="About this many cart lines (SyntheticSource.for_cart_lines).")
    size.add_argument("--carts", type=int, help="Exactly this many carts.")
    api.add_argument("--latency", type=float, default=0.0)
    api.add_argument("--times-file")
    api.add_argument(
        "--preload",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Build and encode every record at start-up and serve pages from memory, like DummyJSON (default).",
    )
    sub.add_parser("s3")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the service processes."""
    args = parse_args(argv)
    if args.service == "api":
        _serve_api(args)
    else:
        _serve_s3()


if __name__ == "__main__":
    main()
