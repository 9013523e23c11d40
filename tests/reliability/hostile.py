"""Hostile input files, built in the test (nothing large is stored in the repository): ZIP bombs,
entity expansion, a 2 GiB sparse file, NUL bytes, 10,000 columns, a 1 MB cell, mixed line
endings, workbooks with one stray cell far from their data, and things that are not files at
all. The .xls and .ods stray-cell workbooks come from tests/data (made by LibreOffice, see
tests/data/make_office_fixtures.sh)."""

from __future__ import annotations

import os
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
GIB = 1024**3
MIB = 1024**2
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
MAIN_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_CONTENT_TYPES = (
    XML_HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
_ROOT_RELS = (
    XML_HEAD
    + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    XML_HEAD + f"<workbook {MAIN_NS} "
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    XML_HEAD
    + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
#: Nine levels of ten: "&lol9;" expands to 10^9 "lol"s (3 GB) in a parser that expands it.
BILLION_LAUGHS_DTD = '<!ENTITY lol "lol">' + "".join(
    f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
    for i in range(1, 10)
)
_EMPTY_SST = XML_HEAD + f'<sst {MAIN_NS} count="0" uniqueCount="0"/>'
SHEET_PART = "xl/worksheets/sheet1.xml"


def _inline(text: str) -> str:
    return f'<c t="inlineStr"><is><t>{text}</t></is></c>'


def _sheet(rows: list[str], doctype: str = "") -> str:
    body = "".join(f"<row>{r}</row>" for r in rows)
    return XML_HEAD + doctype + f"<worksheet {MAIN_NS}><sheetData>{body}</sheetData></worksheet>"


def write_xlsx(
    path: Path,
    sheet: str | Callable[[zipfile.ZipFile], None],
    shared_strings: str = _EMPTY_SST,
) -> Path:
    """A minimal XLSX; ``sheet`` is the sheet XML, or a function writing the sheet part."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/sharedStrings.xml", shared_strings)
        if callable(sheet):
            sheet(z)
        else:
            z.writestr(SHEET_PART, sheet)
    return path


def _huge_sheet(uncompressed: int) -> Callable[[zipfile.ZipFile], None]:
    """A sheet part of ``uncompressed`` bytes of rows that compress about 1000-fold."""

    def write(z: zipfile.ZipFile) -> None:
        row = f"<row>{_inline('+12135550100')}</row>".encode()
        block = row * (MIB // len(row))
        with z.open(SHEET_PART, "w", force_zip64=True) as part:
            part.write(f"{XML_HEAD}<worksheet {MAIN_NS}><sheetData>".encode())
            for _ in range(uncompressed // len(block)):
                part.write(block)
            part.write(b"</sheetData></worksheet>")

    return write


def _set_declared_size(path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size a ZIP declares for ``member`` (local header and central
    directory), leaving the data alone: a container that lies about what it holds."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    info = zipfile.ZipFile(path).getinfo(member)
    local = info.header_offset
    assert data[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, local + 22, size)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == name:
            struct.pack_into("<I", data, at + 24, size)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def xlsx_zip_bomb(folder: Path) -> Path:
    """16 MiB of sheet XML in a ~20 KB file: an honest container with a ~1000-fold ratio."""
    return write_xlsx(folder / "zip_bomb.xlsx", _huge_sheet(16 * MIB))


def xlsx_declares_3_gib(folder: Path) -> Path:
    """A small workbook whose ZIP directory says its sheet expands to 3 GiB."""
    path = write_xlsx(folder / "declares_3gib.xlsx", _sheet([_inline("Phone")]))
    _set_declared_size(path, SHEET_PART, 3 * GIB)
    return path


def xlsx_lies_about_size(folder: Path) -> Path:
    """16 MiB of sheet XML declared as 1,000 bytes: passes a check of the declared sizes, so
    the decompressor itself must stop at the declared size."""
    path = write_xlsx(folder / "lies_about_size.xlsx", _huge_sheet(16 * MIB))
    _set_declared_size(path, SHEET_PART, 1_000)
    return path


def xlsx_billion_laughs_sheet(folder: Path) -> Path:
    doctype = f"<!DOCTYPE worksheet [{BILLION_LAUGHS_DTD}]>"
    rows = [_inline("Phone"), _inline("&lol9;")]
    return write_xlsx(folder / "laughs_sheet.xlsx", _sheet(rows, doctype))


def xlsx_billion_laughs_shared_strings(folder: Path) -> Path:
    sst = (
        XML_HEAD + f"<!DOCTYPE sst [{BILLION_LAUGHS_DTD}]>"
        f'<sst {MAIN_NS} count="2" uniqueCount="2"><si><t>Phone</t></si>'
        "<si><t>&lol9;</t></si></sst>"
    )
    rows = ['<c t="s"><v>0</v></c>', '<c t="s"><v>1</v></c>']
    return write_xlsx(folder / "laughs_shared_strings.xlsx", _sheet(rows), sst)


def xlsx_10000_columns(folder: Path) -> Path:
    header = _inline("Phone") + "".join(_inline(f"c{i}") for i in range(10_000))
    return write_xlsx(folder / "wide.xlsx", _sheet([header, _inline("+12135550100")]))


def csv_2_gib_one_line(folder: Path) -> Path:
    """2 GiB with no newline, as a sparse file: no disk, no time to make."""
    path = folder / "two_gib_one_line.csv"
    with path.open("wb") as fh:
        fh.write(b"Phone,")
        fh.truncate(2 * GIB)
    return path


def csv_nul_bytes(folder: Path) -> Path:
    path = folder / "nul.csv"
    path.write_bytes(b"Phone,First Name\n+12135550100,An\x00n\n+12135550101,Bo\n")
    return path


def csv_10000_columns(folder: Path) -> Path:
    path = folder / "wide.csv"
    header = ",".join(["Phone", *(f"c{i}" for i in range(9_999))])
    path.write_text(header + "\n" + ",".join(["+12135550100", *(["x"] * 9_999)]) + "\n")
    return path


def csv_10000_columns_late(folder: Path) -> Path:
    """Narrow for 64 KiB (what the sniffer sees), then one row of 10,000 fields."""
    path = folder / "wide_late.csv"
    narrow = "".join(f"+1213555{i % 10_000:04d},n\n" for i in range(7_000))
    wide = ",".join(["+12135559999", *(["x"] * 9_999)])
    path.write_text("Phone,Name\n" + narrow + wide + "\n")
    return path


def csv_1_mb_cell(folder: Path) -> Path:
    path = folder / "big_cell.csv"
    path.write_text("Phone,Note\n+12135550100," + "x" * MIB + "\n")
    return path


def csv_unbalanced_quote(folder: Path) -> Path:
    """A stray quote swallows the rest of the file (1.8 MB) into one field."""
    path = folder / "unbalanced_quote.csv"
    path.write_text('Phone,Note\n+12135550100,"oops\n' + "+12135550101,fine\n" * 100_000)
    return path


def csv_too_many_rows(folder: Path) -> Path:
    """5,000,001 one-character rows (10 MB): one more than the row limit."""
    path = folder / "too_many_rows.csv"
    with path.open("w") as fh:
        fh.write("Phone\n")
        fh.write("1\n" * 5_000_001)
    return path


def fifo(folder: Path) -> Path:
    """A named pipe with no writer: opening it would block for ever."""
    path = folder / "pipe.csv"
    os.mkfifo(path)
    return path


def dev_zero(_folder: Path) -> Path:
    """Endless zeros with a size of 0."""
    return Path("/dev/zero")


#: Lines of the mixed-endings file: header and five leads, ended by \r\n, \n, \r in turn.
MIXED_ROWS = [("Phone", "First Name")] + [(f"+1213555{i:04d}", f"Lead {i}") for i in range(5)]
_ENDINGS = ["\r\n", "\n", "\r", "\r\n", "\r", "\n"]


def csv_mixed_line_endings(folder: Path) -> Path:
    path = folder / "mixed_endings.csv"
    text = "".join(",".join(r) + end for r, end in zip(MIXED_ROWS, _ENDINGS, strict=True))
    path.write_bytes(text.encode())
    return path


def csv_old_mac_endings(folder: Path) -> Path:
    """Excel for Mac's "CSV (Macintosh)": every line ends with a bare \\r."""
    path = folder / "old_mac.csv"
    path.write_bytes("".join(",".join(r) + "\r" for r in MIXED_ROWS).encode())
    return path


#: The leads of every stray-cell workbook: a header and ten numbers in column A.
STRAY_LEADS = [f"+121355501{i:02d}" for i in range(10)]


def _xlsx_with_stray_cell(path: Path, ref: str) -> Path:
    """Ten leads and one stray cell at ``ref`` holding "stray": a 5 KB file whose cells span
    the whole block from A1 to ``ref`` (made by openpyxl, as Excel would store it)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Leads"
    ws.append(["Phone", "First Name"])
    for i, number in enumerate(STRAY_LEADS):
        ws.append([int(number[2:]), f"Lead {i}"])
    ws[ref] = "stray"
    wb.save(path)
    return path


def xlsx_stray_cell_xfd1048576(folder: Path) -> Path:
    """A stray cell in Excel's last cell: python-calamine asked for 512 GiB and aborted."""
    return _xlsx_with_stray_cell(folder / "stray_xfd1048576.xlsx", "XFD1048576")


def xlsx_stray_cell_zz200000(folder: Path) -> Path:
    """A stray cell at ZZ200000, inside the bounds: python-calamine took 9 GB and 36 s."""
    return _xlsx_with_stray_cell(folder / "stray_zz200000.xlsx", "ZZ200000")


def _copied(name: str) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        return Path(shutil.copyfile(DATA / name, folder / name))

    build.__doc__ = f"tests/data/{name}"
    return build


ods_stray_cell_xfd1048576 = _copied("stray_xfd1048576.ods")
ods_stray_cell_zz200000 = _copied("stray_zz200000.ods")
xls_stray_cell_iv65536 = _copied("stray_iv65536.xls")
xls_cell_at_column_60000 = _copied("xls_column_60000.xls")
