"""write_report writes rows.csv and rejected.csv on a worker thread beside the workbook and
report.html: a failure on either side still raises from write_report, the other side finishes,
and no temporary file is left behind."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from leadsync.report import write_report
from leadsync.report import writer as writer_module

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
