"""report.xlsx: sheets, styled frozen header, autofilter, widths, inert formulas, typed cells,
escaping of XML-special text, the row cap with its note, and the cap on valid/unchanged rows."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from leadsync.models import COUNT_KEYS
from leadsync.report import ROW_COLUMNS, RunReport, write_report
from leadsync.report import xlsx as xlsx_module
from leadsync.report.xlsx import write_xlsx

from .builders import INJECTION, big_report, small_report

SHEETS = ["Summary", "Rows", "Rejected", "Operations", "Kept", "Drift"]


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    folder = tmp_path_factory.mktemp("xlsx")
    write_report(small_report(), folder)
    return openpyxl.load_workbook(folder / "report.xlsx")


def values(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[list[object]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_sheets_in_order(book: openpyxl.Workbook) -> None:
    assert book.sheetnames == SHEETS


@pytest.mark.parametrize("name", SHEETS)
def test_header_is_bold_filled_frozen_and_filtered(book: openpyxl.Workbook, name: str) -> None:
    ws = book[name]
    assert ws.freeze_panes == "A2"
    header = ws["A1"]
    assert header.font.b
    assert header.fill.fill_type == "solid"
    assert ws.auto_filter.ref is not None and ws.auto_filter.ref.startswith("A1:")
    assert ws.column_dimensions["A"].width >= xlsx_module.MIN_COL_WIDTH


def test_rows_sheet_matches_the_rows(book: openpyxl.Workbook) -> None:
    rows = values(book["Rows"])
    assert rows[0] == list(ROW_COLUMNS)
    assert len(rows) - 1 == len(small_report().rows)
    assert rows[1][:7] == ["leads.xlsx", "Sheet1", 2, "Spring Promo", "+12135550101", "added", "a1"]
    assert isinstance(rows[1][2], int)  # row numbers are numbers, not text
    assert rows[1][7] is None  # missing values are empty cells
    assert book["Rows"].auto_filter.ref == f"A1:I{len(rows)}"


def test_formula_in_a_first_name_is_inert(book: openpyxl.Workbook) -> None:
    ws = book["Rejected"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("First Name") + 1)
    assert cell.data_type == "s"
    assert cell.value == "'" + INJECTION
    for row in ws.iter_rows():
        for c in row:
            assert c.data_type != "f", c.coordinate
    for name in SHEETS:
        for row in book[name].iter_rows():
            for c in row:
                assert c.data_type != "f", (name, c.coordinate)


def test_number_column_keeps_the_plus(book: openpyxl.Workbook) -> None:
    ws = book["Rejected"]
    assert ws["A3"].value == "+12135550105"
    assert ws["A3"].data_type == "s"


def test_summary_sheet_has_counts_totals_and_meta(book: openpyxl.Workbook) -> None:
    rows = values(book["Summary"])
    assert rows[0] == ["campaign", *COUNT_KEYS]
    report = small_report()
    assert rows[1][0] == "Spring Promo"
    assert rows[3] == ["TOTAL", *report.totals().values()]
    labels = {r[0]: r[1] for r in rows[5:] if r and r[0]}
    assert labels["What happened"] == report.headline()
    assert labels["Exit code"].startswith("1 (")
    assert labels["Overrides"] == "'--allow-mass-delete"  # escaped like any cell


def test_operations_kept_and_drift_sheets(book: openpyxl.Workbook) -> None:
    ops = values(book["Operations"])
    assert ops[0][:5] == ["op_id", "kind", "campaign_id", "key", "outcome"]
    assert [r[4] for r in ops[1:]] == ["done", "done", "failed", "done"]
    assert values(book["Kept"])[1][0] == "k1"
    assert values(book["Drift"])[0] == ["id", "field", "file", "remote"]


def test_awkward_text_survives(tmp_path: Path) -> None:
    text = [
        "a < b & c > d",
        "tab\tinside",
        "bell\x07gone",
        "_x0041_ literal",
        "  spaced  ",
        "line\r\nbreak",
        "é ü 日本",
        "x" * 40_000,
    ]
    rows = pd.DataFrame({c: [None] * len(text) for c in ROW_COLUMNS}).astype("str")
    rows["message"] = pd.Series(text, dtype="str")
    rows["row"] = pd.Series(range(2, 2 + len(text)), dtype="Int64")
    path = write_xlsx(RunReport(command="validate", rows=rows), tmp_path / "r.xlsx")
    got = [r[8] for r in values(openpyxl.load_workbook(path)["Rows"])[1:]]
    assert got[:3] == ["a < b & c > d", "tab\tinside", "bellgone"]
    assert got[4] == "  spaced  "
    assert got[5] == "line\r\nbreak"
    assert got[6] == "é ü 日本"
    assert got[7] == "x" * xlsx_module.XLSX_MAX_CELL_CHARS
    # Excel reads _xHHHH_ as an escaped character, so a literal one is written as _x005F_xHHHH_
    # (ECMA-376 ST_Xstring); calamine follows the standard, openpyxl shows the raw text.
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Rows").to_python()
    assert sheet[1][8] == "a < b & c > d"
    assert sheet[4][8] == "_x0041_ literal"
    assert got[3] == "_x005F_x0041_ literal"


def test_rows_beyond_the_sheet_limit_are_capped_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_module, "XLSX_MAX_DATA_ROWS", 100)
    path = write_xlsx(big_report(250), tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(path)["Rows"]
    rows = values(ws)
    assert len(rows) == 101
    assert rows[0][9] == "Only the first 100 of 250 rows fit in a sheet: rows.csv has them all."
    assert ws.auto_filter.ref == "A1:I101"
    assert rows[100][2] == 101  # the 100th data row is input row 101


def test_empty_tables_still_have_a_header(tmp_path: Path) -> None:
    path = write_xlsx(RunReport(command="validate"), tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(path)
    assert values(book["Rows"]) == [list(ROW_COLUMNS)]
    assert values(book["Kept"]) == [["(empty)"]]


def test_text_spread_over_several_arrow_chunks(tmp_path: Path) -> None:
    half = pd.DataFrame({c: pd.Series(["a"] * 3, dtype="str") for c in ROW_COLUMNS})
    rows = pd.concat([half, half.assign(message="b")], ignore_index=True)  # 2 chunks
    rows["row"] = pd.Series(range(2, 8), dtype="Int64")
    path = write_xlsx(RunReport(command="validate", rows=rows), tmp_path / "r.xlsx")
    got = values(openpyxl.load_workbook(path)["Rows"])
    assert [r[8] for r in got[1:]] == ["a", "a", "a", "b", "b", "b"]
    assert [r[2] for r in got[1:]] == [2, 3, 4, 5, 6, 7]


def summary_labels(book: openpyxl.Workbook) -> dict[str, object]:
    return {r[0]: r[1] for r in values(book["Summary"]) if r and r[0]}


def test_summary_says_rows_csv_holds_every_row(book: openpyxl.Workbook) -> None:
    assert summary_labels(book)["Rows"] == "rows.csv holds every row (7); so does the Rows sheet."


@pytest.fixture
def capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, RunReport]:
    """A validation of 100 rows (every 10th rejected) with room for 25 valid rows."""
    monkeypatch.setattr(xlsx_module, "XLSX_ROUTINE_ROWS", 25)
    report = big_report(100, rejected_every=10, accepted="valid")
    report.command = "validate"
    write_report(report, tmp_path)
    return tmp_path, report


def test_rows_sheet_keeps_every_problem_row_and_caps_the_valid_ones(
    capped: tuple[Path, RunReport],
) -> None:
    folder, report = capped
    ws = openpyxl.load_workbook(folder / "report.xlsx")["Rows"]
    rows = values(ws)
    header, data = rows[0], rows[1:]
    assert header[:9] == list(ROW_COLUMNS)
    assert header[9] == (
        "65 valid or unchanged rows after the first 25 are not listed here: rows.csv has every row."
    )
    outcomes = [r[5] for r in data]
    assert outcomes.count("rejected") == 10  # every one, also after the cap was reached
    assert outcomes.count("valid") == 25
    numbers = [r[2] for r in data]
    assert numbers == sorted(numbers)  # input order kept
    valid = report.rows.loc[report.rows["outcome"] == "valid", "row"].tolist()
    assert [r[2] for r in data if r[5] == "valid"] == valid[:25]  # the first ones
    assert ws.auto_filter.ref == f"A1:I{len(data) + 1}"


def test_capped_workbook_points_to_rows_csv_which_has_every_row(
    capped: tuple[Path, RunReport],
) -> None:
    folder, _ = capped
    label = summary_labels(openpyxl.load_workbook(folder / "report.xlsx"))["Rows"]
    assert label == (
        "rows.csv holds every row (100). The Rows sheet lists 35 of them (at most 50,000): the "
        "rows that need attention (rejected, duplicate, failed, changed, planned) first, then "
        "at most 25 valid or unchanged rows."
    )
    with (folder / "rows.csv").open(encoding="utf-8-sig") as fh:
        assert sum(1 for _ in fh) == 101


@pytest.mark.parametrize(
    ("outcome", "listed"),
    [
        ("valid", 5),
        ("unchanged", 5),
        ("added", 20),
        ("status_set", 20),
        ("planned_add", 20),
        ("planned_status", 20),
        ("duplicate", 20),
        ("failed", 20),
    ],
)
def test_only_valid_and_unchanged_rows_are_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcome: str, listed: int
) -> None:
    monkeypatch.setattr(xlsx_module, "XLSX_ROUTINE_ROWS", 5)
    report = big_report(20, rejected_every=1_000, accepted=outcome)  # row 2 alone rejected
    report.rows.loc[0, "outcome"] = outcome
    path = write_xlsx(report, tmp_path / "r.xlsx")
    assert len(values(openpyxl.load_workbook(path)["Rows"])) - 1 == listed


def test_rows_rejected_and_drift_sheets_list_at_most_the_listed_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_module, "XLSX_LISTED_ROWS", 5)
    report = big_report(100, rejected_every=10, accepted="valid")  # 10 rejected, 90 valid
    report.command = "validate"
    report.drift = pd.DataFrame({"number": [f"+1213555{i:04d}" for i in range(8)]}, dtype="str")
    write_report(report, tmp_path)
    book = openpyxl.load_workbook(tmp_path / "report.xlsx")
    rows = values(book["Rows"])
    assert rows[0][9] == (
        "Only the first 5 of the 10 rows that need attention are listed here: rows.csv has "
        "every row."
    )
    assert [r[5] for r in rows[1:]] == ["rejected"] * 5  # attention first, no room for valid
    assert [r[2] for r in rows[1:]] == [2, 12, 22, 32, 42]
    rejected = values(book["Rejected"])
    assert len(rejected) == 6
    assert (
        rejected[0][-1] == "Only the first 5 of 10 rows are listed here: rejected.csv has them all."
    )
    drift = values(book["Drift"])
    assert len(drift) == 6 and drift[0][-1] == "Only the first 5 of 8 rows are listed here."
    labels = summary_labels(book)
    assert labels["Rejected sheet"] == (
        "It lists 5 of 10 rows. Only the first 5 of 10 rows are listed here: rejected.csv has "
        "them all."
    )
    assert "Drift sheet" in labels
    with (tmp_path / "rejected.csv").open(encoding="utf-8-sig") as fh:
        assert sum(1 for _ in fh) == 11  # the CSV keeps every rejected row
