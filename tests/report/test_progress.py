"""write_report's progress: ``progress("report", done, total)`` counts up to its total as the
CSV files and the workbook are written (the bar that follows "check" on a terminal)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadsync.report import files, write_report
from leadsync.report import xlsx as xlsx_module

from .builders import big_report

N_ROWS = 1_000
REJECTED_EVERY = 10
CAP = 300


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int | None]]:
    monkeypatch.setattr(files, "CSV_BATCH_ROWS", 100)
    monkeypatch.setattr(xlsx_module, "XLSX_ROUTINE_ROWS", CAP)
    seen: list[tuple[str, int, int | None]] = []
    report = big_report(N_ROWS, rejected_every=REJECTED_EVERY, accepted="valid")
    write_report(report, tmp_path, progress=lambda *args: seen.append(args))
    return seen


def test_progress_counts_the_rows_written_up_to_the_total(
    calls: list[tuple[str, int, int | None]],
) -> None:
    rejected = N_ROWS // REJECTED_EVERY
    sheet_rows = rejected + CAP + rejected  # Rows sheet (capped) + Rejected sheet
    total = N_ROWS + rejected + sheet_rows + 1  # + report.html
    assert {stage for stage, _, _ in calls} == {"report"}
    assert {t for _, _, t in calls} == {total}
    done = [d for _, d, _ in calls]
    assert done[0] == 0 and done[-1] == total
    assert done == sorted(done)


def test_progress_moves_while_the_big_files_are_written(
    calls: list[tuple[str, int, int | None]],
) -> None:
    # rows.csv in batches of 100 rows: the bar moves at least once per batch
    assert len(calls) >= N_ROWS // 100 + 2
