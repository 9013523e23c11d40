"""One writer per campaign: every run that may change a campaign — a sync that is not a dry run,
``leadsync apply``, a job, the console's approve — holds that campaign's lock in the
configuration's lock folder from before it reads the live leads until it has verified. Real
processes against the sandbox; the test holds the lock as another run would."""

from __future__ import annotations

import json
from pathlib import Path

from leadsync.errors import ExitCode
from leadsync.run.lock import JobLock
from leadsync.sandbox import Sandbox
from tests.run.test_jobs_e2e import drop_file, leadsync, write_config


def campaign_lock(folder: Path, cid: str) -> JobLock:
    return JobLock(folder / f"campaign-{cid}.lock", job="another run")


def summary_of(tmp_path: Path, root: str = "reports") -> dict:
    (summary,) = (tmp_path / root).glob("*/summary.json")
    return json.loads(summary.read_text(encoding="utf-8"))


def test_a_second_writer_is_refused_before_it_reads_and_a_dry_run_is_not(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox.state.add_campaign("Spring")
    write_config(tmp_path, sandbox)
    src = drop_file(tmp_path)
    with campaign_lock(tmp_path / "reports" / ".locks", cid):
        refused = leadsync(tmp_path, sandbox, "sync", str(src), "--campaign", "Spring")
        dry = leadsync(tmp_path, sandbox, "sync", str(src), "--campaign", "Spring", "--dry-run")
    out = refused.stdout + refused.stderr
    assert refused.returncode == ExitCode.LOCKED, out
    assert "campaign 'Spring'" in out and "already running" in out and "Traceback" not in out
    assert sandbox.state.leads(cid) == []  # nothing was written
    assert dry.returncode == ExitCode.OK, dry.stdout + dry.stderr  # a dry run changes nothing
    done = leadsync(tmp_path, sandbox, "sync", str(src), "--campaign", "Spring")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert len(sandbox.state.leads(cid)) == 3


def test_a_reviewed_plan_refused_for_the_lock_stays_approvable(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox.state.add_campaign("Spring")
    write_config(tmp_path, sandbox)
    src = drop_file(tmp_path)
    plan = tmp_path / "plan.json"
    made = leadsync(tmp_path, sandbox, "plan", str(src), "--campaign", "Spring", "--out", str(plan))
    assert made.returncode == ExitCode.OK, made.stdout + made.stderr
    with campaign_lock(tmp_path / "reports" / ".locks", cid):
        refused = leadsync(tmp_path, sandbox, "apply", str(plan))
    assert refused.returncode == ExitCode.LOCKED, refused.stdout + refused.stderr
    assert sandbox.state.leads(cid) == []
    # the refused attempt did not record the plan as applied: it can still be approved once
    done = leadsync(tmp_path, sandbox, "apply", str(plan))
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    assert len(sandbox.state.leads(cid)) == 3
    again = leadsync(tmp_path, sandbox, "apply", str(plan))
    assert again.returncode == ExitCode.REFUSED


def test_a_job_with_its_own_report_dir_locks_where_every_other_run_does(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox.state.add_campaign("Spring")
    cfg = write_config(tmp_path, sandbox)
    text = cfg.read_text(encoding="utf-8").replace(
        'archive_dir = "archive"', 'archive_dir = "archive"\nreport_dir = "job-reports"'
    )
    cfg.write_text(text, encoding="utf-8")
    src = drop_file(tmp_path)
    with campaign_lock(tmp_path / "reports" / ".locks", cid):
        refused = leadsync(tmp_path, sandbox, "sync", "--job", "nightly")
    assert refused.returncode == ExitCode.LOCKED, refused.stdout + refused.stderr
    assert src.exists()  # not archived: the next night reads it again
    assert sandbox.state.leads(cid) == []
    assert summary_of(tmp_path, "job-reports")["exit_code"] == ExitCode.LOCKED


def test_lock_dir_setting_is_where_the_locks_live_and_only_sync_may_set_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox.state.add_campaign("Spring")
    cfg = write_config(tmp_path, sandbox)
    base = cfg.read_text(encoding="utf-8")
    cfg.write_text(
        base.replace('report_dir = "reports"', 'report_dir = "reports"\nlock_dir = "locks"'),
        encoding="utf-8",
    )
    src = drop_file(tmp_path)
    with campaign_lock(tmp_path / "locks", cid):
        refused = leadsync(tmp_path, sandbox, "sync", str(src), "--campaign", "Spring")
    assert refused.returncode == ExitCode.LOCKED, refused.stdout + refused.stderr
    assert sandbox.state.leads(cid) == []

    cfg.write_text(base.replace("keep_reports = 5", 'keep_reports = 5\nlock_dir = "x"'))
    bad = leadsync(tmp_path, sandbox, "sync", "--job", "nightly")
    assert bad.returncode == ExitCode.BAD_INPUT, bad.stdout + bad.stderr
    assert "lock_dir can be set only in [sync]" in bad.stderr and "Traceback" not in bad.stderr
