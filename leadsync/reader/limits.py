"""Bounds that keep a hostile or broken file from exhausting memory or time.

Every limit the reader enforces lives here, in one frozen value, so a test (or a future
setting) can tighten them without touching the reading code. Crossing a limit raises
:class:`leadsync.errors.InputError` with a one-line message naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """What one source file may hold before the reader refuses it."""

    #: Largest file accepted on disk (CSV or workbook).
    max_file_bytes: int = 512 * MIB
    #: Most rows (records, title and blank rows included) in one file or sheet.
    max_rows: int = 5_000_000
    #: Most columns in one file or sheet.
    max_columns: int = 1_000
    #: Longest cell, in characters (Excel's own cell limit).
    max_cell_chars: int = 32_767
    #: Workbooks (ZIP containers): most bytes all members may expand to.
    max_unzipped_bytes: int = 2048 * MIB
    #: Workbooks: largest expansion ratio of one member above ``ratio_floor_bytes``.
    max_zip_ratio: float = 200.0
    #: Members smaller than this (expanded) are not ratio-checked (tiny XML compresses well).
    ratio_floor_bytes: int = 8 * MIB
    #: Workbooks: most members in the container.
    max_zip_members: int = 10_000
    #: Workbooks: most cells one sheet's grid may hold (its rows × the columns that hold a
    #: cell), whatever the cells present: a grid costs 8 bytes a cell even when empty.
    max_grid_cells: int = 32_000_000
    #: Workbooks, how they are read (not a refusal): a sheet whose cells span at most this many
    #: cells (rows × columns from A1) is converted by python-calamine in one block ...
    calamine_bulk_cells: int = 4_000_000
    #: ... up to this many (and at least a quarter filled), in blocks of rows; a sheet
    #: spanning more is read cell by cell, in memory that follows the cells present.
    calamine_max_cells: int = 16_000_000
    #: Rows looked at when searching for the header row.
    header_scan_rows: int = 20
    #: Bytes of a text file looked at to sniff encoding, delimiter and binary content.
    sniff_bytes: int = 64 * 1024
    #: Share of control characters in the sniffed sample above which a file is "not text".
    max_control_share: float = 0.01


DEFAULT_LIMITS = Limits()
