"""``leadsync serve``: refuses a non-loopback address without a token (exit 2, one line);
starts with the sandbox, prints the URL with its token, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from leadsync.cli.console import console_token, is_loopback
from leadsync.errors import UsageError

SERVE_TIMEOUT_S = 120


def leadsync(*args: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
    return subprocess.Popen(
        [sys.executable, "-m", "leadsync", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**clean, **(env or {})},
        cwd=cwd,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_another_address_without_a_token_refuses_to_start(host: str, tmp_path: Path) -> None:
    proc = leadsync("serve", "--host", host, "--port", "0", cwd=tmp_path)
    out, err = proc.communicate(timeout=SERVE_TIMEOUT_S)
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "LEADSYNC_CONSOLE_TOKEN" in lines[0], err
    assert out == ""


def test_loopback_addresses_and_tokens() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert is_loopback("127.0.0.2") and not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")
    token, configured = console_token({}, "127.0.0.1")
    assert len(token) >= 40 and not configured
    assert console_token({"LEADSYNC_CONSOLE_TOKEN": "x" * 20}, "0.0.0.0") == ("x" * 20, True)
    with pytest.raises(UsageError, match="too short"):
        console_token({"LEADSYNC_CONSOLE_TOKEN": "short"}, "0.0.0.0")


def test_serve_with_the_sandbox_prints_a_working_url_and_stops(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = leadsync("serve", "--sandbox", "--port", "0", cwd=tmp_path, env={"TMPDIR": str(temp)})
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            m = re.search(r"leadsync console: (http://127\.0\.0\.1:\d+/\?token=\S+)", line)
            if m:
                url = m[1]
                break
        assert url, "no URL printed"
        s = requests.Session()
        r = s.get(url.replace("/?", "/campaigns?"), timeout=SERVE_TIMEOUT_S)
        assert r.status_code == 200 and "Spring Promo" in r.text
        assert requests.get(url.split("?")[0] + "campaigns", timeout=30).status_code == 401
        work = list(temp.glob("leadsync-console-*"))
        assert len(work) == 1 and (work[0].stat().st_mode & 0o777) == 0o700
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=SERVE_TIMEOUT_S)
    assert proc.returncode == 0, err
    assert "console stopped" in out
    assert not [
        p
        for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("leadsync-console-*")
        if str(proc.pid) in p.name
    ]


def test_the_sample_files_named_by_serve_sandbox_and_demo_exist() -> None:
    from leadsync.cli.demo import SAMPLE_DIR

    assert (SAMPLE_DIR / "spring_promo.csv").is_file() and (SAMPLE_DIR / "renewals.xlsx").is_file()
