"""Where the apply engine's calls run: daemon worker threads pulling from one queue.

Tasks are pure calls that return a value and touch no shared state, so no lock is held while a
worker waits on HTTP. Workers are daemon threads so that a second Ctrl-C (``KeyboardInterrupt``
in the main thread) can end the process without waiting for calls in flight.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable
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


class WorkerPool:
    """``size`` daemon threads running submitted callables.

    ``submit(tag, fn)`` queues ``fn``; ``collect(timeout)`` returns the completions available
    (waiting up to ``timeout`` seconds for the first one). ``in_flight`` counts tasks submitted
    and not yet collected. Threads start as tasks need them. Not itself thread-safe: one
    coordinating thread drives it.
    """

    def __init__(
        self,
        size: int,
        *,
        name: str = "leadsync-apply",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if size < 1:
            raise ValueError(f"worker pool size must be at least 1, got {size}")
        self.size = size
        self._name = name
        self._sleep = sleep
        self._tasks: queue.SimpleQueue[
            tuple[Any, contextvars.Context, Callable[[], Any]] | None
        ] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Completion] = queue.SimpleQueue()
        self.in_flight = 0
        self._threads: list[threading.Thread] = []

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            tag, ctx, fn = task
            try:
                value = ctx.run(fn)
            except BaseException as exc:  # reported to the coordinator, never swallowed
                self._done.put(Completion(tag, error=exc))
            else:
                self._done.put(Completion(tag, value=value))

    def submit(self, tag: Any, fn: Callable[[], Any]) -> None:
        """Queue ``fn``; its completion carries ``tag``. ``fn`` runs in a copy of the
        submitter's context, so log context (job, stage) follows it."""
        ctx = contextvars.copy_context()
        self.in_flight += 1
        # Threads start as tasks need them (re-reading two campaigns needs two): each one
        # costs address space (stack, malloc arena), which a memory-capped run may not have.
        if len(self._threads) < min(self.size, self.in_flight):
            t = threading.Thread(
                target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
            )
            t.start()
            self._threads.append(t)
        self._tasks.put((tag, ctx, fn))

    def collect(self, timeout: float, gather: float = 0.0) -> list[Completion]:
        """Completions available, waiting up to ``timeout`` s for the first; [] if none. While
        more tasks are queued than the workers run, waits ``gather`` s more for others to
        join the first (one wake-up of the caller per batch, the workers kept busy)."""
        if self.in_flight == 0:
            return []
        try:
            batch = [self._done.get(timeout=timeout)]
        except queue.Empty:
            return []
        if gather > 0 and self.in_flight - 1 > self.size:
            self._sleep(gather)
        while True:
            try:
                batch.append(self._done.get_nowait())
            except queue.Empty:
                break
        self.in_flight -= len(batch)
        return batch

    def close(self) -> None:
        """Ask every worker to end once its current task is done; waits briefly."""
        for _ in self._threads:
            self._tasks.put(None)
        deadline = time.monotonic() + _JOIN_TIMEOUT_S
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
