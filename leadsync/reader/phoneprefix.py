"""The prefixes ``phonenumbers.parse`` reads off a number, over whole columns of digit strings:
the region's national prefix (``0``, ``1``, ``8``, carrier codes, transform rules), its
international prefix (``00``, ``011``, ``010``, …) and the country calling code — each equal to
the library's own helper (``_maybe_strip_national_prefix_carrier_code``,
``_maybe_strip_i18n_prefix_and_normalize``, ``_extract_country_code``) value for value, its
metadata patterns evaluated by RE2 (whose leftmost-first matching picks what Python's ``re``
picks for these patterns: no backreferences, no lookaround)."""

from __future__ import annotations

import re
import re._parser as sre_parse  # for the width of a pattern group
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    _maybe_strip_national_prefix_carrier_code,
)

from .arrowtext import as_bool, digit_at, drop_prefix, put, take
from .phonemeta import byte_lengths, general_match, metadata_for

_MAX_CC_DIGITS = 3
#: A transform rule phonenumbers' Python port writes as RE2 can read it: digits and \N.
_PLAIN_RULE = re.compile(r"(?:[0-9]|\\[0-9])*")


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


@cache
def _national_prefix(region: str, cc: int) -> _Prefix | None:
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
    idx, new = national_prefix_candidates(md, values)
    if not len(idx):
        return values
    return put(values, idx, new)


def national_prefix_candidates(
    md: Any, values: pa.Array, among: np.ndarray | None = None
) -> tuple[np.ndarray, pa.Array]:
    """The positions (of ``values``, within ``among``) where ``md``'s national prefix matches,
    and what phonenumbers makes of each of those values (often stripped, sometimes not)."""
    prefix = _national_prefix(md.id, md.country_code)
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
    return hit, put(values, hit, take(rest, np.flatnonzero(hit[idx])))


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
