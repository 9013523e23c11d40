"""report.xlsx opens in LibreOffice: headless LibreOffice converts every sheet to CSV, and the
cells are the ones openpyxl reads (formulas inert, awkward text intact, the capped Rows sheet
with its note)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from leadsync.report import write_report
from leadsync.report import xlsx as xlsx_module

from .builders import INJECTION, big_report, small_report
from .conftest import office_sheets_as_csv

SHEETS = ["Summary", "Rows", "Rejected", "Operations", "Kept", "Drift"]
AWKWARD = ["a < b & c > d", "é ü 日本", "tab\there", "  spaced  ", "@SUM(A1:A2)", "_x0041_ literal"]
CAP = 5
EXCEL_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def office_rows(folder: Path, sheet: str) -> list[list[str]]:
    with (folder / f"report-{sheet}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def openpyxl_rows(book: openpyxl.Workbook, sheet: str) -> list[list[str]]:
    """The sheet's cells as text the way a CSV export shows them: whole numbers without .0,
    and Excel's ``_xHHHH_`` escapes decoded (openpyxl shows them raw, LibreOffice decodes)."""

    def text(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return EXCEL_ESCAPE.sub(lambda m: chr(int(m[1], 16)), str(value))

    return [[text(v) for v in row] for row in book[sheet].iter_rows(values_only=True)]


@pytest.fixture(scope="module")
def small(soffice: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("office")
    report = small_report()
    rows = report.rows.copy()
    extra = pd.DataFrame(
        {
            "file": pd.Series(["odd.csv"] * len(AWKWARD), dtype="str"),
            "row": pd.Series(range(100, 100 + len(AWKWARD)), dtype="Int64"),
            "outcome": pd.Series(["rejected"] * len(AWKWARD), dtype="str"),
            "message": pd.Series(AWKWARD, dtype="str"),
        }
    )
    report.rows = pd.concat([rows, extra], ignore_index=True)
    write_report(report, folder)
    return folder, office_sheets_as_csv(soffice, folder / "report.xlsx", folder / "csv")


def test_every_sheet_opens_with_the_cells_openpyxl_reads(small: tuple[Path, Path]) -> None:
    folder, converted = small
    book = openpyxl.load_workbook(folder / "report.xlsx")
    assert book.sheetnames == SHEETS
    for sheet in SHEETS:
        assert office_rows(converted, sheet) == openpyxl_rows(book, sheet), sheet


def test_formulas_stay_text_and_awkward_text_survives(small: tuple[Path, Path]) -> None:
    _, converted = small
    rejected = office_rows(converted, "Rejected")
    first_name = rejected[0].index("First Name")
    assert rejected[1][first_name] == "'" + INJECTION  # shown as typed, never evaluated
    messages = [r[8] for r in office_rows(converted, "Rows")[1:]]
    for text in AWKWARD:
        if text == "@SUM(A1:A2)":
            assert "'" + text in messages  # escaped like any risky cell
        else:
            assert text in messages, text


@pytest.fixture(scope="module")
def capped(soffice: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("office-capped")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(xlsx_module, "XLSX_ROUTINE_ROWS", CAP)
        write_report(big_report(40, rejected_every=10, accepted="valid"), folder)
    return office_sheets_as_csv(soffice, folder / "report.xlsx", folder / "csv")


def test_capped_rows_sheet_opens_with_its_note(capped: Path) -> None:
    rows = office_rows(capped, "Rows")
    assert rows[0][9] == (
        f"31 valid or unchanged rows after the first {CAP} are not listed here: "
        "rows.csv has every row."
    )
    outcomes = [r[5] for r in rows[1:]]
    assert outcomes.count("rejected") == 4 and outcomes.count("valid") == CAP
    summary = {r[0]: r[1] for r in office_rows(capped, "Summary") if r and r[0]}
    assert summary["Rows"].startswith("rows.csv holds every row (40).")
