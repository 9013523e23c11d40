"""Workbooks (XLSX/XLSM, XLS, ODS) with python-calamine: every cell as text, never a guess.

Numbers become text only when that is exact: an integer-valued number cell ``2135550102.0``
gives ``"2135550102"``; a number with a fraction stays visibly a float (``"2135550104.5"``) so
the phone check rejects it. For XLSX, numeric cells of the phone column are checked for a
scientific number format such as ``0.00E+00`` (styles.xml, then the sheet's XML streamed through
defusedxml, only when some cell style shows an exponent).

ZIP containers are checked (member count, expanded size, expansion ratio) before any parsing.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import python_calamine as calamine
from defusedxml import ElementTree

from ..errors import InputError
from .arrowtext import LS
from .grid import Grid, check_cells, column_letter
from .limits import Limits

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: The stream an encrypted OOXML file keeps its (encrypted) workbook in, as stored in OLE2.
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
#: Largest integer a float holds exactly: beyond it an "integer" cell may have lost digits.
_MAX_EXACT_FLOAT = 2**53
ALL_SHEETS = "*"
#: A number format showing an exponent (0.00E+00, ##0.0E-0), outside quoted literals.
_SCIENTIFIC_FORMAT = re.compile(r'^(?:[^"]|"[^"]*")*?[eE][+-]')


@dataclass(frozen=True, slots=True)
class SheetGrid:
    """One sheet's grid of cells as text, and which cells were numbers."""

    name: str
    cells: Grid  # text, "" for empty; row i is Excel row i + 1
    numeric: dict[int, np.ndarray]  # column position -> bool per row: the cell was a number


def _corrupt(path: str, detail: str) -> InputError:
    return InputError(f"{path}: workbook is encrypted or corrupt ({detail})", path=path)


def check_container(path: str, data: bytes, limits: Limits) -> None:
    """Refuse encrypted workbooks and ZIP bombs before any parser sees ``data``."""
    if data.startswith(OLE2_MAGIC):
        if _ENCRYPTED_STREAM in data:
            raise InputError(
                f"{path}: workbook is encrypted or corrupt (it is password-protected: remove "
                "the password in Excel, File › Info › Protect Workbook, and save again)",
                path=path,
            )
        return  # an .xls (BIFF) workbook
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


def _cell_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < _MAX_EXACT_FLOAT:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return "" if value is None else str(value)


def _grid(rows: Sequence[Sequence[object]], width: int) -> tuple[Grid, dict[int, np.ndarray]]:
    """Cells as a text grid, and per column with number cells: which rows held numbers."""
    if width == 0:
        return Grid.from_columns([], len(rows)), {}
    if rows and len(set(map(len, rows))) == 1:
        matrix = np.empty((len(rows), width), dtype=object)  # one C-level copy of the cells
        matrix[:] = rows
        columns: list[Any] = [np.ascontiguousarray(matrix[:, c]) for c in range(width)]
    else:
        columns = [[r[c] if c < len(r) else "" for r in rows] for c in range(width)]
    texts: list[pa.Array] = []
    numeric: dict[int, np.ndarray] = {}
    for c, col in enumerate(columns):
        try:  # a column of text cells only: no Python loop at all
            texts.append(pa.array(col, type=LS))
            continue
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
        text, is_num = _column_text(col)
        if is_num.any():
            numeric[c] = is_num
        texts.append(text)
    return Grid.from_columns(texts, len(rows)), numeric


def _column_text(col: Sequence[object]) -> tuple[pa.Array, np.ndarray]:
    """A column of mixed cells as text (:func:`_cell_text`), and which cells were numbers.
    Whole-number floats, the usual number cell, are formatted in bulk by Arrow."""
    cells = np.empty(len(col), dtype=object)
    cells[:] = col
    kinds = np.fromiter(map(type, col), dtype=object, count=len(col))
    is_str, is_float, is_int = (kinds == kind for kind in (str, float, int))  # exact types
    out = np.empty(len(col), dtype=object)
    out[is_str] = cells[is_str]
    floats = cells[is_float].astype(np.float64)
    whole = np.isfinite(floats) & (np.floor(floats) == floats) & (np.abs(floats) < _MAX_EXACT_FLOAT)
    at = np.flatnonzero(is_float)
    out[at[whole]] = _int_texts(floats[whole].astype(np.int64))
    out[at[~whole]] = [repr(v) for v in floats[~whole].tolist()]
    ints = np.flatnonzero(is_int)
    out[ints] = [str(v) for v in cells[ints].tolist()]  # Python ints may exceed int64
    for i in np.flatnonzero(~(is_str | is_float | is_int)).tolist():
        out[i] = _cell_text(cells[i])
    return pa.array(out, type=LS), is_float | is_int


def _int_texts(values: np.ndarray) -> np.ndarray:
    return np.asarray(pa.array(values).cast(pa.string()).to_numpy(zero_copy_only=False))


def sheet_names(path: str, data: bytes) -> list[str]:
    """The sheet names of a workbook (InputError when it cannot be opened)."""
    return list(_open(path, data).sheet_names)


def _open(path: str, data: bytes) -> calamine.CalamineWorkbook:
    try:
        return calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except calamine.PasswordError:
        raise _corrupt(path, "it is password-protected") from None
    except Exception as err:  # calamine raises several unrelated types for damaged files
        raise _corrupt(path, _one_line(err)) from None


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:200]


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


def read_workbook(path: str, data: bytes, *, sheet: str | None, limits: Limits) -> list[SheetGrid]:
    """The selected sheets of a workbook as text grids.

    Raises InputError (naming ``path``) for encrypted, corrupt or oversized workbooks and for an
    unknown ``sheet``."""
    check_container(path, data, limits)
    wb = _open(path, data)
    grids = []
    for name in select_sheets(path, list(wb.sheet_names), sheet):
        try:
            ws = wb.get_sheet_by_name(name)
            height, width = ws.height, ws.width
            end_row = ws.end[0] + 1 if ws.end else 0
            end_col = ws.end[1] + 1 if ws.end else 0
            if max(height, end_row) > limits.max_rows:
                raise InputError(
                    f"{path} [sheet {name!r}] has more than {limits.max_rows:,} rows (the limit)",
                    path=path,
                )
            if max(width, end_col) > limits.max_columns:
                raise InputError(
                    f"{path} [sheet {name!r}] has {max(width, end_col):,} columns, more than "
                    f"the limit of {limits.max_columns:,}",
                    path=path,
                )
            rows = ws.to_python(skip_empty_area=False)
        except InputError:
            raise
        except Exception as err:
            raise _corrupt(path, f"sheet {name!r}: {_one_line(err)}") from None
        width = max((len(r) for r in rows), default=0)
        cells, numeric = _grid(rows, width)
        check_cells(path, name, cells, limits)
        grids.append(SheetGrid(name=name, cells=cells, numeric=numeric))
    return grids


def scientific_cells(
    path: str, data: bytes, sheet: str, column: int, rows: np.ndarray
) -> np.ndarray:
    """Of the grid positions ``rows`` (numeric cells of ``column``), those whose XLSX number
    format is scientific (``0.00E+00``): Excel shows them rounded, so they were never checked by
    a person.

    Reads styles.xml first: when no cell style of the workbook shows an exponent (the usual
    case), no cell can be scientific and the sheet is not read again. Otherwise the sheet's XML
    is streamed (defusedxml: no entity expansion) for the styles of that one column."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            parts = _workbook_parts(zf)
            styles = _scientific_styles(zf, parts.get("styles"))
            if not styles:
                return np.zeros(0, dtype=np.int64)
            target = parts.get(f"sheet:{sheet}")
            if target is None:
                raise KeyError(f"no part for sheet {sheet!r}")
            found = _cells_with_styles(zf, target, column_letter(column), styles)
    except InputError:
        raise
    except Exception as err:
        raise _corrupt(path, f"number formats of sheet {sheet!r}: {_one_line(err)}") from None
    wanted = np.asarray(rows, dtype=np.int64)
    return np.intersect1d(np.asarray(sorted(found), dtype=np.int64), wanted)


_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
#: Built-in number formats that show an exponent (ECMA-376 18.8.30): 0.00E+00 and ##0.0E+0.
_SCIENTIFIC_BUILTIN_FORMATS = frozenset({11, 48})
_CELL_REF = re.compile(r"([A-Z]+)([0-9]+)")


def _part_path(base: str, target: str) -> str:
    """A relationship target as a path inside the ZIP container."""
    if target.startswith("/"):
        return target[1:]
    parts: list[str] = base.split("/")[:-1]
    for piece in target.split("/"):
        if piece == "..":
            parts = parts[:-1]
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


def _workbook_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """``styles`` and ``sheet:<name>`` → their part paths, from workbook.xml and its rels."""
    book = "xl/workbook.xml"
    rels_path = "xl/_rels/workbook.xml.rels"
    targets: dict[str, str] = {}
    styles = None
    for rel in ElementTree.fromstring(zf.read(rels_path)).iter(f"{_PKG_REL_NS}Relationship"):
        target = _part_path(book, rel.get("Target", ""))
        targets[rel.get("Id", "")] = target
        if rel.get("Type", "").endswith("/styles"):
            styles = target
    out = {"styles": styles} if styles else {}
    for node in ElementTree.fromstring(zf.read(book)).iter(f"{_MAIN_NS}sheet"):
        rid = node.get(f"{_REL_NS}id")
        if rid in targets:
            out[f"sheet:{node.get('name')}"] = targets[rid]
    return out


def _scientific_styles(zf: zipfile.ZipFile, styles_path: str | None) -> frozenset[int]:
    """Indexes of the cell formats (``s`` attribute of a cell) whose number format shows an
    exponent."""
    if styles_path is None or styles_path not in zf.namelist():
        return frozenset()
    root = ElementTree.fromstring(zf.read(styles_path))
    codes = {
        int(f.get("numFmtId", "-1")): f.get("formatCode", "")
        for f in root.iter(f"{_MAIN_NS}numFmt")
    }
    xfs = root.find(f"{_MAIN_NS}cellXfs")
    found = set()
    for index, xf in enumerate([] if xfs is None else xfs.iter(f"{_MAIN_NS}xf")):
        fmt = int(xf.get("numFmtId", "0"))
        if fmt in codes:
            scientific = bool(_SCIENTIFIC_FORMAT.search(codes[fmt]))
        else:
            scientific = fmt in _SCIENTIFIC_BUILTIN_FORMATS
        if scientific:
            found.add(index)
    return frozenset(found)


def _cells_with_styles(
    zf: zipfile.ZipFile, sheet_path: str, letters: str, styles: frozenset[int]
) -> list[int]:
    """Grid positions (Excel row - 1) of the cells of column ``letters`` with one of
    ``styles``, streaming the sheet (cells and rows without ``r`` follow the previous one)."""
    found: list[int] = []
    row_num = 0
    col_num = 0
    target = _column_index(letters)
    with zf.open(sheet_path) as fh:
        for event, elem in ElementTree.iterparse(fh, events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if tag == f"{_MAIN_NS}row":
                    r = elem.get("r")
                    row_num = int(r) if r else row_num + 1
                    col_num = 0
                continue
            if tag == f"{_MAIN_NS}c":
                ref = elem.get("r")
                match = _CELL_REF.fullmatch(ref) if ref else None
                col_num = _column_index(match.group(1)) if match else col_num + 1
                if col_num == target and int(elem.get("s", "0")) in styles:
                    found.append(row_num - 1)
                elem.clear()
            elif tag == f"{_MAIN_NS}row":
                elem.clear()
    return found


def _column_index(letters: str) -> int:
    """A → 1, Z → 26, AA → 27."""
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch) - ord("A") + 1
    return index
