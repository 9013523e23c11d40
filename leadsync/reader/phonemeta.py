"""phonenumbers' metadata, compiled for Arrow: validity and length verdicts for whole columns of
national numbers, evaluated with RE2 over the column in the order phonenumbers applies them
(leading digits of a country's regions, the general description, then the number types)."""

from __future__ import annotations

import re
import re._parser as sre_parse  # for the width of a pattern
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata, ValidationResult
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from .arrowtext import as_bool, fullmatch, groups, take

#: phonenumbers' region of non-geographic country codes (+800, +808, +870, …).
NON_GEO = "001"

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


def byte_lengths(values: pa.Array) -> np.ndarray:
    """Byte lengths (the national numbers are ASCII digits, so also their lengths)."""
    return np.asarray(pc.binary_length(values).to_numpy(zero_copy_only=False), dtype=np.int64)


def _fullmatch_where(values: pa.Array, where: np.ndarray, pattern: str) -> np.ndarray:
    """Per value: ``where`` holds and ``pattern`` matches all of it (matched on those only)."""
    if where.all():
        return fullmatch(values, pattern)
    out = where.copy()
    if out.any():
        idx = np.flatnonzero(out)
        out[idx] = fullmatch(take(values, idx), pattern)
    return out


def _desc_match(md: Any, name: str, values: pa.Array, lengths: np.ndarray) -> np.ndarray:
    desc = getattr(md, name)
    if not _desc_ok(desc):
        return np.zeros(len(values), dtype=bool)
    allowed = _lengths_mask(lengths, desc.possible_length)
    return _fullmatch_where(values, allowed, desc.national_number_pattern)


def metadata_for(region: str, cc: int) -> Any:
    """phonenumbers' ``metadata_for_region_or_calling_code``: the region's metadata, or the
    country code's for non-geographic codes (region "001", such as +800); None when missing."""
    if region == NON_GEO:
        return PhoneMetadata.metadata_for_nongeo_region(cc)
    return PhoneMetadata.metadata_for_region(region)


@cache
def _type_groups(region: str, cc: int) -> tuple[tuple[tuple[int, ...], str], ...]:
    """The number types of the metadata of (``region``, ``cc``) as one alternation per set of
    possible lengths."""
    md = metadata_for(region, cc)
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
    sub = take(values, idx)
    sub_len = lengths[idx]
    # Any of the type descriptions matching makes the type known; descriptions sharing their
    # possible lengths are matched as one alternation (one pass over the column).
    any_type = np.zeros(len(idx), dtype=bool)
    for lengths_allowed, pattern in _type_groups(md.id, md.country_code):
        todo = ~any_type & _lengths_mask(sub_len, lengths_allowed)
        any_type |= _fullmatch_where(sub, todo, pattern)
    known[idx] = any_type
    return known


@cache
def _leading_digits_width(cc: int) -> int | None:
    """The longest text the leading-digits patterns of ``cc``'s regions can consume, when every
    one of them can be decided from that many first digits (no anchors, no lookaround); else
    None."""
    width = 0
    for region in COUNTRY_CODE_TO_REGION_CODE[cc]:
        md = metadata_for(region, cc)
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
        return _known_type(metadata_for(regions[0], cc), national)
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
        md = metadata_for(region, cc)
        if md is None or not pending.any():
            continue
        idx = np.flatnonzero(pending)
        if md.leading_digits is not None:
            if width is not None:
                if prefix_of is None:  # the prefixes of the rows still pending
                    prefix_of = np.full(n, -1, dtype=np.int64)
                    firsts = pc.utf8_slice_codeunits(take(national, idx), 0, width)
                    uniq = pc.unique(firsts)
                    prefix_of[idx] = np.asarray(pc.index_in(firsts, value_set=uniq), np.int64)
                    prefixes = uniq.to_pylist()
                pattern = re.compile(md.leading_digits)
                table = np.array([pattern.match(p) is not None for p in prefixes], dtype=bool)
                cond = table[prefix_of[idx]]
            else:
                prefix = f"^(?:{md.leading_digits})"
                cond = as_bool(pc.match_substring_regex(take(national, idx), prefix))
            sel = idx[cond]
            if len(sel):
                valid[sel] = _known_type(md, take(national, sel))
        else:
            cond = _known_type(md, take(national, idx))
            valid[idx[cond]] = True
        pending[idx[cond]] = False
    return valid


def length_verdicts(md: Any, lengths: np.ndarray) -> np.ndarray:
    """Per length: phonenumbers' ``_test_number_length`` (any number type) against ``md``."""
    general = md.general_desc
    possible = list(general.possible_length)
    local = list(general.possible_length_local_only)
    out = np.empty(len(lengths), dtype=np.int64)
    for length in np.unique(lengths).tolist():
        if length in local:
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
def main_metadata(cc: int) -> Any:
    """The metadata of ``cc``'s main region (or of the non-geographic code); ``cc`` must have
    metadata (:func:`has_metadata`)."""
    md = metadata_for(phonenumbers.region_code_for_country_code(cc), cc)
    assert md is not None and md.general_desc is not None
    return md


def general_match(md: Any, values: pa.Array) -> np.ndarray:
    """Per value: phonenumbers' ``_match_national_number(value, md.general_desc, False)`` (the
    pattern alone, whatever the length)."""
    if not _desc_ok(md.general_desc) or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    return fullmatch(values, md.general_desc.national_number_pattern)


@cache
def has_metadata(cc: int) -> bool:
    """Whether every region of ``cc`` has metadata with a general description."""
    mds = [metadata_for(r, cc) for r in COUNTRY_CODE_TO_REGION_CODE[cc]]
    return all(md is not None and md.general_desc is not None for md in mds)


def check_numbers(cc: np.ndarray, national: pa.Array, level: str) -> tuple[np.ndarray, np.ndarray]:
    """Per parsed number (country code ``cc`` > 0, its national significant number): whether it
    passes ``level`` (``valid``: ``is_valid_number``; ``possible``: ``is_possible_number``;
    ``none``: it parsed), and its length verdict (``is_possible_number_with_reason``, the code
    of a rejected number). Rows with ``cc`` 0 are neither."""
    n = len(cc)
    accepted = np.zeros(n, dtype=bool)
    results = np.zeros(n, dtype=np.int64)
    lengths = byte_lengths(national)
    for code, sel in groups(cc, cc > 0):
        # is_possible_number_with_reason: the lengths of the code's main region
        results[sel] = length_verdicts(main_metadata(code), lengths[sel])
        if level == "valid" and 2 * len(sel) > n:  # most of the column: no copy of it
            accepted[sel] = valid_for_cc(code, national)[sel]
        elif level == "valid":
            accepted[sel] = valid_for_cc(code, take(national, sel))
        elif level == "possible":
            accepted[sel] = np.isin(
                results[sel],
                [ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY],
            )
        else:
            accepted[sel] = True
    return accepted, results
