"""Run every benchmark in bench/ (each prints its figures beside its baseline and target).

Usage: python bench/run_all.py [--quick] [NAME ...]   e.g. `run_all.py reader diff`
Exit status is non-zero when any benchmark missed a target (or failed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("names", nargs="*", help="bench_<name>.py to run (default: all)")
    args = ap.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.names]
    failed: list[str] = []
    for script in scripts:
        print(f"\n=== {script.name} {'(quick)' if args.quick else ''}", flush=True)
        t0 = time.perf_counter()
        cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
        rc = subprocess.call(cmd, cwd=HERE.parent)
        print(f"--- {script.name}: exit {rc} in {time.perf_counter() - t0:.1f} s", flush=True)
        if rc:
            failed.append(script.name)
    print("\nall benchmarks met their targets" if not failed else f"\nmissed or failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
