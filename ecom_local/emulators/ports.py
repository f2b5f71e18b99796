"""Loopback port helpers: pick a free port, or say clearly that a chosen one is taken."""

from __future__ import annotations

import socket
import time

from ecom_pipeline.exceptions import RuntimeStartError

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a port the OS reports free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def resolve_port(service: str, port: int | None, host: str = LOOPBACK) -> int:
    """Return `port` if it is free (or a free one when None); raise a one-line error on a clash."""
    if not port:
        return free_port(host)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the servers we start (uvicorn, werkzeug, http.server): connections of a stopped server still in
        # TIME_WAIT do not make the port busy, so an emulator can restart on its old port; a listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            raise RuntimeStartError(
                f"{service}: port {port} on {host} is already in use; choose another port or pass 0 for a free one"
            ) from error
    return port


def wait_for_port(service: str, port: int, timeout_seconds: float, host: str = LOOPBACK) -> None:
    """Block until something accepts connections on `host:port`, or raise after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeStartError(f"{service} did not start listening on {host}:{port} within {timeout_seconds:.0f} s")
