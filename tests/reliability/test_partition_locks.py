"""Partition write locks against the S3 emulator: disjoint dates side by side, shared partitions and the global lock
never at once (ecom_pipeline/locks.py, locks.curated_write_lock)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_run_lock import try_from_another_thread

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.locks import (
    RunLockedError,
    curated_lock_key,
    curated_write_lock,
    partition_lock_key,
    partition_write_lock,
    warehouse_load_lock,
)
from ecom_pipeline.settings import Settings, load_settings


@pytest.fixture
def settings(s3_emulator: S3Emulator, s3_buckets: dict[str, str]) -> Settings:
    return load_settings().updated(
        storage={"raw_bucket": s3_buckets["raw"], "aws_endpoint_url": s3_emulator.endpoint_url}
    )


def keys(s3_emulator: S3Emulator, settings: Settings) -> list[str]:
    listed = s3_emulator.client().list_objects_v2(Bucket=settings.storage.raw_bucket, Prefix="dummyjson/_locks/")
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_each_partition_has_its_lock_object_while_held(settings, s3_emulator) -> None:
    with partition_write_lock(settings, ["2026-06-17", "2026-06-16", "2026-06-17"]) as locked:
        assert locked == ("2026-06-16", "2026-06-17")
        assert keys(s3_emulator, settings) == [
            "dummyjson/_locks/partitions/order_date=2026-06-16.lock",
            "dummyjson/_locks/partitions/order_date=2026-06-17.lock",
        ]
        assert partition_lock_key(settings, "2026-06-16") == keys(s3_emulator, settings)[0]
    assert keys(s3_emulator, settings) == []


def test_dates_with_disjoint_partitions_hold_their_locks_at_the_same_time(settings) -> None:
    both_inside = threading.Barrier(2, timeout=30)  # breaks unless both writers are inside at once
    results: list[Any] = []

    def writer(partitions: list[str]) -> None:
        try:
            with partition_write_lock(settings, partitions, wait_seconds=0):
                both_inside.wait()
                results.append(tuple(partitions))
        except (RunLockedError, threading.BrokenBarrierError) as error:
            results.append(error)

    threads = [threading.Thread(target=writer, args=(days,)) for days in (["2026-06-16"], ["2026-06-17"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [("2026-06-16",), ("2026-06-17",)]


def test_a_shared_partition_is_refused_naming_it_and_taken_once_free(settings) -> None:
    with partition_write_lock(settings, ["2026-06-16", "2026-06-17"]):
        refused = try_from_another_thread(lambda: partition_write_lock(settings, ["2026-06-17"], wait_seconds=0))
    assert "ran" not in refused
    assert "write of curated partition order_date=2026-06-17 is in progress" in str(refused["error"])
    assert try_from_another_thread(lambda: partition_write_lock(settings, ["2026-06-17"], wait_seconds=0)) == {
        "ran": True
    }


def test_partition_writers_back_off_while_a_run_of_unknown_partitions_holds_the_global_lock(
    settings, s3_emulator
) -> None:
    with curated_write_lock(settings):
        refused = try_from_another_thread(lambda: partition_write_lock(settings, ["2026-06-17"], wait_seconds=0))
        # It released the partition it had taken before it saw the global lock.
        assert keys(s3_emulator, settings) == [curated_lock_key(settings)]
    assert "another transform and load of unknown partitions is in progress" in str(refused["error"])


def test_the_global_lock_waits_for_partition_writers_and_leaves_nothing_held_when_it_gives_up(
    settings, s3_emulator
) -> None:
    with partition_write_lock(settings, ["2026-06-17"]):
        refused = try_from_another_thread(lambda: curated_write_lock(settings, wait_seconds=0))
        assert keys(s3_emulator, settings) == ["dummyjson/_locks/partitions/order_date=2026-06-17.lock"]
    message = str(refused["error"])
    assert "partition writes are still in progress (order_date=2026-06-17.lock by " in message
    assert try_from_another_thread(lambda: curated_write_lock(settings, wait_seconds=0)) == {"ran": True}


def test_the_global_lock_breaks_a_dead_writers_expired_partition_lock(settings, s3_emulator) -> None:
    expired = {"scope": "2026-06-17", "holder": "dead-host:1:abcd", "acquired_at": "2026-06-17T00:00:00+00:00",
               "expires_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}  # fmt: skip
    s3_emulator.client().put_object(
        Bucket=settings.storage.raw_bucket, Key=partition_lock_key(settings, "2026-06-17"), Body=json.dumps(expired)
    )
    with curated_write_lock(settings, wait_seconds=0):
        assert keys(s3_emulator, settings) == [curated_lock_key(settings)]


def test_one_warehouse_load_at_a_time(settings) -> None:
    with warehouse_load_lock(settings) as key:
        refused = try_from_another_thread(lambda: warehouse_load_lock(settings, wait_seconds=0))
    assert key == "dummyjson/_locks/warehouse-load.lock"
    assert "warehouse load (one staging table) is in progress" in str(refused["error"])
