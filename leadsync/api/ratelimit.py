"""A client-side request rate limiter shared by every worker thread; it backs off on 429.

Scheduling is "virtual": each caller reserves the next free slot under a lock and then sleeps
outside it, so threads never sleep while holding the lock. ``sleep`` and ``clock`` are
parameters so that tests drive it without waiting.

Adaptive (docs/design.md, 'Applying'): a 429 (or 503 with Retry-After) pauses every worker and
cuts the rate (:meth:`RateLimiter.on_throttled`); successes raise it back by steps, up to
``max_rps`` (uncapped: until twice the refused rate, when the limit is lifted again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Never go below this many requests per second when slowing down.
MIN_RPS = 0.5
#: Factor applied to the rate on a throttling answer, at most (the deepest cut)...
DECREASE_FACTOR = 0.5
#: ...and at least (the mildest), when the server accepted more than that since the last cut.
MILD_DECREASE_FACTOR = 0.9
#: Factor applied to the rate on each recovery step...
INCREASE_FACTOR = 1.25
#: ...and above the rate the server accepted before the last cut (its limit, as it showed
#: it): probing past a known limit slowly keeps refusals rare.
PROBE_FACTOR = 1.05
#: Successful requests needed (since the last throttle or step) for one recovery step.
SUCCESSES_PER_STEP = 20
#: Pause for a throttling answer that gives no Retry-After.
DEFAULT_THROTTLE_PAUSE_S = 1.0
#: How many recent request times estimate the current rate when no cap is configured.
RATE_WINDOW = 50


class RateLimiter:
    """Thread-safe rate limiter; ``max_rps=None`` means unlimited until the server throttles."""

    def __init__(
        self,
        max_rps: float | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_rps = max_rps
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._rate: float | None = max_rps
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._successes = 0
        self._lift_at: float | None = None  # uncapped: lift the limit above this rate
        self._cut_at: float | None = None  # when the rate was last cut
        self._accepted = 0  # requests the server accepted since then
        self._limit: float | None = None  # the rate it accepted between the last two cuts
        self._recent: deque[float] = deque(maxlen=RATE_WINDOW)

    @property
    def rate(self) -> float | None:
        """Current requests/second allowed (None: unlimited)."""
        with self._lock:
            return self._rate

    def acquire(self) -> None:
        """Wait for this request's turn."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._paused_until)
            if self._rate is not None:
                slot = max(slot, self._next_slot)
                self._next_slot = slot + 1.0 / self._rate
            self._recent.append(slot)
        if slot > now:
            self._sleep(slot - now)

    def on_success(self) -> None:
        """Count a request the server accepted; recover the rate step by step."""
        with self._lock:
            self._accepted += 1
            if self._rate is None:
                return
            self._successes += 1
            if self._successes < SUCCESSES_PER_STEP:
                return
            self._successes = 0
            below = self._limit is None or self._rate < self._limit
            raised = self._rate * (INCREASE_FACTOR if below else PROBE_FACTOR)
            if below and self._limit is not None:
                raised = min(raised, self._limit)
            if self.max_rps is not None:
                self._rate = min(self.max_rps, raised)
            elif self._lift_at is not None and raised >= self._lift_at:
                self._rate, self._lift_at = None, None
                log.info("request rate recovered; client-side limit lifted")
                return
            else:
                self._rate = raised
            log.debug("request rate raised to %.2f/s", self._rate)

    def on_throttled(self, retry_after: float | None) -> None:
        """The server refused for load: pause everyone and cut the rate — once per throttle
        event. Refusals that arrive while the pause from the last cut is still running answer
        requests that were already in flight (16 workers get 16 of them at once): they extend
        the pause but do not cut the rate again, or a single burst would drive it to the floor.

        The first cut halves the rate. A later one cuts it to the rate the server accepted
        since the previous cut — its limit, as far as it showed it — but by a tenth at least
        and by half at most: halving below a server's limit each time would leave a quarter of
        its capacity unused on average.
        """
        with self._lock:
            now = self._clock()
            pause = retry_after if retry_after is not None else DEFAULT_THROTTLE_PAUSE_S
            same_event = now < self._paused_until
            self._paused_until = max(self._paused_until, now + pause)
            self._successes = 0
            if same_event:
                return
            current = self._rate if self._rate is not None else self._observed_rate()
            if self._rate is None:
                self._lift_at = current * 2
            cut = current * DECREASE_FACTOR
            self._limit = None
            if self._cut_at is not None and self._accepted >= SUCCESSES_PER_STEP:
                # Enough accepted since the last cut to tell the server's limit.
                self._limit = self._accepted / max(now - self._cut_at, 1e-9)
                cut = max(cut, min(current * MILD_DECREASE_FACTOR, self._limit))
                if self._lift_at is not None:
                    self._lift_at = max(self._limit, cut) * 2
            self._cut_at, self._accepted = now, 0
            self._rate = max(MIN_RPS, cut)
            log.warning(
                "server throttled requests: pausing %.1f s, rate lowered to %.2f/s",
                pause,
                self._rate,
            )

    def _observed_rate(self) -> float:
        if len(self._recent) < 2:
            return MIN_RPS / DECREASE_FACTOR
        span = self._recent[-1] - self._recent[0]
        if span <= 0:
            return float(len(self._recent))
        return (len(self._recent) - 1) / span
