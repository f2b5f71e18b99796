"""Runs that would interleave are kept apart by lock objects in the raw bucket, taken with a conditional write.

- `run_lock(settings, date)`: one run per ingest date. Two runs of the same date race on the raw zone's manifest
  swap. A second run is refused at once (`RunLockedError`).
- `curated_write_lock(settings)`: one transform-and-load at a time, whatever the dates. A job rewrites whole
  `order_date` partitions of the curated zone and the load clean-replaces those dates in the warehouse; carts carry
  their own dates, so runs of different ingest dates can touch the same partitions. The second run waits (bounded
  by `ECOM_CURATED_LOCK_WAIT_SECONDS`, saying what it waits for); fetching and landing still run in parallel.
  Holding it, a run also waits until no partition lock is held (below).
- `partition_lock_key(settings, day)`: a write lock per curated `order_date` partition, taken by a reprocessed date
  whose partitions are known before its job runs (`locks.py`): dates with disjoint partitions run side by
  side, and back off while `curated_write_lock` is held.

Prefect deployments already allow one run at a time (`concurrency_limit: 1`), but direct flow calls, the CLI and
runs from different deployments do not share that limit; the locks live in S3 next to the data they protect, so
every profile and every caller sees the same ones.

`PutObject` with `If-None-Match: *` succeeds for exactly one writer (S3 and the emulators implement it).
While the block runs, a heartbeat thread renews `expires_at` every third of the TTL (`If-Match` on our ETag);
release deletes the object only if its ETag is still ours. A holder that dies stops renewing, so its lock
expires within one TTL and a later run breaks it. Re-entering a lock this context already holds (the same
date and bucket, e.g. a test around a flow that also locks) is a no-op.

    with run_lock(settings, settings.run_date):
        ...  # fetch, land
        with curated_write_lock(settings):
            ...  # transform, load
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ecom_pipeline.aws import make_s3_client
from ecom_pipeline.exceptions import PipelineError
from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.partitions import describe_partitions

logger = logging.getLogger("ecom_pipeline.locks")

LOCK_FOLDER = "_locks"
DEFAULT_TTL_SECONDS = 600.0  # renewed while held, so only a dead holder's lock ever reaches it
POLL_SECONDS = 1.0
WAITING_NOTICE_SECONDS = 30.0  # a waiting run says what it waits for this often
CURATED_LOCK_NAME = "curated-writes.lock"
PARTITION_LOCK_FOLDER = "partitions"

_held: ContextVar[frozenset[str]] = ContextVar("ecom_pipeline_run_locks", default=frozenset())


class RunLockedError(PipelineError):
    """Another run holds the lock; the message names the holder, since when, and the lock object."""


def _lock_key(settings: Settings, name: str) -> str:
    return settings.storage.raw_key(LOCK_FOLDER, name)


def lock_key(settings: Settings, run_date: date) -> str:
    """Key of the lock object of one date, e.g. `dummyjson/_locks/run_date=2026-06-17.lock`."""
    return _lock_key(settings, f"run_date={run_date:%Y-%m-%d}.lock")


def curated_lock_key(settings: Settings) -> str:
    """Key of the lock held while a run writes the curated zone and the warehouse (`<raw prefix>/_locks/...`)."""
    return _lock_key(settings, CURATED_LOCK_NAME)


def partition_lock_key(settings: Settings, order_date: str) -> str:
    """Key of the write lock of one curated partition, e.g. `dummyjson/_locks/partitions/order_date=2026-06-17.lock`."""
    return _lock_key(settings, f"{PARTITION_LOCK_FOLDER}/order_date={order_date}.lock")


def _is_precondition_failure(error: ClientError) -> bool:
    answer = error.response
    code = str(answer.get("Error", {}).get("Code", ""))
    status = answer.get("ResponseMetadata", {}).get("HTTPStatusCode")
    # 409 ConditionalRequestConflict: another conditional write to the key was in flight.
    return code in {"PreconditionFailed", "ConditionalRequestConflict"} or status in {409, 412}


def _read_lock(s3_client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The current lock's body plus its ETag, or None when there is no lock."""
    try:
        answer = s3_client.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    try:
        body = json.loads(answer["Body"].read())
    except ValueError:
        body = {}  # unreadable: treated as expired below, so a garbage object cannot block a date forever
    return {**body, "etag": answer.get("ETag")}


def _expired(lock: dict[str, Any], now: datetime) -> bool:
    try:
        return datetime.fromisoformat(lock["expires_at"]) <= now
    except (KeyError, TypeError, ValueError):
        return True


def _try_acquire(s3_client: Any, bucket: str, key: str, body: bytes) -> str | None:
    """Create the lock object if absent; return its ETag, or None when someone else holds it."""
    try:
        answer = s3_client.put_object(
            Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ContentType="application/json"
        )
    except ClientError as error:
        if _is_precondition_failure(error):
            return None
        raise
    return str(answer.get("ETag"))


def _break_stale(s3_client: Any, bucket: str, key: str, lock: dict[str, Any]) -> None:
    """Delete an expired lock, only if it is still the very object we judged expired."""
    logger.warning("breaking expired run lock s3://%s/%s of %s", bucket, key, lock.get("holder", "unknown"))
    try:
        s3_client.delete_object(Bucket=bucket, Key=key, IfMatch=lock["etag"])
    except ClientError as error:
        if not _is_precondition_failure(error):  # someone else broke or renewed it first: just try again
            raise


@contextmanager
def run_lock(
    settings: Settings,
    run_date: date,
    *,
    wait_seconds: float = 0.0,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
    s3_client: Any = None,
) -> Iterator[str]:
    """Hold the lock of `run_date` for the block; yield its key.

    Args:
        wait_seconds: how long to wait for a busy lock; 0 refuses at once.
        ttl_seconds: a lock not renewed for this long counts as abandoned and another run may break it.

    Raises:
        RunLockedError: the lock is still held by another run after `wait_seconds`.
        PipelineError: S3 refused to read or write the lock object.
    """
    scope = _LockTarget(f"pipeline run for {run_date}", run_date.isoformat(), lock_key(settings, run_date))
    with _s3_lock(settings, scope, wait_seconds, ttl_seconds, s3_client) as key:
        yield key


@contextmanager
def curated_write_lock(
    settings: Settings,
    *,
    wait_seconds: float | None = None,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
    s3_client: Any = None,
) -> Iterator[str]:
    """Hold the curated-zone and warehouse write lock for the block (transform and load); yield its key.

    Args:
        wait_seconds: how long to wait for another run's transform and load; default
            `settings.curated_lock_wait_seconds`.

    Raises:
        RunLockedError: another run still writes after `wait_seconds`.
    """
    wait = settings.curated_lock_wait_seconds if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + wait
    scope = _LockTarget(
        "transform and load of the curated zone and the warehouse", "curated", curated_lock_key(settings)
    )
    s3_client = s3_client or make_s3_client(settings.storage)
    with _s3_lock(settings, scope, wait, ttl_seconds, s3_client) as key:
        # Partition writers back off while this lock is held; those that started before it are waited for.
        _wait_for_partition_writers(settings, s3_client, deadline)
        yield key


@dataclass(frozen=True)
class _LockTarget:
    """What a lock protects: `what` for messages, `name` in the lock's body, `key` of its object; `log_level` of
    its taken/released lines (a date's many partition locks log one line of their own instead)."""

    what: str
    name: str
    key: str
    log_level: int = logging.INFO


class _WaitLoop:
    """The waiting of a lock loop: until `deadline` (monotonic), a notice every WAITING_NOTICE_SECONDS, then a poll."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._next_notice = time.monotonic()

    def pause(self, timed_out: RunLockedError, notice: str, *args: Any) -> None:
        """Sleep one poll; past the deadline raise `timed_out` instead; log `notice % args` when one is due."""
        if time.monotonic() >= self.deadline:
            raise timed_out
        if time.monotonic() >= self._next_notice:
            self._next_notice = time.monotonic() + WAITING_NOTICE_SECONDS
            logger.info(notice, *args)
        time.sleep(min(POLL_SECONDS, max(self.deadline - time.monotonic(), 0.05)))


@contextmanager
def _s3_lock(
    settings: Settings, scope: _LockTarget, wait_seconds: float, ttl_seconds: float, s3_client: Any
) -> Iterator[str]:
    bucket, key = settings.storage.raw_bucket, scope.key
    held = _held.get()
    if f"{bucket}/{key}" in held:
        yield key
        return
    s3_client = s3_client or make_s3_client(settings.storage)
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    deadline = time.monotonic() + wait_seconds
    try:
        etag = _acquire(s3_client, bucket, scope, holder, ttl_seconds, deadline)
    except (BotoCoreError, ClientError) as error:
        raise PipelineError(f"cannot take the run lock s3://{bucket}/{key}: {error}") from error
    token = _held.set(held | {f"{bucket}/{key}"})
    logger.log(scope.log_level, "run lock s3://%s/%s taken by %s", bucket, key, holder)
    heartbeat = _Heartbeat(s3_client, bucket, key, etag, _lock_body(scope.name, holder, ttl_seconds), ttl_seconds)
    heartbeat.start()
    try:
        yield key
    finally:
        _held.reset(token)
        _release(s3_client, bucket, key, heartbeat.stop(), scope.log_level)


def _lock_body(scope: str, holder: str, ttl_seconds: float, acquired_at: str | None = None) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "scope": scope,
        "holder": holder,
        "acquired_at": acquired_at or now.isoformat(),
        "expires_at": (now + timedelta(seconds=ttl_seconds)).isoformat(),
    }


class _Heartbeat(threading.Thread):
    """Renews the lock's `expires_at` while the run holds it; `stop()` returns the lock's current ETag."""

    def __init__(
        self, s3_client: Any, bucket: str, key: str, etag: str, body: dict[str, str], ttl_seconds: float
    ) -> None:
        super().__init__(name=f"run-lock-heartbeat-{body['scope']}", daemon=True)
        self._s3, self._bucket, self._key, self.etag = s3_client, bucket, key, etag
        self._body, self._ttl = body, ttl_seconds
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self._ttl / 3):
            body = _lock_body(self._body["scope"], self._body["holder"], self._ttl)
            body["acquired_at"] = self._body["acquired_at"]
            try:
                answer = self._s3.put_object(
                    Bucket=self._bucket, Key=self._key, Body=json.dumps(body).encode(), IfMatch=self.etag
                )
            except ClientError as error:
                if _is_precondition_failure(error):
                    logger.error("run lock s3://%s/%s was taken over while held", self._bucket, self._key)
                    return
                logger.warning("could not renew run lock s3://%s/%s: %s", self._bucket, self._key, error)
            except BotoCoreError as error:
                logger.warning("could not renew run lock s3://%s/%s: %s", self._bucket, self._key, error)
            else:
                self.etag = str(answer.get("ETag"))

    def stop(self) -> str:
        self._stopping.set()
        self.join(timeout=30)
        return self.etag


def _acquire(s3_client: Any, bucket: str, scope: _LockTarget, holder: str, ttl_seconds: float, deadline: float) -> str:
    key = scope.key
    wait = _WaitLoop(deadline)
    while True:
        now = datetime.now(UTC)
        body = json.dumps(_lock_body(scope.name, holder, ttl_seconds)).encode()
        etag = _try_acquire(s3_client, bucket, key, body)
        if etag is not None:
            return etag
        current = _read_lock(s3_client, bucket, key)
        if current is not None and _expired(current, now):
            _break_stale(s3_client, bucket, key, current)
            continue
        who = f"{current.get('holder', 'unknown')} since {current.get('acquired_at', '?')}" if current else "?"
        wait.pause(
            RunLockedError(
                f"another {scope.what} is in progress ({who}); it holds s3://{bucket}/{key} "
                f"until it finishes. Wait and retry, or delete that object if its run is known to be dead."
            ),
            "waiting up to %.0f s for another %s to finish (%s; s3://%s/%s)",
            deadline - time.monotonic(), scope.what, who, bucket, key,
        )  # fmt: skip


def _wait_for_partition_writers(settings: Settings, s3_client: Any, deadline: float) -> None:
    """Return once no other holder has a partition lock; break expired ones; RunLockedError at `deadline`."""
    bucket, prefix = settings.storage.raw_bucket, _lock_key(settings, PARTITION_LOCK_FOLDER) + "/"
    wait = _WaitLoop(deadline)
    try:
        while True:
            ours, live = _held.get(), []
            for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for key in (item["Key"] for item in page.get("Contents", [])):
                    lock = None if f"{bucket}/{key}" in ours else _read_lock(s3_client, bucket, key)
                    if lock is not None and _expired(lock, datetime.now(UTC)):
                        _break_stale(s3_client, bucket, key, lock)
                    elif lock is not None:
                        live.append(f"{key.rsplit('/', 1)[-1]} by {lock.get('holder', 'unknown')}")
            if not live:
                return
            wait.pause(
                RunLockedError(
                    f"partition writes are still in progress ({', '.join(live)}) under s3://{bucket}/{prefix}; "
                    "wait and retry, or delete those objects if their runs are known to be dead."
                ),
                "waiting for %d partition write(s) to finish: %s",
                len(live),
                ", ".join(live),
            )
    except (BotoCoreError, ClientError) as error:
        raise PipelineError(f"cannot read the partition locks under s3://{bucket}/{prefix}: {error}") from error


def _release(s3_client: Any, bucket: str, key: str, etag: str, log_level: int = logging.INFO) -> None:
    """Delete the lock if it is still ours; a failure is logged (the lock then expires on its own)."""
    try:
        s3_client.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
    except ClientError as error:
        if _is_precondition_failure(error):
            logger.warning("run lock s3://%s/%s was broken by another run while held", bucket, key)
            return
        logger.warning("could not release run lock s3://%s/%s: %s", bucket, key, error)
    except BotoCoreError as error:
        logger.warning("could not release run lock s3://%s/%s: %s", bucket, key, error)
    else:
        logger.log(log_level, "run lock s3://%s/%s released", bucket, key)


# Write locks per curated partition, so that dates whose `order_date` partitions are disjoint transform side by side.
#
# A job rewrites whole `order_date` partitions, and carts carry their own dates, so two ingest dates can share one.
# When a date's partitions are known before its job runs (`transform/partitions.py`), it takes the lock of each of
# them (`<raw prefix>/_locks/partitions/order_date=D.lock`, the same conditional-write objects as `locks.py`), in
# sorted order so that no two writers ever wait for each other in a cycle. Then it reads the global
# `curated_write_lock`: while a run of unknown partitions holds that, it releases them all and waits. The global
# holder, in turn, waits until no partition lock is left (`locks.curated_write_lock`). Each side writes its own lock
# before it reads the other's, and S3 reads and lists are strongly consistent: of two that overlap in time, at least
# one sees the other, so they never write at once.
#
# Loads are different: every load goes through the one staging table, so `warehouse_load_lock` admits one load at a
# time (the global lock's holder already excludes every partition writer).
#
#     with partition_write_lock(settings, ["2026-06-16", "2026-06-17"]):   # None: the global lock
#         ...  # transform
#         with warehouse_load_lock(settings):
#             ...  # load


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
    waiting = _WaitLoop(time.monotonic() + wait)
    while True:
        with ExitStack() as held:
            for day in days:
                what, key = f"write of curated partition order_date={day}", partition_lock_key(settings, day)
                remaining = max(waiting.deadline - time.monotonic(), 0.0)
                scope = _LockTarget(what, day, key, log_level=logging.DEBUG)
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
            describe_partitions(days),
            holder,
        )


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
    scope = _LockTarget("warehouse load (one staging table)", "warehouse-load", _lock_key(settings, LOAD_LOCK_NAME))
    with _s3_lock(settings, scope, wait, ttl_seconds, s3_client) as key:
        yield key
