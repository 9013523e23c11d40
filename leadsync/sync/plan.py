"""Pure: differences + policy → an ordered list of operations; the safety guards.

:func:`build_plan` turns one :class:`~leadsync.sync.diff.CampaignDiff` per campaign into a
:class:`Plan`: the API calls to make (``models.Operation``), the remote leads it keeps and why,
the drift it found, the adds it skipped, and per-campaign counts. :func:`check_guards` then
refuses plans that would do too much damage (docs/design.md, 'Safety'). :func:`fingerprint_remote` hashes a
campaign's leads so a saved plan can tell when the campaign changed.

How dependent calls are expressed (the apply stage relies on this):

- ``Operation.after`` names the ``op_id`` (always smaller) that must have succeeded before an
  operation may start; when that one failed or was skipped, the dependent one is skipped.
  :func:`operation_waves` layers the operations accordingly (at most three waves).
- **Drift replace** is ``DELETE`` (reason ``drift-replace``) → ``ADD`` (``after`` = the delete)
  [→ ``SET_STATUS``, see below]: the add never runs unless the old lead is gone, so a failed
  delete cannot leave two leads with one number.
- **An added lead that must not stay at the default status** (:data:`DEFAULT_ADD_STATUS`,
  "new"): the add body never carries a status (the API takes none), and the add returns no id,
  so the plan holds a follow-up ``SET_STATUS`` op with ``lead_id=None``, ``status`` = the wanted
  status, ``after`` = the ADD, reason ``status-after-add``. The apply stage learns the id by
  re-reading the campaign and finding the lead whose key is ``Operation.key``.

Removals (``DELETE`` ops, and ``SET_STATUS`` ops with reason ``absent-from-file`` or
``remote-duplicate`` when ``remove_action = "status:<s>"``) are what the delete guard counts;
:func:`is_removal` tells them apart.
"""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import PlanSettings
from ..errors import InputError, RefusedError
from ..models import INT_FIELDS, LEAD_FIELDS, LISTED_FIELDS, Campaign, Count, Operation, OpKind
from .diff import DRIFT_COLUMNS, CampaignDiff, arrow_text, as_int64, require_columns

#: The status the API gives a lead it adds (the add body carries none).
DEFAULT_ADD_STATUS = "new"

# Operation.reason values.
REASON_MISSING = "not-in-campaign"
REASON_STATUS = "status-differs"
REASON_ABSENT = "absent-from-file"
REASON_REPLACE = "drift-replace"
REASON_DUPLICATE = "remote-duplicate"
REASON_STATUS_AFTER_ADD = "status-after-add"
#: Reasons of a SET_STATUS op that is a soft removal.
REMOVAL_REASONS = frozenset({REASON_ABSENT, REASON_DUPLICATE})

# Plan.kept reasons: remote leads the plan leaves in place that the file does not list.
KEPT_REMOTE_ONLY = "remote-only"  # add/upsert modes never remove
KEPT_STATUS = "status-not-deletable"  # mirror: status not in delete_statuses
KEPT_ALREADY_REMOVED = "already-soft-removed"  # already at the soft-removal status
KEPT_DUPLICATE = "remote-duplicate"  # a non-survivor copy, dedupe off (or not mirror)
KEPT_DUPLICATE_STATUS = "duplicate-status-not-deletable"  # dedupe on, status not deletable

# Plan.drift actions.
DRIFT_REPORTED = "reported"
DRIFT_REPLACED = "replaced"
DRIFT_KEPT = "kept-status-not-deletable"

# Plan.skipped reasons (dedupe_scope = "account").
SKIP_EXISTS = "skipped-exists-in-account"
SKIP_PLANNED = "skipped-added-to-other-campaign"

#: Columns of Plan.kept.
KEPT_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "campaign",
    "lead_id",
    "key",
    "number",
    "status",
    "first_name",
    "last_name",
    "priority",
    "retries",
    "created",
    "reason",
)
#: Columns of Plan.drift (one row per differing field, see diff.DRIFT_COLUMNS).
PLAN_DRIFT_COLUMNS: tuple[str, ...] = ("campaign_id", "campaign", *DRIFT_COLUMNS, "action")
#: Columns of Plan.skipped.
SKIPPED_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "campaign",
    "key",
    "file",
    "sheet",
    "row",
    "reason",
    "existing_campaign",
)
#: The per-campaign keys of Plan.counts (a subset of models.COUNT_KEYS).
PLAN_COUNT_KEYS: tuple[str, ...] = (
    Count.PLANNED_ADD,
    Count.PLANNED_DELETE,
    Count.PLANNED_STATUS,
    Count.UNCHANGED,
    Count.DRIFT,
    Count.KEPT,
    Count.REMOTE_BEFORE,
)
#: Columns that identify a campaign's state for :func:`fingerprint_remote`.
FINGERPRINT_COLUMNS: tuple[str, ...] = ("id", "key", "status", *LISTED_FIELDS)
_FINGERPRINT_VERSION = b"leadsync-fingerprint-1"

#: What a plan may do and the guards around it: the ``[sync]`` settings that matter.
PlanPolicy = PlanSettings


# --- the plan --------------------------------------------------------------------------------
@dataclass(slots=True)
class Plan:
    """What a sync will do.

    - ``operations``: every API call, in a deterministic order (campaigns by id; within one:
      removals, status changes, replacements, adds); dependencies via ``Operation.after``.
    - ``counts``: campaign id → ``PLAN_COUNT_KEYS``. ``planned_delete`` counts removals (hard
      and soft), ``planned_status`` the other SET_STATUS ops (status changes and statuses after
      an add), ``unchanged`` the matched input rows no operation touches, ``drift`` the leads
      listed in ``drift``, ``kept`` the rows of ``kept``.
    - ``kept``: remote leads not listed by the file (or extra copies) that stay (``KEPT_COLUMNS``).
    - ``drift``: differing listed fields and what the plan does about them
      (``PLAN_DRIFT_COLUMNS``); empty when ``on_drift = "ignore"``.
    - ``skipped``: adds skipped by ``dedupe_scope = "account"`` (``SKIPPED_COLUMNS``).
    - ``campaigns``: campaign id → name; ``policy``: what it was built with;
      ``status_before`` / ``unknown_statuses``: campaign id →
      {status: leads}; ``remote_duplicates``: campaign id → extra copies found; ``messages``:
      sentences for the report.
    - ``fingerprints``: campaign id → :func:`fingerprint_remote`, filled in by the caller.
    """

    operations: list[Operation]
    counts: dict[str, dict[str, int]]
    kept: pd.DataFrame
    drift: pd.DataFrame
    skipped: pd.DataFrame
    campaigns: dict[str, str]
    policy: PlanPolicy
    status_before: dict[str, dict[str, int]] = field(default_factory=dict)
    unknown_statuses: dict[str, dict[str, int]] = field(default_factory=dict)
    remote_duplicates: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)


def is_removal(op: Operation) -> bool:
    """True for a DELETE, or a SET_STATUS that softly removes a lead (remove_action status:)."""
    return op.kind is OpKind.DELETE or (
        op.kind is OpKind.SET_STATUS and op.reason in REMOVAL_REASONS
    )


def operation_waves(operations: Iterable[Operation]) -> list[list[Operation]]:
    """Layer operations so that each runs after the one it depends on.

    Wave 0 holds the operations without ``after``; wave k those whose ``after`` is in wave
    k-1. Within a wave the input order is kept. Raises ValueError when an ``after`` names an
    unknown or later operation (a corrupt plan).
    """
    depth: dict[int, int] = {}
    waves: list[list[Operation]] = []
    for op in operations:
        if op.after is None:
            level = 0
        elif op.after in depth and op.after < op.op_id:
            level = depth[op.after] + 1
        else:
            raise ValueError(f"operation {op.op_id} depends on unknown operation {op.after}")
        depth[op.op_id] = level
        while len(waves) <= level:
            waves.append([])
        waves[level].append(op)
    return waves


# --- building the plan -----------------------------------------------------------------------
def build_plan(
    diffs: Mapping[str, CampaignDiff],
    campaigns: Mapping[str, Campaign],
    policy: PlanPolicy,
    *,
    account_keys: Collection[str] | Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Plan:
    """Turn per-campaign differences into operations under ``policy``.

    ``diffs`` and ``campaigns`` are keyed by campaign id (a campaign missing from
    ``campaigns`` is named by its id). ``account_keys`` (needed when ``dedupe_scope =
    "account"``) are the keys present anywhere in the account; a mapping key → campaign name
    lets the report say where. Pure and deterministic: the same input gives the same plan.
    Raises ValueError when ``dedupe_scope = "account"`` and ``account_keys`` is None.
    ``progress(done)`` is called after each campaign with the desired and remote leads of
    the campaigns done so far.
    """
    if policy.dedupe_scope == "account" and account_keys is None:
        raise ValueError('dedupe_scope = "account" needs the account\'s keys (account_keys)')
    builder = _Builder(policy, account_keys)
    done = 0
    for cid in sorted(diffs):
        campaign = campaigns.get(cid)
        builder.add_campaign(cid, campaign.name if campaign else cid, diffs[cid])
        done += len(diffs[cid].desired) + diffs[cid].remote_count
        if progress is not None:
            progress(done)
    return builder.finish()


class _Builder:
    """Accumulates operations and tables campaign by campaign (op ids are global)."""

    def __init__(
        self, policy: PlanPolicy, account_keys: Collection[str] | Mapping[str, str] | None
    ) -> None:
        self.policy = policy
        self.account_keys = account_keys
        self.planned_keys: dict[str, str] = {}  # key → campaign it is added to (account scope)
        self.ops: list[Operation] = []
        self.counts: dict[str, dict[str, int]] = {}
        self.kept: list[pd.DataFrame] = []
        self.drift: list[pd.DataFrame] = []
        self.skipped: list[pd.DataFrame] = []
        self.names: dict[str, str] = {}
        self.status_before: dict[str, dict[str, int]] = {}
        self.unknown: dict[str, dict[str, int]] = {}
        self.duplicates: dict[str, int] = {}
        self.messages: list[str] = []
        if policy.mode == "add" and policy.on_drift == "replace":
            self.messages.append('on_drift = "replace" does nothing in add mode: drift is reported')
        if policy.mode != "mirror" and policy.dedupe_remote:
            self.messages.append(
                "dedupe_remote applies in mirror mode only: duplicates are reported"
            )

    # -- helpers ---------------------------------------------------------------------------
    def _op(
        self,
        kind: OpKind,
        cid: str,
        name: str,
        key: str,
        reason: str,
        *,
        lead_id: str | None = None,
        status: str | None = None,
        body: dict[str, Any] | None = None,
        source: tuple[str, str | None, int] | None = None,
        after: int | None = None,
    ) -> Operation:
        op = Operation(
            len(self.ops) + 1, kind, cid, name, key, reason, lead_id, status, body, source, after
        )
        self.ops.append(op)
        return op

    def _kept(self, cid: str, name: str, remote: pd.DataFrame, reason: str) -> None:
        if not len(remote):
            return
        # The lead's own columns (key … created; its id as lead_id): _concat orders and types them.
        own = remote[["id", *KEPT_COLUMNS[3:-1]]].rename(columns={"id": "lead_id"})
        self.kept.append(own.assign(campaign_id=cid, campaign=name, reason=reason))

    # -- one campaign ----------------------------------------------------------------------
    def add_campaign(self, cid: str, name: str, diff: CampaignDiff) -> None:
        policy = self.policy
        start = len(self.ops)
        kept_before = sum(len(k) for k in self.kept)
        self.names[cid] = name
        self.status_before[cid] = dict(diff.status_counts)
        self.unknown[cid] = dict(diff.unknown_statuses)
        self.duplicates[cid] = len(diff.remote_duplicates)
        if diff.unknown_statuses:
            listed = ", ".join(f"{s}: {n}" for s, n in diff.unknown_statuses.items())
            self.messages.append(
                f"campaign {name!r}: leads with statuses not in sync.statuses ({listed}) "
                "are kept and never removed unless listed in delete_statuses"
            )
        mirror = policy.mode == "mirror"

        # 1. removals: extra copies of listed keys (dedupe), then leads absent from the file.
        dups = diff.remote_duplicates
        dups_in_file = dups.loc[dups["in_file"].to_numpy(dtype=bool)]
        if mirror and policy.dedupe_remote:
            self._remove_or_keep(cid, name, dups_in_file, REASON_DUPLICATE, KEPT_DUPLICATE_STATUS)
        else:
            self._kept(cid, name, dups_in_file, KEPT_DUPLICATE)
            if len(dups_in_file):
                self.messages.append(
                    f"campaign {name!r}: {len(dups_in_file)} extra copies of numbers in the file "
                    "(remote duplicates) are kept; dedupe_remote = true removes them in mirror mode"
                )
        absent = diff.to_remove
        if mirror:
            self._remove_or_keep(cid, name, absent, REASON_ABSENT, KEPT_STATUS)
        else:
            self._kept(cid, name, absent, KEPT_REMOTE_ONLY)

        # 2. drift, and which drifted leads get replaced.
        matched = diff.matched
        drifted = matched["drift"].to_numpy(dtype=bool)
        replaced = np.zeros(len(matched), dtype=bool)
        if policy.on_drift == "replace" and policy.mode != "add" and drifted.any():
            replaced = drifted & _status_in(matched, policy.delete_statuses, column="remote_status")
        n_drift = self._drift(cid, name, diff.drift, matched, replaced)

        # 3. status changes (not in add mode, nor for leads being replaced: the new lead gets
        # the status).
        change = matched["status_differs"].to_numpy(dtype=bool) & ~replaced & (policy.mode != "add")
        rows = matched.loc[change]
        for lead_id, key, to_status, src in zip(
            rows["lead_id"].tolist(),
            rows["key"].tolist(),
            rows["to_status"].tolist(),
            _sources(diff.desired.iloc[rows["pos"].to_numpy()]),
            strict=True,
        ):
            self._op(
                OpKind.SET_STATUS,
                cid,
                name,
                key,
                REASON_STATUS,
                lead_id=lead_id,
                status=to_status,
                source=src,
            )

        # 4. replacements: DELETE → ADD (after the delete) → SET_STATUS (after the add).
        if replaced.any():
            rep = matched.loc[replaced]
            desired_rows = diff.desired.iloc[rep["pos"].to_numpy()]
            final = rep["to_status"].fillna(rep["remote_status"])
            for (lead_id, key, status, src), body in zip(
                zip(
                    rep["lead_id"], rep["key"], final.tolist(), _sources(desired_rows), strict=True
                ),
                add_bodies(desired_rows),
                strict=True,
            ):
                gone = self._op(
                    OpKind.DELETE,
                    cid,
                    name,
                    key,
                    REASON_REPLACE,
                    lead_id=lead_id,
                    source=src,
                )
                self._add(cid, name, key, body, src, REASON_REPLACE, status, after=gone.op_id)

        # 5. adds of missing leads (minus those the account already holds).
        to_add = self._account_filter(cid, name, diff.to_add)
        statuses = to_add["status"].astype("string").tolist()
        for key, body, src, status in zip(
            to_add["number"].tolist(), add_bodies(to_add), _sources(to_add), statuses, strict=True
        ):
            self._add(cid, name, key, body, src, REASON_MISSING, status, after=None)

        ops = self.ops[start:]
        counts = dict.fromkeys(PLAN_COUNT_KEYS, 0)
        for op in ops:
            if op.kind is OpKind.ADD:
                counts[Count.PLANNED_ADD] += 1
            elif is_removal(op):
                counts[Count.PLANNED_DELETE] += 1
            else:
                counts[Count.PLANNED_STATUS] += 1
        counts[Count.UNCHANGED] = len(matched) - int(change.sum()) - int(replaced.sum())
        counts[Count.DRIFT] = n_drift
        counts[Count.KEPT] = sum(len(k) for k in self.kept) - kept_before
        counts[Count.REMOTE_BEFORE] = diff.remote_count
        self.counts[cid] = counts

    def _remove_or_keep(
        self, cid: str, name: str, leads: pd.DataFrame, reason: str, kept_reason: str
    ) -> None:
        """Remove the leads whose status is deletable; keep the others with ``kept_reason``
        (or ``already-soft-removed`` when they already carry the soft-removal status)."""
        if not len(leads):
            return
        soft = self.policy.soft_remove_status
        deletable = _status_in(leads, self.policy.delete_statuses)
        already = _status_in(leads, [soft] if soft is not None else [])
        if already.any():
            self._kept(cid, name, leads.loc[already], KEPT_ALREADY_REMOVED)
        if (~deletable & ~already).any():
            self._kept(cid, name, leads.loc[~deletable & ~already], kept_reason)
        gone = leads.loc[deletable & ~already]
        keys = gone["key"].astype("string").fillna("").tolist()
        ids = gone["id"].astype("string").fillna("").tolist()
        for key, lead_id in sorted(zip(keys, ids, strict=True)):  # by key, then id
            self._op(
                OpKind.DELETE if soft is None else OpKind.SET_STATUS,
                cid,
                name,
                key,
                reason,
                lead_id=lead_id,
                status=soft,
            )

    def _add(
        self,
        cid: str,
        name: str,
        key: str,
        body: dict[str, Any],
        src: tuple[str, str | None, int] | None,
        reason: str,
        status: Any,
        *,
        after: int | None,
    ) -> None:
        added = self._op(
            OpKind.ADD,
            cid,
            name,
            key,
            reason,
            body=body,
            source=src,
            after=after,
        )
        if isinstance(status, str) and status != DEFAULT_ADD_STATUS:
            self._op(
                OpKind.SET_STATUS,
                cid,
                name,
                key,
                REASON_STATUS_AFTER_ADD,
                lead_id=None,
                status=status,
                source=src,
                after=added.op_id,
            )

    def _drift(
        self,
        cid: str,
        name: str,
        drift: pd.DataFrame,
        matched: pd.DataFrame,
        replaced: np.ndarray,
    ) -> int:
        """List the drift with the action taken; returns how many leads it lists."""
        if self.policy.on_drift == "ignore" or not len(drift):
            return 0
        if self.policy.on_drift == "replace" and self.policy.mode != "add":
            replaced_ids = set(matched["lead_id"].to_numpy()[replaced].tolist())
            action = np.where(
                drift["lead_id"].isin(replaced_ids).to_numpy(), DRIFT_REPLACED, DRIFT_KEPT
            )
        else:
            action = np.full(len(drift), DRIFT_REPORTED)
        table = drift.reset_index(drop=True).assign(action=pd.array(action, dtype="string"))
        table.insert(0, "campaign", name)
        table.insert(0, "campaign_id", cid)
        self.drift.append(table)
        return int(table["lead_id"].nunique())

    def _account_filter(self, cid: str, name: str, to_add: pd.DataFrame) -> pd.DataFrame:
        """Drop adds whose key the account already holds (or this plan adds elsewhere)."""
        if self.policy.dedupe_scope != "account" or not len(to_add):
            return to_add
        keys = to_add["number"].astype("string")
        where = pd.Series(pd.NA, index=to_add.index, dtype="string")
        reason = pd.Series(pd.NA, index=to_add.index, dtype="string")
        if isinstance(self.account_keys, Mapping):
            found = keys.map(self.account_keys).astype("string")
            exists = keys.isin(list(self.account_keys.keys())).to_numpy()
            where[exists] = found[exists]
        else:
            exists = keys.isin(list(self.account_keys or ())).to_numpy()
        reason[exists] = SKIP_EXISTS
        planned = keys.isin(list(self.planned_keys)).to_numpy() & ~exists
        if planned.any():
            reason[planned] = SKIP_PLANNED
            where[planned] = keys[planned].map(self.planned_keys)
        skip = exists | planned
        if skip.any():
            rows = to_add.loc[skip]
            self.skipped.append(
                pd.DataFrame(
                    {
                        "campaign_id": cid,
                        "campaign": name,
                        "key": keys[skip].array,
                        "file": rows["file"].astype("string").array,
                        "sheet": rows["sheet"].astype("string").array,
                        "row": rows["row"].astype("Int64").array,
                        "reason": reason[skip].array,
                        "existing_campaign": where[skip].array,
                    }
                )
            )
        kept = to_add.loc[~skip]
        self.planned_keys.update(dict.fromkeys(kept["number"].tolist(), name))
        return kept

    # -- the result ------------------------------------------------------------------------
    def finish(self) -> Plan:
        return Plan(
            operations=self.ops,
            counts=self.counts,
            kept=_concat(self.kept, KEPT_COLUMNS),
            drift=_concat(self.drift, PLAN_DRIFT_COLUMNS),
            skipped=_concat(self.skipped, SKIPPED_COLUMNS),
            campaigns=self.names,
            policy=self.policy,
            status_before=self.status_before,
            unknown_statuses=self.unknown,
            remote_duplicates=self.duplicates,
            messages=self.messages,
        )


def add_bodies(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The add-lead body of each desired row: only the given ``LEAD_FIELDS`` (NA omitted),
    integers as ``int``, in the document's field order. Never a status."""
    columns = [(f, rows[f].to_numpy(dtype=object, na_value=None)) for f in LEAD_FIELDS if f in rows]
    bodies: list[dict[str, Any]] = []
    for i in range(len(rows)):
        body: dict[str, Any] = {}
        for f, values in columns:
            v = values[i]
            if v is not None:
                body[f] = int(v) if f in INT_FIELDS else v
        bodies.append(body)
    return bodies


def _sources(rows: pd.DataFrame) -> list[tuple[str, str | None, int] | None]:
    """(file, sheet, row) of each row, None where the file is unknown."""
    files = rows["file"].to_numpy(dtype=object, na_value=None)
    sheets = rows["sheet"].to_numpy(dtype=object, na_value=None)
    nums = rows["row"].to_numpy(dtype=object, na_value=None)
    return [
        (f, s, int(r)) if f is not None and r is not None else None
        for f, s, r in zip(files, sheets, nums, strict=True)
    ]


def _status_in(leads: pd.DataFrame, statuses: Collection[str], column: str = "status") -> Any:
    """Boolean mask: the lead's status is one of ``statuses`` (a missing status never is)."""
    return leads[column].astype("string").isin(list(statuses)).fillna(False).to_numpy(dtype=bool)


#: Integer columns of the plan's tables; every other column is ``string`` (NA = missing).
_TABLE_INT_COLUMNS = frozenset({"priority", "retries", "created", "row"})


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    """One table with exactly ``columns`` and the documented dtypes."""
    if not frames:
        return _empty_table(columns).copy()
    table = pd.concat(frames, ignore_index=True)[list(columns)]
    return table.astype({c: "Int64" if c in _TABLE_INT_COLUMNS else "string" for c in columns})


@functools.cache
def _empty_table(columns: tuple[str, ...]) -> pd.DataFrame:
    """An empty table (cached: callers get a copy)."""
    return pd.DataFrame(
        {c: pd.array([], dtype="Int64" if c in _TABLE_INT_COLUMNS else "string") for c in columns}
    )


# --- guards ----------------------------------------------------------------------------------
def check_guards(
    plan: Plan,
    policy: PlanPolicy,
    *,
    rows_valid: int,
    rows_rejected: int,
    rows_read: int,
    complete_fetch: Mapping[str, bool],
    allow_mass_delete: bool,
) -> list[str]:
    """Refuse a plan that would do too much damage (docs/design.md, 'Safety'), in this order:

    1. mirror mode with zero valid rows → RefusedError (exit 3): an empty or unusable file
       must never read as "remove everything", whatever else is wrong with it;
    2. rejected rows > ``max_reject_fraction`` of the rows read (counted only once more than
       ``reject_guard_floor`` rows are rejected) → InputError (exit 2), see :func:`reject_refusal`;
    3. removals planned in a campaign whose fetch was incomplete (``complete_fetch[cid]`` is
       False or absent: unknown counts as incomplete) → RefusedError, no override;
    4. removals (hard or soft) in a campaign above ``max_delete_fraction`` of its leads (only
       once more than ``delete_guard_floor`` would go) or above ``max_delete_count`` →
       RefusedError naming the numbers and ``--allow-mass-delete``, unless
       ``allow_mass_delete``.

    Returns the overrides used (one sentence per campaign the flag let through), to be
    recorded in the report; empty when none was needed.
    """
    if policy.mode == "mirror" and rows_valid == 0:
        raise RefusedError(
            "refusing to mirror an empty input: it would remove every lead "
            f"({rows_read} rows read, none valid)",
            guard="empty-mirror",
        )
    refusal = reject_refusal(rows_rejected, rows_read, policy)
    if refusal:
        raise InputError(refusal)
    removals = Counter(op.campaign_id for op in plan.operations if is_removal(op))
    incomplete = [cid for cid in sorted(removals) if not complete_fetch.get(cid, False)]
    if incomplete:
        names = ", ".join(f"{plan.campaigns.get(c, c)!r} ({removals[c]})" for c in incomplete)
        raise RefusedError(
            "refusing to remove leads from a campaign whose leads did not all load: "
            f"{names}; nothing was written, try again when the API answers every page",
            guard="incomplete-fetch",
        )
    too_many = [m for c in sorted(removals) if (m := _mass_delete(plan, policy, c, removals[c]))]
    if too_many and not allow_mass_delete:
        raise RefusedError(
            "refusing a mass delete: "
            + "; ".join(too_many)
            + ". Nothing was written; re-run with --allow-mass-delete (or raise the setting) "
            "if this is intended",
            guard="mass-delete",
            override="--allow-mass-delete",
        )
    return [f"--allow-mass-delete: {m}" for m in too_many]


def reject_refusal(rejected: int, rows_read: int, policy: PlanPolicy) -> str | None:
    """The sentence refusing an input whose rejected share is above ``max_reject_fraction``;
    None when within it, or when no more than ``reject_guard_floor`` rows were rejected (a
    small file reports its few bad rows and loads the rest; a nightly file whose column
    shifted is still refused). ``validate`` and ``sync`` apply the same rule."""
    limit = policy.max_reject_fraction
    if rows_read <= 0 or rejected <= policy.reject_guard_floor:
        return None
    if Fraction(rejected, rows_read) <= _exact(limit):
        return None
    return (
        f"{rejected:,} of {rows_read:,} input rows ({_pct(rejected, rows_read)}) were rejected, "
        f"more than the {limit:.0%} allowed by sync.max_reject_fraction (counted above "
        f"sync.reject_guard_floor {policy.reject_guard_floor}); fix the rows listed in "
        "rejected.csv (or raise max_reject_fraction in the config)"
    )


def _mass_delete(plan: Plan, policy: PlanPolicy, cid: str, n: int) -> str | None:
    """The sentence naming why ``n`` removals in ``cid`` break the delete guard, else None."""
    total = plan.counts.get(cid, {}).get(Count.REMOTE_BEFORE, 0)
    name = plan.campaigns.get(cid, cid)
    what = f"campaign {name!r} would lose {n} of {total} leads ({_pct(n, total)})"
    if n > policy.delete_guard_floor and Fraction(n) > _exact(policy.max_delete_fraction) * total:
        return (
            f"{what}, more than sync.max_delete_fraction {policy.max_delete_fraction:.0%} "
            f"(counted above sync.delete_guard_floor {policy.delete_guard_floor})"
        )
    if policy.max_delete_count is not None and n > policy.max_delete_count:
        return f"{what}, more than sync.max_delete_count {policy.max_delete_count}"
    return None


def _exact(x: float) -> Fraction:
    """A setting such as 0.1 as the exact decimal the user wrote (not 0.1000000000000000055)."""
    return Fraction(repr(x))


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "100%"


# --- fingerprint -----------------------------------------------------------------------------
def fingerprint_remote(remote: pd.DataFrame) -> str:
    """A stable, order-independent SHA-256 (hex) of a campaign's leads (``FINGERPRINT_COLUMNS``).

    Two fetches of an unchanged campaign give the same value whatever the page order; any
    added, removed or edited lead (id, key, status, listed field) changes it. The rows are put
    in a canonical order (sorted on every column, in Arrow) and each column's exact bytes —
    null positions, then values — are digested, so no separator can make two different tables
    collide; that is faster than summing ``hash_pandas_object`` row hashes.
    Raises ValueError when a column is missing.
    """
    require_columns(remote, FINGERPRINT_COLUMNS, "remote")
    arrays: dict[str, pa.Array] = {}
    for col in FINGERPRINT_COLUMNS:
        if col in INT_FIELDS:
            arrays[col] = pa.array(as_int64(remote[col]).array, type=pa.int64())
        else:
            arrays[col] = arrow_text(remote[col]).cast(pa.large_string())
    table = pa.table(arrays)
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in FINGERPRINT_COLUMNS])
    digest = hashlib.sha256(_FINGERPRINT_VERSION)
    digest.update(len(table).to_bytes(8, "little"))
    for col in FINGERPRINT_COLUMNS:
        values = pc.take(table[col], order).combine_chunks()
        nulls = np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))
        digest.update(col.encode())
        digest.update(len(nulls).to_bytes(8, "little"))
        digest.update(nulls.astype("<i8").tobytes())
        if pa.types.is_integer(values.type):
            digest.update(pc.fill_null(values, 0).to_numpy().astype("<i8").tobytes())
        else:
            buffers = values.buffers()
            offsets = np.frombuffer(
                buffers[1], dtype="<i8", count=len(values) + 1, offset=values.offset * 8
            )
            digest.update((offsets - offsets[0]).tobytes())
            if buffers[2] is not None:
                digest.update(memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])])
    return digest.hexdigest()
