"""Text tables (CSV/TSV/TXT): encoding, binary content, delimiter, then every cell as text.

The whole grid is returned, title and blank rows included, so that row ``i`` of the frame is
row ``i + 1`` as Excel shows the file; the header is found later, by :mod:`.columns`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pandas as pd

from ..errors import InputError
from .limits import Limits

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
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
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
#: Characters that are normal in text files although Unicode calls them control characters.
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1a")
_TEXT_CONTROL_BYTES = frozenset(b"\x00\t\n\r\f\v\x1a")
#: Share of NUL bytes at even (or odd) offsets that marks UTF-16 text written without a BOM.
_UTF16_NUL_SHARE = 0.4


@dataclass(frozen=True, slots=True)
class TextTable:
    """A text file's grid of cells (all ``str``, "" for empty) and how it was read."""

    cells: pd.DataFrame
    encoding: str
    delimiter: str


def _not_text(path: str, what: str) -> InputError:
    return InputError(f"{path} is not a text file (it looks like {what})", path=path)


def detect_encoding(path: str, data: bytes, limits: Limits) -> str:
    """The encoding of ``data``: BOM, UTF-16 without BOM, UTF-8, else cp1252/latin-1.

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
        if _binary_share(sample) > limits.max_control_share:
            raise _not_text(path, "binary data")
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InputError(f"{path} contains NUL bytes (first on line {line})", path=path)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _binary_share(sample: bytes) -> float:
    """Share of bytes that are control characters other than NUL and the usual text ones."""
    odd = sum(1 for b in sample if (b < 0x20 and b not in _TEXT_CONTROL_BYTES) or b == 0x7F)
    return odd / max(len(sample), 1)


def decode(path: str, data: bytes, encoding: str | None, limits: Limits) -> tuple[str, str]:
    """``data`` decoded (BOM removed) and the encoding used; ``encoding`` overrides detection.

    Raises InputError when the bytes cannot be decoded or are not text."""
    name = encoding or detect_encoding(path, data, limits)
    try:
        text = data.decode(name)
    except LookupError:
        raise InputError(f"{path}: unknown encoding {name!r}", path=path) from None
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"{path} cannot be decoded as {name} (line {line}); set [sync] encoding", path=path
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    sample = text[: limits.sniff_bytes]
    # C0 controls only: C1 (U+0080-U+009F) is what cp1252 punctuation becomes as latin-1.
    controls = sum(1 for ch in sample if (ch < " " or ch == "\x7f") and ch not in _TEXT_CONTROLS)
    if controls / max(len(sample), 1) > limits.max_control_share:
        raise _not_text(path, "binary data")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InputError(f"{path} contains NUL bytes (first on line {line})", path=path)
    return text, name


def sniff_delimiter(sample: str) -> str:
    """The delimiter among ``, ; TAB |`` that splits the sample's records most consistently.

    Score: how many records share the most common field count (above one), then that count.
    A file with one column gives ","."""
    cut = sample.rfind("\n")
    if cut > 0:
        sample = sample[:cut]
    best, best_score = ",", (0, 0)
    for delim in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(io.StringIO(sample), delimiter=delim) if r]
        except csv.Error:
            continue
        multi = [c for c in counts if c > 1]
        if not multi:
            continue
        modal = max(set(multi), key=lambda c: (multi.count(c), c))
        score = (multi.count(modal), modal)
        if score > best_score:
            best, best_score = delim, score
    return best


def read_text_table(path: str, data: bytes, *, encoding: str | None, limits: Limits) -> TextTable:
    """Every record of a delimited text file as a frame of ``str`` cells (positional columns).

    Raises InputError (naming ``path``) for binary or undecodable content, NUL bytes, and
    files beyond ``limits``."""
    text, used = decode(path, data, encoding, limits)
    sample = text[: limits.sniff_bytes]
    delimiter = sniff_delimiter(sample)
    try:
        width = max(
            (len(r) for r in csv.reader(io.StringIO(sample), delimiter=delimiter)), default=0
        )
    except csv.Error:
        width = 1
    width = max(width, 1)
    if width > limits.max_columns:
        raise _too_many_columns(path, width, limits)
    try:
        cells = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            names=list(range(width)),
            index_col=False,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            nrows=limits.max_rows + 1,
        )
    except pd.errors.ParserError:
        # Rows wider than the sample: read record by record (slower, exact).
        cells = _read_ragged(path, text, delimiter, limits)
    except (pd.errors.EmptyDataError, ValueError):
        cells = pd.DataFrame({0: pd.Series([], dtype=str)})
    if len(cells) > limits.max_rows:
        raise InputError(
            f"{path} has more than {limits.max_rows:,} rows (the limit); split the file",
            path=path,
        )
    check_cells(path, None, cells, limits)
    return TextTable(cells=cells, encoding=used, delimiter=delimiter)


def _too_many_columns(path: str, width: int, limits: Limits) -> InputError:
    return InputError(
        f"{path} has {width:,} columns, more than the limit of {limits.max_columns:,}",
        path=path,
    )


def _read_ragged(path: str, text: str, delimiter: str, limits: Limits) -> pd.DataFrame:
    rows: list[list[str]] = []
    width = 1
    csv.field_size_limit(limits.max_cell_chars + 1)
    try:
        for record in csv.reader(io.StringIO(text), delimiter=delimiter):
            rows.append(record)
            width = max(width, len(record))
            if width > limits.max_columns:
                raise _too_many_columns(path, width, limits)
            if len(rows) > limits.max_rows:
                break
    except csv.Error as err:
        raise InputError(
            f"{path}: row {len(rows) + 1} cannot be read ({err}); an unbalanced quote?",
            path=path,
        ) from None
    padded = [r + [""] * (width - len(r)) for r in rows]
    return pd.DataFrame(padded, columns=list(range(width)), dtype=str)


def check_cells(path: str, sheet: str | None, cells: pd.DataFrame, limits: Limits) -> None:
    """InputError when a cell is longer than ``limits.max_cell_chars`` (names row and column)."""
    for col in cells.columns:
        lengths = cells[col].str.len()
        if len(lengths) and lengths.max() > limits.max_cell_chars:
            row = int(lengths.to_numpy().argmax()) + 1
            where = f"{path} [sheet {sheet!r}]" if sheet else path
            raise InputError(
                f"{where}: the cell in row {row}, column {column_letter(int(col))} has more than "
                f"{limits.max_cell_chars:,} characters (an unbalanced quote?)",
                path=path,
            )


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: the column name Excel shows."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(ord("A") + rem) + name
    return name
