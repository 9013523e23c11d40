"""write_report writes rows.csv and rejected.csv on a worker thread beside the workbook and
report.html, and summary.json after all of them: a failure on either side still raises from write_report, the other side finishes,
and no temporary file is left behind. The records (summary.json, operations.jsonl, before.csv)
are synced to disk before they replace the old ones; every file has the permissions a plain
``open`` gives."""

from __future__ import annotations

import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from leadsync import atomic
from leadsync.report import write_before_csv, write_report
from leadsync.report import writer as writer_module
from tests.helpers import REPORT_FILES

from .builders import small_report


def test_the_csv_files_are_written_off_the_calling_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: dict[str, threading.Thread] = {}
    for name in ("write_rows", "write_rejected", "write_sheets", "write_html"):
        real = getattr(writer_module, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            threads[_name] = threading.current_thread()
            return _real(*args, **kwargs)

        monkeypatch.setattr(writer_module, name, spy)
    write_report(small_report(), tmp_path)
    caller = threading.current_thread()
    assert threads["write_sheets"] is caller and threads["write_html"] is caller
    assert threads["write_rows"] is not caller and threads["write_rejected"] is not caller


def test_summary_json_is_written_after_every_other_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done: list[str] = []
    names = ("write_rows", "write_rejected", "write_operations", "write_sheets", "write_html")
    for name in (*names, "write_summary"):
        real = getattr(writer_module, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            result = _real(*args, **kwargs)
            done.append(_name)
            return result

        monkeypatch.setattr(writer_module, name, spy)
    write_report(small_report(), tmp_path)
    assert sorted(done[:-1]) == sorted(names) and done[-1] == "write_summary"


def test_a_failing_csv_write_raises_and_the_workbook_is_still_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rows.csv").write_text("earlier\n", encoding="utf-8")

    def fail(*_: Any, **__: Any) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer_module, "write_rows", fail)
    with pytest.raises(OSError, match="No space left"):
        write_report(small_report(), tmp_path)
    assert (tmp_path / "rows.csv").read_text(encoding="utf-8") == "earlier\n"
    assert (tmp_path / "report.xlsx").stat().st_size > 0  # the other side ran to its end
    assert not (tmp_path / "summary.json").exists()  # no summary, so no "complete" folder
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_failing_workbook_raises_after_the_csv_files_are_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: Any, **__: Any) -> Path:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(writer_module, "write_sheets", fail)
    with pytest.raises(OSError, match="Permission denied"):
        write_report(small_report(), tmp_path)
    # the worker was waited for: its files are whole, not cut off by the error
    assert (tmp_path / "rows.csv").read_text(encoding="utf-8-sig").count("\n") > 1
    assert (tmp_path / "rejected.csv").exists()
    assert not (tmp_path / "report.html").exists()
    assert not (tmp_path / "summary.json").exists()


def test_the_records_are_synced_to_disk_and_every_file_is_readable_as_open_makes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = atomic._fsync_file
    monkeypatch.setattr(atomic, "_fsync_file", lambda p: (synced.append(p.name), real_fsync(p)))
    report = small_report()
    write_before_csv(report.rows.head(2), tmp_path)  # the copy taken before any delete
    write_report(report, tmp_path)
    written = {p.name for p in tmp_path.iterdir()}
    assert written == {*REPORT_FILES, "before.csv"}
    # what a scheduler or a restore reads is on disk before it replaces the old file; the
    # files for people are not synced (their cost at 1M rows: bench/RESULTS.md)
    on_disk = {name[1:].rsplit(".", 2)[0] for name in synced}  # ".summary.json.XXXX.tmp"
    assert on_disk == {"summary.json", "operations.jsonl", "before.csv"}
    for name in written:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == atomic.open_mode(), name
