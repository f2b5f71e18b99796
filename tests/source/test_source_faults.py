"""Injected faults: each kind shows up as the client will see it, and the choice is deterministic."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from ecom_local.api import ApiServer, FaultPlan, SyntheticSource

SOURCE = SyntheticSource(users=10, products=20, carts=40, seed=3)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_server_error_is_500_json(http: requests.Session) -> None:
    with ApiServer(SOURCE, faults=FaultPlan(rate=1.0, kinds=("server_error",))) as api:
        response = http.get(f"{api.url}/carts", timeout=10)
    assert response.status_code == 500
    assert response.json()["message"]


@pytest.mark.parametrize(("seconds", "header"), [(2.0, "2"), (0.25, "0.25")])
def test_rate_limited_is_429_with_retry_after(http: requests.Session, seconds: float, header: str) -> None:
    # Whole seconds are standard HTTP; a fractional value keeps client retry tests fast (clients parse float).
    plan = FaultPlan(rate=1.0, kinds=("rate_limited",), retry_after_seconds=seconds)
    with ApiServer(SOURCE, faults=plan) as api:
        response = http.get(f"{api.url}/users", timeout=10)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == header
    assert response.json()["message"]


def test_slow_answers_late_but_correctly(http: requests.Session) -> None:
    plan = FaultPlan(rate=1.0, kinds=("slow",), slow_seconds=0.6)
    with ApiServer(SOURCE, faults=plan) as api:
        with pytest.raises(requests.exceptions.ReadTimeout):
            http.get(f"{api.url}/carts?limit=2", timeout=0.2)
        started = time.monotonic()
        response = http.get(f"{api.url}/carts?limit=2", timeout=10)
        waited = time.monotonic() - started
    assert response.json()["carts"] == SOURCE.items("carts", 0, 2)
    assert waited >= 0.6


def test_truncated_body_breaks_the_read(http: requests.Session) -> None:
    with (
        ApiServer(SOURCE, faults=FaultPlan(rate=1.0, kinds=("truncated",))) as api,
        pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"),
    ):
        http.get(f"{api.url}/carts", timeout=10)


def test_truncated_body_is_about_half_then_the_connection_closes() -> None:
    with ApiServer(SOURCE, faults=FaultPlan(rate=1.0, kinds=("truncated",))) as api:
        port = int(api.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /products HTTP/1.1\r\nHost: test\r\n\r\n")
            received = b""
            while chunk := sock.recv(65536):  # returns b"" once the server hangs up
                received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    promised = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1]
    )
    assert promised // 2 == len(body)


def test_latency_is_added_to_every_request(http: requests.Session) -> None:
    with ApiServer(SOURCE, latency_seconds=0.3) as api:
        started = time.monotonic()
        for _ in range(2):
            assert http.get(f"{api.url}/users?limit=1", timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.6


def test_a_partial_rate_mixes_faults_and_answers(http: requests.Session) -> None:
    plan = FaultPlan(rate=0.5, kinds=("server_error",), seed=11)
    expected = [plan.pick(number) for number in range(20)]
    with ApiServer(SOURCE, faults=plan) as api:
        statuses = [http.get(f"{api.url}/users?limit=1", timeout=10).status_code for _ in range(20)]
    assert statuses == [500 if fault else 200 for fault in expected]
    assert 200 in statuses and 500 in statuses


def test_pick_is_deterministic_and_seeded() -> None:
    plan = FaultPlan(rate=0.3, seed=7)
    first = [plan.pick(number) for number in range(300)]
    assert first == [FaultPlan(rate=0.3, seed=7).pick(number) for number in range(300)]
    assert first != [FaultPlan(rate=0.3, seed=8).pick(number) for number in range(300)]


def test_pick_follows_the_rate_and_uses_every_kind() -> None:
    plan = FaultPlan(rate=0.25, seed=1)
    counts = Counter(plan.pick(number) for number in range(4000))
    assert 800 <= 4000 - counts[None] <= 1200
    assert set(counts) - {None} == set(plan.kinds)


def test_no_faults_at_rate_zero_and_always_at_rate_one() -> None:
    assert {FaultPlan(rate=0.0).pick(number) for number in range(500)} == {None}
    assert {FaultPlan(rate=1.0, kinds=("slow",)).pick(number) for number in range(500)} == {"slow"}


@pytest.mark.parametrize(
    "arguments", [{"rate": 1.5}, {"rate": -0.1}, {"kinds": ("explode",)}, {"kinds": ()}, {"slow_seconds": -1}]
)
def test_invalid_plans_are_refused(arguments: dict) -> None:
    with pytest.raises(ValueError):
        FaultPlan(**arguments)
