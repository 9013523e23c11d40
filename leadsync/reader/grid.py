"""A sheet or text file as a grid of text cells: one Arrow string column per spreadsheet column.

Row ``i`` of a grid is row ``i + 1`` as Excel shows the file (title and blank rows included);
every cell is text, "" when empty. Columns are ``large_string`` arrays without nulls, so the
reader works on whole columns and the final frame wraps them without copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .arrowtext import LS, blank_cells, buffers, plain_strings
from .limits import Limits

_SPACE, _DEL = ord(" "), 0x7F


@dataclass(frozen=True, slots=True)
class Grid:
    """Columns of text cells, all ``height`` long."""

    columns: list[pa.Array]
    height: int

    @classmethod
    def from_columns(cls, columns: Sequence[pa.Array | pa.ChunkedArray], height: int) -> Grid:
        """A grid of these columns (any Arrow string type; nulls read as "")."""
        cols = [plain_strings(c) for c in columns] or [pa.repeat(pa.scalar("", LS), height)]
        return cls(columns=cols, height=height)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[str]]) -> Grid:
        """A grid of records (lists of cell texts), short ones padded with ""."""
        width = max((len(r) for r in rows), default=0) or 1
        columns = [
            pa.array([r[c] if c < len(r) else "" for r in rows], type=LS) for c in range(width)
        ]
        return cls(columns=columns, height=len(rows))

    @property
    def width(self) -> int:
        return len(self.columns)

    def has_text(self) -> bool:
        """Whether any cell is non-empty (whitespace counts): O(columns)."""
        return any(_has_text(c) for c in self.columns)

    def rows(self, start: int, stop: int) -> list[list[str]]:
        """Rows ``start`` to ``stop`` (exclusive) as lists of cell texts."""
        return self.take(np.arange(start, min(stop, self.height)))

    def take(self, positions: np.ndarray) -> list[list[str]]:
        """The rows at ``positions`` as lists of cell texts."""
        idx = pa.array(positions, type=pa.int64())
        done: dict[int, list[str]] = {}  # a column shared by many (the empty one) done once
        for col in self.columns:
            if id(col) not in done:
                done[id(col)] = col.take(idx).to_pylist()
        return [list(r) for r in zip(*(done[id(c)] for c in self.columns), strict=True)]

    def blank_rows(self) -> np.ndarray:
        """Per row: every cell empty or whitespace (``str.strip()`` sense)."""
        blank = np.ones(self.height, dtype=bool)
        # Columns with some text only (a sparse sheet shares one empty column many times);
        # most rows are filled in their first columns.
        for col in [c for c in self.columns if _has_text(c)]:
            offsets, data = buffers(col)
            todo = np.flatnonzero(blank & (offsets[1:] > offsets[:-1]))
            if len(todo) == 0:
                continue
            # A cell starting with visible ASCII (not a space) is filled; only the others
            # (leading space, non-ASCII) need trimming to tell.
            first = data[offsets[todo]]
            seen = (first > _SPACE) & (first < _DEL)
            blank[todo[seen]] = False
            unsure = todo[~seen]
            if len(unsure):
                blank[unsure] = blank_cells(col.take(pa.array(unsure, type=pa.int64())))
            if not blank.any():
                break
        return blank


def describe(path: str, sheet: str | None) -> str:
    """``path`` or ``path [sheet 'Name']`` for messages."""
    return f"{path} [sheet {sheet!r}]" if sheet else path


def check_cells(path: str, sheet: str | None, grid: Grid, limits: Limits) -> None:
    """InputError when a cell is longer than ``limits.max_cell_chars`` (names row and column)."""
    for c, col in enumerate(grid.columns):
        if not _has_text(col):
            continue
        # Bytes bound characters from above: count characters only when the bytes exceed.
        if pc.max(pc.binary_length(col)).as_py() <= limits.max_cell_chars:
            continue
        chars = np.asarray(pc.utf8_length(col).to_numpy(zero_copy_only=False))
        if chars.max() > limits.max_cell_chars:
            row = int(chars.argmax()) + 1
            where = describe(path, sheet)
            raise InputError(
                f"{where}: the cell in row {row}, column {column_letter(c)} has more than "
                f"{limits.max_cell_chars:,} characters (an unbalanced quote?)",
                path=path,
            )


def _has_text(col: pa.Array) -> bool:
    """Whether any cell of ``col`` is non-empty: its first and last offsets differ (O(1))."""
    _, off_buf, _ = col.buffers()
    if off_buf is None or len(col) == 0:
        return False
    ends = np.frombuffer(off_buf, dtype=np.int64)[[col.offset, col.offset + len(col)]]
    return bool(ends[1] != ends[0])


def column_number(letters: str) -> int:
    """A → 1, Z → 26, AA → 27, XFD → 16384 (either case)."""
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - ord("A") + 1
    return number


def cell_name(row: int, col: int) -> str:
    """(0-based row, column) as Excel names the cell: (6, 1) → B7."""
    return f"{column_letter(col)}{row + 1}"


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: the column name Excel shows."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(ord("A") + rem) + name
    return name
