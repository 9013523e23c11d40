"""Small Arrow string-column helpers shared by the reader (no pandas, no per-row Python).

Columns travel as ``large_string`` arrays (the storage pandas' ``string`` dtype uses, so the
final frame wraps them without a copy). Everything here works on whole columns: Arrow compute
kernels, or numpy over the column's offset and data buffers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LS = pa.large_string()
_ZERO = ord("0")
#: Up to this many groups, :func:`groups` makes a pass per key instead of sorting.
_FEW_GROUPS = 8


def plain_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``values`` as one ``large_string`` array without nulls (null → "")."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if values.type != LS:
        values = values.cast(LS)
    if values.null_count:
        values = pc.fill_null(values, "")
    return values


def buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, data)`` of a ``large_string`` array as numpy views: value ``i`` is
    ``data[offsets[i]:offsets[i + 1]]`` (offsets rebased to start at 0)."""
    n = len(values)
    _, off_buf, data_buf = values.buffers()
    if off_buf is None:  # an empty array may have no buffers at all
        return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(off_buf, dtype=np.int64, count=n + 1, offset=values.offset * 8)
    if data_buf is None:
        return offsets - offsets[0], np.zeros(0, dtype=np.uint8)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def digits_of(values: pa.Array) -> pa.Array:
    """Every value's ASCII digits, nothing else (a ``large_string`` array)."""
    offsets, data = buffers(plain_strings(values))
    at = np.flatnonzero((data - np.uint8(_ZERO)) < 10)  # uint8 arithmetic wraps below "0"
    # Value i's digits are those between its byte offsets: a binary search per value costs
    # far less than a running count over every byte.
    return from_parts(data[at], np.diff(np.searchsorted(at, offsets).astype(np.int64)))


def fullmatch(values: pa.Array, pattern: str) -> np.ndarray:
    """Per value: whether the RE2 ``pattern`` matches all of it."""
    return as_bool(pc.match_substring_regex(values, f"^(?:{pattern})$"))


def as_bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow column as numpy (null → False)."""
    if arr.null_count:
        arr = pc.fill_null(arr, False)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def from_parts(data: np.ndarray, lengths: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A ``large_string`` array from concatenated bytes and per-row byte lengths (null where
    ``valid`` is False)."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.LargeStringArray.from_buffers(
        len(lengths), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data)), bitmap
    )


def sparse_strings(n: int, rows: np.ndarray, texts: Sequence[str]) -> pa.Array:
    """``n`` values, "" except ``texts`` at the positions ``rows`` (distinct, sorted)."""
    lengths = np.zeros(n, dtype=np.int64)
    if len(rows) == 0:
        return from_parts(np.zeros(0, dtype=np.uint8), lengths)
    encoded = [t.encode() for t in texts]
    lengths[rows] = [len(b) for b in encoded]
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return from_parts(data, lengths)


def null_where(values: pa.Array, blank: np.ndarray) -> pa.Array:
    """``values`` with the ``blank`` rows set to null (a new validity bitmap over the same
    buffers, no copy of the strings)."""
    values = plain_strings(values)
    if not blank.any():
        return values
    _, off_buf, data_buf = values.buffers()
    bitmap = pa.py_buffer(np.packbits(~blank, bitorder="little"))
    if values.offset or data_buf is None:  # rebuild: the bitmap starts at the view's row 0
        offsets, data = buffers(values)
        return from_parts(data, np.diff(offsets), ~blank)
    return pa.LargeStringArray.from_buffers(len(values), off_buf, data_buf, bitmap)


def is_empty(values: pa.Array) -> np.ndarray:
    """Per value: zero bytes long."""
    offsets, _ = buffers(plain_strings(values))
    return offsets[1:] == offsets[:-1]


def blank_cells(values: pa.Array) -> np.ndarray:
    """Per value: nothing but whitespace (``str.strip()`` semantics)."""
    values = plain_strings(values)
    empty = is_empty(values)
    if empty.all():
        return empty
    return as_bool(pc.equal(pc.utf8_trim_whitespace(values), ""))


def take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    """The values at positions ``idx`` (int64 positions, in that order); ``values`` itself when
    ``idx`` is every position in order (no copy)."""
    n = len(values)
    if len(idx) == n and (
        n == 0 or (idx[0] == 0 and idx[-1] == n - 1 and (np.diff(idx) > 0).all())
    ):
        return values
    return values.take(pa.array(idx, type=pa.int64()))


def last_per_row(rows: np.ndarray, values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """``rows`` sorted and distinct, with their ``values``: of equal rows, the later value."""
    if len(rows) > 1 and not (rows[1:] > rows[:-1]).all():
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        keep = np.r_[rows[1:] != rows[:-1], True]
        rows, values = rows[keep], take(values, order[keep])
    return rows, values


def put(values: pa.Array, where: np.ndarray, new: pa.Array) -> pa.Array:
    """``values`` with the rows ``where`` (a mask, or ascending positions) replaced by ``new``
    (one value per such row, in row order)."""
    if where.dtype != bool:
        mask = np.zeros(len(values), dtype=bool)
        mask[where] = True
        where = mask
    return pc.replace_with_mask(values, pa.array(where), new.cast(values.type))


def drop_prefix(values: pa.Array, k: np.ndarray | int) -> pa.Array:
    """Every value without its first ``k`` bytes (per value, or one count for all); ``k`` is at
    most the value's length, and small (a few bytes). For ASCII text (digits) bytes are
    characters."""
    offsets, data = buffers(plain_strings(values))
    starts = offsets[:-1]
    drop = np.broadcast_to(np.asarray(k, dtype=np.int64), starts.shape)
    keep = np.ones(len(data), dtype=bool)
    for j in range(int(drop.max(initial=0))):
        keep[starts[drop > j] + j] = False
    return from_parts(data[keep], np.diff(offsets) - drop)


def digit_at(values: pa.Array, k: int) -> np.ndarray:
    """Per value of ASCII digits: the value of its digit ``k`` (-1 past its end)."""
    offsets, data = buffers(plain_strings(values))
    out = np.full(len(values), -1, dtype=np.int64)
    inside = offsets[:-1] + k < offsets[1:]
    out[inside] = data[offsets[:-1][inside] + k].astype(np.int64) - _ZERO
    return out


def groups(keys: np.ndarray, where: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The positions where ``where`` holds, grouped by ``keys`` (small non-negative ints, such
    as country codes): ``(key, positions)`` per distinct key, in key order, positions
    ascending."""
    idx = np.flatnonzero(where)
    if not len(idx):
        return []
    sub = keys[idx]
    present = np.flatnonzero(np.bincount(sub))
    if len(present) <= _FEW_GROUPS:  # a pass per key beats a sort
        return [(int(key), idx[sub == key]) for key in present]
    order = np.argsort(sub.astype(np.int32), kind="stable")
    idx, sub = idx[order], sub[order]
    cuts = np.flatnonzero(np.diff(sub)) + 1
    return [
        (int(sub[a]), part) for a, part in zip(np.r_[0, cuts], np.split(idx, cuts), strict=True)
    ]
