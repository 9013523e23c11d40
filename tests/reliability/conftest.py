"""Fixtures of the reliability suites: the real CLI run in this process (for the checks that do
not need a separate process), with logging restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leadsync.cli import main
from tests.helpers import restored_logging
from tests.reliability.support import InProcessRun, RunCli


@pytest.fixture
def run_leadsync(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunCli]:
    """``run_leadsync(*args)``: the CLI's ``main`` in this process (argument parsing, settings,
    logging setup, error → exit code), its stdout/stderr captured, run in ``tmp_path`` (so a
    default report folder lands there, not in the checkout). Logging is put back after."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> InProcessRun:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        else:  # main always exits
            raise AssertionError("leadsync.cli.main returned without exiting")
        captured = capsys.readouterr()
        return InProcessRun(code, captured.out, captured.err)

    with restored_logging():
        yield run
