"""Reader benchmark: messy CSV and XLSX → validated leads, beside naive baselines, one run.

Each measurement runs in its own subprocess, which reports its wall time and its own peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), so one measurement's memory never hides
another's. Baselines measured in the same run:
- naive phones: per row ``phonenumbers.parse`` + ``is_valid_number`` + ``format_number`` (the
  reader's reference ``normalize_one``) on a sample of the file's phone column, scaled linearly
  to the full row count (the sample size is printed);
- XLSX: ``pandas.read_excel(engine="openpyxl", dtype=str)`` on the same file (reading only, no
  validation at all).

Usage: python bench/bench_reader.py [--quick]   (exit 1 when a target is missed)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_data  # noqa: E402

FULL = {"csv": 1_000_000, "naive_sample": 100_000, "xlsx": 100_000,
        "scaling": (10_000, 100_000, 1_000_000)}  # fmt: skip
QUICK = {"csv": 50_000, "naive_sample": 5_000, "xlsx": 5_000, "scaling": (2_000, 10_000, 50_000)}
TARGET_CSV_S = 6.0
TARGET_CSV_RSS_MB = 1536.0
TARGET_SPEEDUP = 4.0
TARGET_XLSX_S = 2.0


def _worker(kind: str, path: str, sample: int) -> dict[str, float]:
    """Run inside the subprocess: one measurement."""
    import pandas as pd

    from leadsync.config import Settings
    from leadsync.reader import normalize_one, read_sources

    t0 = time.perf_counter()
    out: dict[str, float] = {}
    if kind == "read":
        result = read_sources([Path(path)], Settings())
        out.update(leads=len(result.leads), issues=len(result.issues))
    elif kind == "naive":
        phones = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["Phone"])["Phone"]
        phones = phones.iloc[:sample].tolist()
        t0 = time.perf_counter()  # time the per-row phonenumbers work only
        ok = sum(1 for p in phones if normalize_one(p, "US", "valid")[0] is not None)
        out.update(rows=len(phones), accepted=ok)
    elif kind == "read_excel":
        frame = pd.read_excel(path, engine="openpyxl", dtype=str)
        out.update(rows=len(frame))
    out["seconds"] = time.perf_counter() - t0
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def measure(kind: str, path: Path, sample: int = 0) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", kind, str(path), str(sample)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker {kind} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        kind, path, sample = args.worker
        print(json.dumps(_worker(kind, path, int(sample))))
        return 0
    sizes = QUICK if args.quick else FULL
    rows: list[tuple[str, str, str]] = []
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        n = sizes["csv"]
        csv_path = gen_data.write_messy_csv(tmpdir / f"messy_{n}.csv", n)
        fast = measure("read", csv_path)
        naive = measure("naive", csv_path, sizes["naive_sample"])
        naive_full = naive["seconds"] * n / naive["rows"]
        speedup = naive_full / fast["seconds"]
        rows.append((f"CSV {n:,} rows → leads: wall", f"{fast['seconds']:.2f} s",
                     f"≤ {TARGET_CSV_S} s" if not args.quick else "(quick: not judged)"))  # fmt: skip
        rows.append((f"CSV {n:,} rows: peak RSS", f"{fast['rss_mb']:.0f} MiB",
                     f"≤ {TARGET_CSV_RSS_MB:.0f} MiB"))  # fmt: skip
        rows.append(("  leads / issues", f"{fast['leads']:,.0f} / {fast['issues']:,.0f}", ""))
        rows.append((f"naive phonenumbers per row ({naive['rows']:,.0f}-row sample, scaled)",
                     f"{naive_full:.2f} s", "baseline"))  # fmt: skip
        rows.append(("speed-up over naive (whole reader vs phones only)", f"{speedup:.1f}×",
                     f"≥ {TARGET_SPEEDUP:.0f}×"))  # fmt: skip
        if not args.quick and fast["seconds"] > TARGET_CSV_S:
            missed.append("CSV wall time")
        if fast["rss_mb"] > TARGET_CSV_RSS_MB:
            missed.append("CSV peak RSS")
        if speedup < TARGET_SPEEDUP:
            missed.append("speed-up over naive")

        nx = sizes["xlsx"]
        xlsx_path = gen_data.write_xlsx(tmpdir / f"leads_{nx}.xlsx", nx)
        xfast = measure("read", xlsx_path)
        xbase = measure("read_excel", xlsx_path)
        rows.append((f"XLSX {nx:,} rows → leads: wall", f"{xfast['seconds']:.2f} s",
                     f"≤ {TARGET_XLSX_S} s" if not args.quick else "(quick: not judged)"))  # fmt: skip
        rows.append(("pandas.read_excel(openpyxl, dtype=str), same file", f"{xbase['seconds']:.2f} s",
                     "baseline (read only)"))  # fmt: skip
        if not args.quick and xfast["seconds"] > TARGET_XLSX_S:
            missed.append("XLSX wall time")

        for m in sizes["scaling"]:
            path = csv_path if m == n else gen_data.write_messy_csv(tmpdir / f"s_{m}.csv", m)
            r = measure("read", path)
            rows.append((f"scaling CSV {m:,} rows", f"{r['seconds']:.2f} s, {r['rss_mb']:.0f} MiB",
                         f"{r['seconds'] / m * 1e6:.1f} µs/row"))  # fmt: skip

    width = max(len(r[0]) for r in rows)
    print(f"{'metric':<{width}} | {'measured':>22} | target or baseline")
    print("-" * (width + 50))
    for metric, measured, target in rows:
        print(f"{metric:<{width}} | {measured:>22} | {target}")
    if missed:
        print("MISSED: " + ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
