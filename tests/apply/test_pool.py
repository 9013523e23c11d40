"""The engine's worker pool: plain tasks on threads started as needed, AsyncTasks on its event
loop at most ``size`` at a time, the submitter's context carried into both, every outcome
(value or error) reported once."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from leadsync.apply.pool import AsyncTask, Completion, WorkerPool

LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("LABEL", default="none")


def collect_all(pool: WorkerPool, timeout_s: float = 10.0) -> list[Completion]:
    done: list[Completion] = []
    deadline = time.monotonic() + timeout_s
    while pool.in_flight and time.monotonic() < deadline:
        done += pool.collect(0.05)
    assert pool.in_flight == 0, "tasks never finished"
    return done


def test_async_tasks_run_on_the_loop_at_most_size_at_once() -> None:
    running = 0
    peak = 0
    threads: set[str] = set()

    async def work(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        threads.add(threading.current_thread().name)
        await asyncio.sleep(0.01)
        running -= 1
        return i * 2

    with WorkerPool(4, name="t", loop=True) as pool:
        for i in range(20):
            pool.submit(i, AsyncTask(lambda i=i: work(i)))  # type: ignore[misc]
        done = collect_all(pool)
        assert pool.has_loop

    assert sorted(c.value for c in done) == [i * 2 for i in range(20)]
    assert {c.tag for c in done} == set(range(20)) and len(done) == 20
    assert peak == 4  # the size is the cap on calls in flight, and it is used
    assert threads == {"t-loop"}


def test_threads_start_only_as_plain_tasks_need_them() -> None:
    before = {t.name for t in threading.enumerate()}
    with WorkerPool(8, name="lazy", loop=True) as pool:

        async def nothing() -> None:
            return None

        pool.submit("a", AsyncTask(nothing))
        collect_all(pool)
        assert not [
            t for t in threading.enumerate() if t.name.startswith("lazy-") and t.name != "lazy-loop"
        ]
        for tag in ("x", "y"):
            pool.submit(tag, lambda: threading.current_thread().name)
        names = {c.value for c in collect_all(pool)}
        assert names <= {"lazy-0", "lazy-1"}
        started = {t.name for t in threading.enumerate()} - before
        assert started == {"lazy-loop", "lazy-0", "lazy-1"}
    time.sleep(0.05)
    assert not {t.name for t in threading.enumerate() if t.is_alive()} & {"lazy-loop"}


def test_the_submitters_context_follows_both_kinds_of_task() -> None:
    async def read_label() -> str:
        return LABEL.get()

    with WorkerPool(2, loop=True) as pool:
        token = LABEL.set("job=nightly stage=apply")
        try:
            pool.submit("async", AsyncTask(read_label))
            pool.submit("thread", LABEL.get)
        finally:
            LABEL.reset(token)
        done = {c.tag: c.value for c in collect_all(pool)}
    assert done == {"async": "job=nightly stage=apply", "thread": "job=nightly stage=apply"}


def test_errors_are_reported_not_swallowed() -> None:
    async def boom() -> None:
        raise ValueError("from the loop")

    def bang() -> None:
        raise KeyError("from a thread")

    with WorkerPool(2, loop=True) as pool:
        pool.submit(1, AsyncTask(boom))
        pool.submit(2, bang)
        done = {c.tag: c for c in collect_all(pool)}
    assert isinstance(done[1].error, ValueError) and done[1].value is None
    assert isinstance(done[2].error, KeyError)


def test_an_async_task_needs_a_pool_with_a_loop() -> None:
    async def nothing() -> None:
        return None

    with WorkerPool(1) as pool, pytest.raises(RuntimeError, match="no event loop"):
        pool.submit(1, AsyncTask(nothing))


def test_run_on_loop_returns_the_coroutines_result() -> None:
    async def answer() -> str:
        return threading.current_thread().name

    with WorkerPool(1, name="r", loop=True) as pool:
        assert pool.run_on_loop(answer(), 5.0) == "r-loop"
