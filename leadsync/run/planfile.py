"""The saved plan (``leadsync plan --out plan.json``) and the registry of applied plans.

A plan file is JSON, versioned (``format`` = ``"leadsync-plan"``, ``version`` =
:data:`PLAN_VERSION`), written atomically and read back through the pydantic model
:class:`PlanFile`. Its ``plan_id`` is the SHA-256 of the canonical JSON
of everything else in the file, so :func:`load_plan` detects any edit. Layout (version 1)::

    format, version, plan_id, created_at (ISO 8601, UTC), leadsync_version,
    sources        [SourceInfo as objects, with sha256 of each input file]
    settings       the effective settings, secrets masked
    fingerprints   {campaign id: plan.fingerprint_remote(...) at plan time}
    policy         the PlanPolicy fields (delete_statuses sorted), then add_status
    campaigns      {campaign id: name}
    counts, status_before, unknown_statuses, remote_duplicates, messages   (as in Plan)
    meta           free JSON the caller adds (e.g. row counts, guard overrides)
    operations     [one object per models.Operation, one per line]
    kept, drift, skipped   tables: {"columns": [...], "dtypes": [...], "rows": [[...], ...]}

A caller that saves a plan and reads it back at once (the console) wraps both in
:func:`read_back`, which spares parsing and hashing again a file still as this process wrote it.

:func:`is_applied` / :func:`mark_applied` keep a directory of applied plan ids so that
``apply`` refuses to apply one plan twice; ``mark_applied`` is atomic and exclusive, so call it
right before the first write (a half-applied plan must not be applied again either: its adds
would be sent twice).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from .. import __version__
from ..atomic import fsync_dir, write_atomic
from ..errors import InputError, RefusedError
from ..models import Operation, OpKind, SourceInfo
from ..sync.plan import (
    DEFAULT_ADD_STATUS,
    KEPT_COLUMNS,
    PLAN_DRIFT_COLUMNS,
    SKIPPED_COLUMNS,
    Plan,
    PlanPolicy,
    operation_waves,
)

PLAN_FORMAT = "leadsync-plan"
PLAN_VERSION = 1
_TABLES: dict[str, tuple[str, ...]] = {
    "kept": KEPT_COLUMNS,
    "drift": PLAN_DRIFT_COLUMNS,
    "skipped": SKIPPED_COLUMNS,
}
#: The last keys of the content, built by _op_to_json/_table_to_json from JSON types only.
_BUILT_AS_JSON = ("operations", "kept", "drift", "skipped")
#: One compact encoder for the many small dumps of a plan (building one per call cost more
#: than the encoding).
_COMPACT = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_KIND_VALUES = {kind: kind.value for kind in OpKind}
_PLAN_ID_PATTERN = r"^[0-9a-f]{64}$"
_PLAN_ID = re.compile(_PLAN_ID_PATTERN)
Counts = dict[str, dict[str, int]]
#: The dtypes a plan table's column may have (the plan's own are string and Int64).
DtypeName = Literal["string", "Int64", "int64", "bool", "boolean"]
#: Inside :func:`read_back`: what save_plan wrote, by path (the file's SHA-256, its content).
_WRITTEN: ContextVar[dict[Path, tuple[bytes, dict[str, Any]]] | None] = ContextVar(
    "leadsync_plans_written", default=None
)


# --- the file's content, as pydantic models ---------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SavedPolicy(PlanPolicy):
    """The policy as a plan file holds it: ``add_status`` (always "new", the status the API
    gives an added lead) was a policy field when version 1 was written."""

    add_status: str = DEFAULT_ADD_STATUS


class TableData(_Strict):
    """A table of the plan (kept, drift, skipped): columns, their dtypes, the rows."""

    columns: list[str]
    dtypes: list[DtypeName]
    rows: list[list[Any]]


class PlanFile(_Strict):
    """Everything a plan file holds; ``plan_id`` hashes all the rest."""

    format: Literal["leadsync-plan"]
    version: Literal[1]
    plan_id: str = Field(pattern=_PLAN_ID_PATTERN)
    created_at: AwareDatetime
    leadsync_version: str
    sources: list[SourceInfo]
    settings: dict[str, Any]
    fingerprints: dict[str, str]
    policy: SavedPolicy
    campaigns: dict[str, str]
    counts: Counts
    status_before: Counts
    unknown_statuses: Counts
    remote_duplicates: dict[str, int]
    messages: list[str]
    meta: dict[str, Any]
    #: Validated straight into the frozen dataclass (the model's config applies to it: extra
    #: keys refused); a model per operation, dumped and rebuilt, is far slower on large plans.
    operations: list[Operation]
    kept: TableData
    drift: TableData
    skipped: TableData


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


# --- pausing the collector ------------------------------------------------------------------
@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a block that builds many objects and no cycles
    (a large plan's operations): its full collections would cost more than the work. The state
    it had is restored at the end (across threads, the first pause to end may resume it early,
    which costs speed only)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- saving ----------------------------------------------------------------------------------
@paused_gc()
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
        "created_at": created_at.astimezone(UTC).isoformat(),
        "leadsync_version": __version__,
        "sources": [asdict(s) for s in sources],
        "settings": dict(settings_redacted),
        "fingerprints": dict(sorted(fingerprints.items())),
        "policy": _policy_to_json(plan.policy),
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
    # only, so their JSON is the same before and after: they skip the round trip (slow on
    # large plans). load_plan checks them against Operation / TableData.
    large = {key: content.pop(key) for key in _BUILT_AS_JSON}
    content = json.loads(_COMPACT.encode(content)) | large
    content = {"format": PLAN_FORMAT, "version": PLAN_VERSION, **content}
    plan_id = _content_id(content)
    content = {"format": PLAN_FORMAT, "version": PLAN_VERSION, "plan_id": plan_id} | content
    data = _render(content).encode("utf-8")
    write_atomic(path, data)
    written = _WRITTEN.get()
    if written is not None:
        written[_written_key(path)] = (hashlib.sha256(data).digest(), content)
    return plan_id


def _op_to_json(op: Operation) -> dict[str, Any]:
    """One operation as JSON types (the fields of Operation, None fields left out)."""
    out: dict[str, Any] = {
        "op_id": op.op_id,
        "kind": _KIND_VALUES[op.kind],
        "campaign_id": op.campaign_id,
        "campaign": op.campaign,
        "key": op.key,
        "reason": op.reason,
    }
    if op.lead_id is not None:
        out["lead_id"] = op.lead_id
    if op.status is not None:
        out["status"] = op.status
    if op.body is not None:
        out["body"] = dict(op.body)  # a copy: read_back may hold it after the save
    if op.after is not None:
        out["after"] = op.after
    if op.source is not None:
        out["source"] = list(op.source)
    return out


def _policy_to_json(policy: PlanPolicy) -> dict[str, Any]:
    data = policy.model_dump(include=set(PlanPolicy.model_fields))  # not the other [sync] keys
    data["delete_statuses"] = sorted(data["delete_statuses"])
    return data | {"add_status": DEFAULT_ADD_STATUS}


def _table_to_json(frame: pd.DataFrame) -> dict[str, Any]:
    dtypes = [str(dtype) for dtype in frame.dtypes]
    if not set(dtypes) <= set(get_args(DtypeName)):
        raise ValueError(f"a plan file cannot hold a table of dtypes {dtypes}")
    columns = [frame[c].to_numpy(dtype=object, na_value=None).tolist() for c in frame.columns]
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
    return {"columns": list(frame.columns), "dtypes": dtypes, "rows": rows}


def _content_id(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of everything but ``plan_id``."""
    body = {k: v for k, v in content.items() if k != "plan_id"}
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _render(content: Mapping[str, Any]) -> str:
    """Readable JSON: small keys pretty-printed, each operation and table row on one line."""

    compact = _COMPACT.encode
    parts: list[str] = []
    for key, value in content.items():
        if key == "operations":
            text = _lines(value, "}, {")
        elif key in _TABLES:
            text = (
                f'{{"columns": {compact(value["columns"])}, '
                f'"dtypes": {compact(value["dtypes"])}, "rows": {_lines(value["rows"], "], [")}}}'
            )
        else:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=2)
            text = text.replace("\n", "\n ")
        parts.append(f" {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _lines(items: list[Any], between: str) -> str:
    """``items`` (all objects, or all arrays) as a JSON array, one compact item a line.

    The list is encoded in one call (one call per item cost more than the encoding) and cut
    where one item meets the next: ``between`` (``"}, {"`` for objects, ``"], ["`` for arrays).
    When that text occurs exactly once per pair of items, no string holds it and every
    occurrence is such a meeting; otherwise (a value holding it) the items are encoded one by
    one. The same text either way."""
    if not items:
        return "[]"
    whole = _COMPACT.encode(items)[1:-1]
    if whole.count(between) == len(items) - 1:
        return "[\n  " + whole.replace(between, between[0] + ",\n  " + between[-1]) + "\n ]"
    return "[\n" + ",\n".join("  " + _COMPACT.encode(v) for v in items) + "\n ]"


# --- loading ---------------------------------------------------------------------------------
@paused_gc()  # a large plan is a million small objects, none in a cycle
def load_plan(path: Path) -> SavedPlan:
    """Read and check a plan file.

    Raises InputError (exit 2) naming the file when it cannot be read, is not JSON, is not a
    leadsync plan, has another format version, lacks a key, holds malformed data, or was edited
    after it was saved (its content no longer hashes to its ``plan_id``).
    """
    path = Path(path)

    def bad(why: str) -> InputError:
        return InputError(f"plan file {path} {why}", path=str(path))

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise bad("does not exist") from None
    except OSError as err:
        raise bad(f"cannot be read: {err}") from None
    written = _WRITTEN.get()
    mine = written.pop(_written_key(path), None) if written is not None else None
    if mine is not None and mine[0] != hashlib.sha256(data).digest():
        mine = None  # changed since it was written: read as any other file
    if mine is not None:
        # Byte for byte what save_plan wrote from ``content`` (and hashed into its plan_id) in
        # this read_back block: parsing the bytes and hashing them again gives back the same.
        content: Any = mine[1]
    else:
        content = _parse(data, bad)
    if not isinstance(content, dict) or content.get("format") != PLAN_FORMAT:
        raise InputError(f"{path} is not a leadsync plan file", path=str(path))
    if content.get("version") != PLAN_VERSION:
        raise bad(
            f"has format version {content.get('version')!r}; this leadsync ({__version__}) "
            f"reads version {PLAN_VERSION}: make the plan again"
        )
    missing = [k for k in PlanFile.model_fields if k not in content]
    if missing:
        raise bad(f"is incomplete: missing {', '.join(missing)}")
    plan_id = content["plan_id"]
    if not isinstance(plan_id, str) or not _PLAN_ID.match(plan_id):
        raise bad("has a malformed plan_id")
    if mine is None and _content_id(content) != plan_id:
        raise bad(
            f"was changed after it was saved (its content no longer matches plan_id "
            f"{plan_id[:12]}…); make a new plan with `leadsync plan` instead of editing it"
        )
    try:
        return _saved_plan(PlanFile.model_validate(content), path)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise bad(
            f"holds malformed data: {where}: {first['msg']} (got {first['input']!r})"
        ) from None
    except (KeyError, TypeError, ValueError) as err:
        raise bad(f"holds malformed data: {err}") from None


def _parse(data: bytes, bad: Callable[[str], InputError]) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise bad(f"cannot be read: {err}") from None
    except json.JSONDecodeError as err:
        raise bad(f"is not valid JSON (line {err.lineno}, column {err.colno}): {err.msg}") from None


def _saved_plan(data: PlanFile, path: Path) -> SavedPlan:
    operations = data.operations
    if [op.op_id for op in operations] != list(range(1, len(operations) + 1)):
        raise ValueError("operation ids are not 1..N in order")
    plan = Plan(
        operations=operations,
        counts=data.counts,
        kept=_table_from_json(data.kept, "kept"),
        drift=_table_from_json(data.drift, "drift"),
        skipped=_table_from_json(data.skipped, "skipped"),
        campaigns=data.campaigns,
        policy=PlanPolicy(**data.policy.model_dump(exclude={"add_status"})),
        status_before=data.status_before,
        unknown_statuses=data.unknown_statuses,
        remote_duplicates=data.remote_duplicates,
        messages=data.messages,
        fingerprints=data.fingerprints,
    )
    operation_waves(plan.operations)  # raises ValueError on a broken dependency
    return SavedPlan(
        plan_id=data.plan_id,
        version=data.version,
        created_at=data.created_at,
        leadsync_version=data.leadsync_version,
        plan=plan,
        sources=data.sources,
        settings=data.settings,
        meta=data.meta,
        path=path,
    )


def _table_from_json(data: TableData, name: str) -> pd.DataFrame:
    expected = _TABLES[name]
    if tuple(data.columns) != expected:
        raise ValueError(f"table {name} has columns {data.columns}, expected {list(expected)}")
    if len(data.dtypes) != len(data.columns) or any(len(r) != len(data.columns) for r in data.rows):
        raise ValueError(f"table {name} has a row or dtype list of the wrong length")
    values = list(zip(*data.rows, strict=True)) if data.rows else [()] * len(data.columns)
    return pd.DataFrame(
        {
            c: pd.array(list(v), dtype=t)
            for c, t, v in zip(data.columns, data.dtypes, values, strict=True)
        }
    )


# --- reading back a plan just saved ---------------------------------------------------------
@contextlib.contextmanager
def read_back() -> Iterator[None]:
    """Within this block (in this thread or task), :func:`load_plan` of a plan that
    :func:`save_plan` wrote in it, still byte for byte as written (its SHA-256 is compared),
    checks and returns what was written instead of parsing and hashing the file again. A file
    changed in between is read from disk, and refused, as always."""
    token = _WRITTEN.set({})
    try:
        yield
    finally:
        _WRITTEN.reset(token)


def _written_key(path: Path) -> Path:
    return Path(os.path.abspath(path))


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
    fsync_dir(record.parent)
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
