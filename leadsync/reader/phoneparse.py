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

import re
import re._parser as sre_parse  # for the width of a pattern group
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata, ValidationResult
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    _maybe_strip_national_prefix_carrier_code,
)

from .arrowtext import as_bool, digit_at, drop_prefix, groups, take
from .phonemeta import (
    byte_lengths,
    general_match,
    has_metadata,
    length_verdicts,
    main_metadata,
    metadata_for,
)

#: Parse errors (``NumberParseException`` kinds, as the reader's codes tell them apart).
TOO_SHORT, TOO_LONG, INVALID = 1, 2, 3
#: phonenumbers' bounds on national significant numbers.
_MIN_NSN, _MAX_NSN = 2, 17
#: Fewer digits: phonenumbers' viability rules (2 digits alone, no punctuation) and the
#: "too short after the international prefix" error; the reference decides.
_MIN_DIGITS = 3
_MAX_CC_DIGITS = 3
#: A transform rule phonenumbers' Python port writes as RE2 can read it: digits and \N.
_PLAIN_RULE = re.compile(r"(?:[0-9]|\\[0-9])*")


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


@dataclass(frozen=True, slots=True)
class _Prefix:
    """A region's national prefix for parsing, compiled: ``pattern`` anchored for RE2, the
    ``literal`` when it is plain digits, the ``transform`` rule and the ``last_group`` it
    depends on; ``exact`` is False when RE2 cannot reproduce it (then phonenumbers strips)."""

    pattern: str
    literal: str | None
    transform: str | None
    last_group: int
    exact: bool


def _national_prefix(md: Any) -> _Prefix | None:
    return _national_prefix_of(md.id, md.country_code)


@cache
def _national_prefix_of(region: str, cc: int) -> _Prefix | None:
    md = metadata_for(region, cc)
    npp = md.national_prefix_for_parsing if md is not None else None
    if not npp:
        return None
    compiled = re.compile(npp)
    rule = md.national_prefix_transform_rule or None
    exact = rule is None or (
        compiled.groups > 0
        and _PLAIN_RULE.fullmatch(rule) is not None
        and _group_min_width(npp, compiled.groups) > 0  # empty capture ≡ no capture
    )
    return _Prefix(f"^(?:{npp})", npp if npp.isdigit() else None, rule, compiled.groups, exact)


def _group_min_width(pattern: str, group: int) -> int:
    """The shortest text capturing group ``group`` of ``pattern`` can match."""

    def walk(items: Any) -> int | None:
        for op, av in items:
            if op is sre_parse.SUBPATTERN and av[0] == group:
                return int(sre_parse.SubPattern(items.state, av[3]).getwidth()[0])
            for sub in _children(op, av):
                found = walk(sub)
                if found is not None:
                    return found
        return None

    parsed = sre_parse.parse(pattern)
    width = walk(parsed)
    return 0 if width is None else width


def _children(op: Any, av: Any) -> list[Any]:
    if op is sre_parse.SUBPATTERN:
        return [av[3]]
    if op is sre_parse.BRANCH:
        return list(av[1])
    if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT):
        return [av[2]]
    return []


def strip_national_prefix(md: Any, values: pa.Array) -> pa.Array:
    """Per value: phonenumbers' ``_maybe_strip_national_prefix_carrier_code(value, md)[1]``."""
    idx, new = _national_prefix_candidates(md, values)
    if not len(idx):
        return values
    mask = np.zeros(len(values), dtype=bool)
    mask[idx] = True
    return _put(values, mask, new)


def _national_prefix_candidates(
    md: Any, values: pa.Array, among: np.ndarray | None = None
) -> tuple[np.ndarray, pa.Array]:
    """The positions (of ``values``, within ``among``) where ``md``'s national prefix matches,
    and what phonenumbers makes of each of those values (often stripped, sometimes not)."""
    prefix = _national_prefix(md)
    if prefix is None or len(values) == 0:
        return np.zeros(0, dtype=np.int64), values.slice(0, 0)
    if prefix.literal is not None:
        hit = as_bool(pc.starts_with(values, prefix.literal))
    else:
        hit = as_bool(pc.match_substring_regex(values, prefix.pattern))
    hit &= byte_lengths(values) > 0
    if among is not None:
        hit &= among
    idx = np.flatnonzero(hit)
    sub = take(values, idx)
    if not len(idx):
        return idx, sub
    if not prefix.exact:  # never with phonenumbers' metadata today; kept exact regardless
        done = [_maybe_strip_national_prefix_carrier_code(v, md)[1] for v in sub.to_pylist()]
        return idx, pa.array(done, type=values.type)
    if prefix.literal is not None:
        rest = drop_prefix(sub, len(prefix.literal))
    else:
        rest = pc.replace_substring_regex(sub, prefix.pattern, "", max_replacements=1)
    candidate = rest
    if prefix.transform is not None:
        last = pc.replace_substring_regex(sub, prefix.pattern + "[0-9]*$", f"\\{prefix.last_group}")
        transformed = pc.replace_substring_regex(
            sub, prefix.pattern, prefix.transform, max_replacements=1
        )
        candidate = pc.if_else(pa.array(byte_lengths(last) > 0), transformed, rest)
    # Not stripped when the number fitted the general pattern and would no longer.
    keep = general_match(md, sub) & ~general_match(md, candidate)
    return idx, pc.if_else(pa.array(keep), sub, candidate)


def _put(values: pa.Array, mask: np.ndarray, new: pa.Array) -> pa.Array:
    return pc.replace_with_mask(values, pa.array(mask), new.cast(values.type))


def strip_idd(md: Any, values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Where phonenumbers strips ``md``'s international prefix (not when a "0" follows it): the
    mask, and the values after it (the others unchanged)."""
    idd = md.international_prefix
    hit = np.zeros(len(values), dtype=bool)
    if not idd or len(values) == 0:
        return hit, values
    anchored = f"^(?:{idd})"
    if idd.isdigit():
        hit = as_bool(pc.starts_with(values, idd))
    else:
        hit = as_bool(pc.match_substring_regex(values, anchored))
    idx = np.flatnonzero(hit)
    if not len(idx):
        return hit, values
    sub = take(values, idx)
    if idd.isdigit():
        rest = drop_prefix(sub, len(idd))
    else:
        rest = pc.replace_substring_regex(sub, anchored, "", max_replacements=1)
    hit[idx[digit_at(rest, 0) == 0]] = False
    return hit, _put(values, hit, take(rest, np.flatnonzero(hit[idx])))


@cache
def _code_lengths() -> np.ndarray:
    """Per number 0-999: its digit count when it is a country calling code, else 0."""
    table = np.zeros(1000, dtype=np.int64)
    for cc in COUNTRY_CODE_TO_REGION_CODE:
        table[cc] = len(str(cc))
    return table


def extract_country_code(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """phonenumbers' ``_extract_country_code``: per value, the code the digits start with (the
    shortest known one; 0 when none, or when the first digit is 0) and its digit count."""
    d = [digit_at(values, k) for k in range(_MAX_CC_DIGITS)]
    code = np.zeros(len(values), dtype=np.int64)
    size = np.zeros(len(values), dtype=np.int64)
    table = _code_lengths()
    prefix = np.zeros(len(values), dtype=np.int64)
    for k in range(_MAX_CC_DIGITS):
        todo = (size == 0) & (d[k] >= 0) & (d[0] > 0)
        prefix = np.where(todo, prefix * 10 + d[k], prefix)
        hit = todo & (table[np.where(todo, prefix, 0)] == k + 1)
        code[hit], size[hit] = prefix[hit], k + 1
    return code, size


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
        rows = np.concatenate([self.cut_rows] + [r for r, _ in self._pending])
        values = pa.concat_arrays([self.cut] + [v for _, v in self._pending])
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        last = np.r_[rows[1:] != rows[:-1], True]  # the latest value of each row wins
        self.cut_rows, self.cut = rows[last], take(values, order[last])
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
        mask = np.zeros(len(self.cc), dtype=bool)
        mask[self.cut_rows] = True
        return _put(self.digits, mask, self.cut)


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
            at, new = _national_prefix_candidates(group_md, work.digits, among)
        else:
            at, new = _national_prefix_candidates(group_md, work.national_at(rows))
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
