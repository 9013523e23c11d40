"""console/review: the saved plan and the plan run's report as tables cut into pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadsync.cli.demo import demo_settings, seed_demo_state
from leadsync.console.review import ISSUE_COLUMNS, PAGE_SIZE, PLAN_COLUMNS, build_review, page_of
from leadsync.run.pipeline import run_sync
from leadsync.run.planfile import load_plan
from leadsync.run.state import SyncRequest
from leadsync.sandbox import Sandbox
from leadsync.sync.plan import is_removal
from tests.console.support import SAMPLE_DIR


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    tmp = tmp_path_factory.mktemp("review")
    with Sandbox() as sb:
        seed_demo_state(sb)
        settings = demo_settings(sb, mode="mirror", report_root=tmp / "reports")
        request = SyncRequest(
            (SAMPLE_DIR / "spring_promo.csv", SAMPLE_DIR / "renewals.xlsx"),
            dry_run=True,
            plan_out=tmp / "plan.json",
        )
        report = run_sync(settings, request)
    return report, load_plan(tmp / "plan.json")


def test_the_review_lists_every_operation_of_the_saved_plan(planned: tuple) -> None:
    report, saved = planned
    review = build_review(report, saved)
    shown = review.counts["add"] + review.counts["status"] + review.counts["remove"]
    assert shown == len(saved.plan.operations)
    assert review.counts["remove"] == sum(map(is_removal, saved.plan.operations))
    assert review.counts["kept"] == len(saved.plan.kept)
    assert review.counts["unchanged"] == report.totals()["unchanged"]
    assert len(review.rejected) == report.totals()["rows_rejected"]
    assert len(review.duplicates) == report.totals()["rows_duplicate"]
    assert review.duplicates["twin_row"].notna().all()


def test_pages_hold_at_most_one_page_and_filters_are_server_side(planned: tuple) -> None:
    report, saved = planned
    review = build_review(report, saved)
    rows = review.plan_rows
    page = page_of(rows, columns=PLAN_COLUMNS, size=5)
    assert len(page.rows) == 5 and page.total == len(rows) and page.pages == -(-len(rows) // 5)
    last = page_of(rows, columns=PLAN_COLUMNS, size=5, page=10_000)
    assert last.page == page.pages and 1 <= len(last.rows) <= 5
    adds = page_of(rows, columns=PLAN_COLUMNS, action="add", size=PAGE_SIZE)
    assert {r["action"] for r in adds.rows} == {"add"} and adds.total == review.counts["add"]
    one = page_of(rows, columns=PLAN_COLUMNS, query="+14155550134")
    assert one.total >= 1 and all("+14155550134" in r["number"] for r in one.rows)
    rejected = page_of(review.rejected, columns=ISSUE_COLUMNS, query="PHONE-")
    assert rejected.total >= 1


def test_a_refused_plan_is_reviewed_from_its_report(tmp_path: Path) -> None:
    with Sandbox() as sb:
        seed_demo_state(sb)
        settings = demo_settings(sb, mode="mirror", report_root=tmp_path / "reports")
        settings.sync.max_delete_fraction = 0.0
        settings.sync.delete_guard_floor = 0
        request = SyncRequest(
            (SAMPLE_DIR / "spring_promo.csv",), dry_run=True, plan_out=tmp_path / "plan.json"
        )
        report = run_sync(settings, request)
    assert report.exit_code == 3 and not (tmp_path / "plan.json").exists()
    review = build_review(report, None)
    assert review.refusal_guard == "mass-delete" and review.planned_delete >= 1
    assert review.counts["add"] == report.totals()["planned_add"]
