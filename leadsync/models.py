"""Plain values passed between the pipeline stages. No I/O here.

Tables of many leads travel as pandas DataFrames with the fixed columns named below (so that
the reader, the diff and the report stay vectorized at a million rows); small things travel as
frozen dataclasses.

Desired leads (``ReadResult.leads``, one row per accepted input row):
    ``campaign`` (text as given in the file / --campaign, NA when absent), the lead fields of
    ``LEAD_FIELDS`` (``number`` is E.164; text fields are ``string`` dtype, integer fields are
    ``Int64``; NA means "not given" and is never sent), and the source columns ``file``,
    ``sheet``, ``row`` (the row number as Excel shows it), plus ``warnings`` (";"-joined codes).
Remote leads (fetched from the API): ``REMOTE_COLUMNS``; ``key`` is the number normalized the
    same way as the file's (falling back to digits only), ``number`` is the raw remote text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pandas as pd

# --- lead fields -------------------------------------------------------------------------
#: Every field the add-lead call accepts, in the document's order.
LEAD_FIELDS: tuple[str, ...] = (
    "number",
    "retries",
    "first_name",
    "last_name",
    "type",
    "priority",
    "ticket_id",
    "note",
    "cool_off",
)
#: Fields that are integers on the wire.
INT_FIELDS: tuple[str, ...] = ("retries", "priority", "cool_off")
#: Fields a file may carry besides the add-lead body.
EXTRA_INPUT_FIELDS: tuple[str, ...] = ("status", "campaign")
#: Every field a column can map to.
INPUT_FIELDS: tuple[str, ...] = LEAD_FIELDS + EXTRA_INPUT_FIELDS
#: Fields the listing endpoint returns, so the only ones drift can be checked on.
LISTED_FIELDS: tuple[str, ...] = ("first_name", "last_name", "priority", "retries")
#: Where a row came from.
SOURCE_COLUMNS: tuple[str, ...] = ("file", "sheet", "row")
#: Columns of the desired-leads table.
DESIRED_COLUMNS: tuple[str, ...] = ("campaign", *LEAD_FIELDS, "status", *SOURCE_COLUMNS, "warnings")
#: Columns of the remote-leads table.
REMOTE_COLUMNS: tuple[str, ...] = (
    "id",
    "campaign_id",
    "key",
    "number",
    "status",
    "retries",
    "first_name",
    "last_name",
    "priority",
    "created",
)

#: Statuses the document shows; tenants may have more (config ``sync.statuses``).
DEFAULT_STATUSES: tuple[str, ...] = ("new", "success", "failed")


def _empty(columns: tuple[str, ...], ints: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c in ints else "string") for c in columns})


def empty_desired() -> pd.DataFrame:
    """An empty desired-leads table with the right columns and dtypes."""
    return _empty(DESIRED_COLUMNS, (*INT_FIELDS, "row"))


def empty_remote() -> pd.DataFrame:
    """An empty remote-leads table with the right columns and dtypes."""
    return _empty(REMOTE_COLUMNS, ("retries", "priority", "created"))


# --- reading -------------------------------------------------------------------------------
class IssueKind(StrEnum):
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A row that was not accepted: bad rows are data, not exceptions.

    ``codes`` are stable strings (``phone-invalid``, ``phone-missing``, ``phone-scientific``,
    ``priority-not-integer``, ``status-unknown``, ``campaign-unknown``, ``duplicate``, ``dnc``…);
    ``message`` is one sentence a person can act on; ``values`` are the row's original cells by
    header, so ``rejected.csv`` can be fixed and loaded again.
    """

    file: str
    sheet: str | None
    row: int
    kind: IssueKind
    codes: tuple[str, ...]
    message: str
    values: dict[str, str]
    campaign: str | None = None
    number: str | None = None  # normalized when it could be
    duplicate_of_row: int | None = None


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One file (and sheet) that was read."""

    path: str
    sha256: str
    format: str  # csv, xlsx, xls, ods
    sheet: str | None
    encoding: str | None
    delimiter: str | None
    header_row: int  # as Excel shows it
    rows: int  # data rows read
    columns: dict[str, str]  # lead field -> header it came from


@dataclass(slots=True)
class ReadResult:
    """What the reader returns: accepted leads, issues per bad row, and what was read."""

    leads: pd.DataFrame
    issues: Sequence[RowIssue] = field(default_factory=list)  # an IssueTable (sync layer)
    sources: list[SourceInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.leads) + len(self.issues)


# --- campaigns -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign as the counts endpoint describes it."""

    id: str
    name: str
    status: str | None = None
    total_leads: int | None = None
    leads_by_status: dict[str, int] = field(default_factory=dict)


# --- operations ----------------------------------------------------------------------------
class OpKind(StrEnum):
    ADD = "add"
    SET_STATUS = "set_status"
    DELETE = "delete"


class OpOutcome(StrEnum):
    DONE = "done"  # the call succeeded
    FAILED = "failed"  # the call failed for good (400, retries exhausted…)
    UNCERTAIN = "uncertain"  # an add whose outcome is unknown; settled after a re-read
    SETTLED_PRESENT = "settled_present"  # uncertain add found present on re-read: done
    SKIPPED = "skipped"  # not started (interrupted, or a guard)


@dataclass(frozen=True, slots=True)
class Operation:
    """One planned API call. ``reason`` says why the plan contains it."""

    op_id: int
    kind: OpKind
    campaign_id: str
    campaign: str  # name, for people
    key: str  # the lead's normalized number
    reason: str  # not-in-campaign | status-differs | absent-from-file | drift-replace | remote-duplicate
    lead_id: str | None = None  # set_status / delete
    status: str | None = None  # set_status target
    body: dict[str, Any] | None = None  # add body (only given fields)
    source: tuple[str, str | None, int] | None = None  # (file, sheet, row) of the input row
    # Dependency: the op_id (always smaller) that must have succeeded before this op starts;
    # if it did not, this op is skipped. Used for drift-replace (DELETE, then ADD) and for the
    # status an added lead must get (ADD, then SET_STATUS with lead_id None: the id is learned
    # by re-reading the campaign and finding ``key``). See plan.py.
    after: int | None = None


@dataclass(frozen=True, slots=True)
class OpResult:
    """How one operation ended; one line of ``operations.jsonl``."""

    op_id: int
    kind: OpKind
    campaign_id: str
    key: str
    outcome: OpOutcome
    attempts: int
    http_status: int | None = None
    message: str = ""
    method: str | None = None  # the verb that worked for adds (PUT or POST fallback)
    lead_id: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0


# --- counts for the report -----------------------------------------------------------------
#: Labels under which rows are counted that name no existing campaign (never a real campaign:
#: headlines do not count them as campaigns).
UNKNOWN_CAMPAIGN = "(unknown campaign)"
NO_CAMPAIGN_GIVEN = "(none)"
#: Rows that name no campaign (``validate`` without ``--campaign``).
NO_CAMPAIGN = "(no campaign)"
PSEUDO_CAMPAIGNS = frozenset({UNKNOWN_CAMPAIGN, NO_CAMPAIGN_GIVEN, NO_CAMPAIGN})


class Count(StrEnum):
    """The per-campaign (and totals) keys of ``summary.json`` (docs/design.md, 'Reporting'), in
    order: the one place they are spelled (a member equals its text, so it indexes any dict of
    counts)."""

    ROWS_READ = "rows_read"
    ROWS_VALID = "rows_valid"
    ROWS_REJECTED = "rows_rejected"
    ROWS_DUPLICATE = "rows_duplicate"
    PLANNED_ADD = "planned_add"
    PLANNED_DELETE = "planned_delete"
    PLANNED_STATUS = "planned_status"
    UNCHANGED = "unchanged"
    DRIFT = "drift"
    KEPT = "kept"
    ADDED = "added"
    DELETED = "deleted"
    STATUS_SET = "status_set"
    FAILED = "failed"
    NOT_STARTED = "not_started"
    RESIDUAL = "residual"
    REMOTE_BEFORE = "remote_before"
    REMOTE_AFTER = "remote_after"


#: The :class:`Count` keys as plain text, in order.
COUNT_KEYS: tuple[str, ...] = tuple(k.value for k in Count)


class ApplyCount(StrEnum):
    """The keys of ``ApplyResult.counts`` (what an apply did), in report order."""

    ADDED = "added"
    DELETED = "deleted"
    STATUS_SET = "status_set"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    UNCERTAIN_SETTLED = "uncertain_settled"
    SKIPPED = "skipped"


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


class RowOutcome(StrEnum):
    """What became of an input row (the ``outcome`` column of ``rows.csv``), in report order.
    ``valid`` is what ``validate`` gives an accepted row."""

    ADDED = "added"
    UNCHANGED = "unchanged"
    STATUS_SET = "status_set"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    NOT_STARTED = "not_started"
    PLANNED_ADD = "planned_add"
    PLANNED_STATUS = "planned_status"
    VALID = "valid"


#: Columns of ``RunReport.rows`` and ``rows.csv``, in order.
ROW_COLUMNS: tuple[str, ...] = (
    "file",
    "sheet",
    "row",
    "campaign",
    "number",
    "outcome",
    "lead_id",
    "reasons",
    "message",
)


def empty_rows() -> pd.DataFrame:
    """An empty rows table with :data:`ROW_COLUMNS` (``row`` is ``Int64``, the rest text)."""
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "row" else "str") for c in ROW_COLUMNS})
