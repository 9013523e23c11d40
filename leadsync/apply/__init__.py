"""Apply a plan: concurrent calls, ordering, journal, settlement of uncertain adds.

See :func:`apply_plan` for the phases and guarantees (a run never creates a duplicate lead).
"""

from __future__ import annotations

from .deps import Dependencies, find_dependencies
from .engine import DEFAULT_CONCURRENCY, DEFAULT_SETTLE_ROUNDS, NEW_LEAD_STATUS
from .journal import JOURNAL_NAME, Journal, latest_results, read_journal
from .phases import COUNT_NAMES, ApplyResult, apply_plan, install_signal_handlers

__all__ = [
    "COUNT_NAMES",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_SETTLE_ROUNDS",
    "JOURNAL_NAME",
    "NEW_LEAD_STATUS",
    "ApplyResult",
    "Dependencies",
    "Journal",
    "apply_plan",
    "find_dependencies",
    "install_signal_handlers",
    "latest_results",
    "read_journal",
]
