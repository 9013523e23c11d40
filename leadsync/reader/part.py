"""The values the reader passes between its steps: a source grid, and one source's normalized
rows (Arrow columns, numpy masks, sparse codes), before the checks across all sources."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..models import SourceInfo
from .fields import Integers
from .grid import Grid


@dataclass
class Source:
    """One grid to read: a text file, or one sheet of a workbook."""

    path: str
    sheet: str | None
    format: str
    encoding: str | None
    delimiter: str | None
    sha256: str
    grid: Grid
    numeric: dict[int, np.ndarray] = field(default_factory=dict)
    data: bytes | None = None  # workbook bytes, for number formats
    warning: str | None = None  # about the whole source (text that may be mis-decoded)


@dataclass
class Part:
    """One source's data rows, normalized, with the codes of its bad rows.

    Row ``i`` of the part is grid row ``positions[i]`` (Excel row ``positions[i] + 1``)."""

    source: Source
    info: SourceInfo
    positions: np.ndarray  # int64, grid positions of the data rows
    text: dict[str, pa.Array]  # number, text fields, status, campaign (large_string, nulls)
    ints: dict[str, Integers]  # retries, priority, cool_off
    codes: dict[int, list[str]]  # row -> error codes (bad rows only)
    warned: dict[int, list[str]]  # row -> warning codes
    value_keys: list[str]  # names of the columns in RowIssue.values
    headers: dict[str, str]  # field -> header text
    field_keys: dict[str, str]  # field -> its key in RowIssue.values

    @property
    def rows(self) -> int:
        return len(self.positions)
