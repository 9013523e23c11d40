"""The shared rate limiter and the retry budget, driven by a fake clock (no waiting)."""

from __future__ import annotations

import itertools
import threading

import pytest

from leadsync.api.ratelimit import (
    INCREASE_FACTOR,
    MIN_RPS,
    PROBE_FACTOR,
    SUCCESSES_PER_STEP,
    RateLimiter,
)
from leadsync.api.retry import Backoff, Counters, RetryBudget
from leadsync.errors import ThrottledError, UnreachableError

from .support import RecordingSleep


def test_max_rps_spaces_requests(fake_sleep: RecordingSleep) -> None:
    limiter = RateLimiter(4.0, sleep=fake_sleep, clock=fake_sleep.clock)
    for _ in range(5):
        limiter.acquire()
    assert fake_sleep.waits == pytest.approx([0.25, 0.25, 0.25, 0.25])


def test_unlimited_until_throttled(fake_sleep: RecordingSleep) -> None:
    limiter = RateLimiter(None, sleep=fake_sleep, clock=fake_sleep.clock)
    for _ in range(10):
        limiter.acquire()
        fake_sleep.now += 0.1  # 10 requests a second
    assert fake_sleep.waits == [] and limiter.rate is None
    limiter.on_throttled(retry_after=3.0)
    assert limiter.rate == pytest.approx(5.0)  # half the observed rate
    start = fake_sleep.now
    limiter.acquire()  # everyone pauses until Retry-After has passed
    assert fake_sleep.now - start == pytest.approx(3.0)
    limiter.acquire()
    assert fake_sleep.waits[-1] == pytest.approx(0.2)  # then 5/s


def test_recovers_gradually_and_lifts_the_limit(fake_sleep: RecordingSleep) -> None:
    limiter = RateLimiter(None, sleep=fake_sleep, clock=fake_sleep.clock)
    for _ in range(10):
        limiter.acquire()
        fake_sleep.now += 0.1
    limiter.on_throttled(None)
    rates = [limiter.rate]
    while limiter.rate is not None:
        for _ in range(SUCCESSES_PER_STEP):
            limiter.on_success()
        rates.append(limiter.rate)
    # 5 → 6.25 → 7.8 → 9.8 → 12.2 → 15.3 → 19.1, then ≥ 2 × 10: lifted
    assert rates[0] == pytest.approx(5.0)
    assert all(b > a for a, b in itertools.pairwise(rates[:-1]))  # type: ignore[operator]
    assert len(rates) == 8 and rates[-1] is None


def test_capped_rate_recovers_to_max_rps_only(fake_sleep: RecordingSleep) -> None:
    limiter = RateLimiter(8.0, sleep=fake_sleep, clock=fake_sleep.clock)
    limiter.on_throttled(1.0)
    fake_sleep.now += 1.5  # the pause is over: the next refusal is a new throttle event
    limiter.on_throttled(1.0)
    assert limiter.rate == pytest.approx(2.0)
    for _ in range(SUCCESSES_PER_STEP * 20):
        limiter.on_success()
    assert limiter.rate == pytest.approx(8.0)


def test_never_below_the_floor(fake_sleep: RecordingSleep) -> None:
    limiter = RateLimiter(1.0, sleep=fake_sleep, clock=fake_sleep.clock)
    for _ in range(10):
        limiter.on_throttled(0.0)
    assert limiter.rate == MIN_RPS


def test_a_burst_of_refusals_is_one_throttle_event(fake_sleep: RecordingSleep) -> None:
    """Regression: 16 workers in flight all get 429 for the same overload; halving the rate
    for each drove it from 800/s to the 0.5/s floor (400 adds took 207 s instead of ~4 s)."""
    limiter = RateLimiter(800.0, sleep=fake_sleep, clock=fake_sleep.clock)
    for _ in range(16):
        limiter.on_throttled(1.0)
        fake_sleep.now += 0.01  # the in-flight answers trickle in during the pause
    assert limiter.rate == pytest.approx(400.0)
    fake_sleep.now += 2.0  # after the pause, refused again: a new event, a new cut
    limiter.on_throttled(1.0)
    assert limiter.rate == pytest.approx(200.0)


def test_threads_share_the_schedule() -> None:
    fake = RecordingSleep()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            fake.waits.append(seconds)

    limiter = RateLimiter(10.0, sleep=sleep, clock=lambda: 0.0)  # time stands still
    workers = [threading.Thread(target=limiter.acquire) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    # eight distinct slots 0.1 s apart, whichever thread got which
    assert sorted(fake.waits) == pytest.approx([0.1 * i for i in range(1, 8)])


def test_retry_budget_grows_with_requests() -> None:
    counters = Counters()
    budget = RetryBudget(2, counters)
    budget.spend(None)
    budget.spend(None)
    with pytest.raises(UnreachableError, match="retry budget exhausted"):
        budget.spend(ThrottledError("x", method="GET", endpoint="/p", status=429))
    counters.add("requests", 30)  # 10% of 30 = 3 more
    budget.spend(None)
    assert budget.allowed == 5


def test_counters_as_dict_and_unknown_name() -> None:
    counters = Counters()
    counters.add("requests", 2)
    counters.add("errors")
    assert counters.as_dict() == {
        "requests": 2,
        "retries": 0,
        "throttled": 0,
        "relogins": 0,
        "errors": 1,
    }
    with pytest.raises(KeyError):
        counters.add("bogus")


def test_backoff_honors_retry_after_above_the_cap() -> None:
    backoff = Backoff(1.0)
    err = ThrottledError("slow down", retry_after=7.0)
    assert backoff.delay(1, err) == 7.0
    assert 0.25 <= backoff.delay(1) <= 0.5
    assert 0.5 <= backoff.delay(10) <= 1.0  # capped


def test_a_later_cut_goes_to_the_rate_the_server_accepted(fake_sleep: RecordingSleep) -> None:
    """Halving below a server's limit on every refusal would leave a quarter of it unused
    on average: after the first cut, the rate is cut to what the server accepted since the
    previous cut (by a tenth at least, by half at most)."""
    limiter = RateLimiter(400.0, sleep=fake_sleep, clock=fake_sleep.clock)
    limiter.on_throttled(1.0)
    assert limiter.rate == pytest.approx(200.0)  # the first cut: half
    for _ in range(1500):  # the server takes 300 a second for 5 s (the pause included)
        fake_sleep.now += 1 / 300
        limiter.on_success()
    assert limiter.rate == pytest.approx(400.0)  # recovered meanwhile, up to max_rps
    limiter.on_throttled(1.0)
    assert limiter.rate == pytest.approx(300.0)  # not 0.5 × 400
    # Recovery: probing past that limit by small steps.
    for _ in range(SUCCESSES_PER_STEP):
        limiter.on_success()
    assert limiter.rate == pytest.approx(300.0 * PROBE_FACTOR)
    # Too few accepted since the last cut to tell a limit: half, then full steps again.
    fake_sleep.now += 2.0
    limiter.on_throttled(1.0)  # 20 accepted in 2 s: a limit of 10/s is known...
    assert limiter.rate == pytest.approx(300.0 * PROBE_FACTOR / 2)  # ...but half at most
    fake_sleep.now += 2.0
    for _ in range(SUCCESSES_PER_STEP - 1):
        limiter.on_success()
    limiter.on_throttled(1.0)
    assert limiter.rate == pytest.approx(300.0 * PROBE_FACTOR / 4)
    for _ in range(SUCCESSES_PER_STEP * 2):
        limiter.on_success()
    assert limiter.rate == pytest.approx(300.0 * PROBE_FACTOR / 4 * INCREASE_FACTOR**2)
