"""Where the apply engine's calls run: daemon worker threads, and optionally one event loop.

A task is either a plain callable, run by one of ``size`` worker threads pulling from one
queue, or an :class:`AsyncTask`, whose coroutine runs on the pool's asyncio loop (one more
daemon thread), at most ``size`` at once. HTTP writes take the loop when the client can
(:meth:`leadsync.api.CampaignsClient.async_writer`): one thread multiplexing every connection
costs a fraction of the CPU of one thread per call. Completions of both kinds arrive in one
queue, in the order they finish.

Only the coordinating thread (the one calling :func:`leadsync.apply.apply_plan`) submits tasks
and collects completions; tasks are pure calls that return a value and touch no shared state,
so no lock is held while a worker waits on HTTP. Workers are daemon threads so that a second
Ctrl-C (``KeyboardInterrupt`` in the main thread) can end the process without waiting for calls
in flight.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

#: Seconds (in all) a closing pool waits for its workers to notice the end; busy workers are
#: daemon threads and are not waited for longer.
_JOIN_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class Completion:
    """One finished task: ``value`` when it returned, ``error`` when it raised."""

    tag: Any
    value: Any = None
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class AsyncTask:
    """A task for the pool's event loop: ``start()`` gives the coroutine to run."""

    start: Callable[[], Awaitable[Any]]


class WorkerPool:
    """``size`` daemon threads running submitted callables, and with ``loop=True`` an asyncio
    loop running submitted :class:`AsyncTask` coroutines, ``size`` at a time.

    ``submit(tag, fn)`` queues ``fn``; ``collect(timeout)`` returns the completions available
    (waiting up to ``timeout`` seconds for the first one). ``in_flight`` counts tasks submitted
    and not yet collected. Threads start on the first plain task. Not itself thread-safe: one
    coordinating thread drives it.
    """

    def __init__(self, size: int, *, name: str = "leadsync-apply", loop: bool = False) -> None:
        if size < 1:
            raise ValueError(f"worker pool size must be at least 1, got {size}")
        self.size = size
        self._name = name
        self._tasks: queue.SimpleQueue[tuple[Any, Callable[[], Any]] | None] = queue.SimpleQueue()
        # Completions, one by one from threads, in batches from the loop.
        self._done: queue.SimpleQueue[Completion | list[Completion]] = queue.SimpleQueue()
        self._submitted: list[tuple[Any, AsyncTask, contextvars.Context]] = []
        self._finished: list[Completion] = []  # on the loop, not yet handed over
        self.in_flight = 0
        self._threads: list[threading.Thread] = []
        self._thread_tasks = 0  # plain tasks submitted and not yet collected
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._running: set[asyncio.Task[None]] = set()
        if loop:
            self._loop = asyncio.new_event_loop()
            self._slots = asyncio.Semaphore(size)
            self._loop_thread = threading.Thread(
                target=self._loop.run_forever, name=f"{name}-loop", daemon=True
            )
            self._loop_thread.start()

    @property
    def has_loop(self) -> bool:
        return self._loop is not None

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            tag, fn = task
            try:
                value = fn()
            except BaseException as exc:  # reported to the coordinator, never swallowed
                self._done.put(Completion(tag, error=exc))
            else:
                self._done.put(Completion(tag, value=value))

    def submit(self, tag: Any, fn: Callable[[], Any] | AsyncTask) -> None:
        """Queue ``fn`` (a callable for a thread, or an AsyncTask for the loop); its
        completion carries ``tag``. ``fn`` runs in a copy of the submitter's context, so log
        context (job, stage) follows it."""
        ctx = contextvars.copy_context()
        if isinstance(fn, AsyncTask):
            if self._loop is None:
                raise RuntimeError("this pool has no event loop for an AsyncTask")
            # Handed to the loop in one wake-up per burst (flush(), or collect()).
            self._submitted.append((tag, fn, ctx))
        else:
            self._thread_tasks += 1
            if len(self._threads) < min(self.size, self._thread_tasks):
                self._start_thread()
            self._tasks.put((tag, lambda: ctx.run(fn)))
        self.in_flight += 1

    def _start_thread(self) -> None:
        # Threads start as tasks need them (re-reading two campaigns needs two): each one
        # costs address space (stack, malloc arena), which a memory-capped run may not have.
        t = threading.Thread(
            target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
        )
        t.start()
        self._threads.append(t)

    def flush(self) -> None:
        """Start the AsyncTasks submitted since the last flush (one wake-up of the loop)."""
        if self._submitted and self._loop is not None:
            batch, self._submitted = self._submitted, []
            self._loop.call_soon_threadsafe(self._start, batch)

    def _start(self, batch: list[tuple[Any, AsyncTask, contextvars.Context]]) -> None:
        assert self._loop is not None
        for tag, fn, ctx in batch:
            task = self._loop.create_task(self._run(tag, fn), context=ctx)
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, tag: Any, fn: AsyncTask) -> None:
        try:
            async with self._slots:
                value = await fn.start()
        except BaseException as exc:  # reported to the coordinator, never swallowed
            self._finish(Completion(tag, error=exc))
        else:
            self._finish(Completion(tag, value=value))

    def _finish(self, completion: Completion) -> None:
        # Completions of one loop iteration go to the coordinator together: one wake-up.
        if not self._finished:
            assert self._loop is not None
            self._loop.call_soon(self._hand_over)
        self._finished.append(completion)

    def _hand_over(self) -> None:
        batch, self._finished = self._finished, []
        self._done.put(batch)

    def run_on_loop(self, coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
        """Run ``coro`` on the pool's loop and wait up to ``timeout`` s for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def collect(self, timeout: float) -> list[Completion]:
        """Completions available now, waiting up to ``timeout`` s for the first; [] if none."""
        self.flush()
        if self.in_flight == 0:
            return []
        try:
            first = self._done.get(timeout=timeout)
        except queue.Empty:
            return []
        batch: list[Completion] = []
        item: Completion | list[Completion] | None = first
        while item is not None:
            if isinstance(item, list):  # from the loop
                batch.extend(item)
            else:  # from a thread
                batch.append(item)
                self._thread_tasks -= 1
            try:
                item = self._done.get_nowait()
            except queue.Empty:
                item = None
        self.in_flight -= len(batch)
        return batch

    def close(self) -> None:
        """Ask every worker to end once its current task is done, and stop the loop (calls
        still running on it are abandoned, as busy daemon threads are); waits briefly."""
        for _ in self._threads:
            self._tasks.put(None)
        deadline = time.monotonic() + _JOIN_TIMEOUT_S
        if self._loop is not None and self._loop_thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop_thread.join(timeout=max(0.0, deadline - time.monotonic()))
            if not self._loop_thread.is_alive():
                self._loop.close()
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
