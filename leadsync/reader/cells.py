"""Workbook cells → a text grid: every cell as text, never a guess, in memory that follows the
cells present.

Numbers become text only when that is exact: an integer-valued number cell ``2135550102.0``
gives ``"2135550102"``; a number with a fraction stays visibly a float (``"2135550104.5"``) so
the phone check rejects it. Two ways in:

- :func:`calamine_sheet`: a sheet python-calamine lays out (a block from its first to its last
  cell; :mod:`.workbook` decides before whether it may build it), converted column by column
  in bulk (:func:`dense_grid`) when small, else in blocks of rows: only the rows holding a cell
  converted, so the Python side never holds the block twice;
- :class:`SheetCells`: cells given one at a time (or as runs down a column) by a streaming
  reader, kept per column and laid out once. Columns without a cell share one empty column, so a
  sheet with cells in A1 and ZZ200000 costs two columns, not 702.

Both refuse a cell beyond :class:`Limits` with a message naming the sheet and the cell.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import python_calamine as calamine

from ..errors import InputError
from .arrowtext import LS, buffers, from_parts, last_per_row
from .grid import Grid, cell_name, describe
from .limits import Limits

#: Largest integer a float holds exactly: beyond it an "integer" cell may have lost digits.
_MAX_EXACT_FLOAT = 2**53
#: Cells of one column kept as Python strings before they are packed into an Arrow array.
_FLUSH_CELLS = 65_536
#: Cells converted at a time when a python-calamine block is converted row block by row block.
_CHUNK_CELLS = 1_000_000

Numeric = dict[int, np.ndarray]  # column position -> bool per row: the cell was a number


def cell_text(value: object) -> str:
    """One cell value (as python-calamine gives it) as text."""
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


def column_text(col: Sequence[object]) -> tuple[pa.Array, np.ndarray]:
    """A column of mixed cells as text (:func:`cell_text`), and which cells were numbers.
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
    ints_as_text = pa.array(floats[whole].astype(np.int64)).cast(pa.string())
    out[at[whole]] = np.asarray(ints_as_text.to_numpy(zero_copy_only=False))
    out[at[~whole]] = [repr(v) for v in floats[~whole].tolist()]
    ints = np.flatnonzero(is_int)
    out[ints] = [str(v) for v in cells[ints].tolist()]  # Python ints may exceed int64
    for i in np.flatnonzero(~(is_str | is_float | is_int)).tolist():
        out[i] = cell_text(cells[i])
    return pa.array(out, type=LS), is_float | is_int


def dense_grid(rows: Sequence[Sequence[object]], width: int) -> tuple[list[pa.Array], Numeric]:
    """Rows of cells as text columns, and per column with number cells: which rows held
    numbers."""
    if width == 0:
        return [], {}
    if rows and len(set(map(len, rows))) == 1:
        matrix = np.empty((len(rows), width), dtype=object)  # one C-level copy of the cells
        matrix[:] = rows
        columns: list[Any] = [np.ascontiguousarray(matrix[:, c]) for c in range(width)]
    else:
        columns = [[r[c] if c < len(r) else "" for r in rows] for c in range(width)]
    texts: list[pa.Array] = []
    numeric: Numeric = {}
    for c, col in enumerate(columns):
        try:  # a column of text cells only: no Python loop at all
            texts.append(pa.array(col, type=LS))
            continue
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
        text, is_num = column_text(col)
        if is_num.any():
            numeric[c] = is_num
        texts.append(text)
    return texts, numeric


def beyond_limits(where: str, path: str, row: int, col: int, limits: Limits) -> InputError:
    """The error for a cell at grid position (``row``, ``col``) outside ``limits``."""
    ref = cell_name(row, col)
    if col >= limits.max_columns:
        bound = f"{limits.max_columns:,} columns"
    else:
        bound = f"{limits.max_rows:,} rows"
    return InputError(
        f"{where} has a cell at {ref}, beyond the limit of {bound}; delete what lies beyond "
        "the data (or save the sheet as CSV) and try again",
        path=path,
    )


class SheetCells:
    """The cells of one sheet as a streaming reader meets them, kept per column.

    ``add`` takes one cell, ``add_run`` the same text in consecutive rows of one column (a
    repeated row of an OpenDocument sheet). Positions are 0-based; a cell beyond ``limits``
    raises InputError at once, naming ``where`` and the cell."""

    def __init__(self, where: str, path: str, limits: Limits) -> None:
        self._where = where
        self._path = path
        self._limits = limits
        self._rows: dict[int, list[int]] = {}
        self._texts: dict[int, list[str]] = {}
        self._numbers: dict[int, list[int]] = {}
        self._number_runs: dict[int, list[tuple[int, int]]] = {}
        self._chunks: dict[int, list[tuple[np.ndarray, pa.Array]]] = {}
        self._height = 0

    def check(self, row: int, col: int) -> None:
        """InputError when (``row``, ``col``) lies beyond the limits."""
        if row >= self._limits.max_rows or col >= self._limits.max_columns:
            raise beyond_limits(self._where, self._path, row, col, self._limits)

    def add(self, row: int, col: int, text: str, number: bool = False) -> None:
        """The cell at (``row``, ``col``) holds ``text`` (``number``: it was a number cell)."""
        if row >= self._limits.max_rows or col >= self._limits.max_columns:  # inline: per cell
            raise beyond_limits(self._where, self._path, row, col, self._limits)
        rows = self._rows.get(col)
        if rows is None:
            rows = self._rows[col] = []
            self._texts[col] = []
            self._chunks[col] = []
        rows.append(row)
        self._texts[col].append(text)
        if number:
            self._numbers.setdefault(col, []).append(row)
        if row >= self._height:
            self._height = row + 1
        if len(rows) >= _FLUSH_CELLS:
            self._flush(col)

    def add_run(self, row: int, count: int, col: int, text: str, number: bool = False) -> None:
        """``text`` in rows ``row`` to ``row + count - 1`` of column ``col`` (InputError before
        anything is built when the run would take the grid past ``limits.max_grid_cells``)."""
        self.check(row + count - 1, col)
        if count == 1:
            self.add(row, col, text, number)
            return
        height = max(self._height, row + count)
        self._check_size(height, len(self._rows) + (col not in self._rows))
        if col not in self._rows:
            self._rows[col], self._texts[col], self._chunks[col] = [], [], []
        self._flush(col)
        at = np.arange(row, row + count, dtype=np.int64)
        self._chunks[col].append((at, pa.repeat(pa.scalar(text, LS), count)))
        if number:
            self._number_runs.setdefault(col, []).append((row, count))
        self._height = height

    def _check_size(self, height: int, columns: int) -> None:
        cells = height * columns
        if cells > self._limits.max_grid_cells:
            raise InputError(
                f"{self._where} spreads its cells over {height:,} rows and {columns:,} "
                f"columns ({cells:,} cells, more than the limit of "
                f"{self._limits.max_grid_cells:,}); save the sheet as CSV, or delete unused "
                "rows and columns",
                path=self._path,
            )

    def _flush(self, col: int) -> None:
        rows = self._rows[col]
        if rows:
            self._chunks[col].append(
                (np.array(rows, dtype=np.int64), pa.array(self._texts[col], type=LS))
            )
            rows.clear()
            self._texts[col].clear()

    def build(self) -> tuple[Grid, Numeric]:
        """The grid (row ``i`` is sheet row ``i + 1``; width up to the last column with a cell)
        and the number cells per column. InputError when the grid would hold more than
        ``limits.max_grid_cells`` cells."""
        height = self._height
        used = sorted(self._rows)
        self._check_size(height, len(used))
        for col in used:
            self._flush(col)
        grid = _grid(self._chunks, height, used[-1] + 1 if used else 0)
        numeric: Numeric = {}
        for col in {*self._numbers, *self._number_runs}:
            flags = np.zeros(height, dtype=bool)
            flags[self._numbers.get(col, [])] = True
            for start, count in self._number_runs.get(col, []):
                flags[start : start + count] = True
            numeric[col] = flags
        return grid, numeric


def _grid(
    chunks: dict[int, list[tuple[np.ndarray, pa.Array]]], height: int, width: int, top: int = 0
) -> Grid:
    """``width`` columns of ``height`` cells from (rows, texts) chunks per column (rows shifted
    by ``top``): "" where no chunk has a cell; of two cells at one row the later one. Columns
    without a chunk share one empty column; the chunks are released as they are laid out."""
    empty = from_parts(np.zeros(0, dtype=np.uint8), np.zeros(height, dtype=np.int64))
    columns = [empty] * width
    for col in list(chunks):
        pieces = chunks.pop(col)
        rows, texts = last_per_row(
            np.concatenate([r for r, _ in pieces]) + top,
            pieces[0][1] if len(pieces) == 1 else pa.concat_arrays([t for _, t in pieces]),
        )
        offsets, data = buffers(texts)
        lengths = np.zeros(height, dtype=np.int64)
        lengths[rows] = np.diff(offsets)
        columns[col] = from_parts(data, lengths)
    return Grid(columns=columns or [empty], height=height)


def calamine_sheet(
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
        raise beyond_limits(describe(path, name), path, row, col, limits)
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
    numeric: Numeric = {}
    for c, found in numbers.items():
        flags = np.zeros(height, dtype=bool)
        flags[np.concatenate(found) + top] = True
        numeric[c] = flags
    return _grid(pieces, height, width, top), numeric
