"""The whole console flow in headless Chromium against the sandbox: upload → map → review →
approve → result with lead ids; a mapping fixed by hand; a mass delete refused and overridden;
a stale plan refused and re-planned; progress that survives a reload; pages hold one page."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from leadsync.console import flows
from leadsync.console.review import PAGE_SIZE
from tests.console.support import SAMPLE_DIR, ConsoleEnv, numbers, write_csv

pytestmark = pytest.mark.chromium


def upload(
    page: Page, env: ConsoleEnv, files: list[Path], *, campaign: str = "", mode: str = "upsert"
) -> None:
    page.goto(f"{env.base}/imports/new")
    page.set_input_files("input[name=files]", [str(f) for f in files])
    page.select_option("select[name=campaign]", value=env.campaigns.get(campaign, campaign))
    page.check(f"input[name=mode][value={mode}]")
    page.click("#upload button[type=submit]")
    page.wait_for_url(re.compile(r"/imports/[0-9a-f]+/map$"))


def continue_to_review(page: Page) -> None:
    page.click("button[data-continue]")
    page.wait_for_url(re.compile(r"/review"))


def approve(page: Page) -> None:
    page.click("#approve button[type=submit]")
    page.wait_for_url(re.compile(r"/result"))


def action_count(page: Page, action: str) -> int:
    return int(page.locator(f"#counts a[data-action={action}] b").inner_text().replace(",", ""))


def rows_of(page: Page, table: str) -> Locator:
    """The rows of a table; assert on them with ``expect`` so a click's navigation is waited for."""
    return page.locator(f"table#{table} tbody tr")


def test_the_sample_files_from_upload_to_lead_ids(page: Page, env: ConsoleEnv) -> None:
    expect(page.locator("#campaigns")).to_contain_text("Spring Promo")
    upload(page, env, [SAMPLE_DIR / "spring_promo.csv", SAMPLE_DIR / "renewals.xlsx"])
    # Both files are mapped by the synonyms: header row 3 (under a title), no block.
    expect(page.locator("section.file")).to_have_count(2)
    expect(page.locator("[data-phone-missing]:visible")).to_have_count(0)
    expect(page.locator("select[name=col-0-2]")).to_have_value("number")
    continue_to_review(page)
    expect(page.locator("#headline")).to_contain_text("would be added")
    planned = action_count(page, "add")
    assert planned == 29 and action_count(page, "status") == 1
    assert action_count(page, "kept") == 2 and action_count(page, "drift") == 1
    # Rejected rows with their reasons; rejected.csv downloads.
    page.click("nav.tabs a:has-text('Rejected rows')")
    expect(page.locator("table#review-rejected")).to_contain_text("phone-")
    rejected = page.request.get(
        env.base + (page.locator("#rejected-csv").get_attribute("href") or "")
    )
    assert rejected.ok and "error" in rejected.text().splitlines()[0]
    # Duplicates name their twin row.
    page.click("nav.tabs a:has-text('Duplicates')")
    twins = page.locator("table#review-duplicates td.c-twin_row")
    expect(twins.first).to_be_visible()
    assert twins.first.inner_text().strip().isdigit()
    # The saved plan is the file `leadsync plan --out` writes.
    page.click("nav.tabs a:has-text('Plan per lead')")
    saved = json.loads(page.request.get(page.url.split("/review")[0] + "/plan.json").text())
    assert saved["format"] == "leadsync-plan" and len(saved["operations"]) == 30
    approve(page)
    expect(page.locator("#headline")).to_contain_text("29 leads were added")
    expect(page.locator("#exit-code")).to_have_text("0")
    expect(page.locator("#report-frame")).to_have_attribute("sandbox", "allow-scripts")
    # Every added row shows the lead id the dialer gave it.
    added = page.locator("table#rows tbody tr")
    expect(added).to_have_count(29)
    by_number = {
        lead["number"]: lead["id"]
        for name in ("Spring Promo", "Renewals")
        for lead in env.leads(name)
    }
    for i in range(added.count()):
        number = added.nth(i).locator("td.c-number").inner_text()
        assert added.nth(i).locator("td.c-lead_id").inner_text() == by_number[number]
    rows_link = page.locator("a:has-text('rows.csv')").first.get_attribute("href") or ""
    rows_csv = page.request.get(env.base + rows_link)
    assert rows_csv.ok and by_number["+14155550134"] in rows_csv.text()
    # A second approval of the same plan is refused, as `leadsync apply` refuses it.
    page.goto(page.url.replace("/result", "/review"))
    expect(page.locator("section.approve")).to_contain_text("was applied")
    iid = page.url.split("/imports/")[1].split("/")[0]
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    again = page.request.post(
        f"{env.base}/imports/{iid}/approve",
        form={"csrf_token": csrf, "plan_id": saved["plan_id"]},
    )
    assert again.ok
    page.goto(f"{env.base}/imports/{iid}")
    page.wait_for_url(re.compile(r"/result"))
    expect(page.locator("#refusal")).to_contain_text("already applied")
    expect(page.locator("#exit-code")).to_have_text("3")
    # The history lists both the plan run and the applies, with their headlines.
    page.goto(f"{env.base}/history")
    expect(page.locator("#history")).to_contain_text("29 leads were added")


def test_an_unmapped_phone_column_blocks_until_it_is_mapped(
    page: Page, env: ConsoleEnv, tmp_path: Path
) -> None:
    nums = numbers(6, start=100)
    source = write_csv(
        tmp_path / "crm export.csv",
        ["Tel (direct)", "Given", "Family name"],
        [[n, f"First{i}", f"Last{i}"] for i, n in enumerate(nums)],
    )
    upload(page, env, [source], campaign="Winter Leads", mode="add")
    expect(page.locator("[data-phone-missing]")).to_be_visible()
    expect(page.locator("[data-phone-missing]")).to_contain_text("No column is mapped to number")
    expect(page.locator("button[data-continue]")).to_be_disabled()
    page.select_option("select[name=col-0-0]", "number")
    page.select_option("select[name=col-0-1]", "first_name")
    expect(page.locator("[data-phone-missing]")).to_be_hidden()
    expect(page.locator("button[data-continue]")).to_be_enabled()
    page.check("input[name=save_named]")
    page.fill("input[name=save_name]", "direct-tel")
    continue_to_review(page)
    expect(page.locator(".note")).to_contain_text("mapping saved as 'direct-tel'")
    assert action_count(page, "add") == 6
    expect(page.locator("table#review-plan")).to_contain_text("First0")
    approve(page)
    expect(page.locator("#headline")).to_contain_text("6 leads were added")
    ids = page.locator("table#rows td.c-lead_id").all_inner_texts()
    assert len(ids) == 6 and all(ids)
    assert {lead["first_name"] for lead in env.leads("Winter Leads")} >= {"First0", "First5"}
    # The mapping is offered for the next import.
    page.goto(f"{env.base}/imports/new")
    expect(page.locator("select[name=mapping]")).to_contain_text("direct-tel")
    assert (env.console.mappings_dir / "direct-tel.toml").read_text().count("Tel (direct)") == 1


def test_a_mass_delete_is_refused_then_overridden_and_recorded(
    page: Page, env: ConsoleEnv, tmp_path: Path
) -> None:
    nums = numbers(40, start=1000)
    cid = env.sandbox.state.add_campaign("Mass Test")
    env.sandbox.state.add_leads(cid, [{"number": n, "status": "new"} for n in nums])
    env.campaigns["Mass Test"] = cid
    source = write_csv(tmp_path / "keep five.csv", ["phone"], [[n] for n in nums[:5]])
    upload(page, env, [source], campaign="Mass Test", mode="mirror")
    continue_to_review(page)
    expect(page.locator("#refusal")).to_contain_text("refusing a mass delete")
    expect(page.locator("#approve")).to_have_count(0)
    page.fill("#override input[name=override]", "allow-mass-delete")
    page.click("#override button[type=submit]")
    page.wait_for_url(re.compile(r"/review"))
    expect(page.locator("#overrides")).to_contain_text("--allow-mass-delete")
    expect(page.locator("#refusal")).to_have_count(0)
    assert action_count(page, "remove") == 35
    approve(page)
    expect(page.locator("#overrides")).to_contain_text("would lose 35 of 40 leads")
    assert len(env.leads(cid)) == 5
    folder = env.console.store  # the apply's summary.json records the override too
    imp = next(i for i in folder if i.label == "keep five")
    report = imp.last_apply.report if imp.last_apply else None
    assert report is not None and report.folder is not None
    summary = json.loads((report.folder / "summary.json").read_text())
    assert summary["overrides"] and "--allow-mass-delete" in summary["overrides"][0]
    assert (report.folder / "before.csv").is_file()


def test_a_stale_plan_is_refused_and_replanned(page: Page, env: ConsoleEnv, tmp_path: Path) -> None:
    nums = numbers(5, start=2000)
    cid = env.sandbox.state.add_campaign("Stale Test")
    env.sandbox.state.add_leads(cid, [{"number": n, "status": "new"} for n in nums[:3]])
    source = write_csv(tmp_path / "stale.csv", ["phone"], [[n] for n in nums])
    upload(page, env, [source], campaign=cid, mode="upsert")
    continue_to_review(page)
    assert action_count(page, "add") == 2
    # Someone adds one of the file's leads between review and approval.
    env.sandbox.state.add_leads(cid, [{"number": nums[3], "status": "new"}])
    approve(page)
    expect(page.locator("#refusal")).to_contain_text("stale")
    expect(page.locator("#exit-code")).to_have_text("3")
    assert len(env.leads(cid)) == 4  # nothing was written
    page.click("#replan button[type=submit]")
    page.wait_for_url(re.compile(r"/review"))
    expect(page.locator("#difference")).to_contain_text("add (not-in-campaign)")
    changed = page.locator("#difference tr.changed td").all_inner_texts()
    assert changed[:3] == ["add (not-in-campaign)", "2", "1"]
    approve(page)
    expect(page.locator("#exit-code")).to_have_text("0")
    assert sorted(lead["number"] for lead in env.leads(cid)) == sorted(nums)


def test_progress_survives_a_reload(
    page: Page, env: ConsoleEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, started = threading.Event(), threading.Event()
    real = flows.run_apply

    def held_apply(*args: Any, **kwargs: Any) -> Any:
        kwargs["progress"]("apply", 3, 7)  # what the engine reports as operations finish
        started.set()
        assert gate.wait(120), "the test never opened the gate"
        return real(*args, **kwargs)

    monkeypatch.setattr(flows, "run_apply", held_apply)
    source = write_csv(tmp_path / "reload.csv", ["phone"], [[n] for n in numbers(7, 3000)])
    upload(page, env, [source], campaign="Winter Leads", mode="add")
    continue_to_review(page)
    page.click("#approve button[type=submit]")
    assert started.wait(60)
    expect(page.locator("#progress [data-field=done]")).to_have_text("3")
    page.reload()
    expect(page.locator("#progress [data-field=done]")).to_have_text("3")
    expect(page.locator("#progress [data-field=total]")).to_have_text("7")
    gate.set()
    page.wait_for_url(re.compile(r"/result"))
    expect(page.locator("#headline")).to_contain_text("7 leads were added")


def test_no_page_holds_more_than_one_page_of_rows(
    page: Page, env: ConsoleEnv, tmp_path: Path
) -> None:
    many = numbers(3 * PAGE_SIZE + 7, start=5000)
    rows = [[n, "high" if i % 2 else "1"] for i, n in enumerate(many)]
    source = write_csv(tmp_path / "many.csv", ["phone", "priority"], rows)
    cid = env.sandbox.state.add_campaign("Pages Test")
    upload(page, env, [source], campaign=cid, mode="add")
    page.click("button[data-continue]")
    page.wait_for_url(re.compile(r"/review"))
    # Half the rows are rejected (priority "high"): above the reject guard, so refused.
    expect(rows_of(page, "review-plan")).to_have_count(PAGE_SIZE)
    expect(page.locator("nav.pager")).to_contain_text("page 1 of 2")
    page.click("nav.pager a[rel=next]")
    expect(rows_of(page, "review-plan")).to_have_count(len(many) - len(many) // 2 - PAGE_SIZE)
    page.click("nav.tabs a:has-text('Rejected rows')")
    expect(rows_of(page, "review-rejected")).to_have_count(PAGE_SIZE)
    page.fill("input[name=q]", many[1])
    page.click("form.filters button[type=submit]")
    expect(rows_of(page, "review-rejected")).to_have_count(1)
    page.goto(f"{env.base}/history")
    expect(page.locator("#history")).to_be_visible()
    assert rows_of(page, "history").count() <= PAGE_SIZE
