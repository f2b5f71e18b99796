"""Landing in the raw zone (moto S3, real client over loopback HTTP): chunks of pages, manifest as commit point,
quarantine, no secrets, re-runs."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from land_support import (
    DAY,
    FlipsTotal,
    ListSource,
    all_objects,
    api_settings,
    cart,
    land,
    profile_of,
    read_landed_records,
    read_quarantined_records,
)

from ecom_local.api import ApiServer, DirectorySource
from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import LandingError, SourceError
from ecom_pipeline.extract import DummyJsonClient, sanitize
from ecom_pipeline.land.raw_parts import json_line
from ecom_pipeline.land.raw_zone import read_manifest
from ecom_pipeline.settings import RESOURCES, StorageSettings
from ecom_pipeline.summary import new_run_id

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


@pytest.fixture(scope="module")
def real_api(dummyjson_dir: Path) -> Any:
    with ApiServer(DirectorySource(dummyjson_dir)) as server:
        yield server


def source_records(dummyjson_dir: Path, resource: str) -> list[dict[str, Any]]:
    return json.loads((dummyjson_dir / f"{resource}.json").read_text(encoding="utf-8"))[resource]


def test_chunks_of_pages_become_parts_and_the_manifest_describes_them(
    s3: Any, storage: StorageSettings, dummyjson_dir: Path, real_api: ApiServer
) -> None:
    users = source_records(dummyjson_dir, "users")
    run_id = "20260617T101500Z-ab12cd"
    api = api_settings(real_api.url, page_size=25)  # 50 records a part -> 2 pages a chunk
    result = land(s3, storage, api, "users", run_id)

    folder = "dummyjson/users/ingest_date=2026-06-17"
    assert result.parts == [f"{folder}/run_id={run_id}/part-{n:05d}.jsonl.gz" for n in range(5)]
    assert result.manifest_key == f"{folder}/_manifest.json"
    assert (result.records, result.quarantined, result.quarantine_parts) == (208, 0, [])
    assert (result.reused_parts, result.reused_records) == (0, 0)
    objects = all_objects(s3, storage.raw_bucket)
    assert set(objects) == {*result.parts, result.manifest_key}

    manifest = json.loads(objects[result.manifest_key])
    assert manifest == read_manifest(s3, storage, "users", DAY)
    keys = ("resource", "ingest_date", "run_id", "record_count", "quarantine_count", "page_size", "pages_per_part")
    assert {k: manifest[k] for k in keys} == {
        "resource": "users",
        "ingest_date": "2026-06-17",
        "run_id": run_id,
        "record_count": 208,
        "quarantine_count": 0,
        "page_size": 25,
        "pages_per_part": 2,
    }
    assert manifest["source_url"] == f"{real_api.url}/users"
    assert manifest["source_total"] == 208
    assert manifest["started_at"] <= manifest["finished_at"]
    assert [(part["chunk"], part["records"]) for part in manifest["parts"]] == [
        (0, 50), (1, 50), (2, 50), (3, 50), (4, 8),
    ]  # fmt: skip
    # Each chunk's source digest is over the sha256s of its pages' bodies, exactly as the API sent them.
    with DummyJsonClient(api) as client:
        page_digests = [hashlib.sha256(page.body).hexdigest() for page in client.page_stream("users")]
    fields = [profile_of("users", users[start : start + 50]) for start in range(0, 208, 50)]  # paths, types seen
    assert manifest["chunks"] == [
        {
            "chunk": n,
            "pages": [2 * n + 1, min(2 * n + 2, 9)],
            "source_items": 50 if n < 4 else 8,
            "source_sha256": hashlib.sha256("".join(page_digests[2 * n : 2 * n + 2]).encode()).hexdigest(),
            "first_id": 50 * n + 1,  # users are paged in id order, so the landing proves the ids unique
            "last_id": min(50 * n + 50, 208),
            "ids_increasing": True,
            "fields": fields[n],
        }
        for n in range(5)
    ]
    assert manifest["ids_strictly_increasing"] is True
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
    assert result.model_dump(mode="json")["ingest_date"] == "2026-06-17"
    assert result.location == f"s3://{storage.raw_bucket}/{folder}/"


def test_no_sensitive_field_or_value_is_stored(
    s3: Any, storage: StorageSettings, dummyjson_dir: Path, real_api: ApiServer
) -> None:
    api = api_settings(real_api.url, page_size=50)
    for resource in RESOURCES:
        land(s3, storage, api, resource, new_run_id())

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
    assert len(objects) == 3 + 5 + 4 + 5  # manifests + users, products, carts parts of one 50-record page each
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
    carts = [cart(n, n % 3) for n in range(1, 61)]
    with ApiServer(ListSource(carts=[*carts, "not a cart"])) as server:
        result = land(s3, storage, api_settings(server.url, page_size=100), "carts", "20260617T000000Z-000001")

    reason = "products.0.quantity: Input should be greater than or equal to 1"
    assert (result.records, result.quarantined) == (40, 21)
    assert result.quarantine_reasons == {reason: 20, "record: expected an object, got str": 1}
    manifest = read_manifest(s3, storage, "carts", DAY)
    assert manifest is not None
    assert [(p["file"], p["chunk"], p["records"]) for p in manifest["quarantine_parts"]] == [
        ("run_id=20260617T000000Z-000001/quarantine-00000.jsonl.gz", 0, 21)
    ]
    assert manifest["quarantine_parts"][0]["reasons"] == result.quarantine_reasons
    assert manifest["chunks"][0]["source_items"] == 61
    quarantined = list(read_quarantined_records(s3, storage, "carts", DAY))
    assert quarantined[0] == {"reason": reason, "page": 1, "record": sanitize("carts", carts[2])}
    assert quarantined[-1] == {"reason": "record: expected an object, got str", "page": 1, "record": None}
    assert [cart["id"] for cart in read_landed_records(s3, storage, "carts", DAY)] == [n for n in range(1, 61) if n % 3]


def test_a_chunk_of_only_quarantined_records_has_no_record_part(s3: Any, storage: StorageSettings) -> None:
    # Pages of 25, two pages a chunk: chunk 0 is all invalid, chunk 1 mixed, chunk 2 (one page) all invalid.
    carts = [cart(n, 0 if n <= 50 or n > 100 or n % 2 else 1) for n in range(1, 126)]
    with ApiServer(ListSource(carts=carts)) as server:
        result = land(s3, storage, api_settings(server.url, page_size=25), "carts", "20260617T000000Z-000002")

    manifest = read_manifest(s3, storage, "carts", DAY)
    assert manifest is not None
    assert [(c["chunk"], c["pages"], c["source_items"]) for c in manifest["chunks"]] == [
        (0, [1, 2], 50), (1, [3, 4], 50), (2, [5, 5], 25),
    ]  # fmt: skip
    # Chunk 0 keeps its (empty) record part: a resource always has one, and chunk 0's depends on its source only.
    assert [(p["file"].split("/")[1], p["chunk"], p["records"]) for p in manifest["parts"]] == [
        ("part-00000.jsonl.gz", 0, 0),
        ("part-00001.jsonl.gz", 1, 25),
    ]
    assert [(p["chunk"], p["records"]) for p in manifest["quarantine_parts"]] == [(0, 50), (1, 25), (2, 25)]
    assert (result.records, result.quarantined) == (25, 100)
    assert [c["id"] for c in read_landed_records(s3, storage, "carts", DAY)] == list(range(52, 101, 2))
    assert [line["record"]["id"] for line in read_quarantined_records(s3, storage, "carts", DAY)][-26:] == [
        99,
        *range(101, 126),
    ]


def test_a_rerun_leaves_only_the_newest_run(s3: Any, storage: StorageSettings, dummyjson_dir: Path) -> None:
    source = ListSource(products=source_records(dummyjson_dir, "products"))
    with ApiServer(source) as server:
        api = api_settings(server.url, page_size=50)
        first = land(s3, storage, api, "products", "20260617T080000Z-aaaaaa")
        source.records["products"] = source.records["products"][:120]  # another total: nothing can be reused
        second = land(s3, storage, api, "products", "20260617T090000Z-bbbbbb")

    keys = set(all_objects(s3, storage.raw_bucket))
    assert keys == {*second.parts, second.manifest_key}
    assert {key.split("/")[3] for key in second.parts} == {"run_id=20260617T090000Z-bbbbbb"}
    assert not keys & set(first.parts)
    assert second.reused_parts == 0
    manifest = read_manifest(s3, storage, "products", DAY)
    assert manifest is not None and manifest["run_id"] == "20260617T090000Z-bbbbbb"
    assert [p["id"] for p in read_landed_records(s3, storage, "products", DAY)] == list(range(1, 121))


def test_equal_content_gives_an_equal_checksum(
    s3: Any, storage: StorageSettings, dummyjson_dir: Path, real_api: ApiServer
) -> None:
    api = api_settings(real_api.url, page_size=20)
    # Separate raw zones, so the second run lands everything again rather than reusing the first one's parts.
    zones = [storage.model_copy(update={"raw_prefix": f"zone-{n}"}) for n in range(2)]
    first, second = (land(s3, zone, api, "carts", new_run_id()) for zone in zones)
    assert first.reused_parts == second.reused_parts == 0
    assert first.content_sha256 == second.content_sha256
    with ApiServer(ListSource(carts=source_records(dummyjson_dir, "carts")[1:])) as server:
        third = land(s3, zones[0], api_settings(server.url, page_size=20), "carts", new_run_id())
    assert third.content_sha256 != first.content_sha256


def test_a_failed_run_keeps_the_committed_one(s3: Any, storage: StorageSettings, dummyjson_dir: Path) -> None:
    users = source_records(dummyjson_dir, "users")
    source = FlipsTotal(flip_at=10**9, users=list(users))
    with ApiServer(source) as server:
        api = api_settings(server.url, page_size=25, concurrency=1)
        committed = land(s3, storage, api, "users", "20260617T080000Z-aaaaaa")
        # Chunk 0 changes (its part is uploaded again), chunk 1 is reused, then page 6 reports another total.
        source.records["users"][0] = {**users[0], "age": 99}
        source.flip_at = 100
        with pytest.raises(SourceError, match=r"page 6, field 'total': changed from 208 to 209 during extraction"):
            land(s3, storage, api, "users", "20260617T090000Z-bbbbbb")
    assert set(all_objects(s3, storage.raw_bucket)) == {*committed.parts, committed.manifest_key}
    assert list(read_landed_records(s3, storage, "users", DAY)) == [sanitize("users", u) for u in users]


def test_s3_failures_become_landing_errors(s3_emulator: S3Emulator, real_api: ApiServer) -> None:
    missing = StorageSettings(raw_bucket="no-such-bucket-for-landing", aws_endpoint_url=s3_emulator.endpoint_url)
    api = api_settings(real_api.url, page_size=100)
    with pytest.raises(LandingError, match="s3://no-such-bucket-for-landing/dummyjson/users"):
        land(make_s3_client(missing), missing, api, "users", "r1")


def test_nothing_landed_reads_as_none_or_error(s3: Any, storage: StorageSettings) -> None:
    assert read_manifest(s3, storage, "carts", DAY) is None
    with pytest.raises(LandingError, match="nothing landed for carts on 2026-06-17"):
        list(read_landed_records(s3, storage, "carts", DAY))


def test_an_empty_resource_still_gets_one_part(s3: Any, storage: StorageSettings) -> None:
    with ApiServer(ListSource(carts=[])) as server:
        result = land(s3, storage, api_settings(server.url, page_size=30), "carts", "20260617T000000Z-000000")
    assert len(result.parts) == 1 and result.records == 0
    assert list(read_landed_records(s3, storage, "carts", DAY)) == []
    manifest = read_manifest(s3, storage, "carts", DAY)
    assert manifest is not None
    assert [(c["chunk"], c["pages"], c["source_items"]) for c in manifest["chunks"]] == [(0, [1, 1], 0)]


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
