"""Save a spreadsheet with a password through a headless LibreOffice (UNO), for the fixtures of
password-protected workbooks. Run with the system Python that has LibreOffice's ``uno`` module
(Debian: python3-uno, installed with libreoffice-calc-nogui):

    /usr/bin/python3 tests/data/soffice_password.py SRC DEST FILTER PASSWORD

FILTER is LibreOffice's filter name: ``calc8`` (.ods), ``MS Excel 97`` (.xls)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]

PORT = 2002
CONNECT_TRIES = 120
CONNECT_PAUSE_S = 0.5


def prop(name: str, value: object) -> PropertyValue:
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def main() -> None:
    src, dest, filter_name, password = sys.argv[1:5]
    profile = tempfile.mkdtemp(prefix="lo_profile_")
    office = subprocess.Popen(
        [
            "soffice",
            "--headless",
            "--norestore",
            "--invisible",
            f"--accept=socket,host=127.0.0.1,port={PORT};urp;",
            f"-env:UserInstallation=file://{profile}",
        ]
    )
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    url = f"uno:socket,host=127.0.0.1,port={PORT};urp;StarOffice.ComponentContext"
    for _ in range(CONNECT_TRIES):
        try:
            ctx = resolver.resolve(url)
            break
        except Exception:
            time.sleep(CONNECT_PAUSE_S)
    else:
        raise SystemExit("LibreOffice did not start")
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    doc = desktop.loadComponentFromURL(
        uno.systemPathToFileUrl(os.path.abspath(src)), "_blank", 0, (prop("Hidden", True),)
    )
    doc.storeToURL(
        uno.systemPathToFileUrl(os.path.abspath(dest)),
        (prop("FilterName", filter_name), prop("Password", password)),
    )
    doc.close(True)
    with contextlib.suppress(Exception):  # the office process ends with the bridge
        desktop.terminate()
    office.wait(timeout=60)


if __name__ == "__main__":
    main()
