"""Duplicates in the input: rows sharing (campaign, E.164 number), by integer keys.

The number ``+12135550100`` is keyed as the integer 12135550100 and the campaign by its
dictionary code, so the grouping hashes two integer columns instead of a million strings; only
the rows of groups with more than one member are then sorted to find who duplicates whom.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..models import IssueKind

#: Longest E.164 text keyed as an int64 ("+" and 18 digits); longer ones (only possible below
#: the "valid" level) are keyed by their text.
_MAX_INT_KEY_CHARS = 19
_INT64_MAX = 2**63 - 1


def _number_keys(numbers: pa.Array) -> tuple[np.ndarray, int]:
    """An integer key per number (equal numbers, equal keys; -1 for none) and a bound above
    every key: the E.164 digits as an integer, else (very long numbers) a dense code."""
    if len(numbers) and pc.max(pc.binary_length(numbers)).as_py() <= _MAX_INT_KEY_CHARS:
        ints = pc.cast(pc.utf8_slice_codeunits(numbers, 1), pa.int64())
        keys = np.asarray(pc.fill_null(ints, -1), dtype=np.int64)
        return keys, int(keys.max()) + 1
    codes, uniques = pd.factorize(np.asarray(numbers.to_pylist(), dtype=object))
    return codes.astype(np.int64), len(uniques)


def _campaign_codes(campaigns: pa.Array) -> tuple[np.ndarray, int]:
    """A code per campaign text (0 for none) and how many codes there are."""
    encoded = pc.dictionary_encode(campaigns)
    codes = np.asarray(pc.fill_null(encoded.indices, -1), dtype=np.int64) + 1
    return codes, len(encoded.dictionary) + 1


def find_duplicates(
    numbers: pa.Array, campaigns: pa.Array, rejected: np.ndarray, policy: str
) -> tuple[np.ndarray, IssueKind]:
    """Per row: the position of the row it duplicates (-1 when it is kept, unique or already
    rejected), and the kind of issue a duplicate is under ``policy`` (``first``: the first of
    each (campaign, number) is kept; ``last``: the last; ``reject``: none, each pointing at
    another member of its group)."""
    kind = IssueKind.REJECTED if policy == "reject" else IssueKind.DUPLICATE
    twin = np.full(len(rejected), -1, dtype=np.int64)
    ok = np.flatnonzero(~rejected)
    if len(ok) == 0:
        return twin, kind
    numbers_key, bound = _number_keys(numbers)
    campaign_key, campaign_count = _campaign_codes(campaigns)
    numbers_key, campaign_key = numbers_key[ok], campaign_key[ok]
    if campaign_count == 1:
        group, _ = pd.factorize(numbers_key)
    elif bound * campaign_count <= _INT64_MAX:  # (number, campaign) as one int64
        group, _ = pd.factorize(numbers_key * campaign_count + campaign_key)
    else:
        dense, _ = pd.factorize(numbers_key)
        group, _ = pd.factorize(dense.astype(np.int64) * campaign_count + campaign_key)
    multi = np.flatnonzero(np.bincount(group)[group] > 1)
    if len(multi) == 0:
        return twin, kind
    g = group[multi]
    order = multi[np.argsort(g, kind="stable")]  # by group, then by position
    ordered = group[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(order)]
    member = np.repeat(np.arange(len(starts)), ends - starts)  # per ordered row: its group
    first, last = order[starts][member], order[ends - 1][member]
    if policy == "last":
        dup = order != last
        twin[ok[order[dup]]] = ok[last[dup]]
    elif policy == "reject":
        second = order[starts + 1][member]
        twin[ok[order]] = ok[np.where(order == first, second, first)]
    else:
        dup = order != first
        twin[ok[order[dup]]] = ok[first[dup]]
    return twin, kind
