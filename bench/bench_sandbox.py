"""Sandbox benchmark: keep-alive throughput, and paging through a million-lead campaign.

Usage: python bench/bench_sandbox.py [--quick]

The sandbox runs in its own process (as `leadsync sandbox` does) so that the client's
interpreter does not share a GIL with it; one in-process figure shows what tests see.
Clients are requests.Session objects with ``trust_env = False`` (reading proxy variables from
the environment on every request is client overhead, not the server's).
Prints ``metric | measured | target or baseline`` and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil
import requests
from benchtable import Row, print_rows

from leadsync.sandbox import Sandbox, SandboxConfig, SandboxState

TARGET_RPS = 1000.0
THREADS = 8
PAGE = 1000
FULL = {"requests": 5000, "leads": 1_000_000}
QUICK = {"requests": 500, "leads": 50_000}
#: Listing the whole big campaign must take at most this long (seconds per million leads,
#: and never less than the floor, which covers fixed costs at --quick sizes).
TARGET_LIST_S_PER_MILLION = 30.0
TARGET_LIST_FLOOR_S = 5.0
#: Server CPU for one page of PAGE leads (lookup, dicts, JSON), whatever the machine's load.
TARGET_PAGE_CPU_MS = 20.0
#: Late pages may cost at most this many times the early ones (paging is O(page), not O(n)).
TARGET_PAGE_COST_RATIO = 2.0
#: One lead in this many is deleted before paging is timed again (deletes must not slow it).
DELETE_EVERY = 10
#: Pages at each end of the walk whose median times are compared.
EDGE_PAGES = 20
CAMPAIGNS = "/api/v2/reports/campaigns/leads/status"
START_TIMEOUT_S = 600


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


# --- the server process ----------------------------------------------------------------------
def serve(leads: int) -> None:
    """Child process: a sandbox with one big campaign; prints READY and waits for stdin EOF."""
    with Sandbox(SandboxConfig(page_cap=PAGE)) as sb:
        cid = sb.state.add_campaign("Big")
        t0 = time.perf_counter()
        batch = 100_000
        for start in range(0, leads, batch):
            sb.state.add_leads(
                cid,
                [
                    {"number": f"+1{2_000_000_000 + i}", "first_name": "F", "last_name": "L"}
                    for i in range(start, min(leads, start + batch))
                ],
            )
        load_s = time.perf_counter() - t0
        rss_mb = psutil.Process().memory_info().rss / 1e6
        token = sb.issue_token()
        print(f"READY {sb.port} {token} {cid} {load_s:.3f} {rss_mb:.0f}", flush=True)
        if sys.stdin.readline().strip() == "paging":
            before, ids = cpu_walk(sb.state, cid)
            for lead_id in ids[::DELETE_EVERY]:
                sb.state.delete_lead(lead_id)
            after, _ = cpu_walk(sb.state, cid)
            early = statistics.median(before[1 : EDGE_PAGES + 1])
            late = statistics.median(before[-EDGE_PAGES - 1 : -1])
            deleted = statistics.median(after)
            print(f"PAGING {sum(before):.4f} {early:.6f} {late:.6f} {deleted:.6f}", flush=True)
        sys.stdin.read()  # until the parent closes our stdin


def cpu_walk(state: SandboxState, cid: str) -> tuple[list[float], list[str]]:
    """Walk a campaign page by page in-process: CPU seconds of each page, and the lead ids."""
    times: list[float] = []
    ids: list[str] = []
    key = None
    while True:
        t0 = time.thread_time()
        data, key = state.page(cid, key, PAGE)
        times.append(time.thread_time() - t0)
        ids += [lead["id"] for lead in data]
        if key is None:
            return times, ids


def start_server(leads: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(leads)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "READY":
        proc.kill()
        raise SystemExit(f"the sandbox process did not start: {line}")
    _, port, token, cid, load_s, rss = line
    info = {
        "base": f"http://127.0.0.1:{port}",
        "headers": {"Authorization": f"Bearer {token}", "X-Account-ID": "acct-demo"},
        "cid": cid,
        "load_s": float(load_s),
        "rss_mb": float(rss),
    }
    return proc, info


# --- measurements ----------------------------------------------------------------------------
def rps_sequential(call: Callable[[], int], n: int) -> float:
    """Requests per second of ``n`` sequential calls (each returns its HTTP status)."""
    call()  # warm up: connect, first allocations
    t0 = time.perf_counter()
    for _ in range(n):
        status = call()
        if status != 200:
            raise SystemExit(f"unexpected HTTP status {status}")
    return n / (time.perf_counter() - t0)


def fresh_connection_get(url: str, headers: dict[str, str]) -> int:
    """One GET on a new Session, hence a new TCP connection (the no-keep-alive baseline)."""
    with session() as s:
        return s.get(url, headers=headers).status_code


def rps_threads(url: str, headers: dict[str, str], n: int, threads: int) -> float:
    per = n // threads
    errors: list[str] = []
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        with session() as s:
            s.get(url, headers=headers)
            barrier.wait()
            for _ in range(per):
                answer = s.get(url, headers=headers)
                if answer.status_code != 200:
                    errors.append(str(answer.status_code))

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"unexpected answers: {errors[:5]}")
    return per * threads / elapsed


def list_all(base: str, headers: dict[str, str], cid: str) -> tuple[int, float, list[float]]:
    """Walk every page; (leads seen, seconds, seconds per page)."""
    url = f"{base}/api/v2/config/campaigns/{cid}/leads"
    seen = 0
    page_times: list[float] = []
    key = None
    with session() as s:
        t0 = time.perf_counter()
        while True:
            params: dict[str, Any] = {"page_size": PAGE}
            if key:
                params["next_start_key"] = key
            p0 = time.perf_counter()
            body = s.get(url, params=params, headers=headers).json()
            page_times.append(time.perf_counter() - p0)
            seen += len(body["data"])
            key = body.get("next_start_key")
            if not key:
                return seen, time.perf_counter() - t0, page_times


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def raw_client_rps(base: str, headers: dict[str, str], n: int) -> float:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port))

    def call() -> int:
        conn.request("GET", CAMPAIGNS, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status

    try:
        return rps_sequential(call, n)
    finally:
        conn.close()


def in_process_rps(n: int) -> float:
    with Sandbox() as sb, session() as s:
        url, headers = sb.url(CAMPAIGNS), sb.auth_headers()
        return rps_sequential(lambda: s.get(url, headers=headers).status_code, n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return 0
    sizes = QUICK if args.quick else FULL
    n, leads = sizes["requests"], sizes["leads"]
    rows: list[Row] = []
    proc, info = start_server(leads)
    try:
        base, headers = info["base"], info["headers"]
        url = base + CAMPAIGNS
        server = psutil.Process(proc.pid)
        with session() as s:
            cpu0 = cpu_seconds(server)
            keep = rps_sequential(lambda: s.get(url, headers=headers).status_code, n)
            cpu_us = (cpu_seconds(server) - cpu0) / (n + 1) * 1e6
        fresh = rps_sequential(lambda: fresh_connection_get(url, headers), max(n // 5, 50))
        rows.append(
            Row(
                "keep-alive, 1 requests.Session (req/s)",
                f"{keep:,.0f}",
                f"info: bound by requests' own CPU per call (new connection each: {fresh:,.0f})",
            )
        )
        rows.append(
            Row(
                "server CPU per request (keep-alive)",
                f"{cpu_us:,.0f} us (~{1e6 / cpu_us:,.0f} req/s per core)",
                f"<= {1e6 / TARGET_RPS:,.0f} us",
                cpu_us <= 1e6 / TARGET_RPS,
            )
        )
        lean = raw_client_rps(base, headers, n)
        rows.append(
            Row(
                "keep-alive, 1 http.client connection (req/s)",
                f"{lean:,.0f}",
                f">= {TARGET_RPS:,.0f} (a lean client, so the server's own rate is measured)",
                lean >= TARGET_RPS,
            )
        )
        threaded = rps_threads(url, headers, n, THREADS)
        rows.append(
            Row(
                f"keep-alive, {THREADS} threads x requests.Session (req/s)",
                f"{threaded:,.0f}",
                "info: client-bound, as above",
            )
        )
        rows.append(
            Row(
                "keep-alive, 1 requests.Session, server in-process (req/s)",
                f"{in_process_rps(n):,.0f}",
                "info: client and server share one GIL (as in tests)",
            )
        )
        rows.append(Row(f"load {leads:,} leads (add_leads)", f"{info['load_s']:.1f} s", "info"))
        rows.append(Row(f"server RSS with {leads:,} leads", f"{info['rss_mb']:,.0f} MB", "info"))
        cpu0 = cpu_seconds(server)
        seen, list_s, page_times = list_all(base, headers, info["cid"])
        page_cpu_ms = (cpu_seconds(server) - cpu0) / len(page_times) * 1000
        budget = max(TARGET_LIST_FLOOR_S, TARGET_LIST_S_PER_MILLION * leads / 1_000_000)
        rows.append(
            Row(
                f"list {leads:,} leads, pages of {PAGE:,}",
                f"{list_s:.1f} s ({seen / list_s:,.0f} leads/s)",
                f"<= {budget:.1f} s",
                seen == leads and list_s <= budget,
            )
        )
        rows.append(
            Row(
                f"server CPU per page of {PAGE:,} leads",
                f"{page_cpu_ms:.1f} ms",
                f"<= {TARGET_PAGE_CPU_MS:.0f} ms",
                page_cpu_ms <= TARGET_PAGE_CPU_MS,
            )
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("paging\n")
        proc.stdin.flush()
        reply = proc.stdout.readline().split()
        if not reply or reply[0] != "PAGING":
            raise SystemExit(f"the sandbox process did not answer: {reply}")
        walk_s, early, late, deleted = (float(x) for x in reply[1:])
        rows.append(
            Row(
                f"in-process walk of {leads:,} leads (state.page, CPU)",
                f"{walk_s:.1f} s",
                "info: the server's share of the listing",
            )
        )
        ratio = late / early
        rows.append(
            Row(
                "last pages / first pages, CPU (medians)",
                f"{ratio:.2f} ({late * 1000:.2f} ms vs {early * 1000:.2f} ms)",
                f"<= {TARGET_PAGE_COST_RATIO:.1f} (O(page) lookup)",
                ratio <= TARGET_PAGE_COST_RATIO,
            )
        )
        after = deleted / statistics.median([early, late])
        rows.append(
            Row(
                f"page after deleting 1 lead in {DELETE_EVERY}, CPU (median)",
                f"{after:.2f} x ({deleted * 1000:.2f} ms)",
                f"<= {TARGET_PAGE_COST_RATIO:.1f} x before (deletes keep paging O(page))",
                after <= TARGET_PAGE_COST_RATIO,
            )
        )
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=START_TIMEOUT_S)
    print_rows(rows, load_note=False)
    missed = [r.metric for r in rows if not r.ok]
    if missed:
        print(f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
