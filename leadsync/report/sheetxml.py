"""The data rows of report.xlsx's table sheets, as SpreadsheetML built with Arrow string
kernels and streamed into the workbook's zip (no Python object per cell).

openpyxl writes the workbook skeleton (styles, frozen header, autofilter, the Summary sheet);
:func:`fill_sheets` copies that file and inserts each table's ``<row>`` elements after its
header row. Why not a library for the rows too: the pure-Python writers are an order of
magnitude slower, and the Rust-backed ones refuse our tables as they are (a missing number, a
cell over Excel's limit) and cannot lay out the Summary sheet (``bench/bench_report.py``).
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.utils import get_column_letter

from .rows import one_chunk

#: Excel's limit on the characters of one cell.
XLSX_MAX_CELL_CHARS = 32_767
#: Data rows turned into XML per vectorized batch: bounds the memory of huge sheets (measured
#: by bench/bench_report.py; smaller batches cost no time, larger ones only memory).
ROWS_PER_BATCH = 20_000

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
# Characters XML 1.0 forbids (RE2 syntax; NUL is removed separately).
_ILLEGAL_XML = "[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_EXCEL_ESCAPE = r"_(x[0-9A-Fa-f]{4})_"  # Excel reads _xHHHH_ as a character: keep it literal
_TEXT = pa.large_string()
_XML_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))


def _join(*parts: str | pa.Array) -> pa.Array:
    """Element-wise concatenation of arrays and constant strings (null if any part is null)."""
    args = [pa.scalar(p, _TEXT) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, pa.scalar("", _TEXT))


def _as_text(values: pa.Array) -> pa.Array:
    return values if values.type == _TEXT else values.cast(_TEXT)


def _xml_text(values: pa.Array) -> pa.Array:
    """Text made safe for an XML element: cut to Excel's cell limit, characters XML forbids
    removed, Excel's ``_xHHHH_`` escape kept literal, ``& < >`` and CR as entities."""
    text = pc.utf8_slice_codeunits(_as_text(values), 0, XLSX_MAX_CELL_CHARS)
    text = pc.replace_substring(text, "\x00", "")
    text = pc.replace_substring_regex(text, _ILLEGAL_XML, "")
    text = pc.replace_substring_regex(text, _EXCEL_ESCAPE, r"_x005F_\1_")
    for char, entity in _XML_ENTITIES:
        text = pc.replace_substring(text, char, entity)
    return text


def _cells_xml(values: pa.Array, ref: str, row_numbers: pa.Array) -> pa.Array:
    """The ``<c>`` element of each value (empty text for a missing or blank value)."""
    head = f'<c r="{ref}'
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        if pa.types.is_floating(kind):  # NaN and ±inf are no Excel numbers: empty cells
            values = pc.if_else(pc.is_finite(values), values, pa.scalar(None, kind))
        cells = _join(head, row_numbers, '" t="n"><v>', _as_text(values), "</v></c>")
    elif pa.types.is_boolean(kind):
        bits = pc.if_else(values, pa.scalar("1", _TEXT), pa.scalar("0", _TEXT))
        cells = _join(head, row_numbers, '" t="b"><v>', bits, "</v></c>")
    else:
        text = _xml_text(values)
        cells = _join(
            head, row_numbers, '" t="inlineStr"><is><t xml:space="preserve">', text, "</t></is></c>"
        )
        cells = pc.if_else(pc.equal(text, ""), pa.scalar("", _TEXT), cells)
    return pc.fill_null(cells, pa.scalar("", _TEXT))


def rows_xml(table: pa.Table, first_row: int) -> Iterator[tuple[int, bytes]]:
    """``(rows, xml)`` per batch: the ``<row>`` elements of ``table``'s rows, numbered from
    ``first_row``. Built one column at a time; each batch's rows come out as one contiguous
    buffer of the result array."""
    letters = [get_column_letter(i + 1) for i in range(table.num_columns)]
    for start in range(0, table.num_rows, ROWS_PER_BATCH):
        part = table.slice(start, ROWS_PER_BATCH)
        first = first_row + start
        row_numbers = pc.cast(pa.array(np.arange(first, first + part.num_rows)), _TEXT)
        cells = [
            _cells_xml(one_chunk(part.column(i)), letter, row_numbers)
            for i, letter in enumerate(letters)
        ]
        rows = one_chunk(_join('<row r="', row_numbers, '">', *cells, "</row>"))
        offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)
        begin, end = offsets[rows.offset], offsets[rows.offset + len(rows)]
        yield part.num_rows, bytes(memoryview(rows.buffers()[2])[begin:end])


def _sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> the member holding its XML, read from the workbook's relationships."""
    book = ET.fromstring(archive.read("xl/workbook.xml"))
    rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("rel:Relationship", _NS)}
    out = {}
    for sheet in book.findall("m:sheets/m:sheet", _NS):
        target = targets[sheet.get(f"{{{_NS['r']}}}id")]
        out[sheet.get("name", "")] = (
            target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        )
    return out


def fill_sheets(
    skeleton: Path,
    target: Path,
    tables: dict[str, pa.Table],
    tick: Callable[[int], None] | None = None,
) -> None:
    """Copy the workbook ``skeleton`` to ``target``, streaming each table's rows into the
    sheet of that title right after its header row; ``tick(rows)`` after each batch."""
    with (
        zipfile.ZipFile(skeleton) as src,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst,
    ):
        members = {v: k for k, v in _sheet_paths(src).items() if k in tables}
        for info in src.infolist():
            title = members.get(info.filename)
            if title is None:
                with src.open(info) as fin, dst.open(info.filename, "w") as fout:
                    shutil.copyfileobj(fin, fout)
                continue
            xml = src.read(info).decode("utf-8")
            head, sep, tail = xml.partition("</sheetData>")
            if not sep:
                raise RuntimeError(f"sheet {title}: no sheetData in {info.filename}")
            with dst.open(info.filename, "w", force_zip64=True) as fout:
                fout.write(head.encode("utf-8"))
                for n, chunk in rows_xml(tables[title], first_row=2):
                    fout.write(chunk)
                    if tick is not None:
                        tick(n)
                fout.write((sep + tail).encode("utf-8"))
