"""SIGTERM in the middle of applying, to the real CLI against the sandbox (docs/design.md, 'Applying'): no
new call starts, the calls in flight finish and are journaled, the report is written, the
exit code is 1 — and the next run adds exactly what is missing. On both write paths."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from leadsync.apply import latest_results, read_journal
from leadsync.errors import ExitCode
from leadsync.sandbox import Sandbox
from tests.helpers import MakeSandbox

ROWS = 400
#: Stop once this many adds have reached the server (the run is well under way).
STOP_AFTER = 60
TIMEOUT_S = 60.0


def number(i: int) -> str:
    return f"+1213555{i:04d}"


def setup(tmp_path: Path, sb: Sandbox) -> dict[str, str]:
    (tmp_path / "leads.csv").write_text(
        "Phone,First Name\n" + "".join(f"{number(i)},Lead {i}\n" for i in range(ROWS)),
        encoding="utf-8",
    )
    (tmp_path / "leadsync.toml").write_text(
        f"""
[api]
base_url = "{sb.base_url}"
username = "{sb.config.username}"
domain = "{sb.config.domain}"
account_id = "{sb.config.account_id}"
concurrency = 4
""",
        encoding="utf-8",
    )
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LEADSYNC_PASSWORD": sb.config.password,
        "LEADSYNC_CONFIG": str(tmp_path / "leadsync.toml"),
    }


def sync_command(report_dir: str) -> list[str]:
    args = ["sync", "leads.csv", "--campaign", "Spring", "--report-dir", report_dir]
    return [sys.executable, "-m", "leadsync", *args]


def test_sigterm_mid_apply_stops_cleanly_and_the_next_run_completes(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sb = make_sandbox(latency_ms=20.0)
    cid = sb.state.add_campaign("Spring")
    env = setup(tmp_path, sb)
    with subprocess.Popen(
        sync_command("first"),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        deadline = time.monotonic() + TIMEOUT_S
        while len(sb.state.leads(cid)) < STOP_AFTER and time.monotonic() < deadline:
            assert child.poll() is None, child.communicate()
            time.sleep(0.01)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=TIMEOUT_S)

    assert child.returncode == ExitCode.FAILED, out + err
    folder = tmp_path / "first"  # --report-dir names the report folder itself
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert "stopped before it finished" in summary["headline"]
    (message,) = [m for m in summary["messages"] if m.startswith("stopped by a signal")]
    held = Counter(lead["number"] for lead in sb.state.leads(cid))
    assert STOP_AFTER <= len(held) < ROWS and max(held.values()) == 1
    # Every operation has its final line; the adds journaled done are exactly the leads the
    # server holds: the calls in flight at the signal finished and were recorded.
    final = latest_results(read_journal(folder / "operations.jsonl"))
    assert len(final) == ROWS
    outcomes = Counter(str(r.outcome) for r in final.values())
    assert set(outcomes) == {"done", "skipped"}, outcomes
    assert {r.key for r in final.values() if str(r.outcome) == "done"} == set(held)
    assert summary["totals"]["added"] == len(held)
    assert f"{outcomes['skipped']:,} operation(s) were not started" in message
    # rows.csv and summary.json agree: rows never started are not_started, not failed
    with (folder / "rows.csv").open(encoding="utf-8-sig", newline="") as fh:
        row_outcomes = Counter(r["outcome"] for r in csv.DictReader(fh))
    assert row_outcomes["not_started"] == summary["totals"]["not_started"] == outcomes["skipped"]
    assert row_outcomes["failed"] == summary["totals"]["failed"] == 0
    assert row_outcomes["added"] == summary["totals"]["added"]

    again = subprocess.run(
        sync_command("second"), cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=TIMEOUT_S * 2,
    )  # fmt: skip
    assert again.returncode == ExitCode.OK, again.stdout + again.stderr
    after = Counter(lead["number"] for lead in sb.state.leads(cid))
    assert set(after) == {number(i) for i in range(ROWS)} and max(after.values()) == 1
