"""Deterministic fault injection for the API server, so client retries can be tested and benchmarked."""

from __future__ import annotations

import random
from dataclasses import dataclass

FAULT_KINDS: tuple[str, ...] = ("server_error", "rate_limited", "slow", "truncated")


@dataclass(frozen=True)
class FaultPlan:
    """Which requests fail and how: a share `rate` of requests, kinds drawn from `kinds`, fixed by `seed`."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    retry_after_seconds: float = 1.0
    slow_seconds: float = 3.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate}")
        if not self.kinds:
            raise ValueError(f"fault kinds must not be empty; valid: {', '.join(FAULT_KINDS)}")
        unknown = [kind for kind in self.kinds if kind not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; valid: {', '.join(FAULT_KINDS)}")
        if self.retry_after_seconds < 0 or self.slow_seconds < 0:
            raise ValueError("retry_after_seconds and slow_seconds must be >= 0")

    def pick(self, request_number: int) -> str | None:
        """The fault for the Nth request (None for a normal answer); the same for the same seed and N."""
        if self.rate <= 0.0:
            return None
        # One generator per request keeps the choice independent of thread scheduling and of earlier requests.
        rng = random.Random(f"fault:{self.seed}:{request_number}")  # str seeds hash with sha512: stable
        if rng.random() >= self.rate:
            return None
        return self.kinds[rng.randrange(len(self.kinds))]
