"""Fault injection: a seeded die and a token-bucket rate limiter."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable


class FaultDice:
    """Seeded coin flips shared by the server threads (deterministic when single-threaded)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def hit(self, rate: float) -> bool:
        """True with probability ``rate`` (never when rate is 0, always when it is 1)."""
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate


class TokenBucket:
    """``rate`` requests per second with a burst of ``burst`` (default one second's worth,
    at least one). It starts full."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.capacity = max(1.0, rate if burst is None else burst)
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is available."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate


def retry_after_header(wait_s: float) -> str:
    """Retry-After in whole seconds (HTTP allows no fractions), at least 1."""
    return str(max(1, math.ceil(wait_s)))
