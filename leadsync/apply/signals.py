"""Ctrl-C / SIGTERM: ask the apply to stop gracefully (docs/design.md, 'Applying')."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

#: Signals that ask a run to stop: Ctrl-C and what schedulers send (systemd, Kubernetes…).
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


def install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT and SIGTERM set ``stop``; return a function restoring the old handlers.

    The first signal sets ``stop`` (the apply then starts no new call, lets the calls in
    flight finish and returns). A second one, once ``stop`` is already set, raises
    ``KeyboardInterrupt`` as an impatient user expects. Must be called from the main thread
    (``signal`` only allows it there): raises ``RuntimeError`` otherwise.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("install_signal_handlers must be called from the main thread")

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        logger.warning(
            "%s received: finishing the calls in flight, starting no new one "
            "(press Ctrl-C again to abort at once)",
            signal.Signals(signum).name,
        )
        stop.set()

    previous: dict[signal.Signals, Any] = {}
    for sig in STOP_SIGNALS:
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
