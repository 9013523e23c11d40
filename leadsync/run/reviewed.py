"""Reviewed plans: ``leadsync plan --out plan.json`` saves one, ``leadsync apply`` runs it.

A saved plan is applied exactly as reviewed, or not at all: ``apply`` refuses (exit 3) when any
of its campaigns changed since the plan was made (their fingerprints differ) or when the plan
was already applied (a registry of applied plan ids under the report root).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..apply import ApplyResult, apply_plan
from ..config import Settings
from ..errors import ApiError, RefusedError
from ..models import ROW_COLUMNS, Operation, OpKind, OpOutcome, OpResult, ReadResult, zero_counts
from ..report import RunReport
from ..sync.outcomes import Verification, campaign_counts
from ..sync.plan import Plan, fingerprint_remote
from .campaigns import Current, Targets, fetch_remote
from .planfile import SavedPlan, is_applied, mark_applied, save_plan
from .stages import Run, _exit_code, apply_changes, interruption

log = logging.getLogger(__name__)

#: Folder (under the report root) recording the ids of applied plans.
APPLIED_DIR_NAME = ".applied-plans"
#: Row counts saved with a plan so that ``apply``'s report can show them.
ROW_KEYS = ("rows_read", "rows_valid", "rows_rejected", "rows_duplicate")


def applied_registry(settings: Settings) -> Path:
    """Where applied plan ids are recorded: ``<report_dir>/.applied-plans``."""
    return settings.sync.report_dir / APPLIED_DIR_NAME


def save_reviewed_plan(
    plan: Plan,
    read: ReadResult,
    targets: Targets,
    settings: Settings,
    out: Path,
    overrides: list[str],
    campaign: str | None = None,
) -> Path:
    """Write ``plan`` to ``out`` with the input files' hashes, the effective settings (secrets
    masked), each campaign's fingerprint and the row counts. Returns ``out``."""
    counts = campaign_counts(
        {cid: c.name for cid, c in targets.campaigns.items()},
        targets.desired,
        [*read.issues, *targets.issues],
        None,
        None,
        None,
        remote_before={},
    )
    rows = {name: {k: c[k] for k in ROW_KEYS} for name, c in counts.items()}
    save_plan(
        plan,
        out,
        sources=list(read.sources),
        settings_redacted=settings.redacted(),
        fingerprints=plan.fingerprints,
        created_at=datetime.now(UTC),
        meta={"rows": rows, "overrides": overrides, "campaign": campaign},
    )
    log.info("plan saved to %s (%d operations)", out, len(plan.operations))
    return out


def check_plan_current(saved: SavedPlan, client: Any, settings: Settings) -> Current:
    """Refuse a plan that was applied before or whose campaigns changed since it was made;
    returns the campaigns' current leads (for ``before.csv``)."""
    registry = applied_registry(settings)
    if is_applied(saved.plan_id, registry):
        raise RefusedError(
            f"plan {saved.plan_id[:12]}… was already applied (recorded in {registry}); a plan "
            "is applied once: make a new plan from the current state",
            guard="plan-applied",
        )
    region = saved.settings.get("sync", {}).get("region", settings.sync.region)
    remote: dict[str, pd.DataFrame] = {}
    changed: list[str] = []
    for cid, name in sorted(saved.plan.campaigns.items()):
        frame = fetch_remote(client, cid, region=region, page_size=settings.api.page_size)
        remote[cid] = frame
        if fingerprint_remote(frame) != saved.plan.fingerprints.get(cid):
            before = saved.plan.counts.get(cid, {}).get("remote_before", "?")
            changed.append(f"{name} ({before} leads when planned, {len(frame)} now)")
    if changed:
        raise RefusedError(
            "the plan is stale: campaign(s) changed since it was made: "
            + "; ".join(changed)
            + ". Nothing was written; make a new plan (leadsync apply PLAN --replan)",
            guard="stale-plan",
        )
    return Current(remote=remote, complete=dict.fromkeys(remote, True))


def apply_saved_plan(
    saved: SavedPlan, current: Current, client: Any, settings: Settings, run: Run
) -> ApplyResult | None:
    """Record the plan as applied (exclusively: a concurrent apply of it is refused), then
    apply its operations."""
    mark_applied(
        saved.plan_id,
        applied_registry(settings),
        applied_at=datetime.now(UTC),
        detail={"report": str(run.folder)},
    )
    return apply_changes(saved.plan, current, client, settings, run, apply=apply_plan)


def verify_plan_effects(
    plan: Plan, client: Any, settings: Settings, region: str, applied: ApplyResult | None
) -> Verification:
    """Re-read the touched campaigns and count the operations whose effect does not hold
    (an added key absent, a deleted lead present, a status not as planned)."""
    verification = Verification(lead_ids=dict(applied.lead_ids) if applied else {})
    if applied is None:
        return verification
    for cid in sorted({op.campaign_id for op in plan.operations}):
        try:
            remote = fetch_remote(client, cid, region=region, page_size=settings.api.page_size)
        except ApiError as err:
            verification.messages.append(f"could not re-read {plan.campaigns.get(cid, cid)}: {err}")
            verification.residual[cid] = sum(1 for op in plan.operations if op.campaign_id == cid)
            continue
        verification.remote_after[cid] = len(remote)
        by_key = remote.drop_duplicates("key").set_index("key")
        status_by_id = dict(zip(remote["id"], remote["status"], strict=True))
        residual = 0
        for op in (o for o in plan.operations if o.campaign_id == cid):
            residual += not _holds(op, by_key, status_by_id)
            if op.kind is OpKind.ADD and op.key in by_key.index:
                verification.lead_ids[(cid, op.key)] = str(by_key.at[op.key, "id"])
        verification.residual[cid] = residual
    return verification


def _holds(op: Operation, by_key: pd.DataFrame, status_by_id: dict[Any, Any]) -> bool:
    if op.kind is OpKind.ADD:
        return op.key in by_key.index
    if op.kind is OpKind.DELETE:
        return op.lead_id not in status_by_id
    if op.lead_id is None:  # the status of a lead this plan added
        return op.key in by_key.index and by_key.at[op.key, "status"] == op.status
    return status_by_id.get(op.lead_id) == op.status


def apply_rows(
    plan: Plan, results: list[OpResult], lead_ids: dict[tuple[str, str], str]
) -> pd.DataFrame:
    """``rows.csv`` for ``apply``: one line per input row the plan touches."""
    by_op = {r.op_id: r for r in results}
    records = []
    for op in plan.operations:
        if op.source is None or (op.kind is OpKind.SET_STATUS and op.lead_id is None):
            continue
        r = by_op.get(op.op_id)
        ok = r is not None and r.outcome in (OpOutcome.DONE, OpOutcome.SETTLED_PRESENT)
        outcome = ("added" if op.kind is OpKind.ADD else "status_set") if ok else "failed"
        lead_id = op.lead_id or lead_ids.get((op.campaign_id, op.key))
        file, sheet, row = op.source
        records.append(
            (
                file,
                sheet,
                row,
                op.campaign,
                op.key,
                outcome,
                lead_id,
                op.reason,
                "" if ok else (r.message if r else "not applied"),
            )
        )
    rows = pd.DataFrame.from_records(records, columns=list(ROW_COLUMNS))
    rows["row"] = rows["row"].astype("Int64")
    return rows


def finish_apply_report(run: Run, saved: SavedPlan, client: Any) -> RunReport:
    """The report of ``leadsync apply``."""
    plan = saved.plan
    applied: ApplyResult | None = run.values.get("apply")
    verification: Verification | None = run.values.get("verify")
    current: Current | None = run.values.get("fetch")
    results = applied.results if applied else []
    remote_before = {cid: len(f) for cid, f in (current.remote.items() if current else [])}
    counts = campaign_counts(
        plan.campaigns,
        {},
        [],
        plan,
        results if applied else None,
        verification,
        remote_before=remote_before,
    )
    for name, rows in saved.meta.get("rows", {}).items():
        for key in ROW_KEYS:
            counts.setdefault(name, zero_counts())[key] = int(rows.get(key, 0))
    if applied is None:
        for c in counts.values():
            c["remote_after"] = c["remote_before"]
    exit_code = _exit_code(run, applied, counts)
    messages = list(run.messages) + (verification.messages if verification else [])
    return RunReport(
        command="apply",
        exit_code=int(exit_code),
        dry_run=False,
        mode=str(plan.mode),
        started_at=run.started_at,
        finished_at=datetime.now(UTC),
        overrides=list(saved.meta.get("overrides", [])),
        api=dict(client.counters.as_dict()) if hasattr(client, "counters") else {},
        timings=dict(run.timings),
        sources=list(saved.sources),
        settings=saved.settings,
        campaigns=counts,
        rows=apply_rows(plan, results, verification.lead_ids if verification else {}),
        operations=list(results),
        kept=plan.kept,
        drift=plan.drift,
        status_before={plan.campaigns.get(c, c): s for c, s in plan.status_before.items()},
        messages=interruption(applied) + messages + ([str(run.error)] if run.error else []),
        refusal=str(run.error) if isinstance(run.error, RefusedError) else None,
        interrupted=bool(applied is not None and applied.interrupted),
    )


def plan_difference(old: Plan, new: Plan) -> list[tuple[str, int, int]]:
    """(what, in the saved plan, in a fresh plan) for each kind of operation."""

    def tally(plan: Plan) -> Counter[str]:
        return Counter(f"{op.kind.value} ({op.reason})" for op in plan.operations)

    a, b = tally(old), tally(new)
    return [(k, a.get(k, 0), b.get(k, 0)) for k in sorted(set(a) | set(b))]
