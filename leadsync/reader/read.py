"""read_sources: files → text grids → header and columns → normalized leads + row issues.

Per source (a file, or one sheet of a workbook): find the header, map the columns, normalize
each field over its whole column (Arrow arrays and numpy masks, never a Python loop per row),
and give every bad row its codes. Then, over all sources together: the do-not-call list,
duplicates by (campaign, number), the issues of the bad rows, and the leads table, built once
with its final dtypes.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import Settings
from ..errors import InputError
from ..models import DESIRED_COLUMNS, INT_FIELDS, ReadResult, SourceInfo, empty_desired
from . import phones
from .arrowtext import LS, as_bool, blank_cells, sparse_strings
from .columns import SYNONYMS, find_header, map_columns, no_phone_column
from .container import OLE2_MAGIC, ZIP_MAGIC
from .dedupe import find_duplicates
from .fields import (
    STATUS_UNKNOWN,
    Integers,
    normalize_integer,
    normalize_status,
    normalize_text,
    not_integer_code,
)
from .grid import Grid, column_letter, describe
from .issues import CAMPAIGN_MISSING, CAMPAIGN_UNKNOWN, DNC, DUPLICATE, build_issues, warning_lines
from .limits import DEFAULT_LIMITS, Limits
from .part import Part, Source
from .phoneref import PHONE_ERRORS, PHONE_SCIENTIFIC, check_region
from .textfile import read_text_table
from .workbook import ALL_SHEETS, read_workbook
from .xlsxparts import scientific_cells

Progress = Callable[[str, int, int | None], None]

TEXT_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".tab": "csv"}
WORKBOOK_FORMATS = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".ods": "ods"}
TEXT_FIELDS: tuple[str, ...] = ("first_name", "last_name", "type", "ticket_id", "note", "campaign")
STRING_COLUMNS: tuple[str, ...] = ("number", *TEXT_FIELDS, "status")


def _load(path: Path, limits: Limits) -> bytes:
    name = str(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{name} is a folder, not a file", path=name)
        if not stat.S_ISREG(info.st_mode):
            # A FIFO would block the run forever, /dev/zero fill the memory: neither has a
            # size to check.
            raise InputError(
                f"{name} is not a regular file (a pipe, device or socket); save the data to a "
                "file and read that",
                path=name,
            )
        if info.st_size > limits.max_file_bytes:
            raise _too_large(name, info.st_size, limits)
        with path.open("rb") as fh:  # never more than the limit, even if the file grows
            data = fh.read(limits.max_file_bytes + 1)
        if len(data) > limits.max_file_bytes:
            raise _too_large(name, len(data), limits)
        return data
    except FileNotFoundError:
        raise InputError(f"{name} does not exist", path=name) from None
    except PermissionError:
        raise InputError(f"{name} cannot be read (permission denied)", path=name) from None
    except OSError as err:
        raise InputError(f"{name} cannot be read ({err.strerror})", path=name) from None


def _too_large(name: str, size: int, limits: Limits) -> InputError:
    return InputError(
        f"{name} is {size / 2**20:,.0f} MiB, more than the limit of "
        f"{limits.max_file_bytes / 2**20:,.0f} MiB",
        path=name,
    )


def _format_of(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if fmt := TEXT_FORMATS.get(suffix) or WORKBOOK_FORMATS.get(suffix):
        return fmt
    if data.startswith(ZIP_MAGIC):
        return "ods" if b"opendocument.spreadsheet" in data[:200] else "xlsx"
    return "xls" if data.startswith(OLE2_MAGIC[:4]) else "csv"


def _open_sources(
    path: Path, *, sheet: str | None, encoding: str | None, limits: Limits
) -> list[Source]:
    data = _load(path, limits)
    digest = hashlib.sha256(data).hexdigest()
    fmt = _format_of(path, data)
    name = str(path)
    if fmt == "csv":
        table = read_text_table(name, data, encoding=encoding, limits=limits)
        return [
            Source(
                name, None, fmt, table.encoding, table.delimiter, digest, table.cells,
                warning=table.warning,
            )
        ]  # fmt: skip
    grids = read_workbook(name, data, sheet=sheet, limits=limits)
    keep = data if fmt == "xlsx" else None
    return [Source(name, g.name, fmt, None, None, digest, g.cells, g.numeric, keep) for g in grids]


def _headers(grid: Grid, at: int) -> list[str]:
    return [c.strip() for c in grid.rows(at, at + 1)[0]]


def _value_keys(headers: list[str]) -> list[str]:
    """Names of the columns in ``RowIssue.values``: the header, or "column C" when blank."""
    keys: list[str] = []
    for i, h in enumerate(headers):
        key = h or f"column {column_letter(i)}"
        if key in keys:
            key = f"{key} ({column_letter(i)})"
        keys.append(key)
    return keys


def _header_index(src: Source, blank: np.ndarray, settings: Settings, limits: Limits) -> int:
    where = describe(src.path, src.sheet)
    if src.grid.height == 0 or blank.all():
        raise InputError(f"{where} is empty (no header row, no data)", path=src.path)
    if settings.sync.header_row is not None:
        at = settings.sync.header_row - 1
        if at >= src.grid.height or blank[at]:
            raise InputError(
                f"{where}: header row {settings.sync.header_row} (from [sync] header_row) is "
                "blank or past the end",
                path=src.path,
            )
        return at
    found_at = find_header(src.grid, settings.columns, limits.header_scan_rows)
    if found_at is None:
        first = int(np.flatnonzero(~blank)[0])
        looked = ", ".join(SYNONYMS["number"])
        headers = _headers(src.grid, first)
        raise no_phone_column(where, src.path, looked, headers, src.encoding)
    return found_at


def _read_part(
    src: Source, settings: Settings, region: str, campaign: str | None, limits: Limits
) -> Part:
    grid = src.grid
    blank = grid.blank_rows()
    at = _header_index(src, blank, settings, limits)
    headers = _headers(grid, at)

    def is_blank(column: int) -> bool:
        return bool(blank_cells(grid.columns[column].slice(at + 1)).all())

    fields = map_columns(
        headers,
        settings.columns,
        path=src.path,
        sheet=src.sheet,
        header_row=at + 1,
        is_blank=is_blank,
        encoding=src.encoding,
    )
    filled = ~blank[at + 1 :]
    positions = np.flatnonzero(filled) + at + 1  # grid positions of the data rows
    n = len(positions)
    contiguous = bool(filled.all())
    take = None if contiguous else pa.array(positions, type=pa.int64())

    def col(name: str) -> pa.Array:
        cells = grid.columns[fields[name]]
        return cells.slice(at + 1, n) if take is None else cells.take(take)

    with ThreadPoolExecutor(max_workers=1) as pool:
        # The phones (the bulk of the work, all of it outside the GIL) beside the other fields.
        pending = pool.submit(
            phones.normalize_array, col("number"), region, settings.sync.phone_validation
        )
        text: dict[str, pa.Array] = {}
        for name in TEXT_FIELDS:
            text[name] = normalize_text(col(name)) if name in fields else pa.nulls(n, LS)
        checks: list[tuple[np.ndarray, str]] = []  # (bad mask, code), in the order of checks
        if "status" in fields:
            text["status"], bad = normalize_status(col("status"), settings.sync.statuses)
            checks.append((bad, STATUS_UNKNOWN))
        else:
            text["status"] = pa.nulls(n, LS)
        ints: dict[str, Integers] = {}
        for name in INT_FIELDS:
            if name in fields:
                ints[name], bad = normalize_integer(col(name))
                checks.append((bad, not_integer_code(name)))
            else:
                ints[name] = Integers(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
        phone = pending.result()
    e164 = phone.e164
    phone_codes = dict(zip(phone.code_rows.tolist(), phone.code_text, strict=True))
    number_col = fields["number"]
    if src.format == "xlsx" and number_col in src.numeric and src.data is not None:
        numeric_rows = positions[src.numeric[number_col][positions]]
        if len(numeric_rows):
            sci = scientific_cells(src.path, src.data, str(src.sheet), number_col, numeric_rows)
            if len(sci):
                hit = np.isin(positions, sci)
                e164 = pc.if_else(pa.array(hit), pa.scalar(None, LS), e164)
                phone_codes.update(dict.fromkeys(np.flatnonzero(hit).tolist(), PHONE_SCIENTIFIC))
    text["number"] = e164
    codes, warned = _split_phone_codes(phone_codes)  # sparse: only bad rows, in row order
    for bad, code in checks:
        for i in np.flatnonzero(bad).tolist():
            _add_code(codes, i, code)
    if campaign is not None:
        text["campaign"] = pc.fill_null(text["campaign"], pa.scalar(campaign, LS))
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
    return Part(
        source=src,
        info=info,
        positions=positions,
        text=text,
        ints=ints,
        codes=codes,
        warned=warned,
        value_keys=keys,
        headers={f: headers[i] or keys[i] for f, i in fields.items()},
        field_keys={f: keys[i] for f, i in fields.items()},
    )


def _split_phone_codes(
    phone_codes: dict[int, str],
) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Per row with phone codes (";"-joined): its rejecting codes and its warnings. A code
    text is split once, however many rows share it (a large file has hundreds of thousands
    of rows and a handful of texts), and rows of one text share its lists: the later checks
    add codes with :func:`_add_code`, which never changes a list in place."""
    split = {
        text: (
            [c for c in text.split(";") if c in PHONE_ERRORS],
            [c for c in text.split(";") if c not in PHONE_ERRORS],
        )
        for text in set(phone_codes.values())
    }
    rows = sorted(phone_codes.items())
    codes = {i: split[t][0] for i, t in rows if split[t][0]}
    warned = {i: split[t][1] for i, t in rows if split[t][1]}
    return codes, warned


def _add_code(codes: dict[int, list[str]], i: int, code: str) -> None:
    """Add ``code`` to row ``i``'s codes (a new list: rows may share their lists)."""
    codes[i] = [*codes.get(i, ()), code]


def read_dnc(
    paths: Sequence[Path], settings: Settings, limits: Limits = DEFAULT_LIMITS
) -> set[str]:
    """E.164 numbers of the do-not-call files (any readable format, every sheet, a phone column
    found by synonyms or ``[columns] number``, or a file that is one column of numbers).

    Raises InputError when a file cannot be read or has no phone column."""
    region = check_region(settings.sync.region)
    numbers: set[str] = set()
    explicit = {"number": settings.columns["number"]} if "number" in settings.columns else {}
    for path in paths:
        for src in _open_sources(
            Path(path), sheet=ALL_SHEETS, encoding=settings.sync.encoding, limits=limits
        ):
            grid = src.grid
            if grid.blank_rows().all():
                continue
            at = find_header(grid, explicit, limits.header_scan_rows)
            if at is None:
                filled = [c for c, col in enumerate(grid.columns) if not blank_cells(col).all()]
                if len(filled) != 1:
                    raise InputError(
                        f"no phone column in DNC file {describe(src.path, src.sheet)}",
                        path=src.path,
                    )
                column = grid.columns[filled[0]]
            else:
                fields = map_columns(
                    _headers(grid, at), explicit, path=src.path, sheet=src.sheet, header_row=at + 1
                )
                column = grid.columns[fields["number"]].slice(at + 1)
            e164 = phones.normalize_array(column, region, "none").e164
            numbers.update(e164.drop_null().to_pylist())
    return numbers


def read_sources(
    paths: Sequence[Path | str],
    settings: Settings,
    *,
    campaign: str | None = None,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
    campaign_problem: Callable[[str], str | None] | None = None,
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
    ``campaign_problem(name)`` says why a campaign the file names does not exist (None when it
    does); with it, rows naming such a campaign are rejected here (``campaign-unknown``) and
    keep their original cells like every rejected row.

    Returns a ReadResult: ``leads`` (``models.DESIRED_COLUMNS``; ``row`` is the row number as
    Excel shows it), ``issues`` (one RowIssue per rejected or duplicate row, in file and row
    order), ``sources`` (one SourceInfo per file or sheet) and ``warnings``.
    ``progress(stage, done, total)`` is called per file and per stage.

    Raises InputError (exit 2) naming the file when a file cannot be read at all: missing,
    binary, undecodable, encrypted or corrupt, beyond ``limits``, without a phone column, with
    two columns claiming one field, or an unknown sheet. Raises ConfigError for an unknown region.
    """
    region = check_region(settings.sync.region)
    report = progress or (lambda stage, done, total: None)
    files = [Path(p) for p in paths]
    parts: list[Part] = []
    warnings: list[str] = []
    for i, path in enumerate(files):
        report("read", i, len(files))
        sources = _open_sources(
            path, sheet=settings.sync.sheet, encoding=settings.sync.encoding, limits=limits
        )
        for src in sources:
            if src.warning:
                warnings.append(src.warning)
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
    sizes = np.array([p.rows for p in parts], dtype=np.int64)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    total = int(sizes.sum())
    numbers = _joined(parts, "number")
    campaigns = _joined(parts, "campaign")
    codes: dict[int, list[str]] = {}
    for k, p in enumerate(parts):
        # The parts hand their lists over (nothing reads a part's codes after this).
        start = int(starts[k])
        codes.update(p.codes if start == 0 else {start + i: c for i, c in p.codes.items()})
    said = _check_campaigns(campaigns, codes, campaign_problem) if campaign_problem else {}
    if dnc:
        in_dnc = as_bool(pc.is_in(numbers, value_set=pa.array(sorted(dnc), type=LS)))
        for i in np.flatnonzero(in_dnc).tolist():
            _add_code(codes, i, DNC)
    rejected = np.zeros(total, dtype=bool)
    rejected[list(codes)] = True
    twin, dup_kind = find_duplicates(numbers, campaigns, rejected, settings.sync.duplicate_policy)
    for i in np.flatnonzero(twin >= 0).tolist():
        _add_code(codes, i, DUPLICATE)
    bad = rejected | (twin >= 0)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The table (Arrow filters, no GIL) beside the issues (Python objects, GIL).
        pending = pool.submit(_leads, parts, starts, ~bad)
        issues = build_issues(
            parts,
            starts,
            numbers,
            campaigns,
            np.flatnonzero(bad),
            codes,
            twin,
            dup_kind,
            settings,
            campaign_sentences=said,
        )
        leads = pending.result()
    warnings.extend(warning_lines(parts, starts, ~bad))
    report("check", total, total)
    return ReadResult(
        leads=leads, issues=issues, sources=[p.info for p in parts], warnings=warnings
    )


def _check_campaigns(
    campaigns: pa.Array, codes: dict[int, list[str]], problem: Callable[[str], str | None]
) -> dict[str, str]:
    """Add ``campaign-unknown`` to the rows naming a campaign ``problem`` refuses (asked once
    per distinct name), and ``campaign-missing`` to rows naming none when others name one
    (when no row names one, the run is refused as a whole); returns each refused name's
    sentence."""
    said = {ref: problem(ref) for ref in pc.unique(campaigns.drop_null()).to_pylist()}
    refused = {ref: sentence for ref, sentence in said.items() if sentence is not None}
    if refused:
        hit = as_bool(pc.is_in(campaigns, value_set=pa.array(list(refused), type=LS)))
        for i in np.flatnonzero(hit).tolist():
            _add_code(codes, i, CAMPAIGN_UNKNOWN)
    if 0 < campaigns.null_count < len(campaigns):
        for i in np.flatnonzero(as_bool(pc.is_null(campaigns))).tolist():
            _add_code(codes, i, CAMPAIGN_MISSING)
    return refused


def _joined(parts: Sequence[Part], name: str) -> pa.Array:
    """One text column of all the parts, end to end."""
    return _concat([p.text[name] for p in parts])


def _concat(arrays: list[pa.Array]) -> pa.Array:
    return arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)


def _leads(parts: Sequence[Part], starts: np.ndarray, kept: np.ndarray) -> pd.DataFrame:
    """The kept rows as the desired-leads table (``empty_desired()`` dtypes), built once: Arrow
    string columns wrapped as pandas ``string`` arrays, integer columns as ``Int64`` arrays."""
    keep = pa.array(kept)
    per_part = [int(kept[s : s + p.rows].sum()) for s, p in zip(starts, parts, strict=True)]
    columns: dict[str, pd.api.extensions.ExtensionArray] = {}
    for name in STRING_COLUMNS:
        columns[name] = pd.arrays.ArrowStringArray(_joined(parts, name).filter(keep))
    for name in INT_FIELDS:
        values = np.concatenate([p.ints[name].values for p in parts])[kept]
        missing = np.concatenate([p.ints[name].missing for p in parts])[kept]
        columns[name] = pd.arrays.IntegerArray(values, missing)
    for name in ("file", "sheet"):
        per_source = [
            pa.repeat(pa.scalar(p.source.path if name == "file" else p.source.sheet, LS), c)
            for p, c in zip(parts, per_part, strict=True)
        ]
        columns[name] = pd.arrays.ArrowStringArray(_concat(per_source))
    rows = np.concatenate([p.positions + 1 for p in parts])[kept]
    columns["row"] = pd.arrays.IntegerArray(rows.astype(np.int64), np.zeros(len(rows), dtype=bool))
    warned_rows: list[int] = []
    warned_text: list[str] = []
    kept_index = np.cumsum(kept) - 1  # global row -> its position among the kept rows
    for k, p in enumerate(parts):
        for i in sorted(p.warned):
            g = int(starts[k]) + i
            if kept[g]:
                warned_rows.append(int(kept_index[g]))
                warned_text.append(";".join(p.warned[i]))
    warned = sparse_strings(int(kept.sum()), np.array(warned_rows, dtype=np.int64), warned_text)
    columns["warnings"] = pd.arrays.ArrowStringArray(warned)
    return pd.DataFrame({c: columns[c] for c in DESIRED_COLUMNS}, copy=False)
