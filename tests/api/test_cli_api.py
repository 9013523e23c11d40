"""The campaigns / queues / export / activity / voicemail commands, end to end through
``leadsync.cli.main`` (exit codes included) against the sandbox."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from leadsync.cli import main
from leadsync.sandbox import Sandbox

CREATED = 1_700_000_000


@pytest.fixture
def env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    """The sandbox's address and credentials in the environment; cwd an empty folder."""
    cfg = sandbox.config
    for var in ("LEADSYNC_CONFIG", "LEADSYNC_API_KEY", "LEADSYNC_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LEADSYNC_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("LEADSYNC_USERNAME", cfg.username)
    monkeypatch.setenv("LEADSYNC_PASSWORD", cfg.password)
    monkeypatch.setenv("LEADSYNC_DOMAIN", cfg.domain)
    monkeypatch.setenv("LEADSYNC_ACCOUNT_ID", cfg.account_id)
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: no wrapped ids
    monkeypatch.chdir(tmp_path)
    cid = sandbox.state.add_campaign("Spring Promo")
    sandbox.state.add_leads(
        cid,
        [
            {"number": f"+1213555{i:04d}", "status": status, "created": CREATED}
            for i, status in enumerate(["new", "new", "success", "callback"])
        ],
    )
    sandbox.state.add_campaign("Renewals")
    return sandbox


def run(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code or 0)


def test_campaigns_table(env: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("campaigns") == 0
    out = capsys.readouterr().out
    assert "Spring Promo" in out and "Renewals" in out
    assert "callback" in out  # an unknown status gets its column
    assert env.state.find_campaign("Spring Promo") in out


def test_campaigns_json(env: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("campaigns", "--json") == 0
    data = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert data["Spring Promo"]["leads_by_status"] == {"new": 2, "success": 1, "callback": 1}
    assert data["Renewals"]["total_leads"] == 0


def test_queues_table(env: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("queues") == 0
    out = capsys.readouterr().out
    assert all(q["name"] in out for q in env.state.queues())


def test_export_csv(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("export", "spring promo", "--out", "out/leads.csv") == 0
    assert "exported 4 lead(s) of campaign Spring Promo" in capsys.readouterr().out
    with (tmp_path / "out" / "leads.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["status"] for r in rows] == ["new", "new", "success", "callback"]


def test_export_default_name(env: Sandbox, tmp_path: Path) -> None:
    assert run("export", "Renewals") == 0
    [made] = tmp_path.glob("leads-renewals-*.csv")
    assert made.read_text(encoding="utf-8-sig").startswith("id,campaign_id,number")


def test_export_unknown_campaign_lists_the_known_ones(
    env: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("export", "Autumn") == 2
    err = capsys.readouterr().err
    assert "unknown campaign 'Autumn'" in err and "Spring Promo (" in err and "Renewals (" in err


def test_export_bad_suffix(env: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("export", "Renewals", "--out", "leads.txt") == 2
    assert ".csv or .xlsx" in capsys.readouterr().err


def test_activity(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    since, until = str(CREATED - 10), str((CREATED + 10**7) * 1000)  # ms accepted
    assert run("activity", "--since", since, "--until", until, "--out", "act.csv") == 0
    assert "wrote 2 event(s)" in capsys.readouterr().out  # the two dialed leads
    with (tmp_path / "act.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["lead_number"] for r in rows} == {"+12135550002", "+12135550003"}
    assert all(r["cdr_id"] for r in rows)
    assert run("activity", "--since", since, "--until", until) == 0
    assert "+12135550002" in capsys.readouterr().out


def test_activity_bad_time(env: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("activity", "--since", "last tuesday") == 2
    assert "--since" in capsys.readouterr().err


def test_voicemail(env: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    cdr = env.state.events()[0]["lead_history"][0]["uuid"]
    assert run("voicemail", cdr) == 0
    assert cdr in env.state.voicemails()
    assert run("voicemail", cdr, "no-such-call") == 1
    captured = capsys.readouterr()
    assert "no-such-call: refused" in captured.err and "1 of 2" in captured.err


def test_unreachable_api_exits_4(env: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "leadsync.toml").write_text(
        "[api]\nretry_attempts = 2\nbackoff_max_s = 0.05\n", encoding="utf-8"
    )
    env.stop()
    assert run("queues") == 4


def test_every_command_has_help() -> None:
    from leadsync.cli.api_commands import COMMANDS

    assert {c.name for c in COMMANDS} == {"campaigns", "queues", "export", "activity", "voicemail"}
    assert all(c.help and c.help.strip() for c in COMMANDS)


def test_names_are_printed_literally(env: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    env.state.add_campaign("[red]Promo[/red]")
    assert run("campaigns") == 0
    assert "[red]Promo[/red]" in capsys.readouterr().out  # not taken as rich markup
