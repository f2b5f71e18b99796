"""Landing in the raw zone (moto S3): parts, manifest as commit point, quarantine, no secrets, re-runs."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ecom_pipeline.exceptions import LandingError, SourceError
from ecom_pipeline.extract import DummyJsonClient, ExtractedRecord, extract_records, sanitize, validate_record
from ecom_pipeline.land import (
    json_line,
    land_resource,
    make_s3_client,
    new_run_id,
    read_landed_records,
    read_manifest,
    read_quarantined_records,
)
from ecom_pipeline.runtime.s3 import S3Emulator
from ecom_pipeline.settings import RESOURCES, ApiSettings, StorageSettings
from ecom_pipeline.source import ApiServer, DirectorySource

DAY = date(2026, 6, 17)
FORBIDDEN_KEYS = ("password", "ssn", "macAddress", "userAgent", "cardNumber", "iban", "wallet")


@pytest.fixture
def storage(s3_emulator: S3Emulator, s3_buckets: dict[str, str]) -> StorageSettings:
    return StorageSettings(
        raw_bucket=s3_buckets["raw"],
        curated_bucket=s3_buckets["curated"],
        aws_endpoint_url=s3_emulator.endpoint_url,
        part_max_records=50,
    )


@pytest.fixture
def s3(storage: StorageSettings) -> Any:
    return make_s3_client(storage)


def source_records(dummyjson_dir: Path, resource: str) -> list[dict[str, Any]]:
    return json.loads((dummyjson_dir / f"{resource}.json").read_text(encoding="utf-8"))[resource]


def extracted(resource: str, records: list[Any], page: int = 1) -> Iterator[ExtractedRecord]:
    """What the extract stage yields for `records`, without the HTTP round trip."""
    for record in records:
        clean = sanitize(resource, record)
        yield ExtractedRecord(resource, page, clean, validate_record(resource, clean))


def land(s3: Any, storage: StorageSettings, resource: str, records: Any, run_id: str) -> Any:
    return land_resource(
        records,
        s3_client=s3,
        storage=storage,
        resource=resource,
        ingest_date=DAY,
        run_id=run_id,
        source_url=f"http://127.0.0.1:1/{resource}",
    )


def all_objects(s3: Any, bucket: str) -> dict[str, bytes]:
    listing = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    keys = [obj["Key"] for page in listing for obj in page.get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def test_parts_are_split_and_the_manifest_describes_them(
    s3: Any, storage: StorageSettings, dummyjson_dir: Path
) -> None:
    users = source_records(dummyjson_dir, "users")
    run_id = "20260617T101500Z-ab12cd"
    result = land(s3, storage, "users", extracted("users", users), run_id)

    folder = "dummyjson/users/ingest_date=2026-06-17"
    assert result.parts == [f"{folder}/run_id={run_id}/part-{n:05d}.jsonl.gz" for n in range(5)]
    assert result.manifest_key == f"{folder}/_manifest.json"
    assert (result.records, result.quarantined, result.quarantine_parts) == (208, 0, [])
    objects = all_objects(s3, storage.raw_bucket)
    assert set(objects) == {*result.parts, result.manifest_key}

    manifest = json.loads(objects[result.manifest_key])
    assert manifest == read_manifest(s3, storage, "users", DAY)
    assert {k: manifest[k] for k in ("resource", "ingest_date", "run_id", "record_count", "quarantine_count")} == {
        "resource": "users",
        "ingest_date": "2026-06-17",
        "run_id": run_id,
        "record_count": 208,
        "quarantine_count": 0,
    }
    assert manifest["source_url"] == "http://127.0.0.1:1/users"
    assert manifest["started_at"] <= manifest["finished_at"]
    assert [part["records"] for part in manifest["parts"]] == [50, 50, 50, 50, 8]
    lines: list[bytes] = []
    for part in manifest["parts"]:
        body = objects[f"{folder}/{part['file']}"]
        assert part["bytes"] == len(body)
        assert part["sha256"] == hashlib.sha256(body).hexdigest()
        lines += gzip.decompress(body).splitlines()
    assert manifest["bytes"] == result.bytes == sum(part["bytes"] for part in manifest["parts"])
    expected_sha = hashlib.sha256("".join(p["sha256"] for p in manifest["parts"]).encode()).hexdigest()
    assert manifest["content_sha256"] == result.content_sha256 == expected_sha
    # One compact UTF-8 JSON object per line, in source order, sanitized and otherwise as received.
    assert [json.loads(line) for line in lines] == [sanitize("users", user) for user in users]
    assert all(line == json_line(json.loads(line)).rstrip(b"\n") for line in lines)
    assert list(read_landed_records(s3, storage, "users", DAY)) == [sanitize("users", u) for u in users]
    assert result.as_dict()["ingest_date"] == "2026-06-17"


def test_no_sensitive_field_or_value_is_stored(
    s3: Any, storage: StorageSettings, dummyjson_dir: Path, s3_emulator: S3Emulator
) -> None:
    source = DirectorySource(dummyjson_dir)
    with ApiServer(source) as server:
        api = ApiSettings(base_url=server.url, page_size=50, rate_limit_per_second=1000.0)
        with DummyJsonClient(api) as client:
            for resource in RESOURCES:
                land(s3, storage, resource, extract_records(client, resource), new_run_id())

    secrets: set[str] = set()
    for user in source_records(dummyjson_dir, "users"):
        secrets |= {
            user["password"],
            user["ssn"],
            user["ein"],
            user["ip"],
            user["macAddress"],
            user["userAgent"],
        }
        secrets |= {str(value) for value in (*user["bank"].values(), *user["crypto"].values())}
    assert len(secrets) > 1000
    objects = all_objects(s3, storage.raw_bucket)
    assert len(objects) == 3 + 5 + 4 + 5  # manifests + users, products, carts parts of <= 50 records
    text = "\n".join(
        (gzip.decompress(body) if key.endswith(".gz") else body).decode("utf-8") for key, body in objects.items()
    )
    assert [key for key in FORBIDDEN_KEYS if f'"{key}"' in text] == []
    # Bare words too, except "ssn", which real company names contain ("Weissnat, Wyman and Turner").
    assert [word for word in FORBIDDEN_KEYS if word != "ssn" and word.lower() in text.lower()] == []
    assert [secret for secret in secrets if secret in text] == []
    landed_carts = list(read_landed_records(s3, storage, "carts", DAY))
    assert sum(len(cart["products"]) for cart in landed_carts) == 800


def test_quarantined_records_go_to_their_own_parts(s3: Any, storage: StorageSettings) -> None:
    line = {"id": 5, "title": "Lamp", "price": 20.5, "quantity": 1}
    carts = [{"id": n, "userId": 1, "products": [{**line, "quantity": n % 3}], "password": "p"} for n in range(1, 61)]
    records = [
        *extracted("carts", carts),
        ExtractedRecord("carts", 4, None, "record: expected an object, got str"),
    ]
    result = land(s3, storage, "carts", records, "20260617T000000Z-000001")

    reason = "products.0.quantity: Input should be greater than or equal to 1"
    assert (result.records, result.quarantined) == (40, 21)
    assert result.quarantine_reasons == {reason: 20, "record: expected an object, got str": 1}
    manifest = read_manifest(s3, storage, "carts", DAY)
    assert manifest is not None
    assert [(p["file"], p["records"]) for p in manifest["quarantine_parts"]] == [
        ("run_id=20260617T000000Z-000001/quarantine-00000.jsonl.gz", 21)
    ]
    assert manifest["quarantine_parts"][0]["reasons"] == result.quarantine_reasons
    quarantined = list(read_quarantined_records(s3, storage, "carts", DAY))
    assert quarantined[0] == {"reason": reason, "page": 1, "record": sanitize("carts", carts[2])}
    assert quarantined[-1] == {"reason": "record: expected an object, got str", "page": 4, "record": None}
    assert [cart["id"] for cart in read_landed_records(s3, storage, "carts", DAY)] == [n for n in range(1, 61) if n % 3]


def test_a_rerun_leaves_only_the_newest_run(s3: Any, storage: StorageSettings, dummyjson_dir: Path) -> None:
    products = source_records(dummyjson_dir, "products")
    first = land(s3, storage, "products", extracted("products", products), "20260617T080000Z-aaaaaa")
    second = land(s3, storage, "products", extracted("products", products[:120]), "20260617T090000Z-bbbbbb")

    keys = set(all_objects(s3, storage.raw_bucket))
    assert keys == {*second.parts, second.manifest_key}
    assert {key.split("/")[3] for key in second.parts} == {"run_id=20260617T090000Z-bbbbbb"}
    assert not keys & set(first.parts)
    manifest = read_manifest(s3, storage, "products", DAY)
    assert manifest is not None and manifest["run_id"] == "20260617T090000Z-bbbbbb"
    assert [p["id"] for p in read_landed_records(s3, storage, "products", DAY)] == list(range(1, 121))


def test_equal_content_gives_an_equal_checksum(s3: Any, storage: StorageSettings, dummyjson_dir: Path) -> None:
    carts = source_records(dummyjson_dir, "carts")
    first = land(s3, storage, "carts", extracted("carts", carts), "20260617T080000Z-aaaaaa")
    second = land(s3, storage, "carts", extracted("carts", carts), "20260617T090000Z-bbbbbb")
    third = land(s3, storage, "carts", extracted("carts", carts[1:]), "20260617T100000Z-cccccc")
    assert first.content_sha256 == second.content_sha256 != third.content_sha256


def test_a_failed_run_keeps_the_committed_one(s3: Any, storage: StorageSettings, dummyjson_dir: Path) -> None:
    users = source_records(dummyjson_dir, "users")
    committed = land(s3, storage, "users", extracted("users", users), "20260617T080000Z-aaaaaa")

    def broken() -> Iterator[ExtractedRecord]:
        yield from extracted("users", users[:120])  # two full parts get uploaded before the failure
        raise SourceError("users", 4, "total", "changed from 208 to 209 during extraction")

    with pytest.raises(SourceError, match="page 4"):
        land(s3, storage, "users", broken(), "20260617T090000Z-bbbbbb")
    assert set(all_objects(s3, storage.raw_bucket)) == {*committed.parts, committed.manifest_key}
    assert len(list(read_landed_records(s3, storage, "users", DAY))) == 208


def test_s3_failures_become_landing_errors(s3_emulator: S3Emulator, dummyjson_dir: Path) -> None:
    missing = StorageSettings(raw_bucket="no-such-bucket-for-landing", aws_endpoint_url=s3_emulator.endpoint_url)
    users = source_records(dummyjson_dir, "users")[:3]
    with pytest.raises(LandingError, match="landing users run r1 in s3://no-such-bucket-for-landing"):
        land(make_s3_client(missing), missing, "users", extracted("users", users), "r1")


def test_nothing_landed_reads_as_none_or_error(s3: Any, storage: StorageSettings) -> None:
    assert read_manifest(s3, storage, "carts", DAY) is None
    with pytest.raises(LandingError, match="nothing landed for carts on 2026-06-17"):
        list(read_landed_records(s3, storage, "carts", DAY))


def test_an_empty_resource_still_gets_one_part(s3: Any, storage: StorageSettings) -> None:
    result = land(s3, storage, "carts", iter(()), "20260617T000000Z-000000")
    assert len(result.parts) == 1 and result.records == 0
    assert list(read_landed_records(s3, storage, "carts", DAY)) == []


def test_json_lines_keep_numbers_exact() -> None:
    assert json_line({"price": Decimal("12.50"), "total": Decimal("1E+2"), "x": 0.1, "name": "Zoë"}) == (
        '{"price":12.50,"total":1E+2,"x":0.1,"name":"Zoë"}\n'.encode()
    )
    assert json_line({"price": 3999.99, "qty": 3}) == b'{"price":3999.99,"qty":3}\n'
    with pytest.raises(LandingError, match="non-finite"):
        json_line({"price": Decimal("NaN")})
    with pytest.raises(LandingError, match="non-finite"):
        json_line({"price": float("inf")})


def test_run_ids_sort_by_time_and_are_unique() -> None:
    morning = new_run_id(datetime(2026, 6, 17, 10, 15, 0, tzinfo=UTC))
    assert re.fullmatch(r"20260617T101500Z-[0-9a-f]{6}", morning)
    assert new_run_id(datetime(2026, 6, 17, 10, 15, 0)) != morning  # naive = UTC, random suffix differs
    assert morning < new_run_id(datetime(2026, 6, 17, 10, 15, 1, tzinfo=UTC))


def test_s3_client_uses_the_configured_endpoint_and_region(storage: StorageSettings) -> None:
    client = make_s3_client(storage.model_copy(update={"aws_region": "eu-west-1"}))
    assert client.meta.endpoint_url == storage.aws_endpoint_url
    assert client.meta.region_name == "eu-west-1"
    keyless = storage.model_copy(update={"aws_access_key_id": None, "aws_secret_access_key": None})
    # Without keys in the settings the default AWS chain answers (here: the test environment's variables).
    assert make_s3_client(keyless).list_objects_v2(Bucket=storage.raw_bucket)["KeyCount"] == 0
