"""Which row is the header, and which column holds which lead field.

Headers are compared after :func:`header_key` (case, spaces, ``_`` and ``-`` ignored) against
:data:`SYNONYMS` (with the headers of Google Contacts and Outlook exports and the usual
Japanese and Chinese ones); an explicit ``[columns]`` mapping (``field = "Header"``) wins over
synonyms. A column with nothing below its header never claims a field another column claims;
:data:`FALLBACK_SYNONYMS` (Outlook's business, home… phones) claim one only when no column
with a main synonym has data. Two columns with data claiming one field is an error naming both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ..errors import InputError
from .grid import Grid, column_letter, describe

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
        "phone 1 - value",  # Google Contacts
        "電話番号",  # Japanese: telephone number
        "電話",
        "携帯電話",  # Japanese: mobile phone
        "携帯番号",
        "电话",  # Chinese: telephone
        "电话号码",
        "手机",  # Chinese: mobile phone
        "手机号",
        "手机号码",
        "联系电话",  # Chinese: contact number
    ),
    "first_name": ("first_name", "first", "first name", "given name", "forename", "名"),
    "last_name": ("last_name", "last", "last name", "surname", "family name", "姓"),
    "priority": ("priority", "prio"),
    "retries": ("retries", "attempts", "max attempts", "max retries"),
    "status": ("status", "lead status"),
    "campaign": ("campaign", "campaign name", "campaign id"),
    "ticket_id": ("ticket_id", "ticket", "ticket id", "case id", "case"),
    "note": ("note", "notes", "comment", "comments"),
    "type": ("type", "lead type"),
    "cool_off": ("cool_off", "cooloff", "cool off", "cooldown", "cool down"),
}
#: Lead field ← headers that claim it only when no column with a main synonym has data:
#: Outlook exports a column for every kind of phone, most of them empty.
FALLBACK_SYNONYMS: dict[str, tuple[str, ...]] = {
    "number": (
        "business phone",
        "home phone",
        "primary phone",
        "other phone",
        "company main phone",
        "work phone",
        "phone 2 - value",
    ),
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
FALLBACK_INDEX: dict[str, str] = {
    header_key(s): field for field, names in FALLBACK_SYNONYMS.items() for s in names
}


def find_header(grid: Grid, explicit: Mapping[str, str], scan_rows: int) -> int | None:
    """Position of the header row among the first ``scan_rows`` non-blank rows: the row with the
    most cells naming a lead field (a synonym or an explicit ``[columns]`` header), then the most
    non-empty cells, then the earliest. None when no row names any field."""
    known = (
        {header_key(h) for h in explicit.values()} | SYNONYM_INDEX.keys() | FALLBACK_INDEX.keys()
    )
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
        matches = sum(1 for c in cells if c.strip() and header_key(c) in known)
        if matches and (best is None or (matches, filled) > best):
            best, best_at = (matches, filled), pos
    return best_at


def map_columns(
    headers: list[str],
    explicit: Mapping[str, str],
    *,
    path: str,
    sheet: str | None,
    header_row: int,
    require_number: bool = True,
    is_blank: Callable[[int], bool] = lambda _column: False,
    encoding: str | None = None,
) -> dict[str, int]:
    """Lead field → column position for one header row.

    Explicit ``[columns]`` headers are matched exactly (after trimming), else by
    :func:`header_key`; a field mapped explicitly is never claimed by a synonym. Of the columns a
    synonym gives one field, those with nothing below the header (``is_blank``) step aside for
    those with data; a fallback synonym claims a field only when no main one has data. Raises
    InputError when an explicit header is missing, when two columns claim one field, or (with
    ``require_number``) when no column holds the phone number (``encoding``: what a text file
    was read as, for the hint that garbled headers want ``[sync] encoding``)."""
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
    fallback: dict[str, list[int]] = {}
    for i, h in enumerate(stripped):
        if not h or i in explicit_positions:
            continue
        key = header_key(h)
        for index, claims in ((SYNONYM_INDEX, claimed_by), (FALLBACK_INDEX, fallback)):
            synonym = index.get(key)
            if synonym is not None and synonym not in explicit:
                claims.setdefault(synonym, []).append(i)
    for field, positions in list(claimed_by.items()):
        spares = fallback.get(field, [])
        if field in explicit or (len(positions) == 1 and not spares):
            continue  # nothing to choose between: no column is looked at
        filled = [p for p in positions if not is_blank(p)]
        spare = [p for p in spares if not is_blank(p)] if not filled else []
        claimed_by[field] = filled or spare or positions[:1]
    for field, positions in fallback.items():
        if field not in claimed_by:
            claimed_by[field] = [p for p in positions if not is_blank(p)] or positions[:1]
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
        raise no_phone_column(where, path, looked, stripped, encoding)
    return fields


def no_phone_column(
    where: str, path: str, looked: str, headers: list[str], encoding: str | None
) -> InputError:
    """The error for a header row without a phone column, listing what was found; for a text
    file read in a legacy encoding, a hint that garbled headers want ``[sync] encoding``."""
    found = ", ".join(repr(h) for h in headers if h) or "none"
    hint = ""
    if encoding and not encoding.lower().replace("_", "-").startswith(("utf-8", "utf-16")):
        hint = (
            f"; the file was read as {encoding}: if these headers look garbled, set [sync] "
            "encoding to the file's encoding (e.g. mac_roman, cp932, gb18030)"
        )
    return InputError(
        f"no phone column in {where} (looked for: {looked}; headers found: {found}){hint}",
        path=path,
    )
