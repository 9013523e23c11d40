"""Phone-shaped values → what ``phonenumbers.parse`` reads of them: their digits, whether they
start with "+", and whether they start with the ``00`` the reader may read as "+".

A value is phone-shaped when it holds digits and phone punctuation only (spaces, NBSP,
``-``, Unicode dashes, ``.``, ``/``, brackets) with one optional leading "+", padded with any
whitespace Python's ``str.strip`` removes: for such a value phonenumbers' result depends on
nothing else. Values with an extension (``… ext. 12``, ``… x12``) are split into the number
and its extension first (:func:`split_extensions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import as_bool, digit_at, digits_of, from_parts, take
from .phonemeta import byte_lengths, rewrites_00

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
#: phonenumbers refuses longer input text outright (TOO_LONG).
_MAX_INPUT_CHARS = 250


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
    ddata, doff = digits_of(values)
    digits = from_parts(ddata, np.diff(doff))
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
