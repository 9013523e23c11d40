"""Phone numbers → E.164: a vectorized fast path, proven equal to ``phonenumbers`` row by row.

:func:`normalize_one` is the reference: a few checks for Excel damage, then
``phonenumbers.parse`` + ``is_valid_number`` / ``is_possible_number`` + ``format_number``.
:func:`normalize_array` gives exactly the same answer for a whole column at once:

1. shapes are told apart by RE2 regular expressions evaluated by Arrow over the column (blank,
   scientific notation, ``123.0`` float artifacts, decimals, "digits and the usual
   separators");
2. the digits of every value are extracted with numpy over the column's byte buffer, and the
   common forms are split into (country code, national number) with vectorized prefix and length
   checks: ``+CC …`` and ``00CC …`` for every geographic country code, and national numbers of
   NANP regions (``213.555.0100``, ``1-213-555-0100``, too short or too long ones too);
3. the national numbers are validated by RE2 against phonenumbers' own metadata patterns (the
   region's leading digits, the general description, then the number types), applied in the
   order phonenumbers applies them; the length verdict (too short / too long) comes from the
   same metadata;
4. values without any digit are ``phone-invalid``; everything else (extensions, letters, other
   regions' national formats…) goes through the reference once per distinct value.

The test suite checks that both paths agree on hundreds of thousands of generated values, at
every validation level and in several regions.

Codes (stable strings): ``phone-missing``, ``phone-scientific``, ``phone-decimal``,
``phone-invalid``, ``phone-too-short``, ``phone-too-long`` (the row is rejected), and the warning
``phone-extension-dropped`` (the row is kept, its extension is not sent).
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # for the width of a pattern
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, ValidationResult
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from ..errors import ConfigError
from .arrowtext import (
    LS,
    digits_of,
    from_parts,
    fullmatch,
    plain_strings,
    positions,
    sparse_strings,
)

PHONE_MISSING = "phone-missing"
PHONE_SCIENTIFIC = "phone-scientific"
PHONE_DECIMAL = "phone-decimal"
PHONE_INVALID = "phone-invalid"
PHONE_TOO_SHORT = "phone-too-short"
PHONE_TOO_LONG = "phone-too-long"
PHONE_EXTENSION_DROPPED = "phone-extension-dropped"

#: Codes that reject a row (the others are warnings).
PHONE_ERRORS: frozenset[str] = frozenset(
    {PHONE_MISSING, PHONE_SCIENTIFIC, PHONE_DECIMAL, PHONE_INVALID, PHONE_TOO_SHORT, PHONE_TOO_LONG}
)
LEVELS: tuple[str, ...] = ("valid", "possible", "none")

# --- the Excel-damage checks, shared by both paths (ASCII only, so RE2 and `re` agree) -------
_WS = "[ \t\r\n]*"
_SCIENTIFIC = r"[+-]?[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+"  # 4.47701E+11, 4,47701E+11
_FLOAT_ARTIFACT = r"[0-9]+\.0+"  # 2135550102.0 (a number cell exported by Excel/pandas)
_DECIMAL = r"[0-9]{4,}\.[0-9]{1,3}|[0-9]{7,}\.[0-9]+"  # 2135550102.5: a float, not a phone
_SCIENTIFIC_RE = re.compile(_SCIENTIFIC)
_FLOAT_ARTIFACT_RE = re.compile(_FLOAT_ARTIFACT)
_DECIMAL_RE = re.compile(_DECIMAL)
#: A leading international "00" the way people copy European numbers (``0044 20 …``).
_LEADING_00_RE = re.compile(r"[ (]*00")

# --- the fast path's shapes ----------------------------------------------------------------
_RE_SCIENTIFIC = f"^{_WS}(?:{_SCIENTIFIC}){_WS}$"
_RE_DOTTED = rf"^{_WS}[0-9]+\.[0-9]+{_WS}$"
_RE_FLOAT_ARTIFACT = f"^{_WS}{_FLOAT_ARTIFACT}{_WS}$"
_RE_DECIMAL = f"^{_WS}(?:{_DECIMAL}){_WS}$"
_RE_ARTIFACT_TAIL = r"\.0+[ \t\r\n]*$"
#: Digits and the usual separators, with an optional leading "+" (possibly inside "(").
#: Every character of it is phone punctuation to phonenumbers, and none starts an extension.
_RE_SHAPE = rf"^{_WS}\(?{_WS}\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*{_WS}$"
_RE_LEADING_00 = rf"^{_WS}[ (]*00"
#: Digit counts after "+" / "00" (country code included) the fast path handles.
_FAST_MIN_DIGITS = 7
_FAST_MAX_DIGITS = 17
#: National numbers: phonenumbers' viability check wants 3 digits once punctuation is allowed,
#: and its longest national significant number is 17 digits.
_NATIONAL_MIN_DIGITS = 3
_MAX_NSN_DIGITS = 17
#: phonenumbers refuses longer input text outright (TOO_LONG).
_MAX_INPUT_CHARS = 250
NANP_CC = 1
#: Columns at least this long are normalized in pieces on parallel threads (below it, the
#: threads cost more than they save).
PARALLEL_MIN_ROWS = 200_000
PARALLEL_PIECES = 2
_PLUS, _ONE, _ZERO = ord("+"), ord("1"), ord("0")

_DESC_ORDER: tuple[str, ...] = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)

_PARSE_ERROR_CODES = {
    NumberParseException.TOO_SHORT_NSN: PHONE_TOO_SHORT,
    NumberParseException.TOO_SHORT_AFTER_IDD: PHONE_TOO_SHORT,
    NumberParseException.TOO_LONG: PHONE_TOO_LONG,
}


def check_region(region: str) -> str:
    """``region`` upper-cased; ConfigError when phonenumbers does not know it."""
    code = (region or "").strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"unknown phone region {region!r} (use a two-letter code such as US)")
    return code


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ConfigError(f"unknown phone validation level {level!r}; use {', '.join(LEVELS)}")


@cache
def _rewrites_00(region: str) -> bool:
    """Whether a leading ``00`` is read as "+" in ``region``: only where phonenumbers would not
    already take it as the region's own international prefix (e.g. US dials 011)."""
    md = PhoneMetadata.metadata_for_region(region)
    idd = md.international_prefix if md is not None else None
    if not idd:
        return True
    pattern = re.compile(idd)
    return not any(pattern.match(f"00{d:02d}") for d in range(100))


def _length_code(result: int) -> str:
    if result == ValidationResult.TOO_SHORT:
        return PHONE_TOO_SHORT
    if result == ValidationResult.TOO_LONG:
        return PHONE_TOO_LONG
    return PHONE_INVALID


# --- the reference -------------------------------------------------------------------------
def normalize_one(text: str | None, region: str, level: str) -> tuple[str | None, tuple[str, ...]]:
    """One value → (E.164 or None when rejected, codes). The reference for the fast path.

    Steps: blank → ``phone-missing``; scientific notation → ``phone-scientific``; ``123.0`` →
    ``123``; a decimal number → ``phone-decimal``; a leading ``00`` read as ``+`` where the
    region does not dial ``00`` abroad; then ``phonenumbers.parse(text, region)`` and the check of
    ``level`` (``valid``: ``is_valid_number``; ``possible``: ``is_possible_number``; ``none``:
    it parses). An extension is dropped with ``phone-extension-dropped``.
    """
    t = (text or "").strip()
    if not t:
        return None, (PHONE_MISSING,)
    if _SCIENTIFIC_RE.fullmatch(t):
        return None, (PHONE_SCIENTIFIC,)
    if _FLOAT_ARTIFACT_RE.fullmatch(t):
        t = t[: t.index(".")]
    elif _DECIMAL_RE.fullmatch(t):
        return None, (PHONE_DECIMAL,)
    m = _LEADING_00_RE.match(t)
    if m and _rewrites_00(region):
        t = "+" + t[m.end() :]
    try:
        num = phonenumbers.parse(t, region)
    except NumberParseException as err:
        return None, (_PARSE_ERROR_CODES.get(err.error_type, PHONE_INVALID),)
    if level == "valid":
        ok = phonenumbers.is_valid_number(num)
    elif level == "possible":
        ok = phonenumbers.is_possible_number(num)
    else:
        ok = True
    if not ok:
        return None, (_length_code(phonenumbers.is_possible_number_with_reason(num)),)
    e164 = phonenumbers.format_number(num, PhoneNumberFormat.E164)
    return e164, ((PHONE_EXTENSION_DROPPED,) if num.extension else ())


# --- metadata compiled for Arrow -----------------------------------------------------------
def _desc_ok(desc: Any) -> bool:
    return desc is not None and bool(desc.national_number_pattern)


def _lengths_mask(lengths: np.ndarray, allowed: Sequence[int]) -> np.ndarray:
    if len(allowed) == 0:
        return np.ones(len(lengths), dtype=bool)
    return np.isin(lengths, np.asarray(allowed))


def _prefix_match(values: pa.Array, pattern: str) -> np.ndarray:
    return _np(pc.match_substring_regex(values, f"^(?:{pattern})"))


def _np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    return values.take(pa.array(idx, type=pa.int64()))


def _lengths(values: pa.Array) -> np.ndarray:
    """Byte lengths (the national numbers are ASCII digits, so also their lengths)."""
    return np.asarray(pc.binary_length(values).to_numpy(zero_copy_only=False), dtype=np.int64)


def _desc_match(md: Any, name: str, values: pa.Array, lengths: np.ndarray) -> np.ndarray:
    desc = getattr(md, name)
    if not _desc_ok(desc):
        return np.zeros(len(values), dtype=bool)
    out = _lengths_mask(lengths, desc.possible_length)
    if out.all():
        return fullmatch(values, desc.national_number_pattern)
    if out.any():
        idx = np.flatnonzero(out)
        out[idx] = fullmatch(_take(values, idx), desc.national_number_pattern)
    return out


def _type_groups(md: Any) -> tuple[tuple[tuple[int, ...], str], ...]:
    """The number types of ``md`` as one alternation per set of possible lengths."""
    return _type_groups_of(md.id)


@cache
def _type_groups_of(region: str) -> tuple[tuple[tuple[int, ...], str], ...]:
    md = PhoneMetadata.metadata_for_region(region)
    groups: dict[tuple[int, ...], list[str]] = {}
    for name in _DESC_ORDER:
        desc = getattr(md, name)
        if _desc_ok(desc):
            groups.setdefault(tuple(desc.possible_length), []).append(desc.national_number_pattern)
    return tuple((lengths, "|".join(f"(?:{p})" for p in pats)) for lengths, pats in groups.items())


def _known_type(md: Any, values: pa.Array) -> np.ndarray:
    """Per value: phonenumbers' ``_number_type_helper(n, md) != UNKNOWN``."""
    lengths = _lengths(values)
    known = _desc_match(md, "general_desc", values, lengths)
    if not known.any():
        return known
    idx = np.flatnonzero(known)
    everything = len(idx) == len(values)
    sub = values if everything else _take(values, idx)
    sub_len = lengths[idx]
    # Any of the type descriptions matching makes the type known; descriptions sharing their
    # possible lengths are matched as one alternation (one pass over the column).
    any_type = np.zeros(len(idx), dtype=bool)
    for lengths_allowed, pattern in _type_groups(md):
        todo = ~any_type & _lengths_mask(sub_len, lengths_allowed)
        if todo.all():
            any_type = fullmatch(sub, pattern)
        elif todo.any():
            t_idx = np.flatnonzero(todo)
            any_type[t_idx] = fullmatch(_take(sub, t_idx), pattern)
    known[idx] = any_type
    return known


_UNSAFE_FOR_PREFIX = ("$", "^", "\\b", "\\B", "(?=", "(?!", "(?<")


@cache
def _leading_digits_width(cc: int) -> int | None:
    """The longest text the leading-digits patterns of ``cc``'s regions can consume, when every
    one of them can be decided from that many first digits (no anchors, no lookaround); else
    None."""
    width = 0
    for region in COUNTRY_CODE_TO_REGION_CODE[cc]:
        md = PhoneMetadata.metadata_for_region(region)
        ld = md.leading_digits if md is not None else None
        if ld is None:
            continue
        if any(tok in ld for tok in _UNSAFE_FOR_PREFIX):
            return None
        width = max(width, sre_parse.parse(ld).getwidth()[1])
    return width


def _valid_for_cc(cc: int, national: pa.Array) -> np.ndarray:
    """Per national number of country code ``cc``: ``phonenumbers.is_valid_number``."""
    regions = COUNTRY_CODE_TO_REGION_CODE[cc]
    if len(regions) == 1:
        return _known_type(PhoneMetadata.metadata_for_region(regions[0]), national)
    # _region_code_for_number_from_list: the first region whose leading digits match (or, for
    # regions without leading digits, whose types know the number) decides. Leading digits are
    # matched once per distinct prefix (a few thousand at most), not once per row.
    n = len(national)
    valid = np.zeros(n, dtype=bool)
    pending = np.ones(n, dtype=bool)
    width = _leading_digits_width(cc)
    prefix_of: np.ndarray | None = None  # per row: its prefix's position in ``prefixes``
    prefixes: list[str] = []
    for region in regions:
        md = PhoneMetadata.metadata_for_region(region)
        if md is None or not pending.any():
            continue
        idx = np.flatnonzero(pending)
        everything = len(idx) == n
        if md.leading_digits is not None:
            if width is not None:
                if prefix_of is None:  # the prefixes of the rows still pending
                    prefix_of = np.full(n, -1, dtype=np.int64)
                    firsts = pc.utf8_slice_codeunits(
                        national if everything else _take(national, idx), 0, width
                    )
                    uniq = pc.unique(firsts)
                    prefix_of[idx] = np.asarray(pc.index_in(firsts, value_set=uniq), np.int64)
                    prefixes = uniq.to_pylist()
                pattern = re.compile(md.leading_digits)
                table = np.array([pattern.match(p) is not None for p in prefixes], dtype=bool)
                cond = table[prefix_of[idx]]
            else:
                cond = _prefix_match(
                    national if everything else _take(national, idx), md.leading_digits
                )
            sel = idx[cond]
            if len(sel):
                valid[sel] = _known_type(md, _take(national, sel))
        else:
            cond = _known_type(md, national if everything else _take(national, idx))
            valid[idx[cond]] = True
        pending[idx[cond]] = False
    return valid


def _length_results(cc: int, lengths: np.ndarray) -> np.ndarray:
    """Per length: phonenumbers' ``_test_number_length`` for the main region of ``cc``."""
    md = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(cc))
    assert md is not None and md.general_desc is not None  # geographic codes only
    general = md.general_desc
    possible = list(general.possible_length)
    local = list(general.possible_length_local_only)
    out = np.empty(len(lengths), dtype=np.int64)
    for length in np.unique(lengths):
        if possible[0] == -1:
            res = ValidationResult.INVALID_LENGTH
        elif length in local:
            res = ValidationResult.IS_POSSIBLE_LOCAL_ONLY
        elif possible[0] == length:
            res = ValidationResult.IS_POSSIBLE
        elif possible[0] > length:
            res = ValidationResult.TOO_SHORT
        elif possible[-1] < length:
            res = ValidationResult.TOO_LONG
        elif length in possible[1:]:
            res = ValidationResult.IS_POSSIBLE
        else:
            res = ValidationResult.INVALID_LENGTH
        out[lengths == length] = res
    return out


@cache
def _geographic_codes() -> np.ndarray:
    """Per number 0-999: its digit count when it is a country code with real regions, else 0.
    (Non-geographic codes such as +800 take the reference path.) Reads only the code table, so
    no region metadata is loaded for countries the data never names."""
    table = np.zeros(1000, dtype=np.int64)
    for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        if "001" not in regions:
            table[cc] = len(str(cc))
    return table


@cache
def _has_metadata(cc: int) -> bool:
    return all(
        PhoneMetadata.metadata_for_region(r) is not None for r in COUNTRY_CODE_TO_REGION_CODE[cc]
    )


@cache
def _national_fast_region(region: str) -> bool:
    """Whether national-format numbers of ``region`` can take the fast path (NANP regions whose
    numbers are at most 10 digits, so "1" + 10 or more digits always reads as country code +
    number)."""
    md = PhoneMetadata.metadata_for_region(region)
    return (
        md is not None
        and md.country_code == NANP_CC
        and md.general_desc is not None
        and max(md.general_desc.possible_length) == 10
        and _rewrites_00(region)
    )


def _natpref_blocks(region: str, national: pa.Array) -> np.ndarray:
    """Rows where the region's national-prefix pattern matches (phonenumbers may strip it)."""
    md = PhoneMetadata.metadata_for_region(region)
    natpref = md.national_prefix_for_parsing if md is not None else None
    if not natpref or len(national) == 0:
        return np.zeros(len(national), dtype=bool)
    if natpref.isdigit():  # a plain prefix such as "1" or "0": no regex needed
        return _np(pc.starts_with(national, natpref))
    return _prefix_match(national, natpref)


# --- the fast path -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PhoneResult:
    """Normalized numbers of a column: ``e164`` (large_string, null where rejected), the rows
    that have codes (sorted positions, and their ";"-joined codes), and how many rows the
    vectorized path left to the phonenumbers reference."""

    e164: pa.Array
    code_rows: np.ndarray
    code_text: list[str]
    reference_rows: int = 0

    def codes(self) -> pa.Array:
        """Per row: its ";"-joined codes, "" when clean (large_string, no nulls)."""
        return sparse_strings(len(self.e164), self.code_rows, self.code_text)


def normalize_array(values: pa.Array | pa.ChunkedArray, region: str, level: str) -> PhoneResult:
    """:func:`normalize_numbers` on an Arrow string column (nulls read as blank).

    A long column is cut in ``PARALLEL_PIECES`` pieces normalized on as many threads: nearly
    all the work is in Arrow and numpy, which run without the GIL, so the pieces use the
    machine's cores side by side. Raises ConfigError for an unknown region or level."""
    region = check_region(region)
    _check_level(level)
    raw = plain_strings(values)
    n = len(raw)
    if n < PARALLEL_MIN_ROWS:
        return _normalize_piece(raw, region, level)
    bounds = np.linspace(0, n, PARALLEL_PIECES + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=PARALLEL_PIECES) as pool:
        pieces = list(
            pool.map(
                lambda k: _normalize_piece(
                    raw.slice(bounds[k], bounds[k + 1] - bounds[k]), region, level
                ),
                range(PARALLEL_PIECES),
            )
        )
    return PhoneResult(
        e164=pa.concat_arrays([p.e164 for p in pieces]),
        code_rows=np.concatenate(
            [p.code_rows + start for p, start in zip(pieces, bounds, strict=False)]
        ),
        code_text=[t for p in pieces for t in p.code_text],
        reference_rows=sum(p.reference_rows for p in pieces),
    )


def _normalize_piece(raw: pa.Array, region: str, level: str) -> PhoneResult:
    n = len(raw)
    col = _Column(n)
    raw = _dotted(raw, col)
    shape = fullmatch(raw, _RE_SHAPE) & ~col.handled
    _no_number(raw, np.flatnonzero(~shape & ~col.handled), col)
    e164 = pa.nulls(n, LS)
    if shape.any():
        e164 = _numbers(raw, shape, region, level, col)
    code_rows = [idx for idx, _ in col.rejects]
    code_text: list[list[str]] = [[code] * len(idx) for idx, code in col.rejects]
    rest = np.flatnonzero(~col.handled)
    if len(rest):
        raw_rest = _take(raw, rest).to_pylist()
        answers = {v: normalize_one(v, region, level) for v in set(raw_rest)}
        accepted = np.array([answers[v][0] is not None for v in raw_rest], dtype=bool)
        if accepted.any():
            mask = np.zeros(n, dtype=bool)
            mask[rest[accepted]] = True
            found = [answers[v][0] for v, ok in zip(raw_rest, accepted, strict=True) if ok]
            e164 = pc.replace_with_mask(e164, pa.array(mask), pa.array(found, type=LS))
        coded = [(int(i), ";".join(answers[v][1])) for i, v in zip(rest, raw_rest, strict=True)]
        coded = [(i, c) for i, c in coded if c]
        code_rows.append(np.array([i for i, _ in coded], dtype=np.int64))
        code_text.append([c for _, c in coded])
    rows = np.concatenate(code_rows) if code_rows else np.zeros(0, dtype=np.int64)
    texts = [t for part in code_text for t in part]
    order = np.argsort(rows, kind="stable")
    return PhoneResult(
        e164=e164,
        code_rows=rows[order],
        code_text=[texts[i] for i in order],
        reference_rows=len(rest),
    )


def _dotted(raw: pa.Array, col: _Column) -> pa.Array:
    """Reject decimals; turn float artifacts (``2135550102.0``) into their integer text, which
    the reference reads exactly the same way."""
    has_dot = np.flatnonzero(_np(pc.match_substring(raw, ".")))
    if not len(has_dot):
        return raw
    sub = _take(raw, has_dot)
    dotted = fullmatch(sub, _RE_DOTTED)
    if not dotted.any():
        return raw
    art = dotted & fullmatch(sub, _RE_FLOAT_ARTIFACT)
    col.reject(has_dot[dotted & ~art & fullmatch(sub, _RE_DECIMAL)], PHONE_DECIMAL)
    if art.any():
        mask = np.zeros(len(raw), dtype=bool)
        mask[has_dot[art]] = True
        fixed = pc.replace_substring_regex(_take(sub, np.flatnonzero(art)), _RE_ARTIFACT_TAIL, "")
        raw = pc.replace_with_mask(raw, pa.array(mask), fixed)
    return raw


def _no_number(raw: pa.Array, other: np.ndarray, col: _Column) -> None:
    """Values of no phone shape: blank, scientific notation, or text without a digit (which
    phonenumbers cannot read as a number); the rest is left to the reference."""
    if not len(other):
        return
    sub = _take(raw, other)
    blank = _np(pc.equal(pc.utf8_trim_whitespace(sub), ""))  # str.strip() semantics
    col.reject(other[blank], PHONE_MISSING)
    sci = ~blank & fullmatch(sub, _RE_SCIENTIFIC)
    col.reject(other[sci], PHONE_SCIENTIFIC)
    # Only ASCII text can be sure to hold no digit (phonenumbers reads any Unicode digit).
    wordy = ~blank & ~sci & _np(pc.string_is_ascii(sub))
    wordy &= ~_np(pc.match_substring_regex(sub, "[0-9]"))
    col.reject(other[wordy], PHONE_INVALID)


def _without(size: int, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A mask over ``size`` bytes: False inside the ranges ``[starts, starts + lengths)``."""
    keep = np.ones(size, dtype=bool)
    keep[positions(starts, lengths)] = False
    return keep


class _Column:
    """One column's answer, built piece by piece: the rows the fast path accepts (``good``),
    a code for the rows it rejects, and the rest (not ``handled``) left for the reference."""

    def __init__(self, n: int) -> None:
        self.handled = np.zeros(n, dtype=bool)
        self.good = np.zeros(n, dtype=bool)
        self.rejects: list[tuple[np.ndarray, str]] = []

    def reject(self, idx: np.ndarray, code: str) -> None:
        if len(idx):
            self.handled[idx] = True
            self.rejects.append((idx, code))


class _Split:
    """The phone-shaped rows split into (country code, national number) where the prefix and
    the digit count decide it; ``rows`` are their positions in the column."""

    def __init__(self, raw: pa.Array, shape: np.ndarray, region: str) -> None:
        ddata, doff = digits_of(raw)
        self.ddata, self.doff = ddata, doff
        self.dlen = dlen = np.diff(doff)
        shape = shape & (_lengths(raw) <= _MAX_INPUT_CHARS)
        rows = np.flatnonzero(shape)
        start, size = doff[rows], dlen[rows]
        plus = _np(pc.match_substring(raw, "+"))[rows]  # the shape allows "+" only in front
        d0, d1 = self._digit(start, size, 0), self._digit(start, size, 1)
        lead00 = ~plus & (d0 == 0) & (d1 == 0)
        if lead00.any() and _rewrites_00(region):
            idx = np.flatnonzero(lead00)
            lead00[idx] = _np(pc.match_substring_regex(_take(raw, rows[idx]), _RE_LEADING_00))
        else:
            lead00[:] = False
        intl = plus | lead00
        skip = np.where(lead00, 2, 0)  # digits before the country code
        cc = np.zeros(len(rows), dtype=np.int64)
        nat_skip = np.zeros(len(rows), dtype=np.int64)  # digits before the national number
        fast = np.zeros(len(rows), dtype=bool)
        i = np.flatnonzero(intl)
        if len(i):  # the shortest geographic country code wins, as in phonenumbers
            i_start, i_size = start[i] + skip[i], size[i] - skip[i]
            c0, c1, c2 = (self._digit(i_start, i_size, k) for k in range(3))
            table = _geographic_codes()
            cc_len = np.zeros(len(i), dtype=np.int64)
            i_cc = np.zeros(len(i), dtype=np.int64)
            for k, value, present in (
                (3, c0 * 100 + c1 * 10 + c2, c2 >= 0),
                (2, c0 * 10 + c1, c1 >= 0),
                (1, c0, c0 >= 0),
            ):
                hit = present & (c0 > 0)
                hit &= table[np.where(hit, value, 0)] == k
                cc_len[hit], i_cc[hit] = k, value[hit]
            ok = (cc_len > 0) & (i_size >= _FAST_MIN_DIGITS) & (i_size <= _FAST_MAX_DIGITS)
            fast[i[ok]] = True
            cc[i[ok]] = i_cc[ok]
            nat_skip[i[ok]] = skip[i[ok]] + cc_len[ok]
        one = np.zeros(len(rows), dtype=bool)  # e164 = "+1" + the digits
        if _national_fast_region(region):
            # "213 555 0100" (any length phonenumbers reads as a national number), or "1" + such
            # a number when the whole is too long for the region (then "1" is the country code).
            bare = ~intl & (d0 >= 2) & (size >= _NATIONAL_MIN_DIGITS) & (size <= _MAX_NSN_DIGITS)
            with_one = ~intl & (d0 == 1) & (d1 >= 2) & (size >= 11) & (size <= _MAX_NSN_DIGITS + 1)
            cc[bare | with_one] = NANP_CC
            nat_skip[with_one] = 1
            one = bare
            fast |= bare | with_one
        keep = np.flatnonzero(fast)
        self.rows, self.cc, self.one = rows[keep], cc[keep], one[keep]
        self.skip, self.intl = skip[keep], intl[keep]
        nat_skip = nat_skip[keep]
        # The national numbers of the fast rows, as one string column.
        mask = np.ones(len(dlen), dtype=bool)
        mask[self.rows] = False
        others = np.flatnonzero(mask & (dlen > 0))
        kept_bytes = _without(len(ddata), doff[others], dlen[others])
        for k in range(int(nat_skip.max(initial=0))):
            kept_bytes[doff[self.rows[nat_skip > k]] + k] = False
        self.national = from_parts(ddata[kept_bytes], dlen[self.rows] - nat_skip)
        if _national_fast_region(region):
            idx = np.flatnonzero(~self.intl)
            if len(idx):  # the region's own national prefix: phonenumbers may strip it
                blocked = idx[_natpref_blocks(region, _take(self.national, idx))]
                if len(blocked):
                    self._drop(blocked)

    def _digit(self, start: np.ndarray, size: np.ndarray, k: int) -> np.ndarray:
        """The value of digit ``k`` of each row (-1 past its end)."""
        out = np.full(len(start), -1, dtype=np.int64)
        inside = k < size
        out[inside] = self.ddata[start[inside] + k].astype(np.int64) - _ZERO
        return out

    def _drop(self, which: np.ndarray) -> None:
        """Leave these (positions in ``rows``) to the reference."""
        keep = np.ones(len(self.rows), dtype=bool)
        keep[which] = False
        self.rows, self.cc, self.one = self.rows[keep], self.cc[keep], self.one[keep]
        self.skip, self.intl = self.skip[keep], self.intl[keep]
        self.national = self.national.filter(pa.array(keep))

    def e164(self, good: np.ndarray, one: np.ndarray, skip: np.ndarray) -> pa.Array:
        """Plus (and "1" for national NANP numbers) and the digits after ``skip``, for the
        ``good`` rows of the column (null elsewhere)."""
        ddata, doff, dlen = self.ddata, self.doff, self.dlen
        bad = np.flatnonzero(~good & (dlen > 0))
        keep = _without(len(ddata), doff[bad], dlen[bad])
        for k in range(int(skip.max(initial=0))):
            keep[doff[:-1][good & (skip > k)] + k] = False
        lengths = np.where(good, 1 + one + dlen - skip, 0)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        out = np.empty(int(offsets[-1]), dtype=np.uint8)
        heads = offsets[:-1][good]
        ones = offsets[:-1][good & one] + 1
        is_body = np.ones(len(out), dtype=bool)
        is_body[heads] = False
        is_body[ones] = False
        out[heads] = _PLUS
        out[ones] = _ONE
        out[is_body] = ddata[keep]
        bitmap = pa.py_buffer(np.packbits(good, bitorder="little"))
        return pa.LargeStringArray.from_buffers(
            len(lengths), pa.py_buffer(offsets), pa.py_buffer(out), bitmap
        )


def _numbers(raw: pa.Array, shape: np.ndarray, region: str, level: str, col: _Column) -> pa.Array:
    """Numbers of the phone shape: split, validated at ``level``; returns the e164 column
    (null where not accepted here)."""
    n = len(raw)
    split = _Split(raw, shape, region)
    _validate(split.rows, split.cc, split.national, level, col)
    one = np.zeros(n, dtype=bool)
    one[split.rows] = split.one
    skip = np.zeros(n, dtype=np.int64)
    skip[split.rows] = split.skip
    return split.e164(col.good, one, skip)


def _validate(
    rows: np.ndarray, cc: np.ndarray, national: pa.Array, level: str, col: _Column
) -> None:
    """Check each row's national number against its country's metadata at ``level``;
    accepted rows are marked in ``col.good``, rejected ones get their length code."""
    for code in np.flatnonzero(np.bincount(cc)).tolist():  # country codes are below 1000
        sel = np.flatnonzero(cc == code)
        if not _has_metadata(code):
            continue
        nat = national if len(sel) == len(national) else _take(national, sel)
        main = phonenumbers.region_code_for_country_code(code)
        blocked = _natpref_blocks(main, nat)
        if blocked.any():  # phonenumbers may strip a national prefix: the reference decides
            keep = np.flatnonzero(~blocked)
            sel, nat = sel[keep], _take(nat, keep)
        idx = rows[sel]
        results = _length_results(code, _lengths(nat))
        if level == "valid":
            good = _valid_for_cc(code, nat)
        elif level == "possible":
            good = np.isin(
                results, [ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY]
            )
        else:
            good = np.ones(len(idx), dtype=bool)
        col.handled[idx] = True
        col.good[idx[good]] = True
        for res in np.unique(results[~good]).tolist():
            col.reject(idx[~good & (results == res)], _length_code(int(res)))


def normalize_numbers(
    values: pd.Series, region: str = "US", level: str = "valid"
) -> tuple[pd.Series, pd.Series]:
    """Normalize a column of phone texts to E.164.

    Returns ``(e164, codes)``, two ``string`` Series on ``values``' index: ``e164`` is NA where
    the value is rejected; ``codes`` holds ";"-joined reason codes ("" when clean): the
    rejection's code where ``e164`` is NA, or the warning ``phone-extension-dropped``.
    Row for row identical to :func:`normalize_one`. Raises ConfigError for an unknown region
    or level.
    """
    result = normalize_array(_series_to_arrow(values), region, level)
    return (
        pd.Series(pd.arrays.ArrowStringArray(result.e164), index=values.index),
        pd.Series(pd.arrays.ArrowStringArray(result.codes()), index=values.index),
    )


def _series_to_arrow(values: pd.Series) -> pa.Array:
    arr = pa.array(values.astype("string"), type=LS, from_pandas=True)
    return plain_strings(arr)


def normalize_remote_keys(numbers: pd.Series, region: str = "US") -> pd.Series:
    """Keys for remote leads: E.164 when the number parses (validation level ``none``), else its
    digits only (api/NOTES.md decision 9), so an invalid remote number still matches itself.
    Blank numbers give "". Returns a ``string`` Series on ``numbers``' index."""
    raw = _series_to_arrow(numbers)
    result = normalize_array(raw, region, "none")
    ddata, doff = digits_of(raw)
    digits = from_parts(ddata, np.diff(doff))
    keys = pc.coalesce(result.e164, digits)
    return pd.Series(pd.arrays.ArrowStringArray(keys), index=numbers.index)


__all__ = [
    "LEVELS",
    "PHONE_DECIMAL",
    "PHONE_ERRORS",
    "PHONE_EXTENSION_DROPPED",
    "PHONE_INVALID",
    "PHONE_MISSING",
    "PHONE_SCIENTIFIC",
    "PHONE_TOO_LONG",
    "PHONE_TOO_SHORT",
    "PhoneResult",
    "check_region",
    "normalize_array",
    "normalize_numbers",
    "normalize_one",
    "normalize_remote_keys",
]
