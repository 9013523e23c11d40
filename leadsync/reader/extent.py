"""How far the cells of an XLSX sheet reach, measured on its XML before any reader builds a grid.

python-calamine lays a sheet out as one dense block spanning its cells (see :mod:`.workbook`):
one stray cell at ``XFD1048576`` asks for 512 GiB and aborts the process, uncatchably. So the
sheet's XML is streamed here once and the cell references (``<c r="B7"``) bound that block.

The scan is built to cost little on ordinary sheets (rows in order, the same columns in every
row): per block of XML, one regular expression finds only the references *beyond* what was
already seen (a later column, or a row with more digits or a higher first digit than the
block's last row), which on such sheets is none. A cell the scan cannot place for sure (no ``r``,
``r`` not first, a namespace prefix, a reference Excel would not write) makes the answer None:
the caller then reads the sheet cell by cell instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import IO

from .grid import column_letter, column_number

#: XML read (inflated) at a time: memory stays bounded whatever the sheet's size.
SCAN_BLOCK_BYTES = 8 * 1024 * 1024
#: Excel's own bounds: a reference beyond them is not one Excel wrote.
EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_REF = re.compile(rb'<c r="([A-Za-z]+)([0-9]*)"')
#: A cell tag the scan cannot place: no attributes, or ``r`` not the first one (joined to the
#: beyond-pattern of each block: one pass over the XML instead of two).
_ODD_CELL = rb'[>/]| (?!r=")'
#: A cell tag with a namespace prefix (``<x:c``): the scan would miss it, calamine would not.
_PREFIXED_CELL = re.compile(rb":c[\s>/]")
#: References looked at in the first block to learn the sheet's columns (its header rows).
_LEARN_REFS = 4096


@dataclass(frozen=True, slots=True)
class Extent:
    """An upper bound of the block of cells a sheet spans, from A1 (cells without a value
    included: a formatted empty cell counts, which only ever makes the bound larger)."""

    rows: int  # last row number
    columns: int  # last column number (A = 1)

    @property
    def cells(self) -> int:
        return self.rows * self.columns


def _both_cases(low: str, high: str) -> str:
    return f"{low}-{high}{low.lower()}-{high.lower()}"


def _row_cap(row: int) -> int:
    """The largest row the beyond-pattern for ``row`` lets pass: same number of digits, same
    first digit."""
    digits = str(max(row, 1))
    return (int(digits[0]) + 1) * 10 ** (len(digits) - 1) - 1


def _rows_beyond(row: int) -> str:
    """Row numbers above :func:`_row_cap` (``row``): more digits, or a higher first digit."""
    digits = str(max(row, 1))
    more = f"[0-9]{{{len(digits) + 1}}}"
    lead = int(digits[0])
    if lead == 9:
        return more
    tail = f"[0-9]{{{len(digits) - 1}}}" if len(digits) > 1 else ""
    return f'{more}|[{lead + 1}-9]{tail}"'


def _columns_beyond(columns: int) -> str:
    """Column letters after column number ``columns``: more letters, or later ones."""
    letters = column_letter(columns - 1) if columns else ""
    options = [f"[{_both_cases('A', 'Z')}]{{{len(letters) + 1}}}"]
    for i, ch in enumerate(letters):
        if ch == "Z":
            continue
        nxt = _LETTERS[_LETTERS.index(ch) + 1]
        prefix = "".join(f"[{c}{c.lower()}]" for c in letters[:i])
        rest = f"[{_both_cases('A', 'Z')}]{{{len(letters) - i - 1}}}"
        options.append(f"{prefix}[{_both_cases(nxt, 'Z')}]{rest}")
    return "|".join(options)


def _beyond(columns: int, row: int) -> re.Pattern[bytes]:
    """Cell tags the scan cannot place (group 1 empty), and references with a column after
    ``columns`` or a row above ``_row_cap(row)`` (group 1 set)."""
    rows = _rows_beyond(row)
    if 1 <= columns <= len(_LETTERS):  # one letter: decided on the first one or two characters
        letter = _LETTERS[columns - 1]
        later = f"[{_both_cases(_LETTERS[columns], 'Z')}]|" if columns < len(_LETTERS) else ""
        beyond = f"{later}[{_both_cases('A', letter)}](?:[A-Za-z]|{rows})"
    else:
        beyond = f"(?:{_columns_beyond(columns)})|[A-Za-z]{{1,3}}(?:{rows})"
    return re.compile(b'<c(?: r="(' + beyond.encode("ascii") + b")|" + _ODD_CELL + b")")


def scan_sheet(stream: IO[bytes], block_bytes: int = SCAN_BLOCK_BYTES) -> Extent | None:
    """The extent of the sheet XML read from ``stream``, or None when some cell cannot be placed
    from its reference (the sheet must then be read cell by cell)."""
    columns = rows = row_cap = 0
    carry = b""
    while True:
        chunk = stream.read(block_bytes)
        buf = carry + chunk if carry else chunk
        # Scan up to the last tag start: every pattern begins with "<" or sits inside a tag, so
        # no reference is split between two blocks.
        end = buf.rfind(b"<") if chunk else len(buf)
        if chunk and end <= 0:
            carry = buf
            continue
        carry = buf[end:]
        if _PREFIXED_CELL.search(buf, 0, end):
            return None
        refs = _REF.findall(buf, 0, _learn_end(buf, end)) if not columns else []
        last = buf.rfind(b'<c r="', 0, end)
        if last >= 0:
            tail = _REF.match(buf, last, end)
            if tail is None:
                return None
            refs.append(tail.groups())
        for letters, number in refs:
            columns = max(columns, column_number(letters.decode()))
            rows = max(rows, int(number or 0))
        beyond = _beyond(columns, rows)
        row_cap = max(row_cap, _row_cap(rows))
        for m in beyond.finditer(buf, 0, end):
            ref = _REF.match(buf, m.start(), end) if m.group(1) is not None else None
            if ref is None:
                return None
            columns = max(columns, column_number(ref.group(1).decode()))
            rows = max(rows, int(ref.group(2) or 0))
        if columns > EXCEL_COLUMNS or rows > EXCEL_ROWS:
            return None
        if not chunk:
            break
    return Extent(rows=min(max(rows, row_cap), EXCEL_ROWS), columns=columns)


def _learn_end(block: bytes, end: int) -> int:
    """Where the first ``_LEARN_REFS`` references of ``block`` end (about)."""
    at = 0
    for _ in range(_LEARN_REFS):
        at = block.find(b'<c r="', at + 1, end)
        if at < 0:
            return end
    return at
