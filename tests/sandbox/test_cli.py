"""`leadsync sandbox` starts, prints where and how to log in, answers, and stops cleanly."""

from __future__ import annotations

import json
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from leadsync.sandbox import DEMO_CAMPAIGNS

#: The interpreter imports pandas & co. before serving: allow for a busy machine.
START_TIMEOUT_S = 60
URL_LINE = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def read_until(proc: subprocess.Popen[str], pattern: re.Pattern[str]) -> tuple[re.Match[str], str]:
    """Read the process's stdout until ``pattern`` matches a line; the match and all text."""
    assert proc.stdout is not None
    seen = ""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not sel.select(timeout=0.5):
                continue
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
            match = pattern.search(line)
            if match:
                return match, seen
    raise AssertionError(f"no line matching {pattern.pattern!r}; output so far:\n{seen}")


@pytest.fixture
def run_sandbox(tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from leadsync.cli import main; main()", "sandbox", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_sandbox_command_serves_until_terminated(run_sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state.json"
    proc = run_sandbox("--port", "0", "--seed", "4", "--state", str(state), "--page-cap", "5")
    match, banner = read_until(proc, URL_LINE)
    base = match.group(1)
    rest, _ = read_until(proc, re.compile(r"Ctrl-C"))
    banner += rest
    assert "LEADSYNC_USERNAME=demo" in banner and "LEADSYNC_PASSWORD=demo-password" in banner
    assert "not secrets" in banner
    with requests.Session() as http:
        http.trust_env = False
        login = http.post(
            f"{base}/api/v2/login",
            json={"username": "demo", "password": "demo-password", "domain": "demo"},
        )
        assert login.status_code == 200
        headers = {
            "Authorization": f"Bearer {login.json()['access_token']}",
            "X-Account-ID": "acct-demo",
        }
        campaigns = http.get(f"{base}/api/v2/reports/campaigns/leads/status", headers=headers)
        names = {c["name"] for c in campaigns.json().values()}  # an empty state gets the demo
        assert names == set(DEMO_CAMPAIGNS)
        cid = next(iter(campaigns.json()))
        page = http.get(
            f"{base}/api/v2/config/campaigns/{cid}/leads?page_size=100", headers=headers
        ).json()
        assert len(page["data"]) == 5  # --page-cap reached the server
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=START_TIMEOUT_S)
    assert proc.returncode == 0, out
    assert "sandbox stopped" in out
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert {c["name"] for c in saved["campaigns"]} == set(DEMO_CAMPAIGNS)


def test_ctrl_c_stops_it_too(run_sandbox) -> None:  # type: ignore[no-untyped-def]
    proc = run_sandbox("--port", "0")
    read_until(proc, re.compile(r"Ctrl-C"))
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=START_TIMEOUT_S)
    assert proc.returncode == 0, out
    assert "Traceback" not in out


def test_busy_port_is_a_clear_usage_error(run_sandbox) -> None:  # type: ignore[no-untyped-def]
    first = run_sandbox("--port", "0")
    match, _ = read_until(first, URL_LINE)
    port = match.group(1).rsplit(":", 1)[1]
    second = run_sandbox("--port", port)
    out, _ = second.communicate(timeout=START_TIMEOUT_S)
    assert second.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in out
    assert "Traceback" not in out


def test_help_lists_the_knobs() -> None:
    from leadsync.cli import cli

    result = CliRunner().invoke(cli, ["sandbox", "--help"])
    assert result.exit_code == 0
    for flag in (
        "--port",
        "--state",
        "--latency-ms",
        "--fail-rate",
        "--ambiguous-rate",
        "--rate-limit",
        "--token-ttl",
        "--page-cap",
        "--seed",
        "--demo-data",
    ):
        assert flag in result.output
