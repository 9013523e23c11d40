"""Lead fields other than the number: text, whole numbers, status. Vectorized over a column.

Each function takes a column of raw cell texts (an Arrow string array) and returns the
normalized values (NA where the cell is blank: "not given", never zero) and a boolean mask of
cells that are bad (and so reject their row). Whole numbers and statuses repeat a handful of
values over a whole file, so they are worked out once per distinct text and spread back by
dictionary index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import LS, as_bool, fullmatch, is_empty, null_where, plain_strings

#: A whole number as people and spreadsheets write it: 3, +3, -3, 3.0, " 3 ". At most 9 digits.
_INTEGER = r"[+-]?[0-9]{1,9}(?:\.0*)?"
STATUS_UNKNOWN = "status-unknown"


def not_integer_code(field: str) -> str:
    """The reason code of a bad whole-number cell, e.g. ``priority-not-integer``."""
    return f"{field}-not-integer"


@dataclass(frozen=True, slots=True)
class Integers:
    """A column of whole numbers: ``values`` where not ``missing``."""

    values: np.ndarray  # int64
    missing: np.ndarray  # bool: blank or bad (NA)


def _distinct(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """``(index per row, distinct texts)``."""
    encoded = pc.dictionary_encode(plain_strings(values))
    return np.asarray(encoded.indices, dtype=np.int64), encoded.dictionary


def normalize_text(values: pa.Array) -> pa.Array:
    """Trimmed, Unicode NFC, null when blank (``large_string``).

    Worked out per distinct text; a column that needs no change is returned as it is."""
    values = plain_strings(values)
    index, texts = _distinct(values)
    s = pc.utf8_trim_whitespace(texts)
    ascii_only = as_bool(pc.string_is_ascii(s))
    if not ascii_only.all():  # only non-ASCII text can change under NFC
        idx = pa.array(np.flatnonzero(~ascii_only), type=pa.int64())
        nfc = pc.utf8_normalize(s.take(idx), form="NFC")
        s = pc.replace_with_mask(s, pa.array(~ascii_only), nfc)
    blank = is_empty(s)
    if not blank.any() and s.equals(texts):
        return values
    return null_where(s, blank).take(pa.array(index, type=pa.int64()))


def normalize_integer(values: pa.Array) -> tuple[Integers, np.ndarray]:
    """``(whole numbers, bad mask)``: ``3``, ``3.0`` and `` 3 `` give 3; ``high`` and ``3.5`` are
    bad; blank is NA and not bad."""
    index, texts = _distinct(values)
    s = pc.utf8_trim_whitespace(texts)
    blank = is_empty(s)
    ok = fullmatch(s, _INTEGER)
    digits = pc.replace_substring_regex(s, r"^\+|\.0*$", "")
    digits = pc.if_else(pa.array(ok), digits, pa.scalar("0", LS))
    numbers = np.asarray(pc.cast(digits, pa.int64()), dtype=np.int64)
    out = Integers(values=numbers[index], missing=~ok[index])
    return out, (~blank & ~ok)[index]


def normalize_status(values: pa.Array, statuses: Iterable[str]) -> tuple[pa.Array, np.ndarray]:
    """``(lower-cased status or null, bad mask)``: bad when not one of ``statuses``."""
    index, texts = _distinct(values)
    known = pa.array([s.strip().lower() for s in statuses], type=LS)
    s = pc.utf8_lower(pc.utf8_trim_whitespace(texts))
    blank = is_empty(s)
    bad = ~blank & ~as_bool(pc.is_in(s, value_set=known))
    out = null_where(s, blank).take(pa.array(index, type=pa.int64()))
    return out, bad[index]
