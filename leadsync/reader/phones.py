"""Phone numbers → E.164: a vectorized fast path, proven equal to ``phonenumbers`` row by row.

:func:`normalize_one` is the reference: a few checks for Excel damage, then
``phonenumbers.parse`` + ``is_valid_number`` / ``is_possible_number`` + ``format_number``.
:func:`normalize_array` gives exactly the same answer for a whole column at once:

1. shapes are told apart by RE2 regular expressions evaluated by Arrow over the column (blank,
   scientific notation, ``123.0`` float artifacts, decimals, "digits and the usual
   separators");
2. :mod:`.phonesplit` splits the phone-shaped values into (country code, national number) by
   prefix and digit count, over the column's byte buffer: ``+CC …`` and ``00CC …`` for every
   geographic country code, and national numbers of NANP regions (``213.555.0100``,
   ``1-213-555-0100``, too short or too long ones too);
3. :mod:`.phonemeta` validates the national numbers with phonenumbers' own metadata patterns
   (the region's leading digits, the general description, then the number types) evaluated by
   RE2 over the column, in the order phonenumbers applies them; the length verdict (too short /
   too long) comes from the same metadata;
4. values without any digit are ``phone-invalid``; everything else (extensions, letters, other
   regions' national formats…) goes through the reference once per distinct value.

The test suite checks that both paths agree on hundreds of thousands of generated values, at
every validation level and in several regions, and that the common shapes never reach the
reference.

Codes (stable strings): ``phone-missing``, ``phone-scientific``, ``phone-decimal``,
``phone-invalid``, ``phone-too-short``, ``phone-too-long`` (the row is rejected), and the warning
``phone-extension-dropped`` (the row is kept, its extension is not sent).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from ..errors import ConfigError
from .arrowtext import LS, as_bool, digits_of, from_parts, fullmatch, plain_strings, sparse_strings
from .phonemeta import rewrites_00, validate
from .phonesplit import Split

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
#: Columns at least this long are normalized in pieces on parallel threads (below it, the
#: threads cost more than they save).
PARALLEL_MIN_ROWS = 200_000
PARALLEL_PIECES = 2


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
    if m and rewrites_00(region):
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
        raw_rest = raw.take(pa.array(rest, type=pa.int64())).to_pylist()
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
    has_dot = np.flatnonzero(as_bool(pc.match_substring(raw, ".")))
    if not len(has_dot):
        return raw
    sub = raw.take(pa.array(has_dot, type=pa.int64()))
    dotted = fullmatch(sub, _RE_DOTTED)
    if not dotted.any():
        return raw
    art = dotted & fullmatch(sub, _RE_FLOAT_ARTIFACT)
    col.reject(has_dot[dotted & ~art & fullmatch(sub, _RE_DECIMAL)], PHONE_DECIMAL)
    if art.any():
        mask = np.zeros(len(raw), dtype=bool)
        mask[has_dot[art]] = True
        fixed = pc.replace_substring_regex(sub.filter(pa.array(art)), _RE_ARTIFACT_TAIL, "")
        raw = pc.replace_with_mask(raw, pa.array(mask), fixed)
    return raw


def _no_number(raw: pa.Array, other: np.ndarray, col: _Column) -> None:
    """Values of no phone shape: blank, scientific notation, or text without a digit (which
    phonenumbers cannot read as a number); the rest is left to the reference."""
    if not len(other):
        return
    sub = raw.take(pa.array(other, type=pa.int64()))
    blank = as_bool(pc.equal(pc.utf8_trim_whitespace(sub), ""))  # str.strip() semantics
    col.reject(other[blank], PHONE_MISSING)
    sci = ~blank & fullmatch(sub, _RE_SCIENTIFIC)
    col.reject(other[sci], PHONE_SCIENTIFIC)
    # Only ASCII text can be sure to hold no digit (phonenumbers reads any Unicode digit).
    wordy = ~blank & ~sci & as_bool(pc.string_is_ascii(sub))
    wordy &= ~as_bool(pc.match_substring_regex(sub, "[0-9]"))
    col.reject(other[wordy], PHONE_INVALID)


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


def _numbers(raw: pa.Array, shape: np.ndarray, region: str, level: str, col: _Column) -> pa.Array:
    """Numbers of the phone shape: split, validated at ``level``; returns the e164 column
    (null where not accepted here)."""
    n = len(raw)
    split = Split(raw, shape, region)
    verdict = validate(split.rows, split.cc, split.national, level)
    col.handled[verdict.decided] = True
    col.good[verdict.accepted] = True
    for result, rows in verdict.results.items():
        col.reject(rows, _length_code(result))
    one = np.zeros(n, dtype=bool)
    one[split.rows] = split.one
    skip = np.zeros(n, dtype=np.int64)
    skip[split.rows] = split.skip
    return split.e164(col.good, one, skip)


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
