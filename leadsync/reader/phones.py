"""Phone numbers → E.164: a vectorized fast path, proven equal to ``phonenumbers`` row by row.

:func:`normalize_one` is the reference: a few checks for Excel damage, then
``phonenumbers.parse`` + ``is_valid_number`` / ``is_possible_number`` + ``format_number``.
:func:`normalize_numbers` gives exactly the same answer for a whole column at once: values of
the common shapes (``+1 (213) 555-0100``, ``213.555.0100``, ``2135550102``,
``+44 20 7946 0958``, ``0044 …`` under a NANP region) are turned into (country code, national
number) with regular expressions evaluated by Arrow (RE2) over the column, and validated with
the *same* patterns from phonenumbers' metadata, applied in the same order phonenumbers applies
them. Everything else goes through the reference once per distinct value. The test suite checks
the two agree on hundreds of thousands of generated values.

Codes (stable strings): ``phone-missing``, ``phone-scientific``, ``phone-decimal``,
``phone-invalid``, ``phone-too-short``, ``phone-too-long`` (the row is rejected), and the warning
``phone-extension-dropped`` (the row is kept, its extension is not sent).
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # for the width of a pattern
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, ValidationResult
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from ..errors import ConfigError

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
_RE_MISSING = f"^{_WS}$"
_RE_SCIENTIFIC = f"^{_WS}(?:{_SCIENTIFIC}){_WS}$"
_RE_FLOAT_ARTIFACT = f"^{_WS}{_FLOAT_ARTIFACT}{_WS}$"
_RE_DECIMAL = f"^{_WS}(?:{_DECIMAL}){_WS}$"
#: Digits and the usual separators, with an optional leading "+" (possibly inside "(").
_RE_SHAPE = rf"^{_WS}\(?{_WS}\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*{_WS}$"
_RE_PLUS = rf"^{_WS}\(?{_WS}\+"
_RE_LEADING_00 = rf"^{_WS}[ (]*00"
#: Digit counts (country code included) the fast path handles; the rest go to the reference.
_FAST_MIN_DIGITS = 7
_FAST_MAX_DIGITS = 17
NANP_CC = 1

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


def _fullmatch(values: pa.Array, pattern: str) -> np.ndarray:
    return _np(pc.match_substring_regex(values, f"^(?:{pattern})$"))


def _prefix_match(values: pa.Array, pattern: str) -> np.ndarray:
    return _np(pc.match_substring_regex(values, f"^(?:{pattern})"))


def _np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def _desc_match(md: Any, name: str, values: pa.Array, lengths: np.ndarray) -> np.ndarray:
    desc = getattr(md, name)
    if not _desc_ok(desc):
        return np.zeros(len(values), dtype=bool)
    out = _lengths_mask(lengths, desc.possible_length)
    if out.any():
        idx = np.flatnonzero(out)
        out[idx] = _fullmatch(values.take(pa.array(idx)), desc.national_number_pattern)
    return out


def _known_type(md: Any, values: pa.Array) -> np.ndarray:
    """Per value: phonenumbers' ``_number_type_helper(n, md) != UNKNOWN``."""
    lengths = _np_int(pc.utf8_length(values))
    known = _desc_match(md, "general_desc", values, lengths)
    if not known.any():
        return known
    idx = np.flatnonzero(known)
    sub, sub_len = values.take(pa.array(idx)), lengths[idx]
    # Any of the type descriptions matching makes the type known; descriptions sharing their
    # possible lengths are matched as one alternation (one pass over the column).
    groups: dict[tuple[int, ...], list[str]] = {}
    for name in _DESC_ORDER:
        desc = getattr(md, name)
        if _desc_ok(desc):
            groups.setdefault(tuple(desc.possible_length), []).append(desc.national_number_pattern)
    any_type = np.zeros(len(idx), dtype=bool)
    for lengths_allowed, patterns in groups.items():
        todo = ~any_type & _lengths_mask(sub_len, lengths_allowed)
        if todo.any():
            t_idx = np.flatnonzero(todo)
            pattern = "|".join(f"(?:{p})" for p in patterns)
            any_type[t_idx] = _fullmatch(sub.take(pa.array(t_idx)), pattern)
    known[idx] = any_type
    return known


def _np_int(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)


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
    width = _leading_digits_width(cc)
    if width is not None:
        prefixes = pc.utf8_slice_codeunits(national, 0, width)
        uniq = pc.unique(prefixes)
        pid = _np_int(pc.index_in(prefixes, value_set=uniq))
        uniq_list = uniq.to_pylist()
    n = len(national)
    valid = np.zeros(n, dtype=bool)
    pending = np.ones(n, dtype=bool)
    for region in regions:
        md = PhoneMetadata.metadata_for_region(region)
        if md is None or not pending.any():
            continue
        idx = np.flatnonzero(pending)
        if md.leading_digits is not None:
            if width is not None:
                pattern = re.compile(md.leading_digits)
                table = np.array([pattern.match(p) is not None for p in uniq_list], dtype=bool)
                cond = table[pid[idx]]
            else:
                cond = _prefix_match(_take(national, idx), md.leading_digits)
            sel = idx[cond]
            if len(sel):
                valid[sel] = _known_type(md, _take(national, sel))
        else:
            cond = _known_type(md, _take(national, idx))
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


@lru_cache(maxsize=1)
def _geo_country_codes() -> dict[int, frozenset[str]]:
    """Country codes by digit count, geographic only (non-geographic ones take the slow path)."""
    by_len: dict[int, set[str]] = {1: set(), 2: set(), 3: set()}
    for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        if "001" in regions or not all(PhoneMetadata.metadata_for_region(r) for r in regions):
            continue
        by_len[len(str(cc))].add(str(cc))
    return {k: frozenset(v) for k, v in by_len.items()}


@cache
def _national_fast_region(region: str) -> bool:
    """Whether national-format numbers of ``region`` can take the fast path (NANP regions whose
    numbers are 10 digits, so "1" + 10 digits always reads as country code + number)."""
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
    if not natpref:
        return np.zeros(len(national), dtype=bool)
    return _prefix_match(national, natpref)


# --- the fast path -------------------------------------------------------------------------
_LS = pa.large_string()
_TWO_TO_NINE = pa.array(list("23456789"), type=_LS)


def _to_arrow(values: pd.Series) -> pa.Array:
    arr = pa.array(values.astype("string"), type=_LS, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pc.fill_null(arr, "")


def _digits_only(values: pa.Array) -> pa.Array:
    """Each string with every byte but ASCII digits removed (vectorized over the buffers)."""
    values = pa.concat_arrays([values.cast(_LS)])  # a fresh array: offset 0, no slicing
    n = len(values)
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[: n + 1]
    if data_buf is None or n == 0:
        return pa.array([""] * n, type=_LS)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    keep = (data >= ord("0")) & (data <= ord("9"))
    kept = np.concatenate(([0], np.cumsum(keep.astype(np.int64))))
    new_offsets = kept[offsets]
    new_data = data[keep]
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(new_offsets.tobytes()), pa.py_buffer(new_data.tobytes())
    )


def _match(values: pa.Array, pattern: str) -> np.ndarray:
    return _np(pc.match_substring_regex(values, pattern))


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    return values.take(pa.array(idx, type=pa.int64()))


class _Fast:
    """The vectorized answer for the rows it understands (``handled``); the rest is left to
    the reference. Result positions are row positions in the column."""

    def __init__(self, raw: pa.Array, region: str, level: str) -> None:
        n = len(raw)
        self.handled = np.zeros(n, dtype=bool)
        self.codes: list[tuple[np.ndarray, pa.Array]] = []
        self.e164: list[tuple[np.ndarray, pa.Array]] = []
        shape = _match(raw, _RE_SHAPE)
        # A single dot between digits: a float artifact (123.0) or a decimal (123.5)?
        dotted = np.flatnonzero(shape)
        dotted = dotted[_match(_take(raw, dotted), r"^[ \t\r\n]*[0-9]+\.[0-9]+[ \t\r\n]*$")]
        artifact = np.zeros(n, dtype=bool)
        if len(dotted):
            sub = _take(raw, dotted)
            art = _match(sub, _RE_FLOAT_ARTIFACT)
            dec = _match(sub, _RE_DECIMAL) & ~art
            artifact[dotted[art]] = True
            self._reject(dotted[dec], PHONE_DECIMAL)
            shape[dotted[dec]] = False
        other = np.flatnonzero(~shape & ~self.handled)
        if len(other):
            sub = _take(raw, other)
            missing = _match(sub, _RE_MISSING)
            self._reject(other[missing], PHONE_MISSING)
            sci = _match(sub, _RE_SCIENTIFIC) & ~missing
            self._reject(other[sci], PHONE_SCIENTIFIC)
        cand = np.flatnonzero(shape)
        if len(cand):
            self._numbers(_take(raw, cand), cand, artifact[cand], region, level)

    def _reject(self, idx: np.ndarray, code: str) -> None:
        if len(idx):
            self.handled[idx] = True
            self.codes.append((idx, pa.array([code] * len(idx), type=_LS)))

    def _numbers(
        self, sub: pa.Array, pos: np.ndarray, is_art: np.ndarray, region: str, level: str
    ) -> None:
        m = len(sub)
        if is_art.any():
            art_idx = np.flatnonzero(is_art)
            fixed = pc.replace_substring_regex(_take(sub, art_idx), r"\.0+[ \t\r\n]*$", "")
            sub = pc.replace_with_mask(sub, pa.array(is_art), fixed)
        digits = _digits_only(sub)
        dlen = _np_int(pc.utf8_length(digits))
        plus = _match(sub, _RE_PLUS) & ~is_art
        if _rewrites_00(region):
            lead00 = _match(sub, _RE_LEADING_00) & ~plus & ~is_art
        else:
            lead00 = np.zeros(m, dtype=bool)
        intl = plus | lead00
        # International: D = the digits after "+" (or "00"), country code + national number.
        d = pc.if_else(pa.array(lead00), pc.utf8_slice_codeunits(digits, 2), digits)
        dl = np.where(lead00, dlen - 2, dlen)
        ok = intl & (dl >= _FAST_MIN_DIGITS) & (dl <= _FAST_MAX_DIGITS)
        ok &= ~_np(pc.equal(pc.utf8_slice_codeunits(d, 0, 1), "0"))
        ccs = _geo_country_codes()
        cc_len = np.zeros(m, dtype=np.int64)
        for k in (3, 2, 1):  # the shortest known prefix wins, as in phonenumbers
            prefix = pc.utf8_slice_codeunits(d, 0, k)
            cc_len[_np(pc.is_in(prefix, value_set=pa.array(sorted(ccs[k]), type=_LS)))] = k
        # No geographic code (e.g. "+800…", a non-geographic one): the reference answers.
        ok &= cc_len > 0
        cc = pc.utf8_slice_codeunits(d, 0, 1)
        nat = pc.utf8_slice_codeunits(d, 1)
        for k in (2, 3):
            sel = pa.array(cc_len == k)
            cc = pc.if_else(sel, pc.utf8_slice_codeunits(d, 0, k), cc)
            nat = pc.if_else(sel, pc.utf8_slice_codeunits(d, k), nat)
        # National (NANP regions): 10 digits starting 2-9, or "1" + those 10.
        if _national_fast_region(region):
            first = pc.utf8_slice_codeunits(digits, 0, 1)
            second = pc.utf8_slice_codeunits(digits, 1, 2)
            ten = ~intl & (dlen == 10) & _np(pc.is_in(first, value_set=_TWO_TO_NINE))
            eleven = ~intl & (dlen == 11) & _np(pc.equal(first, "1"))
            eleven &= _np(pc.is_in(second, value_set=_TWO_TO_NINE))
            natl = ten | eleven
            if natl.any():
                cc = pc.if_else(pa.array(natl), pa.scalar(str(NANP_CC), _LS), cc)
                nat = pc.if_else(
                    pa.array(ten),
                    digits,
                    pc.if_else(pa.array(eleven), pc.utf8_slice_codeunits(digits, 1), nat),
                )
                idx = np.flatnonzero(natl)
                natl[idx[_natpref_blocks(region, _take(nat, idx))]] = False
                ok |= natl
        self._validate(pos, ok, cc, nat, level)

    def _validate(
        self, pos: np.ndarray, ok: np.ndarray, cc: pa.Array, nat: pa.Array, level: str
    ) -> None:
        ok_idx = np.flatnonzero(ok)
        cc_ok = _take(cc, ok_idx)
        for code in pc.unique(cc_ok).to_pylist():
            idx = ok_idx[_np(pc.equal(cc_ok, code))]
            national = _take(nat, idx)
            main = phonenumbers.region_code_for_country_code(int(code))
            blocked = _natpref_blocks(main, national)
            if blocked.any():  # phonenumbers may strip a national prefix: the reference decides
                idx, national = idx[~blocked], _take(national, np.flatnonzero(~blocked))
            results = _length_results(int(code), _np_int(pc.utf8_length(national)))
            if level == "valid":
                good = _valid_for_cc(int(code), national)
            elif level == "possible":
                good = np.isin(
                    results,
                    [ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY],
                )
            else:
                good = np.ones(len(idx), dtype=bool)
            self.handled[pos[idx]] = True
            g = np.flatnonzero(good)
            if len(g):
                e164 = pc.binary_join_element_wise(
                    pa.scalar("+", _LS),
                    pa.scalar(code, _LS),
                    _take(national, g),
                    pa.scalar("", _LS),
                )
                self.e164.append((pos[idx[g]], e164))
            for res in np.unique(results[~good]):
                bad = idx[~good & (results == res)]
                self._reject(pos[bad], _length_code(int(res)))


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
    region = check_region(region)
    _check_level(level)
    raw = _to_arrow(values)
    n = len(raw)
    fast = _Fast(raw, region, level)
    e164_parts, code_parts = list(fast.e164), list(fast.codes)
    rest = np.flatnonzero(~fast.handled)
    if len(rest):
        raw_rest = _take(raw, rest).to_pylist()
        answers = {v: normalize_one(v, region, level) for v in set(raw_rest)}
        e164_parts.append((rest, pa.array([answers[v][0] for v in raw_rest], type=_LS)))
        code_parts.append((rest, pa.array([";".join(answers[v][1]) for v in raw_rest], type=_LS)))
    e164 = _merge(n, e164_parts)
    codes = pc.fill_null(_merge(n, code_parts), "")
    return (
        pd.Series(pd.arrays.ArrowStringArray(e164), index=values.index),
        pd.Series(pd.arrays.ArrowStringArray(codes), index=values.index),
    )


def _merge(n: int, parts: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """Scatter ``(positions, values)`` parts into one array of length ``n`` (null elsewhere)."""
    parts = [(i, v) for i, v in parts if len(i)]
    if not parts:
        return pa.nulls(n, _LS)
    idx = np.concatenate([i for i, _ in parts])
    values = pa.concat_arrays([v.cast(_LS) for _, v in parts])
    order = np.argsort(idx, kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return pc.replace_with_mask(pa.nulls(n, _LS), pa.array(mask), _take(values, order))


def normalize_remote_keys(numbers: pd.Series, region: str = "US") -> pd.Series:
    """Keys for remote leads: E.164 when the number parses (validation level ``none``), else its
    digits only (api/NOTES.md decision 9), so an invalid remote number still matches itself.
    Blank numbers give "". Returns a ``string`` Series on ``numbers``' index."""
    e164, _ = normalize_numbers(numbers, region, "none")
    digits = numbers.astype("string").fillna("").str.replace(r"[^0-9]", "", regex=True)
    return e164.fillna(digits).astype("string")
