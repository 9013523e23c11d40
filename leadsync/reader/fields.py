"""Lead fields other than the number: text, whole numbers, status. Vectorized over a column.

Each function takes a column of raw cell texts and returns the normalized ``string`` / ``Int64``
Series (NA where the cell is blank: "not given", never zero) and a boolean mask of cells that
are bad (and so reject their row).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: A whole number as people and spreadsheets write it: 3, +3, -3, 3.0, " 3 ". At most 9 digits.
_INTEGER = r"[+-]?[0-9]{1,9}(?:\.0*)?"


def not_integer_code(field: str) -> str:
    """The reason code of a bad whole-number cell, e.g. ``priority-not-integer``."""
    return f"{field}-not-integer"


STATUS_UNKNOWN = "status-unknown"


def _arrow(values: pd.Series) -> pa.Array:
    arr = pa.array(values.astype("string"), type=pa.large_string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _series(arr: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index)


def normalize_text(values: pd.Series) -> pd.Series:
    """Trimmed, Unicode NFC, NA when blank (a ``string`` Series)."""
    s = pc.utf8_normalize(pc.utf8_trim_whitespace(_arrow(values)), form="NFC")
    s = pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.large_string()), s)
    return _series(s, values.index)


def normalize_integer(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``(Int64 values, bad mask)``: ``3``, ``3.0`` and `` 3 `` give 3; ``high`` and ``3.5`` are
    bad; blank is NA and not bad."""
    s = pc.fill_null(pc.utf8_trim_whitespace(_arrow(values)), "")
    blank = np.asarray(pc.equal(s, "").to_numpy(zero_copy_only=False), dtype=bool)
    ok = np.asarray(
        pc.match_substring_regex(s, f"^(?:{_INTEGER})$").to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    digits = pc.replace_substring_regex(s, r"^\+|\.0*$", "")
    digits = pc.if_else(pa.array(ok), digits, pa.scalar(None, pa.large_string()))
    ints = pc.cast(digits, pa.int64())
    out = ints.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    out.index = values.index
    return out, ~blank & ~ok


def normalize_status(values: pd.Series, statuses: Iterable[str]) -> tuple[pd.Series, np.ndarray]:
    """``(lower-cased status or NA, bad mask)``: bad when not one of ``statuses``."""
    known = pa.array([s.strip().lower() for s in statuses], type=pa.large_string())
    s = pc.utf8_lower(pc.utf8_trim_whitespace(_arrow(values)))
    s = pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.large_string()), s)
    bad = pc.and_(pc.is_valid(s), pc.invert(pc.is_in(s, value_set=known)))
    bad_np = np.asarray(pc.fill_null(bad, False).to_numpy(zero_copy_only=False), dtype=bool)
    return _series(s, values.index), bad_np
