"""The per-date run lock against the S3 emulator: one holder, clear refusals, waiting, expiry, re-entry."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.locks import RunLockedError, curated_lock_key, curated_write_lock, lock_key, run_lock
from ecom_pipeline.settings import Settings, load_settings

DAY = date(2026, 6, 17)


@pytest.fixture
def settings(s3_emulator: S3Emulator, s3_buckets: dict[str, str]) -> Settings:
    return load_settings().updated(
        storage={"raw_bucket": s3_buckets["raw"], "aws_endpoint_url": s3_emulator.endpoint_url}
    )


def try_from_another_thread(take_lock: Callable[[], AbstractContextManager[Any]]) -> dict[str, Any]:
    """Enter `take_lock()` in another thread (another run); return `ran`, or the `error` and `waited` seconds."""
    result: dict[str, Any] = {}

    def other_run() -> None:
        started = time.monotonic()
        try:
            with take_lock():
                result["ran"] = True
        except RunLockedError as error:
            result.update(error=error, waited=time.monotonic() - started)

    thread = threading.Thread(target=other_run)
    thread.start()
    thread.join()
    return result


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.01)


def waiting_notices(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The lock's "waiting up to ..." lines so far: a waiting run logs one as soon as it finds the lock taken."""
    return [record.getMessage() for record in caplog.records if record.getMessage().startswith("waiting up to")]


def lock_exists(s3_emulator: S3Emulator, settings: Settings, day: date = DAY) -> bool:
    listed = s3_emulator.client().list_objects_v2(Bucket=settings.storage.raw_bucket, Prefix=lock_key(settings, day))
    return listed.get("KeyCount", 0) > 0


def test_the_lock_lives_in_the_raw_bucket_while_held_and_is_gone_after(settings, s3_emulator) -> None:
    with run_lock(settings, DAY) as key:
        assert key == "dummyjson/_locks/run_date=2026-06-17.lock"
        assert lock_exists(s3_emulator, settings)
    assert not lock_exists(s3_emulator, settings)


def test_a_second_run_of_the_same_date_is_refused_with_a_clear_message(settings) -> None:
    with run_lock(settings, DAY):
        other_thread = try_from_another_thread(lambda: run_lock(settings, DAY))
    assert "ran" not in other_thread
    message = str(other_thread["error"])
    assert "another pipeline run for 2026-06-17 is in progress" in message
    assert "_locks/run_date=2026-06-17.lock" in message


def test_other_dates_are_not_blocked(settings) -> None:
    with run_lock(settings, DAY), run_lock(settings, DAY + timedelta(days=1)) as key:
        assert key.endswith("run_date=2026-06-18.lock")


def test_of_many_simultaneous_takers_exactly_one_wins(settings) -> None:
    takers = 8
    start, answered = threading.Barrier(takers), threading.Condition()
    results: list[str] = []

    def answer(outcome: str) -> None:
        with answered:
            results.append(outcome)
            answered.notify_all()

    def taker() -> None:
        start.wait(timeout=60)
        try:
            with run_lock(settings, DAY):
                answer("won")
                # Held until every other taker has answered: one that tried only after a release would rightly win.
                with answered:
                    answered.wait_for(lambda: len(results) == takers, timeout=60)
        except RunLockedError:
            answer("refused")

    threads = [threading.Thread(target=taker) for _ in range(takers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["refused"] * (takers - 1) + ["won"]


def test_a_waiting_run_goes_ahead_once_the_holder_finishes(settings, caplog: pytest.LogCaptureFixture) -> None:
    times: dict[str, float] = {}
    holder_in = threading.Event()

    def holder() -> None:
        with run_lock(settings, DAY):
            holder_in.set()
            wait_until(lambda: waiting_notices(caplog), "the other run waiting")  # it found the lock taken
            times["holder_done"] = time.monotonic()

    thread = threading.Thread(target=holder)
    thread.start()
    assert holder_in.wait(timeout=60)
    with caplog.at_level("INFO", logger="ecom_pipeline.locks"), run_lock(settings, DAY, wait_seconds=60):
        times["waiter_has_it"] = time.monotonic()
    thread.join()
    assert times["waiter_has_it"] >= times["holder_done"]


def test_waiting_gives_up_after_its_timeout(settings) -> None:
    with run_lock(settings, DAY):
        result = try_from_another_thread(lambda: run_lock(settings, DAY, wait_seconds=1.0))
    assert "ran" not in result and 1.0 <= result["waited"] < 5.0


def test_an_expired_lock_of_a_dead_run_is_broken(settings, s3_emulator) -> None:
    stale = {"run_date": DAY.isoformat(), "holder": "dead-host:1:abcd", "acquired_at": "2026-06-17T00:00:00+00:00"}
    stale["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    s3_emulator.client().put_object(
        Bucket=settings.storage.raw_bucket, Key=lock_key(settings, DAY), Body=json.dumps(stale).encode()
    )
    with run_lock(settings, DAY):
        body = s3_emulator.client().get_object(Bucket=settings.storage.raw_bucket, Key=lock_key(settings, DAY))
        assert json.loads(body["Body"].read())["holder"] != "dead-host:1:abcd"


def test_a_live_lock_of_another_run_is_not_broken(settings, s3_emulator) -> None:
    live = {"run_date": DAY.isoformat(), "holder": "busy-host:1:abcd", "acquired_at": "2026-06-17T00:00:00+00:00"}
    live["expires_at"] = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    s3_emulator.client().put_object(
        Bucket=settings.storage.raw_bucket, Key=lock_key(settings, DAY), Body=json.dumps(live).encode()
    )
    with pytest.raises(RunLockedError, match="busy-host:1:abcd"), run_lock(settings, DAY):
        pass
    assert lock_exists(s3_emulator, settings)  # refusing never deletes someone else's lock


def test_reentering_in_the_same_context_is_a_no_op(settings, s3_emulator) -> None:
    with run_lock(settings, DAY), run_lock(settings, DAY):  # e.g. a caller's lock around a flow that also locks
        assert lock_exists(s3_emulator, settings)
    assert not lock_exists(s3_emulator, settings)


def test_the_lock_is_released_when_the_run_fails(settings, s3_emulator) -> None:
    with pytest.raises(ValueError, match="stage failed"), run_lock(settings, DAY):
        raise ValueError("stage failed")
    assert not lock_exists(s3_emulator, settings)


def try_in_another_thread(settings: Settings) -> str:
    """Take the lock from a fresh thread (a fresh context, like another run); return what happened."""
    outcome: list[str] = []

    def take() -> None:
        try:
            with run_lock(settings, DAY):
                outcome.append("taken")
        except RunLockedError:
            outcome.append("refused")

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return outcome[0]


def test_a_held_lock_is_renewed_past_its_ttl(settings, s3_emulator) -> None:
    def expires_at() -> datetime:
        body = s3_emulator.client().get_object(Bucket=settings.storage.raw_bucket, Key=lock_key(settings, DAY))
        return datetime.fromisoformat(json.loads(body["Body"].read())["expires_at"])

    with run_lock(settings, DAY, ttl_seconds=0.9):
        first = expires_at()
        wait_until(lambda: datetime.now(UTC) > first, "the lock's first expiry")  # only the heartbeat keeps it alive
        assert expires_at() > first
        assert try_in_another_thread(settings) == "refused"
    assert try_in_another_thread(settings) == "taken"


def test_curated_writes_wait_for_each_other_whatever_the_dates_and_say_what_they_wait_for(
    settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Two runs of different dates: both hold their date locks at once, but their transform and load take turns."""
    times: dict[str, float] = {}
    holder_in = threading.Event()

    def other_date_run() -> None:
        with run_lock(settings, DAY + timedelta(days=1)), curated_write_lock(settings):
            holder_in.set()
            wait_until(lambda: waiting_notices(caplog), "the other run waiting for the curated lock")
            times["holder_done"] = time.monotonic()

    thread = threading.Thread(target=other_date_run)
    thread.start()
    assert holder_in.wait(timeout=60)
    with caplog.at_level("INFO", logger="ecom_pipeline.locks"), run_lock(settings, DAY):
        times["date_lock_taken"] = time.monotonic()  # landing of another date is not held up
        with curated_write_lock(settings, wait_seconds=30) as key:
            times["curated_taken"] = time.monotonic()
    thread.join()
    waiting = waiting_notices(caplog)
    assert waiting and "transform and load of the curated zone and the warehouse" in waiting[0]
    assert key == curated_lock_key(settings) == "dummyjson/_locks/curated-writes.lock"
    assert times["date_lock_taken"] < times["holder_done"] <= times["curated_taken"]


def test_curated_writes_give_up_after_the_configured_wait_naming_the_holder(settings) -> None:
    bounded = settings.updated(top={"curated_lock_wait_seconds": 0.5})
    with curated_write_lock(bounded):
        result = try_from_another_thread(lambda: curated_write_lock(bounded))
    assert "ran" not in result
    message = str(result["error"])
    assert "another transform and load of the curated zone and the warehouse is in progress" in message
    assert "curated-writes.lock" in message and "since" in message
