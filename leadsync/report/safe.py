"""Formula-injection escaping for cells written to CSV and XLSX files.

A spreadsheet program treats a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula
(and some also act on a leading tab or carriage return), so a lead named
``=HYPERLINK("http://x","y")`` would become a live link, or worse, when an ops person opens
``rows.csv`` in Excel. The rule, applied to every text cell of every CSV/XLSX file leadsync
writes (OWASP "CSV injection"):

* a cell whose first character is one of ``= + - @ TAB CR`` is prefixed with ``'`` (an
  apostrophe), which every spreadsheet program shows as text;
* EXCEPT a plain number: a sign followed by a digit and then only digits, spaces, dots,
  dashes, slashes and parentheses (``^[+-][0-9][0-9 ().\\-/]*$``). That keeps E.164 numbers
  (``+12135550100``), human-written numbers (``+1 (213) 555-0100``) and negative numbers
  (``-5``, ``-0.5``) exactly as they are, in every column. Such a cell holds no function name,
  no reference and no ``|``/``!`` (DDE), so a spreadsheet can at most compute arithmetic on it.

Values that do not start with one of those characters are never changed. The prefix is applied
on output only; the data in memory and in ``summary.json`` / ``operations.jsonl`` (JSON, not
opened by spreadsheets as formulas) keeps the original text.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Characters that make a spreadsheet read a cell as a formula (or act on it).
RISKY_FIRST_CHARS = "=+-@\t\r"
#: Prefix that makes a spreadsheet show the cell as text.
ESCAPE_PREFIX = "'"

_RISKY = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"[+\-][0-9][0-9 ().\-/]*"
_PLAIN_NUMBER_RE = re.compile(_PLAIN_NUMBER)


def safe_cell(value: Any) -> Any:
    """``value`` made inert for a spreadsheet; non-strings are returned unchanged."""
    if (
        isinstance(value, str)
        and value
        and value[0] in RISKY_FIRST_CHARS
        and not _PLAIN_NUMBER_RE.fullmatch(value)
    ):
        return ESCAPE_PREFIX + value
    return value


def safe_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """:func:`safe_cell` over an Arrow text array, with Arrow's regex kernels (no Python object
    per value); nulls stay null. Returns ``values`` itself when nothing is risky."""
    starts_risky = pc.match_substring_regex(values, _RISKY)
    if not pc.any(starts_risky).as_py():  # most columns: no second pass
        return values
    risky = pc.and_(starts_risky, pc.invert(pc.match_substring_regex(values, f"^{_PLAIN_NUMBER}$")))
    if not pc.any(risky).as_py():
        return values
    prefixed = pc.binary_join_element_wise(
        pa.scalar(ESCAPE_PREFIX, values.type), values, pa.scalar("", values.type)
    )
    return pc.if_else(risky, prefixed, values)


def is_text_dtype(dtype: Any) -> bool:
    """A pandas text dtype (``str``, ``string``, Arrow strings), not ``object``."""
    return pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype)


def safe_series(values: pd.Series) -> pd.Series:
    """Vectorized :func:`safe_cell` for one column; non-text columns are returned as they are.

    Missing values stay missing. The result of a text column has the ``str`` dtype.
    """
    if is_text_dtype(values.dtype):
        text = pa.array(values, from_pandas=True)
        escaped = safe_text(text)
        if escaped is text and values.dtype == "str":
            return values
        return pd.Series(escaped, index=values.index, name=values.name, dtype="str")
    if not pd.api.types.is_object_dtype(values.dtype):
        return values
    # Object columns may mix numbers and text: only real strings can carry a formula.
    text = values.astype("str")
    is_text = values.map(lambda v: isinstance(v, str))
    risky = text.str.match(_RISKY, na=False) & ~text.str.fullmatch(_PLAIN_NUMBER, na=False)
    risky &= is_text.astype(bool)
    if not risky.any():
        return values
    out = values.copy()
    out[risky] = ESCAPE_PREFIX + text[risky]
    return out


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text column of ``frame`` passed through :func:`safe_series` (a new frame)."""
    return pd.DataFrame({c: safe_series(frame[c]) for c in frame.columns}, index=frame.index)
