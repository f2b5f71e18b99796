"""The bad-input corpus (tests/data/bad/) through the real client and raw-zone writer, over HTTP and moto S3.

A response the pipeline cannot use fails with a clear error naming resource, page and field, and commits nothing;
a bad record is quarantined with a reason while every valid record of the same response lands.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from land_support import read_landed_records, read_quarantined_records

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import SourceError, SourceUnavailableError
from ecom_pipeline.land.ingest import ingest_resource
from ecom_pipeline.land.raw_zone import read_manifest
from ecom_pipeline.settings import Settings, load_settings

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
SENSITIVE_USER_FIELDS = ("password", "ssn", "ein", "ip", "macAddress", "userAgent", "bank", "crypto")


class CannedApi:
    """Answers every GET with one fixed status, content type and body (a misbehaving DummyJSON)."""

    def __init__(self) -> None:
        self.status, self.content_type, self.body = 200, "application/json", b""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(api.status)
                self.send_header("Content-Type", api.content_type)
                self.send_header("Content-Length", str(len(api.body)))
                self.end_headers()
                self.wfile.write(api.body)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, file: str, status: int = 200, content_type: str = "application/json") -> None:
        self.status, self.content_type, self.body = status, content_type, (BAD / file).read_bytes()


@pytest.fixture(scope="module")
def canned_api() -> Iterator[CannedApi]:
    api = CannedApi()
    thread = threading.Thread(target=api.server.serve_forever, daemon=True)
    thread.start()
    yield api
    api.server.shutdown()
    api.server.server_close()


@pytest.fixture
def settings(canned_api: CannedApi, s3_emulator: S3Emulator, s3_buckets: dict[str, str]) -> Settings:
    return load_settings().updated(
        api={"base_url": canned_api.url, "max_attempts": 2, "backoff_initial_seconds": 0.01, "timeout_seconds": 5},
        storage={"raw_bucket": s3_buckets["raw"], "aws_endpoint_url": s3_emulator.endpoint_url},
    )


RESPONSE_LEVEL = [
    # file, resource, HTTP status, content type, error type, fragments the message must contain
    ("html_error_page.html", "carts", 200, "text/html", SourceError, ["page 1, field 'body'", "not JSON (text/html)"]),
    ("html_error_page.html", "carts", 404, "text/html", SourceError, ["page 1", "HTTP 404", "Bad Gateway"]),
    ("html_error_page.html", "carts", 503, "text/html", SourceUnavailableError, ["page 1", "gave up after 2", "503"]),
    ("empty_body.json", "carts", 200, "application/json", SourceError, ["field 'body'", "not JSON", "''"]),
    ("truncated_body.json", "carts", 200, "application/json", SourceError, ["field 'body'", "not JSON"]),
    ("not_an_object.json", "carts", 200, "application/json", SourceError, ["expected a JSON object, got list"]),
    ("missing_total.json", "carts", 200, "application/json", SourceError, ["field 'total': missing"]),
    ("items_not_a_list.json", "carts", 200, "application/json", SourceError, ["field 'carts'", "got dict"]),
    ("total_as_text.json", "carts", 200, "application/json", SourceError, ["non-negative integer, got '1'"]),
    ("nan_price.json", "carts", 200, "application/json", SourceError, ["field 'body'", "not JSON"]),
    ("latin1_body.json", "users", 200, "application/json", SourceError, ["field 'body'", "not JSON"]),
]


@pytest.mark.parametrize(
    ("file", "resource", "status", "content_type", "error_type", "fragments"),
    RESPONSE_LEVEL,
    ids=[f"{case[0]}-{case[2]}" for case in RESPONSE_LEVEL],
)
def test_an_unusable_response_fails_clearly_and_commits_nothing(
    canned_api, settings, file, resource, status, content_type, error_type, fragments
) -> None:
    canned_api.serve(file, status, content_type)
    with pytest.raises(error_type) as raised:
        ingest_resource(settings, resource, "20260617T000000Z-bad000")
    message = str(raised.value)
    assert f"resource '{resource}'" in message
    for fragment in fragments:
        assert fragment in message, message
    client = make_s3_client(settings.storage)
    assert read_manifest(client, settings.storage, resource, settings.run_date) is None
    assert client.list_objects_v2(Bucket=settings.storage.raw_bucket).get("KeyCount", 0) == 0  # no stray parts


RECORD_LEVEL = {
    # file: (resource, ids that must land in order, the field each quarantined record is blamed on, in order)
    "carts_wrong_types.json": (
        "carts",
        [1, 8],
        [
            "id",
            "userId",
            "products.0.price",
            "products.0.quantity",
            "products.0.quantity",
            "products",
            "record",
            "record",
        ],
    ),
    "carts_missing_keys.json": (
        "carts",
        [16],
        ["userId", "products", "products.0.price", "products.0.quantity", "products.0.id", "id"],
    ),
    "carts_bad_quantities_prices.json": (
        "carts",
        [26],
        ["products.0.quantity", "products.0.quantity", "products.0.price", "products.0.price", "products.0.price"],
    ),
    "carts_huge_numbers.json": (
        "carts",
        [35],
        ["products.0.price", "products.0.quantity", "products.0", "id", "products.0.id"],
    ),
    "carts_duplicate_ids.json": ("carts", [41, 42, 41], []),  # copies are resolved by the transform (latest wins)
    "carts_unknown_refs.json": ("carts", [51, 52, 53], []),  # references are checked by the transform's joins
    "users_non_ascii.json": ("users", [9001, 9002, 9003, 9004], ["email"]),
    "products_wrong_types.json": ("products", [1, 7], ["price", "id", "discountPercentage", "price", "price"]),
}


@pytest.mark.parametrize("file", sorted(RECORD_LEVEL))
def test_bad_records_are_quarantined_with_a_reason_and_valid_ones_land(canned_api, settings, file) -> None:
    resource, valid_ids, blamed_fields = RECORD_LEVEL[file]
    canned_api.serve(file)
    result = ingest_resource(settings, resource, "20260617T000000Z-bad001")
    client = make_s3_client(settings.storage)
    landed = list(read_landed_records(client, settings.storage, resource, settings.run_date))
    quarantined = list(read_quarantined_records(client, settings.storage, resource, settings.run_date))

    assert [record["id"] for record in landed] == valid_ids
    assert [line["reason"].split(":")[0] for line in quarantined] == blamed_fields
    assert all(len(line["reason"].split(":", 1)[1].strip()) > 5 for line in quarantined)  # a reason, not a code
    assert (result.records, result.quarantined) == (len(valid_ids), len(blamed_fields))
    assert sum(result.quarantine_reasons.values()) == len(blamed_fields)
    # A valid record lands exactly as sent, minus the sensitive fields (non-ASCII text byte for byte).
    items = json.loads((BAD / file).read_text(encoding="utf-8"))[resource]
    sent = {item.get("id"): item for item in items if isinstance(item, dict)}
    for record in landed:
        original = dict(sent[record["id"]])
        if resource == "users":
            assert not set(SENSITIVE_USER_FIELDS) & set(record)
            original = {key: value for key, value in original.items() if key not in SENSITIVE_USER_FIELDS}
        if file != "carts_duplicate_ids.json":  # two records share an id there
            assert record == original


def test_non_ascii_text_lands_unchanged_and_unescaped(canned_api, settings, s3_emulator) -> None:
    canned_api.serve("users_non_ascii.json")
    result = ingest_resource(settings, "users", "20260617T000000Z-bad002")
    body = s3_emulator.client().get_object(Bucket=settings.storage.raw_bucket, Key=result.parts[0])["Body"].read()
    text = gzip.decompress(body).decode("utf-8")
    for name in ("Ñúñez-Çelik", "山田", "太郎", "東京", "O'Brien 🚀", "محمد", "القاهرة"):
        assert name in text
