"""Shared fixtures: a fresh sandbox per test, and a factory for sandboxes with knobs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from leadsync.sandbox import Sandbox, SandboxConfig
from tests.helpers import MakeSandbox


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
