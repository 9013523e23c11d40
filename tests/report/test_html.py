"""report.html: one self-contained page (nothing to load), everything escaped, the numbers of
summary.json, the problem rows capped with a note."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from leadsync.models import COUNT_KEYS
from leadsync.report import ROW_COLUMNS, RunReport, write_report
from leadsync.report import html as html_module
from leadsync.report.html import render_html

from .builders import big_report, small_report

LOADING_ATTRS = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background"}


class PageParser(HTMLParser):
    """Collects tags with their attributes and the text, to inspect a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("html")
    write_report(small_report(), folder)
    return folder


@pytest.fixture(scope="module")
def page(written: Path) -> str:
    return (written / "report.html").read_text(encoding="utf-8")


def test_nothing_is_loaded_from_anywhere(page: str) -> None:
    parsed = parse(page)
    for tag, attrs in parsed.tags:
        assert tag not in {"link", "iframe", "object", "embed", "img", "base"}, tag
        if tag == "script":
            assert "src" not in attrs
        for name in LOADING_ATTRS & set(attrs):
            value = attrs[name] or ""
            assert not re.match(r"\s*(https?:|//|ftp:|data:)", value, re.I), (tag, name, value)
    assert "@import" not in page
    assert not re.search(r"url\(", page), "CSS must not load anything"
    assert "<script>" in page  # the inline filter


def test_links_point_only_at_files_of_the_folder(written: Path, page: str) -> None:
    hrefs = [a["href"] for t, a in parse(page).tags if t == "a" and a.get("href")]
    assert hrefs
    for href in hrefs:
        assert (written / str(href)).is_file(), href


def test_user_text_is_escaped() -> None:
    report = small_report()
    report.messages.append("<script>alert('x')</script>")
    report.rows.loc[1, "message"] = "<img src=x onerror=alert(1)>"
    page = render_html(report)
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "Winter &lt;Sale&gt; &amp; Co" in page
    assert "<Sale>" not in page
    assert "The information sent is invalid. &lt;b&gt;" in page  # failed operation message


def test_quotes_cannot_leave_an_attribute() -> None:
    # Campaign names land in attributes too (the chart's titles, the status table): a quote
    # must not end the attribute and add one of its own.
    name = 'Promo" onmouseover="alert(1)'
    report = small_report()
    report.campaigns = {name: report.campaigns["Spring Promo"]}
    report.status_before = {name: {"new": 1}}
    page = render_html(report)
    assert 'onmouseover="alert(1)' not in page
    assert "Promo&#34; onmouseover=&#34;alert(1)" in page
    tags = [attrs for _, attrs in parse(page).tags]
    assert not any("onmouseover" in attrs for attrs in tags)


def test_cards_and_campaign_table_show_the_summary_numbers(written: Path, page: str) -> None:
    summary = json.loads((written / "summary.json").read_text(encoding="utf-8"))
    cards = dict(re.findall(r'data-key="(\w+)"[^>]*><div class="num">([\d,]+)</div>', page))
    assert cards["rows_read"] == "7"
    for key, value in cards.items():
        assert int(value.replace(",", "")) == summary["totals"][key], key
    assert {"added", "failed", "rows_rejected", "kept"} <= set(cards)
    # per campaign: one column per campaign, then Total
    cells = re.findall(r'<td class="n( total)?" data-key="(\w+)">([\d,]+)</td>', page)
    spring = [(k, v) for t, k, v in cells[0::3]]
    totals = [(k, v) for t, k, v in cells[2::3]]
    for key, value in spring:
        assert int(value) == summary["campaigns"]["Spring Promo"][key]
    for key, value in totals:
        assert int(value) == summary["totals"][key]


def test_headline_meta_and_sections(page: str) -> None:
    report = small_report()
    text = " ".join(parse(page).text)
    assert report.headline() in text
    assert "finished with failed operations or residual differences" in text
    assert "--allow-mass-delete" in text
    assert "requests 42" in text
    for section in (
        "chart-section",
        "status-section",
        "reasons-section",
        "problems-section",
        "failed-ops-section",
        "meta-section",
    ):
        assert f'id="{section}"' in page
    assert "<svg" in page and "</svg>" in page


def test_problem_table_lists_rejected_and_failed_rows_only(page: str) -> None:
    body = page.split('id="problems"')[1].split("</table>")[0]
    assert body.count("<tr>") == 4  # header + 2 rejected + 1 failed
    assert "outcome-failed" in body and "outcome-rejected" in body
    assert "duplicate</td>" not in body


def test_problem_rows_are_capped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_module, "MAX_PROBLEM_ROWS", 30)
    page = render_html(big_report(5_000, rejected_every=100))  # 50 rejected rows
    body = page.split('id="problems"')[1].split("</table>")[0]
    assert body.count("<tr>") == 31
    assert "Showing the first 30 of 50 rows that need attention" in page


def test_validate_page_without_campaign_counts(tmp_path: Path) -> None:
    rows = pd.DataFrame(columns=list(ROW_COLUMNS))
    page = render_html(RunReport(command="validate", rows=rows))
    assert "No campaign was involved." in page
    assert "Nothing to chart" in page


def test_many_campaigns_switch_to_one_row_per_campaign() -> None:
    campaigns = {f"C{i:02d}": {"rows_read": i, "rows_valid": i} for i in range(12)}
    page = render_html(RunReport(command="validate", campaigns=campaigns))
    assert 'class="by-campaign"' in page
    assert page.count('<tr class="total">') == 1
    for key in COUNT_KEYS:
        assert key in html_module.COUNT_LABELS


def test_dry_run_statuses_have_no_after_and_no_change() -> None:
    report = small_report(dry_run=True)
    report.status_after = {}
    section = render_html(report).split('id="status-section"')[1].split("</section>")[0]
    assert section.count("not read") == 3  # one per status before
    assert "delta-neg" not in section and "delta-pos" not in section
    assert "A dry run changes nothing" in section


def test_status_changes_are_signed() -> None:
    section = render_html(small_report()).split('id="status-section"')[1].split("</section>")[0]
    assert '<td class="n delta-neg">-1</td>' in section
    assert '<td class="n delta-pos">+1</td>' in section
