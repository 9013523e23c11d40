"""One sheet laid out by python-calamine, as text columns: in bulk when small, else in blocks of
rows — only the rows holding a cell converted, columns without a cell sharing one empty column
— so the Python side never holds the block twice. (The block itself is python-calamine's:
:mod:`.workbook` decides before whether it may build it.)"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import python_calamine as calamine

from .arrowtext import buffers, from_parts
from .cells import Numeric, beyond_limits, dense_grid, lay_out
from .grid import Grid, describe
from .limits import Limits

#: Cells converted at a time when a block is converted row block by row block.
_CHUNK_CELLS = 1_000_000


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
