"""The reader's fast paths equal their exact counterparts: Arrow's CSV reader vs pandas' C
parser / the csv module, bulk XLSX number formatting vs the per-cell formatter, integer-keyed
duplicates vs a plain dictionary of (campaign, number)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.config import Settings
from leadsync.errors import InputError
from leadsync.reader import read_sources
from leadsync.reader.cells import cell_text, column_text
from leadsync.reader.dedupe import find_duplicates
from leadsync.reader.limits import DEFAULT_LIMITS
from leadsync.reader.textfile import _read_arrow, _read_exact, _title_lines, read_text_table
from leadsync.reader.xlsxparts import scientific_cells

DATA = Path(__file__).resolve().parents[1] / "data"

# --- CSV: Arrow's reader ≡ the exact readers --------------------------------------------------
#: Pieces CSV text is made of: cells, quotes (balanced or not), delimiters, every line ending.
csv_piece = st.sampled_from(
    ["a", "b c", "12", "", " ", '"', '""', '"x"', '"y,z"', '"p\nq"', ",", ",", ";", "\t",
     "\n", "\n", "\r\n", "\r", "\n\n", "é", "x\"y"]
)  # fmt: skip


def exact(text: bytes, delimiter: str, width: int):
    try:
        grid = _read_exact("f.csv", text, delimiter, width, DEFAULT_LIMITS)
    except InputError:
        return "refused"
    return [c.to_pylist() for c in grid.columns]


@settings(max_examples=400, deadline=None)
@given(st.lists(csv_piece, max_size=40), st.sampled_from([",", ";", "\t"]), st.integers(1, 4))
def test_arrow_csv_reader_equals_the_exact_readers_whenever_it_answers(pieces, delimiter, width):
    text = "".join(pieces).encode()
    grid = _read_arrow(text, delimiter, width)
    if grid is None:
        return  # the exact readers take the file
    assert [c.to_pylist() for c in grid.columns] == exact(text, delimiter, width)


field = st.one_of(
    st.text(alphabet='ab 1é"', max_size=5),
    st.text(alphabet='ab ,;\t\n\r1"', max_size=6).map(lambda t: '"' + t.replace('"', '""') + '"'),
)


@st.composite
def regular_csv(draw):
    """Records of one width (so Arrow answers), any field content, any line ending, blank
    lines, and sometimes a last line without its ending."""
    width = draw(st.integers(1, 4))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.integers(0, 9)) == 0:
            lines.append("")
        else:
            lines.append(delimiter.join(draw(field) for _ in range(width)))
    endings = [draw(st.sampled_from(["\n", "\r\n", "\r"])) for _ in lines]
    text = "".join(line + end for line, end in zip(lines, endings, strict=True))
    if lines and draw(st.booleans()):
        text = text[: -len(endings[-1])]
    return text.encode(), delimiter, width


@settings(max_examples=300, deadline=None)
@given(regular_csv())
def test_arrow_csv_reader_equals_the_exact_readers_on_regular_files(case):
    text, delimiter, width = case
    grid = _read_arrow(text, delimiter, width)
    if grid is None:
        return  # e.g. a field with a delimiter left unquoted by the generator
    assert [c.to_pylist() for c in grid.columns] == exact(text, delimiter, width)


title_line = st.text(alphabet="ab 1é,;", max_size=8)


@settings(max_examples=300, deadline=None)
@given(regular_csv(), st.lists(title_line, max_size=3), st.sampled_from(["\n", "\r\n", "\r"]))
def test_title_lines_skipped_by_arrow_are_the_exact_readers_rows(case, titles, end):
    text, _, _ = case
    data = "".join(t + end for t in titles).encode() + text
    table = read_text_table("t.csv", data, encoding=None, limits=DEFAULT_LIMITS)
    grid = [c.to_pylist() for c in table.cells.columns]
    assert grid == exact(data, table.delimiter, table.cells.width)


def test_a_title_row_keeps_the_fast_reader():
    data = b"Leads export\n\nPhone,Name\n2135550100,Ann\n"
    titles = _title_lines(data.decode(), ",", 2)
    assert titles == [["Leads export"], []]
    grid = _read_arrow(data, ",", 2, titles)
    assert grid is not None
    assert [c.to_pylist() for c in grid.columns] == exact(data, ",", 2)
    assert _title_lines('"Leads"\nPhone,Name\n1,2\n', ",", 2) is None  # quoted: not skipped


def test_arrow_reader_answers_for_a_plain_file_and_declines_ragged_or_open_quotes():
    plain = b'phone,note\n2135550100,"a, b"\n\n2135550101,"two\nlines"\r\n'
    grid = _read_arrow(plain, ",", 2)
    assert grid is not None and grid.height == 4
    assert grid.columns[1].to_pylist() == ["note", "a, b", "", "two\nlines"]
    assert [c.to_pylist() for c in grid.columns] == exact(plain, ",", 2)
    assert _read_arrow(b"phone,note\n2135550100\n", ",", 2) is None  # short record


def test_a_quote_left_open_takes_the_rest_of_the_file_as_before():
    data = b'phone,note\n2135550100,"never closed\n2135550101,x\n'
    table = read_text_table("open.csv", data, encoding=None, limits=DEFAULT_LIMITS)
    assert [c.to_pylist() for c in table.cells.columns] == exact(data, ",", 2)
    assert table.cells.columns[1].to_pylist() == ["note", "never closed\n2135550101,x\n"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_text_table_is_the_same_grid_in_every_encoding(encoding):
    text = 'Phone;Name\r\n2135550100;"Renée; Müller"\r\n\r\n2135550101;€\r\n'
    table = read_text_table("enc.csv", text.encode(encoding), encoding=None, limits=DEFAULT_LIMITS)
    assert table.delimiter == ";"
    assert [c.to_pylist() for c in table.cells.columns] == [
        ["Phone", "2135550100", "", "2135550101"],
        ["Name", "Renée; Müller", "", "€"],
    ]


# --- XLSX: bulk number formatting ≡ the per-cell formatter ------------------------------------
cell_value = st.one_of(
    st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
    st.sampled_from([2135550102.0, 447701234567.0, 2.0**53, -0.0, 2135550104.5]),
    st.just(dt.datetime(2024, 5, 1, 9, 30)),
    st.just(dt.date(2024, 5, 1)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(cell_value, min_size=1, max_size=30))
def test_bulk_cell_text_equals_the_per_cell_formatter(values):
    text, is_num = column_text(values)
    assert text.to_pylist() == [cell_text(v) for v in values]
    assert is_num.tolist() == [type(v) in (int, float) for v in values]


def test_scientific_styles_are_found_without_openpyxl():
    data = (DATA / "excel_damage.xlsx").read_bytes()
    found = scientific_cells("d.xlsx", data, "Damage", 0, np.arange(1, 7))
    assert found.tolist() == [2]  # A3, a number cell formatted 0.00E+00


def test_a_workbook_without_scientific_styles_is_not_read_again(tmp_path):
    """No cell style shows an exponent: the answer comes from styles.xml alone (the sheet part
    is deliberately missing, so reading it would fail)."""
    out = io.BytesIO()
    with zipfile.ZipFile(DATA / "excel_damage.xlsx") as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/styles.xml":
                data = data.replace(b'formatCode="0.00E+00"', b'formatCode="0.00"')
            if not item.filename.startswith("xl/worksheets/"):
                dst.writestr(item, data)
    assert scientific_cells("d.xlsx", out.getvalue(), "Damage", 0, np.arange(1, 7)).size == 0


# --- duplicates: integer keys ≡ a dictionary of (campaign, number) ----------------------------
def reference_twins(numbers, campaigns, rejected, policy):
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(zip(campaigns, numbers, strict=True)):
        if not rejected[i]:
            groups.setdefault(key, []).append(i)
    twin = [-1] * len(numbers)
    for rows in groups.values():
        if len(rows) < 2:
            continue
        if policy == "first":
            for r in rows[1:]:
                twin[r] = rows[0]
        elif policy == "last":
            for r in rows[:-1]:
                twin[r] = rows[-1]
        else:
            for r in rows:
                twin[r] = rows[1] if r == rows[0] else rows[0]
    return twin


number = st.sampled_from(
    ["+12135550100", "+12135550101", "+442079460958", "+1213555010", "+" + "9" * 20, None]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(number, st.sampled_from(["A", "B", None]), st.booleans()), max_size=25),
    st.sampled_from(["first", "last", "reject"]),
)
def test_integer_keyed_duplicates_equal_a_dictionary(rows, policy):
    numbers = [n for n, _, _ in rows]
    campaigns = [c for _, c, _ in rows]
    rejected = np.array([r or n is None for n, _, r in rows], dtype=bool)
    twin, _ = find_duplicates(
        pa.array(numbers, type=pa.large_string()),
        pa.array(campaigns, type=pa.large_string()),
        rejected,
        policy,
    )
    assert twin.tolist() == reference_twins(numbers, campaigns, rejected, policy)


def test_a_messy_file_read_by_the_fast_path_keeps_row_numbers(tmp_path):
    f = tmp_path / "messy.csv"
    f.write_bytes(
        b"Leads export,,\r\n,,\r\nPhone,Name,Priority\r\n213.555.0100,Ann,1\r\n\r\n"
        b'(213) 555-0101,"Bob, Jr",2\r\n+44 20 7946 0958,Cy,high\r\n'
    )
    r = read_sources([f], Settings())
    assert r.sources[0].header_row == 3
    assert r.leads["number"].tolist() == ["+12135550100", "+12135550101"]
    assert r.leads["row"].tolist() == [4, 6]
    assert [(i.row, i.codes) for i in r.issues] == [(7, ("priority-not-integer",))]
