"""``apply_plan``: a plan's operations run in three phases on one pool of worker threads.

1. **main pass** (:class:`~.engine.Engine`) — every operation whose prerequisites succeeded
   runs; each finished operation is journaled at once;
2. **settle** (:func:`~.settle.settle_adds`) — uncertain adds are settled by re-reading their
   campaigns (re-added only when absent), and new leads' ids are read back;
3. **post-add statuses** (:func:`~.settle.set_post_statuses`) — new leads that must end with a
   status get it.

Also here: what an apply returns (:class:`ApplyResult`) and how Ctrl-C / SIGTERM ask it to
stop (:func:`install_signal_handlers`; docs/design.md, 'Applying').
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from ..errors import ApiError
from ..models import ApplyCount, Operation, OpKind, OpOutcome, OpResult
from .calls import LeadWriter
from .engine import (
    DEFAULT_CONCURRENCY,
    DEFAULT_SETTLE_ROUNDS,
    Engine,
    FetchRemote,
    OpState,
    Progress,
)
from .journal import Journal
from .pool import WorkerPool
from .settle import set_post_statuses, settle_adds

logger = logging.getLogger(__name__)

#: Names of ``ApplyResult.counts``, in report order.
COUNT_NAMES: tuple[str, ...] = tuple(k.value for k in ApplyCount)
#: Signals that ask a run to stop: Ctrl-C and what schedulers send (systemd, Kubernetes…).
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


@dataclass(slots=True)
class ApplyResult:
    """What ``apply_plan`` did.

    ``results``: the final :class:`~leadsync.models.OpResult` of every operation, in the plan's
    order. ``counts`` (keys :data:`COUNT_NAMES`): ``added`` (adds whose lead exists, settled
    ones included), ``deleted``, ``status_set``, ``failed``, ``uncertain`` (adds left
    unsettled because the run stopped first), ``uncertain_settled`` (adds once uncertain that
    ended with their lead present), ``skipped``. An add whose lead was created but whose
    post-add status could not be set counts in ``added`` and in ``failed``.
    ``lead_ids``: (campaign_id, key) → id of added leads learned from the re-reads this apply
    made (the pipeline's verify re-read supplies the others). ``interrupted``: the stop event
    was set. ``fatal``: the error that stopped the apply (``UnreachableError``/``AuthError``).
    ``elapsed_s``: wall time. ``settle_rounds``: re-reads made to settle adds.
    """

    results: list[OpResult]
    counts: dict[str, int]
    lead_ids: dict[tuple[str, str], str]
    interrupted: bool
    fatal: ApiError | None
    elapsed_s: float
    settle_rounds: int = 0

    @property
    def ok(self) -> bool:
        """True when every operation ended well and the run was neither stopped nor fatal."""
        c = self.counts
        return (
            not self.interrupted
            and self.fatal is None
            and c[ApplyCount.FAILED] == c[ApplyCount.UNCERTAIN] == c[ApplyCount.SKIPPED] == 0
        )


def apply_plan(
    operations: Sequence[Operation],
    client: LeadWriter,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    journal: Journal,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    fetch_remote: FetchRemote | None = None,
    settle_rounds: int = DEFAULT_SETTLE_ROUNDS,
    learn_lead_ids: bool = False,
    raise_fatal: bool = True,
    clock: Callable[[], float] = time.time,
    timer: Callable[[], float] = time.monotonic,
) -> ApplyResult:
    """Run ``operations`` on ``concurrency`` worker threads sharing ``client``.

    Order: what :mod:`leadsync.apply.deps` reads from the plan (an add waits for the deletes of
    its key; a post-add status waits for its add to be settled). Every finished operation is
    appended to ``journal`` at once. Uncertain adds are never repeated blindly: each campaign
    holding one is re-read with ``fetch_remote(campaign_id)`` (a ``REMOTE_COLUMNS`` table with
    ``key``); present keys are ``settled_present``, absent ones are added again, for at most
    ``settle_rounds`` rounds, then ``failed``. Without ``fetch_remote`` uncertain adds stay
    ``uncertain``. New leads' ids come from those re-reads; ``learn_lead_ids=True`` re-reads
    every campaign that received adds so that all of them are known.

    ``stop`` set (e.g. by :func:`install_signal_handlers`): no new call starts, calls in flight
    finish, the rest are ``skipped``, settlement is not started, ``interrupted=True``.
    ``progress(done, total)`` is called from the caller's thread as operations finish.
    ``clock`` stamps ``started_at``/``finished_at`` (epoch s); ``timer`` measures ``elapsed_s``.

    Returns an :class:`ApplyResult`. Raises the client's ``UnreachableError``/``AuthError``
    after journaling every result and marking the rest skipped (the partial result is attached
    as the exception's ``apply_result``), unless ``raise_fatal=False``: then it is returned as
    ``ApplyResult.fatal``. Raises ``ValueError`` for ``concurrency < 1`` or
    ``settle_rounds < 0``.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if settle_rounds < 0:
        raise ValueError(f"settle_rounds must be 0 or more, got {settle_rounds}")
    started = timer()
    stop = stop if stop is not None else threading.Event()
    engine = Engine(
        operations,
        client,
        concurrency=concurrency,
        journal=journal,
        stop=stop,
        progress=progress,
        fetch_remote=fetch_remote,
        settle_rounds=settle_rounds,
        learn_lead_ids=learn_lead_ids,
        clock=clock,
    )
    pool = WorkerPool(concurrency)
    try:
        engine.main_pass(pool)
        settle_adds(engine, pool)
        set_post_statuses(engine, pool)
    finally:
        engine.halt.set()
        pool.close()
    result = ApplyResult(
        results=[st.result() for st in engine.states],
        counts=count_outcomes(engine.states),
        lead_ids=dict(engine.lead_ids),
        interrupted=stop.is_set(),
        fatal=engine.fatal,
        elapsed_s=timer() - started,
        settle_rounds=engine.rounds_used,
    )
    if engine.fatal is not None and raise_fatal:
        engine.fatal.apply_result = result  # type: ignore[attr-defined]
        raise engine.fatal
    return result


def count_outcomes(states: list[OpState]) -> dict[str, int]:
    """The ``ApplyResult.counts`` of final states."""
    counts = dict.fromkeys(COUNT_NAMES, 0)
    for st in states:
        kind, outcome = st.op.kind, st.outcome
        if kind is OpKind.ADD and st.lead_created:
            counts[ApplyCount.ADDED] += 1
            if st.was_uncertain:
                counts[ApplyCount.UNCERTAIN_SETTLED] += 1
        elif kind is OpKind.DELETE and outcome is OpOutcome.DONE:
            counts[ApplyCount.DELETED] += 1
        elif kind is OpKind.SET_STATUS and outcome is OpOutcome.DONE:
            counts[ApplyCount.STATUS_SET] += 1
        if outcome is OpOutcome.FAILED:
            counts[ApplyCount.FAILED] += 1
        elif outcome is OpOutcome.UNCERTAIN:
            counts[ApplyCount.UNCERTAIN] += 1
        elif outcome is OpOutcome.SKIPPED:
            counts[ApplyCount.SKIPPED] += 1
    return counts


def install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT and SIGTERM set ``stop``; return a function restoring the old handlers.

    The first signal sets ``stop`` (the apply then starts no new call, lets the calls in
    flight finish and returns). A second one, once ``stop`` is already set, raises
    ``KeyboardInterrupt`` as an impatient user expects. Must be called from the main thread
    (``signal`` only allows it there): raises ``RuntimeError`` otherwise.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("install_signal_handlers must be called from the main thread")

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        logger.warning(
            "%s received: finishing the calls in flight, starting no new one "
            "(press Ctrl-C again to abort at once)",
            signal.Signals(signum).name,
        )
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
