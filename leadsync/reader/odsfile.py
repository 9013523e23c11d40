"""OpenDocument spreadsheets (.ods) read cell by cell (expat, streaming).

python-calamine lays out every sheet of an .ods file densely as it opens it (:mod:`.workbook`),
so content.xml is streamed here once and each cell with a value goes to
:class:`.cells.SheetCells` (a repeated row or cell as a run, never expanded one by one).
Values become text as python-calamine gives them. A password-protected .ods says so in its
manifest (:func:`is_encrypted`).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

from .cells import SheetCells, cell_text
from .xmlstream import feed, xml_parser

_CONTENT = "content.xml"
_MANIFEST = "META-INF/manifest.xml"
#: An ODF duration as LibreOffice writes times: PT10H30M00S (seconds may have a fraction).
_DURATION = re.compile(r"PT(\d+)H(\d+)M(\d+(?:\.\d+)?)S")
_HOURS_PER_DAY = 24
#: Elements whose text is not the cell's value (comments, notes).
_SKIPPED = frozenset({"annotation", "note"})


def is_encrypted(zf: zipfile.ZipFile) -> bool:
    """Whether the manifest says the package's parts are encrypted (a password)."""
    if _MANIFEST not in zf.namelist():
        return False
    with zf.open(_MANIFEST) as fh:
        return b"encryption-data" in fh.read()


def _time_value(text: str) -> str:
    """``PT10H30M00S`` as python-calamine gives it: a time of day below 24 hours, else the
    duration as written."""
    match = _DURATION.fullmatch(text)
    if not match or int(match.group(1)) >= _HOURS_PER_DAY:
        return text
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), float(match.group(3))
    whole = int(seconds)
    return cell_text(dt.time(hours, minutes, whole, round((seconds - whole) * 1_000_000)))


def _date_value(text: str) -> str:
    """``2026-03-01`` or ``2026-03-01T10:30:05`` as python-calamine gives it."""
    try:
        if "T" in text:
            return cell_text(dt.datetime.fromisoformat(text))
        return cell_text(dt.date.fromisoformat(text))
    except ValueError:
        return text


@dataclass
class _Cell:
    """The cell being read: its value attributes and text."""

    attrs: dict[str, str] = field(default_factory=dict)
    paragraphs: list[list[str]] = field(default_factory=list)
    columns: int = 1


class _ContentReader:
    """expat handlers for content.xml: sheet names in order, and the cells of the sheets
    ``wanted`` says yes to."""

    def __init__(self, wanted: Callable[[str], bool], new_cells: Callable[[str], SheetCells]):
        self.wanted = wanted
        self.new_cells = new_cells
        self.names: list[str] = []
        self.sheets: dict[str, SheetCells] = {}
        self.filled: set[str] = set()  # sheets with a cell that holds a value
        self.target: SheetCells | None = None
        self.depth = 0  # tables nested in tables are read as part of their cell's text
        self.row = 0
        self.row_repeat = 1
        self.col = 0
        self.cell: _Cell | None = None
        self.skipping = 0
        self.paragraph: list[str] | None = None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if self.skipping:
            self.skipping += 1
            return
        if self.cell is not None:
            self._inside_cell(local, attrs)
            return
        if local == "table":
            self.depth += 1
            if self.depth == 1:
                sheet = attrs.get("table:name", f"Sheet{len(self.names) + 1}")
                self.names.append(sheet)
                self.target = None
                if self.wanted(sheet):
                    self.target = self.sheets[sheet] = self.new_cells(sheet)
                self.row = 0
        elif local == "table-row" and self.depth == 1:
            self.row_repeat = int(attrs.get("table:number-rows-repeated", "1"))
            self.col = 0
        elif local in ("table-cell", "covered-table-cell") and self.depth == 1:
            repeat = int(attrs.get("table:number-columns-repeated", "1"))
            self.cell = _Cell(attrs=attrs, columns=repeat)

    def _inside_cell(self, local: str, attrs: dict[str, str]) -> None:
        cell = self.cell
        assert cell is not None
        if local in _SKIPPED:
            self.skipping = 1
        elif local == "p" or local == "h":
            self.paragraph = []
            cell.paragraphs.append(self.paragraph)
        elif self.paragraph is not None:
            if local == "s":
                self.paragraph.append(" " * int(attrs.get("text:c", "1")))
            elif local == "tab":
                self.paragraph.append("\t")
            elif local == "line-break":
                self.paragraph.append("\n")

    def end(self, name: str) -> None:
        if self.skipping:
            self.skipping -= 1
            return
        local = name.rpartition(":")[2]
        if self.cell is not None:
            if local in ("table-cell", "covered-table-cell"):
                self._cell_done(self.cell)
                self.cell = None
            elif local in ("p", "h"):
                self.paragraph = None
            return
        if local == "table":
            self.depth -= 1
        elif local == "table-row" and self.depth == 1:
            self.row += self.row_repeat

    def text(self, data: str) -> None:
        if self.paragraph is not None and not self.skipping:
            self.paragraph.append(data)

    def _cell_done(self, cell: _Cell) -> None:
        col, self.col = self.col, self.col + cell.columns
        if self.names[-1] in self.filled and self.target is None:
            return
        text, number = self._value(cell)
        if not text:
            return
        self.filled.add(self.names[-1])
        target = self.target
        if target is None:
            return
        target.check(self.row + self.row_repeat - 1, col + cell.columns - 1)
        for c in range(col, col + cell.columns):
            target.add_run(self.row, self.row_repeat, c, text, number)

    @staticmethod
    def _value(cell: _Cell) -> tuple[str, bool]:
        attrs = cell.attrs
        kind = attrs.get("office:value-type")
        if kind in ("float", "percentage", "currency"):
            return cell_text(float(attrs.get("office:value", "nan"))), True
        if kind == "date":
            return _date_value(attrs.get("office:date-value", "")), False
        if kind == "time":
            return _time_value(attrs.get("office:time-value", "")), False
        if kind == "boolean":
            return cell_text(attrs.get("office:boolean-value") == "true"), False
        if "office:string-value" in attrs:
            return attrs["office:string-value"], False
        return "\n".join("".join(p) for p in cell.paragraphs), False


def read_ods(
    zf: zipfile.ZipFile, wanted: Callable[[str], bool], new_cells: Callable[[str], SheetCells]
) -> tuple[list[str], dict[str, SheetCells], set[str]]:
    """The sheet names of the workbook in order, the cells of the sheets ``wanted`` says yes to
    (``new_cells(name)`` makes the store of each), and the names of the sheets with a value.
    InputError from a store at the first cell beyond the limits; other errors propagate (the
    caller calls the file corrupt)."""
    reader = _ContentReader(wanted, new_cells)
    with zf.open(_CONTENT) as fh:
        feed(xml_parser(reader.start, reader.end, reader.text), fh)
    return reader.names, reader.sheets, reader.filled
