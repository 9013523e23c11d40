"""The saved plan file: round trip, readable layout, tamper detection, the applied registry."""

from __future__ import annotations

import gc
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from leadsync import models
from leadsync.errors import ExitCode, InputError, RefusedError
from leadsync.models import Campaign, SourceInfo
from leadsync.run import planfile
from leadsync.run.planfile import (
    PLAN_VERSION,
    SavedPlan,
    is_applied,
    load_plan,
    mark_applied,
    paused_gc,
    read_back,
    save_plan,
)
from leadsync.sync.diff import diff_campaign
from leadsync.sync.plan import Plan, PlanPolicy, build_plan, fingerprint_remote, is_removal
from tests.sync.test_diff import desired_frame, remote_frame

CREATED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SOURCE = SourceInfo(
    path="leads.csv",
    sha256="ab" * 32,
    format="csv",
    sheet=None,
    encoding="utf-8",
    delimiter=",",
    header_row=1,
    rows=4,
    columns={"number": "Phone", "first_name": "First"},
)


def num(i: int) -> str:
    return f"+1213555{i:04d}"


def sample() -> tuple[Plan, dict[str, str]]:
    """A plan with every kind of operation, kept leads, drift, a dependency and a skip."""
    desired = desired_frame(
        {"number": num(1), "first_name": "Ann", "priority": 2, "status": "success"},
        {"number": num(2), "first_name": "Bob", "status": "failed"},
        {"number": num(3), "note": "call after 5 — ünïcode", "cool_off": 60},
        {"number": num(9)},
    )
    remote = remote_frame(
        {"id": "r1", "number": num(1), "first_name": "Anne", "priority": 2},
        {"id": "r2", "number": num(2), "first_name": "Bob", "status": "new"},
        {"id": "r4", "number": num(4)},
        {"id": "r5", "number": num(5), "status": "success"},
    )
    plan = build_plan(
        {"c1": diff_campaign(desired, remote, statuses=models.DEFAULT_STATUSES)},
        {"c1": Campaign("c1", "Spring")},
        PlanPolicy(mode="mirror", on_drift="replace", dedupe_scope="account"),
        account_keys={num(9): "Autumn"},
    )
    return plan, {"c1": fingerprint_remote(remote)}


def save(plan: Plan, fps: dict[str, str], path: Path, **kw: object) -> str:
    args: dict[str, object] = {
        "sources": [SOURCE],
        "settings_redacted": {"api": {"password": "***"}, "sync": {"mode": "mirror"}},
        "fingerprints": fps,
        "created_at": CREATED,
        "meta": {"rows_read": 4, "overrides": []},
    }
    args.update(kw)
    return save_plan(plan, path, **args)  # type: ignore[arg-type]


def test_round_trip_gives_back_the_same_plan(tmp_path: Path) -> None:
    plan, fps = sample()
    kinds = {op.kind for op in plan.operations}
    assert kinds == set(models.OpKind)
    assert any(op.after for op in plan.operations)
    assert not plan.kept.empty and not plan.drift.empty and not plan.skipped.empty

    path = tmp_path / "plan.json"
    plan_id = save(plan, fps, path)
    saved = load_plan(path)

    assert saved.plan_id == plan_id
    assert saved.version == PLAN_VERSION
    assert saved.created_at == CREATED
    assert saved.sources == [SOURCE]
    assert saved.settings == {"api": {"password": "***"}, "sync": {"mode": "mirror"}}
    assert saved.meta == {"rows_read": 4, "overrides": []}
    assert saved.plan.fingerprints == fps
    assert saved.plan.policy == plan.policy
    assert saved.path == path
    loaded = saved.plan
    assert loaded.operations == plan.operations
    assert loaded.counts == plan.counts
    assert loaded.campaigns == plan.campaigns
    assert loaded.status_before == plan.status_before
    assert loaded.unknown_statuses == plan.unknown_statuses
    assert loaded.remote_duplicates == plan.remote_duplicates
    assert loaded.messages == plan.messages
    for name in ("kept", "drift", "skipped"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(plan, name))


def test_the_file_is_readable_json_with_one_operation_per_line(tmp_path: Path) -> None:
    plan, fps = sample()
    path = tmp_path / "plan.json"
    plan_id = save(plan, fps, path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert (data["format"], data["version"], data["plan_id"]) == ("leadsync-plan", 1, plan_id)
    assert list(data)[:3] == ["format", "version", "plan_id"]
    op_lines = [line for line in text.splitlines() if line.startswith('  {"op_id": ')]
    assert len(op_lines) == len(plan.operations)
    assert "ünïcode" in text  # not \\u-escaped: a reviewer reads it as written
    assert data["sources"][0]["sha256"] == "ab" * 32


def test_same_content_same_id_and_any_change_another(tmp_path: Path) -> None:
    plan, fps = sample()
    first = save(plan, fps, tmp_path / "a.json")
    assert save(plan, fps, tmp_path / "b.json") == first
    assert save(plan, fps, tmp_path / "c.json", created_at=CREATED + timedelta(seconds=1)) != first
    assert save(plan, {"c1": "0" * 64}, tmp_path / "d.json") != first


def test_saving_replaces_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    plan, fps = sample()
    path = tmp_path / "out" / "plan.json"
    save(plan, fps, path)
    save(plan, fps, path, meta={"second": True})
    assert load_plan(path).meta == {"second": True}
    assert [p.name for p in path.parent.iterdir()] == ["plan.json"]


def test_naive_created_at_is_refused(tmp_path: Path) -> None:
    plan, fps = sample()
    with pytest.raises(ValueError, match="timezone-aware"):
        save(plan, fps, tmp_path / "p.json", created_at=datetime(2026, 3, 1))


def assert_same_saved(a: SavedPlan, b: SavedPlan) -> None:
    for name in ("plan_id", "version", "created_at", "leadsync_version", "sources", "settings"):
        assert getattr(a, name) == getattr(b, name), name
    assert (a.meta, a.path, a.plan.fingerprints, a.plan.policy) == (
        b.meta,
        b.path,
        b.plan.fingerprints,
        b.plan.policy,
    )
    for name in ("operations", "counts", "campaigns", "status_before", "unknown_statuses"):
        assert getattr(a.plan, name) == getattr(b.plan, name), name
    assert (a.plan.remote_duplicates, a.plan.messages) == (
        b.plan.remote_duplicates,
        b.plan.messages,
    )
    for name in ("kept", "drift", "skipped"):
        pd.testing.assert_frame_equal(getattr(a.plan, name), getattr(b.plan, name))


def test_read_back_gives_what_reading_the_file_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, fps = sample()
    path = tmp_path / "plan.json"
    with read_back():
        plan_id = save(plan, fps, path)
        with monkeypatch.context() as m:  # the bytes just written are not parsed again
            m.setattr(planfile, "_parse", lambda *a: pytest.fail("parsed again"))
            kept = load_plan(path)
    fresh = load_plan(path)  # outside the block: parsed and hashed from the file
    assert kept.plan_id == fresh.plan_id == plan_id
    assert_same_saved(kept, fresh)


def test_read_back_still_refuses_a_file_changed_after_it_was_saved(tmp_path: Path) -> None:
    plan, fps = sample()
    path = tmp_path / "plan.json"
    with read_back():
        save(plan, fps, path)
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace('"status": "success"', '"status": "failed"', 1))
        with pytest.raises(InputError, match="changed after it was saved"):
            load_plan(path)
        save(plan, fps, path)
        load_plan(path)  # what was kept is given back once: the next load reads the file
        path.write_text(text.replace('"status": "success"', '"status": "failed"', 1))
        with pytest.raises(InputError, match="changed after it was saved"):
            load_plan(path)


def test_values_holding_the_item_separators_still_give_one_item_a_line(tmp_path: Path) -> None:
    plan, fps = sample()
    ops = plan.operations
    tricky = "}, {],  [ x"
    plan.operations = [
        replace(op, body={**op.body, "note": tricky}) if op.body else op for op in ops
    ]
    plan.messages = [tricky]
    reasons = [tricky + " ], ["] * len(plan.kept)
    plan.kept = plan.kept.assign(reason=pd.array(reasons, dtype=plan.kept["reason"].dtype))
    path = tmp_path / "plan.json"
    plan_id = save(plan, fps, path)
    text = path.read_text(encoding="utf-8")
    op_lines = [line for line in text.splitlines() if line.startswith('  {"op_id": ')]
    assert len(op_lines) == len(plan.operations)
    saved = load_plan(path)
    assert saved.plan_id == plan_id and saved.plan.operations == plan.operations
    pd.testing.assert_frame_equal(saved.plan.kept, plan.kept)


def test_paused_gc_restores_the_collector_as_it_was() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()


SAVED_BY_C43A06C = Path(__file__).parents[1] / "data" / "plans" / "saved_by_c43a06c.json"


def test_a_plan_saved_by_earlier_code_loads_and_saves_the_same_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan file written at commit c43a06c (soft removal, non-default guards) still loads,
    and saving what was loaded writes the same bytes: the format did not move."""
    saved = load_plan(SAVED_BY_C43A06C)
    assert saved.plan_id == "1de93034d84bc45805e1df548c554ccb7569e321d18c8fd5e439cb58f0008f8c"
    policy = saved.plan.policy
    assert policy.mode == "mirror" and policy.on_drift == "replace"
    assert sorted(policy.delete_statuses) == ["failed", "new"]
    assert policy.soft_remove_status == "removed"
    assert (policy.max_delete_fraction, policy.delete_guard_floor) == (0.5, 3)
    assert (policy.max_delete_count, policy.max_reject_fraction) == (40, 0.25)
    assert policy.reject_guard_floor == 7
    removals = [op.reason for op in saved.plan.operations if is_removal(op)]
    assert removals == ["absent-from-file"] * 2 + ["drift-replace"]
    assert saved.plan.counts["c1"]["planned_delete"] == 3

    monkeypatch.setattr(planfile, "__version__", saved.leadsync_version)
    again = tmp_path / "again.json"
    plan_id = save_plan(
        saved.plan,
        again,
        sources=saved.sources,
        settings_redacted=saved.settings,
        fingerprints=saved.plan.fingerprints,
        created_at=saved.created_at,
        meta=saved.meta,
    )
    assert plan_id == saved.plan_id
    assert again.read_bytes() == SAVED_BY_C43A06C.read_bytes()


# --- tampering and bad files -----------------------------------------------------------------
def saved_text(tmp_path: Path) -> tuple[Path, str]:
    plan, fps = sample()
    path = tmp_path / "plan.json"
    save(plan, fps, path)
    return path, path.read_text(encoding="utf-8")


def test_an_edited_operation_is_detected(tmp_path: Path) -> None:
    path, text = saved_text(tmp_path)
    edited = text.replace('"status": "success"', '"status": "failed"', 1)
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    with pytest.raises(InputError, match="changed after it was saved") as err:
        load_plan(path)
    assert str(path) in str(err.value)
    assert err.value.exit_code is ExitCode.BAD_INPUT


def test_an_edited_fingerprint_is_detected(tmp_path: Path) -> None:
    path, _ = saved_text(tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["fingerprints"]["c1"] = "f" * 64
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match="changed after it was saved"):
        load_plan(path)


def test_reformatting_the_json_is_not_an_edit(tmp_path: Path) -> None:
    path, _ = saved_text(tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(data, indent=4, sort_keys=True), encoding="utf-8")
    assert load_plan(path).plan_id == data["plan_id"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), "format version 2"),
        (lambda d: d.pop("operations"), "missing operations"),
        (lambda d: d.update(format="something-else"), "not a leadsync plan"),
        (lambda d: d.update(plan_id="../../etc"), "malformed plan_id"),
    ],
)
def test_structural_problems_are_named(tmp_path: Path, change: object, message: str) -> None:
    path, _ = saved_text(tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_plan(path)


def test_malformed_content_with_a_matching_id_is_still_refused(tmp_path: Path) -> None:
    """Someone who recomputes the hash still cannot smuggle in a broken operation."""
    import hashlib

    path, _ = saved_text(tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["operations"][0]["kind"] = "truncate"
    body = {k: v for k, v in data.items() if k != "plan_id"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    data["plan_id"] = hashlib.sha256(canonical.encode()).hexdigest()
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=r"malformed data.*truncate"):
        load_plan(path)


def test_not_json_missing_file_and_not_a_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "leadsync-plan",', encoding="utf-8")
    with pytest.raises(InputError, match=r"not valid JSON \(line 1"):
        load_plan(bad)
    with pytest.raises(InputError, match="does not exist"):
        load_plan(tmp_path / "nope.json")
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match="not a leadsync plan"):
        load_plan(bad)


# --- the registry of applied plans -----------------------------------------------------------
def test_mark_applied_once_then_refuse(tmp_path: Path) -> None:
    plan, fps = sample()
    plan_id = save(plan, fps, tmp_path / "plan.json")
    registry = tmp_path / "applied"
    assert not is_applied(plan_id, registry)
    record = mark_applied(plan_id, registry, applied_at=CREATED, detail={"job": "nightly"})
    assert is_applied(plan_id, registry)
    assert json.loads(record.read_text(encoding="utf-8")) == {
        "plan_id": plan_id,
        "applied_at": CREATED.isoformat(),
        "detail": {"job": "nightly"},
    }
    with pytest.raises(RefusedError, match=r"already applied at 2026-03-01T09:30:00\+00:00") as err:
        mark_applied(plan_id, registry, applied_at=CREATED + timedelta(hours=1))
    assert err.value.exit_code is ExitCode.REFUSED
    assert sorted(p.name for p in registry.iterdir()) == [f"{plan_id}.json"]


def test_only_one_of_concurrent_applies_wins(tmp_path: Path) -> None:
    plan_id = "a" * 64
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        try:
            mark_applied(plan_id, tmp_path, applied_at=CREATED)
            result = "won"
        except RefusedError:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["won"]


def test_registry_refuses_a_malformed_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a plan id"):
        is_applied("../escape", tmp_path)
    with pytest.raises(ValueError, match="not a plan id"):
        mark_applied("ABC", tmp_path, applied_at=CREATED)
