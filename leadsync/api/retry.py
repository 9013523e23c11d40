"""Retrying by error type: tenacity policies, the backoff, counters and the run's retry budget.

Which errors a call retries on is decided by the caller from the error *type* and from whether
the call may be repeated (an add may not, see the client); this module supplies the pieces:

- :class:`Backoff` — exponential with "equal jitter", capped at ``backoff_max_s``, never shorter
  than a throttling answer's Retry-After;
- :class:`RetryBudget` — retries allowed per run (``retry_budget`` + 10 % of requests); past it
  :class:`~leadsync.errors.UnreachableError` stops a run against a server that fails everything;
- :class:`Counters` — thread-safe request/retry/throttle/re-login/error counts for the report.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from ..errors import ApiError, ThrottledError, UnreachableError

log = logging.getLogger(__name__)

#: First backoff step in seconds (then 2×, 4×, … up to ``backoff_max_s``).
BACKOFF_INITIAL_S = 0.5
#: Share of the requests sent that may be retried on top of ``retry_budget``.
BUDGET_REQUEST_SHARE = 0.10
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
    """Retries allowed in a run: ``base`` plus 10 % of the requests sent so far."""

    def __init__(self, base: int, counters: Counters) -> None:
        self.base = base
        self._counters = counters
        self._lock = threading.Lock()
        self.spent = 0

    @property
    def allowed(self) -> int:
        return self.base + int(self._counters.requests * BUDGET_REQUEST_SHARE)

    def spend(self, error: BaseException | None) -> None:
        """Take one retry from the budget; UnreachableError once it is used up."""
        with self._lock:
            self.spent += 1
            spent, allowed = self.spent, self.allowed
        if spent > allowed:
            last = f"; last error: {error}" if error is not None else ""
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
    ``[d/2, d]`` with ``d = min(cap, initial * 2**(n-1))``; a ThrottledError's ``retry_after``
    is a floor on that wait (the server said when to come back).
    """

    def __init__(
        self,
        cap_s: float,
        *,
        initial_s: float = BACKOFF_INITIAL_S,
        rng: random.Random | None = None,
    ) -> None:
        self.cap_s = cap_s
        self.initial_s = initial_s
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def delay(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        ceiling = min(self.cap_s, self.initial_s * (2 ** max(0, attempt - 1)))
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
    sleep: Callable[[float], None],
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
