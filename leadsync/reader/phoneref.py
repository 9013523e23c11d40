"""The reference for one phone value: a few checks for Excel damage, then ``phonenumbers``.

Every other way the reader normalizes numbers (:mod:`.phonecolumn`) must give exactly what
:func:`normalize_one` gives, value for value; the tests hold them to it.

Codes (stable strings): ``phone-missing``, ``phone-scientific``, ``phone-decimal``,
``phone-invalid``, ``phone-too-short``, ``phone-too-long`` (the row is rejected), and the warning
``phone-extension-dropped`` (the row is kept, its extension is not sent).
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from ..errors import ConfigError
from .phonemeta import rewrites_00

PHONE_MISSING = "phone-missing"
PHONE_SCIENTIFIC = "phone-scientific"
PHONE_DECIMAL = "phone-decimal"
PHONE_INVALID = "phone-invalid"
PHONE_TOO_SHORT = "phone-too-short"
PHONE_TOO_LONG = "phone-too-long"
PHONE_EXTENSION_DROPPED = "phone-extension-dropped"

#: Codes that reject a row (the others are warnings).
PHONE_ERRORS: frozenset[str] = frozenset(
    {PHONE_MISSING, PHONE_SCIENTIFIC, PHONE_DECIMAL, PHONE_INVALID, PHONE_TOO_SHORT, PHONE_TOO_LONG}
)
LEVELS: tuple[str, ...] = ("valid", "possible", "none")

# --- the Excel-damage checks, shared by both paths (ASCII only, so RE2 and `re` agree) -------
SCIENTIFIC = r"[+-]?[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+"  # 4.47701E+11, 4,47701E+11
FLOAT_ARTIFACT = r"[0-9]+\.0+"  # 2135550102.0 (a number cell exported by Excel/pandas)
DECIMAL = r"[0-9]{4,}\.[0-9]{1,3}|[0-9]{7,}\.[0-9]+"  # 2135550102.5: a float, not a phone
_SCIENTIFIC_RE = re.compile(SCIENTIFIC)
_FLOAT_ARTIFACT_RE = re.compile(FLOAT_ARTIFACT)
_DECIMAL_RE = re.compile(DECIMAL)
#: A leading international "00" the way people copy European numbers (``0044 20 …``).
_LEADING_00_RE = re.compile(r"[ (]*00")

_PARSE_ERROR_CODES = {
    NumberParseException.TOO_SHORT_NSN: PHONE_TOO_SHORT,
    NumberParseException.TOO_SHORT_AFTER_IDD: PHONE_TOO_SHORT,
    NumberParseException.TOO_LONG: PHONE_TOO_LONG,
}
_LENGTH_CODES = {
    ValidationResult.TOO_SHORT: PHONE_TOO_SHORT,
    ValidationResult.TOO_LONG: PHONE_TOO_LONG,
}


def check_region(region: str) -> str:
    """``region`` upper-cased; ConfigError when phonenumbers does not know it."""
    code = (region or "").strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"unknown phone region {region!r} (use a two-letter code such as US)")
    return code


def check_level(level: str) -> None:
    """ConfigError unless ``level`` is one of :data:`LEVELS`."""
    if level not in LEVELS:
        raise ConfigError(f"unknown phone validation level {level!r}; use {', '.join(LEVELS)}")


def length_code(result: int) -> str:
    """The code of a rejected number from its ``is_possible_number_with_reason`` verdict."""
    return _LENGTH_CODES.get(result, PHONE_INVALID)


def _valid_as_dialled(text: str, region: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(text, region)))
    except NumberParseException:
        return False


def normalize_one(text: str | None, region: str, level: str) -> tuple[str | None, tuple[str, ...]]:
    """One value → (E.164 or None when rejected, codes).

    Steps: blank → ``phone-missing``; scientific notation → ``phone-scientific``; ``123.0`` →
    ``123``; a decimal number → ``phone-decimal``; a leading ``00`` read as ``+`` where the
    region does not dial ``00`` abroad, unless the number as dialled is valid in the region
    (``0066 …`` is a free-dial number in Japan, not one in Thailand); then
    ``phonenumbers.parse(text, region)`` and the check of ``level`` (``valid``:
    ``is_valid_number``; ``possible``: ``is_possible_number``; ``none``: it parses). An
    extension is dropped with ``phone-extension-dropped``.
    """
    t = (text or "").strip()
    if not t:
        return None, (PHONE_MISSING,)
    if _SCIENTIFIC_RE.fullmatch(t):
        return None, (PHONE_SCIENTIFIC,)
    if _FLOAT_ARTIFACT_RE.fullmatch(t):
        t = t[: t.index(".")]
    elif _DECIMAL_RE.fullmatch(t):
        return None, (PHONE_DECIMAL,)
    m = _LEADING_00_RE.match(t)
    if m and rewrites_00(region) and not _valid_as_dialled(t, region):
        t = "+" + t[m.end() :]
    try:
        num = phonenumbers.parse(t, region)
    except NumberParseException as err:
        return None, (_PARSE_ERROR_CODES.get(err.error_type, PHONE_INVALID),)
    if level == "valid":
        ok = phonenumbers.is_valid_number(num)
    elif level == "possible":
        ok = phonenumbers.is_possible_number(num)
    else:
        ok = True
    if not ok:
        return None, (length_code(phonenumbers.is_possible_number_with_reason(num)),)
    e164 = phonenumbers.format_number(num, PhoneNumberFormat.E164)
    return e164, ((PHONE_EXTENSION_DROPPED,) if num.extension else ())
