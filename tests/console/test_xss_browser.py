"""Markup in file names, sheet names, headers, cells and campaign names stays text: shown
escaped on every page, never run (headless Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.support import SAMPLE_DIR, ConsoleEnv, numbers, write_csv

pytestmark = pytest.mark.chromium

#: Each payload sets window.__xss (or opens an alert) if it ever runs.
FILE_NAME = "<img src=x onerror=window.__xss=1>.csv"
HEADER = "<script>window.__xss=2</script>"
CELL = '<img src=x onerror="window.__xss=3;alert(3)">'
SHEET = "<svg onload=window.__xss=4>"  # 27 characters: a legal sheet name
CAMPAIGN = "<img src=x onerror=alert(5)>"


def inert(page: Page, dialogs: list[str]) -> None:
    for frame in page.frames:
        assert frame.evaluate("window.__xss") is None, f"a payload ran in {frame.url}"
    assert dialogs == [], f"a payload opened a dialog: {dialogs}"


def test_payloads_stay_inert_from_upload_to_report(
    page: Page, env: ConsoleEnv, dialogs: list[str], tmp_path: Path
) -> None:
    cid = env.sandbox.state.add_campaign(CAMPAIGN)
    nums = numbers(6, 8000)
    folder = tmp_path / "files"
    folder.mkdir()
    csv_file = write_csv(
        folder / FILE_NAME,
        ["phone", "notes", HEADER],
        [
            [nums[0], CELL, CELL],
            [nums[1], "ok", HEADER],
            *[[n, "", ""] for n in nums[3:]],
            ["not a phone " + CELL, CELL, ""],  # rejected, its cells shown with the reason
        ],
    )
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    sheet.append(["phone", "first name"])
    sheet.append([nums[2], CELL])
    book.save(folder / "book.xlsx")

    page.goto(f"{env.base}/campaigns")
    expect(page.locator("#campaigns td.c-name", has_text=CAMPAIGN)).to_have_count(1)
    inert(page, dialogs)

    page.goto(f"{env.base}/imports/new")
    page.set_input_files("input[name=files]", [str(csv_file), str(folder / "book.xlsx")])
    page.select_option("select[name=campaign]", value=cid)
    page.click("#upload button[type=submit]")
    page.wait_for_url(re.compile(r"/map$"))
    expect(page.locator("th.header", has_text=HEADER)).to_have_count(1)
    expect(page.locator("span.sheet", has_text=SHEET).first).to_be_visible()
    expect(page.locator("table.preview td", has_text=CELL).first).to_be_visible()
    assert "&lt;script&gt;window.__xss=2&lt;/script&gt;" in page.content()
    inert(page, dialogs)

    page.click("button[data-continue]")
    page.wait_for_url(re.compile(r"/review"))
    expect(page.locator("table#review-plan")).to_contain_text(FILE_NAME)
    page.click("nav.tabs a:has-text('Rejected rows')")
    expect(page.locator("table#review-rejected")).to_contain_text(CELL)
    inert(page, dialogs)
    page.click("nav.tabs a:has-text('Plan per lead')")
    page.click("#approve button[type=submit]")
    page.wait_for_url(re.compile(r"/result"))
    expect(page.locator("#headline")).to_contain_text("6 leads were added")
    expect(page.locator("table#rows")).to_contain_text(FILE_NAME)
    page.frame_locator("#report-frame").locator("body").wait_for()
    inert(page, dialogs)

    page.goto(f"{env.base}/history")
    page.click("#history a >> nth=0")
    page.frame_locator("#report-frame").locator("body").wait_for()
    inert(page, dialogs)


def test_no_token_and_no_csrf_token_are_refused_in_the_browser(
    page: Page, browser: Browser, env: ConsoleEnv
) -> None:
    stranger = browser.new_context()
    try:
        other = stranger.new_page()
        response = other.goto(f"{env.base}/imports/new")
        assert response is not None and response.status == 401
        expect(other.locator("h1")).to_have_text("Sign-in needed")
        response = other.goto(f"{env.base}/imports/new?token=wrong-token-0123456789")
        assert response is not None and response.status == 403
    finally:
        stranger.close()
    # A signed-in page whose form lost its CSRF token (as a forged cross-site form would).
    before = len(list(env.console.store))
    page.goto(f"{env.base}/imports/new")
    page.set_input_files("input[name=files]", str(SAMPLE_DIR / "spring_promo.csv"))
    page.evaluate("document.querySelector('#upload input[name=csrf_token]').remove()")
    with page.expect_navigation() as nav:
        page.click("#upload button[type=submit]")
    assert nav.value is not None and nav.value.status == 403
    expect(page.locator("p.error")).to_contain_text("no valid CSRF token")
    assert before == len(list(env.console.store))  # no import was made
