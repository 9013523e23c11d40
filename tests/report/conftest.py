"""Fixtures of the report tests: headless Chromium and LibreOffice (installed from Debian when
missing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

#: Debian package names, and the binaries they install.
CHROMIUM_PACKAGES = ("chromium",)
CHROMIUM_BINARIES = ("chromium", "chromium-browser")
APT_TIMEOUT_S = 900
#: Flags for a headless, offline, throw-away browser.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def _find_chromium() -> str | None:
    for name in CHROMIUM_BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", "-o", "DPkg::Lock::Timeout=600", *args],
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT_S,
        env=env,
        check=False,
    )


def _install(packages: tuple[str, ...]) -> str:
    """Install Debian ``packages``; returns why it could not be done ("" when it was)."""
    if os.geteuid() != 0:
        return f"not root, so apt-get cannot install it (run: apt-get install {' '.join(packages)})"
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine (install it by hand)"
    install = ("install", "-y", "--no-install-recommends", *packages)
    done = _apt(*install)
    if done.returncode != 0:
        # The package lists may be missing or stale on a fresh machine.
        update = _apt("update")
        if update.returncode != 0:
            return f"apt-get update failed: {update.stderr.strip()[-300:]}"
        done = _apt(*install)
    if done.returncode != 0:
        return f"apt-get install {' '.join(packages)} failed: {done.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium; installs Debian's package when it is missing and
    skips (saying why) only when it cannot be installed."""
    found = _find_chromium()
    if found is None:
        why = _install(CHROMIUM_PACKAGES)
        found = _find_chromium()
        if found is None:
            pytest.skip(f"headless Chromium unavailable: {why or 'not found after install'}")
    return found


def run_chromium(binary: str, profile: Path, *args: str, timeout: float = 120) -> str:
    """Run Chromium headless with a throw-away profile; returns its stdout."""
    done = subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


#: Debian packages of a headless LibreOffice Calc, and its binary.
OFFICE_PACKAGES = ("libreoffice-calc-nogui",)
OFFICE_BINARY = "soffice"
#: LibreOffice's CSV filter: comma, double quotes, UTF-8 (76), from row 1, … and the last
#: token -1: every sheet to its own file, named <file>-<sheet>.csv.
OFFICE_CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


@pytest.fixture(scope="session")
def soffice() -> str:
    """Path of LibreOffice's ``soffice``; installs Debian's package when it is missing and
    skips (saying why) only when it cannot be installed."""
    found = shutil.which(OFFICE_BINARY)
    if found is None:
        why = _install(OFFICE_PACKAGES)
        found = shutil.which(OFFICE_BINARY)
        if found is None:
            pytest.skip(f"LibreOffice unavailable: {why or 'not found after install'}")
    return found


def office_sheets_as_csv(binary: str, workbook: Path, out: Path, *, timeout: float = 180) -> Path:
    """Convert every sheet of ``workbook`` to CSV with headless LibreOffice (a throw-away
    profile); returns the folder holding ``<stem>-<sheet>.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    profile = (out / "profile").as_uri()
    done = subprocess.run(
        [binary, "--headless", f"-env:UserInstallation={profile}", "--convert-to",
         OFFICE_CSV_FILTER, "--outdir", str(out), str(workbook)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"soffice failed ({done.returncode}): {done.stderr[-2000:]}"
    return out
