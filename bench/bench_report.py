"""Report benchmark: writing the report folder of a large run, and the XLSX writers compared.

Usage: python bench/bench_report.py [--quick]

Measured side by side in one run:

- ``write_report`` for a sync of N input rows (full: 1,000,000; quick: 50,000), 2% of them
  rejected and every other row ``added`` (so the Rows sheet holds them all, the worst case),
  and for a validation of the same size (valid rows: the Rows sheet keeps the problem rows
  and the first ``XLSX_ROUTINE_ROWS`` valid ones): wall and CPU time, per file and in total;
- the XLSX writers, each in its own subprocess on the same escaped rows table (full: 1,000,000
  and 100,000 rows; quick: 20,000): leadsync's (openpyxl skeleton + rows built with pyarrow
  string kernels) against openpyxl's write-only ``append`` (the baseline, on a 100,000 / 10,000
  row sample), XlsxWriter ``constant_memory``, and the Rust-backed ``rust_xlsxwriter`` bindings
  on PyPI (``rustpy-xlsxwriter``, ``rvgsrust-xlsxwriter``): rows per CPU second, the process's
  peak RSS growth, the file size, and whether awkward cells (XML-special text, a literal
  ``_x0041_``, a 40,000-character cell, a missing number) come back as leadsync writes them.
  Candidates that are not installed are listed as such; they are not dependencies, install
  them to compare: ``pip install --target DIR xlsxwriter rustpy-xlsxwriter
  rvgsrust-xlsxwriter`` and run with ``PYTHONPATH=DIR``.

CPU seconds are the figure to compare: the machine is shared, so wall time is noisy.
Prints ``metric | measured | target or baseline`` and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from benchtable import Row, print_rows  # noqa: E402

from leadsync.models import IssueKind, RowIssue  # noqa: E402
from leadsync.report import RunReport, write_report  # noqa: E402
from leadsync.report.files import rejected_frame, write_rejected, write_rows, write_summary  # noqa: E402
from leadsync.report.html import write_html  # noqa: E402
from leadsync.report.xlsx import sheet_tables, write_sheets  # noqa: E402

FULL = {"rows": 1_000_000, "writers": (1_000_000, 100_000), "baseline_rows": 100_000}
QUICK = {"rows": 80_000, "writers": (20_000,), "baseline_rows": 10_000}
REJECTED_EVERY = 50
#: Targets: CPU seconds for the whole folder per million input rows, and how many times more
#: XLSX rows per CPU second than openpyxl's write-only append.
TARGET_CPU_S_PER_MILLION = 40.0
TARGET_XLSX_SPEEDUP = 3.0
#: Awkward cells placed first in the writers' table: (message, what reading it back must give).
AWKWARD = [
    ("a < b & c > d", "a < b & c > d"),
    ("é ü 日本", "é ü 日本"),
    ("_x0041_ literal", "_x0041_ literal"),
    ("x" * 40_000, "x" * 32_767),
]
WRITERS = ("leadsync", "openpyxl", "xlsxwriter", "rustpy-xlsxwriter", "rvgsrust-xlsxwriter")


def make_report(n: int, *, accepted: str = "added") -> RunReport:
    """A run of ``n`` rows into one campaign; every REJECTED_EVERY-th row rejected, the others
    ``accepted``."""
    idx = np.arange(n)
    rejected = idx % REJECTED_EVERY == 0
    rows = pd.DataFrame(
        {
            "file": pd.Series(["leads.xlsx"] * n, dtype="str"),
            "sheet": pd.Series(["Sheet1"] * n, dtype="str"),
            "row": pd.Series(idx + 2, dtype="Int64"),
            "campaign": pd.Series(["Spring Promo"] * n, dtype="str"),
            "number": pd.Series([f"+1213{i:07d}" for i in idx], dtype="str"),
            "outcome": pd.Series(np.where(rejected, "rejected", accepted), dtype="str"),
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
    counts = {"rows_read": n, "rows_valid": n - n_bad, "rows_rejected": n_bad}
    if accepted == "added":
        counts |= {"planned_add": n - n_bad, "added": n - n_bad}
    return RunReport(
        command="sync" if accepted == "added" else "validate",
        started_at=started,
        finished_at=started + timedelta(minutes=30),
        campaigns={"Spring Promo": counts},
        rows=rows,
        issues=issues,
    )


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall s, CPU s) of calling ``fn``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


# --- the XLSX writers, one per subprocess ------------------------------------------------------
def writer_table(n: int) -> pd.DataFrame:
    """The escaped Rows table every writer gets: awkward cells first, a missing row number."""
    from leadsync.report.safe import safe_frame

    rows = make_report(n).rows
    for i, (text, _) in enumerate(AWKWARD):
        rows.loc[i, "message"] = text
    rows.loc[1, "row"] = pd.NA
    return safe_frame(rows)


def _write_leadsync(table: pd.DataFrame, path: Path) -> None:
    report = RunReport(command="sync", rows=table)
    write_sheets(report, sheet_tables(report), path)


def _write_openpyxl(table: pd.DataFrame, path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Rows")
    ws.freeze_panes = "A2"
    ws.append(list(table.columns))
    for record in table.itertuples(index=False, name=None):
        ws.append([None if pd.isna(v) else v for v in record])
    ws.auto_filter.ref = f"A1:I{len(table) + 1}"
    wb.save(path)


def _write_xlsxwriter(table: pd.DataFrame, path: Path) -> None:
    import xlsxwriter

    options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    wb = xlsxwriter.Workbook(str(path), options)
    ws = wb.add_worksheet("Rows")
    header = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#305496"})
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, list(table.columns), header)
    columns = [table[c].astype(object).where(table[c].notna(), None).tolist() for c in table]
    for r, record in enumerate(zip(*columns, strict=True), start=1):
        for c, value in enumerate(record):
            if isinstance(value, str):
                ws.write_string(r, c, value)
            elif value is not None:
                ws.write_number(r, c, value)
    ws.autofilter(0, 0, len(table), table.shape[1] - 1)
    wb.close()


def _write_rustpy(table: pd.DataFrame, path: Path) -> None:
    import rustpy_xlsxwriter

    rustpy_xlsxwriter.write_worksheet(
        table, str(path), sheet_name="Rows", freeze_row=1, bold_headers=True, autofilter=True
    )


def _write_rvgs(table: pd.DataFrame, path: Path) -> None:
    import rvgsrust_xlsxwriter

    wb = rvgsrust_xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Rows")  # constant_memory=True drops cells of write_dataframe
    header = wb.add_format().set_bold().set_font_color("#FFFFFF")
    ws.write_dataframe(0, 0, table, header_format=header.set_background_color("#305496"))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(table), table.shape[1] - 1)
    wb.close()


_WRITE = {
    "leadsync": _write_leadsync,
    "openpyxl": _write_openpyxl,
    "xlsxwriter": _write_xlsxwriter,
    "rustpy-xlsxwriter": _write_rustpy,
    "rvgsrust-xlsxwriter": _write_rvgs,
}


def _check(path: Path, n: int) -> str:
    """Whether the awkward cells and the row count read back (calamine) as leadsync means,
    and whether the literal ``_x0041_`` was escaped (``_x005F_``: else Excel shows "A")."""
    import zipfile

    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    sheet = book.get_sheet_by_name("Rows").to_python()
    problems = []
    for i, (_, expected) in enumerate(AWKWARD, start=1):
        got = sheet[i][8]
        if got != expected and not expected.startswith("_x"):
            problems.append(f"{expected[:15]!r} read as {str(got)[:20]!r}")
    with zipfile.ZipFile(path) as archive:
        xml = b"".join(archive.read(m) for m in archive.namelist() if m.startswith("xl/"))
    if b"_x005F_x0041_" not in xml:
        problems.append("a literal _x0041_ is not escaped (Excel shows 'A')")
    if sheet[2][2] not in ("", None):
        problems.append(f"missing row number read as {sheet[2][2]!r}")
    if len(sheet) != n + 1:
        problems.append(f"{len(sheet) - 1:,} rows of {n:,}")
    return "ok" if not problems else "; ".join(problems)


def _prepared(table: pd.DataFrame) -> pd.DataFrame:
    """What a writer that refuses our table needs first: numbers with gaps as floats, text cut
    to Excel's cell limit."""
    out = table.assign(row=table["row"].astype("float64"))
    return out.assign(message=out["message"].str.slice(0, 32_767))


def _peak_during(fn: Callable[[], object]) -> float:
    """MB the process grew by while ``fn`` ran (RSS sampled every few ms)."""
    import threading

    import psutil

    proc = psutil.Process()
    start = proc.memory_info().rss
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], proc.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        fn()
    finally:
        done.set()
        sampler.join()
    return (max(peak[0], proc.memory_info().rss) - start) / 1e6


def _worker(name: str, n: int, folder: str) -> dict[str, object]:
    table = writer_table(n)
    path = Path(folder) / f"{name}_{n}.xlsx"
    result: dict[str, object] = {}
    try:
        _WRITE[name](table.head(10), path)  # imports and warm-up, not timed
    except ImportError:
        return {"error": "not installed"}
    except Exception as err:  # a candidate that cannot write our table as it is
        result["error"] = f"{type(err).__name__}: {err}"[:90]
        table = _prepared(table)
    times: list[tuple[float, float]] = []
    growth = _peak_during(lambda: times.append(timed(lambda: _WRITE[name](table, path))))
    (wall, cpu) = times[0]
    return result | {
        "wall": wall,
        "cpu": cpu,
        "rss_growth_mb": growth,
        "mb": path.stat().st_size / 1e6,
        "check": _check(path, n),
    }


def measure_writer(name: str, n: int, folder: Path) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--worker", name, str(n), str(folder)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": f"worker failed: {done.stderr.strip()[-200:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- main ---------------------------------------------------------------------------------------
def _folder_rows(report: RunReport, folder: Path, label: str) -> tuple[list[Row], float]:
    """write_report of ``report`` (total) and each file alone; returns the rows and the CPU
    seconds of report.xlsx."""
    n = len(report.rows)
    wall, cpu = timed(lambda: write_report(report, folder / label))
    per_million = cpu * 1_000_000 / n
    out = [
        Row(
            f"write_report, {label}, {n:,} rows (wall / CPU)",
            f"{wall:.1f} s / {cpu:.1f} s",
            f"CPU ≤ {TARGET_CPU_S_PER_MILLION * n / 1_000_000:.1f} s "
            f"({TARGET_CPU_S_PER_MILLION:.0f} s per million)",
            per_million <= TARGET_CPU_S_PER_MILLION,
        )
    ]
    parts = folder / f"{label}-parts"
    parts.mkdir()
    rejected = rejected_frame(report.rejected_issues())
    sheets = sheet_tables(report, rejected=rejected)
    steps: dict[str, Callable[[], object]] = {
        "summary.json": lambda: write_summary(report, parts),
        "rows.csv": lambda: write_rows(report, parts),
        "rejected.csv": lambda: write_rejected(report, parts, frame=rejected),
        "report.xlsx": lambda: write_sheets(report, sheets, parts / "report.xlsx"),
        "report.html": lambda: write_html(report, parts / "report.html"),
    }
    xlsx_cpu = 0.0
    for name, fn in steps.items():
        w, c = timed(fn)
        xlsx_cpu = c if name == "report.xlsx" else xlsx_cpu
        size = (parts / name).stat().st_size / 1e6
        out.append(
            Row(f"  {name} (wall / CPU, size)", f"{w:.2f} s / {c:.2f} s, {size:.1f} MB", "-")
        )
    shown = sheets[0].table.num_rows
    out.append(Row("  rows in the Rows sheet", f"{shown:,} of {n:,}", "every problem row kept"))
    return out, xlsx_cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        name, n, folder = args.worker
        print(json.dumps(_worker(name, int(n), folder)))
        return 0
    sizes = QUICK if args.quick else FULL
    n = sizes["rows"]
    out: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sync_rows, _ = _folder_rows(make_report(n), folder, "sync")
        valid_rows, _ = _folder_rows(make_report(n, accepted="valid"), folder, "validate")
        out += sync_rows + valid_rows
        rates: dict[str, float] = {}
        for size in sizes["writers"]:
            for name in WRITERS:
                rows_n = min(size, sizes["baseline_rows"]) if name == "openpyxl" else size
                if name == "openpyxl" and size != max(sizes["writers"]) and rates.get(name):
                    continue  # the baseline is slow: one sample is enough
                r = measure_writer(name, rows_n, folder)
                label = f"XLSX writer {name}, {rows_n:,} rows"
                if "cpu" not in r:
                    out.append(Row(label, str(r["error"]), "candidate"))
                    continue
                rate = rows_n / float(r["cpu"])  # type: ignore[arg-type]
                rates.setdefault(name, rate)
                refused = f"refused our table ({r['error']}); prepared: " if "error" in r else ""
                out.append(
                    Row(
                        label,
                        f"{rate:,.0f} rows/CPU s, {r['wall']:.2f} s, "
                        f"+{r['rss_growth_mb']:.0f} MB, {r['mb']:.1f} MB",
                        f"{refused}awkward cells: {r['check']}",
                    )
                )
        ours, base = rates.get("leadsync", 0.0), rates.get("openpyxl", 0.0)
        out.append(
            Row(
                "speed-up of leadsync's XLSX rows over openpyxl write-only append",
                f"{ours / base:.1f}×" if base else "n/a",
                f"≥ {TARGET_XLSX_SPEEDUP:.0f}×",
                bool(base) and ours >= TARGET_XLSX_SPEEDUP * base,
            )
        )
    return print_rows(out)


if __name__ == "__main__":
    sys.exit(main())
