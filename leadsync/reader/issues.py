"""Bad rows as data: one RowIssue per rejected or duplicate row, with a sentence per code, and
the summary warning lines. Built in bulk from the few bad rows, never per accepted row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..config import Settings
from ..models import INT_FIELDS, IssueKind, RowIssue
from . import phones
from .fields import STATUS_UNKNOWN, not_integer_code
from .grid import describe
from .part import Part

DNC = "dnc"
CAMPAIGN_UNKNOWN = "campaign-unknown"
CAMPAIGN_MISSING = "campaign-missing"
#: The sentence of ``campaign-missing``.
NO_CAMPAIGN_SENTENCE = "This row names no campaign and none was given (--campaign)."
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


class _Rows:
    """What messages need to know about the rows at the global positions ``idx`` (sorted,
    distinct; parts laid end to end from ``starts``), kept as arrays and lists: a Row object
    is built only for the few messages that name another row."""

    def __init__(
        self,
        parts: Sequence[Part],
        starts: np.ndarray,
        numbers: pa.Array,
        campaigns: pa.Array,
        idx: np.ndarray,
    ) -> None:
        self.parts = parts
        self.idx = idx
        self.part = np.searchsorted(starts, idx, side="right") - 1
        self.pos = idx - starts[self.part]
        self.excel_row = np.empty(len(idx), dtype=np.int64)
        for k, part in enumerate(parts):
            mine = self.part == k
            self.excel_row[mine] = part.positions[self.pos[mine]] + 1
        take = pa.array(idx, type=pa.int64())
        self.numbers = numbers.take(take).to_pylist()
        self.campaigns = campaigns.take(take).to_pylist()

    def at(self, i: np.ndarray) -> np.ndarray:
        """Where the global positions ``i`` are in ``idx``."""
        return np.searchsorted(self.idx, i)

    def row(self, j: int) -> Row:
        k = int(self.part[j])
        source = self.parts[k].source
        return Row(
            k,
            int(self.pos[j]),
            source.path,
            source.sheet,
            int(self.excel_row[j]),
            self.numbers[j],
            self.campaigns[j],
        )


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
    *,
    campaign_sentences: Mapping[str, str] | None = None,
) -> list[RowIssue]:
    """One RowIssue per row of ``bad`` (global positions, in order): its codes, a sentence per
    code, its original cells, and the row it duplicates. ``campaign_sentences``: why each
    campaign name of a ``campaign-unknown`` row does not exist."""
    twins = twin[bad]
    needed = np.sort(np.concatenate([bad, twins[twins >= 0]]))
    needed = needed[np.r_[True, needed[1:] != needed[:-1]]] if len(needed) else needed
    info = _Rows(parts, starts, numbers, campaigns, needed)
    at = info.at(bad)
    twin_at = np.where(twins >= 0, info.at(np.maximum(twins, 0)), -1)
    part_of = info.part[at]
    values: list[dict[str, str]] = [{}] * len(bad)
    for k, part in enumerate(parts):
        mine = np.flatnonzero(part_of == k)
        if not len(mine):
            continue
        cells = part.source.grid.take(part.positions[info.pos[at[mine]]])
        keys = part.value_keys
        for m, row_cells in zip(mine.tolist(), cells, strict=True):
            values[m] = dict(zip(keys, row_cells, strict=False))
    sentences = [_PhoneSentences(part, settings) for part in parts]
    sources = [(part.source.path, part.source.sheet) for part in parts]
    issues = []
    for m, (i, j, t) in enumerate(zip(bad.tolist(), at.tolist(), twin_at.tolist(), strict=True)):
        k = int(part_of[m])
        row_codes = codes[i]
        vals = values[m]
        phone = sentences[k]
        said = [phone.sentence(code, vals) for code in row_codes]
        if None in said:  # codes whose sentence names the row or another one
            row, twin_row = info.row(j), info.row(t) if t >= 0 else None
            said = [
                s
                if s is not None
                else _sentence(code, parts[k], vals, row, twin_row, settings, campaign_sentences)
                for s, code in zip(said, row_codes, strict=True)
            ]
        kind = dup_kind if row_codes == [DUPLICATE] else IssueKind.REJECTED
        file, sheet = sources[k]
        issues.append(
            RowIssue(
                file=file,
                sheet=sheet,
                row=int(info.excel_row[j]),
                kind=kind,
                codes=tuple(row_codes),
                message=" ".join(said),  # type: ignore[arg-type]  # no None left
                values=vals,
                campaign=info.campaigns[j],
                number=info.numbers[j],
                duplicate_of_row=int(info.excel_row[t]) if t >= 0 else None,
            )
        )
    return issues


class _PhoneSentences:
    """The sentences of the phone codes for one part, their fixed text prepared once (the
    many rejected numbers of a large file each need one)."""

    def __init__(self, part: Part, settings: Settings) -> None:
        header = part.headers["number"]
        self.header = header
        self.key = part.field_keys["number"]
        self.missing = f"{header} is empty."
        self.tails = {
            phones.PHONE_TOO_SHORT: " is too short to be a phone number.",
            phones.PHONE_TOO_LONG: " is too long to be a phone number.",
            phones.PHONE_INVALID: (
                f" is not a valid phone number (default region {settings.sync.region}; "
                "add the +country code)."
            ),
            phones.PHONE_DECIMAL: (
                f" is a decimal number, not a phone number: format the {header} "
                "column as Text and re-enter it."
            ),
        }

    def sentence(self, code: str, values: dict[str, str]) -> str | None:
        """The sentence of a phone code (None for other codes)."""
        tail = self.tails.get(code)
        if tail is not None:
            return f"{self.header} {values.get(self.key, '').strip()!r}{tail}"
        if code == phones.PHONE_MISSING:
            return self.missing
        if code == phones.PHONE_SCIENTIFIC:
            return _scientific(self.header, values.get(self.key, ""))
        return None


def _scientific(header: str, phone: str) -> str:
    label = f"{header} {phone.strip()!r}"
    if "e" not in phone.lower():
        return (
            f"{label} is a number cell formatted in scientific notation (0.00E+00), so Excel "
            f"shows it rounded: format the {header} column as Text and re-enter the numbers."
        )
    return (
        f"{label} is in scientific notation, so Excel has rounded it: format the "
        f"{header} column as Text and re-enter the numbers."
    )


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
    campaign_sentences: Mapping[str, str] | None = None,
) -> str:
    phone_header = part.headers["number"]
    phone = _original(part, "number", values)
    label = f"{phone_header} {phone.strip()!r}"
    if code == phones.PHONE_MISSING:
        return f"{phone_header} is empty."
    if code == phones.PHONE_SCIENTIFIC:
        return _scientific(phone_header, phone)
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
    if code == CAMPAIGN_UNKNOWN and campaign_sentences and row.campaign is not None:
        return campaign_sentences.get(row.campaign, code)
    if code == CAMPAIGN_MISSING:
        return NO_CAMPAIGN_SENTENCE
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
