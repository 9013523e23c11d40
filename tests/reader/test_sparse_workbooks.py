"""Workbooks whose cells lie far apart: read in memory that follows the cells present, or refused
naming the sheet and the far cell; and every way a workbook is read gives the same grid."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
import python_calamine as calamine
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from leadsync.config import Settings
from leadsync.errors import ExitCode, InputError
from leadsync.reader import Limits, read_sources
from leadsync.reader.cells import SheetCells, dense_grid
from leadsync.reader.limits import DEFAULT_LIMITS
from leadsync.reader.workbook import read_workbook
from tests.reliability import hostile

DATA = Path(__file__).resolve().parents[1] / "data"
#: Every sheet read cell by cell (python-calamine never lays one out).
CELL_BY_CELL = Limits(calamine_bulk_cells=0, calamine_max_cells=0)
#: Every python-calamine block converted in blocks of rows, never in bulk.
IN_BLOCKS = Limits(calamine_bulk_cells=0)
XLSX_FIXTURES = ["basic.xlsx", "title_rows.xlsx", "blanks.xlsx", "two_sheets.xlsx",
                 "excel_damage.xlsx"]  # fmt: skip


def grids(path: Path, limits: Limits = DEFAULT_LIMITS, sheet: str | None = "*") -> list:
    """Each sheet as (name, columns as lists, numeric flags as lists)."""
    out = []
    for g in read_workbook(str(path), path.read_bytes(), sheet=sheet, limits=limits):
        columns = [c.to_pylist() for c in g.cells.columns]
        while columns and not any(columns[-1]):
            columns.pop()  # a grid may end in empty columns or not
        numeric = {c: np.flatnonzero(f).tolist() for c, f in g.numeric.items() if f.any()}
        out.append((g.name, g.cells.height, columns, numeric))
    return out


def cell_types_workbook(path: Path, *, date1904: bool = False) -> Path:
    """One cell of every kind python-calamine turns into a value, in shared strings and not."""
    wb = openpyxl.Workbook()
    if date1904:
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "Types"
    rows = [
        ("text", "Chloé"),
        ("date", dt.date(2026, 3, 1)),
        ("datetime", dt.datetime(2026, 3, 1, 10, 30, 5)),
        ("time", dt.time(10, 30)),
        ("duration", dt.timedelta(hours=30)),
        ("bool", True),
        ("false", False),
        ("int", 5),
        ("float", 2.5),
        ("phone", 2135550101),
        ("fraction", 2135550104.5),
        ("big", 12345678901234567890),
        ("negative", -3),
        ("spaces", "  padded  "),
    ]
    for row in rows:
        ws.append(row)
    ws["B15"] = 0.25
    ws["B15"].number_format = "0%"
    ws["B16"] = 45000
    ws["B16"].number_format = 'yyyy-mm-dd "at" hh:mm'
    ws["B17"] = 1.5
    ws["B17"].number_format = "[h]:mm:ss"
    ws["B18"] = 447701234567
    ws["B18"].number_format = "0.00E+00"
    ws["B19"] = "#DIV/0!"
    ws["B19"].data_type = "e"
    ws["D25"] = "far corner"
    wb.save(path)
    return path


@pytest.mark.parametrize("name", XLSX_FIXTURES)
def test_each_xlsx_fixture_reads_the_same_cell_by_cell_and_in_row_blocks(name):
    expected = grids(DATA / name)
    assert grids(DATA / name, CELL_BY_CELL) == expected
    assert grids(DATA / name, IN_BLOCKS) == expected


@pytest.mark.parametrize("date1904", [False, True])
def test_every_cell_type_reads_the_same_cell_by_cell(tmp_path, date1904):
    path = cell_types_workbook(tmp_path / "types.xlsx", date1904=date1904)
    expected = grids(path)
    assert grids(path, CELL_BY_CELL) == expected
    assert grids(path, IN_BLOCKS) == expected
    (_, _, columns, _) = expected[0]
    assert columns[1][:4] == ["Chloé", "2026-03-01", "2026-03-01T10:30:05", "10:30:00"]


def test_xls_reads_the_same_in_row_blocks():
    assert grids(DATA / "basic.xls", IN_BLOCKS) == grids(DATA / "basic.xls")


def calamine_grid(path: Path, sheet: str) -> tuple:
    """What python-calamine itself makes of a sheet (the reference for the .ods reader)."""
    ws = calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet)
    rows = ws.to_python(skip_empty_area=False)
    columns, numeric = dense_grid(rows, max((len(r) for r in rows), default=0))
    lists = [c.to_pylist() for c in columns]
    flags = {c: np.flatnonzero(f).tolist() for c, f in numeric.items() if f.any()}
    return sheet, len(rows), lists, flags


@pytest.mark.parametrize("name", ["basic.ods", "cell_types.ods"])
def test_the_ods_reader_gives_what_python_calamine_gives(name):
    expected = [calamine_grid(DATA / name, s) for s, *_ in grids(DATA / name)]
    assert grids(DATA / name) == expected


def test_a_stray_cell_within_the_bounds_costs_its_column_not_the_block(tmp_path):
    """Regression: a 5 KB workbook with a stray cell at ZZ200000 took 9 GB and 36 s (python-
    calamine laid out 200,000 × 702 cells). Now only the columns holding a cell are built."""
    path = hostile.xlsx_stray_cell_zz200000(tmp_path)
    (grid,) = read_workbook(str(path), path.read_bytes(), sheet=None, limits=DEFAULT_LIMITS)
    assert (grid.cells.height, grid.cells.width) == (200_000, 702)
    distinct = {id(c) for c in grid.cells.columns}
    assert len(distinct) == 4  # A, B, ZZ — and one empty column shared by the 699 others
    result = read_sources([path], Settings())
    assert result.leads["number"].tolist() == hostile.STRAY_LEADS
    assert [(i.row, i.codes) for i in result.issues] == [(200_000, ("phone-missing",))]


def test_an_xls_cell_beyond_the_format_is_refused_before_calamine_opens_the_file():
    """Regression: a 6 KB .xls whose cell record names column 60,000 (BIFF keeps 16 bits of
    column) made python-calamine ask for 125 GB and abort the process."""
    path = DATA / "xls_column_60000.xls"
    with pytest.raises(InputError) as info:
        read_sources([path], Settings())
    assert str(info.value) == (
        f"{path} [sheet 'Leads'] has a cell at CJSS65536, beyond the 65,536 rows × 256 columns "
        "of the .xls format (a damaged file?): open it in Excel or LibreOffice and save it as "
        ".xlsx"
    )


@pytest.mark.parametrize(
    "build",
    [hostile.xlsx_stray_cell_xfd1048576, hostile.ods_stray_cell_xfd1048576],
    ids=["xlsx", "ods"],
)
def test_a_stray_cell_beyond_the_bounds_is_refused_naming_sheet_and_cell(tmp_path, build):
    """Regression: the .xlsx aborted the process (exit 134, no report)."""
    path = build(tmp_path)
    with pytest.raises(InputError) as info:
        read_sources([path], Settings())
    assert str(info.value) == (
        f"{path} [sheet 'Leads'] has a cell at XFD1048576, beyond the limit of 1,000 columns; "
        "delete what lies beyond the data (or save the sheet as CSV) and try again"
    )
    assert info.value.exit_code == ExitCode.BAD_INPUT


def test_rows_beyond_the_bounds_name_the_far_cell_in_every_format(tmp_path):
    limits = Limits(max_rows=1000)
    for path in (
        hostile.xlsx_stray_cell_zz200000(tmp_path),
        DATA / "stray_zz200000.ods",
        DATA / "stray_iv65536.xls",
    ):
        far = "IV65536" if path.suffix == ".xls" else "ZZ200000"
        with pytest.raises(
            InputError, match=rf"has a cell at {far}, beyond the limit of 1,000 rows"
        ):
            read_sources([path], Settings(), limits=limits)


def test_a_grid_too_large_for_its_cells_is_refused_before_it_is_built():
    cells = SheetCells("f.ods [sheet 'S']", "f.ods", Limits(max_grid_cells=1000))
    cells.add(0, 0, "Phone")
    with pytest.raises(InputError, match=r"over 2,000 rows and 1 columns \(2,000 cells, more"):
        cells.add_run(1, 1999, 0, "2135550100")
    cells.add(600, 1, "x")
    with pytest.raises(InputError, match=r"601 rows and 2 columns \(1,202 cells, more than the"):
        cells.build()


def test_cells_met_twice_keep_the_last_and_rows_come_out_in_order():
    cells = SheetCells("f [sheet 'S']", "f", DEFAULT_LIMITS)
    for row, text in [(3, "c"), (1, "a"), (3, "C"), (0, "h")]:
        cells.add(row, 0, text)
    grid, _ = cells.build()
    assert grid.columns[0].to_pylist() == ["h", "a", "", "C"]


def test_xlsx_without_cell_references_is_read_cell_by_cell(tmp_path):
    """Cells without ``r`` follow the one before (and rows without ``r`` the row before): the
    extent scan cannot place them, so the sheet is read cell by cell — the same as calamine."""
    row = "".join(f"<c t='inlineStr'><is><t>{t}</t></is></c>" for t in "ab")
    path = hostile.write_xlsx(tmp_path / "no_refs.xlsx", hostile._sheet([row, row]))
    expected = [("Sheet1", 2, [["a", "a"], ["b", "b"]], {})]
    assert grids(path) == grids(path, CELL_BY_CELL) == expected


def test_a_named_empty_sheet_lists_the_sheets_with_data(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Blank"
    wb.create_sheet("East").append(["Phone"])
    wb.create_sheet("Also blank")
    wb.create_sheet("West")["C3"] = "x"
    path = tmp_path / "book.xlsx"
    wb.save(path)
    with pytest.raises(InputError) as info:
        read_sources([path], Settings())
    assert str(info.value) == (
        f"{path} [sheet 'Blank'] is empty; sheets with data: 'East', 'West' — choose one with "
        "--sheet NAME (or [sync] sheet)"
    )
    with pytest.raises(InputError, match=r"\[sheet 'Also blank'\] is empty; sheets with data"):
        read_sources([path], Settings(sync={"sheet": "also blank"}))


@pytest.mark.parametrize("name", ["empty_first_sheet.ods", "empty_first_sheet.xls"])
def test_an_empty_first_sheet_lists_the_sheets_with_data_in_every_format(name):
    with pytest.raises(InputError) as info:
        read_sources([DATA / name], Settings())
    assert str(info.value) == (
        f"{DATA / name} [sheet 'Blank'] is empty; sheets with data: 'Leads' — choose one with "
        "--sheet NAME (or [sync] sheet)"
    )
    result = read_sources([DATA / name], Settings(sync={"sheet": "Leads"}))
    assert result.leads["number"].tolist() == ["+12135550100"]


def test_extent_scan_never_lets_calamine_see_a_far_cell_written_oddly(tmp_path):
    """A far cell the scan cannot place (attributes in another order, a namespace prefix, a
    lower-case reference) sends the sheet to the cell-by-cell reader, which refuses it."""
    odd = [
        '<c s="0" r="XFD1048576" t="inlineStr"><is><t>x</t></is></c>',
        '<x:c xmlns:x="urn:x" r="XFD1048576" t="inlineStr"><x:is><x:t>x</x:t></x:is></x:c>',
        '<c r="xfd1048576" t="inlineStr"><is><t>x</t></is></c>',
    ]
    for i, cell in enumerate(odd):
        rows = ['<c r="A1" t="inlineStr"><is><t>Phone</t></is></c>', cell]
        path = hostile.write_xlsx(tmp_path / f"odd{i}.xlsx", hostile._sheet(rows))
        with zipfile.ZipFile(path) as zf:
            assert zf.read(hostile.SHEET_PART).count(b"1048576") == 1
        with pytest.raises(InputError, match=r"beyond the limit of 1,000 columns"):
            read_sources([path], Settings())


def test_ods_repeated_rows_and_cells_are_runs_not_copies():
    rows = grids(DATA / "stray_zz200000.ods")
    ((name, height, columns, numeric),) = rows
    assert (name, height, len(columns)) == ("Leads", 200_000, 702)
    assert numeric == {0: list(range(1, 11))}
