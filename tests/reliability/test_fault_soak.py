"""Fault soak: a mirror sync under 10% transient 503, 5% ambiguous writes, 429s and tokens that
expire every 2 s ends with no duplicate and no lost lead, and its report accounts for every
failure; a server that fails everything ends the run in seconds (exit 4 or 1).

Reduced (``make test``): 2,000 operations. Full (``make soak``): 20,000.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from leadsync.api.retry import OUTAGE_MIN_FAILURES, Backoff, Counters, RetryBudget
from leadsync.config import ApiSettings
from leadsync.errors import ExitCode, UnreachableError
from leadsync.report import RunReport
from leadsync.run.pipeline import SyncRequest, run_sync
from leadsync.sandbox import Sandbox
from tests.helpers import MakeSandbox, ManualClock, number, sync_settings
from tests.reliability.scenarios import CAMPAIGN, CONCURRENCY, SoakResult, fault_soak
from tests.reliability.support import write_leads

REDUCED_OPS = 2_000
FULL_OPS = 20_000


def outage_bound(api: dict[str, Any]) -> int:
    """Requests a run may still send once the server fails everything: each worker's call in
    flight runs out its attempts, the rule needs one more whole schedule to trip, and calls in
    flight then finish theirs: at most three schedules of attempts per worker. Counted, not
    timed, so the bound holds on any machine."""
    settings = ApiSettings(base_url="http://127.0.0.1:1", **api)
    return 3 * settings.concurrency * settings.retry_attempts


def check_soak(result: SoakResult, size: int) -> None:
    c = result.summary["campaigns"][CAMPAIGN]
    # Every fault kind really fired.
    for kind in ("fail", "ambiguous", "rate_limited"):
        assert result.faults.get(kind, 0) > 0, (kind, result.faults)
    api = result.summary["api"]
    assert api["retries"] > 0 and api["throttled"] > 0 and api["relogins"] > 0, api
    assert result.operations == size
    # Nothing duplicated, nothing lost: counted on the server, lead by lead.
    assert result.state.duplicates == 0, result.state
    # Every difference left on the server is in the report (residual) and comes from an
    # operation the journal says did not finish; every failure is counted once.
    assert c["residual"] == result.state.differences, (c, result.state)
    assert result.differing_keys <= result.journal_not_done_keys
    assert c["failed"] == result.journal_failed
    assert result.exit_code == (ExitCode.OK if c["failed"] == c["residual"] == 0 else 1)
    # With 10 attempts a call, these faults never exhaust one: the sync converged.
    assert result.state.lost == 0, result.state
    assert c["residual"] == c["failed"] == 0
    assert (c["added"], c["status_set"], c["deleted"]) == (
        size // 2,
        size // 4,
        size - size // 2 - size // 4,
    )
    assert c["remote_after"] == size // 2 + size // 4 + size // 4
    # Re-running plans nothing: the diff is recomputed from live state.
    assert result.rerun_writes == 0


def test_fault_soak_reduced(sandbox: Sandbox, tmp_path: Path) -> None:
    result = fault_soak(sandbox, tmp_path, size=REDUCED_OPS)
    check_soak(result, REDUCED_OPS)


@pytest.mark.slow
def test_fault_soak_full(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    sb = make_sandbox(seed=20)
    result = fault_soak(sb, tmp_path, size=FULL_OPS, api={"backoff_max_s": 1.0})
    check_soak(result, FULL_OPS)


# --- a server that fails everything ----------------------------------------------------------
def test_a_server_failing_everything_ends_the_run_after_one_retry_schedule(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sb = make_sandbox(fail_rate=1.0)
    sb.state.add_campaign(CAMPAIGN)
    src = write_leads(tmp_path / "leads.csv", [{"number": number(i)} for i in range(5_000)])
    # The product's retry defaults (only the connection details are the sandbox's).
    settings = sync_settings(sb, api={"backoff_max_s": 30.0})
    report = run_sync(
        settings, SyncRequest((src,), campaign=CAMPAIGN, report_dir=tmp_path / "report")
    )
    assert report.exit_code == ExitCode.UNREACHABLE, report.messages  # the API is down: retry later
    # Counted, not timed: the login and one call's attempts, then the run gives up (its
    # duration is that one schedule's backoff sleeps, whatever the machine's speed).
    assert sb.stats.requests <= 1 + settings.api.retry_attempts
    assert sb.stats.by_route[("PUT", "add")] == 0
    assert (report.folder / "summary.json").exists()


def sync_into_an_outage(
    sb: Sandbox, tmp_path: Path, size: int, api: dict[str, Any], fail_after: int
) -> tuple[RunReport, int]:
    """Sync ``size`` status changes into campaign CAMPAIGN; the sandbox starts failing every
    request once ``fail_after`` operations were applied. The report, and the requests the server
    saw from the outage to the end of the run."""
    cid = sb.state.add_campaign(CAMPAIGN)
    sb.state.add_leads(cid, [{"number": number(i), "status": "new"} for i in range(size)])
    src = write_leads(
        tmp_path / "leads.csv", [{"number": number(i), "status": "success"} for i in range(size)]
    )
    outage: list[tuple[float, int]] = []

    def progress(stage: str, done: int, total: int | None) -> None:
        if stage == "apply" and done >= fail_after and not outage:
            sb.configure(fail_rate=1.0)
            outage.append((time.monotonic(), sb.stats.requests))

    report = run_sync(
        sync_settings(sb, api=api),
        SyncRequest((src,), campaign=CAMPAIGN, report_dir=tmp_path / "report"),
        progress=progress,
    )
    return report, sb.stats.requests - outage[0][1]


def test_an_outage_during_the_apply_stops_it_after_one_retry_schedule(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    """Regression: the retry budget alone let 8 workers retry a dead server for ~3 minutes
    (500 retries of 15 s schedules); now the run stops once every request has failed for
    longer than one call's retry schedule."""
    sb = make_sandbox()
    size = 2_000
    # A budget that cannot be the reason the run stops; a 1 s retry schedule (0.2 s × 5).
    api = {"backoff_max_s": 0.2, "retry_budget": 1_000_000, "concurrency": CONCURRENCY}
    report, after_outage = sync_into_an_outage(sb, tmp_path, size, api, fail_after=50)
    assert report.exit_code == ExitCode.UNREACHABLE, report.messages
    assert any("failed all of the last" in m for m in report.messages), report.messages
    assert after_outage <= outage_bound(api), after_outage
    counts = report.campaign_counts()[CAMPAIGN]
    assert counts["status_set"] + counts["failed"] < size  # the rest was skipped
    assert sb.stats.by_route[("POST", "status")] < size


@pytest.mark.slow
def test_an_outage_during_a_large_apply_with_default_retries(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sb = make_sandbox(latency_ms=1.0)
    # every retry default
    api = {"backoff_max_s": 30.0}
    report, after_outage = sync_into_an_outage(sb, tmp_path, FULL_OPS, api, fail_after=200)
    assert report.exit_code == ExitCode.UNREACHABLE, report.messages
    assert after_outage <= outage_bound(api), after_outage


def test_outage_rule_needs_a_whole_schedule_and_enough_failures_in_a_row() -> None:
    clock = ManualClock()
    counters = Counters()
    schedule = Backoff(30.0).schedule_s(6)
    assert schedule == pytest.approx(0.5 + 1 + 2 + 4 + 8)
    assert Backoff(0.2).schedule_s(6) == pytest.approx(1.0)
    budget = RetryBudget(1_000_000, counters, outage_s=schedule, clock=clock)
    for _ in range(OUTAGE_MIN_FAILURES * 3):
        budget.record_failure()
        clock.advance(schedule / (OUTAGE_MIN_FAILURES * 3))
        budget.spend(None)  # failing, but not yet for a whole schedule
    clock.advance(1.0)
    with pytest.raises(UnreachableError, match="failed all of the last 30 requests"):
        budget.spend(None)
    # One answer ends the outage; a long but sparse failure streak does not stop the run.
    budget.record_answer()
    for _ in range(OUTAGE_MIN_FAILURES - 1):
        budget.record_failure()
        clock.advance(schedule)
    budget.spend(None)
