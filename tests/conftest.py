"""Shared fixtures: a fresh sandbox per test, a factory for sandboxes with knobs, and a
private CA for the TLS tests."""

from __future__ import annotations

from collections.abc import Iterator
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
