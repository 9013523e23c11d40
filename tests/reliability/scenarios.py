"""The crash test and the fault soak as functions, shared by the reliability suites (reduced
sizes in ``make test``, full sizes under ``-m slow``) and by ``bench/bench_soak.py``.

Both end by comparing the sandbox's state with what the file says, lead by lead:
duplicates (a number held twice) and lost leads (a number of the file missing, a lead that
should be gone still there, a status not set) are counted from the server, never from the
report; the report is then checked against those counts.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadsync.apply import latest_results, read_journal
from leadsync.apply.journal import JOURNAL_NAME, RECORD_FIELDS
from leadsync.errors import ExitCode
from leadsync.models import OpOutcome
from leadsync.run.pipeline import SyncRequest, run_sync
from leadsync.sandbox import Sandbox
from tests.helpers import api_values, number, sync_settings
from tests.reliability.support import (
    CLI_MEMORY_LIMIT,
    cli_env,
    leadsync_command,
    limit_memory,
    write_config,
    write_leads,
    writes,
)

CAMPAIGN = "Soak"
#: Worker threads of every run here (the product's default).
CONCURRENCY = 8
#: Tasks the apply engine keeps queued per worker: a kill can leave at most
#: CONCURRENCY × this many committed calls not yet in the journal (in flight or collected).
ENGINE_WINDOW = CONCURRENCY * 2
#: How long a killed run's last requests may take to land on the server.
SETTLE_S = 0.3
#: How often the test looks at the sandbox's counters while waiting for a kill point.
POLL_S = 0.002


# --- the server's state vs the file ----------------------------------------------------------
@dataclass(frozen=True)
class StateCheck:
    """How the campaign differs from what it should hold."""

    duplicates: int  # extra copies of a number
    missing: int  # numbers that should be there and are not
    extra: int  # numbers that should be gone (or never added) and are there
    wrong: int  # leads present once whose status or first name differ

    @property
    def lost(self) -> int:
        """Leads the run failed to put in place (anything but a duplicate)."""
        return self.missing + self.extra + self.wrong

    @property
    def differences(self) -> int:
        """Operations a re-run would still have to make."""
        return self.duplicates + self.lost


def check_state(sb: Sandbox, campaign_id: str, expected: dict[str, dict[str, str]]) -> StateCheck:
    """Compare the campaign with ``expected`` (number → the fields it must have)."""
    held = sb.state.leads(campaign_id)
    counts = Counter(lead["number"] for lead in held)
    by_number = {lead["number"]: lead for lead in held}
    wrong = sum(
        1
        for num, fields in expected.items()
        if counts.get(num) == 1 and any(by_number[num].get(k) != v for k, v in fields.items())
    )
    return StateCheck(
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        missing=sum(1 for num in expected if num not in counts),
        extra=sum(1 for num in counts if num not in expected),
        wrong=wrong,
    )


# --- crash test ------------------------------------------------------------------------------
@dataclass(frozen=True)
class KilledRun:
    """One SIGKILLed run and what its journal held."""

    adds_before_kill: int  # adds the sandbox had received when the kill was sent
    journal_lines: int  # complete lines (raw count)
    journal_records: int  # what read_journal returned
    cut_tail: bool  # the file ended in the middle of a line
    added_by_run: int  # leads the server gained during this run
    journaled_done: int  # of them, journaled as done


@dataclass
class CrashResult:
    size: int
    seed: int
    killed: list[KilledRun] = field(default_factory=list)
    final_exit: int = -1
    final_summary: dict[str, Any] = field(default_factory=dict)
    state: StateCheck | None = None
    adds_sent: int = 0
    wall_s: float = 0.0


def check_journal_lines(path: Path) -> tuple[int, bool]:
    """Parse the journal's raw bytes ourselves: every line but a cut-off last one is one JSON
    object with every record field. Returns (complete lines, whether the tail was cut).
    Raises AssertionError naming the first bad line."""
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    for at, line in enumerate(lines, start=1):
        if not line:
            continue  # the blank line a continued journal may start with
        record = json.loads(line)  # raises on a broken line in the middle
        assert isinstance(record, dict), f"{path}:{at} is not an object"
        missing = set(RECORD_FIELDS) - set(record)
        assert not missing, f"{path}:{at} lacks {sorted(missing)}"
    return sum(1 for line in lines if line), bool(tail)


def crash_test(
    sb: Sandbox, folder: Path, *, size: int, kills: int, seed: int, timeout_s: float = 600.0
) -> CrashResult:
    """Sync a file of ``size`` new leads with the real CLI, SIGKILL it ``kills`` times at
    random points of the apply (seeded), re-run to completion; check every killed run's
    journal and the campaign's final state."""
    started = time.monotonic()
    rng = random.Random(seed)
    cid = sb.state.add_campaign(CAMPAIGN)
    rows = [{"number": number(i), "first_name": f"Lead {i}"} for i in range(size)]
    source = write_leads(folder / "leads.csv", rows)
    values = api_values(sb, concurrency=CONCURRENCY)
    password = values.pop("password")
    config = write_config(folder / "leadsync.toml", values)
    env = cli_env(LEADSYNC_PASSWORD=password)
    result = CrashResult(size, seed)
    for k in range(kills + 1):
        report = folder / f"run{k}"
        held_before = len(sb.state.leads(cid))
        adds_at_start = sb.stats.by_route[("PUT", "add")]
        args = ("--config", config, "sync", source, "--campaign", CAMPAIGN, "--report-dir", report)
        with subprocess.Popen(
            leadsync_command(*args),
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: limit_memory(CLI_MEMORY_LIMIT),
        ) as child:
            if k == kills:
                _, err = child.communicate(timeout=timeout_s)
                assert child.returncode == ExitCode.OK, err.decode(errors="replace")[-3000:]
                result.final_exit = child.returncode
                result.final_summary = json.loads((report / "summary.json").read_text())
                break
            remaining = size - held_before
            target = adds_at_start + rng.randint(1, max(1, remaining - 1))
            deadline = time.monotonic() + timeout_s
            while (
                sb.stats.by_route[("PUT", "add")] < target
                and child.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(POLL_S)
            assert child.poll() is None, "the run ended before its kill point"
            adds_before_kill = sb.stats.by_route[("PUT", "add")]
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=60)
            assert child.returncode == -signal.SIGKILL
        time.sleep(SETTLE_S)  # calls in flight at the kill land (or not) on the server
        journal = report / JOURNAL_NAME
        lines, cut = check_journal_lines(journal)
        records = read_journal(journal)
        assert len(records) == lines, f"read_journal kept {len(records)} of {lines} lines"
        final = latest_results(records)
        done = sum(
            1 for r in final.values() if r.outcome in (OpOutcome.DONE, OpOutcome.SETTLED_PRESENT)
        )
        held_after = len(sb.state.leads(cid))
        result.killed.append(
            KilledRun(adds_before_kill, lines, len(records), cut, held_after - held_before, done)
        )
    result.state = check_state(
        sb, cid, {r["number"]: {"first_name": r["first_name"]} for r in rows}
    )
    result.adds_sent = sb.stats.by_route[("PUT", "add")]
    result.wall_s = time.monotonic() - started
    return result


# --- fault soak ------------------------------------------------------------------------------
#: The faults of the soak: 10% transient 503, 5% ambiguous writes (committed, then 500),
#: tokens good for 400 requests (re-logins) and every 700th request throttled (429 with
#: Retry-After). Counted, never timed: every fault fires however fast the machine runs.
SOAK_FAULTS: dict[str, Any] = {
    "fail_rate": 0.10,
    "ambiguous_rate": 0.05,
    "token_uses": 400,
    "throttle_every": 700,
}
CALM: dict[str, Any] = {
    "fail_rate": 0.0,
    "ambiguous_rate": 0.0,
    "rate_limit_rps": None,
    "token_uses": None,
    "throttle_every": None,
}


@dataclass
class SoakResult:
    operations: int
    exit_code: int
    summary: dict[str, Any]
    state: StateCheck
    faults: dict[str, int]
    journal_failed: int
    journal_not_done_keys: set[str]
    differing_keys: set[str]
    rerun_writes: int | None
    wall_s: float


def soak_plan(size: int) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, dict]]:
    """A campaign and a file whose mirror sync makes ``size`` operations: half adds, a quarter
    status changes, a quarter deletes (plus a quarter of leads unchanged).
    Returns (remote leads, file rows, expected final state)."""
    adds, statuses, deletes, kept = size // 2, size // 4, size - size // 2 - size // 4, size // 4
    remote = [{"number": number(i), "status": "new"} for i in range(statuses + deletes + kept)]
    to_status = range(statuses)
    to_keep = range(statuses + deletes, statuses + deletes + kept)
    new = range(statuses + deletes + kept, statuses + deletes + kept + adds)
    rows = (
        [{"number": number(i), "status": "success"} for i in to_status]
        + [{"number": number(i)} for i in to_keep]
        + [{"number": number(i), "first_name": f"New {i}"} for i in new]
    )
    expected = {number(i): {"status": "success"} for i in to_status}
    expected |= {number(i): {"status": "new"} for i in to_keep}
    expected |= {number(i): {"status": "new", "first_name": f"New {i}"} for i in new}
    return remote, rows, expected


def fault_soak(
    sb: Sandbox,
    folder: Path,
    *,
    size: int,
    faults: dict[str, Any] | None = None,
    api: dict[str, Any] | None = None,
    rerun: bool = True,
) -> SoakResult:
    """Mirror-sync ``size`` operations under ``faults`` (in this process, the library's
    run_sync), then compare server, report and journal; optionally re-run without faults to
    show the sync converges (no write planned)."""
    remote, rows, expected = soak_plan(size)
    cid = sb.state.add_campaign(CAMPAIGN)
    sb.state.add_leads(cid, remote)
    source = write_leads(folder / "soak.csv", rows)
    api_settings = {
        "concurrency": CONCURRENCY,
        # Enough attempts that a 15% fault rate practically never exhausts them
        # (0.15^10 per call), and a budget that allows the retries these faults need.
        "retry_attempts": 10,
        "retry_budget": size * 2,
        **(api or {}),
    }
    settings = sync_settings(sb, api=api_settings, mode="mirror")
    sb.stats.reset()
    sb.configure(**(SOAK_FAULTS if faults is None else faults))
    started = time.monotonic()
    try:
        report = run_sync(
            settings,
            SyncRequest(
                (source,), campaign=CAMPAIGN, allow_mass_delete=True, report_dir=folder / "soak"
            ),
        )
    finally:
        sb.configure(**CALM)
    wall = time.monotonic() - started
    injected = dict(sb.stats.faults)
    summary = json.loads((report.folder / "summary.json").read_text())
    final = latest_results(read_journal(report.folder / JOURNAL_NAME))
    state = check_state(sb, cid, expected)
    held = Counter(lead["number"] for lead in sb.state.leads(cid))
    by_number = {lead["number"]: lead for lead in sb.state.leads(cid)}
    differing = {
        num
        for num in set(expected) | set(held)
        if held.get(num) != 1
        or num not in expected
        or any(by_number[num].get(k) != v for k, v in expected[num].items())
    }
    rerun_writes = None
    if rerun:
        before = writes(sb)
        again = run_sync(
            sync_settings(sb, api={"concurrency": CONCURRENCY}, mode="mirror"),
            SyncRequest(
                (source,), campaign=CAMPAIGN, allow_mass_delete=True, report_dir=folder / "rerun"
            ),
        )
        assert again.exit_code == ExitCode.OK, again.messages
        rerun_writes = writes(sb) - before
    return SoakResult(
        operations=len(final),
        exit_code=report.exit_code,
        summary=summary,
        state=state,
        faults=injected,
        journal_failed=sum(1 for r in final.values() if r.outcome == OpOutcome.FAILED),
        journal_not_done_keys={
            r.key
            for r in final.values()
            if r.outcome not in (OpOutcome.DONE, OpOutcome.SETTLED_PRESENT)
        },
        differing_keys=differing,
        rerun_writes=rerun_writes,
        wall_s=wall,
    )
