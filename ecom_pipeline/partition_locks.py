"""Write locks per curated partition, so that dates whose `order_date` partitions are disjoint transform side by side.

A job rewrites whole `order_date` partitions, and carts carry their own dates, so two ingest dates can share one.
When a date's partitions are known before its job runs (`transform/partitions.py`), it takes the lock of each of
them (`<raw prefix>/_locks/partitions/order_date=D.lock`, the same conditional-write objects as `locks.py`), in
sorted order so that no two writers ever wait for each other in a cycle. Then it reads the global
`curated_write_lock`: while a run of unknown partitions holds that, it releases them all and waits. The global
holder, in turn, waits until no partition lock is left (`locks.curated_write_lock`). Each side writes its own lock
before it reads the other's, and S3 reads and lists are strongly consistent: of two that overlap in time, at least
one sees the other, so they never write at once.

Loads are different: every load goes through the one staging table, so `warehouse_load_lock` admits one load at a
time (the global lock's holder already excludes every partition writer).

    with partition_write_lock(settings, ["2026-06-16", "2026-06-17"]):   # None: the global lock
        ...  # transform
        with warehouse_load_lock(settings):
            ...  # load
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import PipelineError
from ecom_pipeline.locks import (
    DEFAULT_TTL_SECONDS,
    RunLockedError,
    _expired,
    _held,
    _lock_key,
    _read_lock,
    _s3_lock,
    _Scope,
    _Wait,
    curated_lock_key,
    curated_write_lock,
    partition_lock_key,
)
from ecom_pipeline.settings import Settings

logger = logging.getLogger("ecom_pipeline.locks")

LOAD_LOCK_NAME = "warehouse-load.lock"


@contextmanager
def partition_write_lock(
    settings: Settings,
    partitions: Collection[str] | None,
    *,
    wait_seconds: float | None = None,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
    s3_client: Any = None,
) -> Iterator[tuple[str, ...] | None]:
    """Hold the write locks of `partitions` (YYYY-MM-DD) for the block; None takes the global curated lock instead.

    Yields the locked partitions, sorted (None under the global lock).

    Raises:
        RunLockedError: a partition or the global lock is still held by another run after `wait_seconds`
            (default `settings.curated_lock_wait_seconds`).
    """
    wait = settings.curated_lock_wait_seconds if wait_seconds is None else wait_seconds
    s3_client = s3_client or make_s3_client(settings.storage)
    if partitions is None:
        with curated_write_lock(settings, wait_seconds=wait, ttl_seconds=ttl_seconds, s3_client=s3_client):
            yield None
        return
    days = tuple(sorted(set(partitions)))
    waiting = _Wait(time.monotonic() + wait)
    while True:
        with ExitStack() as held:
            for day in days:
                what, key = f"write of curated partition order_date={day}", partition_lock_key(settings, day)
                remaining = max(waiting.deadline - time.monotonic(), 0.0)
                scope = _Scope(what, day, key, log_level=logging.DEBUG)
                held.enter_context(_s3_lock(settings, scope, remaining, ttl_seconds, s3_client))
            holder = _global_holder(settings, s3_client)
            if holder is None:
                logger.info("partition locks taken: %s", describe_partitions(days))
                yield days
                held.close()
                logger.info("partition locks released: %s", describe_partitions(days))
                return
        # Released: a run of unknown partitions holds the global lock and waits for every partition writer.
        waiting.pause(
            RunLockedError(
                f"another transform and load of unknown partitions is in progress ({holder}); it holds "
                f"s3://{settings.storage.raw_bucket}/{curated_lock_key(settings)} until it finishes. Wait and retry."
            ),
            "partitions %s: waiting for a run of unknown partitions to finish (%s)",
            ", ".join(days),
            holder,
        )


def describe_partitions(days: Sequence[str]) -> str:
    """`2026-06-16, 2026-06-17`, or `2026-06-01..2026-06-30 (23)` for many (sorted dates)."""
    return ", ".join(days) if len(days) <= 3 else f"{days[0]}..{days[-1]} ({len(days)})"


def _global_holder(settings: Settings, s3_client: Any) -> str | None:
    """Who holds the global curated lock (not this context, not expired), or None."""
    bucket, key = settings.storage.raw_bucket, curated_lock_key(settings)
    if f"{bucket}/{key}" in _held.get():
        return None
    try:
        lock = _read_lock(s3_client, bucket, key)
    except (BotoCoreError, ClientError) as error:
        raise PipelineError(f"cannot read the lock s3://{bucket}/{key}: {error}") from error
    if lock is None or _expired(lock, datetime.now(UTC)):
        return None  # an expired holder is dead: the next global locker breaks it
    return f"{lock.get('holder', 'unknown')} since {lock.get('acquired_at', '?')}"


@contextmanager
def warehouse_load_lock(
    settings: Settings,
    *,
    wait_seconds: float | None = None,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
    s3_client: Any = None,
) -> Iterator[str]:
    """Hold the lock of the warehouse's staging table for one load; yield its key."""
    wait = settings.curated_lock_wait_seconds if wait_seconds is None else wait_seconds
    scope = _Scope("warehouse load (one staging table)", "warehouse-load", _lock_key(settings, LOAD_LOCK_NAME))
    with _s3_lock(settings, scope, wait, ttl_seconds, s3_client) as key:
        yield key
