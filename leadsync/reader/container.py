"""A workbook file before any parser sees it: empty, password-protected, too old a format, or a
ZIP container that would expand too far (member count, expanded size, ratio)."""

from __future__ import annotations

import io
import zipfile

from ..errors import InputError
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
        return  # an .xls (BIFF) workbook
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
