"""After the main pass: settle uncertain adds, learn new leads' ids, set post-add statuses.

An add whose outcome is unknown (docs/design.md, API decision 2) is never repeated blindly. Once no
call is in flight, every campaign holding such an add is re-read:

- key present → ``settled_present``: the lead exists, it is not added again;
- key absent → added again (safe: nothing else of ours is in flight and we just saw the key
  absent); an add that is uncertain again is settled by the next round;
- after ``settle_rounds`` re-adds a key still absent → ``failed`` with a clear message.

The same re-read gives the ids of new leads (the add call returns none), which the post-add
statuses need: a SET_STATUS following an add, or an ADD carrying a ``status`` other than
``new``, is set on the new lead's id once it is known.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ..models import OpKind, OpOutcome, OpResult
from .engine import Engine, Task
from .pool import Completion, WorkerPool

#: (lead id, status, created) of one remote lead.
RemoteLead = tuple[str, str, int]


def index_remote(remote: pd.DataFrame, keys: set[str]) -> dict[str, list[RemoteLead]]:
    """key → its leads, oldest first, for the ``keys`` asked about, from a ``REMOTE_COLUMNS``
    table (filtered first, vectorized: a re-read may hold a million leads)."""
    index: dict[str, list[RemoteLead]] = {}
    if remote.empty or not keys:
        return index
    remote = remote[remote["key"].astype(str).isin(keys)]
    created = pd.to_numeric(remote["created"], errors="coerce").fillna(0).astype("int64")
    for key, lead_id, status, when in zip(
        remote["key"].astype(str),
        remote["id"].astype(str),
        remote["status"].astype(str),
        created,
        strict=True,
    ):
        index.setdefault(key, []).append((lead_id, status, int(when)))
    for leads in index.values():
        if len(leads) > 1:
            leads.sort(key=lambda lead: lead[2])
    return index


def _look_up(engine: Engine, i: int, found: list[RemoteLead] | None, why_not: str) -> None:
    """Record the id (and status) of the lead add i created, from its key's remote leads."""
    st = engine.states[i]
    st.id_looked_up = True
    if not found:
        st.id_note = why_not
        return
    lead_id, status, _ = found[-1]  # newest: the one an add made
    st.lead_id, st.remote_status = lead_id, status
    engine.lead_ids[(st.op.campaign_id, st.op.key)] = lead_id
    if len(found) > 1:
        st.id_note = f"the campaign holds {len(found)} leads for this key; took the newest"


def settle_adds(engine: Engine, pool: WorkerPool) -> None:
    """Settle uncertain adds and look up new leads' ids (module docstring). Stops at once
    when the run is halted; unsettled adds then stay ``uncertain``."""
    states = engine.states
    adds = [i for i, st in enumerate(states) if st.op.kind is OpKind.ADD]
    readds = 0
    while not engine.halted():
        uncertain = {
            i
            for i in adds
            if states[i].outcome is OpOutcome.UNCERTAIN and states[i].settle_blocked is None
        }
        want_ids = [
            i
            for i in adds
            if states[i].lead_created
            and not states[i].id_looked_up
            and (engine.learn_lead_ids or states[i].followers or states[i].post_status)
        ]
        if not uncertain and not want_ids:
            return
        out: list[OpResult] = []
        if engine.fetch_remote is None:
            for i in sorted(uncertain):
                st = states[i]
                st.settle_blocked = "not settled: no re-read available"
                engine.finish(
                    i, OpOutcome.UNCERTAIN, f"{st.uncertain_reason}; {st.settle_blocked}", out
                )
            for i in want_ids:
                states[i].id_looked_up = True
                states[i].id_note = "no re-read available"
            engine.journal.append(out)
            return

        campaigns = sorted({states[i].op.campaign_id for i in (*uncertain, *want_ids)})
        remotes = engine.fetch_all(pool, campaigns)
        keys: dict[str, set[str]] = {}
        for i in adds:  # every add of a re-read campaign whose lead we may look up
            st = states[i]
            if st.op.campaign_id in remotes and (st.lead_created or i in uncertain):
                keys.setdefault(st.op.campaign_id, set()).add(st.op.key)
        indexes = {
            c: index_remote(r, keys.get(c, set()))
            for c, r in remotes.items()
            if isinstance(r, pd.DataFrame)
        }
        for i in adds:
            st = states[i]
            cid = st.op.campaign_id
            if cid in remotes and st.lead_created and not st.id_looked_up:
                remote = remotes[cid]
                why = remote if isinstance(remote, str) else "the re-read found no lead for it"
                _look_up(engine, i, indexes.get(cid, {}).get(st.op.key), why)

        tasks: list[Task] = []
        for i in sorted(uncertain):
            st = states[i]
            cid = st.op.campaign_id
            remote = remotes[cid]
            if isinstance(remote, str):
                st.settle_blocked = remote
                engine.finish(i, OpOutcome.UNCERTAIN, f"{st.uncertain_reason}; {remote}", out)
                continue
            found = indexes[cid].get(st.op.key)
            if found:
                st.lead_created = True
                _look_up(engine, i, found, "")
                note = f" ({st.id_note})" if st.id_note else ""
                engine.finish(
                    i,
                    OpOutcome.SETTLED_PRESENT,
                    f"outcome was uncertain ({st.uncertain_reason}); re-read "
                    f"{engine.rounds_used} found the lead, so it was not added again{note}",
                    out,
                    finished_at=engine.clock(),
                )
            elif readds < engine.settle_rounds:
                prefix = (
                    f"outcome was uncertain ({st.uncertain_reason}); re-read "
                    f"{engine.rounds_used} found no lead for the key, so it was added again"
                )
                tasks.append((i, engine.op_task(st.op), prefix))
            else:
                engine.finish(
                    i,
                    OpOutcome.FAILED,
                    f"outcome stayed uncertain through {engine.settle_rounds} re-add round(s) "
                    f"and the lead is still absent ({st.message})",
                    out,
                    finished_at=engine.clock(),
                )
        engine.journal.append(out)
        if tasks:
            readds += 1
            engine.drive(pool, tasks)


def set_post_statuses(engine: Engine, pool: WorkerPool) -> None:
    """Set the statuses new leads must end with, on the ids the re-read found.

    A post-add SET_STATUS operation ends ``done``/``failed``/``skipped`` like any operation.
    An ADD carrying its own status stays ``done``/``settled_present`` when the status is set,
    and becomes ``failed`` (its lead still counted as added) when it cannot be set.
    """
    states = engine.states
    out: list[OpResult] = []
    tasks: list[Task] = []
    wanted: dict[int, str] = {}  # operation index -> status it sets
    for i, st in enumerate(states):
        if st.op.kind is not OpKind.ADD or not (st.followers or st.post_status):
            continue
        targets = [(j, str(states[j].op.status)) for j in st.followers]
        if st.post_status:
            targets.insert(0, (i, st.post_status))
        for j, status in targets:
            own = j == i
            if not own and states[j].outcome is not None:
                continue
            if engine.halted():
                if not own:
                    engine.finish(j, OpOutcome.SKIPPED, engine.skip_message(), out)
                continue
            if not st.lead_created:
                if not own:
                    engine.finish(j, OpOutcome.SKIPPED, f"skipped: its add ended {st.outcome}", out)
                continue
            if st.lead_id is None:
                engine.finish(
                    j,
                    OpOutcome.FAILED,
                    f"lead added but its id is unknown ({st.id_note or 'not re-read'}): "
                    f"status {status!r} not set",
                    out,
                )
                continue
            if not own:
                states[j].lead_id = st.lead_id
            if st.remote_status == status:
                if not own:
                    engine.finish(j, OpOutcome.DONE, f"new lead already {status}", out)
                continue
            lead_id = st.lead_id
            wanted[j] = status
            tasks.append(
                (
                    j,
                    engine.status_task(lead_id, status),
                    f"status {status!r} of new lead {lead_id}",
                )
            )
    engine.journal.append(out)

    def on_complete(c: Completion, out: list[OpResult]) -> Iterable[Task]:
        i = c.tag
        st = states[i]
        status = wanted.pop(i)
        if st.op.kind is not OpKind.ADD:
            engine.complete(c, out, f"status of new lead {st.lead_id}")
            return ()
        call = c.value
        assert st.outcome is not None
        if c.error is not None or call is None:
            why = "the run was interrupted" if call is None else repr(c.error)
            engine.finish(i, st.outcome, f"{st.message}; status {status!r} not set: {why}", out)
            return ()
        if call.fatal is not None:
            engine.set_fatal(call.fatal)
        if call.outcome is OpOutcome.DONE:
            message = "; ".join(m for m in (st.message, f"status {status!r} set") if m)
            outcome = st.outcome
        else:
            message = (
                f"lead {st.lead_id} added, but setting its status to {status!r} failed: "
                f"{call.message}"
            )
            outcome = OpOutcome.FAILED
        engine.finish(
            i,
            outcome,
            message,
            out,
            attempts=st.attempts + call.attempts,
            finished_at=call.finished_at,
        )
        return ()

    if tasks:
        engine.drive(pool, tasks, on_complete)
    # Halted before these could start.
    out = []
    for j, status in wanted.items():
        st = states[j]
        if st.outcome is None:
            engine.finish(j, OpOutcome.SKIPPED, engine.skip_message(), out)
        else:
            engine.finish(
                j, st.outcome, f"{st.message}; status {status!r} not set: interrupted", out
            )
    engine.journal.append(out)
    engine.report_progress()
