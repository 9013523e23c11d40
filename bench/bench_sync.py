"""A full dry-run sync: a 1,000,000-row file against a 1,000,000-lead sandbox campaign.

The sandbox runs in this process (pages of 1,000 leads); the sync runs as a real
``leadsync sync --dry-run`` subprocess so that its peak RSS is its own. The file differs from
the campaign by 5 % adds, 5 % removals (mirror mode) and 5 % status changes, in mixed phone
formats. Prints total time, peak RSS (target ≤ 2.5 GB) and the time of each stage.

Usage: python bench/bench_sync.py [--quick] [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leadsync.sandbox import Sandbox, SandboxConfig

FULL_ROWS = 1_000_000
QUICK_ROWS = 50_000
PAGE = 1_000
RSS_TARGET_MB = 2_500
SHARE = 0.05  # of adds, removals and status changes each
FORMATS = ("+1 213 {x} {l}", "(213) {x}-{l}", "213.{x}.{l}", "213-{x}-{l}", "213{x}{l}")


def e164(i: int) -> str:
    return f"+1213{200 + i // 10_000:03d}{i % 10_000:04d}"


def shown(i: int) -> str:
    x, line = f"{200 + i // 10_000:03d}", f"{i % 10_000:04d}"
    return FORMATS[i % len(FORMATS)].format(x=x, l=line)


def build(n: int, folder: Path, sandbox: Sandbox) -> tuple[Path, dict[str, int]]:
    """Write the file and seed the campaign; returns the file and the expected counts."""
    keep = int(n * (1 - SHARE))  # rows the campaign already holds
    changed = int(n * SHARE)  # of those, rows whose status the file changes
    path = folder / "leads.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Phone Number", "First Name", "Last Name", "Priority", "Status"])
        for i in range(n):
            status = "success" if i < changed else ""
            w.writerow([shown(i), f"First{i % 997}", f"Last{i % 991}", 1 + i % 5, status])
    cid = sandbox.state.add_campaign("Bench")
    remote_only = range(n, n + int(n * SHARE))
    sandbox.state.add_leads(
        cid,
        (
            {
                "number": e164(i),
                "first_name": f"First{i % 997}",
                "last_name": f"Last{i % 991}",
                "priority": 1 + i % 5,
                "status": "new",
            }
            for i in [*range(keep), *remote_only]
        ),
    )
    return path, {"add": n - keep, "delete": len(remote_only), "status": changed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows")
    ap.add_argument("--rows", type=int, help="rows in the file (and leads in the campaign)")
    args = ap.parse_args()
    n = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    with tempfile.TemporaryDirectory() as tmp, Sandbox(SandboxConfig(page_cap=PAGE)) as sb:
        folder = Path(tmp)
        t0 = time.perf_counter()
        path, expected = build(n, folder, sb)
        print(f"setup: {n:,} rows and {n:,} leads in {time.perf_counter() - t0:.1f} s", flush=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")},
            "LEADSYNC_BASE_URL": sb.base_url,
            "LEADSYNC_USERNAME": sb.config.username,
            "LEADSYNC_PASSWORD": sb.config.password,
            "LEADSYNC_DOMAIN": sb.config.domain,
            "LEADSYNC_ACCOUNT_ID": sb.config.account_id,
        }
        config = folder / "bench.toml"
        config.write_text(f'[api]\npage_size = {PAGE}\n[sync]\nmode = "mirror"\n')
        report_dir = folder / "report"
        cmd = [
            sys.executable,
            "-m",
            "leadsync",
            "--config",
            str(config),
            "sync",
            str(path),
            "--campaign",
            "Bench",
            "--dry-run",
            "--report-dir",
            str(report_dir),
        ]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:])
            return 1
        summary = json.loads((report_dir / "summary.json").read_text())
    totals = summary["totals"]
    got = {
        "add": totals["planned_add"],
        "delete": totals["planned_delete"],
        "status": totals["planned_status"],
    }
    timings = summary["timings"]
    print(f"\n{'metric':<34}{'measured':>14}{'target':>14}")
    print(f"{'rows / remote leads':<34}{n:>14,}{'':>14}")
    print(f"{'wall time, whole command (s)':<34}{wall:>14.1f}{'':>14}")
    print(f"{'peak RSS of the sync (MB)':<34}{rss_mb:>14,.0f}{'≤ ' + str(RSS_TARGET_MB):>14}")
    for key in ("add", "delete", "status"):
        print(f"{'planned ' + key:<34}{got[key]:>14,}{expected[key]:>14,}")
    staged = sum(timings.values())
    print(f"\n{'stage':<12}{'seconds':>10}{'share':>8}")
    for stage, secs in timings.items():
        print(f"{stage:<12}{secs:>10.2f}{secs / staged:>8.0%}")
    print(f"{'(start-up, imports, exit)':<12}{wall - staged:>10.2f}")
    ok = rss_mb <= RSS_TARGET_MB and got == expected
    print("\nmet" if ok else "\nMISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
