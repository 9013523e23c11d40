"""Phone numbers the way real files hold them, for any region (deterministic for a seed).

:func:`phone_values` mixes the forms people and exports produce: E.164, the international and
national formats (phonenumbers' own grouping), digits only, ``00`` + country code,
``+44 (0)20 …`` with the trunk prefix in brackets, the national number without its trunk prefix
(a leading zero lost to Excel), the country code without "+", Excel float text
(``442079460958.0``) and scientific notation, other separators (``-``, ``.``, ``/``, NBSP,
Unicode dashes), padding, extensions, Brazilian carrier codes — and about 30 % numbers that are
wrong: truncated, too long, random digits, unknown country codes, decimals, words, blanks.

Valid numbers come from a pool of seeds per region (phonenumbers' example numbers with new
tails, and random digit strings it accepts); each row draws the seed's last four digits afresh,
so rows rarely repeat a number, as in a real list.

Used by the differential tests (tests/reader/test_phones.py) and by bench/gen_phones.py.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat, PhoneNumberType

#: Seeds per region: valid national significant numbers the rows are made from.
SEEDS = 3_000
#: Digits at the end of a seed each row draws afresh (so rows rarely repeat a number).
TAIL_DIGITS = 4
#: The share of rows made wrong on purpose (on top of the seeds' own accidents).
INVALID_SHARE = 0.28
#: Separators that replace the spaces of a formatted number.
SEPARATORS = ["-", ".", "/", "\u00a0", " - ", "\u2013", "\u2011", "  "]
EXTENSIONS = [" ext. {}", " x{}", " x {}", " ext {}", " Ext.{}", ";ext={}", " #{}"]
WORDS = ["", " ", "n/a", "N/A", "call me", "unknown", "-", "none", "tbd", "?"]
#: Brazilian carrier-selection codes (dialled as 0 + carrier + area code + number).
BR_CARRIERS = ["12", "14", "15", "21", "31", "41", "43"]
#: Example-number types the seeds start from (mobiles twice: lead lists are mostly mobiles
#: and landlines).
_TYPES = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
)
#: (form, weight) of the valid rows.
FORMS = (
    ("e164", 10),
    ("international", 14),
    ("national", 16),
    ("national_digits", 10),
    ("idd_00", 7),
    ("plus_trunk", 5),
    ("no_trunk", 6),
    ("cc_no_plus", 4),
    ("excel_float", 3),
    ("separators", 12),
    ("padded", 4),
    ("extension", 4),
    ("parenthesized", 3),
    ("carrier", 2),
)
#: (form, weight) of the wrong rows.
BAD_FORMS = (
    ("truncated", 20),
    ("too_long", 15),
    ("random", 25),
    ("unknown_cc", 6),
    ("scientific", 6),
    ("decimal", 4),
    ("word", 12),
    ("wrong_prefix", 12),
)


@cache
def seeds(region: str, count: int = SEEDS) -> tuple[tuple[str, str, str], ...]:
    """``count`` valid numbers of ``region`` (fewer when it has few): (national significant
    number, national format, international format), reproducibly."""
    rng = np.random.default_rng(sum(map(ord, region)))
    md = PhoneMetadata.metadata_for_region(region)
    assert md is not None, region
    cc = md.country_code
    found: dict[str, None] = {}
    examples = [phonenumbers.example_number_for_type(region, t) for t in _TYPES]
    templates = [phonenumbers.national_significant_number(e) for e in examples if e is not None]
    lengths = list(md.general_desc.possible_length)
    tries = 0
    while len(found) < count and tries < count * 400:
        tries += 1
        if tries % 2 and templates:  # an example number with its tail changed
            t = templates[int(rng.integers(len(templates)))]
            # Beyond the tail rows redraw, so seeds of one template differ in their prefix.
            keep = max(2, len(t) - TAIL_DIGITS - int(rng.integers(2, 4)))
            nsn = t[:keep] + "".join(map(str, rng.integers(0, 10, len(t) - keep)))
        else:  # random digits of a possible length
            length = lengths[int(rng.integers(len(lengths)))]
            nsn = str(int(rng.integers(1, 10))) + "".join(map(str, rng.integers(0, 10, length - 1)))
        num = PhoneNumber(country_code=cc, national_number=int(nsn))
        if nsn.startswith("0"):
            num.italian_leading_zero = True
        if phonenumbers.is_valid_number_for_region(num, region):
            found[nsn] = None
    out = []
    for nsn in found:
        num = phonenumbers.parse("+" + str(cc) + nsn)
        out.append(
            (
                nsn,
                phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL),
                phonenumbers.format_number(num, PhoneNumberFormat.INTERNATIONAL),
            )
        )
    return tuple(out)


def _new_tail(text: str, tail: str) -> str:
    """``text`` with its last ``len(tail)`` digits replaced by ``tail`` (punctuation kept)."""
    chars = list(text)
    k = len(tail)
    for i in range(len(chars) - 1, -1, -1):
        if k == 0:
            break
        if chars[i].isdigit():
            k -= 1
            chars[i] = tail[k]
    return "".join(chars)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _valid_form(form: str, cc: str, nsn: str, nat: str, intl: str, pick: int, region: str) -> str:
    trunk = PhoneMetadata.metadata_for_region(region).national_prefix or ""  # type: ignore[union-attr]
    rest = intl[len(cc) + 2 :]  # the international format after "+CC "
    if form == "e164":
        return f"+{cc}{nsn}"
    if form == "international":
        return intl
    if form == "national":
        return nat
    if form == "national_digits":
        return _digits(nat)
    if form == "idd_00":
        return f"00{cc} {rest}" if pick % 2 else f"00 {cc} {rest}"
    if form == "plus_trunk":
        return f"+{cc} ({trunk}){rest}" if trunk and pick % 3 else f"+{cc} ({trunk}) {rest}"
    if form == "no_trunk":
        return nsn
    if form == "cc_no_plus":
        return f"{cc}{nsn}" if pick % 2 else f"{cc} {rest}"
    if form == "excel_float":
        return f"{cc}{nsn}.0" if pick % 2 else f"{int(nsn)}.0"
    if form == "separators":
        sep = SEPARATORS[pick % len(SEPARATORS)]
        return (intl if pick % 2 else nat).replace(" ", sep)
    if form == "padded":
        pad = ["  ", "\t", " ", "\u00a0"][pick % 4]
        return pad + (intl if pick % 2 else nat) + pad[::-1]
    if form == "extension":
        return (nat if pick % 2 else intl) + EXTENSIONS[pick % len(EXTENSIONS)].format(
            10 + pick % 990
        )
    if form == "parenthesized":
        return f"({cc}) {rest}" if pick % 4 == 0 else f"(+{cc}) {rest}"
    if region == "BR":  # carrier
        return f"0 {BR_CARRIERS[pick % len(BR_CARRIERS)]} {nat}"
    return f"+{cc}-{rest.replace(' ', '-')}"


def _bad_form(form: str, cc: str, nsn: str, nat: str, intl: str, pick: int, rng) -> str:
    if form == "truncated":
        cut = 1 + pick % 3
        return (nat if pick % 2 else intl)[:-cut]
    if form == "too_long":
        extra = "".join(map(str, rng.integers(0, 10, 1 + pick % 3)))
        return (nat if pick % 2 else f"+{cc}{nsn}") + extra
    if form == "random":
        digits = "".join(map(str, rng.integers(0, 10, int(rng.integers(3, 15)))))
        return ["", "+", "0", "00", f"+{cc} ", "0"][pick % 6] + digits
    if form == "unknown_cc":
        return ["+999 ", "+0", "+383 ", "00999 "][pick % 4] + nsn
    if form == "scientific":
        return f"{int(cc + nsn) / 10 ** (len(cc + nsn) - 1):.5f}E+{len(cc + nsn) - 1}"
    if form == "decimal":
        return f"{nsn}.{pick % 100}"
    if form == "word":
        return WORDS[pick % len(WORDS)]
    # wrong_prefix: the national format with another first digit after the trunk prefix
    d = _digits(nat)
    at = 1 if d.startswith("0") and len(d) > 2 else 0
    return d[:at] + str((int(d[at]) + 1 + pick % 8) % 10) + d[at + 1 :]


def phone_values(region: str, n: int, seed: int = 0, pool: int = SEEDS) -> list[str]:
    """``n`` phone texts of ``region`` in the mix of forms described above, made from ``pool``
    seed numbers."""
    rng = np.random.default_rng(seed)
    made = seeds(region, pool)
    cc = str(PhoneMetadata.metadata_for_region(region).country_code)  # type: ignore[union-attr]
    which = rng.integers(0, len(made), n)
    tails = rng.integers(0, 10**TAIL_DIGITS, n)
    picks = rng.integers(0, 10_000, n)
    bad = rng.random(n) < INVALID_SHARE
    names = [f for f, _ in FORMS]
    weights = np.array([w for _, w in FORMS], dtype=float)
    form = rng.choice(len(names), n, p=weights / weights.sum())
    bad_names = [f for f, _ in BAD_FORMS]
    bad_weights = np.array([w for _, w in BAD_FORMS], dtype=float)
    bad_form = rng.choice(len(bad_names), n, p=bad_weights / bad_weights.sum())
    out: list[str] = []
    for i in range(n):
        nsn0, nat0, intl0 = made[which[i]]
        tail = f"{tails[i]:0{TAIL_DIGITS}d}"[-min(TAIL_DIGITS, len(nsn0) - 2) :]
        nsn = nsn0[: len(nsn0) - len(tail)] + tail
        nat, intl = _new_tail(nat0, tail), _new_tail(intl0, tail)
        pick = int(picks[i])
        if bad[i]:
            out.append(_bad_form(bad_names[bad_form[i]], cc, nsn, nat, intl, pick, rng))
        else:
            out.append(_valid_form(names[form[i]], cc, nsn, nat, intl, pick, region))
    return out
