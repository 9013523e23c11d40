"""export_leads: every lead, streamed page by page, formula-safe, atomic."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook

from leadsync.api import CampaignsClient
from leadsync.api.export import EXPORT_COLUMNS, export_leads
from leadsync.errors import ServerError, UsageError
from leadsync.sandbox import Sandbox
from tests.conftest import MakeSandbox
from tests.helpers import settings_for

CREATED = 1_700_000_000


def seed(sb: Sandbox, n: int) -> str:
    cid = sb.state.add_campaign("Export Me")
    leads = [
        {"number": f"+1213555{i:04d}", "first_name": f"N{i}", "priority": i % 5, "created": CREATED}
        for i in range(n)
    ]
    leads[0]["first_name"] = '=HYPERLINK("http://x","y")'
    leads[1]["last_name"] = "@SUM(A1)"
    sb.state.add_leads(cid, leads)
    return cid


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_export_streams_every_page(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    sb = make_sandbox(page_cap=10)
    cid = seed(sb, 35)
    out = tmp_path / "leads.csv"
    seen: list[int] = []
    with CampaignsClient(settings_for(sb)) as c:
        assert export_leads(c, "export me", out, progress=seen.append) == 35
    assert seen == [10, 20, 30, 35]  # one progress call per page as it is written
    rows = read_csv(out)
    assert [r["id"] for r in rows] == [lead["id"] for lead in sb.state.leads(cid)]
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert rows[0]["first_name"] == '\'=HYPERLINK("http://x","y")'  # escaped
    assert rows[1]["last_name"] == "'@SUM(A1)"
    assert rows[2]["number"] == "+12135550002"  # a plain E.164 number is left alone
    assert rows[2]["created_utc"] == "2023-11-14T22:13:20Z"
    assert rows[2]["priority"] == "2"


def test_xlsx_export(sandbox: Sandbox, tmp_path: Path) -> None:
    cid = seed(sandbox, 5)
    out = tmp_path / "leads.xlsx"
    with CampaignsClient(settings_for(sandbox)) as c:
        campaign = c.resolve_campaign(cid)
        assert export_leads(c, campaign, out) == 5
    book = load_workbook(out, read_only=True)
    rows = list(book["Leads"].iter_rows(values_only=True))
    book.close()  # a read-only workbook keeps its file open until closed
    assert rows[0] == EXPORT_COLUMNS
    assert len(rows) == 6
    assert rows[1][4] == '\'=HYPERLINK("http://x","y")'
    assert rows[3][2] == "+12135550002" and rows[3][6] == 2  # text stays text, ints ints


def test_failed_export_leaves_no_file(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    sb = make_sandbox(page_cap=10)
    cid = seed(sb, 35)
    out = tmp_path / "leads.csv"
    with CampaignsClient(settings_for(sb, retry_attempts=1)) as c, pytest.raises(ServerError):
        export_leads(c, cid, out, progress=lambda n: sb.configure(fail_rate=1.0))
    assert list(tmp_path.iterdir()) == []  # neither the file nor its partial copy


def test_empty_campaign_and_bad_suffix(sandbox: Sandbox, tmp_path: Path) -> None:
    cid = sandbox.state.add_campaign("Nothing")
    with CampaignsClient(settings_for(sandbox)) as c:
        assert export_leads(c, cid, tmp_path / "empty.csv") == 0
        with pytest.raises(UsageError, match=r"\.csv or \.xlsx"):
            export_leads(c, cid, tmp_path / "leads.txt")
    assert read_csv(tmp_path / "empty.csv") == []
