"""A re-run over an unchanged source reuses the landed parts: only the HTTP fetch and a digest per page remain.

Real DummyJSON carts through the real client over loopback HTTP and moto S3. Pages of 10 carts and parts of 50
records make five chunks: pages 1-5, 6-10, 11-15, 16-20 and 21 (the last holds 8 carts).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
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
    read_landed_records,
    read_quarantined_records,
)

import ecom_pipeline.extract.pages as pages_module
from ecom_local.api import ApiServer
from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import SourceError
from ecom_pipeline.extract import sanitize
from ecom_pipeline.land.ingest import ingest_resource
from ecom_pipeline.land.raw_parts import ids_strictly_increasing
from ecom_pipeline.land.raw_zone import read_manifest
from ecom_pipeline.settings import Settings, StorageSettings

FIRST, SECOND, THIRD = "20260617T080000Z-aaaaaa", "20260617T090000Z-bbbbbb", "20260617T100000Z-cccccc"
FOLDER = "dummyjson/carts/ingest_date=2026-06-17"


@pytest.fixture
def storage(s3_emulator: S3Emulator, s3_buckets: dict[str, str]) -> StorageSettings:
    return StorageSettings(raw_bucket=s3_buckets["raw"], aws_endpoint_url=s3_emulator.endpoint_url, part_max_records=50)


@pytest.fixture
def s3(storage: StorageSettings) -> Any:
    return make_s3_client(storage)


@pytest.fixture
def carts(dummyjson_dir: Path) -> list[dict[str, Any]]:
    return json.loads((dummyjson_dir / "carts.json").read_text(encoding="utf-8"))["carts"]


@pytest.fixture
def source(carts: list[dict[str, Any]]) -> ListSource:
    return ListSource(carts=list(carts))


@pytest.fixture
def server(source: ListSource) -> Iterator[ApiServer]:
    with ApiServer(source) as api_server:
        yield api_server


@pytest.fixture
def work_done(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Pages parsed and items sanitized so far: the work a reused chunk must not do."""
    done: Counter[str] = Counter()
    for name, what in (("_check_page_shape", "pages parsed"), ("sanitize", "items sanitized")):
        original = getattr(pages_module, name)

        def counting(*args: Any, _what: str = what, _original: Any = original) -> Any:
            done[_what] += 1
            return _original(*args)

        monkeypatch.setattr(pages_module, name, counting)
    return done


def part_files(s3: Any, storage: StorageSettings) -> set[str]:
    """Keys of every landed part (record or quarantine), relative to the date folder."""
    return {key.removeprefix(f"{FOLDER}/") for key in all_objects(s3, storage.raw_bucket) if key.endswith(".gz")}


def manifest_of(s3: Any, storage: StorageSettings) -> dict[str, Any]:
    manifest = read_manifest(s3, storage, "carts", DAY)
    assert manifest is not None
    return manifest


def test_an_unchanged_source_is_reused_without_being_parsed(
    s3: Any,
    storage: StorageSettings,
    server: ApiServer,
    carts: list[dict[str, Any]],
    work_done: Counter[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(run_date=DAY, api=api_settings(server.url, page_size=10), storage=storage)
    first = ingest_resource(settings, "carts", FIRST)
    assert work_done == {"pages parsed": 21, "items sanitized": 208}
    landed_first, files_first = manifest_of(s3, storage), part_files(s3, storage)

    work_done.clear()
    with caplog.at_level(logging.INFO, logger="ecom_pipeline.land.landing"):
        second = ingest_resource(settings, "carts", SECOND)

    assert len(server.request_times) == 2 * 21  # every page is fetched again: its digest says whether it changed
    assert work_done == {"pages parsed": 1}  # only the first page, to learn `total`
    assert (second.reused_parts, second.reused_records) == (5, 208)
    assert (second.records, second.quarantined) == (208, 0)
    assert f"carts: 5/5 parts unchanged since run {FIRST}, reused" in caplog.text
    assert part_files(s3, storage) == files_first  # nothing uploaded, nothing deleted
    assert {file.split("/")[0] for file in files_first} == {f"run_id={FIRST}"}
    assert second.parts == first.parts
    assert second.content_sha256 == first.content_sha256  # the transform sees unchanged inputs
    manifest = manifest_of(s3, storage)
    assert manifest["run_id"] == SECOND
    for listing in ("chunks", "parts", "quarantine_parts", "content_sha256", "record_count", "bytes"):
        assert manifest[listing] == landed_first[listing]
    assert list(read_landed_records(s3, storage, "carts", DAY)) == [sanitize("carts", c) for c in carts]


def test_only_a_changed_chunk_is_landed_again(
    s3: Any,
    storage: StorageSettings,
    server: ApiServer,
    source: ListSource,
    carts: list[dict[str, Any]],
    work_done: Counter[str],
) -> None:
    api = api_settings(server.url, page_size=10)
    first = land(s3, storage, api, "carts", FIRST)
    changed = [*carts[:120], {**carts[120], "userId": carts[120]["userId"] + 1}, *carts[121:]]  # page 13, chunk 2
    source.records["carts"] = changed

    work_done.clear()
    second = land(s3, storage, api, "carts", SECOND)
    assert work_done == {"pages parsed": 1 + 5, "items sanitized": 50}  # page 1, then chunk 2's pages 11-15
    assert (second.reused_parts, second.reused_records) == (4, 158)
    assert list(read_landed_records(s3, storage, "carts", DAY)) == [sanitize("carts", c) for c in changed]
    assert [part["file"] for part in manifest_of(s3, storage)["parts"]] == [
        f"run_id={FIRST}/part-00000.jsonl.gz",
        f"run_id={FIRST}/part-00001.jsonl.gz",
        f"run_id={SECOND}/part-00002.jsonl.gz",
        f"run_id={FIRST}/part-00003.jsonl.gz",
        f"run_id={FIRST}/part-00004.jsonl.gz",
    ]
    # Both folders are still listed, so both stay; only the replaced part of the first run is gone.
    assert part_files(s3, storage) == {part["file"] for part in manifest_of(s3, storage)["parts"]}
    assert second.content_sha256 != first.content_sha256

    source.records["carts"] = list(carts)  # back to the original: chunk 2 changed again, against run 2
    third = land(s3, storage, api, "carts", THIRD)
    assert (third.reused_parts, third.reused_records) == (4, 158)
    assert {file.split("/")[0] for file in part_files(s3, storage)} == {f"run_id={FIRST}", f"run_id={THIRD}"}
    assert list(read_landed_records(s3, storage, "carts", DAY)) == [sanitize("carts", c) for c in carts]
    assert third.content_sha256 == first.content_sha256  # equal content, equal checksum, whatever the runs


@pytest.mark.parametrize(
    ("page_size", "part_max_records", "pages_per_part", "parts"),
    [(20, 50, 2, 6), (10, 100, 10, 3)],
    ids=["another-page-size", "another-part-size"],
)
def test_another_paging_lands_everything_again(
    s3: Any,
    storage: StorageSettings,
    server: ApiServer,
    carts: list[dict[str, Any]],
    page_size: int,
    part_max_records: int,
    pages_per_part: int,
    parts: int,
) -> None:
    land(s3, storage, api_settings(server.url, page_size=10), "carts", FIRST)
    storage = storage.model_copy(update={"part_max_records": part_max_records})
    second = land(s3, storage, api_settings(server.url, page_size=page_size), "carts", SECOND)

    assert (second.reused_parts, second.reused_records) == (0, 0)
    manifest = manifest_of(s3, storage)
    assert (manifest["page_size"], manifest["pages_per_part"], len(manifest["parts"])) == (
        page_size,
        pages_per_part,
        parts,
    )
    assert {file.split("/")[0] for file in part_files(s3, storage)} == {f"run_id={SECOND}"}  # the first run is gone
    assert list(read_landed_records(s3, storage, "carts", DAY)) == [sanitize("carts", c) for c in carts]


def test_quarantined_records_of_reused_chunks_stay_listed(s3: Any, storage: StorageSettings) -> None:
    # Pages of 25, two a chunk: chunk 0 has two bad carts and an item that is no object, chunk 1 only bad carts.
    items: list[Any] = [cart(n, 0 if n in (7, 30) or 50 < n <= 100 else 1) for n in range(1, 126)]
    items[40] = "not a cart"
    with ApiServer(ListSource(carts=items)) as server:
        api = api_settings(server.url, page_size=25)
        first = land(s3, storage, api, "carts", FIRST)
        quarantined = list(read_quarantined_records(s3, storage, "carts", DAY))
        second = land(s3, storage, api, "carts", SECOND)

    manifest = manifest_of(s3, storage)
    assert [(c["chunk"], c["source_items"]) for c in manifest["chunks"]] == [(0, 50), (1, 50), (2, 25)]
    assert [(p["chunk"], p["records"]) for p in manifest["parts"]] == [(0, 47), (2, 25)]
    assert [(p["chunk"], p["records"]) for p in manifest["quarantine_parts"]] == [(0, 3), (1, 50)]
    assert (second.reused_parts, second.reused_records) == (2, 72)
    assert (second.quarantined, second.quarantine_reasons) == (53, first.quarantine_reasons)
    assert second.quarantine_parts == first.quarantine_parts
    assert list(read_quarantined_records(s3, storage, "carts", DAY)) == quarantined
    assert len(quarantined) == 53 and quarantined[2] == {
        "reason": "record: expected an object, got str",
        "page": 2,
        "record": None,
    }
    assert {file.split("/")[0] for file in part_files(s3, storage)} == {f"run_id={FIRST}"}


def test_a_total_that_changes_mid_run_still_fails(
    s3: Any, storage: StorageSettings, carts: list[dict[str, Any]]
) -> None:
    source = FlipsTotal(flip_at=10**9, carts=list(carts))
    with ApiServer(source) as server:
        api = api_settings(server.url, page_size=10, concurrency=1)
        land(s3, storage, api, "carts", FIRST)
        committed = all_objects(s3, storage.raw_bucket)
        source.flip_at = 120  # page 13 (chunk 2) is served, then every answer reports 209
        with pytest.raises(SourceError, match=r"page 14, field 'total': changed from 208 to 209 during extraction"):
            land(s3, storage, api, "carts", SECOND)
    assert all_objects(s3, storage.raw_bucket) == committed


class Inconsistent(ListSource):
    """A source whose answers stop adding up: it keeps reporting an old `total`, or cuts one page short."""

    reported_total: int | None = None
    short_skip: int | None = None

    def total(self, resource: str) -> int:
        return super().total(resource) if self.reported_total is None else self.reported_total

    def items(self, resource: str, skip: int, count: int) -> list[Any]:
        items = super().items(resource, skip, count)
        return items[:-1] if skip == self.short_skip else items


def last_carts_gone(source: Inconsistent) -> None:
    source.reported_total, source.records["carts"] = 208, source.records["carts"][:200]


def page_8_short(source: Inconsistent) -> None:
    source.short_skip = 70


@pytest.mark.parametrize(
    ("break_source", "problem"),
    [
        (last_carts_gone, r"received 200 items in 21 pages, but the source reported 208"),
        (page_8_short, r"page 9, field 'carts': an earlier page came back short: expected skip 79, got 80"),
    ],
)
def test_items_that_do_not_add_up_to_total_still_fail(
    s3: Any, storage: StorageSettings, carts: list[dict[str, Any]], break_source: Any, problem: str
) -> None:
    source = Inconsistent(carts=list(carts))
    with ApiServer(source) as server:
        api = api_settings(server.url, page_size=10)
        land(s3, storage, api, "carts", FIRST)
        committed = all_objects(s3, storage.raw_bucket)
        break_source(source)  # the chunks before the damage stay byte-identical and are reused
        with pytest.raises(SourceError, match=problem):
            land(s3, storage, api, "carts", SECOND)
    assert all_objects(s3, storage.raw_bucket) == committed


def test_a_chunk_whose_item_count_does_not_fit_is_landed_again(
    s3: Any, storage: StorageSettings, server: ApiServer, carts: list[dict[str, Any]]
) -> None:
    api = api_settings(server.url, page_size=10)
    land(s3, storage, api, "carts", FIRST)
    manifest = manifest_of(s3, storage)
    manifest["chunks"][1]["source_items"] = 49  # not what five full pages hold: do not trust that chunk
    key = f"{FOLDER}/_manifest.json"
    s3.put_object(Bucket=storage.raw_bucket, Key=key, Body=json.dumps(manifest).encode())

    second = land(s3, storage, api, "carts", SECOND)
    assert (second.reused_parts, second.reused_records) == (4, 158)
    assert manifest_of(s3, storage)["parts"][1]["file"] == f"run_id={SECOND}/part-00001.jsonl.gz"
    assert manifest_of(s3, storage)["chunks"][1]["source_items"] == 50
    assert list(read_landed_records(s3, storage, "carts", DAY)) == [sanitize("carts", c) for c in carts]


def test_the_manifest_proves_ids_unique_only_when_they_increase_in_landing_order(
    s3: Any, storage: StorageSettings, server: ApiServer, source: ListSource, carts: list[dict[str, Any]]
) -> None:
    api = api_settings(server.url, page_size=10)
    land(s3, storage, api, "carts", FIRST)
    manifest = manifest_of(s3, storage)
    assert manifest["ids_strictly_increasing"] is True  # DummyJSON pages carts in id order
    assert [(chunk["first_id"], chunk["last_id"]) for chunk in manifest["chunks"]] == [
        (1, 50), (51, 100), (101, 150), (151, 200), (201, 208),
    ]  # fmt: skip

    # The source shifts while it is paged and delivers cart 120 again in chunk 3: the proof fails, and a reused
    # chunk keeps its own fields, so the whole-run flag is recomputed across old and new chunks.
    source.records["carts"] = [*carts[:160], carts[119], *carts[161:]]
    land(s3, storage, api, "carts", SECOND)
    manifest = manifest_of(s3, storage)
    assert manifest["ids_strictly_increasing"] is False
    assert [chunk["ids_increasing"] for chunk in manifest["chunks"]] == [True, True, True, False, True]


@pytest.mark.parametrize(
    ("chunks", "unique"),
    [
        ([{"first_id": 1, "last_id": 5, "ids_increasing": True}, {"first_id": 6, "last_id": 9, "ids_increasing": True}],
         True),
        ([{"first_id": 1, "last_id": 5, "ids_increasing": True}, {"first_id": None, "last_id": None,
          "ids_increasing": True}, {"first_id": 6, "last_id": 6, "ids_increasing": True}], True),
        ([{"first_id": 1, "last_id": 5, "ids_increasing": True}, {"first_id": 5, "last_id": 9, "ids_increasing": True}],
         False),
        ([{"first_id": 1, "last_id": 5, "ids_increasing": False}], False),
        ([{"chunk": 0, "pages": [1, 1]}], False),  # landed before the fields existed: nothing is proven
    ],
    ids=["increasing", "empty-chunk-between", "overlap-between-chunks", "inside-a-chunk", "no-fields"],
)  # fmt: skip
def test_ids_strictly_increasing(chunks: list[dict[str, Any]], unique: bool) -> None:
    assert ids_strictly_increasing(chunks) is unique
