"""``leadsync jobs``: the configured jobs with their last run, read from real report folders."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadsync.cli import cli
from leadsync.jobs.folders import EXIT_MEANINGS

CONFIG = """
[sync]
mode = "upsert"

[[jobs]]
name = "nightly"
source = ["drop/*.csv", "drop/*.xlsx"]
campaign = "Spring Promo"
mode = "mirror"

[[jobs]]
name = "eu"
source = "eu/*.csv"
report_dir = "eu-reports"
"""
SUMMARY = {
    "exit_code": 1,
    "dry_run": False,
    "mode": "mirror",
    "started_at": "2026-11-28T23:59:00Z",
    "finished_at": "2026-11-29T00:01:02Z",
    "totals": {"rows_read": 1200, "rows_rejected": 0, "added": 40, "failed": 2, "residual": 0},
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "etc" / "leadsync.toml"
    cfg.parent.mkdir()
    cfg.write_text(CONFIG, encoding="utf-8")
    folder = tmp_path / "etc" / "reports" / "20261128T235900Z_nightly"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(SUMMARY), encoding="utf-8")
    locks = tmp_path / "etc" / "reports" / ".locks"
    locks.mkdir()
    (locks / "nightly.lock").write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "hostname": socket.gethostname(),
                "started_at": "2026-11-29T23:59:00Z",
                "job": "nightly",
            }
        )
    )
    return cfg


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_table_shows_each_job_and_its_last_run(config: Path) -> None:
    code, out = run("--config", str(config), "jobs")
    assert code == 0
    lines = out.splitlines()
    nightly = next(line for line in lines if "nightly" in line)
    for text in ("drop/*.csv", "Spring Promo", "mirror", "2026-11-29T00:01:02Z", "1 failed ops"):
        assert text in nightly, text
    assert f"running: pid {os.getpid()}" in nightly
    for text in ("rows_read 1200", "added 40", "failed 2", "residual 0", "drop/*.xlsx"):
        assert text in out, text
    assert "rows_rejected" not in out  # zero counts other than failed/residual are left out
    eu = next(line for line in lines if "│ eu" in line)
    for text in ("eu/*.csv", "(from file)", "upsert", "never"):
        assert text in eu, text


def test_json_lists_jobs_with_full_meanings(config: Path) -> None:
    code, out = run("jobs", "--json", "--config", str(config))
    assert code == 0
    nightly, eu = json.loads(out)
    assert nightly["mode"] == "mirror" and eu["mode"] == "upsert"
    assert nightly["last_run"]["exit_code"] == 1
    assert nightly["last_run"]["meaning"] == EXIT_MEANINGS[1]
    assert nightly["last_run"]["meaning"].startswith("finished with failed operations")
    assert nightly["last_run"]["totals"] == SUMMARY["totals"]
    assert nightly["lock"]["state"] == "running"
    assert eu["report_root"] == str(config.parent / "eu-reports")
    assert eu["last_run"] is None and eu["lock"] is None


def test_no_jobs_configured(tmp_path: Path) -> None:
    cfg = tmp_path / "leadsync.toml"
    cfg.write_text('[sync]\nmode = "add"\n', encoding="utf-8")
    code, out = run("jobs", "--config", str(cfg))
    assert code == 0
    assert "No jobs configured" in out and "[[jobs]]" in out
