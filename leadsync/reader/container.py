"""A workbook file before any parser sees it: empty, password-protected, too old a format, a
ZIP container that would expand too far (member count, expanded size, ratio), or an .xls file
with a cell beyond the format's grid.

python-calamine lays out every sheet of an .xls file densely as it opens it (:mod:`.workbook`),
and a BIFF cell record keeps its column in 16 bits: a 6 KB file with one cell at column 60,000
asks calamine for 125 GB and aborts the process. So the workbook stream is walked first (olefile
opens the OLE2 container; records are 4-byte headers and bodies); the walk also finds Excel's
password record (FILEPASS), so a protected file is named as such.
"""

from __future__ import annotations

import io
import struct
import zipfile

import olefile

from ..errors import InputError
from .grid import cell_name, describe
from .limits import Limits

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: The stream an encrypted OOXML file keeps its (encrypted) workbook in, as stored in OLE2.
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
#: The first record of a bare BIFF stream (no OLE2 container) → the Excel version it is from.
_OLD_BIFF = {
    b"\x09\x00": "Excel 2.x",
    b"\x09\x02": "Excel 3.0",
    b"\x09\x04": "Excel 4.0",
    b"\x09\x08": "Excel 5.0",
}
#: Excel's grid in the .xls format.
XLS_ROWS = 65_536
XLS_COLUMNS = 256
_HEAD = struct.Struct("<HH")  # record number, body length
_ROW_COL = struct.Struct("<HH")  # the first 4 bytes of a cell record
_BOF, _EOF, _BOUNDSHEET, _FILEPASS = 0x0809, 0x000A, 0x0085, 0x002F
#: Records of one cell: FORMULA, LABELSST, RSTRING, BLANK, NUMBER, LABEL, BOOLERR, RK.
_CELL = frozenset({0x0006, 0x00FD, 0x00D6, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E})
#: Records of a run of cells in one row (MULRK, MULBLANK): the last column is in the last two
#: bytes of the body.
_CELL_RUN = frozenset({0x00BD, 0x00BE})
PASSWORD = (
    "it is password-protected: open it, remove the password (Excel: File › Info › Protect "
    "Workbook; LibreOffice: File › Properties › Security) and save it again"
)


def one_line(err: BaseException) -> str:
    """``err`` as one short line, for the detail of :func:`corrupt`."""
    return (" ".join(str(err).split()) or type(err).__name__)[:200]


def corrupt(path: str, detail: str) -> InputError:
    return InputError(f"{path}: workbook is encrypted or corrupt ({detail})", path=path)


def check_container(path: str, data: bytes, limits: Limits) -> None:
    """Refuse empty, encrypted, too old and oversized workbooks before any parser sees
    ``data``."""
    if not data:
        raise InputError(f"{path} is empty (0 bytes): export the workbook again", path=path)
    if data.startswith(OLE2_MAGIC):
        if _ENCRYPTED_STREAM in data:
            raise corrupt(path, PASSWORD)
        _check_xls(path, data)
        return
    version = _OLD_BIFF.get(data[:2])
    if version is not None:
        raise InputError(
            f"{path} is an {version} workbook, a format too old to read: open it in Excel or "
            "LibreOffice and save it as .xlsx",
            path=path,
        )
    if not data.startswith(ZIP_MAGIC):
        raise corrupt(path, "not an Excel or OpenDocument file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as err:
        raise corrupt(path, f"damaged ZIP container: {err}") from None
    if len(members) > limits.max_zip_members:
        raise corrupt(path, f"{len(members):,} parts, more than {limits.max_zip_members:,}")
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise InputError(
            f"{path}: workbook expands to {total / 2**20:,.0f} MiB, more than the limit of "
            f"{limits.max_unzipped_bytes / 2**20:,.0f} MiB (a ZIP bomb?)",
            path=path,
        )
    for m in members:
        if m.file_size > limits.ratio_floor_bytes:
            ratio = m.file_size / max(m.compress_size, 1)
            if ratio > limits.max_zip_ratio:
                raise InputError(
                    f"{path}: workbook part {m.filename} expands {ratio:,.0f}-fold, more than "
                    f"{limits.max_zip_ratio:,.0f} (a ZIP bomb?)",
                    path=path,
                )


def _check_xls(path: str, data: bytes) -> None:
    """Refuse a password-protected .xls file, and one with a cell beyond the format's grid."""
    try:
        far = _far_cells(data)
    except Exception as err:
        raise corrupt(path, one_line(err)) from None
    if far is None:
        raise corrupt(path, PASSWORD)
    for name, (row, col) in far.items():
        if row >= XLS_ROWS or col >= XLS_COLUMNS:
            raise InputError(
                f"{describe(path, name)} has a cell at {cell_name(row, col)}, beyond the "
                f"{XLS_ROWS:,} rows × {XLS_COLUMNS} columns of the .xls format (a damaged "
                "file?): open it in Excel or LibreOffice and save it as .xlsx",
                path=path,
            )


def _stream(data: bytes) -> bytes:
    """The workbook stream of an OLE2 .xls file (BIFF8 "Workbook", BIFF5 "Book")."""
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        for name in ("Workbook", "Book"):
            if ole.exists(name):
                return bytes(ole.openstream(name).read())
    raise ValueError("no workbook stream in the OLE2 container")


def _sheet_name(body: bytes) -> tuple[int, str]:
    """The stream offset and name a BOUNDSHEET record gives a sheet."""
    offset = int.from_bytes(body[:4], "little")
    count = body[6]
    if len(body) >= 8 + count and body[7] in (0, 1):  # BIFF8: a flags byte, then the text
        wide = body[7] & 1
        raw = body[8 : 8 + count * (2 if wide else 1)]
        return offset, raw.decode("utf-16-le" if wide else "latin-1", errors="replace")
    return offset, body[7 : 7 + count].decode("cp1252", errors="replace")  # BIFF5


def _far_cells(data: bytes) -> dict[str, tuple[int, int]] | None:
    """Per sheet (name, in workbook order) of an .xls file: its last row and column with a cell
    record (0-based, -1 when none); None when the stream is encrypted. Raises ValueError (or
    olefile's errors) when the file is not an OLE2 container with a workbook stream."""
    stream = _stream(data)
    names: dict[int, str] = {}
    far: dict[str, tuple[int, int]] = {}
    sheet: str | None = None
    pos, end = 0, len(stream)
    while pos + 4 <= end:
        number, size = _HEAD.unpack_from(stream, pos)
        body = pos + 4
        if number in _CELL or number in _CELL_RUN:
            if sheet is not None and size >= 4:
                row, col = _ROW_COL.unpack_from(stream, body)
                if number in _CELL_RUN and size >= 6:
                    col = int.from_bytes(stream[body + size - 2 : body + size], "little")
                top, right = far[sheet]
                if row > top or col > right:
                    far[sheet] = (max(row, top), max(col, right))
        elif number == _BOF:
            sheet = names.get(pos)
            if sheet is not None:
                far.setdefault(sheet, (-1, -1))
        elif number == _BOUNDSHEET and size >= 8:
            offset, name = _sheet_name(stream[body : body + size])
            names[offset] = name
        elif number == _FILEPASS and sheet is None:
            return None
        elif number == _EOF:
            sheet = None
        pos = body + size
    return far
