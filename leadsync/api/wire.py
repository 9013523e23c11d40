"""The Campaigns API wire format: paths, pure parsers for every answer and for user-given times.

The parsers are tolerant in the ways docs/design.md asks for: the counts endpoint is an
object keyed by campaign id (never read by position) whose example repeats a status key and
misspells ``campaing_id``; unknown statuses are kept; pages may or may not carry Kazoo's
``{"data": …}`` envelope. What cannot be understood raises :class:`WireFormatError` with a
sentence naming the endpoint's field, which the client turns into a typed API error.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from ..models import Campaign

log = logging.getLogger(__name__)

# --- paths (docs/design.md, the API table) ---------------------------------------------------
LOGIN_PATH = "/api/v2/login"
CAMPAIGNS_STATUS_PATH = "/api/v2/reports/campaigns/leads/status"
LEADS_PATH = "/api/v2/config/campaigns/{campaign_id}/leads"
QUEUES_PATH = "/callcenter/queues/status"  # no /api/v2 prefix, as documented
ACTIVITY_PATH = "/api/v2/reports/campaigns/leads/history"
ADD_LEAD_PATH = "/api/v2/config/campaigns/{campaign_id}/lead"
SET_STATUS_PATH = "/api/v2/config/campaigns/leads/{lead_id}/status/{status}"
DELETE_LEAD_PATH = "/api/v2/config/campaigns/leads/{lead_id}"
VOICEMAIL_PATH = "/api/v2/config/campaigns/call/{cdr_id}/disposition/voicemail"

#: Longest server message quoted in an error (a whole HTML error page helps nobody).
MAX_SERVER_MESSAGE_CHARS = 300
#: Keys of Kazoo's response envelope; a top-level object made only of these plus ``data`` is
#: unwrapped. A campaign id is 32 hex characters, so it can never collide with these.
ENVELOPE_KEYS = frozenset(
    {"data", "status", "request_id", "auth_token", "revision", "timestamp", "version", "node"}
)
#: Field names a campaign entry may carry its id under (the document misspells it).
CAMPAIGN_ID_FIELDS = ("id", "campaign_id", "campaing_id")


class WireFormatError(ValueError):
    """An answer whose shape the parser cannot understand; the message names the field."""


def quote_segment(value: str) -> str:
    """``value`` safe as one path segment (``/`` and ``?`` escaped)."""
    return quote(value, safe="")


# --- JSON ------------------------------------------------------------------------------------
def loads(text: str) -> Any:
    """Parse a JSON answer; WireFormatError when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise WireFormatError(f"answer is not JSON ({err.msg} at char {err.pos})") from None


# --- login -----------------------------------------------------------------------------------
def parse_login(body: Any) -> tuple[str, str | None, str | None]:
    """``(access_token, refresh_token, account_id)`` from a login answer.

    ``account_id`` is ``user.account_id`` when the answer carries it (API decision 7).
    Raises WireFormatError when there is no access token.
    """
    if not isinstance(body, Mapping):
        raise WireFormatError("login answer is not a JSON object")
    raw_data = body.get("data")
    data: Mapping[str, Any] = raw_data if isinstance(raw_data, Mapping) else {}
    token = body.get("access_token") or body.get("auth_token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        raise WireFormatError("login answer carries no access_token")
    refresh = body.get("refresh_token")
    raw_user = body.get("user")
    user: Mapping[str, Any] = raw_user if isinstance(raw_user, Mapping) else {}
    account = user.get("account_id") or body.get("account_id") or data.get("account_id")
    return (
        token,
        refresh if isinstance(refresh, str) else None,
        str(account) if account else None,
    )


# --- campaigns with counts -------------------------------------------------------------------
def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _status_counts(pairs: Any, campaign_id: str) -> dict[str, int]:
    """Counts by status. A repeated status is summed: the document's example repeats
    ``success`` and its ``total_leads`` (44 = 4 + 10 + 5 + 25) is the sum of every entry."""
    counts: dict[str, int] = {}
    items = [p for p in pairs if isinstance(p, tuple)] if isinstance(pairs, list) else []
    for status, raw in items:
        n = _as_int(raw)
        if n is None:
            log.warning(
                "campaign %s: count for status %r is not a number: %r", campaign_id, status, raw
            )
            continue
        if status in counts:
            log.warning(
                "campaign %s: the counts answer repeats status %r; the counts are added",
                campaign_id,
                status,
            )
        counts[status] = counts.get(status, 0) + n
    return counts


def _campaign_from_pairs(key: str | None, entry: Any) -> Campaign | None:
    if not isinstance(entry, list) or not all(isinstance(p, tuple) for p in entry):
        log.warning("campaigns answer: entry %r is not an object; skipped", key)
        return None
    fields = dict(entry)  # last repeat wins for plain fields
    ident: str | None = key
    for id_field in CAMPAIGN_ID_FIELDS:
        if not ident and isinstance(fields.get(id_field), str | int):
            ident = str(fields[id_field])
    if not ident:
        log.warning("campaigns answer: an entry without an id was skipped")
        return None
    name = fields.get("name")
    status = fields.get("status")
    return Campaign(
        id=ident,
        name=str(name) if name is not None else ident,
        status=str(status) if status is not None else None,
        total_leads=_as_int(fields.get("total_leads")),
        leads_by_status=_status_counts(fields.get("leads_by_status", []), ident),
    )


def parse_campaigns(text: str) -> list[Campaign]:
    """Campaigns from the counts endpoint's raw JSON text, in the answer's order.

    Accepts the documented object keyed by campaign id, a Kazoo envelope around it, or a list
    of entries carrying ``id`` / ``campaign_id`` / ``campaing_id``. Raises WireFormatError.
    """
    try:  # objects as lists of (key, value) pairs: a repeated key survives
        body = json.loads(text, object_pairs_hook=list)
    except ValueError as err:
        raise WireFormatError(f"answer is not JSON: {err}") from None
    if isinstance(body, list) and body and all(isinstance(p, tuple) for p in body):
        keys = {k for k, _ in body}
        if "data" in keys and keys <= ENVELOPE_KEYS:
            body = dict(body)["data"]
    if isinstance(body, list) and all(isinstance(p, tuple) for p in body):
        entries: list[tuple[str | None, Any]] = [(str(k), v) for k, v in body]
    elif isinstance(body, list):
        entries = [(None, v) for v in body]
    else:
        raise WireFormatError("campaigns answer is neither an object keyed by id nor a list")
    by_id: dict[str, Campaign] = {}  # a repeated id keeps its first place, takes the last entry
    for key, entry in entries:
        campaign = _campaign_from_pairs(key, entry)
        if campaign is None:
            continue
        if campaign.id in by_id:
            log.warning("campaigns answer repeats campaign id %s; the last entry wins", campaign.id)
        by_id[campaign.id] = campaign
    return list(by_id.values())


# --- pages -----------------------------------------------------------------------------------
def page_key_text(key: Any) -> str | None:
    """The page key as the text to send back, or None when it marks the last page.

    Absent, null, ``""`` (and an empty list/object) mean "last page". Kazoo keys may be JSON
    arrays or numbers; those are sent back as compact JSON / decimal text.
    """
    if key is None or key == "" or key == [] or key == {}:
        return None
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        raise WireFormatError(f"next_start_key is a boolean ({key!r})")
    if isinstance(key, int | float):
        return str(key)
    return json.dumps(key, separators=(",", ":"), sort_keys=True)


#: The page key as the last member of the page's top-level object: ``,"next_start_key": V}``
#: at the very end of the bytes, V a string without escapes, a number, or null. The closing
#: brace at the end is the top-level object's, so the member before it is a top-level one; the
#: ``,`` or ``{`` before the key's quote proves that quote is not inside a string.
_TAIL_KEY = re.compile(
    rb'[,{]\s*"next_start_key"\s*:\s*'
    rb'("[^"\\]*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|null)\s*\}\s*\Z'
)
#: Bytes of a page's tail searched for the key (a key longer than this is parsed the usual way).
_TAIL_BYTES = 512


def next_key_hint(content: bytes) -> tuple[bool, str | None]:
    """The next page key read from the tail of a listing page's raw bytes, without parsing the
    page: ``(True, key)`` when the page ends with its ``next_start_key`` member (``key`` None on
    the last page, as :func:`page_key_text`), ``(False, None)`` when the tail does not say
    (the key elsewhere, escaped, a JSON array…): then only the parsed page tells."""
    match = _TAIL_KEY.search(content, max(0, len(content) - _TAIL_BYTES))
    if match is None:
        return False, None
    try:
        return True, page_key_text(json.loads(match.group(1)))
    except (ValueError, WireFormatError):
        return False, None


def parse_leads_page(body: Any) -> tuple[list[dict[str, Any]], str | None]:
    """``(leads, next_key)`` of one leads page (``{data: [...], next_start_key}``)."""
    if isinstance(body, list):
        data, key = body, None
    elif isinstance(body, Mapping):
        data = body.get("data", [])
        key = page_key_text(body.get("next_start_key"))
    else:
        raise WireFormatError("leads page is neither an object nor a list")
    if data is None:
        data = []
    if not isinstance(data, list):
        raise WireFormatError("leads page field 'data' is not a list")
    leads = [lead for lead in data if isinstance(lead, dict)]
    if len(leads) != len(data):
        log.warning(
            "leads page: %d entries that are not objects were skipped", len(data) - len(leads)
        )
    return leads, key


def parse_list(body: Any, what: str) -> list[dict[str, Any]]:
    """A list of objects (queues, activity events), with or without a ``data`` envelope."""
    if isinstance(body, Mapping) and "data" in body and set(body) <= ENVELOPE_KEYS:
        body = body["data"]  # Kazoo's {"data": …, "status": …} envelope
    if body is None:
        return []
    if not isinstance(body, list):
        raise WireFormatError(f"{what} answer is not a list")
    return [item for item in body if isinstance(item, dict)]


# --- errors ----------------------------------------------------------------------------------
def server_message(text: str, reason: str = "") -> str:
    """The server's own words from an error answer: its JSON ``message``/``error`` field, else
    its text (shortened), else the HTTP reason phrase."""
    text = (text or "").strip()
    message = ""
    if text:
        try:
            body = json.loads(text)
        except ValueError:
            message = text
        else:
            message = _message_from_json(body) or text
    message = " ".join(message.split())
    if len(message) > MAX_SERVER_MESSAGE_CHARS:
        message = message[: MAX_SERVER_MESSAGE_CHARS - 1] + "…"
    return message or reason


def _message_from_json(body: Any) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, Mapping):
        message = next(
            (
                body[key]
                for key in ("message", "error_message", "error", "description")
                if isinstance(body.get(key), str) and body[key]
            ),
            "",
        )
        detail = body.get("detail")
        if isinstance(detail, str) and detail and detail != message:
            return f"{message} ({detail})" if message else detail
        if message:
            return message
        data = body.get("data")
        if isinstance(data, Mapping | str):
            return _message_from_json(data)
    return ""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN → None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


# --- times (``--since``/``--until``) -------------------------------------------------------
# The activity endpoint takes seconds; its own example sends milliseconds (docs/design.md),
# so both are accepted, as are ISO dates and "how long ago" durations.
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
