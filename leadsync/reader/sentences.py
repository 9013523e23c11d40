"""The sentences of the most common row codes, built over whole columns.

A large file can reject hundreds of thousands of rows for their phone number; each such row's
sentence is ``<header> <repr of the trimmed cell><tail>``. Here that text is made with Arrow
kernels for cells whose ``repr`` is the cell between single quotes (printable ASCII without
``'`` or ``\\``: nearly all of them); Python's own ``str.strip`` and ``repr`` make the others,
so the text is exactly what :mod:`leadsync.reader.issues` says for one row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import phones

LS = pa.large_string()
#: Cells whose ``repr(cell.strip())`` is ``'`` + the cell trimmed of spaces + ``'``.
_PLAIN = r"^[ -&(-\[\]-~]*$"


def phone_tails(region: str, header: str) -> dict[str, str]:
    """The text after ``<header> <cell>`` of each phone code whose sentence quotes the cell."""
    return {
        phones.PHONE_TOO_SHORT: " is too short to be a phone number.",
        phones.PHONE_TOO_LONG: " is too long to be a phone number.",
        phones.PHONE_INVALID: (
            f" is not a valid phone number (default region {region}; add the +country code)."
        ),
        phones.PHONE_DECIMAL: (
            f" is a decimal number, not a phone number: format the {header} "
            "column as Text and re-enter it."
        ),
    }


def quoted(cells: pa.Array) -> pa.Array:
    """``repr(cell.strip())`` of every cell (a null cell as ``''``)."""
    cells = pc.fill_null(cells.cast(LS), "")
    plain = np.asarray(
        pc.match_substring_regex(cells, _PLAIN).to_numpy(zero_copy_only=False), dtype=bool
    )
    fast = pc.binary_join_element_wise(
        pa.scalar("'", LS), pc.utf8_trim(cells, " "), pa.scalar("'", LS), pa.scalar("", LS)
    )
    if plain.all():
        return fast
    others = np.flatnonzero(~plain)
    slow = [repr(v.strip()) for v in cells.take(pa.array(others, pa.int64())).to_pylist()]
    out = np.empty(len(cells), dtype=object)
    out[others] = slow
    keep = np.flatnonzero(plain)
    out[keep] = fast.take(pa.array(keep, pa.int64())).to_numpy(zero_copy_only=False)
    return pa.array(out, LS)


def phone_sentences(code: str, header: str, region: str, cells: pa.Array) -> pa.Array | None:
    """The sentence of phone ``code`` for each row whose number cell is in ``cells`` (None
    when the code's sentence is not made here)."""
    if code == phones.PHONE_MISSING:
        return pa.repeat(pa.scalar(f"{header} is empty.", LS), len(cells))
    tail = phone_tails(region, header).get(code)
    if tail is None:
        return None
    return pc.binary_join_element_wise(
        pa.scalar(f"{header} ", LS), quoted(cells), pa.scalar(tail, LS), pa.scalar("", LS)
    )


def join_sentences(sentences: list[pa.Array]) -> pa.Array:
    """The sentences of each row joined with one space."""
    if len(sentences) == 1:
        return sentences[0]
    return pc.binary_join_element_wise(*sentences, pa.scalar(" ", LS))


__all__ = ["join_sentences", "phone_sentences", "phone_tails", "quoted"]
