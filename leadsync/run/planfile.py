"""The saved plan (``leadsync plan --out plan.json``) and the registry of applied plans.

A plan file is JSON, versioned (``format`` = ``"leadsync-plan"``, ``version`` =
:data:`PLAN_VERSION`), written atomically. Its ``plan_id`` is the SHA-256 of the canonical JSON
of everything else in the file, so :func:`load_plan` detects any edit. Layout (version 1)::

    format, version, plan_id, created_at (ISO 8601, UTC), leadsync_version,
    sources        [SourceInfo as objects, with sha256 of each input file]
    settings       the effective settings, secrets masked
    fingerprints   {campaign id: plan.fingerprint_remote(...) at plan time}
    policy         PlanPolicy.as_dict()
    campaigns      {campaign id: name}
    counts, status_before, unknown_statuses, remote_duplicates, messages   (as in Plan)
    meta           free JSON the caller adds (e.g. row counts, guard overrides)
    operations     [one object per models.Operation, one per line]
    kept, drift, skipped   tables: {"columns": [...], "dtypes": [...], "rows": [[...], ...]}

:func:`is_applied` / :func:`mark_applied` keep a directory of applied plan ids so that
``apply`` refuses to apply one plan twice; ``mark_applied`` is atomic and exclusive, so call it
right before the first write (a half-applied plan must not be applied again either: its adds
would be sent twice).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..errors import InputError, RefusedError
from ..models import Operation, OpKind, SourceInfo
from ..sync.plan import (
    KEPT_COLUMNS,
    PLAN_COUNT_KEYS,
    PLAN_DRIFT_COLUMNS,
    SKIPPED_COLUMNS,
    Plan,
    PlanPolicy,
    operation_waves,
)

PLAN_FORMAT = "leadsync-plan"
PLAN_VERSION = 1
#: Top-level keys every version-1 plan file has.
REQUIRED_KEYS: tuple[str, ...] = (
    "format",
    "version",
    "plan_id",
    "created_at",
    "leadsync_version",
    "sources",
    "settings",
    "fingerprints",
    "policy",
    "campaigns",
    "counts",
    "status_before",
    "unknown_statuses",
    "remote_duplicates",
    "messages",
    "meta",
    "operations",
    "kept",
    "drift",
    "skipped",
)
_TABLES: dict[str, tuple[str, ...]] = {
    "kept": KEPT_COLUMNS,
    "drift": PLAN_DRIFT_COLUMNS,
    "skipped": SKIPPED_COLUMNS,
}
#: Column dtypes a saved table may declare (anything else is a corrupt file).
_DTYPES = frozenset({"string", "Int64", "int64", "bool", "boolean"})
#: Top-level keys written one item per line (large lists), the rest pretty-printed.
_ONE_PER_LINE = ("operations",)
_PLAN_ID = re.compile(r"^[0-9a-f]{64}$")
_OP_FIELDS = ("op_id", "kind", "campaign_id", "campaign", "key", "reason")
#: The last keys of the content, built by _op_to_json/_table_to_json from JSON types only.
_BUILT_AS_JSON = ("operations", "kept", "drift", "skipped")
#: One compact encoder for the many small dumps of a plan (building one per call cost more
#: than the encoding).
_COMPACT = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """A plan read back from its file, checked against its ``plan_id``."""

    plan_id: str
    version: int
    created_at: datetime
    leadsync_version: str
    plan: Plan  # fingerprints included
    sources: list[SourceInfo]
    settings: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def fingerprints(self) -> dict[str, str]:
        return self.plan.fingerprints

    @property
    def policy(self) -> PlanPolicy:
        return self.plan.policy


# --- saving ----------------------------------------------------------------------------------
def save_plan(
    plan: Plan,
    path: Path,
    *,
    sources: list[SourceInfo],
    settings_redacted: Mapping[str, Any],
    fingerprints: Mapping[str, str],
    created_at: datetime,
    meta: Mapping[str, Any] | None = None,
) -> str:
    """Write ``plan`` to ``path`` atomically (temp file + rename) and return its ``plan_id``.

    ``settings_redacted`` must already have its secrets masked (``Settings.redacted()``);
    ``created_at`` must be timezone-aware. ``fingerprints`` (campaign id → hash) are stored and
    also set on ``plan.fingerprints``. Raises ValueError on a naive ``created_at`` or data that
    is not JSON-able, OSError when the file cannot be written.
    """
    if created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    plan.fingerprints = dict(fingerprints)
    content: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "version": PLAN_VERSION,
        "created_at": created_at.astimezone(UTC).isoformat(),
        "leadsync_version": __version__,
        "sources": [asdict(s) for s in sources],
        "settings": dict(settings_redacted),
        "fingerprints": dict(sorted(fingerprints.items())),
        "policy": plan.policy.as_dict(),
        "campaigns": plan.campaigns,
        "counts": plan.counts,
        "status_before": plan.status_before,
        "unknown_statuses": plan.unknown_statuses,
        "remote_duplicates": plan.remote_duplicates,
        "messages": plan.messages,
        "meta": dict(meta or {}),
        "operations": [_op_to_json(op) for op in plan.operations],
        "kept": _table_to_json(plan.kept),
        "drift": _table_to_json(plan.drift),
        "skipped": _table_to_json(plan.skipped),
    }
    # Normalize through JSON once so what is hashed is exactly what load_plan will read
    # (tuples become lists…); key order is kept for reading, the hash sorts keys. The
    # operations and tables (most of a large plan) are built from JSON types with text keys
    # only, so their JSON is the same before and after: they skip the round trip (seconds at
    # 100k rows).
    large = {key: content.pop(key) for key in _BUILT_AS_JSON}
    content = json.loads(_COMPACT.encode(content)) | large
    plan_id = _content_id(content)
    content = {"format": PLAN_FORMAT, "version": PLAN_VERSION, "plan_id": plan_id, **content}
    _write_atomic(path, _render(content))
    return plan_id


def _op_to_json(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "op_id": op.op_id,
        "kind": op.kind.value,
        "campaign_id": op.campaign_id,
        "campaign": op.campaign,
        "key": op.key,
        "reason": op.reason,
    }
    for name in ("lead_id", "status", "body", "after"):
        value = getattr(op, name)
        if value is not None:
            out[name] = value
    if op.source is not None:
        out["source"] = list(op.source)
    return out


def _table_to_json(frame: pd.DataFrame) -> dict[str, Any]:
    dtypes = [_dtype_name(frame[c]) for c in frame.columns]
    columns = [frame[c].to_numpy(dtype=object, na_value=None).tolist() for c in frame.columns]
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    return {"columns": list(frame.columns), "dtypes": dtypes, "rows": rows}


def _dtype_name(col: pd.Series) -> str:
    dtype = col.dtype
    if isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype):
        return "string"
    if isinstance(dtype, pd.BooleanDtype):
        return "boolean"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "Int64"
    raise ValueError(f"column {col.name!r} has dtype {dtype}, which a plan file cannot hold")


def _canonical(content: Mapping[str, Any]) -> str:
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _content_id(content: Mapping[str, Any]) -> str:
    body = {k: v for k, v in content.items() if k != "plan_id"}
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


def _render(content: Mapping[str, Any]) -> str:
    """Readable JSON: small keys pretty-printed, each operation and table row on one line."""

    compact = _COMPACT.encode

    parts: list[str] = []
    for key, value in content.items():
        if key in _ONE_PER_LINE:
            inner = ",\n".join("  " + compact(v) for v in value)
            text = "[\n" + inner + "\n ]" if value else "[]"
        elif key in _TABLES:
            rows = ",\n".join("  " + compact(r) for r in value["rows"])
            text = (
                "{" + f'"columns": {compact(value["columns"])}, '
                f'"dtypes": {compact(value["dtypes"])}, "rows": '
                + ("[\n" + rows + "\n ]" if value["rows"] else "[]")
                + "}"
            )
        else:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=2).replace(
                "\n", "\n "
            )
        parts.append(f" {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable where the platform allows it (not on Windows)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# --- loading ---------------------------------------------------------------------------------
def load_plan(path: Path) -> SavedPlan:
    """Read and check a plan file.

    Raises InputError (exit 2) naming the file when it cannot be read, is not JSON, is not a
    leadsync plan, has another format version, lacks a key, holds malformed data, or was edited
    after it was saved (its content no longer hashes to its ``plan_id``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"plan file {path} does not exist", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"plan file {path} cannot be read: {err}", path=str(path)) from None
    try:
        content = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"plan file {path} is not valid JSON (line {err.lineno}, column {err.colno}): "
            f"{err.msg}",
            path=str(path),
        ) from None
    if not isinstance(content, dict) or content.get("format") != PLAN_FORMAT:
        raise InputError(f"{path} is not a leadsync plan file", path=str(path))
    if content.get("version") != PLAN_VERSION:
        raise InputError(
            f"plan file {path} has format version {content.get('version')!r}; this leadsync "
            f"({__version__}) reads version {PLAN_VERSION}: make the plan again",
            path=str(path),
        )
    missing = [k for k in REQUIRED_KEYS if k not in content]
    if missing:
        raise InputError(
            f"plan file {path} is incomplete: missing {', '.join(missing)}", path=str(path)
        )
    plan_id = content["plan_id"]
    if not isinstance(plan_id, str) or not _PLAN_ID.match(plan_id):
        raise InputError(f"plan file {path} has a malformed plan_id", path=str(path))
    if _content_id(content) != plan_id:
        raise InputError(
            f"plan file {path} was changed after it was saved (its content no longer matches "
            f"plan_id {plan_id[:12]}…); make a new plan with `leadsync plan` instead of "
            "editing it",
            path=str(path),
        )
    try:
        return _from_content(content, path)
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"plan file {path} holds malformed data: {err}", path=str(path)) from None


def _from_content(content: dict[str, Any], path: Path) -> SavedPlan:
    policy = PlanPolicy.from_dict(content["policy"])
    operations = [_op_from_json(o) for o in content["operations"]]
    ids = [op.op_id for op in operations]
    if ids != list(range(1, len(ids) + 1)):
        raise ValueError("operation ids are not 1..N in order")
    counts = {
        str(cid): {k: int(c[k]) for k in PLAN_COUNT_KEYS} for cid, c in content["counts"].items()
    }
    plan = Plan(
        operations=operations,
        counts=counts,
        kept=_table_from_json(content["kept"], _TABLES["kept"], "kept"),
        drift=_table_from_json(content["drift"], _TABLES["drift"], "drift"),
        skipped=_table_from_json(content["skipped"], _TABLES["skipped"], "skipped"),
        campaigns={str(k): str(v) for k, v in content["campaigns"].items()},
        policy=policy,
        status_before=_nested_counts(content["status_before"]),
        unknown_statuses=_nested_counts(content["unknown_statuses"]),
        remote_duplicates={str(k): int(v) for k, v in content["remote_duplicates"].items()},
        messages=[str(m) for m in content["messages"]],
        fingerprints={str(k): str(v) for k, v in content["fingerprints"].items()},
    )
    operation_waves(plan.operations)  # raises ValueError on a broken dependency
    return SavedPlan(
        plan_id=content["plan_id"],
        version=content["version"],
        created_at=datetime.fromisoformat(content["created_at"]),
        leadsync_version=str(content["leadsync_version"]),
        plan=plan,
        sources=[SourceInfo(**s) for s in content["sources"]],
        settings=dict(content["settings"]),
        meta=dict(content["meta"]),
        path=path,
    )


def _op_from_json(data: Mapping[str, Any]) -> Operation:
    missing = [f for f in _OP_FIELDS if f not in data]
    if missing:
        raise ValueError(f"an operation lacks {', '.join(missing)}")
    source = data.get("source")
    return Operation(
        op_id=int(data["op_id"]),
        kind=OpKind(data["kind"]),
        campaign_id=str(data["campaign_id"]),
        campaign=str(data["campaign"]),
        key=str(data["key"]),
        reason=str(data["reason"]),
        lead_id=data.get("lead_id"),
        status=data.get("status"),
        body=dict(data["body"]) if data.get("body") is not None else None,
        source=(str(source[0]), source[1], int(source[2])) if source is not None else None,
        after=int(data["after"]) if data.get("after") is not None else None,
    )


def _table_from_json(data: Mapping[str, Any], expected: tuple[str, ...], name: str) -> pd.DataFrame:
    columns, dtypes, rows = data["columns"], data["dtypes"], data["rows"]
    if tuple(columns) != expected:
        raise ValueError(f"table {name} has columns {columns}, expected {list(expected)}")
    if len(dtypes) != len(columns) or not set(dtypes) <= _DTYPES:
        raise ValueError(f"table {name} has bad dtypes {dtypes}")
    if any(len(r) != len(columns) for r in rows):
        raise ValueError(f"table {name} has a row of the wrong length")
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    return pd.DataFrame(
        {c: pd.array(list(v), dtype=t) for c, t, v in zip(columns, dtypes, values, strict=True)}
    )


def _nested_counts(data: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    return {str(k): {str(s): int(n) for s, n in v.items()} for k, v in data.items()}


# --- the registry of applied plans -----------------------------------------------------------
def _record_path(plan_id: str, registry_dir: Path) -> Path:
    if not _PLAN_ID.match(plan_id):
        raise ValueError(f"not a plan id: {plan_id!r}")
    return Path(registry_dir) / f"{plan_id}.json"


def is_applied(plan_id: str, registry_dir: Path) -> bool:
    """True when ``plan_id`` was marked applied in ``registry_dir``."""
    return _record_path(plan_id, registry_dir).exists()


def mark_applied(
    plan_id: str,
    registry_dir: Path,
    *,
    applied_at: datetime,
    detail: Mapping[str, Any] | None = None,
) -> Path:
    """Record ``plan_id`` as applied, atomically and exclusively; returns the record's path.

    The record (JSON: plan_id, applied_at, detail) is written to a temp file and hard-linked
    into place, which fails if a record exists: of two concurrent applies only one succeeds.
    Raises RefusedError (exit 3) naming when the plan was applied if it already was, ValueError
    on a malformed id, OSError when the directory cannot be written.
    """
    record = _record_path(plan_id, registry_dir)
    record.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(
        {
            "plan_id": plan_id,
            "applied_at": applied_at.astimezone(UTC).isoformat(),
            "detail": dict(detail or {}),
        },
        ensure_ascii=False,
        indent=2,
    )
    fd, tmp = tempfile.mkstemp(prefix=f".{plan_id}.", suffix=".tmp", dir=record.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, record)
        except FileExistsError:
            raise _already_applied(plan_id, record) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(record.parent)
    return record


def _already_applied(plan_id: str, record: Path) -> RefusedError:
    when = "at an unknown time"
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        when = "at " + json.loads(record.read_text(encoding="utf-8"))["applied_at"]
    return RefusedError(
        f"plan {plan_id[:12]}… was already applied {when} (see {record}); a plan is applied "
        "once: make a new plan from the current state",
        guard="plan-applied",
    )
