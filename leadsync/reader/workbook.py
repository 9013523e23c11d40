"""Workbooks (XLSX/XLSM, XLS, ODS) → one text grid per selected sheet, in bounded memory.

python-calamine reads a sheet as one dense block from its first to its last cell (32 bytes a
cell, empty or not): fast for the usual sheet, fatal for a 5 KB file with cells at A1 and
XFD1048576 (a 512 GiB request that aborts the process). So each format is read thus:

- XLSX: the selected sheet's XML is scanned first (:mod:`.extent`) for how far its cells reach.
  A sheet spanning a modest block goes to python-calamine (converted in bulk, or in blocks of
  rows when large); one whose cells lie far apart is read cell by cell (:mod:`.xlsxsheet`).
- XLS: python-calamine (the format holds at most 65,536 × 256 cells), in blocks of rows when
  large, columns without a cell sharing one empty column.
- ODS: cell by cell (:mod:`.odsfile`): python-calamine reads every sheet densely on opening.

Before any of it, :func:`check_container` refuses empty files, password-protected workbooks of
every format, formats too old to read, and ZIP bombs (member count, expanded size, ratio).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import python_calamine as calamine

from ..errors import InputError
from .arrowtext import buffers, from_parts
from .cells import Numeric, SheetCells, beyond_limits, dense_grid, lay_out
from .extent import Extent, scan_sheet
from .grid import Grid, check_cells
from .limits import Limits
from .odsfile import is_encrypted, read_ods
from .xlsxparts import read_styles, scientific_cells, workbook_parts
from .xlsxsheet import read_shared_strings, read_sheet

__all__ = ["ALL_SHEETS", "SheetGrid", "check_container", "read_workbook", "scientific_cells"]

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: The stream an encrypted OOXML file keeps its (encrypted) workbook in, as stored in OLE2.
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
#: The first record of a bare BIFF stream (no OLE2 container) → the Excel version it is from.
_OLD_BIFF = {
    b"\x09\x00": "Excel 2.x",
    b"\x09\x02": "Excel 3.0",
    b"\x09\x04": "Excel 4.0",
    b"\x09\x08": "Excel 5.0",
}
#: BIFF record numbers: the beginning of a stream, and the record saying it is encrypted.
_BIFF_BOF = b"\x09\x08"
_BIFF_FILEPASS = b"\x2f\x00"
ALL_SHEETS = "*"
_PASSWORD = (
    "it is password-protected: open it, remove the password (Excel: File › Info › Protect "
    "Workbook; LibreOffice: File › Properties › Security) and save it again"
)
#: ``<c r="A1"><v>1</v></c>`` is 22 bytes: a sheet's XML bounds how many cells it holds.
_MIN_CELL_XML_BYTES = 20
#: A block python-calamine lays out must be at least this filled (cells present / spanned).
_MIN_FILL = 0.25
#: Cells converted at a time when a calamine block is converted row block by row block.
_CHUNK_CELLS = 1_000_000


@dataclass(frozen=True, slots=True)
class SheetGrid:
    """One sheet's grid of cells as text, and which cells were numbers."""

    name: str
    cells: Grid  # text, "" for empty; row i is Excel row i + 1
    numeric: Numeric  # column position -> bool per row: the cell was a number


def _corrupt(path: str, detail: str) -> InputError:
    return InputError(f"{path}: workbook is encrypted or corrupt ({detail})", path=path)


def check_container(path: str, data: bytes, limits: Limits) -> None:
    """Refuse empty, encrypted, too old and oversized workbooks before any parser sees
    ``data``."""
    if not data:
        raise InputError(f"{path} is empty (0 bytes): export the workbook again", path=path)
    if data.startswith(OLE2_MAGIC):
        if _ENCRYPTED_STREAM in data:
            raise _corrupt(path, _PASSWORD)
        return  # an .xls (BIFF) workbook
    version = _OLD_BIFF.get(data[:2])
    if version is not None:
        raise InputError(
            f"{path} is an {version} workbook, a format too old to read: open it in Excel or "
            "LibreOffice and save it as .xlsx",
            path=path,
        )
    if not data.startswith(ZIP_MAGIC):
        raise _corrupt(path, "not an Excel or OpenDocument file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as err:
        raise _corrupt(path, f"damaged ZIP container: {err}") from None
    if len(members) > limits.max_zip_members:
        raise _corrupt(path, f"{len(members):,} parts, more than {limits.max_zip_members:,}")
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise InputError(
            f"{path}: workbook expands to {total / 2**20:,.0f} MiB, more than the limit of "
            f"{limits.max_unzipped_bytes / 2**20:,.0f} MiB (a ZIP bomb?)",
            path=path,
        )
    for m in members:
        if m.file_size > limits.ratio_floor_bytes:
            ratio = m.file_size / max(m.compress_size, 1)
            if ratio > limits.max_zip_ratio:
                raise InputError(
                    f"{path}: workbook part {m.filename} expands {ratio:,.0f}-fold, more than "
                    f"{limits.max_zip_ratio:,.0f} (a ZIP bomb?)",
                    path=path,
                )


def _biff_encrypted(data: bytes) -> bool:
    """Whether an OLE2 file holds a BIFF workbook stream whose first record after the
    beginning-of-file record is FILEPASS (Excel's "encrypt with password")."""
    at = data.find(_BIFF_BOF)
    while at >= 0:
        length = int.from_bytes(data[at + 2 : at + 4], "little")
        kind = data[at + 6 : at + 8]
        if kind == b"\x05\x00" and data[at + 4 + length : at + 6 + length] == _BIFF_FILEPASS:
            return True
        at = data.find(_BIFF_BOF, at + 1)
    return False


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:200]


def _open(path: str, data: bytes) -> calamine.CalamineWorkbook:
    try:
        return calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except calamine.PasswordError:
        raise _corrupt(path, _PASSWORD) from None
    except Exception as err:  # calamine raises several unrelated types for damaged files
        if data.startswith(OLE2_MAGIC) and _biff_encrypted(data):
            raise _corrupt(path, _PASSWORD) from None
        raise _corrupt(path, _one_line(err)) from None


def sheet_names(path: str, data: bytes) -> list[str]:
    """The sheet names of an XLSX or XLS workbook (InputError when it cannot be opened)."""
    return list(_open(path, data).sheet_names)


def select_sheets(path: str, names: list[str], wanted: str | None) -> list[str]:
    """The sheets to read: the first by default, ``*`` for all, else the one named
    (exact, then case-insensitive). InputError listing the sheets when it does not exist."""
    if not names:
        raise _corrupt(path, "it has no sheets")
    if wanted is None or wanted == "":
        return [names[0]]
    if wanted == ALL_SHEETS:
        return list(names)
    if wanted in names:
        return [wanted]
    folded = [n for n in names if n.casefold() == wanted.strip().casefold()]
    if folded:
        return folded[:1]
    listed = ", ".join(repr(n) for n in names)
    raise InputError(f"{path} has no sheet {wanted!r}; sheets: {listed}", path=path)


def _where(path: str, sheet: str) -> str:
    return f"{path} [sheet {sheet!r}]"


def read_workbook(path: str, data: bytes, *, sheet: str | None, limits: Limits) -> list[SheetGrid]:
    """The selected sheets of a workbook as text grids.

    Raises InputError (naming ``path``) for empty, encrypted, too old, corrupt or oversized
    workbooks, a cell beyond ``limits`` (naming the sheet and the cell), an unknown ``sheet``,
    and a named or first sheet without any cell (listing the sheets that have some)."""
    check_container(path, data, limits)
    if data.startswith(ZIP_MAGIC):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            if "content.xml" in names and "xl/workbook.xml" not in names:
                reader: _Reader = _OdsReader(path, zf, sheet, limits)
                return _read_sheets(path, reader, sheet, limits)
            if "xl/workbook.bin" in names:
                raise InputError(
                    f"{path} is a binary (.xlsb) workbook: save it as .xlsx", path=path
                )
            reader = _XlsxReader(path, data, zf, limits)
            return _read_sheets(path, reader, sheet, limits)
    return _read_sheets(path, _XlsReader(path, data, limits), sheet, limits)


class _Reader:
    """How one workbook format gives its sheet names and one sheet's grid."""

    names: list[str]

    def read(self, name: str) -> tuple[Grid, Numeric]:
        raise NotImplementedError

    def has_cells(self, name: str) -> bool:
        grid, _ = self.read(name)
        return grid.has_text()


def _read_sheets(path: str, reader: _Reader, sheet: str | None, limits: Limits) -> list[SheetGrid]:
    grids = []
    for name in select_sheets(path, reader.names, sheet):
        try:
            cells, numeric = reader.read(name)
        except InputError:
            raise
        except MemoryError:
            raise
        except Exception as err:
            raise _corrupt(path, f"sheet {name!r}: {_one_line(err)}") from None
        check_cells(path, name, cells, limits)
        if sheet != ALL_SHEETS and not cells.has_text():
            raise _empty_sheet(path, name, reader)
        grids.append(SheetGrid(name=name, cells=cells, numeric=numeric))
    return grids


def _empty_sheet(path: str, name: str, reader: _Reader) -> InputError:
    """The error for a selected sheet without any cell, naming the sheets that have some."""
    others = []
    for other in reader.names:
        if other == name:
            continue
        try:
            if reader.has_cells(other):
                others.append(other)
        except InputError:
            others.append(other)  # too big to read is not empty
        except Exception:
            continue
    if not others:
        return InputError(f"{_where(path, name)} is empty, and so is every other sheet", path=path)
    listed = ", ".join(repr(o) for o in others)
    return InputError(
        f"{_where(path, name)} is empty; sheets with data: {listed} — choose one with "
        "--sheet NAME (or [sync] sheet)",
        path=path,
    )


class _XlsxReader(_Reader):
    def __init__(self, path: str, data: bytes, zf: zipfile.ZipFile, limits: Limits) -> None:
        self.path, self.zf, self.limits = path, zf, limits
        self.book = _open(path, data)
        self.names = list(self.book.sheet_names)
        try:
            self.parts = workbook_parts(zf)
        except Exception as err:
            raise _corrupt(path, f"workbook parts: {_one_line(err)}") from None

    def read(self, name: str) -> tuple[Grid, Numeric]:
        part = self.parts.get(f"sheet:{name}")
        if part is None or part not in self.zf.namelist():
            raise _corrupt(self.path, f"sheet {name!r}: its part is missing")
        with self.zf.open(part) as fh:
            extent = scan_sheet(fh)
        if _calamine_may_read(extent, self.zf.getinfo(part).file_size, self.limits):
            return _calamine_sheet(self.path, self.book, name, self.limits)
        cells = SheetCells(_where(self.path, name), self.path, self.limits)
        read_sheet(
            self.path,
            self.zf,
            part,
            cells,
            strings=self._strings(),
            styles=read_styles(self.zf, self.parts.get("styles")),
            date1904="date1904" in self.parts,
        )
        return cells.build()

    def _strings(self) -> list[str]:
        if not hasattr(self, "_shared"):
            self._shared = read_shared_strings(self.zf, self.parts.get("sharedStrings"))
        return self._shared


def _calamine_may_read(extent: Extent | None, xml_bytes: int, limits: Limits) -> bool:
    """Whether python-calamine may lay the sheet out: its block is small, or not too large and
    filled enough to be worth it (the XML size bounds the cells present)."""
    if extent is None or extent.rows > limits.max_rows or extent.columns > limits.max_columns:
        return False  # read cell by cell: the first cell beyond the limits is named exactly
    if extent.cells <= limits.calamine_bulk_cells:
        return True
    most_cells = xml_bytes / _MIN_CELL_XML_BYTES
    return extent.cells <= limits.calamine_max_cells and extent.cells * _MIN_FILL <= most_cells


class _XlsReader(_Reader):
    def __init__(self, path: str, data: bytes, limits: Limits) -> None:
        self.path, self.limits = path, limits
        self.book = _open(path, data)
        self.names = list(self.book.sheet_names)

    def read(self, name: str) -> tuple[Grid, Numeric]:
        return _calamine_sheet(self.path, self.book, name, self.limits)

    def has_cells(self, name: str) -> bool:
        return self.book.get_sheet_by_name(name).end is not None


class _OdsReader(_Reader):
    """content.xml is read once, keeping the cells of the sheets ``sheet`` may select."""

    def __init__(self, path: str, zf: zipfile.ZipFile, sheet: str | None, limits: Limits):
        if is_encrypted(zf):
            raise _corrupt(path, _PASSWORD)
        self.path, self.limits = path, limits
        try:
            self.names, self.sheets, self.filled = read_ods(zf, _may_select(sheet), self._cells)
        except InputError:
            raise
        except Exception as err:
            raise _corrupt(path, _one_line(err)) from None

    def _cells(self, name: str) -> SheetCells:
        return SheetCells(_where(self.path, name), self.path, self.limits)

    def read(self, name: str) -> tuple[Grid, Numeric]:
        return self.sheets[name].build()

    def has_cells(self, name: str) -> bool:
        return name in self.filled


def _may_select(sheet: str | None) -> Callable[[str], bool]:
    """Whether a sheet met in order may be one :func:`select_sheets` picks for ``sheet``."""
    if sheet == ALL_SHEETS:
        return lambda _name: True
    if not sheet:
        seen: list[str] = []
        return lambda name: not seen and not seen.append(name)  # type: ignore[func-returns-value]
    folded = sheet.strip().casefold()
    return lambda name: name == sheet or name.casefold() == folded


def _calamine_sheet(
    path: str, book: calamine.CalamineWorkbook, name: str, limits: Limits
) -> tuple[Grid, Numeric]:
    """One sheet laid out by python-calamine, as text columns: in bulk when small, else in
    blocks of rows with columns without a cell sharing one empty column."""
    ws = book.get_sheet_by_name(name)
    if ws.end is None:
        return Grid.from_columns([], 0), {}
    height, width = ws.end[0] + 1, ws.end[1] + 1
    if height > limits.max_rows or width > limits.max_columns:
        row, col = _far_cell(ws.iter_rows(), height, width, limits)
        raise beyond_limits(_where(path, name), path, row, col, limits)
    if height * width <= limits.calamine_bulk_cells:
        rows = ws.to_python(skip_empty_area=False)
        columns, numeric = dense_grid(rows, max((len(r) for r in rows), default=0))
        return Grid.from_columns(columns, len(rows)), numeric
    left = ws.start[1] if ws.start else 0
    return _in_blocks(ws.iter_rows(), height, left, width)


def _far_cell(
    rows: Iterator[Sequence[object]], height: int, width: int, limits: Limits
) -> tuple[int, int]:
    """A cell of the block beyond the limits: the first one in its last column when that is
    too far right, else the first one of its last row. ``rows`` start at the sheet's first row
    and end at its last column (python-calamine's ``iter_rows``)."""
    last_row: Sequence[object] = []
    count = 0
    for i, row in enumerate(rows):
        if width > limits.max_columns and row and row[-1] != "":
            return i, width - 1
        last_row, count = row, i + 1
    first = next((c for c, value in enumerate(last_row) if value != ""), 0)
    return height - 1, width - len(last_row) + first if count else width - 1


def _in_blocks(
    rows: Iterator[Sequence[object]], height: int, left: int, width: int
) -> tuple[Grid, Numeric]:
    """Rows of cells (of columns ``left`` to ``width - 1``) converted a block at a time: the
    rows holding a cell, in bulk; columns without a cell share one empty column."""
    span = max(width - left, 1)
    block_rows = max(1, _CHUNK_CELLS // span)
    pieces: dict[int, list[tuple[np.ndarray, pa.Array]]] = {}
    numbers: dict[int, list[np.ndarray]] = {}
    done = 0
    while True:
        block = [row for _, row in zip(range(block_rows), rows, strict=False)]
        if not block:
            break
        at = [i for i, row in enumerate(block) if row.count("") != len(row)]
        filled = [block[i] for i in at] if len(at) < len(block) else block
        positions = np.asarray(at, dtype=np.int64) + done
        columns, flagged = dense_grid(filled, max((len(r) for r in filled), default=0))
        for c, col in enumerate(columns):
            if buffers(col)[0][-1]:  # a column of empty cells is left out: "" is the default
                pieces.setdefault(left + c, []).append((positions, col))
        for c, flags in flagged.items():
            numbers.setdefault(left + c, []).append(positions[flags])
        done += len(block)
    top = height - done  # rows above the first one given (python-calamine gives them or not)
    empty = from_parts(np.zeros(0, dtype=np.uint8), np.zeros(height, dtype=np.int64))
    out = [empty] * width
    for c, chunks in pieces.items():
        out[c] = lay_out([(at + top, col) for at, col in chunks], height)
    numeric: Numeric = {}
    for c, found in numbers.items():
        flags = np.zeros(height, dtype=bool)
        flags[np.concatenate(found) + top] = True
        numeric[c] = flags
    return Grid(columns=out, height=height), numeric
