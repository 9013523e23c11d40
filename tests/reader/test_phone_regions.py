"""Every region: the column path reads numbers exactly as phonenumbers does (the real-world forms
of tests/reader/phone_forms.py, random digit strings through the parse steps alone, any text),
decides the common forms without the per-row reference, and never turns a number that is valid
as dialled into another country's (issue 14: ``0066`` in Japan)."""

from __future__ import annotations

import numpy as np
import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import CountryCodeSource, NumberParseException, PhoneMetadata, PhoneNumberFormat
from phonenumbers.phonenumberutil import (
    _extract_country_code,
    _maybe_strip_i18n_prefix_and_normalize,
    _maybe_strip_national_prefix_carrier_code,
)

from leadsync.reader import normalize_one
from leadsync.reader.phoneparse import INVALID, TOO_LONG, TOO_SHORT, parse_digits
from leadsync.reader.phoneprefix import extract_country_code, strip_idd, strip_national_prefix
from leadsync.reader.phones import normalize_array
from tests.reader.phone_forms import phone_values
from tests.reader.test_phones import LEVELS, assert_same

LS = pa.large_string()
#: The benchmark's regions first, then others with unusual metadata: carrier codes (BR, CO,
#: KR), transform rules (AR, JP, GG, AG), leading digits shared by regions (GB/GG/JE, RU/KZ,
#: AU/CC), national prefixes 8 (RU) and none (ES, IT: leading zeros kept).
REGIONS = [
    "GB", "DE", "IN", "BR", "FR", "MX", "JP", "AU", "US", "CA", "IT", "ES", "NL", "AR", "CN",
    "ZA", "RU", "KZ", "KR", "CO", "SE", "CH", "PL", "ID", "NG", "SG", "NZ", "IE", "GG", "AG",
]  # fmt: skip
ALL_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
_PARSE_ERRORS = {
    NumberParseException.TOO_SHORT_NSN: TOO_SHORT,
    NumberParseException.TOO_SHORT_AFTER_IDD: TOO_SHORT,
    NumberParseException.TOO_LONG: TOO_LONG,
}


def digit_strings(region: str, rng: np.random.Generator, n: int) -> list[str]:
    """Digit strings that start the way phonenumbers' steps tell apart: trunk and international
    prefixes of many countries, the region's own country code with and without them."""
    cc = str(PhoneMetadata.metadata_for_region(region).country_code)
    heads = ["", "0", "00", "000", "1", "01", "011", "010", "001", "0011", "8", "810", "9", "90",
             "15", cc, cc + "0", "0" + cc, "00" + cc, "1" + cc, "0055", "00800"]  # fmt: skip
    out = []
    for _ in range(n):
        body = "".join(map(str, rng.integers(0, 10, rng.integers(0, 16))))
        out.append(heads[rng.integers(len(heads))] + body)
    return out


def parsed_by_phonenumbers(text: str, region: str) -> tuple[int, str, int]:
    try:
        num = phonenumbers.parse(text, region)
    except NumberParseException as err:
        return 0, "", _PARSE_ERRORS.get(err.error_type, INVALID)
    return num.country_code, phonenumbers.national_significant_number(num), 0


@pytest.mark.parametrize("region", ALL_REGIONS)
def test_parse_steps_equal_phonenumbers_parse_in_every_region(region):
    rng = np.random.default_rng(sum(map(ord, region)))
    values = digit_strings(region, rng, 250)
    plus = rng.random(len(values)) < 0.3
    got = parse_digits(plus, pa.array(values, type=LS), region)
    national = got.national.to_pylist()
    decided = 0
    for i, v in enumerate(values):
        if got.undecided[i]:
            continue
        decided += 1
        have = (int(got.cc[i]), national[i] if got.cc[i] else "", int(got.error[i]))
        want = parsed_by_phonenumbers(("+" if plus[i] else "") + v, region)
        assert have == want, f"{'+' if plus[i] else ''}{v!r} in {region}"
    assert decided > 0.8 * len(values)


@pytest.mark.parametrize("region", ALL_REGIONS)
def test_prefix_steps_equal_phonenumbers_helpers(region):
    md = PhoneMetadata.metadata_for_region(region)
    values = digit_strings(region, np.random.default_rng(len(region) + 7), 300)
    arr = pa.array(values, type=LS)
    stripped = strip_national_prefix(md, arr).to_pylist()
    assert stripped == [_maybe_strip_national_prefix_carrier_code(v, md)[1] for v in values]
    hit, after = strip_idd(md, arr)
    idd = md.international_prefix or "NonMatch"  # phonenumbers' stand-in for "none"
    want = [_maybe_strip_i18n_prefix_and_normalize(v, idd) for v in values]
    assert hit.tolist() == [source == CountryCodeSource.FROM_NUMBER_WITH_IDD for source, _ in want]
    assert after.to_pylist() == [rest for _, rest in want]
    code, size = extract_country_code(arr)
    assert list(zip(code.tolist(), size.tolist(), strict=True)) == [
        (c, len(v) - len(rest) if c else 0)
        for v in values
        for c, rest in [_extract_country_code(v)]
    ]


@pytest.mark.parametrize("region", REGIONS)
def test_real_world_forms_equal_phonenumbers(region):
    values = phone_values(region, 1_500, seed=1, pool=200)
    for level in LEVELS:
        assert_same(values, region, level)


@pytest.mark.slow
@pytest.mark.parametrize("region", ["GB", "DE", "IN", "BR", "FR", "MX", "JP", "AU", "US"])
def test_real_world_forms_equal_phonenumbers_large(region):
    assert_same(phone_values(region, 300_000, seed=2), region, "valid")


@pytest.mark.parametrize("region", REGIONS)
def test_real_world_forms_rarely_reach_the_reference(region):
    """The forms of real lists are decided over the column: only rare shapes (``+0…``, an
    international prefix and 2 digits) are left to the per-row reference."""
    values = phone_values(region, 5_000, seed=3, pool=200)
    result = normalize_array(pa.array(values, type=LS), region, "valid")
    assert result.reference_rows <= 0.005 * len(values)


def common_forms(region: str) -> list[str]:
    """One valid number of ``region`` in each common form, and broken copies of it."""
    num = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    cc = str(num.country_code)
    nsn = phonenumbers.national_significant_number(num)
    nat = phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL)
    intl = phonenumbers.format_number(num, PhoneNumberFormat.INTERNATIONAL)
    rest = intl[len(cc) + 2 :]
    return [
        f"+{cc}{nsn}", intl, nat, "".join(c for c in nat if c.isdigit()), f"00{cc} {rest}",
        f"00 {cc} {rest}", f"+{cc} (0){rest}", f"+{cc} (0) {rest}", nsn, f"{cc}{nsn}",
        f"{cc}{nsn}.0", intl.replace(" ", "-"), intl.replace(" ", "\u00a0"),
        nat.replace(" ", "\u2013"), nat.replace(" ", "."), f"  {nat}\t", f"\u00a0{intl}\u00a0",
        f"{nat} ext. 12", f"{intl} x123", f"{nat};ext=9", f"{nat} #45", f"(+{cc}) {rest}",
        intl[:-2], intl + "77", f"+{cc} 0{nsn}", "", "n/a", "4.47700E+11", f"{nsn}.5",
    ]  # fmt: skip


@pytest.mark.parametrize("region", REGIONS)
def test_common_forms_never_reach_the_per_row_reference(region):
    values = common_forms(region)
    for level in LEVELS:
        result = normalize_array(pa.array(values, type=LS), region, level)
        assert result.reference_rows == 0, level
        assert_same(values, region, level)


# --- issue 14: "00 means +" never changes a number valid as dialled -------------------------
def test_japanese_free_dial_number_is_not_read_as_thailand():
    """``0066 83 765 4387`` is a valid free-dial number in Japan, not +66 (Thailand)."""
    values = ["0066 83 765 4387", "0066-83-765-4387", "0044 20 7946 0958", "00 1 213 555 0100"]
    want = ["+810066837654387", "+810066837654387", "+442079460958", "+12135550100"]
    assert [normalize_one(v, "JP", "valid")[0] for v in values] == want
    assert normalize_array(pa.array(values, type=LS), "JP", "valid").e164.to_pylist() == want
    assert_same(values, "JP", "valid")


@pytest.mark.parametrize("region", ["JP", "US", "CA", "JM"])
def test_00_is_read_as_plus_only_when_not_valid_as_dialled(region):
    """In regions that do not dial 00 abroad: a value valid as dialled keeps that reading,
    any other 00 value reads as "+" (both paths)."""
    rng = np.random.default_rng(14)
    values = [
        "00" + "".join(map(str, rng.integers(0, 10, rng.integers(6, 14)))) for _ in range(2000)
    ]
    values += ["0066 83 765 4387", "0037 6800 1234", "0120 123 456"]
    for v in values:
        try:
            dialled = phonenumbers.parse(v, region)
            valid = phonenumbers.is_valid_number(dialled)
        except NumberParseException:
            valid = False
        if valid:
            assert normalize_one(v, region, "valid")[0] == phonenumbers.format_number(
                dialled, PhoneNumberFormat.E164
            )
    assert_same(values, region, "valid")


# --- any text ------------------------------------------------------------------------------
phone_text = st.text(alphabet="0123456789 +-().x#/;=ext\u00a0\u2013\u2011", min_size=0, max_size=24)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(phone_text, st.text(max_size=12)), min_size=1, max_size=30),
    st.sampled_from(LEVELS),
    st.sampled_from(REGIONS),
)
def test_column_path_equals_phonenumbers_on_any_text_in_any_region(values, level, region):
    assert_same(values, region, level)
