"""RunReport: totals from campaigns, summary.json content and order, headline sentences."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from leadsync.errors import ExitCode
from leadsync.models import COUNT_KEYS
from leadsync.report import RunReport, iso_utc
from leadsync.report.model import headline

from .builders import small_report

SUMMARY_KEYS = [
    "exit_code",
    "exit_meaning",
    "headline",
    "dry_run",
    "interrupted",
    "mode",
    "command",
    "job",
    "started_at",
    "finished_at",
    "duration_s",
    "overrides",
    "api",
    "timings",
    "sources",
    "settings",
    "totals",
    "campaigns",
    "status_before",
    "status_after",
    "messages",
    "refusal",
    "leadsync_version",
]


def test_totals_sum_every_count_key_over_campaigns() -> None:
    report = RunReport(
        command="sync",
        campaigns={"B": {"added": 2, "rows_read": 5}, "A": {"added": 3, "failed": 1}},
    )
    totals = report.totals()
    assert list(totals) == list(COUNT_KEYS)
    assert totals["added"] == 5
    assert totals["rows_read"] == 5
    assert totals["failed"] == 1
    assert totals["deleted"] == 0


def test_campaign_counts_fill_missing_keys_sorted_by_name() -> None:
    report = RunReport(command="sync", campaigns={"b": {"added": 1}, "a": {"unknown": 9}})
    counts = report.campaign_counts()
    assert list(counts) == ["a", "b"]
    assert all(list(c) == list(COUNT_KEYS) for c in counts.values())
    assert "unknown" not in counts["a"]


def test_summary_keys_order_and_types() -> None:
    summary = small_report().summary_dict()
    assert list(summary) == SUMMARY_KEYS
    assert summary["started_at"] == "2024-05-01T12:00:00.000Z"
    assert summary["finished_at"] == "2024-05-01T12:00:12.500Z"
    assert summary["duration_s"] == 12.5
    assert list(summary["api"])[:3] == ["requests", "retries", "throttled"]
    assert summary["api"]["relogins"] == 0
    assert summary["sources"][0]["path"] == "leads.xlsx"
    assert {"path", "sha256", "format", "sheet", "rows", "columns"} <= set(summary["sources"][0])
    for counts in [summary["totals"], *summary["campaigns"].values()]:
        assert list(counts) == list(COUNT_KEYS)
    assert summary["totals"]["rows_read"] == 7
    assert summary["campaigns"]["Spring Promo"]["rows_rejected"] == 2
    json.dumps(summary)  # plain JSON types only


def test_summary_api_counters_default_to_zero() -> None:
    assert RunReport(command="validate").summary_dict()["api"] == {
        "requests": 0,
        "retries": 0,
        "throttled": 0,
    }


def test_secrets_never_reach_the_summary() -> None:
    text = json.dumps(small_report().summary_dict())
    assert "s3cret-pw" not in text
    assert "k3y-secret" not in text
    assert '"password": "***"' in text


def test_iso_utc_converts_and_marks_utc() -> None:
    from datetime import timedelta, timezone

    plus2 = timezone(timedelta(hours=2))
    assert iso_utc(datetime(2024, 1, 1, 14, 0, tzinfo=plus2)) == "2024-01-01T12:00:00.000Z"
    assert iso_utc(datetime(2024, 1, 1, 12, 0)) == "2024-01-01T12:00:00.000Z"
    assert iso_utc(None) is None


def test_unfinished_report_has_no_duration() -> None:
    report = RunReport(command="sync", started_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert report.duration_s() is None
    assert report.summary_dict()["finished_at"] is None


def test_reason_counts_most_frequent_first() -> None:
    assert small_report().reason_counts() == [
        ("duplicate", 1),
        ("phone-invalid", 1),
        ("priority-not-integer", 1),
        ("status-unknown", 1),
    ]


def test_headline_dry_run_one_campaign() -> None:
    report = RunReport(
        command="sync",
        dry_run=True,
        campaigns={"Spring Promo": {"rows_read": 123, "planned_add": 120, "planned_delete": 3}},
    )
    assert headline(report) == (
        "Dry run: 120 leads would be added to Spring Promo and 3 removed; nothing was changed."
    )


def test_headline_applied_with_failures_and_rejections() -> None:
    assert small_report().headline() == (
        "1 lead was added to 2 campaigns, 1 status changed and 1 removed; 1 operation failed. "
        "2 input rows were rejected (see rejected.csv)."
    )


def test_headline_clean_sync_says_nothing_failed() -> None:
    report = RunReport(command="sync", campaigns={"X": {"rows_read": 2, "added": 2}})
    assert report.headline() == "2 leads were added to X; nothing failed."


def test_headline_refusal_and_validate() -> None:
    refused = RunReport(
        command="sync",
        exit_code=ExitCode.REFUSED,
        refusal="the plan would delete 500 of 1,000 leads of Spring Promo (50%).",
    )
    assert refused.headline() == (
        "Refused: the plan would delete 500 of 1,000 leads of Spring Promo (50%). "
        "Nothing was changed in the dialer."
    )
    checked = RunReport(
        command="validate",
        campaigns={
            "X": {"rows_read": 10, "rows_valid": 8, "rows_rejected": 1, "rows_duplicate": 1}
        },
    )
    assert checked.headline().startswith(
        "Validation only, nothing was sent to the dialer: 10 rows read, 8 valid, 1 rejected, "
        "1 duplicate."
    )


def test_headline_residual_differences() -> None:
    report = RunReport(
        command="sync",
        exit_code=ExitCode.FAILED,
        campaigns={"X": {"rows_read": 3, "added": 2, "residual": 1}},
    )
    assert "1 difference still remains after verification" in report.headline()
