"""The preloaded API serves the very bytes the generating API does, and keeps its faults, latency and request log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ecom_local.api import ApiServer, DirectorySource, FaultPlan, SyntheticSource
from ecom_local.api.routes import PreloadedRecords, answer, answer_body

SOURCE = SyntheticSource(users=45, products=40, carts=70, seed=9)
# Pages at the start, in the middle, across and past the end, everything, plus paths that take the generating
# path (`select`, ignored on carts; one record) and errors.
TARGETS = (
    "",
    "?limit=7",
    "?skip=10&limit=13",
    "?skip=38&limit=30",
    "?limit=0",
    "?skip=500",
    "?limit=0&skip=44",
    "?limit=5&select=title,price",
    "/3",
    "?limit=-1",
    "/0",
)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ApiServer, ApiServer]]:
    with ApiServer(SOURCE) as generating, ApiServer(SOURCE, preload=True) as preloaded:
        yield generating, preloaded


def _keys_in_order(value: Any) -> Any:
    """Every object's keys in document order, nested: equal only when the key order is the same."""
    if isinstance(value, dict):
        return [(key, _keys_in_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_keys_in_order(item) for item in value]
    return None


@pytest.mark.parametrize("resource", ["users", "products", "carts"])
def test_preloaded_pages_are_byte_for_byte_the_generated_ones(
    servers: tuple[ApiServer, ApiServer], resource: str
) -> None:
    generating, preloaded = servers
    with requests.Session() as http:
        for target in TARGETS:
            expected = http.get(f"{generating.url}/{resource}{target}", timeout=10)
            served = http.get(f"{preloaded.url}/{resource}{target}", timeout=10)
            assert served.status_code == expected.status_code, target
            assert served.content == expected.content, target
            document = json.loads(served.content)
            assert document == json.loads(expected.content)
            assert _keys_in_order(document) == _keys_in_order(json.loads(expected.content))


def test_preloaded_page_is_the_documented_shape() -> None:
    preloaded = PreloadedRecords(SOURCE)
    document = json.loads(preloaded.page("carts", 65, 30))
    assert list(document) == ["carts", "total", "skip", "limit"]
    assert (document["total"], document["skip"], document["limit"]) == (70, 65, 5)
    assert document["carts"] == SOURCE.items("carts", 65, 5)
    assert json.loads(preloaded.page("carts", 70, 30)) == {"carts": [], "total": 70, "skip": 70, "limit": 0}
    assert (preloaded.resources, preloaded.records) == (("users", "products", "carts"), 45 + 40 + 70)
    # One encoded record and its comma each: nothing else is kept.
    one_by_one = [answer_body(SOURCE, f"/{name}/{number}") for name, total in SOURCE.counts.items()
                  for number in range(1, total + 1)]  # fmt: skip
    assert preloaded.size_bytes == sum(len(record) + 1 for record in one_by_one)


def test_preloaded_real_snapshot_answers_as_the_generating_path(dummyjson_dir: Path) -> None:
    source = DirectorySource(dummyjson_dir)
    preloaded = PreloadedRecords(source)
    for resource in preloaded.resources:
        for target in ("?limit=0", "?skip=30&limit=50", "?skip=200&limit=30"):
            served = answer_body(source, f"/{resource}{target}", preloaded)
            assert served == answer_body(source, f"/{resource}{target}")
            assert json.loads(served) == answer(source, f"/{resource}{target}")


def test_preloaded_server_keeps_faults_latency_and_the_request_log() -> None:
    with requests.Session() as http:
        with ApiServer(SOURCE, preload=True, faults=FaultPlan(rate=1.0, kinds=("server_error",))) as api:
            assert http.get(f"{api.url}/carts", timeout=10).status_code == 500
        with (
            ApiServer(SOURCE, preload=True, faults=FaultPlan(rate=1.0, kinds=("truncated",))) as api,
            pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"),
        ):
            http.get(f"{api.url}/carts?limit=0", timeout=10)
        with ApiServer(SOURCE, preload=True, latency_seconds=0.3) as api:
            started = time.monotonic()
            for _ in range(2):
                assert http.get(f"{api.url}/carts?limit=1", timeout=10).status_code == 200
            waited = time.monotonic() - started
            times = api.request_times
    assert waited >= 0.6
    assert len(times) == 2 and times == sorted(times)
