"""Workbooks (XLSX/XLSM, XLS, ODS) with python-calamine: every cell as text, never a guess.

Numbers become text only when that is exact: an integer-valued number cell ``2135550102.0``
gives ``"2135550102"``; a number with a fraction stays visibly a float (``"2135550104.5"``) so
the phone check rejects it. For XLSX, numeric cells of the phone column are checked with openpyxl
(which parses through defusedxml) for a scientific number format such as ``0.00E+00``.

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

import numpy as np
import openpyxl
import pandas as pd
import python_calamine as calamine

from ..errors import InputError
from .limits import Limits
from .textfile import check_cells

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
    cells: pd.DataFrame  # positional columns, str, "" for empty; row i is Excel row i + 1
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


def _grid(
    rows: Sequence[Sequence[object]], width: int
) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    columns: dict[int, list[str]] = {}
    numeric: dict[int, np.ndarray] = {}
    for c in range(width):
        col = [r[c] if c < len(r) else "" for r in rows]
        if all(type(v) is str for v in col):
            columns[c] = col  # type: ignore[assignment]
            continue
        is_num = np.fromiter(
            (isinstance(v, int | float) and not isinstance(v, bool) for v in col),
            dtype=bool,
            count=len(col),
        )
        if is_num.any():
            numeric[c] = is_num
        columns[c] = [_cell_text(v) for v in col]
    frame = pd.DataFrame({c: pd.Series(v, dtype=str) for c, v in columns.items()})
    if width == 0:
        frame = pd.DataFrame({0: pd.Series([""] * len(rows), dtype=str)})
    return frame, numeric


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
    a person. openpyxl reads the styles through defusedxml (no entity expansion)."""
    wanted = {int(r) + 1 for r in rows}  # Excel row numbers
    found: list[int] = []
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            ws = wb[sheet]
            last = max(wanted)
            for (cell,) in ws.iter_rows(
                min_row=min(wanted), max_row=last, min_col=column + 1, max_col=column + 1
            ):
                row = getattr(cell, "row", None)
                fmt = str(getattr(cell, "number_format", ""))
                if row in wanted and _SCIENTIFIC_FORMAT.search(fmt):
                    found.append(row - 1)
        finally:
            wb.close()
    except Exception as err:
        raise _corrupt(path, f"number formats of sheet {sheet!r}: {_one_line(err)}") from None
    return np.asarray(sorted(found), dtype=np.int64)
