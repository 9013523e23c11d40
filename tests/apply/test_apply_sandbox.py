"""apply_plan against the real sandbox over HTTP: results, faults, order, stop, kill, fatal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from leadsync.api import CampaignsClient
from leadsync.apply import Journal, apply_plan, latest_results, read_journal
from leadsync.apply.engine import QUEUE_DEPTH_PER_WORKER
from leadsync.errors import UnreachableError
from leadsync.models import OpOutcome
from leadsync.sandbox import Sandbox
from tests.conftest import MakeSandbox
from tests.helpers import settings_for

from .support import add_op, add_ops, delete_op, fetcher, number, numbers_in, status_op

REPO = Path(__file__).resolve().parents[2]
#: Quick retries for tests (the client's own backoff is tested with the client).
FAST = {"backoff_max_s": 0.05, "retry_budget": 100_000}
#: Requests a bearer token is good for in the fault tests: re-logins happen by count, however
#: fast or slow the machine runs the test.
TOKEN_USES = 250


@pytest.fixture
def clients() -> Iterator[list[CampaignsClient]]:
    made: list[CampaignsClient] = []
    yield made
    for c in made:
        c.close()


def client_for(sb: Sandbox, made: list[CampaignsClient], **overrides: Any) -> CampaignsClient:
    client = CampaignsClient(settings_for(sb, **{**FAST, **overrides}))
    made.append(client)
    return client


def test_every_kind_of_operation_lands(
    sandbox: Sandbox, tmp_path: Path, clients: list[CampaignsClient]
) -> None:
    cid = sandbox.state.add_campaign("Spring")
    ids = sandbox.state.add_leads(
        cid,
        [{"number": number(n), "status": "new", "first_name": "Old"} for n in (1, 2, 3, 4)],
    )
    ops = [
        add_op(10, cid, number(10), first_name="Ann", priority=3),
        add_op(11, cid, number(11)),
        status_op(12, cid, number(11), "success", after=11),  # the new lead's status
        status_op(13, cid, number(1), "failed", lead_id=ids[0]),
        delete_op(14, cid, number(3), ids[2]),
        delete_op(15, cid, number(4), ids[3], "drift-replace"),
        add_op(16, cid, number(4), after=15, first_name="Replaced"),
    ]
    client = client_for(sandbox, clients)
    with Journal(tmp_path / "operations.jsonl") as journal:
        result = apply_plan(ops, client, journal=journal, fetch_remote=fetcher(client))

    assert [r.outcome for r in result.results] == [OpOutcome.DONE] * len(ops), result.results
    assert result.ok and result.counts == {
        "added": 3,
        "deleted": 2,
        "status_set": 2,
        "failed": 0,
        "uncertain": 0,
        "uncertain_settled": 0,
        "skipped": 0,
    }
    leads = {lead["number"]: lead for lead in sandbox.state.leads(cid)}
    assert sorted(leads) == [number(n) for n in (1, 2, 4, 10, 11)]
    assert {n: leads[number(n)]["status"] for n in (1, 2, 4, 10, 11)} == {
        1: "failed",
        2: "new",
        4: "new",
        10: "new",
        11: "success",
    }
    assert leads[number(4)]["first_name"] == "Replaced" and leads[number(4)]["id"] != ids[3]
    assert sandbox.state.lead(leads[number(10)]["id"])["priority"] == 3  # type: ignore[index]
    # the campaign was re-read for the post-add status: every new lead's id is known
    assert result.lead_ids == {(cid, number(n)): leads[number(n)]["id"] for n in (4, 10, 11)}
    assert result.results[2].lead_id == leads[number(11)]["id"]
    assert {r.method for r in result.results if r.kind == "add"} == {"PUT"}
    journaled = latest_results(read_journal(tmp_path / "operations.jsonl"))
    assert {k: v.outcome for k, v in journaled.items()} == {op.op_id: OpOutcome.DONE for op in ops}


def test_no_duplicate_and_no_missing_lead_under_faults(
    make_sandbox: MakeSandbox, tmp_path: Path, clients: list[CampaignsClient]
) -> None:
    """3,000 adds at 16 workers with 5% ambiguous answers (committed, then 500), 10%
    transient 503s (nothing committed) and bearer tokens good for TOKEN_USES requests."""
    count, concurrency = 3000, 16
    # An add refused with a 503 is uncertain (nothing says it was not applied), so it stays
    # missing after n re-add rounds with probability 0.1^(n+1): 8 rounds make a miss among
    # 3,000 adds a one-in-300,000 event instead of the 1-in-300 of the default 5.
    rounds = 8
    sb = make_sandbox(
        ambiguous_rate=0.05, fail_rate=0.10, token_uses=TOKEN_USES, latency_ms=1.0, seed=7
    )
    cid = sb.state.add_campaign("Spring")
    client = client_for(sb, clients, concurrency=concurrency)
    with Journal(tmp_path / "operations.jsonl") as journal:
        result = apply_plan(
            add_ops(cid, count),
            client,
            concurrency=concurrency,
            journal=journal,
            fetch_remote=fetcher(client),
            settle_rounds=rounds,
        )

    held = numbers_in(sb, cid)
    assert [n for n, k in held.items() if k > 1] == []  # no duplicate
    missing = {number(i) for i in range(count)} - set(held)
    assert not missing, [r for r in result.results if r.key in missing]  # none missing
    assert result.counts["added"] == count and result.ok, result.counts
    # the faults really happened, and each kind was handled the way it must be
    stats = sb.stats.as_dict()
    assert stats["faults"]["ambiguous"] > 50 and stats["faults"]["fail"] > 100
    assert stats["by_status"].get(401, 0) > 0 and client.counters.as_dict()["relogins"] > 0
    outcomes = pd.Series([r.outcome for r in result.results]).value_counts()
    assert outcomes[OpOutcome.SETTLED_PRESENT] == stats["faults"]["ambiguous"]
    assert result.counts["uncertain_settled"] > outcomes[OpOutcome.SETTLED_PRESENT]


def test_no_duplicate_and_no_missing_lead_when_throttled(
    make_sandbox: MakeSandbox, tmp_path: Path, clients: list[CampaignsClient]
) -> None:
    """A 429 storm (the server's rate limit is lifted once it has refused requests) on top
    of ambiguous answers and tokens good for TOKEN_USES requests."""
    count, concurrency = 600, 16
    sb = make_sandbox(
        ambiguous_rate=0.05, rate_limit_rps=100.0, token_uses=TOKEN_USES, latency_ms=1.0, seed=11
    )
    cid = sb.state.add_campaign("Spring")
    client = client_for(sb, clients, concurrency=concurrency)
    done = threading.Event()

    def lift_after_throttling() -> None:
        while not done.is_set():
            if sb.stats.as_dict()["by_status"].get(429, 0) > 0:
                sb.configure(rate_limit_rps=None)
                return
            time.sleep(0.002)

    lifter = threading.Thread(target=lift_after_throttling, daemon=True)
    lifter.start()
    try:
        with Journal(tmp_path / "operations.jsonl") as journal:
            result = apply_plan(
                add_ops(cid, count),
                client,
                concurrency=concurrency,
                journal=journal,
                fetch_remote=fetcher(client),
            )
    finally:
        done.set()
    held = numbers_in(sb, cid)
    assert [n for n, k in held.items() if k > 1] == []
    assert set(held) == {number(i) for i in range(count)}
    assert result.counts["added"] == count and result.ok, result.counts
    assert sb.stats.as_dict()["by_status"].get(429, 0) > 0
    assert client.counters.as_dict()["throttled"] > 0


def test_uncertain_adds_are_settled_by_re_reading(
    make_sandbox: MakeSandbox, tmp_path: Path, clients: list[CampaignsClient]
) -> None:
    sb = make_sandbox()
    present, absent = sb.state.add_campaign("Present"), sb.state.add_campaign("Absent")
    client = client_for(sb, clients)
    read = fetcher(client)

    def calm_then_read(campaign_id: str) -> pd.DataFrame:
        sb.configure(ambiguous_rate=0.0, fail_rate=0.0)  # the re-read and re-adds go through
        return read(campaign_id)

    # committed, then answered 500: on re-read the lead is there and is not added again
    sb.configure(ambiguous_rate=1.0)
    with Journal(tmp_path / "a.jsonl") as journal:
        result = apply_plan(
            add_ops(present, 5), client, journal=journal, fetch_remote=calm_then_read
        )
    assert {r.outcome for r in result.results} == {OpOutcome.SETTLED_PRESENT}
    assert numbers_in(sb, present) == {number(i): 1 for i in range(5)}
    assert sb.stats.by_route[("PUT", "add")] == 5
    assert result.counts["added"] == result.counts["uncertain_settled"] == 5
    assert all(r.lead_id for r in result.results)

    # refused with 503 (nothing committed): absent on re-read, so added again, once
    sb.stats.reset()
    sb.configure(fail_rate=1.0)
    with Journal(tmp_path / "b.jsonl") as journal:
        result = apply_plan(
            add_ops(absent, 5, start=100), client, journal=journal, fetch_remote=calm_then_read
        )
    assert {r.outcome for r in result.results} == {OpOutcome.DONE}
    assert {r.attempts for r in result.results} == {2}
    assert numbers_in(sb, absent) == {number(100 + i): 1 for i in range(5)}
    assert sb.stats.by_route[("PUT", "add")] == 10
    journal_lines = read_journal(tmp_path / "b.jsonl")
    assert [r.outcome for r in journal_lines].count(OpOutcome.UNCERTAIN) == 5


def test_an_add_still_missing_after_every_round_fails_clearly(
    make_sandbox: MakeSandbox, tmp_path: Path, clients: list[CampaignsClient]
) -> None:
    sb = make_sandbox(fail_rate=1.0)
    cid = sb.state.add_campaign("Spring")
    client = client_for(sb, clients)
    read = fetcher(client)

    def read_calmly(campaign_id: str) -> pd.DataFrame:
        sb.configure(fail_rate=0.0)
        try:
            return read(campaign_id)
        finally:
            sb.configure(fail_rate=1.0)

    with Journal(tmp_path / "operations.jsonl") as journal:
        result = apply_plan(
            add_ops(cid, 2), client, journal=journal, settle_rounds=2, fetch_remote=read_calmly
        )
    assert {r.outcome for r in result.results} == {OpOutcome.FAILED}
    assert "through 2 re-add round(s)" in result.results[0].message
    assert {r.attempts for r in result.results} == {3}
    assert result.settle_rounds == 3
    assert numbers_in(sb, cid) == {}


def test_replace_never_leaves_two_leads_for_a_key(
    make_sandbox: MakeSandbox, tmp_path: Path, clients: list[CampaignsClient]
) -> None:
    sb = make_sandbox(latency_ms=2.0)
    cid = sb.state.add_campaign("Spring")
    keys = [number(i) for i in range(150)]
    ids = sb.state.add_leads(cid, [{"number": k, "first_name": "Old"} for k in keys])
    ops = []
    for i, (key, lead_id) in enumerate(zip(keys, ids, strict=True)):
        ops.append(delete_op(2 * i, cid, key, lead_id, "drift-replace"))
        ops.append(add_op(2 * i + 1, cid, key, after=2 * i, first_name="New"))
    # one more replace whose delete is refused (unknown lead): its add must not run
    kept = sb.state.add_leads(cid, [{"number": number(999), "first_name": "Kept"}])[0]
    ops += [
        delete_op(1000, cid, number(999), "no-such-lead", "drift-replace"),
        add_op(1001, cid, number(999), after=1000, first_name="New"),
    ]
    client = client_for(sb, clients)
    with Journal(tmp_path / "operations.jsonl") as journal:
        result = apply_plan(ops, client, concurrency=16, journal=journal)

    leads = sb.state.leads(cid)
    held = numbers_in(sb, cid)
    assert set(held.values()) == {1} and len(held) == 151
    assert {lead["first_name"] for lead in leads if lead["number"] != number(999)} == {"New"}
    assert [lead["id"] for lead in leads if lead["number"] == number(999)] == [kept]
    by_id = {r.op_id: r for r in result.results}
    assert all(by_id[2 * i + 1].started_at >= by_id[2 * i].finished_at for i in range(150))
    assert by_id[1000].outcome is OpOutcome.FAILED and by_id[1000].http_status == 400
    assert by_id[1001].outcome is OpOutcome.SKIPPED and "op 1000" in by_id[1001].message


def test_stop_finishes_calls_in_flight_and_skips_the_rest(
    make_sandbox: MakeSandbox, tmp_path: Path, clients: list[CampaignsClient]
) -> None:
    sb = make_sandbox(latency_ms=20.0)
    cid = sb.state.add_campaign("Spring")
    client = client_for(sb, clients)
    stop = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 40:
            stop.set()

    path = tmp_path / "operations.jsonl"
    with Journal(path) as journal:
        result = apply_plan(
            add_ops(cid, 400),
            client,
            concurrency=8,
            journal=journal,
            stop=stop,
            progress=progress,
            fetch_remote=fetcher(client),
        )

    assert result.interrupted and not result.ok
    counts = result.counts
    assert counts["added"] + counts["skipped"] == 400 and counts["uncertain"] == 0
    assert 40 <= counts["added"] < 100  # the calls in flight finished; nothing else started
    assert set(numbers_in(sb, cid)) == {r.key for r in result.results if r.outcome == "done"}
    assert {r.op_id: r.outcome for r in read_journal(path)} == {
        r.op_id: r.outcome for r in result.results
    }
    assert "interrupted" in next(r for r in result.results if r.outcome == "skipped").message


def test_a_killed_run_leaves_an_exact_journal(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    sb = make_sandbox(latency_ms=5.0)
    cid = sb.state.add_campaign("Spring")
    path = tmp_path / "operations.jsonl"
    concurrency = 8
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.apply.apply_worker",
            sb.base_url,
            cid,
            str(path),
            "3000",
            str(concurrency),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None and child.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 30
        while (not path.exists() or path.stat().st_size < 40_000) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    journaled = read_journal(path)
    done = {r.key for r in journaled if r.outcome == "done"}
    held = set(numbers_in(sb, cid))
    assert 100 < len(done) < 3000
    assert done <= held  # every journaled add really happened
    # Unrecorded: at most the engine's window — calls submitted and not yet journaled (in
    # flight, or finished and waiting for the coordinator to write them).
    assert len(held - done) <= concurrency * QUEUE_DEPTH_PER_WORKER


def test_api_going_away_stops_the_apply_quickly(
    make_sandbox: MakeSandbox, tmp_path: Path, clients: list[CampaignsClient]
) -> None:
    sb = make_sandbox(latency_ms=5.0)
    cid = sb.state.add_campaign("Spring")
    client = client_for(sb, clients, retry_attempts=2, timeout_s=2.0)
    gone = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 50 and not gone.is_set():
            sb.stop()
            gone.set()

    path = tmp_path / "operations.jsonl"
    journal = Journal(path)
    with pytest.raises(UnreachableError) as info:
        apply_plan(
            add_ops(cid, 2000),
            client,
            concurrency=8,
            journal=journal,
            progress=progress,
            fetch_remote=fetcher(client),
        )
    journal.close()
    result = info.value.apply_result  # type: ignore[attr-defined]
    assert result.fatal is info.value
    assert result.counts["skipped"] > 1500  # stopped at once, not after trying every add
    assert len(result.results) == 2000
    assert latest_results(read_journal(path)).keys() == {r.op_id for r in result.results}
