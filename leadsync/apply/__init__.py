"""Apply a plan: concurrent calls, ordering, journal, settlement of uncertain adds.

See :func:`apply_plan` for the phases and guarantees (a run never creates a duplicate lead).
"""

from __future__ import annotations

from .deps import find_dependencies
from .journal import JOURNAL_NAME, Journal, latest_results, read_journal
from .phases import COUNT_NAMES, ApplyResult, apply_plan, install_signal_handlers

__all__ = [
    "COUNT_NAMES",
    "JOURNAL_NAME",
    "ApplyResult",
    "Journal",
    "apply_plan",
    "find_dependencies",
    "install_signal_handlers",
    "latest_results",
    "read_journal",
]
