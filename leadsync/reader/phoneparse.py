"""``phonenumbers.parse`` over a column of digit strings: the country code and national
significant number of every value, or its parse error — the library's own steps, in its order,
with its own metadata patterns evaluated by RE2 over the whole column.

The steps (phonenumbers' ``parse`` → ``_maybe_extract_country_code``):

1. after "+": the country code is the shortest known code the digits start with; an unknown
   code is retried without the "+" (step 2), where no country code found is an error;
2. without "+": the region's international prefix (``00``, ``011``…, unless a ``0`` follows
   it) is stripped and the country code read as in step 1; else, digits that start with the
   region's own country code lose it when the rest fits the region better (its general pattern
   after the national prefix is stripped, or the whole is too long); else the digits are a
   national number of the region;
3. the national prefix (``0``, ``1``, carrier codes, transform rules) is stripped when what is
   left has a possible length, and the length must be 2–17 digits.

Values the column path does not decide (fewer than 3 digits, an international prefix followed
by 2 digits or fewer, country codes without metadata) are marked ``undecided``: the caller asks
phonenumbers itself for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata, ValidationResult

from .arrowtext import as_bool, drop_prefix, groups, last_per_row, put, take
from .phonemeta import byte_lengths, general_match, has_metadata, length_verdicts, main_metadata
from .phoneprefix import (
    extract_country_code,
    national_prefix_candidates,
    strip_idd,
    strip_national_prefix,
)

#: Parse errors (``NumberParseException`` kinds, as the reader's codes tell them apart).
TOO_SHORT, TOO_LONG, INVALID = 1, 2, 3
#: phonenumbers' bounds on national significant numbers.
_MIN_NSN, _MAX_NSN = 2, 17
#: Fewer digits: phonenumbers' viability rules (2 digits alone, no punctuation) and the
#: "too short after the international prefix" error; the reference decides.
_MIN_DIGITS = 3


@dataclass(frozen=True, slots=True)
class Parsed:
    """Per value: ``cc`` (> 0 when parsed) and ``national`` (its national significant number;
    meaningless where ``cc`` is 0), or ``error`` (one of the constants above), or
    ``undecided``."""

    cc: np.ndarray
    national: pa.Array
    error: np.ndarray
    undecided: np.ndarray

    @property
    def parsed(self) -> np.ndarray:
        return self.cc > 0


class _Work:
    """The answer being built for one column of digit strings. National numbers are the digits
    except for the rows whose number was cut (country code, prefixes): those are kept apart,
    sorted by row, and laid over the digits once at the end."""

    def __init__(self, digits: pa.Array) -> None:
        n = len(digits)
        self.cc = np.zeros(n, dtype=np.int64)
        self.error = np.zeros(n, dtype=np.int8)
        self.undecided = np.zeros(n, dtype=bool)
        self.digits = digits
        self.own_md = np.zeros(n, dtype=bool)  # no country code extracted: the region's md
        self.cut_rows = np.zeros(0, dtype=np.int64)
        self.cut = digits.slice(0, 0)
        self._pending: list[tuple[np.ndarray, pa.Array]] = []

    def set_national(self, rows: np.ndarray, national: pa.Array) -> None:
        """``national[i]`` becomes row ``rows[i]``'s national number."""
        if len(rows):
            self._pending.append((rows, national.cast(self.digits.type)))

    def _merge(self) -> None:
        if not self._pending:
            return
        self.cut_rows, self.cut = last_per_row(  # the latest value of each row wins
            np.concatenate([self.cut_rows] + [r for r, _ in self._pending]),
            pa.concat_arrays([self.cut] + [v for _, v in self._pending]),
        )
        self._pending = []

    def national_at(self, rows: np.ndarray) -> pa.Array:
        """The national numbers of ``rows`` (ascending), all of them cut or none of them."""
        self._merge()
        at = np.searchsorted(self.cut_rows, rows)
        if not len(rows) or at[0] == len(self.cut_rows) or self.cut_rows[at[0]] != rows[0]:
            return take(self.digits, rows)
        return take(self.cut, at)

    def lengths(self) -> np.ndarray:
        self._merge()
        out = byte_lengths(self.digits).copy()
        out[self.cut_rows] = byte_lengths(self.cut)
        return out

    def national(self) -> pa.Array:
        """Every row's national number (meaningless where ``cc`` is 0)."""
        self._merge()
        if not len(self.cut_rows):
            return self.digits
        return put(self.digits, self.cut_rows, self.cut)


def parse_digits(plus: np.ndarray, digits: pa.Array, region: str) -> Parsed:
    """``phonenumbers.parse`` of each value (its digits, ``plus`` where written after "+") in
    ``region``: see the module docstring."""
    md = PhoneMetadata.metadata_for_region(region)
    work = _Work(digits)
    lengths = byte_lengths(digits)
    work.undecided[lengths < _MIN_DIGITS] = True
    live = ~work.undecided
    # 1. after "+"
    rows = np.flatnonzero(plus & live)
    code, size = extract_country_code(take(digits, rows))
    _with_code(work, rows[code > 0], code[code > 0], _after(digits, rows, code, size))
    retry = rows[code == 0]
    # 2. without "+" (and "+" with an unknown code, retried)
    national = np.sort(np.concatenate([np.flatnonzero(~plus & live), retry]))
    must_extract = np.isin(national, retry)
    _without_plus(work, md, digits, national, must_extract)
    # 3. the national prefix and the length
    _national_step(work, md)
    return Parsed(work.cc, work.national(), work.error, work.undecided)


def _after(digits: pa.Array, rows: np.ndarray, code: np.ndarray, size: np.ndarray) -> pa.Array:
    found = code > 0
    return drop_prefix(take(digits, rows[found]), size[found])


def _with_code(work: _Work, rows: np.ndarray, code: np.ndarray, rest: pa.Array) -> None:
    """Rows whose country code was read after "+" or the international prefix."""
    if not len(rows):
        return
    uniq, where = np.unique(code, return_inverse=True)
    ok = np.array([has_metadata(c) for c in uniq.tolist()], dtype=bool)[where]
    work.undecided[rows[~ok]] = True  # +800 and the like, or codes without metadata
    rows, code = rows[ok], code[ok]
    work.cc[rows] = code
    work.set_national(rows, take(rest, np.flatnonzero(ok)))


def _without_plus(
    work: _Work, md: Any, digits: pa.Array, rows: np.ndarray, must_extract: np.ndarray
) -> None:
    if not len(rows):
        return
    values = take(digits, rows)
    idd, after = strip_idd(md, values)
    i = np.flatnonzero(idd)
    if len(i):
        rest = take(after, i)
        short = byte_lengths(rest) <= _MIN_NSN  # "too short after the international prefix"
        work.undecided[rows[i[short]]] = True
        i, rest = i[~short], take(rest, np.flatnonzero(~short))
        code, size = extract_country_code(rest)
        work.error[rows[i[code == 0]]] = INVALID  # no retry: there was no "+"
        found = code > 0
        _with_code(work, rows[i[found]], code[found], _after(rest, np.arange(len(i)), code, size))
    j = np.flatnonzero(~idd)
    if not len(j):
        return
    values = take(values, j)
    rows, must_extract = rows[j], must_extract[j]
    own = str(md.country_code)
    extracted = np.zeros(len(rows), dtype=bool)
    k = np.flatnonzero(as_bool(pc.starts_with(values, own)))
    if len(k):
        full = take(values, k)
        rest = strip_national_prefix(md, drop_prefix(full, len(own)))
        better = ~general_match(md, full) & general_match(md, rest)
        better |= length_verdicts(md, byte_lengths(full)) == ValidationResult.TOO_LONG
        extracted[k[better]] = True
        work.cc[rows[k[better]]] = md.country_code
        work.set_national(rows[k[better]], take(rest, np.flatnonzero(better)))
    work.error[rows[~extracted & must_extract]] = INVALID  # "+" with an unknown code
    plain = rows[~extracted & ~must_extract]
    work.cc[plain] = md.country_code
    work.own_md[plain] = True
    # (their national number is their digits, which the work starts from)


def _national_step(work: _Work, md: Any) -> None:
    """parse()'s end: the national prefix stripped (by the region's metadata when no country
    code was read, else by the code's main region) when what is left has a possible length."""
    live = (work.cc > 0) & (work.error == 0) & ~work.undecided
    work.cc[~live] = 0
    short = live & (work.lengths() < _MIN_NSN)
    work.error[short] = TOO_SHORT
    live &= ~short
    # Rows without a country code read use the region's metadata (code 0 below), the others
    # their code's main region. The first are their digits, the others were all cut.
    by_md = np.where(work.own_md, 0, work.cc)
    n = len(work.cc)
    stripped: list[tuple[np.ndarray, pa.Array]] = []
    for code, rows in groups(by_md, live):
        group_md = md if code == 0 else main_metadata(code)
        if code == 0 and 2 * len(rows) > n:  # most of the column: no copy of it
            among = np.zeros(n, dtype=bool)
            among[rows] = True
            at, new = national_prefix_candidates(group_md, work.digits, among)
        else:
            at, new = national_prefix_candidates(group_md, work.national_at(rows))
            at = rows[at]
        if not len(at):
            continue
        verdict = length_verdicts(group_md, byte_lengths(new))
        use = (verdict == ValidationResult.IS_POSSIBLE) | (verdict == ValidationResult.TOO_LONG)
        stripped.append((at[use], take(new, np.flatnonzero(use))))
    for rows, values in stripped:  # after the loop: the cut rows are merged once
        work.set_national(rows, values)
    lengths = work.lengths()
    work.error[live & (lengths < _MIN_NSN)] = TOO_SHORT
    work.error[live & (lengths > _MAX_NSN)] = TOO_LONG
    work.cc[work.error > 0] = 0
