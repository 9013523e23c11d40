"""One XLSX sheet read cell by cell (expat, streaming), for sheets python-calamine must not lay
out (:mod:`.workbook`): each cell with a value goes to :class:`.cells.SheetCells`, so memory and
time follow the cells present. Values become text as python-calamine would give them (shared
and inline strings, booleans, numbers, and the dates and durations their number formats show),
so a sheet reads the same either way.

No library does this well: openpyxl's read-only mode pads every row to its last cell and is
several times slower per cell than expat callbacks (bench/RESULTS.md).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile

from ..errors import InputError
from .cells import SheetCells, cell_text
from .grid import column_number
from .xlsxparts import NO_STYLES, Styles
from .xmlstream import feed, xml_parser

_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")
_EPOCH_1900 = dt.datetime(1899, 12, 30)  # serial 61 and later (Excel counts a 29 Feb 1900)
_EPOCH_1900_EARLY = dt.datetime(1899, 12, 31)  # serials before 60
_EPOCH_1904 = dt.datetime(1904, 1, 1)
_MS_PER_DAY = 86_400_000
#: Excel's fictitious 29 February 1900.
_LEAP_BUG_SERIAL = 60


def read_shared_strings(zf: zipfile.ZipFile, part: str | None) -> list[str]:
    """The shared strings of the workbook, in order (rich text runs joined, phonetic runs
    left out)."""
    if part is None or part not in zf.namelist():
        return []
    reader = _SheetReader(None, [], NO_STYLES, date1904=False)  # it meets <si>, never <c>
    with zf.open(part) as fh:
        feed(xml_parser(reader.start, reader.end, reader.text), fh)
    return reader.strings


def _excel_date(value: float, date1904: bool) -> dt.date | dt.datetime | dt.time:
    """A date serial as python-calamine gives it: a time below one day, a date on midnight,
    else a date and time (to the millisecond)."""
    if date1904:
        epoch = _EPOCH_1904
    else:
        epoch = _EPOCH_1900 if value >= _LEAP_BUG_SERIAL else _EPOCH_1900_EARLY
    moment = epoch + dt.timedelta(milliseconds=round(value * _MS_PER_DAY))
    if 0 <= value < 1:
        return moment.time()
    if moment.time() == dt.time():
        return moment.date()
    return moment


class _SheetReader:
    """expat handlers turning ``<c>`` elements into cells of a :class:`SheetCells` (and the
    ``<si>`` elements of the shared strings part into ``strings``)."""

    def __init__(
        self, cells: SheetCells | None, strings: list[str], styles: Styles, date1904: bool
    ) -> None:
        self.cells = cells
        self.strings = strings
        self.styles = styles
        self.date1904 = date1904
        self.row = 0  # 1-based, as in the XML
        self.col = 0
        self.kind: str | None = None
        self.style = 0
        self.texts: list[str] = []
        self.capture = False
        self.phonetic = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            ref = attrs.get("r")
            match = _REF.fullmatch(ref) if ref else None
            if match:
                self.col = column_number(match.group(1))
                self.row = int(match.group(2))
            elif ref:
                raise ValueError(f"cell reference {ref!r}")
            else:
                self.col += 1
            self.kind = attrs.get("t")
            style = attrs.get("s")
            self.style = int(style) if style else 0
            self.texts = []
        elif local == "v" or (local == "t" and not self.phonetic):
            self.capture = True
        elif local == "row":
            r = attrs.get("r")
            self.row = int(r) if r else self.row + 1
            self.col = 0
        elif local == "rPh":
            self.phonetic += 1
        elif local == "si":
            self.texts = []

    def end(self, name: str) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            self._cell()
        elif local in ("v", "t"):
            self.capture = False
        elif local == "rPh":
            self.phonetic -= 1
        elif local == "si":
            self.strings.append("".join(self.texts))

    def text(self, data: str) -> None:
        if self.capture:
            self.texts.append(data)

    def _cell(self) -> None:
        raw = "".join(self.texts)
        kind = self.kind
        number = False
        if kind == "s":
            if not raw:
                return
            text = self.strings[int(raw)]
        elif kind == "b":
            text = "TRUE" if raw.strip() in ("1", "true") else "FALSE" if raw else ""
        elif kind == "e":
            return  # an error (#DIV/0!): python-calamine gives an empty cell
        elif kind in ("inlineStr", "str", "d"):
            text = raw
        else:  # a number
            if not raw:
                return
            value = float(raw)
            if self.style in self.styles.durations:
                text = cell_text(dt.timedelta(milliseconds=round(value * _MS_PER_DAY)))
            elif self.style in self.styles.dates:
                text = cell_text(_excel_date(value, self.date1904))
            else:
                text, number = cell_text(value), True
        if text and self.cells is not None:
            self.cells.add(self.row - 1, self.col - 1, text, number)


def read_sheet(
    zf: zipfile.ZipFile,
    part: str,
    cells: SheetCells,
    *,
    strings: list[str],
    styles: Styles,
    date1904: bool,
) -> None:
    """Every cell with a value of the sheet at ``part`` into ``cells`` (InputError, from
    ``cells``, at the first cell beyond the limits; other errors propagate: the caller calls
    the workbook corrupt)."""
    reader = _SheetReader(cells, strings, styles, date1904)
    try:
        with zf.open(part) as fh:
            feed(xml_parser(reader.start, reader.end, reader.text), fh)
    except InputError:
        raise
    except (IndexError, OverflowError) as err:
        raise ValueError(f"cell {reader.col}:{reader.row}: {err}") from None
