"""Shared fixtures: a fresh sandbox per test, a factory for sandboxes with knobs, and a
private CA for the TLS tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadsync.sandbox import Sandbox, SandboxConfig
from tests.helpers import MakeSandbox
from tests.reliability.support import TlsFiles, make_private_ca


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A running sandbox with default knobs and an empty state; stopped after the test."""
    with Sandbox(SandboxConfig()) as sb:
        yield sb


@pytest.fixture
def make_sandbox() -> Iterator[MakeSandbox]:
    """``make_sandbox(**knobs)`` starts a sandbox with those SandboxConfig knobs; every one
    made is stopped after the test."""
    made: list[Sandbox] = []

    def make(**knobs: Any) -> Sandbox:
        sb = Sandbox(SandboxConfig(**knobs)).start()
        made.append(sb)
        return sb

    yield make
    for sb in made:
        sb.stop()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A private CA and a server certificate for 127.0.0.1 it signed."""
    return make_private_ca(tmp_path_factory.mktemp("tls"))


#: The checkout's default report folder: no test may write there (tests use tmp_path).
_CHECKOUT_REPORTS = Path(__file__).resolve().parent.parent / "reports"


def _checkout_reports() -> set[str]:
    return set(os.listdir(_CHECKOUT_REPORTS)) if _CHECKOUT_REPORTS.is_dir() else set()


@pytest.fixture(autouse=True)
def run_in_a_temporary_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test runs in a folder of its own, as a user runs leadsync in theirs: what a run
    puts relative to the working directory (the default ``reports/`` and the campaign locks'
    ``reports/.locks``) lands there, for in-process runs and the subprocesses they start."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session", autouse=True)
def no_report_in_the_checkout() -> Iterator[None]:
    """Fails the session when a test wrote a report folder (or the campaign locks' folder)
    into the checkout, e.g. a subprocess started with the checkout as its working directory."""
    before = _checkout_reports()
    yield
    left = sorted(_checkout_reports() - before)
    assert not left, f"tests wrote into {_CHECKOUT_REPORTS}: {left}"
