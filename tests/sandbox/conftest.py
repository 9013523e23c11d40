"""Fixtures for the sandbox's own tests: an HTTP session and a manual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.helpers import ManualClock


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive session that ignores proxy settings of the environment."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
