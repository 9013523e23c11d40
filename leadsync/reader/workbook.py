"""Workbooks (XLSX/XLSM, XLS, ODS) → one text grid per selected sheet, in bounded memory.

python-calamine reads a sheet as one dense block from its first to its last cell (32 bytes a
cell, empty or not): fast for the usual sheet, fatal for a 5 KB file with cells at A1 and
XFD1048576 (a 512 GiB request that aborts the process). So each format is read thus:

- XLSX: the selected sheet's XML is scanned first (:mod:`.extent`) for how far its cells reach.
  A sheet spanning a modest block goes to python-calamine (converted in bulk, or in blocks of
  rows when large); one whose cells lie far apart is read cell by cell (:mod:`.xlsxsheet`).
- XLS: the BIFF records are walked first (:mod:`.container`): a cell beyond Excel's 65,536 ×
  256 grid is refused; then python-calamine, in blocks of rows when large, columns without a
  cell sharing one empty column.
- ODS: cell by cell (:mod:`.odsfile`): python-calamine reads every sheet densely on opening.

Before any of it, :func:`.container.check_container` refuses empty files, password-protected
workbooks of every format, formats too old to read, and ZIP bombs (member count, expanded size,
ratio).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import python_calamine as calamine

from ..errors import InputError
from .cells import Numeric, SheetCells, calamine_sheet
from .container import PASSWORD, ZIP_MAGIC, check_container, corrupt, one_line
from .extent import Extent, scan_sheet
from .grid import Grid, check_cells, describe
from .limits import Limits
from .odsfile import is_encrypted, read_ods
from .xlsxparts import read_styles, workbook_parts
from .xlsxsheet import read_shared_strings, read_sheet

ALL_SHEETS = "*"
#: ``<c r="A1"><v>1</v></c>`` is 22 bytes: a sheet's XML bounds how many cells it holds.
_MIN_CELL_XML_BYTES = 20
#: A block python-calamine lays out must be at least this filled (cells present / spanned).
_MIN_FILL = 0.25


@dataclass(frozen=True, slots=True)
class SheetGrid:
    """One sheet's grid of cells as text, and which cells were numbers."""

    name: str
    cells: Grid  # text, "" for empty; row i is Excel row i + 1
    numeric: Numeric  # column position -> bool per row: the cell was a number


def _open(path: str, data: bytes) -> calamine.CalamineWorkbook:
    try:
        return calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except calamine.PasswordError:
        raise corrupt(path, PASSWORD) from None
    except Exception as err:  # calamine raises several unrelated types for damaged files
        raise corrupt(path, one_line(err)) from None


def sheet_names(path: str, data: bytes) -> list[str]:
    """The sheet names of an XLSX or XLS workbook (InputError when it cannot be opened)."""
    return list(_open(path, data).sheet_names)


def select_sheets(path: str, names: list[str], wanted: str | None) -> list[str]:
    """The sheets to read: the first by default, ``*`` for all, else the one named
    (exact, then case-insensitive). InputError listing the sheets when it does not exist."""
    if not names:
        raise corrupt(path, "it has no sheets")
    if not wanted:
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
        except (InputError, MemoryError):
            raise
        except Exception as err:
            raise corrupt(path, f"sheet {name!r}: {one_line(err)}") from None
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
        return InputError(
            f"{describe(path, name)} is empty, and so is every other sheet", path=path
        )
    listed = ", ".join(repr(o) for o in others)
    return InputError(
        f"{describe(path, name)} is empty; sheets with data: {listed} — choose one with "
        "--sheet NAME (or [sync] sheet)",
        path=path,
    )


class _XlsxReader(_Reader):
    def __init__(self, path: str, data: bytes, zf: zipfile.ZipFile, limits: Limits) -> None:
        self.path, self.zf, self.limits = path, zf, limits
        self.book = _open(path, data)
        self.names = list(self.book.sheet_names)
        self._shared: list[str] | None = None
        try:
            self.parts = workbook_parts(zf)
        except Exception as err:
            raise corrupt(path, f"workbook parts: {one_line(err)}") from None

    def read(self, name: str) -> tuple[Grid, Numeric]:
        part = self.parts.get(f"sheet:{name}")
        if part is None or part not in self.zf.namelist():
            raise corrupt(self.path, f"sheet {name!r}: its part is missing")
        with self.zf.open(part) as fh:
            extent = scan_sheet(fh)
        if _calamine_may_read(extent, self.zf.getinfo(part).file_size, self.limits):
            return calamine_sheet(self.path, self.book, name, self.limits)
        cells = SheetCells(describe(self.path, name), self.path, self.limits)
        read_sheet(
            self.zf,
            part,
            cells,
            strings=self._strings(),
            styles=read_styles(self.zf, self.parts.get("styles")),
            date1904="date1904" in self.parts,
        )
        return cells.build()

    def _strings(self) -> list[str]:
        if self._shared is None:  # read once, for the first sheet read cell by cell
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
    """python-calamine (once :func:`.container.check_container` has walked the records)."""

    def __init__(self, path: str, data: bytes, limits: Limits) -> None:
        self.path, self.limits = path, limits
        self.book = _open(path, data)
        self.names = list(self.book.sheet_names)

    def read(self, name: str) -> tuple[Grid, Numeric]:
        return calamine_sheet(self.path, self.book, name, self.limits)

    def has_cells(self, name: str) -> bool:
        return self.book.get_sheet_by_name(name).end is not None


class _OdsReader(_Reader):
    """content.xml is read once, keeping the cells of the sheets ``sheet`` may select."""

    def __init__(self, path: str, zf: zipfile.ZipFile, sheet: str | None, limits: Limits):
        if is_encrypted(zf):
            raise corrupt(path, PASSWORD)
        self.path, self.limits = path, limits
        try:
            self.names, self.sheets, self.filled = read_ods(zf, _may_select(sheet), self._cells)
        except InputError:
            raise
        except Exception as err:
            raise corrupt(path, one_line(err)) from None

    def _cells(self, name: str) -> SheetCells:
        return SheetCells(describe(self.path, name), self.path, self.limits)

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
