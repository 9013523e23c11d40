"""The XLSX extent scan: an upper bound of the block python-calamine would lay out, whatever the
order of the cells and wherever the XML is cut into blocks; None for any cell it cannot place."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsync.reader.extent import EXCEL_COLUMNS, EXCEL_ROWS, scan_sheet
from leadsync.reader.grid import column_letter

HEAD = '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
TAIL = "</sheetData></worksheet>"


def sheet(cells: list[tuple[int, int]], *, cell: str = '<c r="{ref}"><v>1</v></c>') -> bytes:
    """Sheet XML with one row element per cell (1-based column, row), in the order given."""
    body = "".join(
        f'<row r="{row}">' + cell.format(ref=f"{column_letter(col - 1)}{row}") + "</row>"
        for col, row in cells
    )
    return (HEAD + body + TAIL).encode()


def scan(xml: bytes, block: int = 1 << 20):
    return scan_sheet(io.BytesIO(xml), block_bytes=block)


positions = st.tuples(st.integers(1, EXCEL_COLUMNS), st.integers(1, EXCEL_ROWS))


@settings(max_examples=150, deadline=None)
@given(st.lists(positions, min_size=1, max_size=60), st.integers(16, 400))
def test_the_extent_bounds_every_cell_in_any_order_and_any_cut(cells, block):
    extent = scan(sheet(cells), block)
    assert extent is not None
    assert extent.columns == max(c for c, _ in cells)  # columns: exact
    top = max(r for _, r in cells)
    assert top <= extent.rows <= max(2 * top, 9)  # rows: at most twice (first digit + 1)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 30), st.integers(1, 150), st.integers(64, 4096))
def test_an_ordinary_sheet_gives_its_own_size(width, height, block):
    cells = [(c, r) for r in range(1, height + 1) for c in range(1, width + 1)]
    extent = scan(sheet(cells), block)
    assert extent is not None
    assert (extent.columns, height <= extent.rows <= 2 * height) == (width, True)


def test_a_stray_cell_in_the_middle_of_ordered_rows_is_found():
    cells = [(1, r) for r in range(1, 2000)]
    cells[1000:1000] = [(702, 200_000)]
    extent = scan(sheet(cells), block=4096)
    assert extent is not None and (extent.columns, extent.rows) == (702, 299_999)


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ('<c s="1" r="{ref}"><v>1</v></c>', "r not first"),
        ("<c><v>1</v></c>", "no reference"),
        ('<x:c r="{ref}"><x:v>1</x:v></x:c>', "a namespace prefix"),
        ('<c r="{ref}1"><v>1</v></c>', "a row past Excel's last"),
    ],
)
def test_a_cell_the_scan_cannot_place_makes_it_give_up(cell, why):
    assert scan(sheet([(1, 1), (2, 999_999)], cell=cell)) is None, why


def test_lower_case_references_count():
    xml = sheet([(1, 1)]).replace(b"</sheetData>", b'<row r="9"><c r="zz9"><v>1</v></c></row>'
                                  b"</sheetData>")  # fmt: skip
    extent = scan(xml)
    assert extent is not None and extent.columns == 702


def test_an_empty_sheet_has_no_extent_to_speak_of():
    extent = scan((HEAD + TAIL).encode())
    assert extent is not None and extent.columns == 0
