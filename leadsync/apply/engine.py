"""One apply run's state and its main pass: worker threads, ordering, journal.

:class:`Engine` holds every operation's state and runs calls on a pool of worker threads
sharing one client (:meth:`Engine.drive`); its main pass runs every operation whose
prerequisites succeeded (see :mod:`.deps`), each finished operation journaled at once. The
phases after it are :mod:`.settle`'s; :func:`~leadsync.apply.apply_plan` runs them in order.

The coordinating thread (the caller's) alone owns the bookkeeping; worker tasks only make one
call and return how it ended, so no lock is held while a worker waits on HTTP.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import ApiError
from ..models import Operation, OpKind, OpOutcome, OpResult
from .calls import FATAL_ERRORS, CallOutcome, LeadWriter, perform
from .deps import find_dependencies
from .journal import Journal
from .pool import Completion, WorkerPool

logger = logging.getLogger(__name__)

#: Worker threads by default (config ``api.concurrency``).
DEFAULT_CONCURRENCY = 8
#: Re-add rounds for uncertain adds before a still-missing lead is given up as failed. Each
#: round re-reads only campaigns that still hold unsettled adds. With a share p of adds left
#: uncertain (and not applied), an add is still missing after n rounds with probability
#: p^(n+1): at p = 10%, 3 rounds miss ~1 in 10,000 adds, 5 rounds ~1 in a million.
DEFAULT_SETTLE_ROUNDS = 5
#: The status the API gives a lead it adds: a post-add status equal to it needs no call.
NEW_LEAD_STATUS = "new"
#: How often (s) the coordinator looks at the stop event while waiting for workers.
POLL_INTERVAL_S = 0.05
#: After the first completion, how long the coordinator lets others join it: one wake-up,
#: one journal write per batch instead of per call. The queued tasks keep the workers busy
#: meanwhile (``QUEUE_DEPTH_PER_WORKER``).
GATHER_S = 0.004
#: Tasks queued per worker, so that a worker rarely waits for the coordinator to refill.
QUEUE_DEPTH_PER_WORKER = 2

FetchRemote = Callable[[str], pd.DataFrame]
Progress = Callable[[int, int], None]
#: A unit of work for the pool: (operation index, call returning CallOutcome|None, message
#: prefix).
Task = tuple[int, Callable[[], CallOutcome | None], str]


@dataclass(slots=True)
class OpState:
    """Mutable progress of one operation; owned by the coordinating thread only."""

    op: Operation
    waiting: int = 0  # prerequisites not finished yet
    blocked: str | None = None  # why it will be skipped (a prerequisite did not succeed)
    outcome: OpOutcome | None = None
    attempts: int = 0
    http_status: int | None = None
    message: str = ""
    method: str | None = None
    lead_id: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    was_uncertain: bool = False
    uncertain_reason: str = ""  # the message of the call that first left the add uncertain
    lead_created: bool = False  # an add whose lead exists (even if its post-add status failed)
    id_looked_up: bool = False  # a re-read was tried for this new lead's id
    id_note: str = ""  # why the id is unknown after the look-up
    remote_status: str | None = None  # the new lead's status on the re-read
    settle_blocked: str | None = None  # an uncertain add that cannot be settled: why
    # Indexes of the operations waiting on this one, and of the post-add SET_STATUS operations
    # following this add; shared empty tuples until there is one (saves memory at 1M ops).
    dependents: list[int] | tuple[()] = ()
    followers: list[int] | tuple[()] = ()

    @property
    def post_status(self) -> str | None:
        """The status an ADD itself carries for its new lead, when it needs a call (unless a
        post-add SET_STATUS operation follows the add: that one does it)."""
        op = self.op
        if op.kind is OpKind.ADD and not self.followers and op.status != NEW_LEAD_STATUS:
            return op.status or None
        return None

    def result(self) -> OpResult:
        if self.outcome is None:
            raise RuntimeError(f"operation {self.op.op_id} has no outcome yet")
        return OpResult(
            op_id=self.op.op_id,
            kind=self.op.kind,
            campaign_id=self.op.campaign_id,
            key=self.op.key,
            outcome=self.outcome,
            attempts=self.attempts,
            http_status=self.http_status,
            message=self.message,
            method=self.method,
            lead_id=self.lead_id,
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


class Engine:
    """One apply run's state and phases. Use :func:`apply_plan`."""

    def __init__(
        self,
        operations: Sequence[Operation],
        client: LeadWriter,
        *,
        concurrency: int,
        journal: Journal,
        stop: threading.Event,
        progress: Progress | None,
        fetch_remote: FetchRemote | None,
        settle_rounds: int,
        learn_lead_ids: bool,
        clock: Callable[[], float],
    ) -> None:
        self.client = client
        self.journal = journal
        self.stop = stop
        self.progress = progress
        self.fetch_remote = fetch_remote
        self.settle_rounds = settle_rounds
        self.learn_lead_ids = learn_lead_ids
        self.clock = clock
        self.window = concurrency * QUEUE_DEPTH_PER_WORKER
        self.halt = threading.Event()  # stop or fatal: no new call starts
        self.fatal: ApiError | None = None
        self.rounds_used = 0
        self.lead_ids: dict[tuple[str, str], str] = {}

        deps = find_dependencies(operations)
        self.states = [OpState(op) for op in operations]
        self.post_status_of = deps.post_status_of
        self.refused = deps.refused
        for i, add_index in deps.post_status_of.items():
            add = self.states[add_index]
            add.followers = add.followers or []
            add.followers.append(i)
        for i, prerequisites in deps.prerequisites.items():
            if i in deps.post_status_of:
                continue  # they run in the settle phase, after their add
            self.states[i].waiting = len(prerequisites)
            for j in prerequisites:
                before = self.states[j]
                before.dependents = before.dependents or []
                before.dependents.append(i)
        self.total = len(self.states)
        self.finished = 0

    # --- bookkeeping ------------------------------------------------------------------------
    def halted(self) -> bool:
        """True once the stop event was set or a fatal error happened."""
        if self.stop.is_set():
            self.halt.set()
        return self.halt.is_set()

    def set_fatal(self, error: ApiError) -> None:
        if self.fatal is None:
            self.fatal = error
            logger.error("stopping the apply: %s", error)
        self.halt.set()

    def skip_message(self) -> str:
        if self.fatal is not None:
            return f"not started: the apply stopped on {type(self.fatal).__name__}"
        return "not started: the run was interrupted"

    def report_progress(self) -> None:
        if self.progress is not None:
            self.progress(self.finished, self.total)

    def finish(
        self, i: int, outcome: OpOutcome, message: str, out: list[OpResult], **fields: Any
    ) -> None:
        """Record operation i's (new) outcome; its journal line is queued in ``out``."""
        st = self.states[i]
        if st.outcome is None:
            self.finished += 1
        st.outcome = outcome
        st.message = message
        for name, value in fields.items():
            setattr(st, name, value)
        if not st.started_at:
            st.started_at = st.finished_at = self.clock()
        out.append(st.result())

    def complete(self, completion: Completion, out: list[OpResult], prefix: str = "") -> None:
        """Record how the task of operation ``completion.tag`` ended (``prefix`` leads its
        message)."""
        i = completion.tag
        st = self.states[i]
        if completion.error is not None:  # only a BaseException escapes perform()
            message = f"worker error: {completion.error!r}"
            is_add = st.op.kind is OpKind.ADD  # it may have been sent: let the re-read decide
            if is_add and not st.was_uncertain:
                st.was_uncertain, st.uncertain_reason = True, message
            self.finish(i, OpOutcome.UNCERTAIN if is_add else OpOutcome.FAILED, message, out)
            return
        call = completion.value
        if call is None:  # not started: the run was halted meanwhile
            if st.outcome is None:
                self.finish(i, OpOutcome.SKIPPED, self.skip_message(), out)
            return
        if call.fatal is not None:
            self.set_fatal(call.fatal)
        if call.outcome is OpOutcome.UNCERTAIN and not st.was_uncertain:
            st.was_uncertain = True
            st.uncertain_reason = call.message
        if st.op.kind is OpKind.ADD and call.outcome is OpOutcome.DONE:
            st.lead_created = True
        # Once per call: the fields are set here rather than through finish(**fields).
        st.attempts += call.attempts
        st.http_status = call.http_status
        st.method = call.method or st.method
        st.started_at = st.started_at or call.started_at
        st.finished_at = call.finished_at
        message = f"{prefix}; {call.message}" if prefix and call.message else prefix or call.message
        self.finish(i, call.outcome, message, out)

    # --- tasks ------------------------------------------------------------------------------
    def task(self, call: Callable[[], Any], *, is_add: bool) -> Callable[[], CallOutcome | None]:
        """A worker task making ``call``; it returns None (not started) once the run halted."""
        halt, stop, clock = self.halt, self.stop, self.clock

        def run() -> CallOutcome | None:
            if halt.is_set() or stop.is_set():
                return None
            outcome = perform(call, is_add=is_add, clock=clock)
            if outcome.fatal is not None:
                halt.set()  # at once: the tasks already queued must not start
            return outcome

        return run

    def op_task(self, op: Operation) -> Callable[[], CallOutcome | None]:
        """The task carrying out ``op``."""
        client = self.client
        if op.kind is OpKind.ADD:
            body = dict(op.body or {})
            body.setdefault("number", op.key)
            return self.task(functools.partial(client.add_lead, op.campaign_id, body), is_add=True)
        if op.kind is OpKind.SET_STATUS:
            return self.status_task(str(op.lead_id), str(op.status))
        return self.task(functools.partial(client.delete_lead, str(op.lead_id)), is_add=False)

    def status_task(self, lead_id: str, status: str) -> Callable[[], CallOutcome | None]:
        """The task setting lead ``lead_id``'s status to ``status``."""
        return self.task(functools.partial(self.client.set_status, lead_id, status), is_add=False)

    def drive(
        self,
        pool: WorkerPool,
        tasks: Iterable[Task],
        on_complete: Callable[[Completion, list[OpResult]], Iterable[Task]] | None = None,
    ) -> None:
        """Run ``tasks`` on the pool, at most ``window`` queued at once, until all finished or
        the run halted. Completions are journaled batch by batch; ``on_complete`` (default:
        :meth:`complete`) may return follow-up tasks, which join the queue."""
        fresh = iter(tasks)  # consumed lazily: a million operations are not queued at once
        follow_ups: deque[Task] = deque()
        prefixes: dict[int, str] = {}

        def default(c: Completion, out: list[OpResult]) -> Iterable[Task]:
            self.complete(c, out, prefixes.pop(c.tag, ""))
            return ()

        handle = on_complete or default
        while True:
            halted = self.halted()
            while not halted and pool.in_flight < self.window:
                nxt = follow_ups.popleft() if follow_ups else next(fresh, None)
                if nxt is None:
                    break
                i, fn, prefix = nxt
                if prefix:
                    prefixes[i] = prefix
                pool.submit(i, fn)
            if pool.in_flight == 0:
                return
            batch = pool.collect(POLL_INTERVAL_S, GATHER_S)
            if not batch:
                continue
            out: list[OpResult] = []
            for completion in batch:
                follow_ups.extend(handle(completion, out))
            self.journal.append(out)
            self.report_progress()

    # --- phase 1 ----------------------------------------------------------------------------
    def release_dependents(self, i: int, out: list[OpResult]) -> list[int]:
        """Operation i is final: return the operations it unblocked; skip (recursively) those
        that may no longer run because i did not succeed."""
        ready: list[int] = []
        pending = [i]
        while pending:
            done = self.states[pending.pop()]
            for d in done.dependents:
                dep = self.states[d]
                dep.waiting -= 1
                if done.outcome is not OpOutcome.DONE and dep.blocked is None:
                    dep.blocked = (
                        f"skipped: {done.op.kind} of {done.op.key} (op {done.op.op_id}) "
                        f"ended {done.outcome}"
                    )
                if dep.waiting == 0 and dep.outcome is None:
                    if dep.blocked is not None:
                        self.finish(d, OpOutcome.SKIPPED, dep.blocked, out)
                        pending.append(d)
                    else:
                        ready.append(d)
        return ready

    def main_pass(self, pool: WorkerPool) -> None:
        out: list[OpResult] = []
        for i, reason in self.refused.items():
            self.finish(i, OpOutcome.FAILED, f"refused: {reason}", out)
        for i in self.refused:
            self.release_dependents(i, out)  # a refused op never unblocks anything
        self.journal.append(out)

        def on_complete(c: Completion, out: list[OpResult]) -> Iterable[Task]:
            self.complete(c, out)
            return [
                (d, self.op_task(self.states[d].op), "")
                for d in self.release_dependents(c.tag, out)
            ]

        # Chosen now, not lazily: an operation released later by its prerequisite must be
        # dispatched once, by release_dependents only.
        first = [
            i
            for i, st in enumerate(self.states)
            if st.outcome is None and st.waiting == 0 and i not in self.post_status_of
        ]
        self.drive(pool, ((i, self.op_task(self.states[i].op), "") for i in first), on_complete)

        # What never ran: interrupted, fatal, or waiting on something that never ran.
        out = []
        message = self.skip_message() if self.halted() else "skipped: its prerequisite never ran"
        for i, st in enumerate(self.states):
            if st.outcome is None and i not in self.post_status_of:
                self.finish(i, OpOutcome.SKIPPED, message, out)
        self.journal.append(out)
        self.report_progress()

    # --- re-reads ---------------------------------------------------------------------------
    def fetch_all(self, pool: WorkerPool, campaign_ids: list[str]) -> dict[str, pd.DataFrame | str]:
        """Re-read each campaign (concurrently on the pool): its table, or why it failed."""
        assert self.fetch_remote is not None
        fetch = self.fetch_remote
        remotes: dict[str, pd.DataFrame | str] = {}
        for cid in campaign_ids:
            pool.submit(cid, functools.partial(fetch, cid))
        while pool.in_flight:
            for c in pool.collect(POLL_INTERVAL_S):
                if c.error is None:
                    remotes[c.tag] = c.value
                    continue
                if not isinstance(c.error, Exception):
                    raise c.error
                if isinstance(c.error, FATAL_ERRORS):
                    self.set_fatal(c.error)
                else:
                    logger.warning("re-reading campaign %s failed: %s", c.tag, c.error)
                remotes[c.tag] = f"could not re-read the campaign: {c.error}"
        self.rounds_used += 1
        return remotes
