"""`leadsync sandbox` starts, prints where and how to log in, answers, and stops cleanly."""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from leadsync.errors import ExitCode, UsageError
from leadsync.sandbox import DEMO_CAMPAIGNS

#: The interpreter imports pandas & co. before serving: allow for a busy machine.
START_TIMEOUT_S = 60
URL_LINE = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


class Output:
    """The process's stdout, read line by line by a thread (a pipe read must not block)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen = ""
        self._stream = proc.stdout
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self._stream:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """Wait for a line matching ``pattern``; AssertionError with the output otherwise."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen += line
            match = pattern.search(line)
            if match:
                return match
        raise AssertionError(f"no line matching {pattern.pattern!r}; output:\n{self.seen}")

    def rest(self) -> str:
        """Everything printed until the process closed its stdout."""
        while (line := self.lines.get(timeout=START_TIMEOUT_S)) is not None:
            self.seen += line
        return self.seen


@pytest.fixture
def run_sandbox(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], Output]]]:
    """``run_sandbox(*args)`` starts ``leadsync sandbox ARGS``; killed at teardown if alive."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], Output]:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from leadsync.cli import main; main()", "sandbox", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        procs.append(proc)
        return proc, Output(proc)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=START_TIMEOUT_S)
        if proc.stdout is not None:
            proc.stdout.close()


RunSandbox = Callable[..., tuple[subprocess.Popen[str], Output]]


def test_sandbox_command_serves_until_terminated(run_sandbox: RunSandbox, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    proc, out = run_sandbox("--port", "0", "--seed", "4", "--state", str(state), "--page-cap", "5")
    base = out.until(URL_LINE).group(1)
    out.until(re.compile(r"Ctrl-C"))
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
    assert proc.wait(timeout=START_TIMEOUT_S) == 0, out.rest()
    assert "sandbox stopped" in out.rest()
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert {c["name"] for c in saved["campaigns"]} == set(DEMO_CAMPAIGNS)


@pytest.mark.slow  # one more interpreter start-up (seconds); the SIGTERM path runs always
def test_ctrl_c_stops_it_too(run_sandbox: RunSandbox) -> None:
    proc, out = run_sandbox("--port", "0")
    out.until(re.compile(r"Ctrl-C"))
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=START_TIMEOUT_S) == 0, out.rest()
    assert "Traceback" not in out.rest()


def test_busy_port_is_a_clear_usage_error() -> None:
    from leadsync.cli import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["sandbox", "--port", str(port)])
    assert isinstance(result.exception, UsageError)
    assert f"cannot listen on 127.0.0.1:{port}" in str(result.exception)
    assert result.exception.exit_code == ExitCode.BAD_INPUT


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
