"""Which row is the header, and which column holds which lead field.

Headers are compared after :func:`header_key` (case, spaces, ``_`` and ``-`` ignored) against
the synonyms of PRODUCT.md §1; an explicit ``[columns]`` mapping (``field = "Header"``) wins over
synonyms. Two columns claiming one field is an error naming both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InputError
from .grid import Grid, column_letter

#: Lead field ← header synonyms (compared by :func:`header_key`).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "number": (
        "number",
        "phone",
        "phone number",
        "phone no",
        "phone #",
        "mobile",
        "mobile number",
        "mobile phone",
        "cell",
        "cell phone",
        "cell number",
        "telephone",
        "telephone number",
        "tel",
        "msisdn",
        "contact number",
        "lead number",
    ),
    "first_name": ("first_name", "first", "first name", "given name", "forename"),
    "last_name": ("last_name", "last", "last name", "surname", "family name"),
    "priority": ("priority", "prio"),
    "retries": ("retries", "attempts", "max attempts", "max retries"),
    "status": ("status", "lead status"),
    "campaign": ("campaign", "campaign name", "campaign id"),
    "ticket_id": ("ticket_id", "ticket", "ticket id", "case id", "case"),
    "note": ("note", "notes", "comment", "comments"),
    "type": ("type", "lead type"),
    "cool_off": ("cool_off", "cooloff", "cool off", "cooldown", "cool down"),
}
#: Blank rows tolerated above the header before the search gives up.
_MAX_BLANK_LEAD = 1_000
_IGNORED = re.compile(r"[\s_\-]+")


def header_key(text: str) -> str:
    """A header as compared with synonyms: lower case, without spaces, ``_`` and ``-``."""
    return _IGNORED.sub("", str(text)).casefold()


SYNONYM_INDEX: dict[str, str] = {
    header_key(s): field for field, names in SYNONYMS.items() for s in names
}


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """The header row found and the columns of the lead fields."""

    header_index: int  # position in the grid (0-based)
    headers: list[str]  # text of every column's header ("" when blank)
    fields: dict[str, int]  # lead field -> column position

    def header_of(self, field: str) -> str:
        return self.headers[self.fields[field]]


def _explicit_index(columns: Mapping[str, str]) -> dict[str, str]:
    return {header_key(header): field for field, header in columns.items()}


def _row_matches(cells: list[str], explicit: Mapping[str, str]) -> int:
    exact = {h.strip() for h in explicit.values()} if explicit else set()
    keys = _explicit_index(explicit)
    count = 0
    for cell in cells:
        if not cell.strip():
            continue
        key = header_key(cell)
        if cell.strip() in exact or key in keys or key in SYNONYM_INDEX:
            count += 1
    return count


def find_header(grid: Grid, explicit: Mapping[str, str], scan_rows: int) -> int | None:
    """Position of the header row among the first ``scan_rows`` non-blank rows: the row with the
    most cells naming a lead field (a synonym or an explicit ``[columns]`` header), then the most
    non-empty cells, then the earliest. None when no row names any field."""
    best: tuple[int, int] | None = None
    best_at: int | None = None
    seen = 0
    for pos, cells in enumerate(grid.rows(0, _MAX_BLANK_LEAD + scan_rows)):
        filled = sum(1 for c in cells if c.strip())
        if not filled:
            continue
        seen += 1
        if seen > scan_rows:
            break
        matches = _row_matches(cells, explicit)
        if matches and (best is None or (matches, filled) > best):
            best, best_at = (matches, filled), pos
    return best_at


def describe(path: str, sheet: str | None) -> str:
    """``path`` or ``path [sheet 'Name']`` for messages."""
    return f"{path} [sheet {sheet!r}]" if sheet else path


def map_columns(
    headers: list[str],
    explicit: Mapping[str, str],
    *,
    path: str,
    sheet: str | None,
    header_row: int,
    require_number: bool = True,
) -> dict[str, int]:
    """Lead field → column position for one header row.

    Explicit ``[columns]`` headers are matched exactly (after trimming), else by
    :func:`header_key`; a field mapped explicitly is never claimed by a synonym. Raises
    InputError when an explicit header is missing, when two columns claim one field, or (with
    ``require_number``) when no column holds the phone number."""
    where = describe(path, sheet)
    fields: dict[str, int] = {}
    claimed_by: dict[str, list[int]] = {}
    stripped = [h.strip() for h in headers]
    for field, header in explicit.items():
        positions = [i for i, h in enumerate(stripped) if h == header.strip()]
        if not positions:
            positions = [
                i for i, h in enumerate(stripped) if h and header_key(h) == header_key(header)
            ]
        if not positions:
            found = ", ".join(repr(h) for h in stripped if h) or "none"
            raise InputError(
                f"{where}: column {header!r} (mapped to {field} in [columns]) not found in the "
                f"header row {header_row}; headers found: {found}",
                path=path,
            )
        claimed_by[field] = positions
    explicit_positions = {p for ps in claimed_by.values() for p in ps}
    for i, h in enumerate(stripped):
        if not h or i in explicit_positions:
            continue
        synonym = SYNONYM_INDEX.get(header_key(h))
        if synonym is not None and synonym not in explicit:
            claimed_by.setdefault(synonym, []).append(i)
    for field, positions in claimed_by.items():
        if len(positions) > 1:
            a, b = positions[0], positions[1]
            raise InputError(
                f"{where}: columns {stripped[a]!r} ({column_letter(a)}) and {stripped[b]!r} "
                f"({column_letter(b)}) both map to {field}; name the one to use in [columns] "
                f'(e.g. {field} = "{stripped[a]}")',
                path=path,
            )
        fields[field] = positions[0]
    if require_number and "number" not in fields:
        looked = ", ".join(SYNONYMS["number"])
        if "number" in explicit:
            looked = f"{explicit['number']!r} from [columns]"
        found = ", ".join(repr(h) for h in stripped if h) or "none"
        raise InputError(
            f"no phone column in {where} (looked for: {looked}; headers found: {found})",
            path=path,
        )
    return fields
