"""A 200,000-row report: every file complete and consistent (the write path at scale; its speed
is measured by bench/bench_report.py, not asserted here)."""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from leadsync.report import write_report
from leadsync.report.xlsx import XLSX_LISTED_ROWS

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


def test_xlsx_rows_sheet_lists_the_first_rows_in_order(folder: Path) -> None:
    # Reading the sheets back with a spreadsheet library costs more than writing them: look at
    # the sheet XML itself (small reports are read back with openpyxl and calamine elsewhere).
    # Every row here needs attention (added or rejected): the sheet lists the first
    # XLSX_LISTED_ROWS of them and says so; rows.csv has them all.
    with zipfile.ZipFile(folder / "report.xlsx") as book:
        rows_xml = book.read("xl/worksheets/sheet2.xml").decode("utf-8")  # Summary, Rows, …
        rejected_xml = book.read("xl/worksheets/sheet3.xml").decode("utf-8")
    numbers = [int(n) for n in re.findall(r'<row r="(\d+)"', rows_xml)]
    assert numbers == list(range(1, XLSX_LISTED_ROWS + 2))
    assert f"Only the first {XLSX_LISTED_ROWS:,} of the {N_ROWS:,} rows" in rows_xml
    last = ET.fromstring(rows_xml[rows_xml.rindex('<row r="') : rows_xml.index("</sheetData>")])
    cells = {
        re.sub(r"\d", "", c.get("r", "")): c.findtext(".//{*}t") or c.findtext("{*}v") for c in last
    }
    i = XLSX_LISTED_ROWS - 1
    assert cells == {
        "A": "big.csv",
        "C": str(i + 2),
        "D": "Spring Promo",
        "E": f"+1213{i:07d}",
        "F": "added",
        "G": f"id{i}",
    }  # no cell for the missing sheet, reasons and message
    assert rejected_xml.count("<row ") == N_ROWS // REJECTED_EVERY + 1


def test_summary_and_html_stay_small(folder: Path) -> None:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["totals"]["rows_read"] == N_ROWS
    assert summary["totals"]["rows_rejected"] == N_ROWS // REJECTED_EVERY
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert html.count("<tr>") < 4_200  # 4,000 problem rows shown, nothing per valid row
    assert (folder / "report.html").stat().st_size < 3_000_000
