"""The API server speaks DummyJSON: checked over real HTTP against the real snapshot served from a folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
import requests

from ecom_local.api import ApiServer, DataSource, DirectorySource, SyntheticSource, UnknownResourceError


@pytest.fixture(scope="module")
def real_files(dummyjson_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The snapshot's records, read straight from the files (the expected answers)."""
    return {
        name: json.loads((dummyjson_dir / f"{name}.json").read_text())[name] for name in ("users", "products", "carts")
    }


@pytest.fixture(scope="module")
def api(dummyjson_dir: Path) -> Iterator[ApiServer]:
    with ApiServer(DirectorySource(dummyjson_dir)) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def get(http: requests.Session, api: ApiServer, target: str) -> requests.Response:
    return http.get(f"{api.url}{target}", timeout=10)


def test_default_page_is_the_first_30(http: requests.Session, api: ApiServer, real_files: dict) -> None:
    body = get(http, api, "/users").json()
    assert [user["id"] for user in body["users"]] == list(range(1, 31))
    assert (body["total"], body["skip"], body["limit"]) == (208, 0, 30)
    assert body["users"] == real_files["users"][:30]


def test_skip_and_limit_select_a_window(http: requests.Session, api: ApiServer) -> None:
    body = get(http, api, "/products?skip=10&limit=5").json()
    assert [product["id"] for product in body["products"]] == [11, 12, 13, 14, 15]
    assert (body["total"], body["skip"], body["limit"]) == (194, 10, 5)


def test_limit_zero_returns_everything(http: requests.Session, api: ApiServer, real_files: dict) -> None:
    body = get(http, api, "/carts?limit=0").json()
    assert body["carts"] == real_files["carts"]
    assert body["limit"] == body["total"] == 208
    assert sum(len(cart["products"]) for cart in body["carts"]) == 800


def test_limit_above_total_returns_the_rest_and_reports_its_size(http: requests.Session, api: ApiServer) -> None:
    body = get(http, api, "/carts?limit=1000&skip=200").json()
    assert [cart["id"] for cart in body["carts"]] == list(range(201, 209))
    assert (body["total"], body["skip"], body["limit"]) == (208, 200, 8)


def test_skip_past_the_end_is_an_empty_page(http: requests.Session, api: ApiServer) -> None:
    body = get(http, api, "/users?skip=500").json()
    assert body == {"users": [], "total": 208, "skip": 500, "limit": 0}


def test_paging_rebuilds_each_file_exactly(http: requests.Session, api: ApiServer, real_files: dict) -> None:
    for resource, expected in real_files.items():
        records: list[dict[str, Any]] = []
        while True:
            page = get(http, api, f"/{resource}?limit=50&skip={len(records)}").json()
            records += page[resource]
            if len(records) >= page["total"]:
                break
        assert records == expected, resource


def test_select_keeps_only_the_fields_and_id(http: requests.Session, api: ApiServer, real_files: dict) -> None:
    users = get(http, api, "/users?select=firstName,email&limit=3").json()["users"]
    expected = [{"id": u["id"], "firstName": u["firstName"], "email": u["email"]} for u in real_files["users"][:3]]
    assert users == expected
    products = get(http, api, "/products?select=title, price,nosuchfield&limit=0").json()["products"]
    assert len(products) == 194
    assert all(set(product) == {"id", "title", "price"} for product in products)


def test_select_is_ignored_on_carts(http: requests.Session, api: ApiServer, real_files: dict) -> None:
    carts = get(http, api, "/carts?select=userId&limit=2").json()["carts"]
    assert carts == real_files["carts"][:2]


def test_one_record_by_id(http: requests.Session, api: ApiServer, real_files: dict) -> None:
    assert get(http, api, "/products/7").json() == real_files["products"][6]
    assert get(http, api, "/users/3?select=email").json() == {
        "id": 3,
        "email": real_files["users"][2]["email"],
    }
    missing = get(http, api, "/carts/209")
    assert missing.status_code == 404
    assert "209" in missing.json()["message"]


@pytest.mark.parametrize("target", ["/", "/orders", "/users/1/carts", "/carts/search/extra"])
def test_unknown_paths_are_404_json(http: requests.Session, api: ApiServer, target: str) -> None:
    response = get(http, api, target)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["message"]


@pytest.mark.parametrize(
    "query", ["limit=abc", "limit=-1", "limit=1.5", "skip=-5", "skip=", "skip=ten", "limit=2&skip=x"]
)
def test_bad_paging_parameters_are_400_json(http: requests.Session, api: ApiServer, query: str) -> None:
    response = get(http, api, f"/users?{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert "expected an integer" in response.json()["message"]


def test_bad_id_is_400(http: requests.Session, api: ApiServer) -> None:
    response = get(http, api, "/users/abc")
    assert response.status_code == 400
    assert "abc" in response.json()["message"]


def test_writes_are_refused_in_json(http: requests.Session, api: ApiServer) -> None:
    response = http.post(f"{api.url}/carts", json={}, timeout=10)
    assert response.status_code == 405
    assert response.json()["message"]


def test_keep_alive_serves_many_requests_on_one_connection(api: ApiServer) -> None:
    host, port = api.url.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=10)
    sockets = []
    for skip in range(5):
        connection.request("GET", f"/carts?limit=1&skip={skip}")
        response = connection.getresponse()
        assert json.loads(response.read())["carts"][0]["id"] == skip + 1
        sockets.append(connection.sock)  # http.client drops the socket when the server says "close"
    connection.close()
    assert sockets[0] is not None
    assert all(sock is sockets[0] for sock in sockets)


def test_serves_many_concurrent_clients(api: ApiServer, real_files: dict) -> None:
    failures: list[str] = []

    def client(worker: int) -> None:
        with requests.Session() as session:
            for round_number in range(15):
                skip = (worker * 15 + round_number) % 200
                body = session.get(f"{api.url}/carts?limit=5&skip={skip}", timeout=10).json()
                if body["carts"] != real_files["carts"][skip : skip + 5]:
                    failures.append(f"worker {worker} skip {skip}")

    threads = [threading.Thread(target=client, args=(worker,)) for worker in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []


def test_request_times_are_recorded_in_order(dummyjson_dir: Path) -> None:
    with ApiServer(DirectorySource(dummyjson_dir)) as server, requests.Session() as session:
        for _ in range(4):
            session.get(f"{server.url}/users?limit=1", timeout=10)
        times = server.request_times
    assert len(times) == 4
    assert times == sorted(times)


def test_server_is_quiet_on_stderr(dummyjson_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with ApiServer(DirectorySource(dummyjson_dir)) as server, requests.Session() as session:
        for target in ("/users", "/nowhere", "/users?limit=-3"):
            session.get(f"{server.url}{target}", timeout=10)
    assert capfd.readouterr().err == ""


def test_synthetic_source_over_http_matches_its_items() -> None:
    source = SyntheticSource(users=20, products=30, carts=45, seed=5)
    with ApiServer(source) as server, requests.Session() as session:
        body = session.get(f"{server.url}/carts?skip=40&limit=10", timeout=10).json()
    assert body["carts"] == source.items("carts", 40, 5)
    assert (body["total"], body["limit"]) == (45, 5)


def test_url_before_start_is_an_error(dummyjson_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="before start"):
        _ = ApiServer(DirectorySource(dummyjson_dir)).url


def test_directory_source_names_unknown_resources(dummyjson_dir: Path) -> None:
    source = DirectorySource(dummyjson_dir)
    with pytest.raises(UnknownResourceError, match="available: users, products, carts"):
        source.total("orders")
    with pytest.raises(KeyError):  # UnknownResourceError is a KeyError for callers that expect one
        source.items("orders", 0, 1)


def test_directory_source_hands_out_copies(dummyjson_dir: Path) -> None:
    source = DirectorySource(dummyjson_dir)
    first = source.items("carts", 0, 1)[0]
    first["products"].clear()
    assert source.items("carts", 0, 1)[0]["products"]


def test_directory_source_needs_the_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"users\.json"):
        DirectorySource(tmp_path)


def test_serve_forever_blocks_until_interrupted(dummyjson_dir: Path) -> None:
    """The CLI path: a child process serves until SIGINT, then exits cleanly."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from ecom_local.api import DirectorySource, serve_forever\n"
        "source = DirectorySource(Path(sys.argv[1]))\n"
        "serve_forever(source, '127.0.0.1', 0, on_ready=lambda url: print(url, flush=True))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(dummyjson_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/products?limit=2", timeout=60).json()["limit"] == 2
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) == 0
        assert child.stderr is not None and child.stderr.read() == ""
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_both_sources_satisfy_the_protocol(dummyjson_dir: Path) -> None:
    assert isinstance(DirectorySource(dummyjson_dir), DataSource)
    assert isinstance(SyntheticSource(), DataSource)
