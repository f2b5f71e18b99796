"""The client-side rate limiter spaces requests evenly and never lets a burst through."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from ecom_pipeline.extract.ratelimit import RateLimiter


class FakeClock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_grants_are_one_interval_apart() -> None:
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock, sleep=clock.sleep)
    grants = []
    for _ in range(5):
        limiter.acquire()
        grants.append(clock.now)
    assert grants == pytest.approx([100.0, 100.25, 100.5, 100.75, 101.0])


def test_idle_time_is_not_saved_up_for_a_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 10  # a long pause must not allow several requests at once afterwards
    assert limiter.acquire() == 110.0
    assert limiter.acquire() == pytest.approx(110.5)
    assert clock.sleeps == pytest.approx([0.5])


def test_threads_share_the_rate() -> None:
    limiter = RateLimiter(200)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            granted = limiter.acquire()
            with lock:
                stamps.append(granted)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert len(stamps) == 80
    assert min(gaps) >= limiter.interval
    assert time.monotonic() - started >= 79 * limiter.interval


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate_per_second must be > 0"):
        RateLimiter(0)
