"""A 200,000-row report: every file complete and consistent (the write path at scale; its speed
is measured by bench/bench_report.py, not asserted here)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from leadsync.report import write_report

from .builders import big_report

N_ROWS = 200_000
REJECTED_EVERY = 50


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("large")
    report = big_report(N_ROWS, rejected_every=REJECTED_EVERY)
    started = time.perf_counter()
    write_report(report, out)
    print(f"write_report({N_ROWS:,} rows): {time.perf_counter() - started:.1f} s")
    return out


def line_count(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def test_csv_files_have_every_row(folder: Path) -> None:
    assert line_count(folder / "rows.csv") == N_ROWS + 1
    assert line_count(folder / "rejected.csv") == N_ROWS // REJECTED_EVERY + 1


def test_xlsx_rows_sheet_has_every_row_in_order(folder: Path) -> None:
    book = CalamineWorkbook.from_path(str(folder / "report.xlsx"))
    rows = book.get_sheet_by_name("Rows").to_python()
    assert len(rows) == N_ROWS + 1
    assert rows[1][:6] == ["big.csv", "", 2, "Spring Promo", "+12130000000", "rejected"]
    assert rows[-1][2] == N_ROWS + 1
    assert rows[-1][4] == f"+1213{N_ROWS - 1:07d}"
    rejected = book.get_sheet_by_name("Rejected").to_python()
    assert len(rejected) == N_ROWS // REJECTED_EVERY + 1


def test_summary_and_html_stay_small(folder: Path) -> None:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["totals"]["rows_read"] == N_ROWS
    assert summary["totals"]["rows_rejected"] == N_ROWS // REJECTED_EVERY
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert html.count("<tr>") < 4_200  # 4,000 problem rows shown, nothing per valid row
    assert (folder / "report.html").stat().st_size < 3_000_000
