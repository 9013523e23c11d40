"""The vectorized phone path equals the phonenumbers reference on every value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.errors import ConfigError
from leadsync.reader import normalize_numbers, normalize_one, normalize_remote_keys
from leadsync.reader.phones import normalize_array

LEVELS = ("valid", "possible", "none")
SEPARATORS = ["", " ", "-", ".", "/", "  ", " - "]
#: Area codes across NANP regions (US, CA, PR, JM, DO, AG…), toll-free and invalid ones.
AREA_CODES = [
    "213", "212", "415", "800", "833", "900", "268", "264", "787", "939", "876", "658", "809",
    "829", "849", "416", "604", "242", "441", "671", "340", "123", "555", "999", "011", "196",
]  # fmt: skip
INTERNATIONAL = [
    "+44 20 7946 0958", "+44 7700 900123", "+44 1481 123456", "+33 1 42 68 53 00",
    "+49 30 901820", "+39 06 6982 0000", "+61 2 9374 4000", "+7 495 123 4567",
    "+7 727 123 4567", "+86 138 0013 8000", "+55 11 98765 4321", "+590 590 12 34 56",
    "+800 1234 5678", "+1 242 357 1234", "+358 18 12345", "+47 79 12 34 56",
]  # fmt: skip


def reference(values, region, level):
    out = [normalize_one(v, region, level) for v in values]
    return [e for e, _ in out], [";".join(c) for _, c in out]


def assert_same(values, region="US", level="valid"):
    e164, codes = normalize_numbers(pd.Series(values, dtype=object), region, level)
    want_e164, want_codes = reference(values, region, level)
    got_e164 = [None if pd.isna(v) else v for v in e164]
    for v, ge, we, gc, wc in zip(values, got_e164, want_e164, codes, want_codes, strict=True):
        assert (ge, gc) == (we, wc), f"{v!r} ({region}, {level}): fast {ge, gc} != ref {we, wc}"


def generated(rng: np.random.Generator, n: int) -> list[str]:
    """Phone texts of the shapes people type, many valid, many not."""
    out = []
    for _ in range(n):
        kind = rng.integers(0, 10)
        area = AREA_CODES[rng.integers(len(AREA_CODES))]
        exch = f"{rng.integers(0, 1000):03d}"
        line = f"{rng.integers(0, 10000):04d}"
        sep = SEPARATORS[rng.integers(len(SEPARATORS))]
        if kind == 0:
            out.append(f"+1 ({area}) {exch}-{line}")
        elif kind == 1:
            out.append(sep.join((area, exch, line)))
        elif kind == 2:
            out.append(f"1{sep}{area}{sep}{exch}{sep}{line}")
        elif kind == 3:
            out.append(INTERNATIONAL[rng.integers(len(INTERNATIONAL))])
        elif kind == 4:  # random digits, any length, with or without +/00
            digits = "".join(str(d) for d in rng.integers(0, 10, rng.integers(1, 19)))
            out.append(["", "+", "00", "011", "+0"][rng.integers(5)] + digits)
        elif kind == 5:
            cc = str(rng.integers(1, 999))
            rest = "".join(str(d) for d in rng.integers(0, 10, rng.integers(4, 13)))
            out.append(f"+{cc} {rest}")
        elif kind == 6:
            out.append(f"{area}{exch}{line}.0")
        elif kind == 7:
            out.append(
                ["4.47701E+11", "2.1355501E9", f"{area}{exch}{line}.5", " ", "", "x", "N/A"][
                    rng.integers(7)
                ]
            )
        elif kind == 8:
            out.append(f"{area}-{exch}-{line} x{rng.integers(1, 999)}")
        else:
            out.append(f"00 44 {rng.integers(1000, 9999)} {rng.integers(100000, 999999)}")
    return out


@pytest.mark.parametrize("level", LEVELS)
def test_fast_path_equals_phonenumbers_on_a_seeded_sample(level):
    values = generated(np.random.default_rng(20260301), 10_000)
    assert_same(values, "US", level)


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_fast_path_equals_phonenumbers_on_a_large_seeded_sample(level):
    values = generated(np.random.default_rng(20260302), 300_000)
    assert_same(values, "US", level)


@pytest.mark.parametrize("region", ["CA", "GB", "DE", "FR", "BR", "JM"])
def test_fast_path_equals_phonenumbers_in_other_regions(region):
    values = generated(np.random.default_rng(7), 2_000)
    assert_same(values, region, "valid")


def national_shapes(rng: np.random.Generator, n: int) -> list[str]:
    """The shapes the vectorized national path decides: bare digit runs of every length,
    "1" + digits, with punctuation, next to digitless words and numbers phonenumbers may read
    differently (leading 0, 011, 7-digit local numbers)."""
    out = []
    for _ in range(n):
        kind = rng.integers(0, 6)
        length = int(rng.integers(1, 20))
        digits = "".join(str(d) for d in rng.integers(0, 10, length))
        if kind == 0:
            out.append(digits)
        elif kind == 1:
            out.append("1" + digits)
        elif kind == 2:  # grouped with separators, maybe in parentheses
            cut = [digits[i : i + 3] for i in range(0, len(digits), 3)]
            out.append(SEPARATORS[rng.integers(len(SEPARATORS))].join(cut) or digits)
        elif kind == 3:
            out.append(f"({digits[:3]}) {digits[3:]}")
        elif kind == 4:
            out.append(["call me", "n/a", "-", "none", "TBD", "\u2014", "x", "()"][rng.integers(8)])
        else:
            out.append(["0", "011", "1 1", "1-0"][rng.integers(4)] + digits)
    return out


@pytest.mark.parametrize("region", ["US", "CA", "JM", "AG", "PR", "BS", "GB", "DE"])
@pytest.mark.parametrize("level", LEVELS)
def test_national_shapes_equal_phonenumbers(region, level):
    values = national_shapes(np.random.default_rng(11), 1_500)
    assert_same(values, region, level)


@pytest.mark.slow
@pytest.mark.parametrize("level", LEVELS)
def test_national_shapes_equal_phonenumbers_large(level):
    values = national_shapes(np.random.default_rng(12), 100_000)
    assert_same(values, "US", level)


def test_common_shapes_never_reach_the_per_row_reference():
    """The shapes of real lists are decided by the vectorized path: no phonenumbers call per
    row (or per distinct value) for them, valid or not."""
    values = [
        "+1 (213) 555-0100", "213.555.0100", "2135550102", "1-213-555-0103", "(213) 555-0104",
        "+44 20 7946 0958", "0044 20 7946 0958", "+49 30 901820", "213555", "12135550100999",
        "2135550102.0", "2135550102.5", "4.47701E+11", "", "call me", "+1 555 555 0100",
        "(800) 555-0100", "+33 1 42 68 53 00", "876-555-0100",
    ]  # fmt: skip
    for level in LEVELS:
        result = normalize_array(pa.array(values, type=pa.large_string()), "US", level)
        assert result.reference_rows == 0, level
    assert_same(values)


phone_chars = st.text(alphabet="0123456789 +-().x/.eE", min_size=0, max_size=22)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(phone_chars, st.text(max_size=12)), min_size=1, max_size=30),
       st.sampled_from(LEVELS), st.sampled_from(["US", "GB", "CA"]))  # fmt: skip
def test_fast_path_equals_phonenumbers_on_any_text(values, level, region):
    assert_same(values, region, level)


@settings(max_examples=100, deadline=None)
@given(st.lists(phone_chars, min_size=1, max_size=20), st.sampled_from(LEVELS))
def test_normalizing_e164_output_returns_it_unchanged(values, level):
    e164, _ = normalize_numbers(pd.Series(values, dtype=object), "US", level)
    accepted = e164.dropna()
    again, codes = normalize_numbers(accepted, "US", level)
    assert again.tolist() == accepted.tolist()
    assert set(codes) <= {""}


def test_examples_from_the_spec():
    values = [
        "+1 (213) 555-0100", "213.555.0100", "2135550102", "+44 20 7946 0958",
        "0044 20 7946 0958", "001 213 555 0100", "4.47701E+11", "2135550102.0", "2.1355501E9",
        "213-555-0100 x123", "", None, "12131204",
    ]  # fmt: skip
    e164, codes = normalize_numbers(pd.Series(values, dtype=object))
    assert [None if pd.isna(v) else v for v in e164] == [
        "+12135550100", "+12135550100", "+12135550102", "+442079460958", "+442079460958",
        "+12135550100", None, "+12135550102", None, "+12135550100", None, None, None,
    ]  # fmt: skip
    assert codes.tolist() == [
        "", "", "", "", "", "", "phone-scientific", "", "phone-scientific",
        "phone-extension-dropped", "phone-missing", "phone-missing", "phone-too-short",
    ]  # fmt: skip
    assert e164.dtype == "string" and codes.dtype == "string"


def test_index_is_kept():
    s = pd.Series(["2135550100", "x"], index=[10, 20])
    e164, codes = normalize_numbers(s)
    assert e164.index.tolist() == [10, 20] and codes.index.tolist() == [10, 20]


def test_remote_keys_fall_back_to_digits():
    keys = normalize_remote_keys(pd.Series(["+12131204", "+1 213 555 0100", "+0 12", "", None]))
    assert keys.tolist() == ["+12131204", "+12135550100", "012", "", ""]


def test_unknown_region_or_level_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown phone region 'XX'"):
        normalize_numbers(pd.Series(["1"]), "XX")
    with pytest.raises(ConfigError, match="validation level 'strict'"):
        normalize_numbers(pd.Series(["1"]), "US", "strict")


def test_the_whitespace_table_is_exactly_what_str_strip_removes() -> None:
    import sys

    from leadsync.reader.phonecolumn import PYTHON_WHITESPACE

    listed = {c for a, b in PYTHON_WHITESPACE for c in range(a, b + 1)}
    assert listed == {c for c in range(sys.maxunicode + 1) if chr(c).isspace()}
