"""Retrying by error type: tenacity policies, the backoff, counters and the run's retry budget.

Which errors a call retries on is decided by the client from the error *type* and from whether
the call may be repeated (an add may not); this module supplies the pieces. The budget stops a
run against a server that fails everything in seconds, not after hundreds of backoffs.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from ..errors import ApiError, ThrottledError, UnreachableError

log = logging.getLogger(__name__)

#: First backoff step in seconds (then 2×, 4×, … up to ``backoff_max_s``).
BACKOFF_INITIAL_S = 0.5
#: Share of the requests sent that may be retried on top of ``retry_budget``.
BUDGET_REQUEST_SHARE = 0.10
#: An outage is declared only after at least this many failed requests in a row (and for
#: longer than one retry schedule), so a single slow failure never stops a run.
OUTAGE_MIN_FAILURES = 10
#: Names of the counters, in report order.
COUNTER_NAMES = ("requests", "retries", "throttled", "relogins", "errors")


@dataclass
class Counters:
    """Thread-safe counts of what the client did.

    ``requests``: HTTP requests sent (login included); ``retries``: attempts repeated after an
    error; ``throttled``: 429 / 503-with-Retry-After answers; ``relogins``: logins after a 401;
    ``errors``: calls that ended by raising an API error to their caller.
    """

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    relogins: int = 0
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> int:
        """Add ``n`` to counter ``name``; returns the new value."""
        if name not in COUNTER_NAMES:
            raise KeyError(name)
        with self._lock:
            value = getattr(self, name) + n
            setattr(self, name, value)
            return value

    def as_dict(self) -> dict[str, int]:
        """A consistent snapshot ``{"requests", "retries", "throttled", "relogins", "errors"}``."""
        with self._lock:
            return {name: getattr(self, name) for name in COUNTER_NAMES}


class RetryBudget:
    """Retries allowed in a run: ``base`` plus 10 % of the requests sent so far; and none once
    the API has failed every request (5xx, timeouts, refused connections — not 429, which is
    the server pacing us) for ``outage_s`` seconds and at least ``OUTAGE_MIN_FAILURES`` times
    in a row. The caller reports each request's fate with :meth:`record_answer` /
    :meth:`record_failure`."""

    def __init__(
        self,
        base: int,
        counters: Counters,
        *,
        outage_s: float = math.inf,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base
        self.outage_s = outage_s
        self._counters = counters
        self._clock = clock
        self._lock = threading.Lock()
        self.spent = 0
        self._failing_since: float | None = None
        self._failures_in_row = 0

    def record_answer(self) -> None:
        """The server answered (anything but a server error): it is up."""
        with self._lock:
            self._failing_since = None
            self._failures_in_row = 0

    def record_failure(self) -> None:
        """A request failed on the server's side (5xx, timeout, no connection)."""
        with self._lock:
            if self._failing_since is None:
                self._failing_since = self._clock()
            self._failures_in_row += 1

    @property
    def allowed(self) -> int:
        return self.base + int(self._counters.requests * BUDGET_REQUEST_SHARE)

    def spend(self, error: BaseException | None) -> None:
        """Take one retry from the budget; UnreachableError once it is used up."""
        with self._lock:
            self.spent += 1
            spent, allowed = self.spent, self.allowed
            failures = self._failures_in_row
            failing_for = (
                self._clock() - self._failing_since if self._failing_since is not None else 0.0
            )
        last = f"; last error: {error}" if error is not None else ""
        if failures >= OUTAGE_MIN_FAILURES and failing_for >= self.outage_s:
            raise UnreachableError(
                f"the API failed all of the last {failures} requests over {failing_for:.0f} s, "
                f"longer than a call's whole retry schedule ({self.outage_s:.1f} s): it is down "
                f"or failing everything, so the run stops here{last}",
                **_context(error),
            ) from error
        if spent > allowed:
            raise UnreachableError(
                f"retry budget exhausted ({spent - 1} retries for "
                f"{self._counters.requests} requests; api.retry_budget allows {self.base} "
                f"+ 10% of requests): the API keeps failing{last}",
                **_context(error),
            ) from error


def _context(error: BaseException | None) -> dict[str, Any]:
    if isinstance(error, ApiError):
        return {"method": error.method, "endpoint": error.endpoint, "status": error.status}
    return {}


class Backoff:
    """tenacity ``wait``: exponential with equal jitter, capped; at least any Retry-After.

    Attempt *n* (1-based, the one that just failed) waits a uniform draw in
    ``[d/2, d]`` with ``d = min(cap, BACKOFF_INITIAL_S * 2**(n-1))``; a ThrottledError's ``retry_after``
    is a floor on that wait (the server said when to come back).
    """

    def __init__(self, cap_s: float, *, rng: random.Random | None = None) -> None:
        self.cap_s = cap_s
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def _ceiling(self, attempt: int) -> float:
        return min(self.cap_s, BACKOFF_INITIAL_S * (2 ** max(0, attempt - 1)))

    def schedule_s(self, attempts: int) -> float:
        """The longest a call with ``attempts`` tries waits in all (before any Retry-After)."""
        return sum(self._ceiling(n) for n in range(1, max(attempts, 1)))

    def delay(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        ceiling = self._ceiling(attempt)
        with self._lock:  # random.Random is not documented as thread-safe
            wait = self._rng.uniform(ceiling / 2, ceiling)
        if isinstance(error, ThrottledError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return self.delay(state.attempt_number, error)


def build_retrying(
    *,
    retry_on: tuple[type[BaseException], ...],
    attempts: int,
    backoff: Backoff,
    budget: RetryBudget,
    counters: Counters,
    sleep: Callable[[float], Any],
    what: str,
) -> Retrying:
    """A tenacity policy: retry ``retry_on`` errors, ``attempts`` tries in all, the backoff,
    the run's budget (UnreachableError when spent), the injected ``sleep``; re-raises the last
    error when attempts run out."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        budget.spend(error)
        counters.add("retries")
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.info(
            "%s: attempt %d failed (%s); retrying in %.2f s",
            what,
            state.attempt_number,
            error,
            wait,
        )

    return Retrying(
        retry=retry_if_exception_type(retry_on),
        stop=stop_after_attempt(attempts),
        wait=backoff,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
