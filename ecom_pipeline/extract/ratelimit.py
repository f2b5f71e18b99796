"""Client-side rate limiting: requests spaced evenly, so the source never sees more than the allowed rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Thread-safe limiter granting at most `rate_per_second` requests per second, spaced `1/rate` apart.

    Even spacing (a token bucket of capacity one) is the politest shape: no bursts at the start of a second.
    The lock is held while a caller sleeps on purpose: each grant is stamped with the clock *after* the sleep,
    so a late wake-up can never squeeze the next grant closer than one interval to it.
    """

    def __init__(
        self,
        rate_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be > 0, got {rate_per_second}")
        self.rate_per_second = rate_per_second
        self.interval = 1.0 / rate_per_second
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._last_grant: float | None = None

    def acquire(self) -> float:
        """Block until the caller may send one request; return the grant's time on the limiter's clock."""
        with self._lock:
            if self._last_grant is not None:
                # Sleep can wake early on some platforms: loop until a full interval has really passed.
                while (remaining := self._last_grant + self.interval - self._clock()) > 0:
                    self._sleep(remaining)
            self._last_grant = self._clock()
            return self._last_grant
