"""The engine's worker pool: threads started as tasks need them and at most ``size`` tasks
running at once, the submitter's context carried into each task, every outcome (value or
error) reported once."""

from __future__ import annotations

import contextvars
import threading
import time

from leadsync.apply.pool import Completion, WorkerPool

LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("LABEL", default="none")
#: How long a test waits for tasks to finish before calling it a hang.
WAIT_S = 10.0


def collect_all(pool: WorkerPool, timeout_s: float = WAIT_S) -> list[Completion]:
    done: list[Completion] = []
    deadline = time.monotonic() + timeout_s
    while pool.in_flight and time.monotonic() < deadline:
        done += pool.collect(0.05)
    assert pool.in_flight == 0, "tasks never finished"
    return done


def test_at_most_size_tasks_run_at_once_and_every_value_comes_back() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()
    four_running = threading.Barrier(4, timeout=WAIT_S)

    def work(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        if i < 4:
            four_running.wait()  # the first four meet: the size is used
        with lock:
            running -= 1
        return i * 2

    with WorkerPool(4, name="t") as pool:
        for i in range(20):
            pool.submit(i, lambda i=i: work(i))  # type: ignore[misc]
        done = collect_all(pool)
    assert sorted(c.value for c in done) == [i * 2 for i in range(20)]
    assert {c.tag for c in done} == set(range(20)) and len(done) == 20
    assert peak == 4  # the size is the cap on tasks running, and it is used


def test_threads_start_only_as_tasks_need_them() -> None:
    before = {t.name for t in threading.enumerate()}
    with WorkerPool(8, name="lazy") as pool:
        assert not {t.name for t in threading.enumerate()} - before
        for tag in ("x", "y"):
            pool.submit(tag, lambda: threading.current_thread().name)
        names = {c.value for c in collect_all(pool)}
        assert names <= {"lazy-0", "lazy-1"}
        started = {t.name for t in threading.enumerate()} - before
        assert started == {"lazy-0", "lazy-1"}


def test_the_submitters_context_follows_the_task() -> None:
    with WorkerPool(2) as pool:
        token = LABEL.set("job=nightly stage=apply")
        try:
            pool.submit("thread", LABEL.get)
        finally:
            LABEL.reset(token)
        pool.submit("after", LABEL.get)
        done = {c.tag: c.value for c in collect_all(pool)}
    assert done == {"thread": "job=nightly stage=apply", "after": "none"}


def test_errors_are_reported_not_swallowed() -> None:
    def bang() -> None:
        raise KeyError("from a thread")

    def interrupted() -> None:
        raise KeyboardInterrupt

    with WorkerPool(2) as pool:
        pool.submit(1, bang)
        pool.submit(2, interrupted)
        pool.submit(3, lambda: "fine")
        done = {c.tag: c for c in collect_all(pool)}
    assert isinstance(done[1].error, KeyError) and done[1].value is None
    assert isinstance(done[2].error, KeyboardInterrupt)
    assert done[3].value == "fine" and done[3].error is None


def test_completions_are_gathered_only_while_tasks_wait_in_the_queue() -> None:
    """Gathering a batch must never idle the workers: with no task queued beyond the ones
    running, ``collect`` returns the first completion at once."""
    naps: list[float] = []
    release = threading.Event()
    with WorkerPool(2, sleep=naps.append) as pool:
        pool.submit("quick", lambda: "done")
        pool.submit("held", lambda: release.wait(WAIT_S))
        assert [c.tag for c in pool.collect(WAIT_S, gather=5.0)] == ["quick"]
        assert naps == []  # one task left, two workers: nothing queued, no gathering
        for i in range(3):  # now more tasks than workers
            pool.submit(i, lambda: "x")
        first = pool.collect(WAIT_S, gather=5.0)
        assert naps == [5.0] and first
        release.set()
        collect_all(pool)
