"""Report benchmark: writing the report folder of a large run.

Usage: python bench/bench_report.py [--quick]

Measured side by side in one run:

- ``write_report`` for a run of N input rows (full: 1,000,000, Excel's sheet limit is 1,048,575;
  quick: 50,000), 2% of them rejected: wall and CPU time in total and per file;
- the XLSX Rows sheet: leadsync's writer (openpyxl skeleton + rows built with pyarrow string
  kernels) against the baseline, openpyxl's own write-only ``append`` of the same rows, on a
  sample (full: 100,000 rows; quick: 10,000), compared as rows per CPU second.

CPU seconds are the figure to compare: the machine is shared, so wall time is noisy.
Prints ``metric | measured | target or baseline`` and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

from leadsync.models import IssueKind, RowIssue
from leadsync.report import RunReport, write_report
from leadsync.report.files import write_rejected, write_rows, write_summary
from leadsync.report.html import write_html
from leadsync.report.xlsx import write_xlsx

FULL = {"rows": 1_000_000, "baseline_rows": 100_000}
QUICK = {"rows": 50_000, "baseline_rows": 10_000}
REJECTED_EVERY = 50
#: Targets: CPU seconds for the whole folder per million input rows, and how many times more
#: XLSX rows per CPU second than openpyxl's write-only append.
TARGET_CPU_S_PER_MILLION = 40.0
TARGET_XLSX_SPEEDUP = 3.0


@dataclass
class Row:
    metric: str
    measured: str
    target: str
    ok: bool = True


def make_report(n: int) -> RunReport:
    """A sync of ``n`` rows into one campaign; every REJECTED_EVERY-th row rejected."""
    idx = np.arange(n)
    rejected = idx % REJECTED_EVERY == 0
    rows = pd.DataFrame(
        {
            "file": pd.Series(["leads.xlsx"] * n, dtype="str"),
            "sheet": pd.Series(["Sheet1"] * n, dtype="str"),
            "row": pd.Series(idx + 2, dtype="Int64"),
            "campaign": pd.Series(["Spring Promo"] * n, dtype="str"),
            "number": pd.Series([f"+1213{i:07d}" for i in idx], dtype="str"),
            "outcome": pd.Series(np.where(rejected, "rejected", "added"), dtype="str"),
            "lead_id": pd.Series([f"{i:032x}" for i in idx], dtype="str"),
            "reasons": pd.Series(np.where(rejected, "phone-invalid", ""), dtype="str"),
            "message": pd.Series(np.where(rejected, "phone 'x' is not valid.", ""), dtype="str"),
        }
    )
    issues = [
        RowIssue(
            file="leads.xlsx",
            sheet="Sheet1",
            row=int(i) + 2,
            kind=IssueKind.REJECTED,
            codes=("phone-invalid",),
            message="phone 'x' is not valid.",
            values={"Phone": "x", "First Name": f"N{i}", "Note": "=1+1"},
            campaign="Spring Promo",
        )
        for i in idx[rejected]
    ]
    n_bad = int(rejected.sum())
    started = datetime(2024, 5, 1, tzinfo=UTC)
    return RunReport(
        command="sync",
        started_at=started,
        finished_at=started + timedelta(minutes=30),
        campaigns={
            "Spring Promo": {
                "rows_read": n,
                "rows_valid": n - n_bad,
                "rows_rejected": n_bad,
                "planned_add": n - n_bad,
                "added": n - n_bad,
            }
        },
        rows=rows,
        issues=issues,
    )


def timed(fn: object) -> tuple[float, float]:
    """(wall s, CPU s) of calling ``fn``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def openpyxl_rows(report: RunReport, n: int, path: Path) -> None:
    """The baseline: openpyxl write-only, one ``append`` per row."""
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Rows")
    ws.append(list(report.rows.columns))
    for record in report.rows.head(n).itertuples(index=False, name=None):
        ws.append([None if pd.isna(v) else v for v in record])
    wb.save(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    sizes = QUICK if ap.parse_args().quick else FULL
    n, n_base = sizes["rows"], sizes["baseline_rows"]
    report = make_report(n)
    out: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wall, cpu = timed(lambda: write_report(report, folder / "all"))
        per_million = cpu * 1_000_000 / n
        out.append(
            Row(
                f"write_report, {n:,} rows (wall / CPU)",
                f"{wall:.1f} s / {cpu:.1f} s",
                f"CPU ≤ {TARGET_CPU_S_PER_MILLION * n / 1_000_000:.1f} s "
                f"({TARGET_CPU_S_PER_MILLION:.0f} s per million)",
                per_million <= TARGET_CPU_S_PER_MILLION,
            )
        )
        (folder / "parts").mkdir()
        parts = {
            "summary.json": lambda: write_summary(report, folder / "parts"),
            "rows.csv": lambda: write_rows(report, folder / "parts"),
            "rejected.csv": lambda: write_rejected(report, folder / "parts"),
            "report.xlsx": lambda: write_xlsx(report, folder / "parts" / "report.xlsx"),
            "report.html": lambda: write_html(report, folder / "parts" / "report.html"),
        }
        xlsx_cpu = 0.0
        for name, fn in parts.items():
            w, c = timed(fn)
            if name == "report.xlsx":
                xlsx_cpu = c
            size = (folder / "parts" / name).stat().st_size / 1e6
            out.append(
                Row(f"  {name} (wall / CPU, size)", f"{w:.1f} s / {c:.1f} s, {size:.1f} MB", "-")
            )
        base_wall, base_cpu = timed(lambda: openpyxl_rows(report, n_base, folder / "baseline.xlsx"))
        ours_rate = n / xlsx_cpu if xlsx_cpu else float("inf")
        base_rate = n_base / base_cpu if base_cpu else float("inf")
        out.append(
            Row(
                "XLSX rows per CPU second: leadsync",
                f"{ours_rate:,.0f}",
                f"≥ {TARGET_XLSX_SPEEDUP:.0f}× baseline",
                ours_rate >= TARGET_XLSX_SPEEDUP * base_rate,
            )
        )
        out.append(
            Row(
                f"XLSX rows per CPU second: openpyxl write-only append ({n_base:,} rows)",
                f"{base_rate:,.0f} ({base_wall:.1f} s wall)",
                "baseline",
            )
        )
        out.append(Row("speed-up (leadsync / openpyxl)", f"{ours_rate / base_rate:.1f}×", "-"))
    width = max(len(r.metric) for r in out)
    print(f"{'metric':<{width}} | measured                       | target or baseline")
    for r in out:
        flag = "" if r.ok else "   <-- MISSED"
        print(f"{r.metric:<{width}} | {r.measured:<30} | {r.target}{flag}")
    return 0 if all(r.ok for r in out) else 1


if __name__ == "__main__":
    sys.exit(main())
