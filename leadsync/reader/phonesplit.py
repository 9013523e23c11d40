"""Phone-shaped values → (country code, national number), decided by prefix and digit count.

The digits of every value come from one numpy pass over the column's byte buffer; the country
code is read from the first digits after "+" or "00" (the shortest geographic code wins, as in
phonenumbers), and in NANP regions national numbers (``213 555 0100``, ``1-213-555-0100``, any
length phonenumbers reads as national) get country code 1. E.164 text is composed from the same
buffer.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import as_bool, digits_of, from_parts, positions
from .phonemeta import (
    NANP_CC,
    byte_lengths,
    geographic_codes,
    national_fast_region,
    natpref_blocks,
    rewrites_00,
)

_WS = "[ \t\r\n]*"
#: A leading international "00" (RE2 twin of the reference's ``_LEADING_00_RE``).
RE_LEADING_00 = rf"^{_WS}[ (]*00"
#: Digit counts after "+" / "00" (country code included) the fast path handles.
_FAST_MIN_DIGITS = 7
_FAST_MAX_DIGITS = 17
#: National numbers: phonenumbers' viability check wants 3 digits once punctuation is allowed,
#: and its longest national significant number is 17 digits.
_NATIONAL_MIN_DIGITS = 3
_MAX_NSN_DIGITS = 17
#: phonenumbers refuses longer input text outright (TOO_LONG).
_MAX_INPUT_CHARS = 250
_PLUS, _ONE, _ZERO = ord("+"), ord("1"), ord("0")


def _rows(values: pa.Array, idx: np.ndarray) -> pa.Array:
    return values.take(pa.array(idx, type=pa.int64()))


def _without(size: int, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A mask over ``size`` bytes: False inside the ranges ``[starts, starts + lengths)``."""
    keep = np.ones(size, dtype=bool)
    keep[positions(starts, lengths)] = False
    return keep


class Split:
    """The phone-shaped rows split into (country code, national number) where the prefix and
    the digit count decide it; ``rows`` are their positions in the column."""

    def __init__(self, raw: pa.Array, shape: np.ndarray, region: str) -> None:
        ddata, doff = digits_of(raw)
        self.ddata, self.doff = ddata, doff
        self.dlen = dlen = np.diff(doff)
        shape = shape & (byte_lengths(raw) <= _MAX_INPUT_CHARS)
        rows = np.flatnonzero(shape)
        start, size = doff[rows], dlen[rows]
        plus = as_bool(pc.match_substring(raw, "+"))[rows]  # the shape allows "+" only in front
        d0, d1 = self._digit(start, size, 0), self._digit(start, size, 1)
        lead00 = ~plus & (d0 == 0) & (d1 == 0)
        if lead00.any() and rewrites_00(region):
            idx = np.flatnonzero(lead00)
            lead00[idx] = as_bool(pc.match_substring_regex(_rows(raw, rows[idx]), RE_LEADING_00))
        else:
            lead00[:] = False
        intl = plus | lead00
        skip = np.where(lead00, 2, 0)  # digits before the country code
        cc = np.zeros(len(rows), dtype=np.int64)
        nat_skip = np.zeros(len(rows), dtype=np.int64)  # digits before the national number
        fast = np.zeros(len(rows), dtype=bool)
        i = np.flatnonzero(intl)
        if len(i):  # the shortest geographic country code wins, as in phonenumbers
            i_start, i_size = start[i] + skip[i], size[i] - skip[i]
            c0, c1, c2 = (self._digit(i_start, i_size, k) for k in range(3))
            table = geographic_codes()
            cc_len = np.zeros(len(i), dtype=np.int64)
            i_cc = np.zeros(len(i), dtype=np.int64)
            for k, value, present in (
                (3, c0 * 100 + c1 * 10 + c2, c2 >= 0),
                (2, c0 * 10 + c1, c1 >= 0),
                (1, c0, c0 >= 0),
            ):
                hit = present & (c0 > 0)
                hit &= table[np.where(hit, value, 0)] == k
                cc_len[hit], i_cc[hit] = k, value[hit]
            ok = (cc_len > 0) & (i_size >= _FAST_MIN_DIGITS) & (i_size <= _FAST_MAX_DIGITS)
            fast[i[ok]] = True
            cc[i[ok]] = i_cc[ok]
            nat_skip[i[ok]] = skip[i[ok]] + cc_len[ok]
        one = np.zeros(len(rows), dtype=bool)  # e164 = "+1" + the digits
        if national_fast_region(region):
            # "213 555 0100" (any length phonenumbers reads as a national number), or "1" + such
            # a number when the whole is too long for the region (then "1" is the country code).
            bare = ~intl & (d0 >= 2) & (size >= _NATIONAL_MIN_DIGITS) & (size <= _MAX_NSN_DIGITS)
            with_one = ~intl & (d0 == 1) & (d1 >= 2) & (size >= 11) & (size <= _MAX_NSN_DIGITS + 1)
            cc[bare | with_one] = NANP_CC
            nat_skip[with_one] = 1
            one = bare
            fast |= bare | with_one
        keep = np.flatnonzero(fast)
        self.rows, self.cc, self.one = rows[keep], cc[keep], one[keep]
        self.skip, self.intl = skip[keep], intl[keep]
        nat_skip = nat_skip[keep]
        # The national numbers of the fast rows, as one string column.
        mask = np.ones(len(dlen), dtype=bool)
        mask[self.rows] = False
        others = np.flatnonzero(mask & (dlen > 0))
        kept_bytes = _without(len(ddata), doff[others], dlen[others])
        for k in range(int(nat_skip.max(initial=0))):
            kept_bytes[doff[self.rows[nat_skip > k]] + k] = False
        self.national = from_parts(ddata[kept_bytes], dlen[self.rows] - nat_skip)
        if national_fast_region(region):
            idx = np.flatnonzero(~self.intl)
            if len(idx):  # the region's own national prefix: phonenumbers may strip it
                blocked = idx[natpref_blocks(region, _rows(self.national, idx))]
                if len(blocked):
                    self._drop(blocked)

    def _digit(self, start: np.ndarray, size: np.ndarray, k: int) -> np.ndarray:
        """The value of digit ``k`` of each row (-1 past its end)."""
        out = np.full(len(start), -1, dtype=np.int64)
        inside = k < size
        out[inside] = self.ddata[start[inside] + k].astype(np.int64) - _ZERO
        return out

    def _drop(self, which: np.ndarray) -> None:
        """Leave these (positions in ``rows``) to the reference."""
        keep = np.ones(len(self.rows), dtype=bool)
        keep[which] = False
        self.rows, self.cc, self.one = self.rows[keep], self.cc[keep], self.one[keep]
        self.skip, self.intl = self.skip[keep], self.intl[keep]
        self.national = self.national.filter(pa.array(keep))

    def e164(self, good: np.ndarray, one: np.ndarray, skip: np.ndarray) -> pa.Array:
        """Plus (and "1" for national NANP numbers) and the digits after ``skip``, for the
        ``good`` rows of the column (null elsewhere)."""
        ddata, doff, dlen = self.ddata, self.doff, self.dlen
        bad = np.flatnonzero(~good & (dlen > 0))
        keep = _without(len(ddata), doff[bad], dlen[bad])
        for k in range(int(skip.max(initial=0))):
            keep[doff[:-1][good & (skip > k)] + k] = False
        lengths = np.where(good, 1 + one + dlen - skip, 0)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        out = np.empty(int(offsets[-1]), dtype=np.uint8)
        heads = offsets[:-1][good]
        ones = offsets[:-1][good & one] + 1
        is_body = np.ones(len(out), dtype=bool)
        is_body[heads] = False
        is_body[ones] = False
        out[heads] = _PLUS
        out[ones] = _ONE
        out[is_body] = ddata[keep]
        bitmap = pa.py_buffer(np.packbits(good, bitorder="little"))
        return pa.LargeStringArray.from_buffers(
            len(lengths), pa.py_buffer(offsets), pa.py_buffer(out), bitmap
        )
