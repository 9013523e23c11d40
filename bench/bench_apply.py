"""Apply benchmark: leadsync's apply beside a bare client, against two servers, in one run.

Usage: python bench/bench_apply.py [--quick] [--profile]

Each server runs in its own process (it shares no GIL with the client), answering every
request after 20 ms:

- ``leadsync sandbox`` (leadsync's own stand-in);
- ``bench/stdlib_server.py``: the standard library's ``ThreadingHTTPServer`` and request
  parsing, written from the API document — a server that is not leadsync's.

Against each, N adds at concurrency 16 (ideal = N × 20 ms / 16), three alternating runs of
each side whose medians are compared (the machine's load drifts between runs):

- ``apply_plan`` with a ``CampaignsClient`` (worker threads, one urllib3 pool, journal with
  background fsync): wall time, % of the ideal (target ≥ 90 %) and % of the bare client's
  rate (target ≥ 95 %);
- the bare client: 16 threads of ``http.client`` keep-alive connections, no engine, no
  retries — the ceiling of what Python threads reach on this machine;
- the client process's CPU per add (leadsync's and the bare client's: with 16 threads under
  one GIL on a few cores, every bit of it stretches each call's cycle), and the server
  process's CPU during the apply.

Besides: against the stdlib server, 16 threads on one urllib3 pool and 16 threads of
``requests.Session`` (the library choice, measured); the naive loop (one thread, one
``requests`` call after another, on a sample scaled to N); a rate-limited server (100
requests/s, 429 with Retry-After beyond): apply must hold ≥ 95 % of the limit; the journal's
cost per line for each fsync mode.

Prints ``metric | measured | target or baseline`` and the load average, and exits 1 when a
target is missed. ``--profile`` instead runs one apply against the stdlib server under
cProfile in every thread, timed by each thread's CPU time, and prints the functions by own
and by cumulative CPU time: where the CPU per add goes.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests
import urllib3
from benchtable import Row, print_rows

from leadsync.api import CampaignsClient
from leadsync.apply import Journal, apply_plan
from leadsync.config import ApiSettings
from leadsync.models import Operation, OpKind, OpOutcome, OpResult
from leadsync.sandbox import Sandbox, SandboxConfig

HERE = Path(__file__).resolve().parent
LATENCY_MS = 20.0
CONCURRENCY = 16
TARGET_OF_IDEAL = 0.90
TARGET_OF_BARE = 0.95
TARGET_OF_LIMIT = 0.95
LIMIT_RPS = 100.0
FULL = {"adds": 2000, "rounds": 3, "naive": 200, "limited": 3000, "journal_lines": 2000}
QUICK = {"adds": 400, "rounds": 1, "naive": 50, "limited": 400, "journal_lines": 300}
START_TIMEOUT_S = 60
ADD_PATH = "/api/v2/config/campaigns/{cid}/lead"
SANDBOX_CAMPAIGNS = ("Apply", "Bare", "Naive")


# --- the servers -----------------------------------------------------------------------------
def serve_sandbox() -> None:
    """Child process: a sandbox with 20 ms latency; prints READY port token campaign ids…"""
    with Sandbox(SandboxConfig(latency_ms=LATENCY_MS)) as sb:
        cids = [sb.state.add_campaign(name) for name in SANDBOX_CAMPAIGNS]
        print("READY", sb.port, sb.issue_token(), *cids, flush=True)
        sys.stdin.read()


@dataclass
class Server:
    """A server process: its URL, a token, its campaign ids, the login to use."""

    name: str
    proc: subprocess.Popen[str]
    url: str
    token: str
    cids: list[str]
    login: dict[str, str]
    account_id: str

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)

    def settings(self, **api: object) -> ApiSettings:
        return ApiSettings(
            base_url=self.url,
            account_id=self.account_id,
            concurrency=CONCURRENCY,
            **self.login,
            **api,  # type: ignore[arg-type]
        )

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "X-Account-ID": self.account_id,
            "Content-Type": "application/json",
        }


def start(name: str, args: list[str], login: dict[str, str], account_id: str) -> Server:
    proc = subprocess.Popen(
        [sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    line = ""
    while time.monotonic() < deadline and not line.startswith("READY"):
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise SystemExit(f"the {name} process ended before it was ready")
    _, port, token, *cids = line.split()
    return Server(name, proc, f"http://127.0.0.1:{port}", token, cids, login, account_id)


def start_sandbox() -> Server:
    demo = SandboxConfig()
    login = {"username": demo.username, "password": demo.password or "", "domain": demo.domain}
    return start("sandbox", [__file__, "--serve"], login, demo.account_id)


def start_stdlib(rate: float | None = None) -> Server:
    sys.path.insert(0, str(HERE))
    import stdlib_server as s

    args = [str(HERE / "stdlib_server.py"), "--latency-ms", str(LATENCY_MS)]
    args += ["--rate", str(rate)] if rate else []
    login = {"username": s.USERNAME, "password": s.PASSWORD, "domain": s.DOMAIN}
    return start("stdlib", args, login, s.ACCOUNT_ID)


# --- what is measured -------------------------------------------------------------------------
def number(i: int) -> str:
    return f"+1{2_000_000_000 + i}"


def add_ops(cid: str, count: int, first: int = 0) -> list[Operation]:
    return [
        Operation(
            i, OpKind.ADD, cid, "Apply", number(i), "not-in-campaign", body={"number": number(i)}
        )
        for i in range(first, first + count)
    ]


@dataclass
class Applied:
    wall: float
    done: int
    cpu_ms_per_add: float
    server_cpu: float
    journal: Journal
    counters: dict[str, int]


def run_apply(server: Server, cid: str, count: int, folder: Path, first: int = 0) -> Applied:
    me, them = psutil.Process(), psutil.Process(server.proc.pid)
    with CampaignsClient(server.settings()) as client:
        client.campaigns()  # log in (and warm one connection) before the clock starts
        journal = Journal(folder / f"operations-{server.name}-{cid}-{first}.jsonl")
        ops = add_ops(cid, count, first)  # the plan exists before the apply starts
        mine0, theirs0 = me.cpu_times(), them.cpu_times()
        t0 = time.perf_counter()
        result = apply_plan(ops, client, concurrency=CONCURRENCY, journal=journal)
        wall = time.perf_counter() - t0
        mine1, theirs1 = me.cpu_times(), them.cpu_times()
        journal.close()
        counters = client.counters.as_dict()
    done = sum(r.outcome is OpOutcome.DONE for r in result.results)
    cpu = mine1.user + mine1.system - mine0.user - mine0.system
    server_cpu = theirs1.user + theirs1.system - theirs0.user - theirs0.system
    return Applied(wall, done, cpu / count * 1000, server_cpu / wall, journal, counters)


@dataclass
class Timed:
    wall: float
    cpu_ms_per_add: float  # the whole process's CPU (all threads)


def in_threads(count: int, threads: int, add: Callable[[int], None]) -> Timed:
    """``add(i)`` for every i from ``threads`` threads: wall seconds, CPU per add."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(add, range(count)))
    wall = time.perf_counter() - t0
    return Timed(wall, (time.process_time() - cpu0) / count * 1000)


def run_bare(server: Server, cid: str, count: int, first: int = 0) -> Timed:
    """16 threads, each with its own ``http.client`` keep-alive connection: wall seconds and
    the process's CPU per add."""
    host, port = server.url.removeprefix("http://").split(":")
    path = ADD_PATH.format(cid=cid)
    headers = server.headers()
    local = threading.local()

    def add(i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("PUT", path, json.dumps({"number": number(first + i)}), headers)
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200, answer.status

    return in_threads(count, CONCURRENCY, add)


def run_urllib3(server: Server, cid: str, count: int) -> Timed:
    """16 threads sharing one urllib3 pool (what leadsync sends through), no engine."""
    pool = urllib3.HTTPConnectionPool(
        *server.url.removeprefix("http://").split(":"), maxsize=CONCURRENCY
    )
    path, headers = ADD_PATH.format(cid=cid), server.headers()

    def add(i: int) -> None:
        body = json.dumps({"number": number(i)}).encode()
        answer = pool.urlopen("PUT", path, body=body, headers=headers, retries=False)
        assert answer.status == 200, answer.status

    try:
        return in_threads(count, CONCURRENCY, add)
    finally:
        pool.close()


def run_requests(server: Server, cid: str, count: int, threads: int) -> Timed:
    """Plain ``requests`` calls from ``threads`` threads (one Session each)."""
    url, headers = server.url + ADD_PATH.format(cid=cid), server.headers()
    local = threading.local()

    def add(i: int) -> None:
        s = getattr(local, "session", None)
        if s is None:
            s = local.session = requests.Session()
            s.trust_env = False
        r = s.put(url, json={"number": number(i)}, headers=headers, timeout=30)
        r.raise_for_status()

    if threads > 1:
        return in_threads(count, threads, add)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(count):
        add(i)
    return Timed(time.perf_counter() - t0, (time.process_time() - cpu0) / count * 1000)


def journal_cost(lines: int, folder: Path) -> dict[str, float]:
    """Microseconds per appended line, one line per append, for each fsync mode."""
    r = OpResult(1, OpKind.ADD, "c" * 32, number(1), OpOutcome.DONE, 1, 200, "", "PUT")
    cost: dict[str, float] = {}
    for mode in ("always", "background", "never"):
        with Journal(folder / f"{mode}.jsonl", fsync=mode) as journal:  # type: ignore[arg-type]
            t0 = time.perf_counter()
            for _ in range(lines):
                journal.append(r)
            cost[mode] = (time.perf_counter() - t0) / lines * 1e6
    return cost


def compare(server: Server, n: int, folder: Path, rounds: int, judged: bool) -> list[Row]:
    """The rows of leadsync's apply beside the bare client against ``server``: ``rounds``
    alternating runs of each, the median of each compared (the machine's load drifts)."""
    ideal = n * LATENCY_MS / 1000 / CONCURRENCY
    apply_cid, bare_cid = server.cids[0], server.cids[1]
    bares, runs = [], []
    for r in range(rounds):
        bares.append(run_bare(server, bare_cid, n, first=r * n))
        runs.append(run_apply(server, apply_cid, n, folder, first=r * n))
    bare = statistics.median(b.wall for b in bares)
    bare_cpu = statistics.median(b.cpu_ms_per_add for b in bares)
    applied = sorted(runs, key=lambda a: a.wall)[len(runs) // 2]
    of_ideal, of_bare = ideal / applied.wall, bare / applied.wall
    note = "" if judged else " (quick: not judged)"
    spread = f" [{min(a.wall for a in runs):.2f}–{max(a.wall for a in runs):.2f}]"
    bare_spread = f" [{min(b.wall for b in bares):.2f}–{max(b.wall for b in bares):.2f}]"
    return [
        Row(
            f"[{server.name}] ideal: {n} adds × {LATENCY_MS:g} ms / {CONCURRENCY}",
            f"{ideal:.2f} s",
            "",
        ),
        Row(
            f"[{server.name}] bare client: {CONCURRENCY} threads of http.client keep-alive",
            f"{bare:.2f} s ({ideal / bare:.0%} of ideal){bare_spread}",
            f"baseline (median of {rounds})",
        ),
        Row(
            f"[{server.name}] leadsync apply_plan ({applied.done} of {n} done)",
            f"{applied.wall:.2f} s ({n / applied.wall:.0f} adds/s){spread}",
            f"{n} done (median of {rounds})",
            all(a.done == n for a in runs),
        ),
        Row(
            f"[{server.name}] leadsync: % of ideal",
            f"{of_ideal:.0%}",
            f"≥ {TARGET_OF_IDEAL:.0%}{note}",
            not judged or of_ideal >= TARGET_OF_IDEAL,
        ),
        Row(
            f"[{server.name}] leadsync: % of the bare client's rate",
            f"{of_bare:.0%}",
            f"≥ {TARGET_OF_BARE:.0%}{note}",
            not judged or of_bare >= TARGET_OF_BARE,
        ),
        Row(
            f"[{server.name}] client process CPU per add: leadsync / bare client",
            f"{applied.cpu_ms_per_add:.2f} ms / {bare_cpu:.2f} ms",
            f"the bare client's (median of {rounds}): baseline",
        ),
        Row(
            f"[{server.name}] server CPU during the apply",
            f"{applied.server_cpu:.2f} core",
            "server < 0.9 core: not the limit",
            applied.server_cpu < 0.9,
        ),
    ]


def profile_apply(n: int, top: int = 40) -> None:
    """One apply of ``n`` adds against the stdlib server under cProfile in every thread (the
    workers, the journal's syncer, the caller), each timed by its own thread's CPU time; prints
    the ``top`` functions by own time and by cumulative time. Profiling inflates Python-level
    calls several times: read the shares, not the absolute figures."""
    profiles: list[cProfile.Profile] = []

    def start_in_thread(*_: object) -> None:  # the first event of each new thread
        sys.setprofile(None)
        p = cProfile.Profile(time.thread_time)
        profiles.append(p)
        p.enable()

    server = start_stdlib()
    try:
        with tempfile.TemporaryDirectory() as tmp, CampaignsClient(server.settings()) as client:
            client.campaigns()
            warm = add_ops(server.cids[1], CONCURRENCY * 4, first=n)
            with Journal(Path(tmp) / "warm.jsonl") as journal:
                apply_plan(warm, client, concurrency=CONCURRENCY, journal=journal)
            ops = add_ops(server.cids[0], n)
            main = cProfile.Profile(time.thread_time)
            threading.setprofile(start_in_thread)
            cpu0, t0 = time.process_time(), time.perf_counter()
            with Journal(Path(tmp) / "profiled.jsonl") as journal:
                main.enable()
                apply_plan(ops, client, concurrency=CONCURRENCY, journal=journal)
                main.disable()
            threading.setprofile(None)  # type: ignore[arg-type]
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        server.close()
    stats = pstats.Stats(main)
    for p in profiles:
        stats.add(p)
    print(
        f"{n} adds in {wall:.2f} s, {cpu / n * 1000:.2f} ms CPU per add under the profiler; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(top)
        print(out.getvalue())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument(
        "--profile", action="store_true", help="profile one apply instead (CPU per function)"
    )
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve_sandbox()
        return 0
    if args.profile:
        profile_apply(QUICK["adds"] if args.quick else FULL["adds"])
        return 0
    size = QUICK if args.quick else FULL
    n = size["adds"]
    # At --quick sizes (0.5 s ideal) fixed costs weigh several times more: a smoke run.
    judged = not args.quick
    load_before = os.getloadavg()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stdlib = start_stdlib()
        try:
            rows += compare(stdlib, n, folder, size["rounds"], judged)
            ideal = n * LATENCY_MS / 1000 / CONCURRENCY
            pooled = run_urllib3(stdlib, stdlib.cids[4], n)
            threaded = run_requests(stdlib, stdlib.cids[5], n, CONCURRENCY)
            naive_sample = run_requests(stdlib, stdlib.cids[2], size["naive"], 1)
        finally:
            stdlib.close()
        rows += [
            Row(
                f"[stdlib] {CONCURRENCY} threads on one urllib3 pool (leadsync's choice), no engine",
                f"{pooled.wall:.2f} s ({ideal / pooled.wall:.0%} of ideal), "
                f"{pooled.cpu_ms_per_add:.2f} ms CPU per add",
                "baseline",
            ),
            Row(
                f"[stdlib] {CONCURRENCY} threads of requests.Session, no engine",
                f"{threaded.wall:.2f} s ({ideal / threaded.wall:.0%} of ideal), "
                f"{threaded.cpu_ms_per_add:.2f} ms CPU per add",
                "baseline",
            ),
            Row(
                f"[stdlib] naive sequential loop (requests; {size['naive']} measured, "
                f"scaled to {n})",
                f"{naive_sample.wall / size['naive'] * n:.1f} s",
                "baseline",
            ),
        ]
        sandbox = start_sandbox()
        try:
            rows += compare(sandbox, n, folder, size["rounds"], judged)
        finally:
            sandbox.close()
        limited = start_stdlib(rate=LIMIT_RPS)
        try:
            m = size["limited"]
            applied = run_apply(limited, limited.cids[3], m, folder)
        finally:
            limited.close()
        # The server's bucket starts full (one second's worth): those adds pass at once.
        held = (m - LIMIT_RPS) / applied.wall / LIMIT_RPS
        rows += [
            Row(
                f"[stdlib, {LIMIT_RPS:g} requests/s, 429 beyond] apply of {m} adds "
                f"({applied.done} done, {applied.counters['throttled']} throttled)",
                f"{applied.wall:.2f} s ({m / applied.wall:.1f} adds/s)",
                f"ideal {m / LIMIT_RPS:.1f} s",
                applied.done == m,
            ),
            Row(
                "apply's rate under the server's limit, beyond its first second's burst: "
                "% of the limit",
                f"{held:.0%}",
                f"≥ {TARGET_OF_LIMIT:.0%}" + ("" if judged else " (quick: not judged)"),
                not judged or held >= TARGET_OF_LIMIT,
            ),
        ]
        cost = journal_cost(size["journal_lines"], folder)
    rows += [
        Row(
            f"journal append, fsync={mode} (one line per append)",
            f"{us:.0f} µs/line",
            "baseline" if mode != "background" else "writer never waits for the disk",
        )
        for mode, us in cost.items()
    ]
    load_after = os.getloadavg()
    rows.append(
        Row(
            "machine load average (1 min) before / after",
            f"{load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} cores",
            "figures are noisy when others run",
        )
    )
    return print_rows(rows)


if __name__ == "__main__":
    sys.exit(main())
