"""Export a campaign's current leads to CSV or XLSX, streamed page by page.

Memory stays flat whatever the campaign's size: each page is written as it arrives (CSV rows
go straight to the file; XLSX uses openpyxl's write-only mode). The file appears under its
name only when complete (written beside it, then renamed), so a failed export never leaves a
truncated file that looks finished. Text cells are escaped against formula injection
(:func:`leadsync.report.safe.safe_cell`).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ..atomic import atomic_path
from ..errors import UsageError
from ..models import Campaign
from ..report.safe import RISKY_FIRST_CHARS, safe_cell

if TYPE_CHECKING:
    from .client import CampaignsClient

log = logging.getLogger(__name__)

#: Columns of an export, in order: what the listing returns, plus the creation time in UTC.
EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "campaign_id",
    "number",
    "status",
    "first_name",
    "last_name",
    "priority",
    "retries",
    "created",
    "created_utc",
)
#: File suffixes export writes.
FORMATS = (".csv", ".xlsx")
XLSX_SHEET = "Leads"
#: Distinct creation times whose UTC text is remembered (leads often share a second).
UTC_CACHE_SIZE = 65_536


def export_leads(
    client: CampaignsClient,
    campaign: Campaign | str,
    out_path: Path,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write every lead of ``campaign`` (a Campaign, or a name/id to resolve) to ``out_path``
    (``.csv`` or ``.xlsx``); returns the number of leads written.

    ``progress(n)`` is called after each page with the leads written so far. Lead fields
    beyond :data:`EXPORT_COLUMNS` that the first page shows are appended as extra columns.
    Raises UsageError for another suffix, the client's API errors (the partial file is
    removed), OSError when the file cannot be written.
    """
    out_path = Path(out_path)
    suffix = out_path.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"{out_path}: export writes .csv or .xlsx, not {suffix or 'no suffix'!r}")
    if isinstance(campaign, str):
        campaign = client.resolve_campaign(campaign)
    pages = client.iter_lead_pages(campaign.id)
    first = next(pages, [])
    extras = sorted({k for lead in first for k in lead} - set(EXPORT_COLUMNS))
    columns = (*EXPORT_COLUMNS, *extras)
    utc_at = columns.index("created_utc")
    written = 0
    with atomic_path(out_path) as tmp:
        writer = _CsvRows(tmp, columns) if suffix == ".csv" else _XlsxRows(tmp, columns)
        try:
            for page in chain([first], pages):
                writer.write([_row(lead, columns, utc_at) for lead in page])
                written += len(page)
                if progress is not None:
                    progress(written)
        finally:
            writer.close()
    log.info("exported %d leads of campaign %s to %s", written, campaign.name, out_path)
    return written


def _row(lead: Mapping[str, Any], columns: tuple[str, ...], utc_at: int) -> list[Any]:
    row = [lead.get(column) for column in columns]
    row[utc_at] = _utc(lead.get("created"))
    for i, value in enumerate(row):
        if isinstance(value, str):
            # Only a risky first character can make a formula: skip the call otherwise.
            if value and value[0] in RISKY_FIRST_CHARS:
                row[i] = safe_cell(value)
        elif isinstance(value, dict | list):
            row[i] = safe_cell(str(value))
    return row


@lru_cache(maxsize=UTC_CACHE_SIZE)
def _utc(created: Any) -> str | None:
    if isinstance(created, bool) or not isinstance(created, int | float):
        return None
    try:
        stamp = datetime.fromtimestamp(int(created), UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None
    return stamp.replace("+00:00", "Z")


class _CsvRows:
    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        # utf-8-sig: Excel opens it with the right encoding.
        self._fh: IO[str] = path.open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._fh)
        self._writer.writerow(columns)

    def write(self, rows: list[list[Any]]) -> None:
        self._writer.writerows(["" if v is None else v for v in row] for row in rows)

    def close(self) -> None:
        self._fh.close()


class _XlsxRows:
    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self._path = path
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet(XLSX_SHEET)
        self._sheet.append(list(columns))

    def write(self, rows: list[list[Any]]) -> None:
        # openpyxl refuses control characters in text; they have no business in a lead anyway.
        sub = ILLEGAL_CHARACTERS_RE.sub
        for row in rows:
            self._sheet.append([sub("", v) if isinstance(v, str) else v for v in row])

    def close(self) -> None:
        self._book.save(self._path)
