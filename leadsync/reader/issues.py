"""Bad rows as data: one RowIssue per rejected or duplicate row, with a sentence per code, and
the summary warning lines. Built in bulk from the few bad rows, never per accepted row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..config import Settings
from ..models import INT_FIELDS, IssueKind, RowIssue
from . import phones
from .columns import describe
from .fields import STATUS_UNKNOWN, not_integer_code
from .part import Part

DNC = "dnc"
DUPLICATE = "duplicate"
#: Rows listed in one summary warning before "…".
_ROWS_IN_WARNING = 10


@dataclass(frozen=True, slots=True)
class Row:
    """What a message needs to know about one row of all the parts together."""

    part: int
    pos: int
    file: str
    sheet: str | None
    row: int
    number: str | None
    campaign: str | None


def _rows_at(
    parts: Sequence[Part],
    starts: np.ndarray,
    numbers: pa.Array,
    campaigns: pa.Array,
    idx: np.ndarray,
) -> dict[int, Row]:
    """Rows at the global positions ``idx`` (parts laid end to end from ``starts``)."""
    which = np.searchsorted(starts, idx, side="right") - 1
    pos = idx - starts[which]
    excel_row = np.empty(len(idx), dtype=np.int64)
    for k, part in enumerate(parts):
        mine = which == k
        excel_row[mine] = part.positions[pos[mine]] + 1
    take = pa.array(idx, type=pa.int64())
    return {
        i: Row(k, p, parts[k].source.path, parts[k].source.sheet, r, number, campaign)
        for i, k, p, r, number, campaign in zip(
            idx.tolist(),
            which.tolist(),
            pos.tolist(),
            excel_row.tolist(),
            numbers.take(take).to_pylist(),
            campaigns.take(take).to_pylist(),
            strict=True,
        )
    }


def build_issues(
    parts: Sequence[Part],
    starts: np.ndarray,
    numbers: pa.Array,
    campaigns: pa.Array,
    bad: np.ndarray,
    codes: dict[int, list[str]],
    twin: np.ndarray,
    dup_kind: IssueKind,
    settings: Settings,
) -> list[RowIssue]:
    """One RowIssue per row of ``bad`` (global positions, in order): its codes, a sentence per
    code, its original cells, and the row it duplicates."""
    twins = twin[bad]
    info = _rows_at(
        parts, starts, numbers, campaigns, np.unique(np.concatenate([bad, twins[twins >= 0]]))
    )
    values: dict[int, dict[str, str]] = {}
    for k, part in enumerate(parts):
        mine = [i for i in bad.tolist() if info[i].part == k]
        if not mine:
            continue
        cells = part.source.grid.take(part.positions[[info[i].pos for i in mine]])
        for i, row_cells in zip(mine, cells, strict=True):
            values[i] = dict(zip(part.value_keys, row_cells, strict=False))
    issues = []
    for i, t in zip(bad.tolist(), twins.tolist(), strict=True):
        row = info[i]
        part = parts[row.part]
        twin_row = info[t] if t >= 0 else None
        kind = dup_kind if codes[i] == [DUPLICATE] else IssueKind.REJECTED
        message = " ".join(
            _sentence(code, part, values[i], row, twin_row, settings) for code in codes[i]
        )
        issues.append(
            RowIssue(
                file=row.file,
                sheet=row.sheet,
                row=row.row,
                kind=kind,
                codes=tuple(codes[i]),
                message=message,
                values=values[i],
                campaign=row.campaign,
                number=row.number,
                duplicate_of_row=twin_row.row if twin_row else None,
            )
        )
    return issues


_FIELD_OF_CODE = {
    STATUS_UNKNOWN: "status",
    **{not_integer_code(f): f for f in INT_FIELDS},
}


def _sentence(
    code: str,
    part: Part,
    values: dict[str, str],
    row: Row,
    twin: Row | None,
    settings: Settings,
) -> str:
    phone_header = part.headers["number"]
    phone = _original(part, "number", values)
    label = f"{phone_header} {phone.strip()!r}"
    if code == phones.PHONE_MISSING:
        return f"{phone_header} is empty."
    if code == phones.PHONE_SCIENTIFIC and "e" not in phone.lower():
        return (
            f"{label} is a number cell formatted in scientific notation (0.00E+00), so Excel "
            f"shows it rounded: format the {phone_header} column as Text and re-enter the numbers."
        )
    if code == phones.PHONE_SCIENTIFIC:
        return (
            f"{label} is in scientific notation, so Excel has rounded it: format the "
            f"{phone_header} column as Text and re-enter the numbers."
        )
    if code == phones.PHONE_DECIMAL:
        return (
            f"{label} is a decimal number, not a phone number: format the {phone_header} "
            "column as Text and re-enter it."
        )
    if code == phones.PHONE_TOO_SHORT:
        return f"{label} is too short to be a phone number."
    if code == phones.PHONE_TOO_LONG:
        return f"{label} is too long to be a phone number."
    if code == phones.PHONE_INVALID:
        return (
            f"{label} is not a valid phone number (default region "
            f"{settings.sync.region}; add the +country code)."
        )
    if code == STATUS_UNKNOWN:
        header = part.headers["status"]
        known = ", ".join(settings.sync.statuses)
        return f"{header} {_original(part, 'status', values).strip()!r} is not a known status ({known})."
    if code in _FIELD_OF_CODE:
        name = _FIELD_OF_CODE[code]
        header = part.headers[name]
        return f"{header} {_original(part, name, values).strip()!r} is not a whole number."
    if code == DNC:
        return f"{row.number} is on the do-not-call list."
    if code == DUPLICATE and twin is not None:
        where = f"row {twin.row}"
        if (twin.file, twin.sheet) != (row.file, row.sheet):
            where += f" of {describe(twin.file, twin.sheet)}"
        which = f"campaign {row.campaign!r}" if row.campaign is not None else "no campaign"
        if settings.sync.duplicate_policy == "reject":
            return f"Same number and {which} as {where}; duplicates are rejected."
        return f"Same number and {which} as {where}, which is kept."
    return code


def _original(part: Part, name: str, values: dict[str, str]) -> str:
    return values.get(part.field_keys[name], "")


def warning_lines(parts: Sequence[Part], starts: np.ndarray, kept: np.ndarray) -> list[str]:
    """One line per file (and sheet) whose kept rows had phone extensions dropped."""
    rows_by_source: dict[tuple[str, str | None], list[int]] = {}
    for k, part in enumerate(parts):
        key = (part.source.path, part.source.sheet)
        for i in sorted(part.warned):
            if phones.PHONE_EXTENSION_DROPPED in part.warned[i] and kept[starts[k] + i]:
                rows_by_source.setdefault(key, []).append(int(part.positions[i]) + 1)
    lines = []
    # In file order, then sheet order (a CSV has no sheet), as a sorted group-by gives them.
    for (path, sheet), rows in sorted(
        rows_by_source.items(), key=lambda kv: (kv[0][0], kv[0][1] is None, kv[0][1] or "")
    ):
        shown = ", ".join(str(r) for r in rows[:_ROWS_IN_WARNING])
        more = ", …" if len(rows) > _ROWS_IN_WARNING else ""
        lines.append(
            f"{describe(path, sheet)}: phone extensions dropped on {len(rows)} row(s) "
            f"({shown}{more}); the dialer gets the number without them"
        )
    return lines
