"""Helpers of the console tests: the console over real HTTP on 127.0.0.1, beside a sandbox."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import uvicorn
from starlette.applications import Starlette

from leadsync.cli.demo import seed_demo_state
from leadsync.config import Settings, load_settings
from leadsync.console import ConsoleOptions, create_app
from leadsync.console.pages import Console
from leadsync.sandbox import Sandbox, SandboxConfig

#: The console's access token in the tests (any string of 16+ characters).
TOKEN = "test-token-0123456789abcdef"
#: The sandbox login password: a "secret" no page may ever show.
SECRET_PASSWORD = "s3cret-Pa55word-never-shown"
SECRET_API_KEY = "s3cret-api-key-never-shown"
#: How long a test waits for the server to start (it starts in well under a second).
START_TIMEOUT_S = 30.0
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free 127.0.0.1 port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the console did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
        sock.close()


@dataclass
class ConsoleEnv:
    """A running console, the sandbox it talks to, and where it writes."""

    base: str
    app: Starlette
    sandbox: Sandbox
    settings: Settings
    reports: Path
    campaigns: dict[str, str]  # demo campaign name -> id

    @property
    def console(self) -> Console:
        console = self.app.state.console
        assert isinstance(console, Console)
        return console

    def login_url(self, path: str = "/campaigns") -> str:
        return f"{self.base}{path}?token={TOKEN}"

    def leads(self, name_or_id: str) -> list[dict[str, Any]]:
        cid = self.campaigns.get(name_or_id, name_or_id)
        return self.sandbox.state.leads(cid)


def sandbox_settings(sb: Sandbox, reports: Path, config: Path | None = None) -> Settings:
    cfg = sb.config
    return load_settings(
        config,
        environ={},
        overrides={
            "api": {
                "base_url": sb.base_url,
                "username": cfg.username,
                "password": cfg.password,
                "domain": cfg.domain,
                "account_id": cfg.account_id,
            },
            "sync": {"report_dir": reports},
        },
    )


@contextmanager
def console_env(tmp: Path, config: Path | None = None) -> Iterator[ConsoleEnv]:
    """A sandbox seeded with the demo campaigns and a console pointed at it."""
    knobs = {"password": SECRET_PASSWORD, "api_key": SECRET_API_KEY}
    with Sandbox(SandboxConfig(**knobs)) as sb:
        ids = seed_demo_state(sb)
        reports = tmp / "reports"
        settings = sandbox_settings(sb, reports, config)
        app = create_app(
            settings,
            ConsoleOptions(token=TOKEN, cwd=tmp, work_dir=tmp / "work"),
        )
        with serve(app) as base:
            yield ConsoleEnv(base, app, sb, settings, reports, ids)


def session(env: ConsoleEnv) -> requests.Session:
    """A requests session signed in with the access token."""
    s = requests.Session()
    r = s.get(env.login_url(), timeout=30)
    assert r.status_code == 200, r.text
    return s


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m[1]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def numbers(n: int, start: int = 0, area: str = "212") -> list[str]:
    """``n`` distinct valid US numbers (fictional 555 exchange is not valid: use 2xx-7xx)."""
    return [f"+1{area}{200 + (i + start) // 10000:03d}{(i + start) % 10000:04d}" for i in range(n)]
