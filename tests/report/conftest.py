"""Fixtures of the report tests: headless Chromium (installed from Debian when missing)."""

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


def _install_chromium() -> str:
    """Install Debian's chromium; returns why it could not be done ("" when it was)."""
    if os.geteuid() != 0:
        return "not root, so apt-get cannot install it (run: apt-get install chromium)"
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine (install Chromium by hand)"
    install = ("install", "-y", "--no-install-recommends", *CHROMIUM_PACKAGES)
    done = _apt(*install)
    if done.returncode != 0:
        # The package lists may be missing or stale on a fresh machine.
        update = _apt("update")
        if update.returncode != 0:
            return f"apt-get update failed: {update.stderr.strip()[-300:]}"
        done = _apt(*install)
    if done.returncode != 0:
        return f"apt-get install chromium failed: {done.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium; installs Debian's package when it is missing and
    skips (saying why) only when it cannot be installed."""
    found = _find_chromium()
    if found is None:
        why = _install_chromium()
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
