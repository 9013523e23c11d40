"""One column of phone texts → E.164 and codes, decided over the whole column at once.

1. Excel damage and blanks are told apart by RE2 expressions evaluated by Arrow (blank,
   scientific notation, ``123.0`` float artifacts, decimals), text without any digit is
   ``phone-invalid``;
2. phone-shaped values (digits and phone punctuation — spaces, NBSP, ``-``, Unicode dashes,
   ``.``, ``/``, brackets — with one optional leading "+" and an optional simple extension,
   padded with any whitespace ``str.strip`` removes: for such a value phonenumbers' result
   depends on nothing else) become their digits and "+"/``00`` flags;
3. :mod:`.phoneparse` reads them as ``phonenumbers.parse`` would (international prefixes,
   country codes, national prefixes and carrier codes of the region);
4. :mod:`.phonemeta` checks the national numbers against the metadata at the level asked;
5. whatever is left (letters, rare forms) goes through the reference :func:`normalize_one`
   once per distinct value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import (
    LS,
    as_bool,
    digit_at,
    digits_of,
    drop_prefix,
    fullmatch,
    null_where,
    put,
    sparse_strings,
    take,
)
from .phonemeta import byte_lengths, check_numbers, rewrites_00
from .phoneparse import INVALID, TOO_LONG, TOO_SHORT, Parsed, parse_digits
from .phoneref import (
    DECIMAL,
    FLOAT_ARTIFACT,
    PHONE_DECIMAL,
    PHONE_EXTENSION_DROPPED,
    PHONE_INVALID,
    PHONE_MISSING,
    PHONE_SCIENTIFIC,
    PHONE_TOO_LONG,
    PHONE_TOO_SHORT,
    SCIENTIFIC,
    length_code,
    normalize_one,
)

# --- the shapes (whitespace as ``str.strip`` sees it) ------------------------------------------
#: The code points ``str.isspace()`` accepts (what ``str.strip()`` removes), as ranges: the
#: same in every Unicode version Python 3.11+ ships (a test checks it against ``isspace``;
#: scanning all of Unicode at import would cost every command a noticeable moment).
PYTHON_WHITESPACE: tuple[tuple[int, int], ...] = (
    (0x9, 0xD),
    (0x1C, 0x20),
    (0x85, 0x85),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
)


def _python_whitespace() -> str:
    """An RE2 class of exactly the characters ``str.strip()`` removes."""
    return "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in PYTHON_WHITESPACE) + "]"


#: Any run of whitespace ``str.strip()`` would remove (RE2).
WS = _python_whitespace() + "*"
#: Phone punctuation inside a number: ASCII separators, NBSP, Unicode dashes (all of them
#: punctuation phonenumbers ignores, none of them starts an extension).
SEP = r" ().\-/\x{a0}\x{2010}-\x{2015}\x{2212}"
#: Digits and separators, with an optional leading "+" (possibly inside "(").
RE_SHAPE = rf"^{WS}\(?[ \x{{a0}}]*\+?[0-9{SEP}]*[0-9][0-9{SEP}]*{WS}$"
#: A leading international "00" (RE2 twin of the reference's ``_LEADING_00_RE``).
RE_LEADING_00 = rf"^{WS}[ (]*00"
#: An extension the way lists write it: `` ext. 12``, `` x12``, `` #12``, ``;ext=12``, after a
#: digit, at the end (phonenumbers reads more forms: those go to the reference). Group 1 is
#: the number, which is then phone-shaped.
RE_EXTENSION = (
    rf"(?i)^({WS}\(?[ \x{{a0}}]*\+?[0-9{SEP}]*[0-9])"
    r"(?:[ \t]*(?:ext|x|#)\.?[ \t]*|;ext=)[0-9]{1,6}"
    rf"{WS}$"
)
_RE_SCIENTIFIC = f"^{WS}(?:{SCIENTIFIC}){WS}$"
_RE_DOTTED = rf"^{WS}[0-9]+\.[0-9]+{WS}$"
_RE_FLOAT_ARTIFACT = f"^{WS}{FLOAT_ARTIFACT}{WS}$"
_RE_DECIMAL = f"^{WS}(?:{DECIMAL}){WS}$"
_RE_ARTIFACT_TAIL = rf"\.0+{WS}$"
_RE_BLANK = f"^{WS}$"
#: phonenumbers refuses longer input text outright.
_MAX_INPUT_CHARS = 250
_PARSE_ERRORS = ((TOO_SHORT, PHONE_TOO_SHORT), (TOO_LONG, PHONE_TOO_LONG), (INVALID, PHONE_INVALID))


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """Normalized numbers of a column: ``e164`` (large_string, null where rejected), the rows
    that have codes (sorted positions, and their ";"-joined codes), and how many rows the
    column path left to the phonenumbers reference."""

    e164: pa.Array
    code_rows: np.ndarray
    code_text: list[str]
    reference_rows: int = 0

    def codes(self) -> pa.Array:
        """Per row: its ";"-joined codes, "" when clean (large_string, no nulls)."""
        return sparse_strings(len(self.e164), self.code_rows, self.code_text)


class _Column:
    """One column's answer, built piece by piece: codes of the rows decided here (``handled``),
    the rest left for the reference."""

    def __init__(self, n: int) -> None:
        self.handled = np.zeros(n, dtype=bool)
        self.codes: list[tuple[np.ndarray, str]] = []

    def code(self, idx: np.ndarray, code: str) -> None:
        if len(idx):
            self.handled[idx] = True
            self.codes.append((idx, code))


def normalize_piece(raw: pa.Array, region: str, level: str) -> PhoneResult:
    """:func:`normalize_one` for every value of ``raw`` (a ``large_string`` array without
    nulls); ``region`` and ``level`` are already checked."""
    n = len(raw)
    col = _Column(n)
    raw = _dotted(raw, col)
    shape = fullmatch(raw, RE_SHAPE) & ~col.handled
    _no_number(raw, np.flatnonzero(~shape & ~col.handled), col)
    rest = np.flatnonzero(~shape & ~col.handled & (byte_lengths(raw) <= _MAX_INPUT_CHARS))
    ext = np.zeros(n, dtype=bool)
    numbers = raw  # the values with their extension cut off
    if len(rest):
        ext_rows, cut = split_extensions(raw, rest)
        if len(ext_rows):
            ext[ext_rows] = True
            numbers = put(raw, ext, cut)
            shape |= ext
    e164 = pa.nulls(n, LS)
    if shape.any():
        e164 = _numbers(numbers, shape, ext, region, level, col)
    code_rows = [idx for idx, _ in col.codes]
    code_text: list[list[str]] = [[code] * len(idx) for idx, code in col.codes]
    rest = np.flatnonzero(~col.handled)
    if len(rest):
        raw_rest = take(raw, rest).to_pylist()
        answers = {v: normalize_one(v, region, level) for v in set(raw_rest)}
        accepted = np.array([answers[v][0] is not None for v in raw_rest], dtype=bool)
        if accepted.any():
            found = [answers[v][0] for v, ok in zip(raw_rest, accepted, strict=True) if ok]
            e164 = put(e164, rest[accepted], pa.array(found, type=LS))
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
    sub = take(raw, has_dot)
    dotted = fullmatch(sub, _RE_DOTTED)
    if not dotted.any():
        return raw
    art = dotted & fullmatch(sub, _RE_FLOAT_ARTIFACT)
    col.code(has_dot[dotted & ~art & fullmatch(sub, _RE_DECIMAL)], PHONE_DECIMAL)
    if art.any():
        fixed = pc.replace_substring_regex(sub.filter(pa.array(art)), _RE_ARTIFACT_TAIL, "")
        raw = put(raw, has_dot[art], fixed)
    return raw


def _no_number(raw: pa.Array, other: np.ndarray, col: _Column) -> None:
    """Values of no phone shape: blank, scientific notation, or text without a digit (which
    phonenumbers cannot read as a number); the rest is left to the reference."""
    if not len(other):
        return
    sub = take(raw, other)
    blank = fullmatch(sub, _RE_BLANK)
    col.code(other[blank], PHONE_MISSING)
    sci = ~blank & fullmatch(sub, _RE_SCIENTIFIC)
    col.code(other[sci], PHONE_SCIENTIFIC)
    # Only ASCII text can be sure to hold no digit (phonenumbers reads any Unicode digit).
    wordy = ~blank & ~sci & as_bool(pc.string_is_ascii(sub))
    wordy &= ~as_bool(pc.match_substring_regex(sub, "[0-9]"))
    col.code(other[wordy], PHONE_INVALID)


def _numbers(
    raw: pa.Array, shape: np.ndarray, ext: np.ndarray, region: str, level: str, col: _Column
) -> pa.Array:
    """The phone-shaped rows, parsed and checked at ``level``; returns the e164 column (null
    where not accepted here)."""
    keys = phone_keys(raw, shape, region)
    parsed = parse_digits(keys.plus, keys.digits, region)
    if keys.lead00.any():
        parsed = _as_dialled_or_plus(keys, parsed, region)
    accepted, results = check_numbers(parsed.cc, parsed.national, level)
    rows = keys.rows
    col.handled[rows[~parsed.undecided]] = True
    for error, code in _PARSE_ERRORS:
        col.code(rows[parsed.error == error], code)
    rejected = parsed.parsed & ~accepted
    for result in np.unique(results[rejected]).tolist():
        col.code(rows[rejected & (results == result)], length_code(result))
    good = parsed.parsed & accepted
    col.code(rows[good & ext[rows]], PHONE_EXTENSION_DROPPED)
    n = len(raw)
    if not good.any():
        return pa.nulls(n, LS)
    e164 = null_where(_e164(parsed.cc, parsed.national), ~good)  # per key
    if len(rows) == n:  # every row is a key (the usual column): no scatter
        return e164
    return put(pa.nulls(n, LS), rows[good], e164.filter(pa.array(good)))


def _e164(cc: np.ndarray, national: pa.Array) -> pa.Array:
    """ "+", the country code, the national number (per key; meaningless where ``cc`` is 0)."""
    codes = np.flatnonzero(np.bincount(cc))  # country codes are below 1000
    index = np.zeros(int(codes[-1]) + 1, dtype=np.int64)
    index[codes] = np.arange(len(codes))
    heads = pa.array([f"+{c}" for c in codes.tolist()], type=LS).take(pa.array(index[cc]))
    return pc.binary_join_element_wise(heads, national.cast(LS), pa.scalar("", LS))


def _as_dialled_or_plus(keys: Keys, parsed: Parsed, region: str) -> Parsed:
    """Values starting with ``00`` in a region that does not dial ``00`` abroad: kept as
    dialled when that is a valid number of the region, else read as "+" and the rest."""
    lead = np.flatnonzero(keys.lead00)
    ok = parsed.parsed[lead]
    valid = np.zeros(len(lead), dtype=bool)
    if ok.any():
        valid[ok] = check_numbers(parsed.cc[lead[ok]], take(parsed.national, lead[ok]), "valid")[0]
    redo = lead[~valid & ~parsed.undecided[lead]]
    if not len(redo):
        return parsed
    again = parse_digits(
        np.ones(len(redo), dtype=bool), drop_prefix(take(keys.digits, redo), 2), region
    )
    cc, error, undecided = parsed.cc.copy(), parsed.error.copy(), parsed.undecided.copy()
    cc[redo], error[redo], undecided[redo] = again.cc, again.error, again.undecided
    return Parsed(cc, put(parsed.national, redo, again.national), error, undecided)


@dataclass(frozen=True, slots=True)
class Keys:
    """The phone-shaped rows of a column (``rows``, positions) and what decides their parse:
    the ``digits`` (a string column), ``plus`` and ``lead00``."""

    rows: np.ndarray
    plus: np.ndarray
    lead00: np.ndarray
    digits: pa.Array


def phone_keys(raw: pa.Array, shape: np.ndarray, region: str) -> Keys:
    """The keys of the ``shape`` rows of ``raw`` (rows too long for phonenumbers are left
    out)."""
    short = byte_lengths(raw) <= _MAX_INPUT_CHARS
    rows = np.flatnonzero(shape & short)
    # The digits of the whole column cost less than cutting out the rows first; but a column
    # with long cells (hostile or not phones at all) only gives its short ones.
    values = raw if short.all() else take(raw, rows)
    digits = digits_of(values)
    plus = as_bool(pc.match_substring(values, "+"))  # the shape allows "+" only in front
    if len(values) != len(rows):
        digits, plus = take(digits, rows), plus[rows]
    lead00 = np.zeros(len(rows), dtype=bool)
    if rewrites_00(region):
        idx = np.flatnonzero(~plus & (digit_at(digits, 0) == 0) & (digit_at(digits, 1) == 0))
        lead00[idx] = as_bool(pc.match_substring_regex(take(raw, rows[idx]), RE_LEADING_00))
    return Keys(rows, plus, lead00, digits)


def split_extensions(raw: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Of the values at ``rows``: the ones that are a phone-shaped number and an extension,
    and their number part (what phonenumbers parses once it has cut the extension off)."""
    sub = take(raw, rows)
    hit = as_bool(pc.match_substring_regex(sub, RE_EXTENSION))
    idx = np.flatnonzero(hit)
    numbers = pc.replace_substring_regex(take(sub, idx), RE_EXTENSION, r"\1")
    return rows[idx], numbers
