"""The parts of an XLSX package the reader looks into itself: which part holds which sheet, what
the cell styles' number formats show (an exponent, a date, a duration), and scientific cells.

Number cells formatted ``0.00E+00`` are shown rounded by Excel, so nobody ever checked them:
:func:`scientific_cells` finds them in the phone column (styles.xml first; the sheet's XML is
streamed through defusedxml only when some cell style shows an exponent).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

import numpy as np
from defusedxml import ElementTree

from ..errors import InputError
from .container import corrupt, one_line
from .grid import column_letter, column_number

MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
#: What the built-in number formats (ECMA-376 18.8.30) show: an exponent (0.00E+00, ##0.0E+0),
#: dates and times (m/d/yyyy … m/d/yy h:mm, mm:ss, mmss.0), a duration ([h]:mm:ss).
_BUILTIN_KINDS: dict[int, str] = {
    11: "scientific",
    48: "scientific",
    **dict.fromkeys((14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 47), "date"),
    46: "duration",
}
#: A number format showing an exponent (0.00E+00, ##0.0E-0), outside quoted literals.
_SCIENTIFIC_FORMAT = re.compile(r'^(?:[^"]|"[^"]*")*?[eE][+-]')
#: What a format code shows literally or as a colour/condition: not a date part.
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|_.|\*.')
_FORMAT_BRACKET = re.compile(r"\[([^\]]*)\]")
_ELAPSED = re.compile(r"(?i)h+|m+|s+")
_DATE_LETTERS = frozenset("dmyhsDMYHS")
_CELL_REF = re.compile(r"([A-Z]+)([0-9]+)")


@dataclass(frozen=True, slots=True)
class Styles:
    """Cell formats (the ``s`` attribute of a cell) by what their number format shows."""

    scientific: frozenset[int]
    dates: frozenset[int]
    durations: frozenset[int]


NO_STYLES = Styles(frozenset(), frozenset(), frozenset())


def part_path(base: str, target: str) -> str:
    """A relationship target as a path inside the ZIP container."""
    if target.startswith("/"):
        return target[1:]
    parts: list[str] = base.split("/")[:-1]
    for piece in target.split("/"):
        if piece == "..":
            parts = parts[:-1]
        elif piece not in ("", "."):
            parts.append(piece)
    return "/".join(parts)


def workbook_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """``styles``, ``sharedStrings`` and ``sheet:<name>`` → their part paths, from workbook.xml
    and its relationships; ``date1904`` is present when the workbook counts dates from 1904."""
    book = "xl/workbook.xml"
    rels_path = "xl/_rels/workbook.xml.rels"
    targets: dict[str, str] = {}
    out: dict[str, str] = {}
    for rel in ElementTree.fromstring(zf.read(rels_path)).iter(f"{_PKG_REL_NS}Relationship"):
        target = part_path(book, rel.get("Target", ""))
        targets[rel.get("Id", "")] = target
        kind = rel.get("Type", "").rsplit("/", 1)[-1]
        if kind in ("styles", "sharedStrings"):
            out[kind] = target
    root = ElementTree.fromstring(zf.read(book))
    for node in root.iter(f"{MAIN_NS}sheet"):
        rid = node.get(f"{_REL_NS}id")
        if rid in targets:
            out.setdefault(f"sheet:{node.get('name')}", targets[rid])  # first wins, as in calamine
    pr = root.find(f"{MAIN_NS}workbookPr")
    if pr is not None and pr.get("date1904", "0").lower() in ("1", "true"):
        out["date1904"] = "1"
    return out


def format_kind(code: str) -> str | None:
    """``scientific``, ``date``, ``duration`` or None: what a custom number format shows."""
    if _SCIENTIFIC_FORMAT.search(code):
        return "scientific"
    plain = _FORMAT_LITERALS.sub("", code.split(";", 1)[0])
    brackets = _FORMAT_BRACKET.findall(plain)
    if any(_ELAPSED.fullmatch(b) for b in brackets):
        return "duration"
    plain = _FORMAT_BRACKET.sub("", plain)
    if plain.strip().lower() != "general" and _DATE_LETTERS & set(plain):
        return "date"
    return None


def read_styles(zf: zipfile.ZipFile, styles_path: str | None) -> Styles:
    """What each cell format of the workbook shows (NO_STYLES without a styles part)."""
    if styles_path is None or styles_path not in zf.namelist():
        return NO_STYLES
    root = ElementTree.fromstring(zf.read(styles_path))
    codes = {
        int(f.get("numFmtId", "-1")): f.get("formatCode", "") for f in root.iter(f"{MAIN_NS}numFmt")
    }
    xfs = root.find(f"{MAIN_NS}cellXfs")
    found: dict[str, set[int]] = {"scientific": set(), "date": set(), "duration": set()}
    for index, xf in enumerate([] if xfs is None else xfs.iter(f"{MAIN_NS}xf")):
        fmt = int(xf.get("numFmtId", "0"))
        kind = format_kind(codes[fmt]) if fmt in codes else _BUILTIN_KINDS.get(fmt)
        if kind:
            found[kind].add(index)
    return Styles(
        frozenset(found["scientific"]), frozenset(found["date"]), frozenset(found["duration"])
    )


def scientific_cells(
    path: str, data: bytes, sheet: str, column: int, rows: np.ndarray
) -> np.ndarray:
    """Of the grid positions ``rows`` (numeric cells of ``column``), those whose XLSX number
    format is scientific (``0.00E+00``): Excel shows them rounded, so they were never checked by
    a person.

    Reads styles.xml first: when no cell style of the workbook shows an exponent (the usual
    case), no cell can be scientific and the sheet is not read again. Otherwise the sheet's XML
    is streamed (defusedxml: no entity expansion) for the styles of that one column."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            parts = workbook_parts(zf)
            styles = read_styles(zf, parts.get("styles")).scientific
            if not styles:
                return np.zeros(0, dtype=np.int64)
            target = parts.get(f"sheet:{sheet}")
            if target is None:
                raise KeyError(f"no part for sheet {sheet!r}")
            found = _cells_with_styles(zf, target, column_letter(column), styles)
    except InputError:
        raise
    except Exception as err:
        raise corrupt(path, f"number formats of sheet {sheet!r}: {one_line(err)}") from None
    wanted = np.asarray(rows, dtype=np.int64)
    return np.intersect1d(np.asarray(sorted(found), dtype=np.int64), wanted)


def _cells_with_styles(
    zf: zipfile.ZipFile, sheet_path: str, letters: str, styles: frozenset[int]
) -> list[int]:
    """Grid positions (Excel row - 1) of the cells of column ``letters`` with one of
    ``styles``, streaming the sheet (cells and rows without ``r`` follow the previous one)."""
    found: list[int] = []
    row_num = 0
    col_num = 0
    target = column_number(letters)
    with zf.open(sheet_path) as fh:
        for event, elem in ElementTree.iterparse(fh, events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if tag == f"{MAIN_NS}row":
                    r = elem.get("r")
                    row_num = int(r) if r else row_num + 1
                    col_num = 0
                continue
            if tag == f"{MAIN_NS}c":
                ref = elem.get("r")
                match = _CELL_REF.fullmatch(ref) if ref else None
                col_num = column_number(match.group(1)) if match else col_num + 1
                if col_num == target and int(elem.get("s", "0")) in styles:
                    found.append(row_num - 1)
                elem.clear()
            elif tag == f"{MAIN_NS}row":
                elem.clear()
    return found
