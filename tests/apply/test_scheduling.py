"""Scheduling logic with an in-process fake client: order, stop, fatal errors, post-add
statuses. (The API behaviour itself is tested against the sandbox in test_apply_sandbox.py.)"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from leadsync.apply import Journal, apply_plan, read_journal
from leadsync.errors import BadRequestError, UncertainAddError, UnreachableError
from leadsync.models import OpOutcome

from .support import FakeClient, add_op, add_ops, delete_op, number, status_op

WAIT_S = 5.0


def journal_at(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "operations.jsonl")


def test_add_of_a_replace_starts_only_after_its_delete(tmp_path: Path) -> None:
    def slow_delete(kind: str, arg: str) -> None:
        if kind == "delete":
            time.sleep(0.05)

    client = FakeClient(slow_delete)
    client.leads["OLD"] = {
        "id": "OLD",
        "campaign_id": "c",
        "number": number(1),
        "status": "new",
        "created": 0,
    }
    ops = [
        delete_op(1, "c", number(1), "OLD", "drift-replace"),
        *add_ops("c", 20, start=100),  # keep the other workers busy
        add_op(2, "c", number(1), after=1, first_name="New"),
    ]
    with journal_at(tmp_path) as journal:
        result = apply_plan(ops, client, concurrency=8, journal=journal)
    assert client.calls.index(("delete", "OLD")) < client.calls.index(("add", number(1)))
    by_id = {r.op_id: r for r in result.results}
    assert by_id[2].started_at >= by_id[1].finished_at
    assert result.counts["deleted"] == 1 and result.counts["added"] == 21


def test_add_is_skipped_when_its_delete_failed(tmp_path: Path) -> None:
    def refuse_delete(kind: str, arg: str) -> None:
        if kind == "delete":
            raise BadRequestError("The information sent is invalid.", status=400)

    client = FakeClient(refuse_delete)
    ops = [
        delete_op(1, "c", number(1), "OLD", "drift-replace"),
        add_op(2, "c", number(1), after=1),
        status_op(3, "c", number(1), "success", after=2),  # follows the skipped add
    ]
    with journal_at(tmp_path) as journal:
        result = apply_plan(ops, client, journal=journal, fetch_remote=client.fetch)
    outcomes = [r.outcome for r in result.results]
    assert outcomes == [OpOutcome.FAILED, OpOutcome.SKIPPED, OpOutcome.SKIPPED]
    assert "op 1" in result.results[1].message and "failed" in result.results[1].message
    assert ("add", number(1)) not in client.calls
    assert result.counts == {
        "added": 0,
        "deleted": 0,
        "status_set": 0,
        "failed": 1,
        "uncertain": 0,
        "uncertain_settled": 0,
        "skipped": 2,
    }
    assert not result.ok


def test_stop_lets_calls_in_flight_finish_and_skips_the_rest(tmp_path: Path) -> None:
    entered = threading.Semaphore(0)
    release = threading.Event()

    def hold(kind: str, arg: str) -> None:
        entered.release()
        assert release.wait(WAIT_S)

    client = FakeClient(hold)
    stop = threading.Event()
    box: dict[str, object] = {}
    journal = journal_at(tmp_path)
    runner = threading.Thread(
        target=lambda: box.update(
            result=apply_plan(add_ops("c", 10), client, concurrency=2, journal=journal, stop=stop)
        )
    )
    runner.start()
    for _ in range(2):
        assert entered.acquire(timeout=WAIT_S)  # both workers are inside a call
    stop.set()
    time.sleep(0.2)  # give a wrongly-behaving engine the chance to start more
    release.set()
    runner.join(WAIT_S)
    journal.close()
    result = box["result"]
    assert result.interrupted  # type: ignore[attr-defined]
    outcomes = [r.outcome for r in result.results]  # type: ignore[attr-defined]
    assert outcomes.count(OpOutcome.DONE) == 2 and outcomes.count(OpOutcome.SKIPPED) == 8
    assert len(client.calls) == 2
    journaled = {r.op_id: r.outcome for r in read_journal(journal.path)}
    assert journaled == {r.op_id: r.outcome for r in result.results}  # type: ignore[attr-defined]


def test_fatal_error_stops_everything_and_is_raised_after_journaling(tmp_path: Path) -> None:
    def fail_third(kind: str, arg: str) -> None:
        if arg == number(2):
            raise UnreachableError("API unreachable after 6 attempt(s)", method="PUT")

    client = FakeClient(fail_third)
    journal = journal_at(tmp_path)
    with pytest.raises(UnreachableError) as info:
        apply_plan(add_ops("c", 10), client, concurrency=1, journal=journal)
    journal.close()
    result = info.value.apply_result  # type: ignore[attr-defined]
    assert [r.outcome for r in result.results[:3]] == [OpOutcome.DONE] * 2 + [OpOutcome.FAILED]
    assert {r.outcome for r in result.results[3:]} == {OpOutcome.SKIPPED}
    assert "UnreachableError" in result.results[3].message
    assert len(read_journal(journal.path)) == 10
    assert len(client.calls) == 3

    client = FakeClient(fail_third)
    with journal_at(tmp_path) as journal:
        returned = apply_plan(
            add_ops("c", 10), client, concurrency=1, journal=journal, raise_fatal=False
        )
    assert isinstance(returned.fatal, UnreachableError) and returned.counts["skipped"] == 7


def test_post_add_status_is_set_on_the_new_lead(tmp_path: Path) -> None:
    client = FakeClient()
    ops = [
        add_op(1, "c", number(1)),
        status_op(2, "c", number(1), "success", after=1),
        add_op(3, "c", number(3), status="failed"),  # an add carrying its own status
        add_op(4, "c", number(4), status="new"),  # the default: no call, no re-read needed
    ]
    with journal_at(tmp_path) as journal:
        result = apply_plan(ops, client, journal=journal, fetch_remote=client.fetch)
    by_number = {lead["number"]: lead for lead in client.leads.values()}
    assert by_number[number(1)]["status"] == "success"
    assert by_number[number(3)]["status"] == "failed"
    assert by_number[number(4)]["status"] == "new"
    r = result.results
    assert [x.outcome for x in r] == [OpOutcome.DONE] * 4
    assert r[1].lead_id == by_number[number(1)]["id"]
    assert result.lead_ids[("c", number(1))] == by_number[number(1)]["id"]
    assert result.lead_ids[("c", number(3))] == by_number[number(3)]["id"]
    assert result.counts["added"] == 3 and result.counts["status_set"] == 1
    assert result.settle_rounds == 1


def test_post_add_status_failure_is_reported_on_the_add(tmp_path: Path) -> None:
    def refuse_status(kind: str, arg: str) -> None:
        if kind == "status":
            raise BadRequestError("The information sent is invalid.", status=400)

    client = FakeClient(refuse_status)
    with journal_at(tmp_path) as journal:
        result = apply_plan(
            [add_op(1, "c", number(1), status="success")],
            client,
            journal=journal,
            fetch_remote=client.fetch,
        )
    (r,) = result.results
    assert r.outcome is OpOutcome.FAILED and r.lead_id is not None
    assert "added, but setting its status to 'success' failed" in r.message
    assert result.counts["added"] == 1 and result.counts["failed"] == 1


def test_without_a_re_read_uncertain_adds_stay_uncertain(tmp_path: Path) -> None:
    def uncertain(kind: str, arg: str) -> None:
        raise UncertainAddError("outcome unknown", status=500)

    client = FakeClient(uncertain)
    with journal_at(tmp_path) as journal:
        result = apply_plan(add_ops("c", 3), client, journal=journal)
    assert {r.outcome for r in result.results} == {OpOutcome.UNCERTAIN}
    assert "no re-read available" in result.results[0].message
    assert result.counts["uncertain"] == 3 and not result.ok


def test_an_unexpected_error_in_an_add_is_settled_not_repeated_blindly(tmp_path: Path) -> None:
    seen: set[str] = set()

    def crash_once(kind: str, arg: str) -> None:
        if arg not in seen:
            seen.add(arg)
            raise RuntimeError("bug in a lower layer")

    client = FakeClient(crash_once)
    with journal_at(tmp_path) as journal:
        result = apply_plan(add_ops("c", 4), client, journal=journal, fetch_remote=client.fetch)
    assert {r.outcome for r in result.results} == {OpOutcome.DONE}
    assert all("RuntimeError" in r.message and "added again" in r.message for r in result.results)
    assert result.counts["uncertain_settled"] == 4
    assert len(client.leads) == 4


def test_refused_and_progress(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    client = FakeClient()
    ops = [*add_ops("c", 5), add_op(99, "c", number(0))]  # key 0 added twice
    with journal_at(tmp_path) as journal:
        result = apply_plan(
            ops, client, journal=journal, progress=lambda d, t: calls.append((d, t))
        )
    assert result.results[-1].outcome is OpOutcome.FAILED
    assert "refused" in result.results[-1].message
    assert len(client.leads) == 5
    assert calls[-1] == (6, 6)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_bad_arguments(tmp_path: Path) -> None:
    with journal_at(tmp_path) as journal, pytest.raises(ValueError, match="concurrency"):
        apply_plan([], FakeClient(), concurrency=0, journal=journal)
    with journal_at(tmp_path) as journal:
        empty = apply_plan([], FakeClient(), journal=journal)
    assert empty.results == [] and empty.ok


def test_a_worker_dying_inside_an_add_leaves_it_uncertain_then_settled(tmp_path: Path) -> None:
    seen: set[str] = set()

    def exit_once(kind: str, arg: str) -> None:
        if arg not in seen:
            seen.add(arg)
            raise SystemExit(3)  # not an Exception: escapes the call classification

    client = FakeClient(exit_once)
    with journal_at(tmp_path) as journal:
        result = apply_plan(add_ops("c", 3), client, journal=journal, fetch_remote=client.fetch)
    assert {r.outcome for r in result.results} == {OpOutcome.DONE}
    assert all("worker error: SystemExit(3)" in r.message for r in result.results)
    assert len(client.leads) == 3


def test_learn_lead_ids_re_reads_campaigns_that_received_adds(tmp_path: Path) -> None:
    client = FakeClient()
    ops = [*add_ops("c", 3), *add_ops("d", 2, start=10)]
    with journal_at(tmp_path) as journal:
        plain = apply_plan(ops, client, journal=journal, fetch_remote=client.fetch)
    assert plain.lead_ids == {} and plain.settle_rounds == 0  # no re-read was needed

    client = FakeClient()
    with journal_at(tmp_path) as journal:
        learned = apply_plan(
            ops, client, journal=journal, fetch_remote=client.fetch, learn_lead_ids=True
        )
    ids = {(lead["campaign_id"], lead["number"]): lead["id"] for lead in client.leads.values()}
    assert learned.lead_ids == ids and len(ids) == 5
    assert [r.lead_id for r in learned.results] == [ids[(op.campaign_id, op.key)] for op in ops]
    assert learned.settle_rounds == 1
