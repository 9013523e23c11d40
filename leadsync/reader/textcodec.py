"""Which encoding a text file is in, and the check that all of it decodes.

A byte-order mark (UTF-8, UTF-16), UTF-16 without one (NUL bytes in every other place), valid
UTF-8 (checked in bulk, the usual case); otherwise the legacy encodings spreadsheet programs
write by locale are ranked by charset-normalizer on a sample — Windows Western (cp1252, which
wins ties), Excel for Mac's "CSV (Macintosh)" (mac_roman), Japanese (cp932, the Windows form of
Shift_JIS), Simplified and Traditional Chinese (gb18030, big5), Korean (cp949). ``[sync]
encoding`` overrides all of it. Binary files, and NUL bytes in text, are refused by name.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import InputError
from .limits import Limits

#: File signatures of things that are not text, and what to call them in the message.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive or an .xlsx/.ods workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-format .xls workbook or an encrypted workbook"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
)
_UTF8_BOM = b"\xef\xbb\xbf"
UNICODE_CODECS = frozenset({"utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"})
_BOMS: tuple[tuple[bytes, str], ...] = (
    (_UTF8_BOM, "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
#: Characters that are normal in text files although Unicode calls them control characters.
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1a")
#: Share of NUL bytes at even (or odd) offsets that marks UTF-16 text written without a BOM.
_UTF16_NUL_SHARE = 0.4
#: Bytes decoded at a time when checking a whole file: the file is never held as one ``str``
#: (up to 4 bytes a character) next to its bytes, only this much of it.
DECODE_CHUNK_BYTES = 8 * 1024 * 1024
#: The encodings a file that is not UTF-8 is ranked among, the default first (it wins ties).
LEGACY_ENCODINGS: tuple[str, ...] = ("cp1252", "mac_roman", "cp932", "gb18030", "big5", "cp949")
#: Mac Roman text read as cp1252: é → Ž, ä → Š, ü → Ÿ, œ → Œ… an upper-case Ž, Š, Ÿ or Œ right
#: after a lower-case letter ("JosŽ", "RenŽe"), or Ÿ inside a word ("MŸller"): names are not
#: written so in any language.
_MAC_ROMAN_AS_CP1252 = re.compile(r"(?<=[a-zß-öø-ÿ])[ŽŠŸŒ]|(?<=\w)Ÿ|Ÿ(?=[a-zß-öø-ÿ])")
_MAC_ROMAN = "mac_roman"
#: How much less "mess" (charset-normalizer's chaos, 0 to 1) another encoding must show to be
#: preferred to cp1252: Western text decodes about as well in several 8-bit encodings.
_CHAOS_MARGIN = 0.02


def _charset_normalizer() -> Any:
    """charset_normalizer, imported when a file is not UTF-8 (most are: it costs start-up)."""
    import charset_normalizer

    return charset_normalizer


def _not_text(path: str, what: str) -> InputError:
    return InputError(f"{path} is not a text file (it looks like {what})", path=path)


def _nul_bytes(path: str, line: int) -> InputError:
    return InputError(f"{path} contains NUL bytes (first on line {line})", path=path)


def _control_share(text: str, allowed: frozenset[str] = _TEXT_CONTROLS) -> float:
    """Share of C0 control characters and DEL other than ``allowed`` (C1, U+0080-U+009F, is
    what cp1252 punctuation becomes as latin-1: not counted)."""
    odd = sum(1 for ch in text if (ch < " " or ch == "\x7f") and ch not in allowed)
    return odd / max(len(text), 1)


def detect_encoding(path: str, data: bytes, limits: Limits) -> str:
    """The encoding of ``data``: BOM, UTF-16 without BOM, UTF-8, else the best-ranked legacy
    encoding.

    Raises InputError for NUL bytes in 8-bit text and for binary files."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise _not_text(path, what)
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    sample = data[: limits.sniff_bytes]
    if b"\x00" in sample:
        even, odd = sample[0::2], sample[1::2]
        half = max(len(sample) // 2, 1)
        if odd.count(0) / half > _UTF16_NUL_SHARE and even.count(0) < odd.count(0) / 4:
            return "utf-16-le"
        if even.count(0) / half > _UTF16_NUL_SHARE and odd.count(0) < even.count(0) / 4:
            return "utf-16-be"
    if b"\x00" in data:
        if (
            _control_share(sample.decode("latin-1"), _TEXT_CONTROLS | {"\x00"})
            > limits.max_control_share
        ):
            raise _not_text(path, "binary data")
        raise _nul_bytes(path, data[: data.index(b"\x00")].count(b"\n") + 1)
    if is_utf8(data):
        return "utf-8"
    return _ranked_legacy(_whole_lines(sample))


def _whole_lines(sample: bytes) -> bytes:
    """``sample`` up to its last line end: a multi-byte character is never cut in two."""
    cut = max(sample.rfind(b"\n"), sample.rfind(b"\r"))
    return sample[: cut + 1] if cut > 0 else sample


def _ranked_legacy(sample: bytes) -> str:
    """The legacy encoding the sample reads best in (charset-normalizer, among
    :data:`LEGACY_ENCODINGS`): cp1252 unless another shows clearly less mess, or its text shows
    Mac Roman letters read as cp1252; latin-1 when none decodes it."""
    matches = {
        m.encoding: m.chaos
        for m in _charset_normalizer().from_bytes(sample, cp_isolation=list(LEGACY_ENCODINGS))
    }
    default = LEGACY_ENCODINGS[0]
    if not matches:
        try:
            sample.decode(default)
        except UnicodeDecodeError:
            return "latin-1"
        return default
    best = min(matches, key=lambda name: (matches[name], name != default))
    if default in matches and matches[best] + _CHAOS_MARGIN > matches[default]:
        best = default
    if (
        best == default
        and _MAC_ROMAN in matches
        and _MAC_ROMAN_AS_CP1252.search(sample.decode(default, errors="replace"))
    ):
        return _MAC_ROMAN  # a short file ranks alike in both; its names tell them apart
    return best


def looks_misdecoded(sample: bytes, text: str, encoding: str) -> bool:
    """Whether ``sample`` read as ``encoding`` (giving ``text``) looks like mojibake: Mac Roman
    letters read as cp1252 (too few to rank on, in a short file), or more mess than
    charset-normalizer will call that encoding at all."""
    if not sample:
        return False
    if codecs.lookup(encoding).name in ("cp1252", "iso8859-1") and _MAC_ROMAN_AS_CP1252.search(
        text
    ):
        return True
    return not _charset_normalizer().from_bytes(_whole_lines(sample), cp_isolation=[encoding])


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, checked by Arrow's vectorized validator (no ``str``
    is built)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data))
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def decode(path: str, data: bytes, encoding: str | None, limits: Limits) -> tuple[str, str, bytes]:
    """Decode all of ``data`` (``encoding`` overrides detection); return its first
    ``limits.sniff_bytes`` characters, its encoding, and the whole text as UTF-8 bytes (BOM
    removed: UTF-8 files as they are, others transcoded in the same pass).

    The file is decoded chunk by chunk and never held as one string: a large file within the
    size limit would otherwise need its bytes, a ``str`` of up to 4 bytes a character and a
    4-byte-a-character ``StringIO`` copy at once. Raises InputError when the bytes cannot be
    decoded, hold NUL characters or are not text."""
    name = encoding or detect_encoding(path, data, limits)
    try:  # UTF-8 as utf-8-sig, so that a BOM never reaches the first cell
        codec = "utf-8-sig" if codecs.lookup(name).name == "utf-8" else name
    except LookupError:
        raise InputError(f"{path}: unknown encoding {name!r}", path=path) from None
    # As utf-8-sig decoding, then dropping a leading U+FEFF, gives it: a doubled BOM goes too.
    body = data.removeprefix(_UTF8_BOM).removeprefix(_UTF8_BOM)
    if codec == "utf-8-sig" and is_utf8(body):
        # Valid UTF-8 needs no decoding to be checked: a NUL character is a NUL byte.
        if (nul := body.find(b"\x00")) >= 0:
            raise _nul_bytes(path, body.count(b"\n", 0, nul) + 1)
        # At most 4 bytes a character: this prefix holds the sample (a character cut at its
        # end is dropped, and lies past the sample anyway).
        head = body[: 4 * limits.sniff_bytes].decode("utf-8", errors="ignore")
        return _checked_sample(path, head[: limits.sniff_bytes], limits), name, body
    decoder = codecs.getincrementaldecoder(codec)()
    view = memoryview(data)
    sample_parts: list[str] = []
    utf8_parts: list[bytes] = []
    sampled = 0
    lines_before = 0
    for start in range(0, max(len(data), 1), DECODE_CHUNK_BYTES):
        end = start + DECODE_CHUNK_BYTES
        pending = len(decoder.getstate()[0])  # bytes of a character cut at the last chunk
        try:
            piece = decoder.decode(view[start:end], final=end >= len(data))
        except UnicodeDecodeError as err:
            line = data[: max(0, start - pending + err.start)].count(b"\n") + 1
            raise InputError(
                f"{path} cannot be decoded as {name} (line {line}); set [sync] encoding",
                path=path,
            ) from None
        if start == 0 and piece.startswith("\ufeff"):
            piece = piece[1:]
        if sampled < limits.sniff_bytes:
            sample_parts.append(piece[: limits.sniff_bytes - sampled])
            sampled += len(sample_parts[-1])
        if (nul := piece.find("\x00")) >= 0:
            raise _nul_bytes(path, lines_before + piece.count("\n", 0, nul) + 1)
        lines_before += piece.count("\n")
        utf8_parts.append(piece.encode("utf-8"))
    return _checked_sample(path, "".join(sample_parts), limits), name, b"".join(utf8_parts)


def _checked_sample(path: str, sample: str, limits: Limits) -> str:
    """``sample``, unless control characters mark the file as binary (InputError)."""
    if _control_share(sample) > limits.max_control_share:
        raise _not_text(path, "binary data")
    return sample
