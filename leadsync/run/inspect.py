"""Look at a spreadsheet before syncing it: its header row, first rows, and each column's field.

What the console's "map columns" page shows. :func:`inspect_file` uses the reader's own header
search and column mapping (:mod:`leadsync.reader.columns`), so what it says is what
``read_sources`` will do with the same settings; :func:`check_mapping` asks the same
:func:`~leadsync.reader.columns.map_columns` whether a mapping the user edited is usable.

A large text file is previewed from its first :data:`PREVIEW_BYTES` only (cut at a line end):
the header is searched among the first rows anyway, and the whole file is read by the sync.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Settings
from ..errors import InputError
from ..reader.columns import SYNONYM_INDEX, find_header, header_key, map_columns
from ..reader.grid import Grid, column_letter
from ..reader.limits import DEFAULT_LIMITS, Limits
from ..reader.textfile import read_text_table
from ..reader.workbook import read_workbook, sheet_names

#: Bytes of a text file read for its preview (the header is within the first rows).
PREVIEW_BYTES = 256 * 1024
#: Data rows shown under the header.
PREVIEW_ROWS = 10
#: Suffixes read as workbooks (the rest as delimited text), as the reader decides.
WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """One column of the header row and the lead field it maps to (None: not used)."""

    index: int
    letter: str  # A, B, … AA
    header: str
    field: str | None
    how: str | None  # "mapping" ([columns] or the console's mapping), "synonym", or None


@dataclass(frozen=True, slots=True)
class SheetPreview:
    """A file (or one sheet of a workbook) as the reader will see it."""

    path: str
    sheet: str | None  # None for text files
    sheets: tuple[str, ...] = ()  # every sheet of the workbook (empty for text files)
    header_row: int | None = None  # as Excel shows it; None when no header was found
    columns: tuple[ColumnInfo, ...] = ()
    rows: tuple[tuple[int, tuple[str, ...]], ...] = ()  # (Excel row number, cells)
    problem: str | None = None  # why the reader would refuse it as it stands
    partial: bool = False  # only the start of a large text file was looked at
    #: No row names a lead field: ``header_row`` is the first non-blank row, a guess.
    header_guessed: bool = False

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def fields(self) -> dict[str, int]:
        """Lead field → column position, as detected."""
        return {c.field: c.index for c in self.columns if c.field is not None}


def _load(path: Path, limits: Limits) -> bytes:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise InputError(
                f"{name} is {size / 2**20:,.0f} MiB, more than the limit of "
                f"{limits.max_file_bytes / 2**20:,.0f} MiB",
                path=name,
            )
        with path.open("rb") as fh:
            return fh.read(limits.max_file_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{name} does not exist", path=name) from None
    except OSError as err:
        raise InputError(f"{name} cannot be read ({err.strerror})", path=name) from None


def _is_workbook(path: Path, head: bytes) -> bool:
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return True
    return path.suffix.lower() not in (".csv", ".tsv", ".txt", ".tab") and (
        head.startswith(_ZIP) or head.startswith(_OLE)
    )


def _text_prefix(data: bytes) -> tuple[bytes, bool]:
    """The start of a text file, cut after a line end; (data, False) when it is small."""
    if len(data) <= PREVIEW_BYTES or data.startswith(_UTF16_BOMS):
        return data, False
    cut = data.rfind(b"\n", 0, PREVIEW_BYTES)
    return (data[: cut + 1], True) if cut > 0 else (data, False)


def _grids(
    path: Path, settings: Settings, limits: Limits
) -> tuple[list[tuple[str | None, Grid]], tuple[str, ...], bool]:
    """(sheet name and grid of each sheet read, every sheet's name, only a prefix was read)."""
    data = _load(path, limits)
    name = str(path)
    if _is_workbook(path, data[:8]):
        sheets = tuple(sheet_names(name, data))
        chosen = read_workbook(name, data, sheet=settings.sync.sheet, limits=limits)
        return [(g.name, g.cells) for g in chosen], sheets, False
    prefix, partial = _text_prefix(data)
    table = read_text_table(name, prefix, encoding=settings.sync.encoding, limits=limits)
    return [(None, table.cells)], (), partial


def _header_at(grid: Grid, settings: Settings, limits: Limits) -> int | None:
    if settings.sync.header_row is not None:
        at = settings.sync.header_row - 1
        return at if at < grid.height else None
    return find_header(grid, settings.columns, limits.header_scan_rows)


def _columns(
    headers: list[str], explicit: Mapping[str, str], path: str, sheet: str | None, row: int
) -> tuple[tuple[ColumnInfo, ...], str | None]:
    """Each column's field as the reader maps it, and the reader's objection (if any)."""
    problem = None
    try:
        fields = map_columns(headers, explicit, path=path, sheet=sheet, header_row=row)
    except InputError as err:
        problem = str(err)
        try:
            fields = map_columns(
                headers, explicit, path=path, sheet=sheet, header_row=row, require_number=False
            )
        except InputError:  # two columns claim a field, or a mapped header is missing
            fields = {}
            for i, h in enumerate(headers):
                synonym = SYNONYM_INDEX.get(header_key(h)) if h.strip() else None
                if synonym is not None and synonym not in fields:
                    fields[synonym] = i
    by_index = {i: f for f, i in fields.items()}
    columns = tuple(
        ColumnInfo(
            index=i,
            letter=column_letter(i),
            header=h,
            field=by_index.get(i),
            how=None
            if i not in by_index
            else ("mapping" if by_index[i] in explicit else "synonym"),
        )
        for i, h in enumerate(headers)
    )
    return columns, problem


def _preview(
    path: str,
    sheet: str | None,
    grid: Grid,
    settings: Settings,
    limits: Limits,
    *,
    sheets: tuple[str, ...],
    partial: bool,
    rows: int,
) -> SheetPreview:
    where = f"{path} [sheet {sheet!r}]" if sheet else path
    blank = grid.blank_rows()
    if grid.height == 0 or blank.all():
        return SheetPreview(
            path, sheet, sheets, problem=f"{where} is empty (no header row, no data)"
        )
    at = _header_at(grid, settings, limits)
    guessed = at is None
    if at is None:  # no row names a field: the first row stands in, for the user to map
        at = int(np.flatnonzero(~blank)[0])
    headers = [c.strip() for c in grid.rows(at, at + 1)[0]]
    columns, problem = _columns(headers, settings.columns, path, sheet, at + 1)
    data_at = np.flatnonzero(~blank[at + 1 :])[:rows] + at + 1
    cells = grid.take(data_at)
    return SheetPreview(
        path,
        sheet,
        sheets,
        header_row=at + 1,
        columns=columns,
        rows=tuple((int(p) + 1, tuple(r)) for p, r in zip(data_at, cells, strict=True)),
        problem=problem,
        partial=partial,
        header_guessed=guessed,
    )


def inspect_file(
    path: Path,
    settings: Settings,
    *,
    rows: int = PREVIEW_ROWS,
    limits: Limits = DEFAULT_LIMITS,
) -> list[SheetPreview]:
    """Preview ``path`` as :func:`leadsync.reader.read_sources` would read it with ``settings``
    (sheet, header row, encoding and ``[columns]`` included): one SheetPreview per sheet read.

    A file the reader refuses as it stands (no phone column, two columns claiming one field)
    is previewed with its ``problem``. Raises InputError when it cannot be read at all (too
    large, binary, corrupt, encrypted, an unknown sheet)."""
    grids, sheets, partial = _grids(Path(path), settings, limits)
    return [
        _preview(
            str(path), sheet, grid, settings, limits, sheets=sheets, partial=partial, rows=rows
        )
        for sheet, grid in grids
    ]


def check_mapping(preview: SheetPreview, columns: Mapping[str, str]) -> dict[str, int]:
    """Lead field → column position that the reader will use for ``preview`` with the
    ``[columns]`` mapping ``columns``. Raises InputError, worded as the reader words it, when a
    mapped header is missing, two columns claim one field, or no column holds the number."""
    if preview.header_row is None:
        raise InputError(preview.problem or f"{preview.path}: no header row", path=preview.path)
    return map_columns(
        preview.headers,
        columns,
        path=preview.path,
        sheet=preview.sheet,
        header_row=preview.header_row,
    )


__all__ = [
    "PREVIEW_BYTES",
    "PREVIEW_ROWS",
    "ColumnInfo",
    "SheetPreview",
    "check_mapping",
    "inspect_file",
]
