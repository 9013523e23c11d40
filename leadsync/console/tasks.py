"""Long work off the event loop: a plan, an apply, a job's dry run, each in its own thread.

A :class:`Task` runs one function in a worker thread and keeps what a page shows of it: the
stage, ``done`` of ``total``, failures, throttling, and the result or the error when it ends.
Its state lives in the server, not in the page, so a reload (or a second tab) shows the same
progress; :meth:`Task.snapshot` is what the progress stream sends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LeadsyncError
from ..models import OpOutcome

log = logging.getLogger(__name__)

#: Bytes of ``operations.jsonl`` read per look at a running apply.
JOURNAL_READ_BYTES = 4 * 1024 * 1024


@dataclass
class Progress:
    """What a page shows of a running task."""

    stage: str = "starting"
    done: int = 0
    total: int | None = None
    failed: int = 0
    throttled: int = 0
    retries: int = 0
    in_flight: int = 0


@dataclass
class JournalTail:
    """Counts the outcomes of ``operations.jsonl`` as lines are appended (last line of an
    operation wins, as in :func:`leadsync.apply.latest_results`)."""

    path: Path
    offset: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)
    _partial: bytes = b""

    def read(self) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read(JOURNAL_READ_BYTES)
        except OSError:
            return
        self.offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            try:
                record = json.loads(line)
                self.outcomes[int(record["op_id"])] = str(record["outcome"])
            except (ValueError, KeyError, TypeError):
                continue

    def failed(self) -> int:
        return sum(o == OpOutcome.FAILED for o in self.outcomes.values())


@dataclass
class Task:
    """One piece of long work, run in a worker thread."""

    kind: str  # plan | apply | dry-run
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    progress: Progress = field(default_factory=Progress)
    state: str = "running"  # running | done | error
    error: str | None = None
    result: Any = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    #: Looked at whenever a snapshot is taken (apply: the journal and the API counters).
    watch: Callable[[Progress], None] | None = None
    thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _watch_lock: threading.Lock = field(default_factory=threading.Lock)
    _on_end: list[Callable[[], None]] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def report(self, stage: str, done: int, total: int | None) -> None:
        """The pipeline's ``progress(stage, done, total)`` callback."""
        with self._lock:
            self.progress.stage = stage
            self.progress.done = done
            self.progress.total = total

    def _look(self) -> None:
        # Outside the progress lock: the engine's callback must never wait for a page.
        if self.watch is not None:
            with self._watch_lock:
                try:
                    self.watch(self.progress)
                except Exception:  # a look at the journal must never break the page
                    log.debug("progress watch failed", exc_info=True)

    def snapshot(self) -> dict[str, Any]:
        if self.running:
            self._look()
        with self._lock:
            return {
                "id": self.id,
                "kind": self.kind,
                "state": self.state,
                "error": self.error,
                "elapsed_s": round((self.finished or time.time()) - self.started, 1),
                **dataclasses.asdict(self.progress),
            }

    def start(self, fn: Callable[[Task], Any]) -> Task:
        """Run ``fn(self)`` in a daemon thread; its return value becomes ``result``. An
        exception ends the task in ``error`` (the trace goes to the log, not to the page)."""

        def body() -> None:
            state, error, result = "done", None, None
            try:
                result = fn(self)
            except LeadsyncError as err:  # worded for people, secrets masked: shown as it is
                state, error = "error", str(err)
            except Exception as err:
                log.exception("console task %s (%s) failed", self.id, self.kind)
                # Only the type reaches the page: a message might carry what a page must not.
                state, error = "error", f"internal error ({type(err).__name__}); see the log"
            self._look()
            with self._lock:
                self.progress.in_flight = 0
                self.finished = time.time()
                self.result, self.error, self.state = result, error, state
                ended, self._on_end = self._on_end, []
            for call in ended:
                _call_quietly(call)

        self.thread = threading.Thread(
            target=body, name=f"console-{self.kind}-{self.id}", daemon=True
        )
        self.thread.start()
        return self

    def on_end(self, call: Callable[[], None]) -> Callable[[], None]:
        """Call ``call()`` (in the worker thread) once the task has ended, or now if it has;
        returns a function that cancels the call. For a page waiting for the end."""
        with self._lock:
            if self.running:
                self._on_end.append(call)
                return lambda: self._forget(call)
        _call_quietly(call)
        return lambda: None

    def _forget(self, call: Callable[[], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._on_end.remove(call)

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


def _call_quietly(call: Callable[[], None]) -> None:
    try:
        call()
    except Exception:  # a page that went away must not break the task
        log.debug("task end callback failed", exc_info=True)


def apply_watch(
    journal: Path, counters: Callable[[], Mapping[str, int]], concurrency: int
) -> Callable[[Progress], None]:
    """A watch for an apply: failed operations from the journal, throttled answers and
    retries from the API client, and the calls in flight (at most ``concurrency``)."""
    tail = JournalTail(journal)

    def watch(progress: Progress) -> None:
        tail.read()
        progress.failed = tail.failed()
        counts = counters()
        progress.throttled = int(counts.get("throttled", 0))
        progress.retries = int(counts.get("retries", 0))
        if progress.stage == "apply" and progress.total is not None:
            progress.in_flight = max(0, min(concurrency, progress.total - progress.done))
        else:
            progress.in_flight = 0

    return watch
