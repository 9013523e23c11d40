"""Phone numbers → E.164, for whole columns, exactly as ``phonenumbers`` reads them.

:func:`normalize_one` (:mod:`.phoneref`) is the reference: a few checks for Excel damage, then
``phonenumbers.parse`` + ``is_valid_number`` / ``is_possible_number`` + ``format_number``.
:func:`normalize_array` gives exactly the same answer for a whole column at once
(:mod:`.phonecolumn`): the library's parsing steps and metadata patterns evaluated by RE2 and
numpy over the column, the reference only for the values of rare shapes.

The test suite checks that both paths agree on hundreds of thousands of generated values, at
every validation level and in many regions, and that the common shapes of each region never
reach the reference.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import LS, digits_of, plain_strings
from .phonecolumn import PhoneResult, normalize_piece
from .phoneref import check_level, check_region

#: Columns at least this long are normalized in pieces on parallel threads (below it, the
#: threads cost more than they save).
PARALLEL_MIN_ROWS = 200_000
PARALLEL_PIECES = 2


def normalize_array(values: pa.Array | pa.ChunkedArray, region: str, level: str) -> PhoneResult:
    """:func:`normalize_numbers` on an Arrow string column (nulls read as blank).

    A long column is cut in ``PARALLEL_PIECES`` pieces normalized on as many threads: nearly
    all the work is in Arrow and numpy, which run without the GIL, so the pieces use the
    machine's cores side by side. Raises ConfigError for an unknown region or level."""
    region = check_region(region)
    check_level(level)
    raw = plain_strings(values)
    n = len(raw)
    if n < PARALLEL_MIN_ROWS:
        return normalize_piece(raw, region, level)
    bounds = np.linspace(0, n, PARALLEL_PIECES + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=PARALLEL_PIECES) as pool:
        pieces = list(
            pool.map(
                lambda k: normalize_piece(
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
    return pa.array(values.astype("string"), type=LS, from_pandas=True)


def normalize_remote_keys(numbers: pd.Series, region: str = "US") -> pd.Series:
    """Keys for remote leads: E.164 when the number parses (validation level ``none``), else its
    digits only (docs/design.md, API decision 9), so an invalid remote number still matches itself.
    Blank numbers give "". Returns a ``string`` Series on ``numbers``' index."""
    raw = _series_to_arrow(numbers)
    result = normalize_array(raw, region, "none")
    keys = pc.coalesce(result.e164, digits_of(raw))
    return pd.Series(pd.arrays.ArrowStringArray(keys), index=numbers.index)
