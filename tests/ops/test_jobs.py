"""Job files on disk: source globs, report folders and their pruning, the archive, last run."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from leadsync.config import JobSettings, load_settings
from leadsync.errors import ConfigError, ExitCode, InputError
from leadsync.jobs.folders import (
    EXIT_MEANINGS,
    archive_sources,
    job_paths,
    last_run,
    prune_reports,
    resolve_sources,
    safe_job_name,
)
from leadsync.report.folder import new_report_folder, stamp

NOW = datetime(2026, 11, 29, 23, 59, 0, tzinfo=UTC)


def make_files(base: Path, *names: str) -> None:
    for name in names:
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"number\n{name}\n", encoding="utf-8")


def job(*source: str, name: str = "nightly") -> JobSettings:
    return JobSettings(name=name, source=list(source))


# --- sources -------------------------------------------------------------------------------
def test_globs_and_paths_relative_to_the_config_folder(tmp_path: Path) -> None:
    make_files(tmp_path, "drop/b.csv", "drop/a.csv", "drop/.partial.csv", "drop/sub/c.csv")
    make_files(tmp_path, "drop/notes.txt", "extra.xlsx")
    (tmp_path / "drop" / "folder.csv").mkdir()  # a folder named like a match is not a file
    found = resolve_sources(job("drop/*.csv", "extra.xlsx", "drop/a.csv"), tmp_path)
    # sorted within each pattern, patterns in their order, a file matched twice read once,
    # dot files (uploads in progress) and folders left out
    assert found == [tmp_path / "drop/a.csv", tmp_path / "drop/b.csv", tmp_path / "extra.xlsx"]


def test_recursive_absolute_and_home_patterns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "etc"
    make_files(base, "drop/a.csv", "drop/sub/deeper/c.csv")
    make_files(tmp_path, "srv/x.csv", "home/leads.csv")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    found = resolve_sources(
        job("drop/**/*.csv", f"{tmp_path}/srv/*.csv", "~/leads.csv", "drop/a.csv"), base
    )
    assert found == [
        base / "drop/a.csv",
        base / "drop/sub/deeper/c.csv",
        tmp_path / "srv/x.csv",
        tmp_path / "home/leads.csv",
    ]


def test_a_config_folder_with_glob_characters_in_its_name(tmp_path: Path) -> None:
    base = tmp_path / "cfg[prod]"
    make_files(base, "drop/a.csv")
    assert resolve_sources(job("drop/*.csv"), base) == [base / "drop/a.csv"]


def test_no_match_at_all_is_an_input_error(tmp_path: Path) -> None:
    make_files(tmp_path, "drop/leads.xlsx")
    with pytest.raises(InputError) as caught:
        resolve_sources(job("drop/*.csv", "missing.xlsx"), tmp_path)
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert str(caught.value).startswith("job nightly: no files match drop/*.csv, missing.xlsx")


def test_a_pattern_matching_nothing_is_a_warning_when_others_match(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_files(tmp_path, "drop/a.csv")
    found = resolve_sources(job("drop/*.csv", "drop/*.xlsx"), tmp_path)
    assert found == [tmp_path / "drop/a.csv"]
    assert "source 'drop/*.xlsx' matches no file" in caplog.text
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_a_literal_folder_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    with pytest.raises(InputError, match=r"'drop' is a folder.*'drop/\*\.csv'"):
        resolve_sources(job("drop"), tmp_path)


# --- paths ---------------------------------------------------------------------------------
def test_job_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    cfg = tmp_path / "etc" / "leadsync.toml"
    cfg.parent.mkdir()
    cfg.write_text(
        '[sync]\nreport_dir = "reports"\n'
        '[[jobs]]\nname = "nightly"\nsource = "drop/*.csv"\narchive_dir = "done"\n'
        '[[jobs]]\nname = "eu leads"\nsource = "eu/*.csv"\nreport_dir = "/srv/eu"\n',
        encoding="utf-8",
    )
    settings = load_settings(cfg, environ={})
    nightly = job_paths(settings, "nightly", cwd=tmp_path / "somewhere")
    assert nightly.base_dir == tmp_path / "etc"
    assert nightly.report_root == tmp_path / "etc" / "reports"
    assert nightly.lock_file == tmp_path / "etc" / "reports" / ".locks" / "nightly.lock"
    assert nightly.archive_dir == tmp_path / "etc" / "done"
    eu = job_paths(settings, "eu leads", cwd=tmp_path)
    assert (eu.report_root, eu.archive_dir) == (Path("/srv/eu"), None)
    assert eu.lock_file == Path("/srv/eu/.locks/eu_leads.lock")
    with pytest.raises(ConfigError, match="unknown job 'weekly'; known jobs: nightly, eu leads"):
        job_paths(settings, "weekly", cwd=tmp_path)


def test_without_a_config_file_paths_start_at_cwd(tmp_path: Path) -> None:
    settings = load_settings(
        environ={}, cwd=tmp_path, overrides={"jobs": [{"name": "n", "source": "x.csv"}]}
    )
    assert job_paths(settings, "n", cwd=tmp_path).report_root == tmp_path / "reports"


def test_safe_job_names_and_stamps() -> None:
    assert safe_job_name("nightly") == "nightly"
    assert safe_job_name("EU leads/2026") == "EU_leads_2026"
    assert safe_job_name("../etc") == "_etc"
    assert safe_job_name("...") == "job"
    assert stamp(NOW) == "20261129T235900Z"
    new_york = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert stamp(new_york) == "20261129T235900Z"  # always written in UTC
    with pytest.raises(ValueError, match="aware"):
        stamp(datetime(2026, 11, 29))


# --- report folders ------------------------------------------------------------------------
def test_new_report_folders_never_collide(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    first = new_report_folder(root, "nightly", NOW)
    second = new_report_folder(root, "nightly", NOW)
    assert first == root / "20261129T235900Z_nightly"
    assert second == root / "20261129T235900Z-2_nightly"
    assert first.is_dir() and second.is_dir()


def report(root: Path, name: str, summary: dict | None = None) -> Path:  # type: ignore[type-arg]
    folder = root / name
    folder.mkdir(parents=True)
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def test_prune_keeps_the_newest_and_never_touches_anything_else(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    ours = [
        "20261125T235900Z_nightly",
        "20261126T235900Z_nightly",
        "20261127T235900Z_nightly",
        "20261127T235900Z-2_nightly",  # same second, later
        "20261128T235900Z_nightly",
    ]
    for name in ours:
        report(root, name, {"exit_code": 0})
    foreign = [
        "20261101T000000Z_nightly2",  # another job
        "20261101T000000Z_eu_nightly",  # another job whose name ends like ours
        "2026-11-01_nightly",  # someone's own folder
        "notes",
        ".locks",
    ]
    for name in foreign:
        report(root, name)
    (root / "20261101T000000Z_nightly.zip").write_text("not a folder")
    outside = tmp_path / "keep-me"
    report(outside, "inner")
    (root / "20261102T000000Z_nightly").symlink_to(outside, target_is_directory=True)

    deleted = prune_reports(root, "nightly", keep=2)

    assert deleted == [root / name for name in ours[:3]]
    remaining = sorted(p.name for p in root.iterdir())
    assert remaining == sorted(
        [*ours[3:], *foreign, "20261101T000000Z_nightly.zip", "20261102T000000Z_nightly"]
    )
    assert (outside / "inner").is_dir()  # a symlink is never followed
    assert prune_reports(root, "nightly", keep=2) == []  # idempotent


def test_prune_edge_cases(tmp_path: Path) -> None:
    assert prune_reports(tmp_path / "absent", "nightly", keep=3) == []
    with pytest.raises(ValueError, match="at least 1"):
        prune_reports(tmp_path, "nightly", keep=0)


# --- last run ------------------------------------------------------------------------------
def test_last_run_reads_the_newest_summary(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    report(root, "20261127T235900Z_nightly", {"exit_code": 0, "totals": {"added": 9}})
    newest_done = report(
        root,
        "20261128T235900Z_nightly",
        {
            "exit_code": 3,
            "dry_run": False,
            "mode": "mirror",
            "started_at": "2026-11-28T23:59:00Z",
            "finished_at": "2026-11-29T00:01:02Z",
            "totals": {"added": 0, "planned_delete": 500},
        },
    )
    report(root, "20261129T235900Z_nightly")  # killed: no summary
    (report(root, "20261129T235959Z_nightly") / "summary.json").write_text("{trunc")
    report(root, "20261130T000000Z_other", {"exit_code": 0})

    run = last_run(root, "nightly")
    assert run == {
        "folder": newest_done,
        "time": "2026-11-29T00:01:02Z",
        "started_at": "2026-11-28T23:59:00Z",
        "finished_at": "2026-11-29T00:01:02Z",
        "exit_code": 3,
        "meaning": EXIT_MEANINGS[ExitCode.REFUSED],
        "dry_run": False,
        "mode": "mirror",
        "totals": {"added": 0, "planned_delete": 500},
        "unfinished_newer": 2,
    }


def test_last_run_without_runs(tmp_path: Path) -> None:
    assert last_run(tmp_path / "absent", "nightly") is None
    report(tmp_path, "20261129T235900Z_nightly")
    assert last_run(tmp_path, "nightly") is None
    report(tmp_path, "20261128T000000Z_nightly", {"exit_code": 0})
    run = last_run(tmp_path, "nightly")
    assert run is not None and run["time"] == "2026-11-28T00:00:00+00:00"  # the folder's stamp


# --- archive -------------------------------------------------------------------------------
def test_archive_moves_with_a_utc_stamp_and_never_overwrites(tmp_path: Path) -> None:
    make_files(tmp_path, "drop/leads.csv", "drop/eu/leads.csv", "drop/README")
    archive_dir = tmp_path / "archive" / "nightly"
    existing = archive_dir / "leads.20261129T235900Z.csv"
    existing.parent.mkdir(parents=True)
    existing.write_text("an earlier run's file")

    sources = [
        tmp_path / "drop/leads.csv",
        tmp_path / "drop/eu/leads.csv",
        tmp_path / "drop/README",
    ]
    moved = archive_sources(sources, archive_dir, NOW)

    assert moved == [
        archive_dir / "leads.20261129T235900Z-2.csv",
        archive_dir / "leads.20261129T235900Z-3.csv",
        archive_dir / "README.20261129T235900Z",
    ]
    assert existing.read_text() == "an earlier run's file"
    assert [p.read_text() for p in moved] == [
        "number\ndrop/leads.csv\n",
        "number\ndrop/eu/leads.csv\n",
        "number\ndrop/README\n",
    ]
    assert not any(p.exists() for p in sources)


def test_archive_across_filesystems_copies_then_removes(tmp_path: Path) -> None:
    other = Path("/dev/shm")
    if not other.is_dir() or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a second filesystem (/dev/shm) to cross")
    make_files(tmp_path, "drop/leads.csv")
    src = tmp_path / "drop/leads.csv"
    os.utime(src, (1_700_000_000, 1_700_000_000))
    archive_dir = Path(tempfile.mkdtemp(dir=other)) / "archive"
    try:
        (archive_dir).mkdir()
        (archive_dir / "leads.20261129T235900Z.csv").write_text("keep")
        (moved,) = archive_sources([src], archive_dir, NOW)
        assert moved == archive_dir / "leads.20261129T235900Z-2.csv"
        assert moved.read_text() == "number\ndrop/leads.csv\n"
        assert moved.stat().st_mtime == 1_700_000_000  # metadata kept
        assert (archive_dir / "leads.20261129T235900Z.csv").read_text() == "keep"
        assert not src.exists()
    finally:
        shutil.rmtree(archive_dir.parent)


def test_archive_failure_names_the_file_and_what_was_done(tmp_path: Path) -> None:
    make_files(tmp_path, "drop/a.csv")
    gone = tmp_path / "drop/vanished.csv"
    with pytest.raises(ConfigError) as caught:
        archive_sources([tmp_path / "drop/a.csv", gone], tmp_path / "archive", NOW)
    assert str(gone) in str(caught.value)
    assert "(1 of 2 file(s) archived before it)" in str(caught.value)
    assert (tmp_path / "archive/a.20261129T235900Z.csv").exists()  # moved stays moved
    (tmp_path / "blocked").write_text("a file where the archive folder should be")
    make_files(tmp_path, "drop/b.csv")
    with pytest.raises(ConfigError, match="cannot archive"):
        archive_sources([tmp_path / "drop/b.csv"], tmp_path / "blocked", NOW)
    assert (tmp_path / "drop/b.csv").exists()  # nothing lost
    with pytest.raises(ValueError, match="aware"):
        archive_sources([tmp_path / "drop/b.csv"], tmp_path / "archive", datetime(2026, 11, 29))
