"""Console benchmark: a 100,000-row file from the upload to the review page, beside the CLI's
``leadsync plan`` of the same file against the same sandbox, in the same run.

Both are what a user waits for, each in its own process: ``leadsync serve`` (started once, as a
user starts it) driven over HTTP by this script, and ``leadsync plan FILE --out plan.json`` as a
subprocess (imports paid every time, as when typed). The sandbox runs in this process with the
file's three campaigns, each already holding a share of the file's leads, so the plan has adds,
unchanged rows, status changes and kept leads. The file is bench/gen_data.py's messy CSV (mixed
phone formats, ~1 % bad rows).

Console figure (judged): from the start of the upload request (the file is sent over loopback,
the console stores and previews it and answers with the map page) to the review page received
— the map page's "Continue" (the same mapping), the plan (``run_sync`` with ``plan_out``: read,
resolve, fetch, diff, plan, guard, save plan, report) and the review's first page. Its parts are
printed: upload+preview, plan (until the progress stream ends), review page. Target: ≤ 5 s.
Each figure is the median of ``--repeat`` runs (all printed); the load average is printed at
the start and the end (2 shared cores: wall times are inflated by the neighbours).

Usage: python bench/bench_console.py [--quick] [--repeat N]   (exit 1 when the target is missed)
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_data  # noqa: E402
import pandas as pd  # noqa: E402
import psutil  # noqa: E402
import requests  # noqa: E402

from leadsync.config import load_settings  # noqa: E402
from leadsync.reader import read_sources  # noqa: E402
from leadsync.sandbox import Sandbox, SandboxConfig  # noqa: E402

FULL_ROWS = 100_000
QUICK_ROWS = 10_000
TARGET_S = 5.0
#: Rows one page of any table may hold (the console's PAGE_SIZE).
PAGE_ROWS = 50
DEFAULT_REPEAT = 3
#: Every n-th valid lead of the file is already in its campaign (so the plan has unchanged rows).
EXISTING_EVERY = 5
TOKEN = "bench-console-token-0123456789"
HTTP_TIMEOUT_S = 300


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def seed(sb: Sandbox, source: Path) -> dict[str, str]:
    """The file's campaigns in the sandbox, each holding every EXISTING_EVERY-th valid lead
    with the file's fields (so they are unchanged, or differ by status only)."""
    leads = read_sources([source], load_settings(environ={})).leads
    fields = ("number", "first_name", "last_name", "priority", "retries")
    ids = {}
    for name, frame in leads.groupby("campaign"):
        cid = sb.state.add_campaign(str(name))
        existing = frame.iloc[::EXISTING_EVERY]
        sb.state.add_leads(
            cid,
            [
                {"status": "new", **{f: _plain(v) for f, v in zip(fields, row, strict=True)}}
                for row in existing[list(fields)].astype(object).itertuples(index=False, name=None)
            ],
        )
        ids[str(name)] = cid
    return ids


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return int(value) if hasattr(value, "item") and not isinstance(value, str) else value


def api_env(sb: Sandbox) -> dict[str, str]:
    cfg = sb.config
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
    return {
        **clean,
        "LEADSYNC_BASE_URL": sb.base_url,
        "LEADSYNC_USERNAME": cfg.username,
        "LEADSYNC_PASSWORD": cfg.password,
        "LEADSYNC_DOMAIN": cfg.domain,
        "LEADSYNC_ACCOUNT_ID": cfg.account_id,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_plan(source: Path, work: Path, env: dict[str, str], n: int) -> tuple[float, float]:
    """``leadsync plan`` of ``source``: (wall, CPU) seconds."""
    out = work / f"cli-plan-{n}.json"
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "leadsync", "-q", "plan", str(source), "--out", str(out),
         "--report-dir", str(work / f"cli-report-{n}")],
        env=env, cwd=work, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"leadsync plan failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, _children_cpu() - cpu0


def start_console(work: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "leadsync", "serve", "--port", "0", "--work-dir",
         str(work / "console-work")],
        env={**env, "LEADSYNC_CONSOLE_TOKEN": TOKEN}, cwd=work,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        if m:
            return proc, m[1]
    raise SystemExit(f"the console did not start: {proc.stderr.read() if proc.stderr else ''}")


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m[1]


def rows_in(html: str, table: str) -> int:
    """Rows in the body of ``<table id=table>`` of a page (-1 when the page has no such table)."""
    m = re.search(rf'<table[^>]* id="{table}">.*?<tbody>(.*?)</tbody>', html, re.S)
    return len(re.findall(r"<tr>", m[1])) if m else -1


def console_run(base: str, source: Path) -> dict[str, Any]:
    """One upload → review; the times of its parts."""
    s = requests.Session()
    s.get(f"{base}/campaigns?token={TOKEN}", timeout=HTTP_TIMEOUT_S).raise_for_status()
    csrf = csrf_of(s.get(f"{base}/imports/new", timeout=HTTP_TIMEOUT_S).text)
    t0 = time.perf_counter()
    with source.open("rb") as fh:
        mapped = s.post(
            f"{base}/imports",
            data={"csrf_token": csrf, "mode": "upsert"},
            files=[("files", (source.name, fh, "text/csv"))],
            timeout=HTTP_TIMEOUT_S,
        )
    mapped.raise_for_status()
    t_map = time.perf_counter()
    iid = mapped.url.split("/imports/")[1].split("/")[0]
    s.post(
        f"{base}/imports/{iid}/map",
        data={"csrf_token": csrf},
        timeout=HTTP_TIMEOUT_S,
        allow_redirects=False,
    ).raise_for_status()
    with s.get(f"{base}/imports/{iid}/events", stream=True, timeout=HTTP_TIMEOUT_S) as events:
        for line in events.iter_lines():
            if line == b"event: end":
                break
    t_plan = time.perf_counter()
    review = s.get(f"{base}/imports/{iid}", timeout=HTTP_TIMEOUT_S)
    review.raise_for_status()
    t_end = time.perf_counter()
    if "/review" not in review.url or 'id="approve"' not in review.text:
        raise SystemExit(f"no approvable review page at {review.url}")
    # Every page that lists rows holds one page of them at most: each tab of the review, a
    # filtered page further on, and the plan run's rows in its report folder's page.
    shown = {"review (plan)": rows_in(review.text, "review-plan")}
    for label, query, table in (
        ("review (rejected)", "tab=rejected", "review-rejected"),
        ("review (duplicates)", "tab=duplicates", "review-duplicates"),
        ("review (adds, page 3)", "action=add&page=3", "review-plan"),
    ):
        page = s.get(f"{base}/imports/{iid}/review?{query}", timeout=HTTP_TIMEOUT_S)
        shown[label] = rows_in(page.text, table)
    run = re.search(r'href="(/runs/[^"/]+/[^"/]+)"', review.text)
    if run:
        shown["run rows"] = rows_in(s.get(base + run[1], timeout=HTTP_TIMEOUT_S).text, "rows")
    s.post(f"{base}/imports/{iid}/discard", data={"csrf_token": csrf}, timeout=HTTP_TIMEOUT_S)
    return {
        "total": t_end - t0,
        "upload": t_map - t0,
        "plan": t_plan - t_map,
        "review": t_end - t_plan,
        "rows_in_dom": shown["review (plan)"],
        "rows_shown": shown,
        "bytes": len(review.content),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="10,000 rows, one run")
    ap.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    args = ap.parse_args()
    n = QUICK_ROWS if args.quick else FULL_ROWS
    repeat = 1 if args.quick else args.repeat
    print(f"load average at start: {load()}  (2 shared cores)")
    with (
        tempfile.TemporaryDirectory(prefix="bench-console-") as tmp,
        Sandbox(SandboxConfig()) as sb,
    ):
        work = Path(tmp)
        source = gen_data.write_messy_csv(work / "leads_100k.csv", n)
        seed(sb, source)
        env = api_env(sb)
        print(f"file: {n:,} rows, {source.stat().st_size / 2**20:.1f} MiB; sandbox {sb.base_url}")
        proc, base = start_console(work, env)
        try:
            server = psutil.Process(proc.pid)
            cli, cli_cpu, runs = [], [], []
            for i in range(repeat):
                wall, cpu = cli_plan(source, work, env, i)
                cli.append(wall)
                cli_cpu.append(cpu)
                before = sum(server.cpu_times()[:2])
                runs.append(console_run(base, source))
                runs[-1]["cpu"] = sum(server.cpu_times()[:2]) - before
                print(
                    f"run {i + 1}: cli plan {wall:.2f} s ({cpu:.2f} s CPU) · console "
                    f"{runs[-1]['total']:.2f} s ({runs[-1]['cpu']:.2f} s CPU in the server) "
                    f"(upload+preview {runs[-1]['upload']:.2f}, plan {runs[-1]['plan']:.2f}, "
                    f"review page {runs[-1]['review']:.2f}; {runs[-1]['rows_in_dom']} rows "
                    f"in the page, {runs[-1]['bytes'] / 1024:.0f} KiB)",
                    flush=True,
                )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    med = statistics.median(r["total"] for r in runs)
    med_cli = statistics.median(cli)
    print()
    print("| metric | measured | target / baseline |")
    print("|---|---|---|")
    print(
        f"| upload → review page, {n:,} rows (median of {repeat}) | **{med:.2f} s** | ≤ {TARGET_S:.0f} s |"
    )
    print(f"| `leadsync plan` of the same file (median of {repeat}) | {med_cli:.2f} s | baseline |")
    print(
        f"| same, CPU (console server; CLI process) | {statistics.median(r['cpu'] for r in runs):.2f} s; "
        f"{statistics.median(cli_cpu):.2f} s | — |"
    )
    print(f"| rows in the review page's DOM | {max(r['rows_in_dom'] for r in runs)} | ≤ 50 |")
    most = {k: max(r["rows_shown"][k] for r in runs) for k in runs[0]["rows_shown"]}
    print(
        "| rows in other pages' DOM | "
        + ", ".join(f"{k} {v}" for k, v in most.items())
        + f" | ≤ {PAGE_ROWS} each |"
    )
    print(f"load average at end: {load()}")
    one_page = all(0 < n <= PAGE_ROWS for r in runs for n in r["rows_shown"].values())
    ok = med <= TARGET_S and one_page
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
