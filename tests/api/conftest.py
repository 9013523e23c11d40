"""Fixtures of the API client tests."""

from __future__ import annotations

import pytest
import vcr

from .support import RecordingSleep, make_vcr


@pytest.fixture
def doc_vcr() -> vcr.VCR:
    """Strict replay of ``tests/cassettes`` (a request not in the cassette fails the test)."""
    return make_vcr()


@pytest.fixture
def fake_sleep() -> RecordingSleep:
    """A sleep that records every wait and advances its own clock."""
    return RecordingSleep()
