"""Fixtures of the API client tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import vcr

from leadsync.sandbox import Sandbox, SandboxConfig
from tests.reliability.support import TlsFiles

from .support import RecordingSleep, make_vcr


@pytest.fixture
def doc_vcr() -> vcr.VCR:
    """Strict replay of ``tests/cassettes`` (a request not in the cassette fails the test)."""
    return make_vcr()


@pytest.fixture
def fake_sleep() -> RecordingSleep:
    """A sleep that records every wait and advances its own clock."""
    return RecordingSleep()


@pytest.fixture
def https_sandbox(tls: TlsFiles) -> Iterator[Sandbox]:
    """A sandbox serving HTTPS with ``tls``'s server certificate."""
    with Sandbox(SandboxConfig(tls_cert=tls.server_cert, tls_key=tls.server_key)) as sb:
        yield sb
