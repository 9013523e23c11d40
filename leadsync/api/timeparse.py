"""Turn what a user types for a time (``--since``/``--until``) into Unix seconds. Pure.

The activity endpoint takes seconds; its own example sends milliseconds (docs/design.md),
so both are accepted, as are ISO dates and "how long ago" durations.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

#: Epoch values above this are milliseconds (1e11 seconds is the year 5138).
MILLISECONDS_THRESHOLD = 100_000_000_000
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def to_epoch_seconds(
    value: str | int | float | datetime | date, *, now: datetime | None = None
) -> int:
    """Unix seconds for ``value``.

    Accepts epoch seconds or milliseconds (number or digits), an ISO 8601 date or date-time
    (naive ones are taken as UTC; a trailing ``Z`` is fine), ``now``, or a duration meaning
    "that long ago": ``90s``, ``15m``, ``24h``, ``7d``, ``2w``. ``now`` is the reference time
    (default: the current UTC time). Raises ValueError with a sentence saying what is accepted.
    """
    if isinstance(value, datetime):
        return _from_datetime(value)
    if isinstance(value, date):
        return _from_datetime(datetime(value.year, value.month, value.day))
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return _from_number(float(value))
    text = value.strip()
    reference = now or datetime.now(UTC)
    if not text:
        raise ValueError("empty time; give epoch seconds, an ISO date, or a duration like 24h")
    if text.lower() == "now":
        return _from_datetime(reference)
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _from_number(float(text))
    duration = _DURATION.match(text)
    if duration:
        seconds = float(duration.group(1)) * _UNIT_SECONDS[duration.group(2).lower()]
        return _from_datetime(reference) - int(seconds)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read {value!r} as a time; give epoch seconds or milliseconds, an ISO date "
            "(2024-05-01 or 2024-05-01T13:30:00+02:00), 'now', or a duration ago (90m, 24h, 7d)"
        ) from None
    return _from_datetime(parsed)


def _from_number(number: float) -> int:
    if number < 0:
        raise ValueError(f"a time cannot be negative: {number:g}")
    if number >= MILLISECONDS_THRESHOLD:
        number /= 1000.0
    return int(number)


def _from_datetime(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())
