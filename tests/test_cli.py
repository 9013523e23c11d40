"""The command line: every command documented, errors are one line with the right exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from leadsync.cli import cli, main
from leadsync.errors import ExitCode


def all_commands() -> list[tuple[str, click.Command]]:
    return sorted(cli.commands.items())


def test_the_spec_commands_exist() -> None:
    spec = {
        "sync",
        "plan",
        "apply",
        "validate",
        "campaigns",
        "queues",
        "export",
        "activity",
        "voicemail",
        "sandbox",
        "demo",
        "jobs",
    }
    assert spec <= set(cli.commands)


@pytest.mark.parametrize(("name", "command"), all_commands())
def test_every_command_and_option_has_help(name: str, command: click.Command) -> None:
    assert command.help and len(command.help.strip()) > 20, f"{name} lacks help text"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"leadsync {name} {param.opts[0]} lacks help text"


def run_main(args: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        main(args)
    return int(info.value.code or 0)


def test_version_and_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["--version"]) == 0
    assert "leadsync" in capsys.readouterr().out
    assert run_main(["--help"]) == 0


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["sync"]) == ExitCode.BAD_INPUT
    assert "nothing to sync" in capsys.readouterr().err
    assert run_main(["sync", "--mode", "nuke", "x.csv"]) == ExitCode.BAD_INPUT
    assert run_main(["no-such-command"]) == ExitCode.BAD_INPUT


def test_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "leadsync", "sync", str(tmp_path / "nope.csv"), "--campaign", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == ExitCode.BAD_INPUT, out.stderr
    assert "Traceback" not in out.stderr
    assert "nope.csv" in out.stderr


def test_config_accepted_after_the_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sync]\nmode = 'nuke'\n")
    assert run_main(["sync", "x.csv", "--config", str(bad)]) == ExitCode.BAD_INPUT
    assert run_main(["--config", str(bad), "sync", "x.csv"]) == ExitCode.BAD_INPUT
