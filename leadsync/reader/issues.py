"""Bad rows as data: one RowIssue per rejected or duplicate row, with a sentence per code, and
the summary warning lines. Built in bulk from the few bad rows, never per accepted row.

A large file can reject hundreds of thousands of rows for their phone number: those sentences
(``<header> <repr of the trimmed cell><tail>``) are made with Arrow kernels over the column
(:func:`_quoted`); only the rarer codes get theirs one row at a time (:func:`_sentence`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..config import Settings
from ..models import INT_FIELDS, IssueKind
from ..sync.issuetable import IssueTable, ValueBlock
from .arrowtext import LS as TEXT
from .arrowtext import as_bool, put
from .fields import STATUS_UNKNOWN, not_integer_code
from .grid import describe
from .part import Part
from .phoneref import (
    PHONE_DECIMAL,
    PHONE_EXTENSION_DROPPED,
    PHONE_INVALID,
    PHONE_MISSING,
    PHONE_SCIENTIFIC,
    PHONE_TOO_LONG,
    PHONE_TOO_SHORT,
)

DNC = "dnc"
CAMPAIGN_UNKNOWN = "campaign-unknown"
CAMPAIGN_MISSING = "campaign-missing"
#: The sentence of ``campaign-missing``.
NO_CAMPAIGN_SENTENCE = "This row names no campaign and none was given (--campaign)."
DUPLICATE = "duplicate"
#: Rows listed in one summary warning before "…".
_ROWS_IN_WARNING = 10
#: Cells whose ``repr(cell.strip())`` is ``'`` + the cell trimmed of spaces + ``'``.
_PLAIN = r"^[ -&(-\[\]-~]*$"


@dataclass(frozen=True, slots=True)
class Row:
    """What a message needs to know about one row of all the parts together."""

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
        self.numbers = numbers.take(take)
        self.campaigns = campaigns.take(take)

    def at(self, i: np.ndarray) -> np.ndarray:
        """Where the global positions ``i`` are in ``idx``."""
        return np.searchsorted(self.idx, i)

    def row(self, j: int) -> Row:
        source = self.parts[int(self.part[j])].source
        return Row(
            source.path,
            source.sheet,
            int(self.excel_row[j]),
            self.numbers[j].as_py(),
            self.campaigns[j].as_py(),
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
    campaign_sentences: Mapping[str, str],
) -> IssueTable:
    """One issue per row of ``bad`` (global positions, in order): its codes, a sentence per
    code, its original cells, and the row it duplicates, as an :class:`IssueTable`.
    ``campaign_sentences``: why each campaign name of a ``campaign-unknown`` row does not
    exist.

    The common sentences (phone codes, no campaign) are made column-wise; rows with other
    codes get theirs one by one."""
    n = len(bad)
    twins = twin[bad]
    needed = np.unique(np.concatenate([bad, twins[twins >= 0]]))
    info = _Rows(parts, starts, numbers, campaigns, needed)
    at = info.at(bad)
    twin_at = np.where(twins >= 0, info.at(np.maximum(twins, 0)), -1)
    part_of = info.part[at]
    code_lists = [codes[i] for i in bad.tolist()]
    code_text = [";".join(c) for c in code_lists]
    codes_column = pa.array(code_text, TEXT)
    # Per part: its issues are consecutive (parts are laid end to end, ``bad`` is sorted).
    bounds = np.searchsorted(part_of, np.arange(len(parts) + 1))
    block_of: dict[int, ValueBlock] = {}  # part -> the original cells of its issues
    for k, part in enumerate(parts):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        if hi <= lo:
            continue
        grid_rows = pa.array(part.positions[info.pos[at[lo:hi]]], type=pa.int64())
        taken: dict[int, pa.Array] = {}
        columns = tuple(
            taken.setdefault(id(col), col.take(grid_rows))
            for col in part.source.grid.columns[: len(part.value_keys)]
        )
        block_of[k] = ValueBlock(lo, tuple(part.value_keys[: len(columns)]), columns)
    blocks = list(block_of.values())  # in part order
    pieces: list[tuple[np.ndarray, pa.Array]] = []  # (issues, their messages)
    # Issues grouped by (part, codes): each code's sentences are made for a whole group.
    encoded = codes_column.dictionary_encode()
    texts = encoded.dictionary.to_pylist()
    code_of = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    group_key = part_of.astype(np.int64) * max(len(texts), 1) + code_of
    order = np.argsort(group_key, kind="stable")
    cuts = np.flatnonzero(np.diff(group_key[order])) + 1
    for members in np.split(order, cuts) if n else []:
        k = int(part_of[members[0]])
        part, block = parts[k], block_of[k]
        values: list[dict[str, str]] | None = None
        said: list[pa.Array] = []
        for code in texts[int(code_of[members[0]])].split(";"):
            column = _column_sentence(code, part, block, members, settings)
            if column is None:  # one row at a time
                values = _values_of(block, members) if values is None else values
                one_by_one = [
                    _sentence(
                        code,
                        part,
                        vals,
                        info.row(int(at[m])),
                        info.row(int(twin_at[m])) if twin_at[m] >= 0 else None,
                        settings,
                        campaign_sentences,
                    )
                    for m, vals in zip(members.tolist(), values, strict=True)
                ]
                column = pa.array(one_by_one, TEXT)
            said.append(column)
        joined = (
            said[0] if len(said) == 1 else pc.binary_join_element_wise(*said, pa.scalar(" ", TEXT))
        )
        pieces.append((members, joined))
    message = pa.array([], TEXT)
    if pieces:  # every issue is in one piece: lay the pieces end to end, then in issue order
        order = np.empty(n, dtype=np.int64)
        order[np.concatenate([p for p, _ in pieces])] = np.arange(n)
        message = pa.concat_arrays([a.cast(TEXT) for _, a in pieces]).take(pa.array(order))
    is_dup = pc.equal(codes_column, pa.scalar(DUPLICATE, TEXT))
    kinds = pc.if_else(
        is_dup, pa.scalar(dup_kind.value, TEXT), pa.scalar(IssueKind.REJECTED.value, TEXT)
    )
    files = [p.source.path for p in parts]
    sheets = [p.source.sheet for p in parts]
    part_idx = pa.array(part_of.astype(np.int64))
    dup_rows = np.where(twin_at >= 0, info.excel_row[np.maximum(twin_at, 0)], 0)
    table = pa.table(
        {
            "file": pa.array(files, TEXT).take(part_idx),
            "sheet": pa.array(sheets, TEXT).take(part_idx),
            "row": pa.array(info.excel_row[at], pa.int64()),
            "kind": kinds,
            "codes": codes_column,
            "message": message,
            "campaign": info.campaigns.take(pa.array(at, pa.int64())),
            "number": info.numbers.take(pa.array(at, pa.int64())),
            "duplicate_of_row": pa.array(dup_rows, pa.int64(), mask=twin_at < 0),
        }
    )
    return IssueTable(table, blocks)


def _column_sentence(
    code: str, part: Part, block: ValueBlock, members: np.ndarray, settings: Settings
) -> pa.Array | None:
    """The sentence of ``code`` for each of the issues ``members`` of ``part`` (original cells
    in ``block``), made column-wise; None when ``code``'s are made one row at a time."""
    header = part.headers["number"]
    tails = _phone_tails(settings.sync.region, header)
    if code == CAMPAIGN_MISSING:
        return pa.repeat(pa.scalar(NO_CAMPAIGN_SENTENCE, TEXT), len(members))
    if code == PHONE_MISSING:
        return pa.repeat(pa.scalar(f"{header} is empty.", TEXT), len(members))
    if code not in tails:
        return None
    cells = block.column(part.field_keys["number"])
    local = pa.array(members.astype(np.int64) - block.start, pa.int64())
    number_cells = (
        cells.take(local) if cells is not None else pa.repeat(pa.scalar("", TEXT), len(members))
    )
    pieces = (pa.scalar(f"{header} ", TEXT), _quoted(number_cells), pa.scalar(tails[code], TEXT))
    return pc.binary_join_element_wise(*pieces, pa.scalar("", TEXT))


def _phone_tails(region: str, header: str) -> dict[str, str]:
    """The text after ``<header> <cell>`` of each phone code whose sentence quotes the cell."""
    return {
        PHONE_TOO_SHORT: " is too short to be a phone number.",
        PHONE_TOO_LONG: " is too long to be a phone number.",
        PHONE_INVALID: (
            f" is not a valid phone number (default region {region}; add the +country code)."
        ),
        PHONE_DECIMAL: (
            f" is a decimal number, not a phone number: format the {header} "
            "column as Text and re-enter it."
        ),
    }


def _quoted(cells: pa.Array) -> pa.Array:
    """``repr(cell.strip())`` of every cell (a null cell as ``''``): by Arrow kernels for the
    plain ones (printable ASCII without ``'`` or ``\\``), by Python for the others."""
    cells = pc.fill_null(cells.cast(TEXT), "")
    plain = as_bool(pc.match_substring_regex(cells, _PLAIN))
    fast = pc.binary_join_element_wise(
        pa.scalar("'", TEXT), pc.utf8_trim(cells, " "), pa.scalar("'", TEXT), pa.scalar("", TEXT)
    )
    if plain.all():
        return fast
    others = cells.take(pa.array(np.flatnonzero(~plain), pa.int64())).to_pylist()
    return put(fast, ~plain, pa.array([repr(v.strip()) for v in others], TEXT))


def _values_of(block: ValueBlock, members: np.ndarray) -> list[dict[str, str]]:
    """The ``values`` dicts of the issues ``members`` (all in ``block``)."""
    local = pa.array(members.astype(np.int64) - block.start, pa.int64())
    cells = [c.take(local).to_pylist() for c in block.columns]
    return [dict(zip(block.keys, row, strict=False)) for row in zip(*cells, strict=True)]


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
    campaign_sentences: Mapping[str, str],
) -> str:
    if code == PHONE_SCIENTIFIC:
        return _scientific(part.headers["number"], _original(part, "number", values))
    if code in _FIELD_OF_CODE:
        name = _FIELD_OF_CODE[code]
        cell = f"{part.headers[name]} {_original(part, name, values).strip()!r}"
        if code == STATUS_UNKNOWN:
            return f"{cell} is not a known status ({', '.join(settings.sync.statuses)})."
        return f"{cell} is not a whole number."
    if code == DNC:
        return f"{row.number} is on the do-not-call list."
    if code == CAMPAIGN_UNKNOWN and row.campaign is not None:
        return campaign_sentences.get(row.campaign, code)
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
            if PHONE_EXTENSION_DROPPED in part.warned[i] and kept[starts[k] + i]:
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
