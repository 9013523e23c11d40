"""A configured nightly job, run as a real process against the sandbox (issue 6 acceptance)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from leadsync.errors import ExitCode
from leadsync.jobs.folders import lock_path
from leadsync.run.lock import JobLock
from leadsync.sandbox import Sandbox
from tests.helpers import MakeSandbox


def write_config(tmp_path: Path, sb: Sandbox, *, base_url: str | None = None) -> Path:
    cfg = tmp_path / "leadsync.toml"
    cfg.write_text(
        f"""
[api]
base_url = "{base_url or sb.base_url}"
username = "{sb.config.username}"
domain = "{sb.config.domain}"
account_id = "{sb.config.account_id}"
retry_attempts = 2
backoff_max_s = 0.1

[sync]
report_dir = "reports"

[[jobs]]
name = "nightly"
source = "drop/*.csv"
campaign = "Spring"
archive_dir = "archive"
keep_reports = 5
""",
        encoding="utf-8",
    )
    return cfg


def drop_file(tmp_path: Path, name: str = "leads.csv", n: int = 3) -> Path:
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    path = drop / name
    lines = ["Phone,First Name"] + [f"+1213555{100 + i:04d},Lead {i}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def leadsync(tmp_path: Path, sb: Sandbox, *args: str, wait: bool = True):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LEADSYNC_PASSWORD": sb.config.password,
        "LEADSYNC_CONFIG": str(tmp_path / "leadsync.toml"),
    }
    cmd = [sys.executable, "-m", "leadsync", *args]
    if not wait:
        return subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_job_from_a_drop_folder_archives_then_finds_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cid = sandbox.state.add_campaign("Spring")
    write_config(tmp_path, sandbox)
    src = drop_file(tmp_path)
    done = leadsync(tmp_path, sandbox, "--log-format", "json", "-v", "sync", "--job", "nightly")
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert records, "a verbose run logs"  # and every stderr line is JSON: no progress lines
    assert {r["job"] for r in records} == {"nightly"}
    assert {"fetch", "apply"} <= {r["stage"] for r in records}
    outputs = done.stdout + done.stderr
    outputs += "".join(
        p.read_text(errors="replace")
        for p in tmp_path.rglob("*")
        if p.is_file()
        and p.suffix in {".json", ".jsonl", ".csv", ".html"}
        and "drop" not in p.parts
        and p.name != "leadsync.toml"
    )
    assert sandbox.config.password not in outputs
    assert len(sandbox.state.leads(cid)) == 3
    assert not src.exists()
    archived = list((tmp_path / "archive").iterdir())
    assert len(archived) == 1 and archived[0].name.startswith("leads.")
    folders = [p for p in (tmp_path / "reports").iterdir() if p.name.endswith("_nightly")]
    assert len(folders) == 1
    summary = json.loads((folders[0] / "summary.json").read_text())
    assert summary["job"] == "nightly" and summary["totals"]["added"] == 3
    # The next night, with no new file: exit 2, "no files match".
    again = leadsync(tmp_path, sandbox, "sync", "--job", "nightly")
    assert again.returncode == ExitCode.BAD_INPUT
    assert "no files match" in again.stderr
    assert "Traceback" not in again.stderr
    # `leadsync jobs` shows the job and its last result.
    listing = leadsync(tmp_path, sandbox, "jobs")
    assert listing.returncode == 0 and "nightly" in listing.stdout


def test_job_against_a_stopped_api_exits_4_and_keeps_the_file(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    sb = make_sandbox()
    sb.state.add_campaign("Spring")
    write_config(tmp_path, sb)
    src = drop_file(tmp_path)
    sb.stop()
    out = leadsync(tmp_path, sb, "sync", "--job", "nightly")
    assert out.returncode == ExitCode.UNREACHABLE, out.stdout + out.stderr
    assert src.exists(), "a failed run must never archive its file"
    assert not (tmp_path / "archive").exists() or not any((tmp_path / "archive").iterdir())


def test_a_run_while_the_lock_is_held_exits_5_at_once(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.state.add_campaign("Spring")
    write_config(tmp_path, sandbox)
    src = drop_file(tmp_path)
    with JobLock(lock_path(tmp_path / "reports", "nightly"), job="nightly"):
        out = leadsync(tmp_path, sandbox, "sync", "--job", "nightly")
    assert out.returncode == ExitCode.LOCKED, out.stdout + out.stderr
    assert str(os.getpid()) in out.stderr  # names the holder
    assert src.exists() and sandbox.stats.writes == 0
    after = leadsync(tmp_path, sandbox, "sync", "--job", "nightly")
    assert after.returncode == ExitCode.OK, after.stdout + after.stderr


def test_two_concurrent_runs_of_one_job(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    # Every call takes a second, so the run that wins the lock holds it for several seconds,
    # far longer than the two processes' start-up times differ.
    sb = make_sandbox(latency_ms=1000.0)
    cid = sb.state.add_campaign("Spring")
    write_config(tmp_path, sb)
    drop_file(tmp_path, n=5)
    runs = [leadsync(tmp_path, sb, "sync", "--job", "nightly", wait=False) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in runs]
    codes = sorted(p.returncode for p in runs)
    assert codes == [ExitCode.OK, ExitCode.LOCKED], outputs
    assert len(sb.state.leads(cid)) == 5
