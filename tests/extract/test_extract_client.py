"""The DummyJSON client against real loopback servers: paging, faults, bad answers, rate, concurrency."""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from land_support import read_landed_records

from ecom_local.api import ApiServer, DirectorySource, FaultPlan
from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import SourceError, SourceUnavailableError, is_transient
from ecom_pipeline.extract import DummyJsonClient, ExtractedRecord, Page, page_records, sanitize
from ecom_pipeline.land.landing import land_pages
from ecom_pipeline.settings import RESOURCES, ApiSettings, StorageSettings

FAST = {"rate_limit_per_second": 2000.0, "backoff_initial_seconds": 0.005, "backoff_max_seconds": 0.05}


def api(url: str, **overrides: Any) -> ApiSettings:
    """Client settings for loopback tests: fast retries, a high rate limit unless a test sets one."""
    return ApiSettings(**{"base_url": url, "timeout_seconds": 5.0, "max_attempts": 3, **FAST, **overrides})


def read_pages(client: DummyJsonClient, resource: str) -> Iterator[Page]:
    """Every page of `resource` through the client's stream, each counted as the land stage does, then `finish`."""
    pages = client.page_stream(resource)
    for page in pages:
        pages.count(page)
        yield page
    pages.finish()


def read_records(client: DummyJsonClient, resource: str) -> list[ExtractedRecord]:
    """Every item of `resource` sanitized and flagged, as the land stage sees them."""
    return [record for page in read_pages(client, resource) for record in page_records(page)]


@pytest.fixture(scope="module")
def source(dummyjson_dir: Path) -> DirectorySource:
    return DirectorySource(dummyjson_dir)


@pytest.mark.parametrize("page_size", [1, 7, 30, 100, 0])
def test_every_record_arrives_whatever_the_page_size(source: DirectorySource, page_size: int) -> None:
    with (
        ApiServer(source) as server,
        DummyJsonClient(api(server.url, page_size=page_size, concurrency=4)) as client,
    ):
        landed = {resource: read_records(client, resource) for resource in RESOURCES}
        requests = len(server.request_times)

    for resource in RESOURCES:
        expected = [sanitize(resource, item) for item in source.items(resource, 0, source.total(resource))]
        assert [item.record for item in landed[resource]] == expected
        assert not [item.reason for item in landed[resource] if item.quarantined]
    assert [len(landed[r]) for r in RESOURCES] == [208, 194, 208]
    assert sum(len(item.record["products"]) for item in landed["carts"]) == 800
    pages = 3 if page_size == 0 else sum(math.ceil(source.total(r) / page_size) for r in RESOURCES)
    assert requests == pages  # no page fetched twice, none skipped


def test_pages_come_in_order_with_their_position(source: DirectorySource) -> None:
    with ApiServer(source) as server, DummyJsonClient(api(server.url, page_size=30, concurrency=8)) as client:
        pages = list(read_pages(client, "products"))
        base_url = server.url
    assert [page.number for page in pages] == list(range(1, 8))
    assert [page.skip for page in pages] == [0, 30, 60, 90, 120, 150, 180]
    assert [len(page.items) for page in pages] == [30] * 6 + [14]
    assert {page.total for page in pages} == {194}
    assert pages[2].url == f"{base_url}/products?limit=30&skip=60"


def test_pages_stream_without_running_ahead(source: DirectorySource) -> None:
    concurrency = 4
    with ApiServer(source) as server:
        settings = api(server.url, page_size=1, concurrency=concurrency)
        with DummyJsonClient(settings) as client:
            pages = read_pages(client, "users")
            taken = [next(pages) for _ in range(5)]
            time.sleep(0.3)  # give the workers every chance to run ahead if they could
            fetched = len(server.request_times)
            pages.close()  # a consumer that stops early must not hang or leak threads
    assert [page.number for page in taken] == [1, 2, 3, 4, 5]
    assert fetched <= len(taken) + concurrency


def test_faults_are_retried_and_the_landed_data_matches_a_clean_run(
    source: DirectorySource, s3_emulator: S3Emulator, s3_buckets: dict[str, str]
) -> None:
    plan = FaultPlan(rate=0.2, seed=7, retry_after_seconds=0.05, slow_seconds=1.5)
    options = {"page_size": 5, "concurrency": 4, "timeout_seconds": 0.5, "max_attempts": 10}
    s3 = make_s3_client(StorageSettings(aws_endpoint_url=s3_emulator.endpoint_url))
    ingest_date = date(2026, 6, 17)
    landed: dict[str, list[list[dict[str, Any]]]] = {}
    checksums: dict[str, list[str]] = {}
    for run, faults in (("clean", None), ("faulty", plan)):
        storage = StorageSettings(
            raw_bucket=s3_buckets["raw"], raw_prefix=run, aws_endpoint_url=s3_emulator.endpoint_url
        )
        with (
            ApiServer(source, faults=faults) as server,
            DummyJsonClient(api(server.url, **options)) as client,
        ):
            results = [
                land_pages(
                    client.page_stream(resource),
                    s3_client=s3,
                    storage=storage,
                    ingest_date=ingest_date,
                    run_id=f"20260617T000000Z-{run}",
                )
                for resource in RESOURCES
            ]
            requests, retries = len(server.request_times), client.retries
        landed[run] = [list(read_landed_records(s3, storage, r, ingest_date)) for r in RESOURCES]
        checksums[run] = [result.content_sha256 for result in results]

    assert landed["faulty"] == landed["clean"]
    assert [len(records) for records in landed["faulty"]] == [208, 194, 208]
    assert checksums["faulty"] == checksums["clean"]  # byte-identical parts
    kinds = Counter(plan.pick(number) for number in range(requests))
    assert {kind: kinds[kind] >= 1 for kind in plan.kinds} == dict.fromkeys(plan.kinds, True)
    assert retries == requests - sum(math.ceil(source.total(r) / 5) for r in RESOURCES)


def test_requests_never_exceed_the_rate_limit(source: DirectorySource) -> None:
    rate = 25.0
    with ApiServer(source) as server:
        settings = api(server.url, page_size=5, concurrency=4, rate_limit_per_second=rate)
        with DummyJsonClient(settings) as client:
            items = sum(len(page.items) for page in read_pages(client, "products"))
        times = server.request_times
    assert items == 194 and len(times) == 39
    # Server-side arrival stamps carry a little loopback jitter; the limiter itself spaces grants by 1/rate.
    window = 1.0 - 0.02
    busiest = max(sum(1 for t in times if start <= t < start + window) for start in times)
    assert busiest <= rate
    assert times[-1] - times[0] >= (len(times) - 1) / rate - 0.02


def busiest_overlap(times: list[float], window: float) -> int:
    """Most requests that arrived within `window` seconds of each other: in flight together."""
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


def test_concurrency_keeps_several_requests_in_flight(source: DirectorySource) -> None:
    latency = 0.05
    overlap: dict[int, int] = {}
    for concurrency in (1, 8):
        with ApiServer(source, latency_seconds=latency) as server:
            settings = api(server.url, page_size=10, concurrency=concurrency)
            with DummyJsonClient(settings) as client:
                assert sum(len(page.items) for page in read_pages(client, "carts")) == 208
            # Each answer takes >= latency: requests arriving closer than that were in flight together.
            overlap[concurrency] = busiest_overlap(server.request_times, latency * 0.8)
    assert overlap[1] == 1
    assert overlap[8] >= 3 * overlap[1]
    assert overlap[8] <= 8


# --- malformed answers from a tiny custom server --------------------------------------------------------

Route = Callable[[int, dict[str, list[str]]], tuple[int, dict[str, str], bytes]]


def json_answer(document: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(document).encode()


class ScriptedServer:
    """A loopback HTTP server whose answers are plain functions of (request number, query)."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.requests: list[tuple[float, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                owner.requests.append((time.monotonic(), self.path))
                count = sum(1 for _, path in owner.requests if urlsplit(path).path == url.path)
                status, headers, body = owner.routes[url.path](count, parse_qs(url.query))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[[dict[str, Route]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(routes: dict[str, Route]) -> ScriptedServer:
        servers.append(ScriptedServer(routes).__enter__())
        return servers[-1]

    yield start
    for server in servers:
        server.__exit__()


def second_page_is(answer: tuple[int, dict[str, str], bytes], resource: str) -> Route:
    """A resource of 4 items in pages of 2 whose second page is `answer`."""

    def route(count: int, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        if query.get("skip") == ["0"]:
            return json_answer({resource: [{"id": 1}, {"id": 2}], "total": 4, "skip": 0, "limit": 2})
        return answer

    return route


HTML = (200, {"Content-Type": "text/html"}, b"<html><body>Service temporarily degraded</body></html>")


@pytest.mark.parametrize(
    ("answer", "field", "problem"),
    [
        (HTML, "body", "response is not JSON (text/html)"),
        (json_answer({"users": [], "skip": 2, "limit": 0}), "total", "missing"),
        (
            json_answer({"items": [{"id": 3}], "total": 4}),
            "users",
            "missing; the response has keys ['items', 'total']",
        ),
        (
            json_answer({"users": [{"id": 3}], "total": "4"}),
            "total",
            "expected a non-negative integer, got '4'",
        ),
        (json_answer({"users": {"id": 3}, "total": 4}), "users", "expected a list of items, got dict"),
        (json_answer([{"id": 3}]), "body", "expected a JSON object, got list"),
    ],
)
def test_wrongly_shaped_answers_name_resource_page_and_field(
    scripted: Callable[[dict[str, Route]], ScriptedServer],
    answer: tuple[int, dict[str, str], bytes],
    field: str,
    problem: str,
) -> None:
    server = scripted({"/users": second_page_is(answer, "users")})
    with DummyJsonClient(api(server.url, page_size=2)) as client, pytest.raises(SourceError) as caught:
        list(read_pages(client, "users"))
    error = caught.value
    assert (error.resource, error.page, error.field) == ("users", 2, field)
    assert str(error).startswith(f"resource 'users', page 2, field '{field}': {problem}")
    assert len(server.requests) == 2  # not retried: asking again would not change the shape


def test_a_client_error_is_not_retried(scripted: Callable[[dict[str, Route]], ScriptedServer]) -> None:
    server = scripted({"/carts": lambda count, query: json_answer({"message": "Route not found"}, 404)})
    with (
        DummyJsonClient(api(server.url)) as client,
        pytest.raises(SourceError, match=r"HTTP 404.*Route not found"),
    ):
        client.fetch_page("carts", 0, 30, 1)
    assert len(server.requests) == 1


def test_server_errors_stop_after_max_attempts(
    scripted: Callable[[dict[str, Route]], ScriptedServer],
) -> None:
    server = scripted({"/carts": lambda count, query: json_answer({"message": "down"}, 503)})
    with DummyJsonClient(api(server.url, max_attempts=4)) as client:
        with pytest.raises(
            SourceUnavailableError, match=r"resource 'carts', page 3: gave up after 4 attempts"
        ) as error:
            client.fetch_page("carts", 60, 30, 3)
        assert client.retries == 3
    assert len(server.requests) == 4
    assert not is_transient(error.value), "the page's budget is spent: no outer layer may retry it again"


def test_a_source_that_answered_then_flickers_gets_the_whole_page_budget(
    scripted: Callable[[dict[str, Route]], ScriptedServer],
) -> None:
    server = scripted(
        {"/carts": lambda count, query: json_answer({"carts": [], "total": 0}, 200 if count == 1 else 503)}
    )
    with DummyJsonClient(api(server.url, max_attempts=6)) as client:
        client.fetch_page("carts", 0, 30, 1)
        with pytest.raises(SourceUnavailableError, match="gave up after 6 attempts"):
            client.fetch_page("carts", 30, 30, 2)
    assert len(server.requests) == 1 + 6


def test_an_unreachable_source_fails_after_the_first_contact_budget_naming_the_url() -> None:
    """Nothing listens on the port: two quick attempts, not the whole page budget, and one line naming the URL."""
    from ecom_local.emulators.ports import free_port
    from ecom_pipeline.retry_policy import SOURCE_FIRST_CONTACT

    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with DummyJsonClient(api(url, max_attempts=8)) as client:
        with pytest.raises(SourceUnavailableError) as error:
            client.fetch_page("users", 0, 30, 1)
        assert client.retries == SOURCE_FIRST_CONTACT.attempts - 1
    assert time.monotonic() - started < 15
    message = str(error.value)
    assert f"cannot reach the source API at {url}" in message and "\n" not in message
    assert "ECOM_API_BASE_URL" in message
    assert not is_transient(error.value)


def test_retry_after_is_honoured(scripted: Callable[[dict[str, Route]], ScriptedServer]) -> None:
    def route(count: int, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        if count == 1:
            return (
                429,
                {"Retry-After": "0.4", "Content-Type": "application/json"},
                b'{"message": "slow down"}',
            )
        return json_answer({"carts": [], "total": 0, "skip": 0, "limit": 0})

    server = scripted({"/carts": route})
    with DummyJsonClient(api(server.url, backoff_initial_seconds=0.001)) as client:
        assert client.fetch_page("carts", 0, 30, 1).total == 0
    (first, _), (second, _) = server.requests
    assert second - first >= 0.4  # exponential backoff alone would have waited ~1 ms


def test_a_total_the_items_do_not_reach_fails(scripted: Callable[[dict[str, Route]], ScriptedServer]) -> None:
    def route(count: int, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        skip = int(query["skip"][0])
        items = [{"id": skip + 1}, {"id": skip + 2}] if skip < 4 else []
        return json_answer({"products": items, "total": 6, "skip": skip, "limit": len(items)})

    server = scripted({"/products": route})
    with DummyJsonClient(api(server.url, page_size=2)) as client, pytest.raises(SourceError) as caught:
        list(read_pages(client, "products"))
    assert (caught.value.resource, caught.value.field) == ("products", "total")
    assert "received 4 items in 3 pages, but the source reported 6" in str(caught.value)


def serving(items: int, *, cap: int | None = None, reported: int | None = None) -> Route:
    """`/products` holding `items` items, pages capped at `cap` items, `total` reported as `reported`."""

    def route(count: int, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        skip, limit = int(query["skip"][0]), int(query["limit"][0]) or items
        served = [{"id": n + 1} for n in range(skip, min(skip + min(limit, cap or limit), items))]
        return json_answer({"products": served, "total": items if reported is None else reported, "skip": skip})

    return route


def asked(server: ScriptedServer) -> list[tuple[int, int]]:
    """The (skip, limit) of every request, in the order they arrived."""
    queries = [parse_qs(urlsplit(path).query) for _, path in server.requests]
    return sorted((int(query["skip"][0]), int(query["limit"][0])) for query in queries)


def test_a_server_that_caps_the_page_size_is_followed(
    scripted: Callable[[dict[str, Route]], ScriptedServer],
) -> None:
    server = scripted({"/products": serving(45, cap=20)})
    with DummyJsonClient(api(server.url, page_size=100)) as client:
        pages = list(read_pages(client, "products"))
    assert [len(page.items) for page in pages] == [20, 20, 5]
    assert asked(server) == [(0, 100), (20, 20), (40, 20)]


def test_an_empty_page_ends_the_walk_even_when_total_promises_more(
    scripted: Callable[[dict[str, Route]], ScriptedServer],
) -> None:
    server = scripted({"/products": serving(10, reported=1000)})
    with DummyJsonClient(api(server.url, page_size=10, concurrency=1)) as client, pytest.raises(SourceError) as caught:
        list(read_pages(client, "products"))
    assert "received 10 items in 2 pages, but the source reported 1000" in str(caught.value)
    # 100 pages were planned; at most the one after the empty page (already in flight, concurrency 1) is asked too.
    assert asked(server)[:2] == [(0, 10), (10, 10)] and len(server.requests) <= 3


def test_a_page_is_parsed_only_when_read(scripted: Callable[[dict[str, Route]], ScriptedServer]) -> None:
    server = scripted({"/users": second_page_is(HTML, "users")})
    with DummyJsonClient(api(server.url, page_size=2)) as client:
        pages = client.page_stream("users")
        first, second = list(pages)  # the second body is not JSON, and nothing has read it yet
        assert (first.total, pages.total) == (4, 4)
        assert second.body == HTML[2]  # byte for byte as the server sent it
        assert second.sha256 == hashlib.sha256(HTML[2]).hexdigest()
        assert HTML[2] not in repr(second).encode()
        with pytest.raises(SourceError, match=r"page 2, field 'body': response is not JSON \(text/html\)"):
            pages.count(second)


def test_pages_known_from_an_earlier_run_are_counted_unparsed(
    scripted: Callable[[dict[str, Route]], ScriptedServer],
) -> None:
    def route(count: int, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        if query.get("skip") == ["0"]:
            return json_answer({"products": [{"id": 1}, {"id": 2}], "total": 6})
        return HTML  # pages 2 and 3 would fail if anything parsed them

    server = scripted({"/products": route})
    with DummyJsonClient(api(server.url, page_size=2)) as client:
        pages = client.page_stream("products")
        held = list(pages)
        assert [page.number for page in held] == [1, 2, 3]
        assert not pages.count_unparsed(held, 5)  # three full pages hold six items: nothing is counted
        assert pages.count_unparsed(held, 6)
        pages.finish()

        pages = client.page_stream("products")
        held = list(pages)
        assert pages.count_unparsed(held[:2], 4)
        with pytest.raises(SourceError, match="received 4 items in 2 pages, but the source reported 6"):
            pages.finish()


def test_invalid_records_are_quarantined_with_reasons(
    scripted: Callable[[dict[str, Route]], ScriptedServer],
) -> None:
    line = {"id": 5, "title": "Lamp", "price": 20.5, "quantity": 1, "total": 20.5}
    carts = [
        {"id": 1, "userId": 1, "products": [line], "total": 20.5, "couponSecret": "c-1"},
        {"id": 2, "userId": 1, "products": [{**line, "quantity": 0}], "couponSecret": "c-2"},
        "not a cart",
        {"id": -3, "userId": 1, "products": [line]},
        {"id": 1, "userId": 1, "products": [line], "total": 20.5},  # a duplicate: kept, the transform dedupes
    ]
    server = scripted({"/carts": lambda count, query: json_answer({"carts": carts, "total": 5, "skip": 0})})
    with DummyJsonClient(api(server.url, page_size=0)) as client:
        records = read_records(client, "carts")
    assert [(r.page, r.reason) for r in records] == [
        (1, None),
        (1, "products.0.quantity: Input should be greater than or equal to 1"),
        (1, "record: expected an object, got str"),
        (1, "id: Input should be greater than 0"),
        (1, None),
    ]
    assert records[1].record == {"id": 2, "userId": 1, "products": [{**line, "quantity": 0}]}  # sanitized
    assert records[2].record is None
    assert "couponSecret" not in json.dumps([r.record for r in records])


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from email.utils import format_datetime

    from ecom_pipeline.extract.client import _retry_after_seconds

    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert _retry_after_seconds("2.5") == 2.5
    assert 25 <= (_retry_after_seconds(soon) or 0) <= 30
    assert _retry_after_seconds("-4") == 0.0
    assert _retry_after_seconds("soon") is None
    assert _retry_after_seconds(None) is None
