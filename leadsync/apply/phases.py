"""``apply_plan``: a plan's operations run in three phases on one pool of worker threads.

1. **main pass** (:class:`~.engine.Engine`) — every operation whose prerequisites succeeded
   runs; each finished operation is journaled at once;
2. **settle** (:func:`~.settle.settle_adds`) — uncertain adds are settled by re-reading their
   campaigns (re-added only when absent), and new leads' ids are read back;
3. **post-add statuses** (:func:`~.settle.set_post_statuses`) — new leads that must end with a
   status get it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from ..models import Operation
from .calls import LeadWriter
from .engine import DEFAULT_CONCURRENCY, DEFAULT_SETTLE_ROUNDS, Engine, FetchRemote, Progress
from .journal import Journal
from .pool import WorkerPool
from .settle import set_post_statuses, settle_adds
from .state import ApplyResult, count_outcomes


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
