"""The report-folder rule: a run writes only into a new or empty folder, never through a link."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leadsync.errors import ConfigError, ExitCode
from leadsync.report.folder import open_report_dir

DATA = Path(__file__).resolve().parents[1] / "data"


def leadsync(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadsync", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def test_a_new_or_empty_folder_is_used(tmp_path: Path) -> None:
    assert open_report_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "empty").mkdir()
    assert open_report_dir(tmp_path / "empty") == tmp_path / "empty"


def test_check_only_creates_nothing(tmp_path: Path) -> None:
    open_report_dir(tmp_path / "new", create=False)
    assert not (tmp_path / "new").exists()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="is not a folder"):
        open_report_dir(tmp_path / "afile" / "sub", create=False)


@pytest.mark.parametrize("kind", ["dangling-link", "link-to-folder", "file", "file-parent"])
def test_unusable_folders_are_config_errors(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "target"
    if kind == "dangling-link":
        target.symlink_to(tmp_path / "nowhere")
    elif kind == "link-to-folder":
        (tmp_path / "real").mkdir()
        target.symlink_to(tmp_path / "real")
    elif kind == "file":
        target.write_text("x")
    else:
        (tmp_path / "afile").write_text("x")
        target = tmp_path / "afile" / "sub"
    with pytest.raises(ConfigError, match="--report-dir"):
        open_report_dir(target)
    assert not (tmp_path / "nowhere").exists()


def test_a_previous_report_is_refused_unless_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "rows.csv").write_text("old")
    (folder / "operations.jsonl").write_text('{"op_id": 1}\n')
    with pytest.raises(ConfigError, match="--replace-report"):
        open_report_dir(folder)
    assert (folder / "rows.csv").read_text() == "old"
    open_report_dir(folder, replace=True)
    assert list(folder.iterdir()) == []


def test_foreign_content_is_refused_even_with_replace(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps({"mine": True}))  # a user's own file
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(
        ConfigError, match=r"not a leadsync report folder \(notes.txt, summary.json\)"
    ):
        open_report_dir(folder, replace=True)
    assert (folder / "notes.txt").read_text() == "keep me"


def test_a_symlinked_report_file_is_never_followed(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    outside = tmp_path / "outside.jsonl"
    outside.write_text("precious\n")
    os.symlink(outside, folder / "operations.jsonl")
    with pytest.raises(ConfigError, match=r"operations\.jsonl"):
        open_report_dir(folder, replace=True)
    assert outside.read_text() == "precious\n"
    assert (folder / "operations.jsonl").is_symlink()


def test_cli_second_run_into_the_same_folder(tmp_path: Path) -> None:
    src = DATA / "basic.csv"
    first = leadsync("validate", str(src), "--report-dir", "out", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "out" / "summary.json").read_text()
    line = one_error_line(leadsync("validate", str(src), "--report-dir", "out", cwd=tmp_path))
    assert "holds a previous report" in line and "--replace-report" in line
    assert (tmp_path / "out" / "summary.json").read_text() == before
    again = leadsync("validate", str(src), "--report-dir", "out", "--replace-report", cwd=tmp_path)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("kind", ["dangling-link", "file-parent"])
def test_cli_unusable_report_dir_is_exit_2_with_one_line(tmp_path: Path, kind: str) -> None:
    if kind == "dangling-link":
        (tmp_path / "out").symlink_to(tmp_path / "nowhere")
        target = "out"
    else:
        (tmp_path / "afile").write_text("x")
        target = "afile/sub"
    line = one_error_line(
        leadsync("validate", str(DATA / "basic.csv"), "--report-dir", target, cwd=tmp_path)
    )
    assert target.split("/")[0] in line
