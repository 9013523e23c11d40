"""Run reports built by hand, as the pipeline would fill them (no reader, no API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from leadsync.config import Settings
from leadsync.models import (
    COUNT_KEYS,
    IssueKind,
    OpKind,
    OpOutcome,
    OpResult,
    RowIssue,
    SourceInfo,
)
from leadsync.report import ROW_COLUMNS, RunReport

INJECTION = '=HYPERLINK("http://x","y")'
STARTED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def issue(row: int, codes: tuple[str, ...], values: dict[str, str], **kw: object) -> RowIssue:
    defaults: dict[str, object] = {
        "file": "leads.xlsx",
        "sheet": "Sheet1",
        "kind": IssueKind.REJECTED,
        "message": f"row {row}: {', '.join(codes)}",
        "campaign": "Spring Promo",
        "number": None,
    }
    defaults.update(kw)
    return RowIssue(row=row, codes=codes, values=values, **defaults)  # type: ignore[arg-type]


def small_report(*, dry_run: bool = False, command: str = "sync") -> RunReport:
    """Two campaigns, 7 input rows (4 accepted, 2 rejected, 1 duplicate), 5 operations."""
    issues = [
        issue(
            3,
            ("phone-invalid",),
            {"Phone": "555", "First Name": INJECTION, "Priority": "2"},
            message="Row 3: the number 555 is not a valid US number.",
        ),
        issue(
            5,
            ("priority-not-integer", "status-unknown"),
            {"Phone": "+12135550105", "First Name": "Bo", "Priority": "high", "Status": "hot"},
            number="+12135550105",
            message="Row 5: priority 'high' is not a whole number; status 'hot' is unknown.",
        ),
        issue(
            7,
            ("duplicate",),
            {"Phone": "+12135550101", "First Name": "Ann again"},
            kind=IssueKind.DUPLICATE,
            number="+12135550101",
            duplicate_of_row=2,
            message="Row 7 repeats row 2 (same number).",
        ),
    ]
    rows = pd.DataFrame(
        [
            ("leads.xlsx", "Sheet1", 2, "Spring Promo", "+12135550101", "added", "a1", None, None),
            (
                "leads.xlsx",
                "Sheet1",
                3,
                "Spring Promo",
                None,
                "rejected",
                None,
                "phone-invalid",
                issues[0].message,
            ),
            (
                "leads.xlsx",
                "Sheet1",
                4,
                "Spring Promo",
                "+12135550104",
                "unchanged",
                "a4",
                None,
                None,
            ),
            (
                "leads.xlsx",
                "Sheet1",
                5,
                "Spring Promo",
                "+12135550105",
                "rejected",
                None,
                "priority-not-integer;status-unknown",
                issues[1].message,
            ),
            (
                "leads.xlsx",
                "Sheet1",
                6,
                "Winter <Sale> & Co",
                "+12135550106",
                "failed",
                None,
                "bad-request",
                "PUT …/lead → 400: The information sent is invalid.",
            ),
            (
                "leads.xlsx",
                "Sheet1",
                7,
                "Spring Promo",
                "+12135550101",
                "duplicate",
                None,
                "duplicate",
                issues[2].message,
            ),
            (
                "leads.xlsx",
                "Sheet1",
                8,
                "Winter <Sale> & Co",
                "+12135550108",
                "status_set",
                "a8",
                None,
                None,
            ),
        ],
        columns=list(ROW_COLUMNS),
    ).astype({"row": "Int64"})
    if dry_run:
        rows["outcome"] = rows["outcome"].replace(
            {"added": "planned_add", "status_set": "planned_status", "failed": "planned_add"}
        )
    spring = dict.fromkeys(COUNT_KEYS, 0) | {
        "rows_read": 5,
        "rows_valid": 2,
        "rows_rejected": 2,
        "rows_duplicate": 1,
        "planned_add": 1,
        "planned_delete": 1,
        "unchanged": 1,
        "kept": 1,
        "remote_before": 10,
        "remote_after": 10,
    }
    winter = {
        "rows_read": 2,
        "rows_valid": 2,
        "planned_add": 1,
        "planned_status": 1,
        "remote_before": 3,
        "remote_after": 4,
    }
    if not dry_run:
        spring |= {"added": 1, "deleted": 1, "remote_after": 10}
        winter |= {"status_set": 1, "failed": 1, "remote_after": 3}
    ops = [
        OpResult(1, OpKind.ADD, "c" * 32, "+12135550101", OpOutcome.DONE, 1, 200, method="PUT"),
        OpResult(
            2, OpKind.DELETE, "c" * 32, "+12135550199", OpOutcome.DONE, 2, 200, lead_id="gone1"
        ),
        OpResult(
            3,
            OpKind.ADD,
            "d" * 32,
            "+12135550106",
            OpOutcome.FAILED,
            1,
            400,
            message="The information sent is invalid. <b>",
            method="PUT",
        ),
        OpResult(
            4, OpKind.SET_STATUS, "d" * 32, "+12135550108", OpOutcome.DONE, 1, 200, lead_id="a8"
        ),
    ]
    settings = Settings(api={"password": "s3cret-pw", "api_key": "k3y-secret"}).redacted()
    return RunReport(
        command=command,  # type: ignore[arg-type]
        exit_code=0 if dry_run else 1,
        dry_run=dry_run,
        mode="mirror",
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=12.5),
        job="nightly",
        overrides=["--allow-mass-delete"],
        api={"requests": 42, "retries": 3, "throttled": 1, "relogins": 0, "errors": 1},
        timings={"read": 0.25, "fetch": 1.5, "apply": 9.0},
        sources=[
            SourceInfo(
                "leads.xlsx",
                "ab" * 32,
                "xlsx",
                "Sheet1",
                None,
                None,
                1,
                7,
                {"number": "Phone", "first_name": "First Name"},
            )
        ],
        settings=settings,
        campaigns={"Spring Promo": spring, "Winter <Sale> & Co": winter},
        rows=rows,
        issues=issues,
        operations=[] if dry_run else ops,
        kept=pd.DataFrame(
            {
                "id": ["k1"],
                "number": ["+12135550177"],
                "status": ["success"],
                "reason": ["dialed: status success is not in delete_statuses"],
            }
        ),
        drift=pd.DataFrame(
            {"id": ["a4"], "field": ["first_name"], "file": ["Ann"], "remote": ["Anne"]}
        ),
        status_before={"Spring Promo": {"new": 8, "success": 2}, "Winter <Sale> & Co": {"new": 3}},
        status_after={
            "Spring Promo": {"new": 8, "success": 2},
            "Winter <Sale> & Co": {"new": 2, "success": 1},
        },
        messages=["Extension dropped from 1 number (row 9)."],
    )


def big_report(n: int, *, rejected_every: int = 50, accepted: str = "added") -> RunReport:
    """One campaign, ``n`` input rows; every ``rejected_every``-th row rejected, the others
    with outcome ``accepted``."""
    idx = np.arange(n)
    rejected = idx % rejected_every == 0
    numbers = pd.Series([f"+1213{i:07d}" for i in idx], dtype="str")
    rows = pd.DataFrame(
        {
            "file": pd.Series(["big.csv"] * n, dtype="str"),
            "sheet": pd.Series([None] * n, dtype="str"),
            "row": pd.Series(idx + 2, dtype="Int64"),
            "campaign": pd.Series(["Spring Promo"] * n, dtype="str"),
            "number": numbers,
            "outcome": pd.Series(np.where(rejected, "rejected", accepted), dtype="str"),
            "lead_id": pd.Series([f"id{i}" for i in idx], dtype="str"),
            "reasons": pd.Series(np.where(rejected, "phone-invalid", ""), dtype="str"),
            "message": pd.Series(np.where(rejected, "bad number", ""), dtype="str"),
        }
    )
    issues = [
        issue(
            int(i) + 2,
            ("phone-invalid",),
            {"phone": f"x{i}", "name": f"N{i}"},
            file="big.csv",
            sheet=None,
            message="bad number",
        )
        for i in idx[rejected]
    ]
    n_rej = int(rejected.sum())
    counts = {
        "rows_read": n,
        "rows_valid": n - n_rej,
        "rows_rejected": n_rej,
        "planned_add": n - n_rej,
        "added": n - n_rej,
    }
    return RunReport(
        command="sync",
        started_at=STARTED,
        finished_at=STARTED + timedelta(minutes=5),
        campaigns={"Spring Promo": counts},
        rows=rows,
        issues=issues,
    )
