"""A/B of the whole ``leadsync validate`` per region: this code and an earlier one, alternating.

For each region: a 1,000,000-row file of bench/gen_phones.py, then three rounds of
``leadsync validate FILE --region R --report-dir D`` with the earlier code and this one
(alternating which goes first), and the naive loop (bench_reader's) once, after the first round.
Each validate is a subprocess run from a neutral folder with ``PYTHONPATH`` naming the code
(``python -m`` would otherwise put the current folder first). Prints the medians of wall and CPU
time and the speed-up over the naive loop, with the machine's load.

Usage: python bench/ab_regions.py --before DIR [--regions GB,DE,IN,BR] [--rows N]
(DIR holds an earlier ``leadsync`` package: ``git archive REV leadsync | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_reader  # noqa: E402
import gen_phones  # noqa: E402

ROUNDS = 3


def validate(code: Path, path: Path, region: str, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one ``leadsync validate`` with the package under ``code``."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "leadsync", "validate", str(path), "--region", region,
           "--report-dir", str(out)]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, cwd=out.parent, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 2):  # 2: more rows rejected than allowed (still a report)
        raise SystemExit(f"validate failed:\n{done.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:2])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="folder with the earlier package")
    ap.add_argument("--regions", default="GB,DE,IN,BR")
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    codes = {"before": args.before.resolve(), "after": HERE.parent}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        for region in args.regions.upper().split(","):
            path = gen_phones.write_phones_csv(tmpdir / f"{region}.csv", region, args.rows)
            load_start = _load()
            runs: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
            naive: dict[str, float] = {}
            for k in range(ROUNDS):
                for name in ("before", "after") if k % 2 == 0 else ("after", "before"):
                    out = tmpdir / f"report_{name}_{k}"
                    shutil.rmtree(out, ignore_errors=True)
                    runs[name].append(validate(codes[name], path, region, out))
                if k == 0:
                    naive = bench_reader.measure("naive_loop", path, 0, region)
            print(f"{region} {args.rows:,} rows: load (1, 5 min) {load_start} -> {_load()}; "
                  f"naive loop {naive['seconds']:.2f} s wall, {naive['cpu']:.2f} s CPU")  # fmt: skip
            for name in ("before", "after"):
                wall = statistics.median(r[0] for r in runs[name])
                cpu = statistics.median(r[1] for r in runs[name])
                walls = ", ".join(f"{r[0]:.2f}" for r in runs[name])
                print(f"  {name}: wall {wall:.2f} s (runs {walls}), CPU {cpu:.2f} s; speed-up "
                      f"over naive {naive['seconds'] / wall:.1f}× wall, "
                      f"{naive['cpu'] / cpu:.1f}× CPU")  # fmt: skip
            path.unlink()
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
