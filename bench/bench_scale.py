"""Scale benchmark: the whole ``leadsync validate`` command on messy CSVs of 10k / 100k / 1M
rows, beside the naive loop, and the CLI's start-up time; the whole ``leadsync sync --dry-run``
of the 1M-row file against a 1M-lead campaign beside a bare paging client (issue 12).

Scenarios (``--scenario``, default both): ``validate`` (below) and ``sync`` (bench/scale_sync.py:
the load, the servers and the figures are described there; targets: every stage but the
fetch ≤ 8 s in total, peak RSS ≤ 1.2 GB, the fetch ≥ 90 % of the bare client's page rate
against bench/stdlib_server.py and against leadsync's sandbox).

Every figure is a real subprocess (imports, reading, checking, writing the report folder,
exit), measured from outside: wall time, CPU time (user + system, all threads) and that
process's own peak RSS (``os.wait4``). Files come from bench/gen_data.py's messy generator.

- ``leadsync validate FILE --region US --report-dir D``: the median of ``--repeat`` runs at the
  largest size; one run at the other sizes (the scaling table);
- baseline, the naive loop (:data:`NAIVE`): ``csv.DictReader``, per row ``phonenumbers``
  parse + is_valid + format, one ``csv.writer`` line per row; on the same file, same run;
- the read stage alone (``read_sources`` in its own process): how much of the peak RSS is the
  reader's, not the report's;
- ``leadsync --version`` and ``leadsync validate --help`` (median of ``STARTUP_RUNS``), beside
  a bare ``python -c pass`` and the eager import of every module the CLI used to load.

With ``--before DIR`` (a copy of an earlier ``leadsync`` package, e.g. ``git archive COMMIT
leadsync | tar -x -C DIR``), the same validate and ``--version`` runs of that code are measured
in the same run and printed beside (the 1M validate runs of both codes taking turns) (and, in the sync scenario, that code's whole sync against
each server, between the same bare-client runs; it runs as ``python -S`` with ``DIR`` and this
interpreter's site-packages on ``PYTHONPATH``, so the installed package does not shadow it).

Targets: 1M rows in ≤ 4 s wall, ≥ 6× faster than the naive loop, peak RSS ≤ 800 MB; version
and help screens in ≤ 0.3 s. The load average is printed at the start and the end: wall times
on a busy shared machine are inflated by the neighbours, CPU times much less.

Usage: python bench/bench_scale.py [--quick] [--repeat N] [--before DIR]
       [--scenario validate|sync|all] [--sync-rows N] [--campaigns K]
(exit 1 when a target is missed)
"""

from __future__ import annotations

import argparse
import json
import os
import site
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_data  # noqa: E402
from benchtable import Row, print_rows  # noqa: E402

FULL = {"sizes": (10_000, 100_000, 1_000_000)}
QUICK = {"sizes": (2_000, 10_000, 50_000)}
TARGET_WALL_S = 4.0
TARGET_SPEEDUP = 6.0
TARGET_RSS_MB = 800.0
TARGET_STARTUP_S = 0.3
STARTUP_RUNS = 5
DEFAULT_REPEAT = 3
LEADSYNC = [sys.executable, "-m", "leadsync"]

#: The baseline: what a person would write in an afternoon (read, check each phone, write).
NAIVE = """
import csv, sys
import phonenumbers
src, dst = sys.argv[1], sys.argv[2]
with open(src, newline="", encoding="utf-8") as fin, open(dst, "w", newline="") as fout:
    out = csv.writer(fout)
    out.writerow(["row", "number", "outcome"])
    for i, rec in enumerate(csv.DictReader(fin), start=2):
        try:
            num = phonenumbers.parse(rec["Phone"], "US")
            ok = phonenumbers.is_valid_number(num)
        except phonenumbers.NumberParseException:
            ok = False
        e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) if ok else ""
        out.writerow([i, e164, "valid" if ok else "rejected"])
"""


#: The read stage alone, as ``leadsync validate`` runs it (settings from the same defaults).
READ_ONLY = """
import sys
from pathlib import Path
from leadsync.config import load_settings
from leadsync.reader import read_sources
settings = load_settings(None, environ={}, cwd=Path.cwd(), overrides={"sync": {"region": "US"}})
read_sources([Path(sys.argv[1])], settings)
"""


def run(
    cmd: list[str], before: Path | None = None, env: dict[str, str] | None = None
) -> dict[str, float]:
    """Run ``cmd`` (output discarded); its wall s, CPU s, peak RSS in MB (10^6 bytes) and exit
    code. ``before``: run the earlier package in that folder instead (:func:`before_env`; in
    that folder, so ``-m leadsync`` cannot pick up the one in the current folder)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=before_env(before, env) if before else env,
        cwd=before,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss * 1024 / 1e6,
        "code": proc.returncode,
    }


Median = tuple[dict[str, float], list[float]]


def median_runs(cmds: list[tuple[list[str], Path | None]], repeat: int) -> list[Median]:
    """Each ``(cmd, before)`` run ``repeat`` times, the commands taking turns, so that a
    machine slowing down or speeding up during the bench weighs on each alike; per command
    the run with the median wall time and every run's wall time, sorted."""
    runs: list[list[dict[str, float]]] = [[] for _ in cmds]
    for _ in range(repeat):
        for done, (cmd, before) in zip(runs, cmds, strict=True):
            done.append(run(cmd, before))
    out: list[Median] = []
    for done in runs:
        done.sort(key=lambda r: r["wall"])
        out.append((done[len(done) // 2], [r["wall"] for r in done]))
    return out


def validate_cmd(path: Path, out: Path, leadsync: list[str] = LEADSYNC) -> list[str]:
    # --replace-report: the repeated runs write into the same folder (a non-empty folder is
    # refused without it, and a refusal would be timed as a run).
    return [*leadsync, "validate", str(path), "--region", "US", "--report-dir", str(out),
            "--replace-report"]  # fmt: skip


def before_env(root: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment (``env``, else this one) that runs the ``leadsync`` package under
    ``root`` with ``python -S``."""
    base = os.environ if env is None else env
    return {**base, "PYTHONPATH": os.pathsep.join([str(root), *site.getsitepackages()])}


#: How the earlier code is run (``python -S`` with :func:`before_env`).
OLD_LEADSYNC = [sys.executable, "-S", "-m", "leadsync"]


def _before_rows(root: Path, out: Path, earlier: Median, now: dict[str, float]) -> list[Row]:
    """The earlier code's validate (``earlier``, run in turns with this code's) and
    --version, beside this code's figures."""
    old = OLD_LEADSYNC
    slow, walls = earlier
    version = statistics.median(run([*old, "--version"], root)["wall"] for _ in range(STARTUP_RUNS))
    return [
        Row(
            f"before ({root}): validate, same file, wall (median)",
            f"{slow['wall']:.2f} s",
            f"now {now['wall']:.2f} s ({slow['wall'] / now['wall']:.1f}× faster); runs "
            + ", ".join(f"{w:.2f}" for w in walls)
            + " s",
        ),
        Row(
            "  before: CPU / peak RSS",
            f"{slow['cpu']:.2f} s / {slow['rss_mb']:.0f} MB",
            f"now {now['cpu']:.2f} s / {now['rss_mb']:.0f} MB",
        ),
        Row(
            "  before: report.xlsx size",
            f"{(out / 'report.xlsx').stat().st_size / 1e6:.1f} MB",
            "the Rows sheet held every row",
        ),
        Row("before: leadsync --version (median)", f"{version:.2f} s", "baseline"),
    ]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def _startup_rows() -> list[Row]:
    def median_wall(cmd: list[str]) -> float:
        return statistics.median(run(cmd)["wall"] for _ in range(STARTUP_RUNS))

    bare = median_wall([sys.executable, "-c", "pass"])
    eager = median_wall(
        [sys.executable, "-c", "import leadsync.run.pipeline, leadsync.report, leadsync.cli"]
    )
    rows = []
    for argv in (["--version"], ["validate", "--help"], ["sync", "--help"]):
        wall = median_wall([*LEADSYNC, *argv])
        rows.append(
            Row(
                f"leadsync {' '.join(argv)} (median of {STARTUP_RUNS})",
                f"{wall:.2f} s",
                f"≤ {TARGET_STARTUP_S} s",
                wall <= TARGET_STARTUP_S,
            )
        )
    rows.append(Row("  bare interpreter: python -c pass", f"{bare:.2f} s", "floor"))
    rows.append(
        Row("  eager import of the CLI's old module set", f"{eager:.2f} s", "baseline (before)")
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds), not judged")
    ap.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="runs at the largest size")
    ap.add_argument("--before", type=Path, help="folder holding an earlier leadsync package")
    ap.add_argument("--scenario", choices=("validate", "sync", "all"), default="all")
    ap.add_argument("--sync-rows", type=int, help="rows of the sync scenario's file")
    ap.add_argument("--campaigns", type=int, default=1, help="campaigns of the sync scenario")
    args = ap.parse_args(argv)
    judged = not args.quick
    load_start = _load()
    out: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        if args.scenario in ("validate", "all"):
            out += _validate_rows(args, tmpdir)
        if args.scenario in ("sync", "all"):
            import scale_sync

            rows = args.sync_rows or (QUICK if args.quick else FULL)["sizes"][-1]
            folder = tmpdir / "sync"
            folder.mkdir()
            before = args.before
            out += scale_sync.scenario(
                folder,
                rows,
                args.campaigns,
                judged,
                lambda cmd, env: run(cmd, env=env),
                before=(lambda cmd, env: run([cmd[0], "-S", *cmd[1:]], before, env))
                if before
                else None,
            )
    print(f"load average at start: {load_start}; at end: {_load()}")
    return print_rows(out)


def _validate_rows(args: argparse.Namespace, tmpdir: Path) -> list[Row]:
    """The validate scenario: 1M rows beside the naive loop, the scaling, start-up."""
    sizes = (QUICK if args.quick else FULL)["sizes"]
    judged = not args.quick
    out: list[Row] = []
    files = {n: gen_data.write_messy_csv(tmpdir / f"messy_{n}.csv", n) for n in sizes}
    big = sizes[-1]
    cmds: list[tuple[list[str], Path | None]] = [
        (validate_cmd(files[big], tmpdir / "report"), None)
    ]
    if args.before is not None:
        before_cmd = validate_cmd(files[big], tmpdir / "before", OLD_LEADSYNC)
        cmds.append((before_cmd, args.before))
    (fast, walls), *earlier = median_runs(cmds, args.repeat)
    folder = tmpdir / "report"
    naive = run([sys.executable, "-c", NAIVE, str(files[big]), str(tmpdir / "naive.csv")])
    read_only = run([sys.executable, "-c", READ_ONLY, str(files[big])])
    speedup = naive["wall"] / fast["wall"]
    note = "" if judged else " (quick: not judged)"
    out += [
        Row(
            f"leadsync validate, {big:,}-row messy CSV: wall (median)",
            f"{fast['wall']:.2f} s",
            f"≤ {TARGET_WALL_S} s{note}; runs " + ", ".join(f"{w:.2f}" for w in walls) + " s",
            not judged or fast["wall"] <= TARGET_WALL_S,
        ),
        Row("  CPU (user + system, all threads)", f"{fast['cpu']:.2f} s", "information"),
        Row(
            "  peak RSS",
            f"{fast['rss_mb']:.0f} MB",
            f"≤ {TARGET_RSS_MB:.0f} MB{note}",
            not judged or fast["rss_mb"] <= TARGET_RSS_MB,
        ),
        Row(
            "  of which the read stage alone (read_sources in its own process)",
            f"{read_only['rss_mb']:.0f} MB",
            f"{read_only['wall']:.2f} s wall, CPU {read_only['cpu']:.2f} s",
        ),
        Row(
            "naive loop (csv.DictReader + phonenumbers + csv.writer), same file",
            f"{naive['wall']:.2f} s",
            f"baseline; CPU {naive['cpu']:.2f} s, {naive['rss_mb']:.0f} MB",
        ),
        Row(
            "speed-up over the naive loop (wall)",
            f"{speedup:.1f}×",
            f"≥ {TARGET_SPEEDUP:.0f}×{note}",
            not judged or speedup >= TARGET_SPEEDUP,
        ),
        Row("  speed-up over the naive loop (CPU)", f"{naive['cpu'] / fast['cpu']:.1f}×", ""),
    ]
    sizes_mb = {p.name: p.stat().st_size / 1e6 for p in sorted(folder.iterdir())}
    out.append(
        Row(
            "  report folder (MB)",
            ", ".join(f"{k} {v:.1f}" for k, v in sizes_mb.items() if v >= 0.05),
            "rows.csv complete; report.xlsx capped",
        )
    )
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    out.append(
        Row(
            "  rows read / valid / rejected / duplicate",
            " / ".join(
                f"{summary['totals'][k]:,}"
                for k in ("rows_read", "rows_valid", "rows_rejected", "rows_duplicate")
            ),
            "",
        )
    )
    for n in sizes:
        r = fast if n == big else run(validate_cmd(files[n], tmpdir / f"report_{n}"))
        out.append(
            Row(
                f"scaling: validate {n:,} rows",
                f"{r['wall']:.2f} s, {r['rss_mb']:.0f} MB",
                f"CPU {r['cpu']:.2f} s, {r['wall'] / n * 1e6:.1f} µs/row",
            )
        )
    if args.before is not None:
        out += _before_rows(args.before, tmpdir / "before", earlier[0], fast)
    out += _startup_rows()
    return out


if __name__ == "__main__":
    raise SystemExit(main())
