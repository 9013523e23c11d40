"""The text files of a report folder: summary.json, rows.csv, rejected.csv, operations.jsonl,
before.csv. Every file is written atomically (:func:`atomic_path`), so a reader never sees half
a file, and every CSV cell goes through :mod:`leadsync.report.safe`.

CSV files are UTF-8 with a byte-order mark (so Excel shows accents right; pandas and
leadsync's reader skip it), comma-separated, every text value in double quotes, a missing value
as an empty field.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..atomic import atomic_path as _atomic_path
from ..atomic import open_mode, write_atomic
from ..models import OpResult, RowIssue
from ..sync.issuetable import IssueTable
from .folder import BEFORE_FILE, OPERATIONS_FILE, REJECTED_FILE, ROWS_FILE, SUMMARY_FILE
from .model import ROW_COLUMNS, RunReport
from .safe import is_text_dtype, safe_series, safe_text

CSV_ENCODING = "utf-8-sig"
CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")
#: Columns rejected.csv adds after the file's own columns (``error`` last).
REJECTED_EXTRA_COLUMNS: tuple[str, ...] = ("source_file", "source_sheet", "source_row", "error")
#: Rows per batch handed to the CSV writer (and per progress tick).
CSV_BATCH_ROWS = 100_000

#: ``tick(n)``: ``n`` more rows were written (drives the report's progress bar).
Tick = Callable[[int], None]


def atomic_path(target: Path, *, durable: bool = False) -> AbstractContextManager[Path]:
    """A report file's atomic write (:func:`leadsync.atomic.atomic_path`), with the permissions
    a plain ``open`` would give it. ``durable`` (fsynced) only for the records a machine or a
    restore relies on (summary.json, operations.jsonl, before.csv): syncing the large files
    for people costs time, and a crash still leaves each of them old or whole."""
    return _atomic_path(target, mode=open_mode(), durable=durable)


def _json_default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_summary(report: RunReport, folder: Path) -> Path:
    """``summary.json`` (:meth:`RunReport.summary_dict`, indented, UTF-8)."""
    path = folder / SUMMARY_FILE
    text = json.dumps(report.summary_dict(), indent=2, ensure_ascii=False, default=_json_default)
    write_atomic(path, text + "\n", mode=open_mode())
    return path


def arrow_column(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """One column made safe (:mod:`leadsync.report.safe`) as an Arrow array: text columns
    with Arrow kernels, object columns (mixed numbers and text) as text, others as they are."""
    if is_text_dtype(values.dtype):
        return safe_text(pa.array(values, from_pandas=True))
    if values.dtype == object:
        return pa.array(safe_series(values).astype("str"), from_pandas=True)
    return pa.array(values, from_pandas=True)


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table of :func:`arrow_column` columns (index dropped)."""
    columns = [arrow_column(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return pa.Table.from_arrays(columns, names=[str(c) for c in frame.columns])


def _write_csv(
    frame: pd.DataFrame, path: Path, tick: Tick | None = None, *, durable: bool = False
) -> Path:
    """Write ``frame`` (escaped by :func:`arrow_column`) as CSV, atomically (``durable``: see
    :func:`atomic_path`), with pyarrow's CSV writer (far less CPU than ``DataFrame.to_csv``),
    :data:`CSV_BATCH_ROWS` rows at a time (``tick(rows)`` after each)."""
    table = arrow_table(frame)
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow([str(c) for c in frame.columns])
    with atomic_path(path, durable=durable) as tmp, tmp.open("wb") as fh:
        fh.write(header.getvalue().encode(CSV_ENCODING))
        if table.num_rows:
            with pacsv.CSVWriter(fh, table.schema, write_options=CSV_OPTIONS) as out:
                for batch in table.to_batches(max_chunksize=CSV_BATCH_ROWS):
                    out.write_batch(batch)
                    if tick is not None:
                        tick(batch.num_rows)
    return path


def rows_frame(report: RunReport) -> pd.DataFrame:
    """``report.rows`` with exactly :data:`ROW_COLUMNS` (missing columns empty)."""
    rows = report.rows
    missing = [c for c in ROW_COLUMNS if c not in rows.columns]
    if missing:
        rows = rows.assign(**{c: pd.NA for c in missing})
    return rows.loc[:, list(ROW_COLUMNS)]


def write_rows(report: RunReport, folder: Path, tick: Tick | None = None) -> Path:
    """``rows.csv``: one line per input row, :data:`ROW_COLUMNS` (``tick(n)`` per batch)."""
    return _write_csv(rows_frame(report), folder / ROWS_FILE, tick)


def rejected_frame(issues: Iterable[RowIssue]) -> pd.DataFrame:
    """The rejected rows with their original columns (union of headers, in the order first
    seen), then :data:`REJECTED_EXTRA_COLUMNS`.

    Columns of an earlier rejected.csv that was fixed and loaded again (``error``,
    ``source_*``) are replaced, not repeated. ``error`` reads ``codes: sentence``. Built from
    the issues' columns (:class:`~leadsync.sync.issuetable.IssueTable`): text columns are
    Arrow-backed, ``source_row`` is ``Int64``.
    """
    table = IssueTable.from_issues(issues)
    extra = set(REJECTED_EXTRA_COLUMNS)
    fixed = table.table
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        key: table.value_column(key) for key in table.value_keys() if key not in extra
    }
    columns["source_file"] = fixed["file"]
    columns["source_sheet"] = fixed["sheet"]
    columns["source_row"] = fixed["row"]
    columns["error"] = pc.binary_join_element_wise(
        fixed["codes"], fixed["message"], pa.scalar(": ", pa.large_string())
    )
    text = pa.large_string()
    table = pa.table({k: v if k == "source_row" else v.cast(text) for k, v in columns.items()})
    return table.to_pandas(
        types_mapper={pa.int64(): pd.Int64Dtype(), text: pd.StringDtype("pyarrow")}.get
    )


def write_rejected(
    report: RunReport,
    folder: Path,
    tick: Tick | None = None,
    *,
    frame: pd.DataFrame | None = None,
) -> Path:
    """``rejected.csv``: see :func:`rejected_frame` (header only when nothing was rejected);
    ``frame`` is that table when the caller has built it already."""
    if frame is None:
        frame = rejected_frame(report.rejected_issues())
    return _write_csv(frame, folder / REJECTED_FILE, tick)


def op_result_record(result: OpResult) -> dict[str, Any]:
    """One ``operations.jsonl`` object (and Operations sheet row): the OpResult's fields,
    enums as their text."""
    return {k: v.value if isinstance(v, Enum) else v for k, v in asdict(result).items()}


def write_operations(report: RunReport, folder: Path) -> Path:
    """``operations.jsonl`` from ``report.operations`` — only when the apply stage has not
    already written it live (that journal is the exact record and is never overwritten)."""
    path = folder / OPERATIONS_FILE
    if path.exists():
        return path
    lines = [
        json.dumps(op_result_record(op), ensure_ascii=False, default=_json_default) + "\n"
        for op in report.operations
    ]
    write_atomic(path, "".join(lines), mode=open_mode())
    return path


def write_before_csv(remote: pd.DataFrame, folder: Path) -> Path:
    """Save a campaign's current leads to ``before.csv`` in ``folder`` (created if needed).

    Call it BEFORE any delete. Called again in the same run (another campaign), the new rows
    are appended below the earlier ones. Returns the path. Raises OSError when the folder
    cannot be written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / BEFORE_FILE
    frame = remote
    if path.exists():
        earlier = pd.read_csv(
            path, dtype="str", keep_default_na=False, na_values=[""], encoding=CSV_ENCODING
        )
        frame = pd.concat([earlier, remote.astype("str")], ignore_index=True)
    return _write_csv(frame, path, durable=True)  # the copy to restore from: on disk first
