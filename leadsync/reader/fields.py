"""Lead fields other than the number: text, whole numbers, status. Vectorized over a column.

Each function takes a column of raw cell texts and returns the normalized ``string`` / ``Int64``
Series (NA where the cell is blank: "not given", never zero) and a boolean mask of cells that
are bad (and so reject their row).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

#: A whole number as people and spreadsheets write it: 3, +3, -3, 3.0, " 3 ". At most 9 digits.
_INTEGER = r"[+-]?[0-9]{1,9}(?:\.0*)?"


def not_integer_code(field: str) -> str:
    """The reason code of a bad whole-number cell, e.g. ``priority-not-integer``."""
    return f"{field}-not-integer"


STATUS_UNKNOWN = "status-unknown"


def normalize_text(values: pd.Series) -> pd.Series:
    """Trimmed, Unicode NFC, NA when blank."""
    s = values.astype("string").str.strip().str.normalize("NFC")
    return s.mask(s == "")


def normalize_integer(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``(Int64 values, bad mask)``: ``3``, ``3.0`` and `` 3 `` give 3; ``high`` and ``3.5`` are
    bad; blank is NA and not bad."""
    s = values.astype("string").str.strip()
    blank = (s == "").fillna(True).to_numpy(dtype=bool)
    ok = s.str.fullmatch(_INTEGER).fillna(False).to_numpy(dtype=bool)
    digits = s.where(ok).str.replace(r"\.0*$", "", regex=True)
    out = pd.to_numeric(digits, errors="coerce").astype("Int64")
    return out, ~blank & ~ok


def normalize_status(values: pd.Series, statuses: Iterable[str]) -> tuple[pd.Series, np.ndarray]:
    """``(lower-cased status or NA, bad mask)``: bad when not one of ``statuses``."""
    known = [s.strip().lower() for s in statuses]
    s = values.astype("string").str.strip().str.lower()
    s = s.mask(s == "")
    bad = (s.notna() & ~s.isin(known)).to_numpy(dtype=bool)
    return s, bad
