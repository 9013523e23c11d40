"""How far the cells of an .xls workbook reach, read from its BIFF records before python-calamine
opens it (and lays every sheet out densely, see :mod:`.workbook`).

A BIFF cell record keeps its column in 16 bits: a 6 KB file with one cell at column 60,000
asks calamine for 125 GB and aborts the process. So the workbook stream is walked here first
(olefile opens the OLE2 container; records are 4-byte headers and bodies); the walk also finds
Excel's password record (FILEPASS), so a protected file is named as such.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import olefile

#: Excel's grid in the .xls format.
XLS_ROWS = 65_536
XLS_COLUMNS = 256
_HEAD = struct.Struct("<HH")  # record number, body length
_ROW_COL = struct.Struct("<HH")  # the first 4 bytes of a cell record
_BOF, _EOF, _BOUNDSHEET, _FILEPASS = 0x0809, 0x000A, 0x0085, 0x002F
#: Records of one cell: FORMULA, LABELSST, RSTRING, BLANK, NUMBER, LABEL, BOOLERR, RK.
_CELL = frozenset({0x0006, 0x00FD, 0x00D6, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E})
#: Records of a run of cells in one row (MULRK, MULBLANK): the last column is in the last two
#: bytes of the body.
_CELL_RUN = frozenset({0x00BD, 0x00BE})


@dataclass(frozen=True, slots=True)
class XlsCells:
    """What the walk found: whether the stream is encrypted, and per sheet (name, in workbook
    order) its last row and column with a cell record (0-based, -1 when none)."""

    encrypted: bool
    far: dict[str, tuple[int, int]]


def _stream(data: bytes) -> bytes:
    """The workbook stream of an OLE2 .xls file (BIFF8 "Workbook", BIFF5 "Book")."""
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        for name in ("Workbook", "Book"):
            if ole.exists(name):
                return bytes(ole.openstream(name).read())
    raise ValueError("no workbook stream in the OLE2 container")


def _sheet_name(body: bytes) -> tuple[int, str]:
    """The stream offset and name a BOUNDSHEET record gives a sheet."""
    offset = int.from_bytes(body[:4], "little")
    count = body[6]
    if len(body) >= 8 + count and body[7] in (0, 1):  # BIFF8: a flags byte, then the text
        wide = body[7] & 1
        raw = body[8 : 8 + count * (2 if wide else 1)]
        return offset, raw.decode("utf-16-le" if wide else "latin-1", errors="replace")
    return offset, body[7 : 7 + count].decode("cp1252", errors="replace")  # BIFF5


def walk(data: bytes) -> XlsCells:
    """The cells an .xls file reaches. Raises ValueError (or olefile's errors) when the file is
    not an OLE2 container with a workbook stream."""
    stream = _stream(data)
    names: dict[int, str] = {}
    far: dict[str, tuple[int, int]] = {}
    sheet: str | None = None
    pos, end = 0, len(stream)
    while pos + 4 <= end:
        number, size = _HEAD.unpack_from(stream, pos)
        body = pos + 4
        if number in _CELL or number in _CELL_RUN:
            if sheet is not None and size >= 4:
                row, col = _ROW_COL.unpack_from(stream, body)
                if number in _CELL_RUN and size >= 6:
                    col = int.from_bytes(stream[body + size - 2 : body + size], "little")
                top, right = far[sheet]
                if row > top or col > right:
                    far[sheet] = (max(row, top), max(col, right))
        elif number == _BOF:
            sheet = names.get(pos)
            if sheet is not None:
                far.setdefault(sheet, (-1, -1))
        elif number == _BOUNDSHEET and size >= 8:
            offset, name = _sheet_name(stream[body : body + size])
            names[offset] = name
        elif number == _FILEPASS and sheet is None:
            return XlsCells(encrypted=True, far={})
        elif number == _EOF:
            sheet = None
        pos = body + size
    return XlsCells(encrypted=False, far=far)
