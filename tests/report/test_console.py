"""The console: summary table per campaign with totals, outcome sentence, folder; progress as
a live bar on a terminal and as throttled plain lines otherwise."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from leadsync.report import RunReport, make_progress, print_summary

from .builders import small_report


def console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, force_terminal=terminal, color_system=None), out


def test_summary_table_has_each_campaign_totals_sentence_and_folder() -> None:
    con, out = console(terminal=False)
    report = small_report()
    print_summary(report, con, Path("reports/20240501T120000Z_leads"))
    text = out.getvalue()
    assert "Spring Promo" in text
    assert "Winter <Sale> & Co" in text
    assert "total" in text
    assert report.headline().split(";")[0] in text.replace("\n", " ")
    assert "exit code 1: finished with failed operations" in text
    assert "report: reports/20240501T120000Z_leads" in text
    assert "Extension dropped from 1 number (row 9)." in text
    header = next(line for line in text.splitlines() if "Spring Promo" in line)
    assert header.split("┃")[2:5] == [" Spring Promo ", " Winter <Sale> & Co ", " total "]
    lines = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:5]]
        for line in text.splitlines()
        if line.startswith("│")
    }
    assert lines["rows read"] == ["5", "2", "7"]
    assert lines["added"] == ["1", "0", "1"]
    assert lines["status changed"] == ["0", "1", "1"]
    assert lines["failed"] == ["0", "1", "1"]
    assert "valid rows" not in lines  # only what matters for an applied sync


def test_campaign_names_are_not_markup() -> None:
    con, out = console(terminal=False)
    report = RunReport(command="validate", campaigns={"[red]x[/red]": {"rows_read": 1}})
    print_summary(report, con)
    assert "[red]x[/red]" in out.getvalue()


def test_many_campaigns_get_one_line_each() -> None:
    con, out = console(terminal=False)
    campaigns = {f"C{i:02d}": {"rows_read": i, "rows_valid": i} for i in range(8)}
    print_summary(RunReport(command="validate", campaigns=campaigns), con)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("│")]
    assert len(lines) == 9
    assert [cell.strip() for cell in lines[-1].split("│")[1:3]] == ["total", "28"]


def test_summary_uses_the_written_folder(tmp_path: Path) -> None:
    from leadsync.report import write_report

    report = RunReport(command="validate", campaigns={"X": {"rows_read": 1, "rows_valid": 1}})
    write_report(report, tmp_path / "out")
    con, out = console(terminal=False)
    print_summary(report, con)
    assert f"report: {tmp_path / 'out'}" in out.getvalue().replace("\n", "")
    assert "total" not in out.getvalue()  # one campaign: no totals line


def test_plain_progress_prints_throttled_lines() -> None:
    con, out = console(terminal=False)
    now = [0.0]
    progress = make_progress(con, clock=lambda: now[0], interval_s=5.0)
    progress("read", 0, 1000)  # a start: no line
    progress("read", 10, 1000)
    now[0] = 1.0
    progress("read", 100, 1000)  # too soon: no line
    now[0] = 6.0
    progress("read", 600, 1000)
    progress("read", 1000, 1000)  # finished: always a line
    progress("read", 1000, 1000)  # already finished: no repeat
    progress("fetch", 3, None)  # unknown total
    progress.close()
    assert out.getvalue().splitlines() == [
        "read: 10/1,000 (1%)",
        "read: 600/1,000 (60%)",
        "read: 1,000/1,000 (100%)",
        "fetch: 3",
    ]


def test_terminal_progress_draws_a_bar_per_stage() -> None:
    con, out = console(terminal=True)
    with make_progress(con) as progress:
        progress("read", 5, 10)
        progress("apply", 2, 4)
        progress("read", 10, 10)
    text = out.getvalue()
    assert "read" in text and "apply" in text
    assert "10/10" in text and "2/4" in text
