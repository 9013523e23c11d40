"""phonenumbers' metadata, compiled for Arrow: validity and length verdicts for whole columns of
national numbers, evaluated with RE2 over the column in the order phonenumbers applies them
(leading digits of a country's regions, the general description, then the number types)."""

from __future__ import annotations

import re
import re._parser as sre_parse  # for the width of a pattern
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata, ValidationResult
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from .arrowtext import fullmatch

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

_UNSAFE_FOR_PREFIX = ("$", "^", "\\b", "\\B", "(?=", "(?!", "(?<")


@cache
def rewrites_00(region: str) -> bool:
    """Whether a leading ``00`` is read as "+" in ``region``: only where phonenumbers would not
    already take it as the region's own international prefix (e.g. US dials 011)."""
    md = PhoneMetadata.metadata_for_region(region)
    idd = md.international_prefix if md is not None else None
    if not idd:
        return True
    pattern = re.compile(idd)
    return not any(pattern.match(f"00{d:02d}") for d in range(100))


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


def byte_lengths(values: pa.Array) -> np.ndarray:
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
    lengths = byte_lengths(values)
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


def valid_for_cc(cc: int, national: pa.Array) -> np.ndarray:
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


def length_results(cc: int, lengths: np.ndarray) -> np.ndarray:
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
def geographic_codes() -> np.ndarray:
    """Per number 0-999: its digit count when it is a country code with real regions, else 0.
    (Non-geographic codes such as +800 take the reference path.) Reads only the code table, so
    no region metadata is loaded for countries the data never names."""
    table = np.zeros(1000, dtype=np.int64)
    for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        if "001" not in regions:
            table[cc] = len(str(cc))
    return table


@cache
def has_metadata(cc: int) -> bool:
    return all(
        PhoneMetadata.metadata_for_region(r) is not None for r in COUNTRY_CODE_TO_REGION_CODE[cc]
    )


@cache
def national_fast_region(region: str) -> bool:
    """Whether national-format numbers of ``region`` can take the fast path (NANP regions whose
    numbers are at most 10 digits, so "1" + 10 or more digits always reads as country code +
    number)."""
    md = PhoneMetadata.metadata_for_region(region)
    return (
        md is not None
        and md.country_code == NANP_CC
        and md.general_desc is not None
        and max(md.general_desc.possible_length) == 10
        and rewrites_00(region)
    )


def natpref_blocks(region: str, national: pa.Array) -> np.ndarray:
    """Rows where the region's national-prefix pattern matches (phonenumbers may strip it)."""
    md = PhoneMetadata.metadata_for_region(region)
    natpref = md.national_prefix_for_parsing if md is not None else None
    if not natpref or len(national) == 0:
        return np.zeros(len(national), dtype=bool)
    if natpref.isdigit():  # a plain prefix such as "1" or "0": no regex needed
        return _np(pc.starts_with(national, natpref))
    return _prefix_match(national, natpref)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The metadata's answer for some rows: ``decided`` rows (the others need the reference),
    of which ``accepted`` ones pass the level; every other decided row has its length verdict
    (phonenumbers' ``ValidationResult``) in ``results``."""

    decided: np.ndarray
    accepted: np.ndarray
    results: dict[int, np.ndarray]


def validate(rows: np.ndarray, cc: np.ndarray, national: pa.Array, level: str) -> Verdict:
    """Check each row's national number against its country's metadata at ``level``
    (``valid``: ``is_valid_number``; ``possible``: ``is_possible_number``; ``none``: it
    parsed). Rows of a country whose national prefix phonenumbers might strip are left
    undecided."""
    decided: list[np.ndarray] = []
    accepted: list[np.ndarray] = []
    rejected: dict[int, list[np.ndarray]] = {}
    for code in np.flatnonzero(np.bincount(cc)).tolist():  # country codes are below 1000
        sel = np.flatnonzero(cc == code)
        if not has_metadata(code):
            continue
        nat = national if len(sel) == len(national) else _take(national, sel)
        main = phonenumbers.region_code_for_country_code(code)
        blocked = natpref_blocks(main, nat)
        if blocked.any():  # phonenumbers may strip a national prefix: the reference decides
            keep = np.flatnonzero(~blocked)
            sel, nat = sel[keep], _take(nat, keep)
        idx = rows[sel]
        results = length_results(code, byte_lengths(nat))
        if level == "valid":
            good = valid_for_cc(code, nat)
        elif level == "possible":
            good = np.isin(
                results, [ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY]
            )
        else:
            good = np.ones(len(idx), dtype=bool)
        decided.append(idx)
        accepted.append(idx[good])
        for res in np.unique(results[~good]).tolist():
            rejected.setdefault(int(res), []).append(idx[~good & (results == res)])
    empty = np.zeros(0, dtype=np.int64)
    return Verdict(
        decided=np.concatenate(decided) if decided else empty,
        accepted=np.concatenate(accepted) if accepted else empty,
        results={res: np.concatenate(parts) for res, parts in rejected.items()},
    )
