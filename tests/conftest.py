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


@pytest.fixture(scope="session", autouse=True)
def no_report_in_the_checkout() -> Iterator[None]:
    """Fails the session when a test left a report folder in the checkout (a run without
    --report-dir whose working directory was not a temporary one)."""
    before = _checkout_reports()
    yield
    left = sorted(_checkout_reports() - before)
    assert not left, f"tests wrote report folders into {_CHECKOUT_REPORTS}: {left}"
