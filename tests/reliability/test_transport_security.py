"""Transport security: TLS is verified by default; a portal with a private CA is refused with
advice (exit 4, never retried) until ``api.ca_bundle`` names the CA; turning verification off
needs the explicit setting and is logged on every run. Settings that would leak a password
(``user:pass@`` in the URL) or cannot make a request (a port out of range, a line break in a
header) are config errors (exit 2, one line), never a traceback or a "request failed"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leadsync.config import ApiSettings
from leadsync.errors import ConfigError, ExitCode
from leadsync.sandbox import Sandbox, SandboxConfig
from tests.helpers import api_values, number
from tests.reliability.support import (
    RunCli,
    TlsFiles,
    write_config,
    write_leads,
)

OFF_WARNING = "TLS certificate verification is OFF"


@pytest.fixture
def https_sandbox(tls: TlsFiles) -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(tls_cert=tls.server_cert, tls_key=tls.server_key)) as sb:
        cid = sb.state.add_campaign("Spring")
        sb.state.add_leads(cid, [{"number": number(0)}])
        yield sb


def config(tmp_path: Path, sb: Sandbox, name: str = "leadsync.toml", **api: object) -> str:
    # Default retry settings: a refusal must be fast because it is not retried, not because
    # the backoff is short.
    values = api_values(sb, backoff_max_s=30.0, **api)
    return str(write_config(tmp_path / name, values))


def test_the_sandbox_serves_https_only_with_both_files(tls: TlsFiles) -> None:
    with pytest.raises(ConfigError, match="tls_cert and tls_key"):
        SandboxConfig(tls_cert=tls.server_cert)
    with Sandbox(SandboxConfig(tls_cert=tls.server_cert, tls_key=tls.server_key)) as sb:
        assert sb.base_url.startswith("https://127.0.0.1:")
    with Sandbox(SandboxConfig()) as sb:
        assert sb.base_url.startswith("http://")


def test_verification_is_on_by_default() -> None:
    assert ApiSettings().verify_tls is True
    assert ApiSettings().ca_bundle is None


def test_an_untrusted_certificate_is_refused_at_once_with_advice(
    https_sandbox: Sandbox, tmp_path: Path, run_leadsync: RunCli
) -> None:
    run = run_leadsync("--config", config(tmp_path, https_sandbox), "campaigns")
    assert run.code == ExitCode.UNREACHABLE, run.err
    assert "retrying" not in run.err, "the refusal was retried"
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.err
    assert "certificate verify failed" in errors[0].lower()
    assert "not trusted" in errors[0] and "api.ca_bundle" in errors[0]
    assert "Traceback" not in run.err
    assert https_sandbox.stats.requests == 0  # nothing went over the untrusted connection


def test_a_sync_is_refused_before_any_write(
    https_sandbox: Sandbox, tmp_path: Path, run_leadsync: RunCli
) -> None:
    src = write_leads(tmp_path / "leads.csv", [{"number": number(i)} for i in range(5)])
    run = run_leadsync(
        "--config",
        config(tmp_path, https_sandbox),
        "sync",
        str(src),
        "--campaign",
        "Spring",
        "--report-dir",
        str(tmp_path / "report"),
    )
    assert run.code == ExitCode.UNREACHABLE, run.out + run.err
    assert "api.ca_bundle" in run.out + run.err
    assert https_sandbox.stats.requests == 0


def test_the_ca_bundle_makes_it_work(
    https_sandbox: Sandbox,
    tls: TlsFiles,
    tmp_path: Path,
    run_leadsync: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = write_leads(tmp_path / "leads.csv", [{"number": number(i)} for i in range(5)])
    cfg = config(tmp_path, https_sandbox, ca_bundle=str(tls.ca_cert))
    run = run_leadsync("--config", cfg, "sync", str(src), "--campaign", "Spring")
    assert run.code == ExitCode.OK, run.out + run.err
    (cid,) = https_sandbox.state.campaigns()
    assert sorted(lead["number"] for lead in https_sandbox.state.leads(cid)) == [
        number(i) for i in range(5)
    ]
    # The environment variable does the same (docs/design.md, 'Configuration').
    monkeypatch.setenv("LEADSYNC_CA_BUNDLE", str(tls.ca_cert))
    run = run_leadsync("--config", config(tmp_path, https_sandbox, name="plain.toml"), "campaigns")
    assert run.code == ExitCode.OK, run.err
    assert OFF_WARNING not in run.err


def test_a_certificate_for_another_host_is_refused(
    https_sandbox: Sandbox, tls: TlsFiles, tmp_path: Path, run_leadsync: RunCli
) -> None:
    # The certificate names 127.0.0.1; the same server reached as "localhost" must not pass.
    url = https_sandbox.base_url.replace("127.0.0.1", "localhost")
    cfg = config(tmp_path, https_sandbox, base_url=url, ca_bundle=str(tls.ca_cert))
    run = run_leadsync("--config", cfg, "campaigns")
    assert run.code == ExitCode.UNREACHABLE, run.err
    assert "certificate verify failed" in run.err.lower()
    assert "does not name the host" in run.err


def test_turning_verification_off_is_explicit_and_logged_on_every_run(
    https_sandbox: Sandbox, tmp_path: Path, run_leadsync: RunCli
) -> None:
    cfg = config(tmp_path, https_sandbox, verify_tls=False)
    for _ in range(2):
        # pytest turns warnings into errors: urllib3's per-request InsecureRequestWarning would
        # fail the run here, as it would flood stderr in production.
        run = run_leadsync("--config", cfg, "campaigns")
        assert run.code == ExitCode.OK, run.err
        assert run.err.count(OFF_WARNING) == 1, run.err
        assert "InsecureRequestWarning" not in run.err


@pytest.mark.parametrize(
    ("api", "said"),
    [
        ({"base_url": "http://someone:Pw-in-url-77@127.0.0.1:9443"}, "user name or password"),
        ({"base_url": "http://127.0.0.1:99999"}, "Port out of range"),
        ({"user_agent": "x\\r\\nX-Evil: 1"}, "control characters"),  # TOML escapes
    ],
    ids=["credentials-in-url", "port-out-of-range", "header-injection"],
)
def test_settings_that_cannot_be_sent_are_config_errors(
    tmp_path: Path, run_leadsync: RunCli, api: dict[str, str], said: str
) -> None:
    values = {"base_url": "http://127.0.0.1:9443", "username": "u", "domain": "d", **api}
    cfg = tmp_path / "leadsync.toml"
    cfg.write_text("[api]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items()), "utf-8")
    src = write_leads(tmp_path / "leads.csv", [{"number": number(0)}])
    for args in (["campaigns"], ["sync", str(src), "--campaign", "Spring", "--dry-run"]):
        run = run_leadsync("--config", str(cfg), *args)
        assert run.code == ExitCode.BAD_INPUT, run.out + run.err
        errors = [line for line in run.err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and said in errors[0], run.err
        assert "Traceback" not in run.err and "request failed" not in run.err
        assert "Pw-in-url-77" not in run.out + run.err
