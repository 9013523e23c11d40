"""``report.xlsx``: sheets Summary, Rows, Rejected, Operations, Kept, Drift.

Every sheet has a bold, filled, frozen header row, an autofilter and column widths taken from
a sample of its content. Cells go through :mod:`leadsync.report.safe` (formula injection) and
are always written as text or numbers, never as formulas.

The workbook is for people, and nobody reads a million rows in a sheet: the Rows sheet lists
the rows that need attention (rejected, duplicate, failed, changed, planned) first, and the
rows that need none (``valid``, ``unchanged``) only to fill it up to
:data:`XLSX_ROUTINE_ROWS`; the Rows, Rejected and Drift sheets list at most
:data:`XLSX_LISTED_ROWS` rows each, in input order. A sheet that leaves rows out says so in a
note cell of its header row, and the Summary sheet says that rows.csv and rejected.csv hold
every row. Any other sheet holds at most Excel's 1,048,575 data rows (the same note beyond).

How: openpyxl (write-only mode) builds the workbook with the Summary sheet and the header row
of every table sheet; the data rows are streamed in by :mod:`leadsync.report.sheetxml`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from ..models import COUNT_KEYS, RowOutcome
from .files import arrow_table, atomic_path, op_result_record, rejected_frame, rows_frame
from .model import RunReport
from .safe import safe_cell
from .sheetxml import XLSX_MAX_CELL_CHARS as XLSX_MAX_CELL_CHARS  # tests name it here
from .sheetxml import fill_sheets

#: Excel's row limit minus the header row.
XLSX_MAX_DATA_ROWS = 1_048_575
#: Rows that need no attention (``valid``, ``unchanged``) shown in the Rows sheet at most;
#: every other row is always there (up to Excel's limit) and rows.csv has them all.
XLSX_ROUTINE_ROWS = 50_000
#: Rows listed at most in the Rows, Rejected and Drift sheets (rows.csv and rejected.csv hold
#: every row).
XLSX_LISTED_ROWS = 50_000
#: Outcomes of rows that need no attention.
ROUTINE_OUTCOMES: tuple[str, ...] = (RowOutcome.VALID.value, RowOutcome.UNCHANGED.value)
#: Rows sampled to size the columns.
WIDTH_SAMPLE_ROWS = 2_000
MIN_COL_WIDTH = 8
MAX_COL_WIDTH = 60

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")
NOTE_FONT = Font(italic=True, bold=True, color="9C0006")
NOTE_FILL = PatternFill("solid", fgColor="FFC7CE")
LABEL_FONT = Font(bold=True)


@dataclass(frozen=True)
class SheetTable:
    """One table sheet: its escaped rows (at most :data:`XLSX_MAX_DATA_ROWS`), how many rows
    the whole table has, and the note for the header row when rows were left out."""

    title: str
    table: pa.Table
    total_rows: int
    note: str | None = None


def _cell(
    ws: WriteOnlyWorksheet, value: object, font: Font, fill: PatternFill | None = None
) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.font = font
    if fill is not None:
        cell.fill = fill
    return cell


def _header(ws: WriteOnlyWorksheet, names: list[str] | tuple[str, ...]) -> list[WriteOnlyCell]:
    return [_cell(ws, name, HEADER_FONT, HEADER_FILL) for name in names]


def _column_widths(table: pa.Table) -> list[float]:
    sample = table.slice(0, WIDTH_SAMPLE_ROWS)
    widths = []
    for name, column in zip(table.column_names, sample.columns, strict=True):
        longest = pc.max(pc.utf8_length(column.cast(pa.large_string()))).as_py() or 0
        widths.append(float(min(max(max(len(name), longest) + 2, MIN_COL_WIDTH), MAX_COL_WIDTH)))
    return widths


def _sheet_table(
    title: str, frame: pd.DataFrame, what: str | None, *, limit: int = XLSX_MAX_DATA_ROWS
) -> SheetTable:
    """A table sheet of the first ``limit`` rows of ``frame`` (at most Excel's limit); the
    note says where the others are (``what``)."""
    if frame.shape[1] == 0:
        frame = pd.DataFrame({"(empty)": pd.Series(dtype="str")})
    limit = min(limit, XLSX_MAX_DATA_ROWS)
    total = len(frame)
    note = None
    if total > limit:
        frame = frame.iloc[:limit]  # escape and copy only the rows listed
        if limit == XLSX_MAX_DATA_ROWS:
            note = f"Only the first {limit:,} of {total:,} rows fit in a sheet"
        else:
            note = f"Only the first {limit:,} of {total:,} rows are listed here"
        note += f": {what} has them all." if what else "."
    return SheetTable(title, arrow_table(frame), total, note)


def rows_sheet(report: RunReport) -> SheetTable:
    """The Rows sheet: the rows that need attention, then the others up to
    :data:`XLSX_ROUTINE_ROWS`, at most :data:`XLSX_LISTED_ROWS` in all, in input order (see
    the module docstring)."""
    rows = rows_frame(report)
    limit = min(XLSX_LISTED_ROWS, XLSX_MAX_DATA_ROWS)
    outcome = pa.array(rows["outcome"].astype("str"), from_pandas=True)
    routine = pc.fill_null(pc.is_in(outcome, value_set=pa.array(ROUTINE_OUTCOMES)), False)
    routine_seen = pc.cumulative_sum(pc.cast(routine, pa.int64()))
    needing = pc.invert(routine)
    needing_seen = pc.cumulative_sum(pc.cast(needing, pa.int64()))
    needing_total = len(rows) - (routine_seen[-1].as_py() if len(rows) else 0)
    routine_room = max(min(XLSX_ROUTINE_ROWS, limit - needing_total), 0)
    keep = pc.or_(
        pc.and_(needing, pc.less_equal(needing_seen, limit)),
        pc.and_(routine, pc.less_equal(routine_seen, routine_room)),
    )
    if not pc.all(keep).as_py():  # escape and copy only the rows shown
        rows = rows[keep.to_numpy(zero_copy_only=False)]
    shown = arrow_table(rows)
    total = len(report.rows)
    left_out = total - shown.num_rows
    note = None
    if needing_total > limit and limit == XLSX_MAX_DATA_ROWS:
        note = f"Only the first {limit:,} of {total:,} rows fit in a sheet: rows.csv has them all."
    elif needing_total > limit:
        note = (
            f"Only the first {limit:,} of the {needing_total:,} rows that need attention are "
            "listed here: rows.csv has every row."
        )
    elif left_out:
        note = (
            f"{left_out:,} valid or unchanged rows after the first {routine_room:,} are not "
            "listed here: rows.csv has every row."
        )
    return SheetTable("Rows", shown, total, note)


def sheet_tables(report: RunReport, *, rejected: pd.DataFrame | None = None) -> list[SheetTable]:
    """The table sheets of report.xlsx, in order, with the rows each will hold (``rejected``:
    :func:`~leadsync.report.files.rejected_frame` when the caller has it already)."""
    if rejected is None:
        rejected = rejected_frame(report.rejected_issues())
    return [
        rows_sheet(report),
        _sheet_table("Rejected", rejected, "rejected.csv", limit=XLSX_LISTED_ROWS),
        _sheet_table("Operations", operations_frame(report), "operations.jsonl"),
        _sheet_table("Kept", report.kept, None),
        _sheet_table("Drift", report.drift, None, limit=XLSX_LISTED_ROWS),
    ]


def _add_table_sheet(wb: openpyxl.Workbook, sheet: SheetTable) -> None:
    """Create the sheet with its header row (the data rows are streamed in later)."""
    ws = wb.create_sheet(sheet.title)
    table = sheet.table
    for i, width in enumerate(_column_widths(table), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    header = _header(ws, table.column_names)
    if sheet.note:
        ws.column_dimensions[get_column_letter(len(header) + 1)].width = MAX_COL_WIDTH
        header.append(_cell(ws, sheet.note, NOTE_FONT, NOTE_FILL))
    ws.append(header)
    last = get_column_letter(table.num_columns)
    ws.auto_filter.ref = f"A1:{last}{table.num_rows + 1}"


def _rows_sentence(rows: SheetTable) -> str:
    """What the Rows sheet holds, for the Summary sheet."""
    if rows.table.num_rows == rows.total_rows:
        return f"rows.csv holds every row ({rows.total_rows:,}); so does the Rows sheet."
    return (
        f"rows.csv holds every row ({rows.total_rows:,}). The Rows sheet lists "
        f"{rows.table.num_rows:,} of them (at most {XLSX_LISTED_ROWS:,}): the rows that need "
        "attention (rejected, duplicate, failed, changed, planned) first, then at most "
        f"{XLSX_ROUTINE_ROWS:,} valid or unchanged rows."
    )


def _listed_sentences(sheets: list[SheetTable]) -> list[tuple[str, str]]:
    """A line per other sheet that leaves rows out, for the Summary sheet."""
    return [
        (f"{s.title} sheet", f"It lists {s.table.num_rows:,} of {s.total_rows:,} rows. {s.note}")
        for s in sheets[1:]
        if s.note and s.table.num_rows < s.total_rows
    ]


def _summary_sheet(wb: openpyxl.Workbook, report: RunReport, sheets: list[SheetTable]) -> None:
    ws = wb.create_sheet("Summary")
    header = ["campaign", *COUNT_KEYS]
    ws.column_dimensions["A"].width = 30
    for i, key in enumerate(COUNT_KEYS, start=2):
        ws.column_dimensions[get_column_letter(i)].width = max(len(key) + 2, MIN_COL_WIDTH)
    ws.freeze_panes = "A2"
    ws.append(_header(ws, header))
    counts = report.campaign_counts()
    for name, row in counts.items():
        ws.append([safe_cell(name), *(row[k] for k in COUNT_KEYS)])
    ws.append([_cell(ws, v, LABEL_FONT) for v in ["TOTAL", *report.totals().values()]])
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(counts) + 2}"
    ws.append([])

    summary = report.summary_dict()
    wrap = Alignment(wrap_text=True, vertical="top")
    meta: list[tuple[str, object]] = [
        ("What happened", summary["headline"]),
        ("Command", summary["command"]),
        ("Job", summary["job"] or ""),
        ("Mode", summary["mode"]),
        ("Dry run", "yes" if summary["dry_run"] else "no"),
        ("Exit code", f"{summary['exit_code']} ({summary['exit_meaning']})"),
        ("Started (UTC)", summary["started_at"]),
        ("Finished (UTC)", summary["finished_at"] or ""),
        ("Duration (s)", summary["duration_s"]),
        ("Overrides", ", ".join(summary["overrides"]) or "none"),
        ("Refusal", summary["refusal"] or ""),
        ("API", ", ".join(f"{k} {v}" for k, v in summary["api"].items())),
        ("Timings (s)", ", ".join(f"{k} {v}" for k, v in summary["timings"].items())),
    ]
    meta += [
        ("Source", f"{s['path']} ({s['format']}, {s['rows']:,} rows)") for s in summary["sources"]
    ]
    meta += [("Message", m) for m in summary["messages"]]
    meta.append(("Rows", _rows_sentence(sheets[0])))
    meta += _listed_sentences(sheets)
    for label, value in meta:
        value_cell = WriteOnlyCell(ws, value=safe_cell(value))
        value_cell.alignment = wrap
        ws.append([_cell(ws, label, LABEL_FONT), value_cell])

    statuses = report.status_rows()
    if statuses:
        ws.append([])
        ws.append(_header(ws, ("campaign", "status", "before", "after")))
        for name, status, before, after in statuses:
            ws.append([safe_cell(name), safe_cell(status), before, after])


def operations_frame(report: RunReport) -> pd.DataFrame:
    """``report.operations`` as a table (one row per OpResult, as in operations.jsonl)."""
    if not report.operations:
        return pd.DataFrame(
            columns=["op_id", "kind", "campaign_id", "key", "outcome", "attempts", "message"]
        )
    return pd.DataFrame.from_records([op_result_record(op) for op in report.operations])


def write_xlsx(report: RunReport, path: Path, tick: Callable[[int], None] | None = None) -> Path:
    """Write ``report.xlsx`` at ``path`` (atomically); ``tick(rows)`` after each batch of
    table rows written. Returns ``path``."""
    return write_sheets(report, sheet_tables(report), path, tick)


def write_sheets(
    report: RunReport,
    sheets: list[SheetTable],
    path: Path,
    tick: Callable[[int], None] | None = None,
) -> Path:
    """:func:`write_xlsx` with the table sheets already chosen (:func:`sheet_tables`)."""
    wb = openpyxl.Workbook(write_only=True)
    _summary_sheet(wb, report, sheets)
    for sheet in sheets:
        _add_table_sheet(wb, sheet)
    with atomic_path(path) as tmp:
        skeleton = tmp.with_name(tmp.name + ".skeleton")
        try:
            wb.save(skeleton)
            fill_sheets(skeleton, tmp, {s.title: s.table for s in sheets}, tick)
        finally:
            skeleton.unlink(missing_ok=True)
    return path
