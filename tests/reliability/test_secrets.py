"""Secrets — the password, the API key and every token the sandbox issued — appear in no log
line (text and JSON, at -vv, with retries, re-logins and failures happening), no file of the
report folder (inside report.xlsx too), no exception, no repr, and no cassette."""

from __future__ import annotations

import re
import secrets
import traceback
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from leadsync.api import CampaignsClient
from leadsync.config import ApiSettings, load_settings
from leadsync.errors import AuthError, ExitCode
from leadsync.sandbox import Sandbox, SandboxConfig
from tests.helpers import api_values, number
from tests.reliability.support import (
    CliRun,
    LoginSpy,
    RunCli,
    cli_env,
    run_cli,
    write_config,
    write_leads,
)

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
#: What a sandbox token looks like (secrets.token_hex(24)).
TOKEN_SHAPE = re.compile(r"\b[0-9a-f]{48}\b")
LEADS = 300


def files_text(folder: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file under ``folder`` as bytes; a ZIP container (report.xlsx) member by member."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if data.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    yield path / member, z.read(member)
        else:
            yield path, data


def leaks(secret_values: list[str], texts: Iterator[tuple[str, bytes]]) -> list[str]:
    found = []
    for where, data in texts:
        for secret in secret_values:
            if secret.encode() in data:
                found.append(f"{secret[:6]}… in {where}")
    return found


@pytest.fixture
def secret_sandbox() -> Iterator[tuple[Sandbox, LoginSpy]]:
    config = SandboxConfig(
        password=f"Pw-{secrets.token_hex(12)}",
        api_key=f"Key-{secrets.token_hex(12)}",
        token_uses=60,  # a re-login every 60 requests: several tokens to leak, on any machine
        fail_rate=0.05,  # retries logged with their errors
        ambiguous_rate=0.05,  # uncertain adds settled by re-reading
        latency_ms=2.0,
        seed=5,
    )
    with Sandbox(config) as sb:
        spy = LoginSpy.attach(sb)
        sb.state.add_campaign("Spring")
        yield sb, spy


def test_no_secret_in_logs_or_report_files(
    secret_sandbox: tuple[Sandbox, LoginSpy], tmp_path: Path
) -> None:
    sb, spy = secret_sandbox
    src = write_leads(tmp_path / "leads.csv", [{"number": number(i)} for i in range(LEADS)])
    values = api_values(sb, retry_budget=10_000)
    password = values.pop("password")
    config = write_config(tmp_path / "leadsync.toml", values)  # holds no secret
    # Each run its own campaign: both make every add (a run that found the other's adds
    # done would send too few requests to see its token expire).
    sb.state.add_campaign("Summer")
    runs = {
        # text logs, login with the password (tokens issued and re-issued)
        "text": ("text", "Spring", cli_env(LEADSYNC_PASSWORD=password)),
        # JSON logs, the API key (it wins over the password, which is set too)
        "json": (
            "json",
            "Summer",
            cli_env(LEADSYNC_PASSWORD=password, LEADSYNC_API_KEY=sb.config.api_key or ""),
        ),
    }

    def sync(name: str) -> tuple[str, CliRun]:
        fmt, campaign, env = runs[name]
        cwd = tmp_path / name
        cwd.mkdir()
        args = ["--config", config, "-vv", "--log-format", fmt, "sync", src]
        args += ["--campaign", campaign, "--report-dir", cwd / "report"]
        # No address-space cap here: this test is about secrets, and 16 apply threads beside
        # Arrow's thread pools reserve more than 2 GiB of virtual memory (RSS stays ~240 MB).
        return name, run_cli(args, cwd=cwd, env=env, memory_limit=None)

    with ThreadPoolExecutor(2) as pool:
        done = dict(pool.map(sync, runs))
    tokens = spy.tokens()
    assert len(spy.access_tokens()) >= 2, "expected re-logins (tokens expire every 60 requests)"
    # Where the sandbox keeps the bearer tokens it issued (SandboxApp._tokens): every one of
    # them is a secret too, whoever got it.
    held = list(sb.app._tokens)
    assert set(spy.access_tokens()) <= set(held)
    all_secrets = [password, sb.config.api_key or "", *tokens, *held]
    assert leaks(all_secrets, iter([("probe", f"x{tokens[-1]}x".encode())]))  # the check works
    for name, run in done.items():
        assert run.returncode in (ExitCode.OK, ExitCode.FAILED), run.output[-3000:]
        outputs = [(f"{name} stdout", run.stdout.encode()), (f"{name} stderr", run.stderr.encode())]
        assert leaks(all_secrets, iter(outputs)) == []
        report_files = [(str(p), b) for p, b in files_text(tmp_path / name)]
        assert any(p.endswith("report.xlsx/xl/worksheets/sheet1.xml") for p, _ in report_files)
        assert leaks(all_secrets, iter(report_files)) == []
        assert "DEBUG" in run.stderr  # -vv really logged verbosely
    assert '"level": "DEBUG"' in done["json"].stderr
    # The runs really used what must stay secret.
    assert sb.stats.by_route[("POST", "login")] >= 2
    assert sb.stats.by_account[sb.config.account_id] > LEADS


def test_a_refused_login_does_not_echo_the_password(
    secret_sandbox: tuple[Sandbox, LoginSpy], tmp_path: Path, run_leadsync: RunCli
) -> None:
    sb, _ = secret_sandbox
    wrong = f"Wrong-{secrets.token_hex(12)}"
    config = write_config(tmp_path / "leadsync.toml", api_values(sb, password=wrong))
    run = run_leadsync("--config", str(config), "-vv", "campaigns")
    assert run.code == ExitCode.UNREACHABLE
    assert "error:" in run.err
    assert wrong not in run.out + run.err
    assert sb.config.password not in run.out + run.err


def test_settings_clients_and_errors_never_show_secrets(
    secret_sandbox: tuple[Sandbox, LoginSpy],
) -> None:
    sb, spy = secret_sandbox
    password, api_key = sb.config.password, sb.config.api_key or ""
    settings = load_settings(environ={}, overrides={"api": api_values(sb, api_key=api_key)})
    shown = [repr(settings), str(settings), repr(settings.api), str(settings.redacted())]
    shown.append(settings.model_dump_json())
    with CampaignsClient(settings.api) as client:
        shown.append(repr(client))
        client.campaigns()
    with CampaignsClient(ApiSettings(**api_values(sb))) as client:  # a login: tokens issued
        shown.append(repr(client))
        client.campaigns()
    # A refused login: the exception, its repr and its formatted traceback.
    wrong = f"Wrong-{secrets.token_hex(12)}"
    with (
        CampaignsClient(ApiSettings(**api_values(sb, password=wrong))) as client,
        pytest.raises(AuthError) as info,
    ):
        client.campaigns()
    shown += [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
    for text in shown:
        for secret in (password, api_key, wrong, *spy.tokens(), *sb.app._tokens):
            assert secret not in text, f"{secret[:6]}… in {text[:200]}"


def test_cassettes_hold_no_secret() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert files, "no cassettes found"
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not TOKEN_SHAPE.search(text), f"{path.name}: a token-like value"
        for default in (SandboxConfig().password, SandboxConfig().api_key or "-"):
            assert default not in text, f"{path.name}: the sandbox's demo secret"
        for interaction in yaml.safe_load(text)["interactions"]:
            request, response = interaction["request"], interaction["response"]
            headers = {k.lower() for k in (request.get("headers") or {})}
            assert not headers & {"authorization", "x-api-key", "cookie"}, path.name
            body = request.get("body") or ""
            if '"password"' in body:
                assert '"password": "[FILTERED]"' in body, path.name
            answer = (response.get("body") or {}).get("string") or ""
            for field in ("access_token", "refresh_token"):
                for value in re.findall(rf'"{field}"\s*:\s*"([^"]*)"', answer):
                    assert value == f"{{{field}_value}}", f"{path.name}: {field} {value!r}"
