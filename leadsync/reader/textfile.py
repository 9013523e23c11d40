"""Text tables (CSV/TSV/TXT): encoding and binary content (:mod:`.textcodec`), delimiter, then
every cell as text.

The whole grid is returned, title and blank rows included, so that row ``i`` of the grid is
row ``i + 1`` as Excel shows the file; the header is found later, by :mod:`.columns`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import InputError
from .arrowtext import LS
from .grid import Grid, check_cells
from .limits import Limits
from .textcodec import UNICODE_CODECS, decode, looks_misdecoded

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
#: Bytes Arrow's CSV reader parses per task: with quoted newlines allowed, larger blocks than
#: the 1 MiB default cost less CPU and still use both cores.
ARROW_BLOCK_BYTES = 4 * 1024 * 1024
#: Line ends as Arrow's reader (and the csv module) know them.
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class TextTable:
    """A text file's grid of cells (text, "" for empty) and how it was read."""

    cells: Grid
    encoding: str
    delimiter: str
    warning: str | None = None  # the text may be mis-decoded


def _records(text: str) -> io.StringIO:
    """``text`` as a stream the csv module splits into records at \\r\\n, \\n *and* \\r (old Mac
    "CSV" and files pasted together mix them); a plain StringIO splits at \\n only, so a
    bare \\r looked like a newline inside a field and the csv module gave up."""
    return io.StringIO(text, newline="")


def sniff_delimiter(sample: str) -> str:
    """The delimiter among ``, ; TAB |`` that splits the sample's records most consistently.

    Score: how many records share the most common field count (above one), then that count.
    A file with one column gives ","."""
    cut = max(sample.rfind("\n"), sample.rfind("\r"))
    if cut > 0:
        sample = sample[:cut]
    best, best_score = ",", (0, 0)
    for delim in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(_records(sample), delimiter=delim) if r]
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
    """Every record of a delimited text file as a grid of text cells.

    Encoding, binary content and the delimiter are decided on a sample; the records are then
    parsed by Arrow's multithreaded CSV reader. Files it cannot read (records of different
    widths) are read by pandas' C parser, which pads short records, and files that one refuses
    too (wider records, a quote left open) record by record with the csv module. The three read
    a file they all accept alike (a test checks it on generated text).

    Raises InputError (naming ``path``) for binary or undecodable content, NUL bytes, and
    files beyond ``limits``."""
    sample, used, utf8 = decode(path, data, encoding, limits)
    delimiter = sniff_delimiter(sample)
    try:
        width = max([1, *(len(r) for r in csv.reader(_records(sample), delimiter=delimiter))])
    except csv.Error:
        width = 1
    if width > limits.max_columns:
        raise _too_many_columns(path, width, limits)
    grid = _read_arrow(utf8, delimiter, width, _title_lines(sample, delimiter, width))
    if grid is None:
        grid = _read_exact(path, utf8, delimiter, width, limits)
    if grid.height > limits.max_rows:
        raise InputError(
            f"{path} has more than {limits.max_rows:,} rows (the limit); split the file",
            path=path,
        )
    check_cells(path, None, grid, limits)
    warning = None
    if codecs.lookup(used).name not in UNICODE_CODECS and looks_misdecoded(
        data[: limits.sniff_bytes], sample, used
    ):
        warning = (
            f"{path}: the text may be mis-decoded (read as {used}): check names and notes, or set "
            "[sync] encoding to the file's encoding"
        )
    return TextTable(cells=grid, encoding=used, delimiter=delimiter, warning=warning)


def _title_lines(sample: str, delimiter: str, width: int) -> list[list[str]] | None:
    """The records above the first one of full ``width`` (title and blank lines), when each is
    one line without a quote, so that skipping that many lines skips exactly them; else None."""
    lines = _LINE_END.split(sample)[:-1]  # the last piece may be cut: never a whole line
    titles: list[list[str]] = []
    for line in lines:
        if '"' in line:
            return None
        record = next(csv.reader([line], delimiter=delimiter), [])
        if len(record) == width:
            return titles
        titles.append(record)
    return None


def _read_arrow(
    utf8: bytes, delimiter: str, width: int, titles: list[list[str]] | None = None
) -> Grid | None:
    """The records by Arrow's CSV reader (every cell as text, "" when empty, blank lines kept
    as rows), or None when the file needs the exact reader. ``titles`` (narrower records above
    the header, one line each) are skipped by Arrow and put back in front, padded."""
    if not utf8:
        return None
    names = [f"c{i}" for i in range(width)]
    skip = len(titles) if titles else 0
    try:
        table = pacsv.read_csv(
            pa.py_buffer(utf8),
            read_options=pacsv.ReadOptions(
                column_names=names, use_threads=True, block_size=ARROW_BLOCK_BYTES, skip_rows=skip
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=False,  # decoded above
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # records of another width: the exact readers pad them
    if not titles:
        return Grid.from_columns(table.columns, table.num_rows)
    head = Grid.from_rows([t + [""] * (width - len(t)) for t in titles])
    columns = [
        pa.concat_arrays([h, *c.chunks]) for h, c in zip(head.columns, table.columns, strict=True)
    ]
    return Grid.from_columns(columns, skip + table.num_rows)


def _read_exact(path: str, utf8: bytes, delimiter: str, width: int, limits: Limits) -> Grid:
    """Records of any width (short ones padded with ""), by pandas' C parser, else record by
    record with the csv module."""
    try:
        cells = pd.read_csv(
            io.BytesIO(utf8),
            encoding="utf-8",
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
        return _read_ragged(path, utf8, delimiter, limits)
    except (pd.errors.EmptyDataError, ValueError):
        return Grid.from_rows([])
    return Grid.from_columns([pa.array(cells[c], type=LS) for c in cells.columns], len(cells))


def _too_many_columns(path: str, width: int, limits: Limits) -> InputError:
    return InputError(
        f"{path} has {width:,} columns, more than the limit of {limits.max_columns:,}",
        path=path,
    )


def _read_ragged(path: str, utf8: bytes, delimiter: str, limits: Limits) -> Grid:
    rows: list[list[str]] = []
    width = 1
    csv.field_size_limit(limits.max_cell_chars + 1)
    stream = io.TextIOWrapper(io.BytesIO(utf8), encoding="utf-8", newline="")
    try:
        for record in csv.reader(stream, delimiter=delimiter):
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
    return Grid.from_rows(rows)
