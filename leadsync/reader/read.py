"""read_sources: files → text grids → header and columns → normalized leads + row issues.

Per source (a file, or one sheet of a workbook): find the header, map the columns, normalize
each field over its whole column, and give every bad row its codes. Then, over all sources
together: the do-not-call list, and duplicates by (campaign, number).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..config import Settings
from ..errors import InputError
from ..models import (
    DESIRED_COLUMNS,
    INT_FIELDS,
    IssueKind,
    ReadResult,
    RowIssue,
    SourceInfo,
    empty_desired,
)
from . import phones
from .columns import describe, find_header, map_columns
from .fields import (
    STATUS_UNKNOWN,
    normalize_integer,
    normalize_status,
    normalize_text,
    not_integer_code,
)
from .limits import DEFAULT_LIMITS, Limits
from .textfile import column_letter, read_text_table
from .workbook import ALL_SHEETS, read_workbook, scientific_cells

Progress = Callable[[str, int, int | None], None]

TEXT_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".tab": "csv"}
WORKBOOK_FORMATS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".ods": "ods"}
TEXT_FIELDS: tuple[str, ...] = ("first_name", "last_name", "type", "ticket_id", "note", "campaign")
DNC = "dnc"
DUPLICATE = "duplicate"
#: Rows listed in one summary warning before "…".
_ROWS_IN_WARNING = 10


@dataclass
class _Source:
    """One grid to read: a text file, or one sheet of a workbook."""

    path: str
    sheet: str | None
    format: str
    encoding: str | None
    delimiter: str | None
    sha256: str
    cells: pd.DataFrame
    numeric: dict[int, np.ndarray] = field(default_factory=dict)
    data: bytes | None = None  # workbook bytes, for number formats


def _load(path: Path, limits: Limits) -> bytes:
    name = str(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InputError(f"{name} is a folder, not a file", path=name)
        if size > limits.max_file_bytes:
            raise InputError(
                f"{name} is {size / 2**20:,.0f} MiB, more than the limit of "
                f"{limits.max_file_bytes / 2**20:,.0f} MiB",
                path=name,
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name} does not exist", path=name) from None
    except PermissionError:
        raise InputError(f"{name} cannot be read (permission denied)", path=name) from None
    except OSError as err:
        raise InputError(f"{name} cannot be read ({err.strerror})", path=name) from None


def _format_of(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in TEXT_FORMATS:
        return "csv"
    if suffix in WORKBOOK_FORMATS:
        return WORKBOOK_FORMATS[suffix]
    if data.startswith(b"PK\x03\x04"):
        return "ods" if b"opendocument.spreadsheet" in data[:200] else "xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return "csv"


def _open_sources(
    path: Path, *, sheet: str | None, encoding: str | None, limits: Limits
) -> list[_Source]:
    data = _load(path, limits)
    digest = hashlib.sha256(data).hexdigest()
    fmt = _format_of(path, data)
    name = str(path)
    if fmt == "csv":
        table = read_text_table(name, data, encoding=encoding, limits=limits)
        return [_Source(name, None, fmt, table.encoding, table.delimiter, digest, table.cells)]
    grids = read_workbook(name, data, sheet=sheet, limits=limits)
    keep = data if fmt == "xlsx" else None
    return [_Source(name, g.name, fmt, None, None, digest, g.cells, g.numeric, keep) for g in grids]


def _blank_rows(cells: pd.DataFrame) -> np.ndarray:
    filled = np.zeros(len(cells), dtype=bool)
    for col in cells.columns:
        filled |= (cells[col].astype("string").str.strip() != "").fillna(False).to_numpy(bool)
    return ~filled


def _headers(cells: pd.DataFrame, at: int) -> list[str]:
    return ["" if pd.isna(v) else str(v).strip() for v in cells.iloc[at].tolist()]


def _value_keys(headers: list[str]) -> list[str]:
    """Names of the columns in ``RowIssue.values``: the header, or "column C" when blank."""
    keys: list[str] = []
    for i, h in enumerate(headers):
        key = h or f"column {column_letter(i)}"
        if key in keys:
            key = f"{key} ({column_letter(i)})"
        keys.append(key)
    return keys


@dataclass
class _Part:
    """One source's rows, normalized, with their codes (before DNC and duplicates)."""

    source: _Source
    info: SourceInfo
    frame: pd.DataFrame  # DESIRED_COLUMNS + _codes (list of error codes) + _pos
    data_cells: pd.DataFrame  # the data rows' original cells (positional)
    value_keys: list[str]
    headers: dict[str, str]  # field -> header text
    field_keys: dict[str, str]  # field -> its key in RowIssue.values
    codes: dict[int, list[str]]  # row position in ``frame`` -> error codes (bad rows only)


def _header_index(src: _Source, settings: Settings, limits: Limits) -> int:
    where = describe(src.path, src.sheet)
    blank = _blank_rows(src.cells)
    if len(src.cells) == 0 or blank.all():
        raise InputError(f"{where} is empty (no header row, no data)", path=src.path)
    if settings.sync.header_row is not None:
        at = settings.sync.header_row - 1
        if at >= len(src.cells) or blank[at]:
            raise InputError(
                f"{where}: header row {settings.sync.header_row} (from [sync] header_row) is "
                "blank or past the end",
                path=src.path,
            )
        return at
    found_at = find_header(src.cells, settings.columns, limits.header_scan_rows)
    if found_at is None:
        first = int(np.flatnonzero(~blank)[0])
        found = ", ".join(repr(h) for h in _headers(src.cells, first) if h) or "none"
        looked = ", ".join(map_synonyms_for_message())
        raise InputError(
            f"no phone column in {where} (looked for: {looked}; headers found: {found})",
            path=src.path,
        )
    return found_at


def map_synonyms_for_message() -> list[str]:
    from .columns import SYNONYMS

    return list(SYNONYMS["number"])


def _read_part(
    src: _Source, settings: Settings, region: str, campaign: str | None, limits: Limits
) -> _Part:
    at = _header_index(src, settings, limits)
    headers = _headers(src.cells, at)
    fields = map_columns(
        headers, settings.columns, path=src.path, sheet=src.sheet, header_row=at + 1
    )
    data = src.cells.iloc[at + 1 :]
    keep = ~_blank_rows(data)
    data = data[keep]
    positions = np.flatnonzero(keep) + at + 1  # grid positions of the data rows
    n = len(data)
    out: dict[str, pd.Series] = {}
    codes: dict[int, list[str]] = {}  # sparse: only bad rows
    warned: dict[int, list[str]] = {}

    def col(name: str) -> pd.Series:
        return data[fields[name]].reset_index(drop=True)

    def flag(mask: np.ndarray, code: str) -> None:
        for i in np.flatnonzero(mask).tolist():
            codes.setdefault(i, []).append(code)

    e164, phone_codes = phones.normalize_numbers(
        col("number"), region, settings.sync.phone_validation
    )
    number_col = fields["number"]
    if src.format == "xlsx" and number_col in src.numeric and src.data is not None:
        numeric_rows = positions[src.numeric[number_col][positions]]
        if len(numeric_rows):
            sci = scientific_cells(src.path, src.data, str(src.sheet), number_col, numeric_rows)
            if len(sci):
                hit = np.isin(positions, sci)
                e164, phone_codes = e164.copy(), phone_codes.copy()
                e164[hit] = pd.NA
                phone_codes[hit] = phones.PHONE_SCIENTIFIC
    coded = np.flatnonzero((phone_codes != "").to_numpy(dtype=bool))
    for i, text in zip(coded.tolist(), phone_codes.iloc[coded].tolist(), strict=True):
        for code in str(text).split(";"):
            (codes if code in phones.PHONE_ERRORS else warned).setdefault(i, []).append(code)
    out["number"] = e164
    for name in TEXT_FIELDS:
        out[name] = normalize_text(col(name)) if name in fields else _na_text(n)
    if "status" in fields:
        out["status"], bad = normalize_status(col("status"), settings.sync.statuses)
        flag(bad, STATUS_UNKNOWN)
    else:
        out["status"] = _na_text(n)
    for name in INT_FIELDS:
        if name in fields:
            out[name], bad = normalize_integer(col(name))
            flag(bad, not_integer_code(name))
        else:
            out[name] = pd.Series(pd.array([pd.NA] * n, dtype="Int64"))
    if campaign is not None:
        out["campaign"] = out["campaign"].fillna(campaign)
    frame = pd.DataFrame(out)
    frame["file"] = _repeat(src.path, n)
    frame["sheet"] = _repeat(src.sheet, n)
    frame["row"] = pd.Series(positions + 1, dtype="Int64")
    warn_pos = sorted(warned)
    frame["warnings"] = _repeat("", n)
    if warn_pos:
        frame.loc[warn_pos, "warnings"] = [";".join(warned[i]) for i in warn_pos]
    frame["_pos"] = np.arange(n)
    info = SourceInfo(
        path=src.path,
        sha256=src.sha256,
        format=src.format,
        sheet=src.sheet,
        encoding=src.encoding,
        delimiter=src.delimiter,
        header_row=at + 1,
        rows=n,
        columns={f: headers[i] for f, i in fields.items()},
    )
    keys = _value_keys(headers)
    return _Part(
        source=src,
        info=info,
        frame=frame,
        data_cells=data.reset_index(drop=True),
        value_keys=keys,
        headers={f: headers[i] or keys[i] for f, i in fields.items()},
        field_keys={f: keys[i] for f, i in fields.items()},
        codes=codes,
    )


def _repeat(value: str | None, n: int) -> pd.Series:
    arr = pa.repeat(pa.scalar(value, pa.large_string()), n)
    return pd.Series(pd.arrays.ArrowStringArray(arr))


def _na_text(n: int) -> pd.Series:
    return pd.Series(pd.array([pd.NA] * n, dtype="string"))


def read_dnc(
    paths: Sequence[Path], settings: Settings, limits: Limits = DEFAULT_LIMITS
) -> set[str]:
    """E.164 numbers of the do-not-call files (any readable format, every sheet, a phone column
    found by synonyms or ``[columns] number``, or a file that is one column of numbers).

    Raises InputError when a file cannot be read or has no phone column."""
    region = phones.check_region(settings.sync.region)
    numbers: set[str] = set()
    explicit = {"number": settings.columns["number"]} if "number" in settings.columns else {}
    for path in paths:
        for src in _open_sources(
            Path(path), sheet=ALL_SHEETS, encoding=settings.sync.encoding, limits=limits
        ):
            blank = _blank_rows(src.cells)
            if blank.all():
                continue
            at = find_header(src.cells, explicit, limits.header_scan_rows)
            if at is None:
                filled = [
                    c
                    for c in src.cells.columns
                    if (src.cells[c].astype("string").str.strip() != "").any()
                ]
                if len(filled) != 1:
                    raise InputError(
                        f"no phone column in DNC file {describe(src.path, src.sheet)}",
                        path=src.path,
                    )
                column = src.cells[filled[0]]
            else:
                fields = map_columns(
                    _headers(src.cells, at),
                    explicit,
                    path=src.path,
                    sheet=src.sheet,
                    header_row=at + 1,
                )
                column = src.cells[fields["number"]].iloc[at + 1 :]
            e164, _ = phones.normalize_numbers(column.reset_index(drop=True), region, "none")
            numbers.update(e164.dropna().tolist())
    return numbers


def read_sources(
    paths: Sequence[Path | str],
    settings: Settings,
    *,
    campaign: str | None = None,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ReadResult:
    """Read lead files into validated leads and row issues.

    ``paths``: CSV/TSV/TXT, XLSX/XLSM, XLS or ODS files, read in order (for workbooks the
    sheet of ``settings.sync.sheet``: the first by default, a name, or ``*`` for all). Columns map
    to lead fields by synonyms or ``settings.columns``. Numbers become E.164 (region
    ``settings.sync.region``, level ``settings.sync.phone_validation``); other fields are trimmed
    and checked. ``campaign`` (``--campaign``) fills the campaign of rows without one: when the
    file has a campaign column too, a non-blank cell wins for its row. Rows listed in
    ``settings.sync.dnc_files`` are rejected (``dnc``); of rows sharing (campaign, number) one is
    kept per ``settings.sync.duplicate_policy`` (``first``/``last``) and the others are reported
    as duplicates naming the row kept (``reject``: all of them are rejected).

    Returns a ReadResult: ``leads`` (``models.DESIRED_COLUMNS``; ``row`` is the row number as
    Excel shows it), ``issues`` (one RowIssue per rejected or duplicate row, in file and row
    order), ``sources`` (one SourceInfo per file or sheet) and ``warnings``.
    ``progress(stage, done, total)`` is called per file and per stage.

    Raises InputError (exit 2) naming the file when a file cannot be read at all: missing,
    binary, undecodable, encrypted or corrupt, beyond ``limits``, without a phone column, with
    two columns claiming one field, or an unknown sheet. Raises ConfigError for an unknown region.
    """
    region = phones.check_region(settings.sync.region)
    report = progress or (lambda stage, done, total: None)
    files = [Path(p) for p in paths]
    parts: list[_Part] = []
    warnings: list[str] = []
    for i, path in enumerate(files):
        report("read", i, len(files))
        sources = _open_sources(
            path, sheet=settings.sync.sheet, encoding=settings.sync.encoding, limits=limits
        )
        for src in sources:
            try:
                parts.append(_read_part(src, settings, region, campaign, limits))
            except InputError as err:
                if settings.sync.sheet == ALL_SHEETS and src.sheet is not None:
                    reason = "it is empty" if "is empty" in str(err) else "no phone column"
                    warnings.append(f"skipped {describe(src.path, src.sheet)}: {reason}")
                    continue
                raise
        if (
            settings.sync.sheet == ALL_SHEETS
            and sources
            and not any(p.source.path == str(path) for p in parts)
        ):
            raise InputError(f"no sheet of {path} has a phone column", path=str(path))
    report("read", len(files), len(files))
    if not parts:
        return ReadResult(leads=empty_desired(), warnings=warnings)
    report("check", 0, None)
    dnc = read_dnc(settings.sync.dnc_files, settings, limits) if settings.sync.dnc_files else set()
    if settings.sync.dnc_files:
        warnings.append(f"do-not-call list: {len(dnc):,} numbers")
    frame = pd.concat([p.frame.assign(_part=k) for k, p in enumerate(parts)], ignore_index=True)
    codes: dict[int, list[str]] = {}
    offset = 0
    for p in parts:
        codes.update({offset + i: list(c) for i, c in p.codes.items()})
        offset += len(p.frame)
    if dnc:
        in_dnc = frame["number"].isin(dnc).fillna(False).to_numpy(bool)
        for i in np.flatnonzero(in_dnc).tolist():
            codes.setdefault(i, []).append(DNC)
    rejected = np.zeros(len(frame), dtype=bool)
    rejected[list(codes)] = True
    twin, dup_kind = _duplicates(frame, rejected, settings.sync.duplicate_policy)
    for i in np.flatnonzero(twin >= 0).tolist():
        codes.setdefault(i, []).append(DUPLICATE)
    bad = rejected | (twin >= 0)
    issues = _issues(parts, frame, np.flatnonzero(bad), codes, twin, dup_kind, settings)
    leads = frame.loc[~bad, list(DESIRED_COLUMNS)].reset_index(drop=True)
    leads = leads.astype(empty_desired().dtypes.to_dict())
    warnings.extend(_warning_lines(frame, ~bad))
    report("check", len(frame), len(frame))
    return ReadResult(
        leads=leads, issues=issues, sources=[p.info for p in parts], warnings=warnings
    )


def _duplicates(frame: pd.DataFrame, rejected: np.ndarray, policy: str) -> tuple[np.ndarray, str]:
    """Per row: the position of the twin it duplicates (-1 when it is kept or rejected)."""
    twin = np.full(len(frame), -1, dtype=np.int64)
    ok = np.flatnonzero(~rejected)
    if len(ok) == 0:
        return twin, IssueKind.DUPLICATE
    by_campaign, campaigns = pd.factorize(frame["campaign"].iloc[ok], use_na_sentinel=False)
    by_number, _ = pd.factorize(frame["number"].iloc[ok])
    group, _ = pd.factorize(by_number.astype(np.int64) * len(campaigns) + by_campaign)
    order = np.argsort(group, kind="stable")  # by group, then by position
    ordered = group[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(order)]
    first, last = order[starts], order[ends - 1]
    second = order[np.minimum(starts + 1, len(order) - 1)]
    multi = (ends - starts)[group] > 1
    g = group
    if policy == "last":
        keep = last[g]
        dup = np.arange(len(ok)) != keep
        twin[ok[dup]] = ok[keep[dup]]
        return twin, IssueKind.DUPLICATE
    if policy == "reject":
        here = np.arange(len(ok))
        other = np.where(here == first[g], second[g], first[g])
        twin[ok[multi]] = ok[other[multi]]
        return twin, IssueKind.REJECTED
    keep = first[g]
    dup = np.arange(len(ok)) != keep
    twin[ok[dup]] = ok[keep[dup]]
    return twin, IssueKind.DUPLICATE


@dataclass(frozen=True, slots=True)
class _Row:
    """What a message needs to know about one row of the combined frame."""

    part: int
    pos: int
    file: str
    sheet: str | None
    row: int
    number: str | None
    campaign: str | None


def _rows_at(frame: pd.DataFrame, idx: np.ndarray) -> dict[int, _Row]:
    sub = frame.iloc[idx]
    out = {}
    for i, part, pos, file, sheet, row, number, campaign in zip(
        idx.tolist(),
        sub["_part"].tolist(),
        sub["_pos"].tolist(),
        sub["file"].tolist(),
        sub["sheet"].tolist(),
        sub["row"].tolist(),
        sub["number"].tolist(),
        sub["campaign"].tolist(),
        strict=True,
    ):
        out[i] = _Row(
            int(part),
            int(pos),
            str(file),
            None if pd.isna(sheet) else str(sheet),
            int(row),
            None if pd.isna(number) else str(number),
            None if pd.isna(campaign) else str(campaign),
        )
    return out


def _issues(
    parts: list[_Part],
    frame: pd.DataFrame,
    bad: np.ndarray,
    codes: dict[int, list[str]],
    twin: np.ndarray,
    dup_kind: str,
    settings: Settings,
) -> list[RowIssue]:
    """One RowIssue per bad row (in frame order), built from bulk lookups."""
    twins = twin[bad]
    info = _rows_at(frame, np.unique(np.concatenate([bad, twins[twins >= 0]])))
    values: dict[int, dict[str, str]] = {}
    for k, part in enumerate(parts):
        mine = [i for i in bad.tolist() if info[i].part == k]
        if not mine:
            continue
        grid = part.data_cells.iloc[[info[i].pos for i in mine]].to_numpy(dtype=object)
        for i, cells in zip(mine, grid, strict=True):
            values[i] = {
                key: ("" if pd.isna(v) else str(v))
                for key, v in zip(part.value_keys, cells, strict=False)
            }
    issues = []
    for i, t in zip(bad.tolist(), twins.tolist(), strict=True):
        row = info[i]
        part = parts[row.part]
        twin_row = info[t] if t >= 0 else None
        kind = IssueKind(dup_kind) if codes[i] == [DUPLICATE] else IssueKind.REJECTED
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
    part: _Part,
    values: dict[str, str],
    row: _Row,
    twin: _Row | None,
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


def _original(part: _Part, name: str, values: dict[str, str]) -> str:
    return values.get(part.field_keys[name], "")


def _warning_lines(frame: pd.DataFrame, kept: np.ndarray) -> list[str]:
    lines = []
    ext = frame["warnings"].str.contains(phones.PHONE_EXTENSION_DROPPED, regex=False)
    ext = ext.fillna(False).to_numpy(bool) & kept
    if ext.any():
        for (path, sheet), rows in frame[ext].groupby(["file", "sheet"], dropna=False)["row"]:
            shown = ", ".join(str(r) for r in rows.iloc[:_ROWS_IN_WARNING])
            more = ", …" if len(rows) > _ROWS_IN_WARNING else ""
            where = describe(str(path), None if pd.isna(sheet) else str(sheet))
            lines.append(
                f"{where}: phone extensions dropped on {len(rows)} row(s) ({shown}{more}); "
                "the dialer gets the number without them"
            )
    return lines
