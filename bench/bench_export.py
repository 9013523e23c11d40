"""Benchmark: export a large sandbox campaign to CSV — time, leads/s, peak RSS growth.

The export streams page by page, so its memory must not grow with the campaign: the same
export of a campaign ten times smaller runs in the same process as the baseline, and the
peak RSS growth of the big one may exceed it by at most a small constant.

The sandbox runs in a separate process so that only the client's memory is measured; RSS is
sampled every few milliseconds in a thread (psutil) during the export.

    python bench/bench_export.py            # 100,000 leads vs 10,000
    python bench/bench_export.py --quick    # 10,000 vs 1,000
Exit status 1 when a target is missed. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from leadsync.api import CampaignsClient  # noqa: E402
from leadsync.api.export import export_leads  # noqa: E402
from leadsync.config import ApiSettings  # noqa: E402

FULL_SIZES = (100_000, 10_000)
QUICK_SIZES = (10_000, 1_000)
#: Leads per page asked of the sandbox (its default cap is 1000).
PAGE_SIZE = 1000
#: RSS sampling period.
SAMPLE_EVERY_S = 0.005
#: Streaming target: the big export's RSS growth may exceed the small one's by at most this.
#: Holding all pages at once (not streamed) measured +66 MB for 100,000 leads, +7 MB for 10,000.
MAX_EXTRA_GROWTH_MB = {"full": 24.0, "quick": 4.0}
#: Throughput floor (leads/s) for the big export on loopback (2 shared cores).
MIN_LEADS_PER_S = {"full": 5_000.0, "quick": 2_000.0}
MB = 1024 * 1024


def _serve(sizes: tuple[int, ...], conn: Any) -> None:
    """Child process: a sandbox holding one campaign per size; sends (url, ids, creds)."""
    from leadsync.sandbox import Sandbox, SandboxConfig

    sb = Sandbox(SandboxConfig(page_cap=PAGE_SIZE)).start()
    ids = {}
    for n in sizes:
        cid = sb.state.add_campaign(f"Bench {n}")
        sb.state.add_leads(
            cid,
            (
                {
                    "number": f"+1213{i:07d}",
                    "status": "new",
                    "first_name": f"First{i}",
                    "last_name": f"Last{i}",
                    "priority": i % 10,
                    "retries": 3,
                }
                for i in range(n)
            ),
        )
        ids[n] = cid
    cfg = sb.config
    conn.send((sb.base_url, ids, (cfg.username, cfg.password, cfg.domain, cfg.account_id)))
    conn.recv()  # wait until the parent is done
    sb.stop()


class RssSampler:
    """Peak RSS of this process while running, sampled in a thread."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self.baseline = self._proc.memory_info().rss
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(SAMPLE_EVERY_S)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / MB


@dataclass
class Run:
    leads: int
    seconds: float
    growth_mb: float
    file_mb: float
    requests: int

    @property
    def per_s(self) -> float:
        return self.leads / self.seconds if self.seconds else float("inf")


def export_once(settings: ApiSettings, campaign_id: str, out: Path) -> Run:
    gc.collect()
    with CampaignsClient(settings) as client:
        campaign = next(c for c in client.campaigns() if c.id == campaign_id)
        with RssSampler() as rss:
            started = time.perf_counter()
            n = export_leads(client, campaign, out)
            seconds = time.perf_counter() - started
        requests = client.counters.as_dict()["requests"]
    return Run(n, seconds, rss.growth_mb, out.stat().st_size / MB, requests)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10,000 vs 1,000 leads (seconds)")
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    big_n, small_n = QUICK_SIZES if args.quick else FULL_SIZES

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=((big_n, small_n), child), daemon=True)
    server.start()
    try:
        url, ids, (user, password, domain, account) = parent.recv()
        settings = ApiSettings(
            base_url=url,
            username=user,
            password=password,
            domain=domain,
            account_id=account,
            page_size=PAGE_SIZE,
        )
        with tempfile.TemporaryDirectory() as tmp:
            # warm-up (imports, connection), then the baseline, then the big one
            export_once(settings, ids[small_n], Path(tmp) / "warm.csv")
            small = export_once(settings, ids[small_n], Path(tmp) / "small.csv")
            big = export_once(settings, ids[big_n], Path(tmp) / "big.csv")
    finally:
        parent.send("done")
        server.join(timeout=30)

    extra = big.growth_mb - small.growth_mb
    rate_floor = MIN_LEADS_PER_S[mode]
    extra_cap = MAX_EXTRA_GROWTH_MB[mode]
    ok_count = big.leads == big_n and small.leads == small_n
    ok_rate = big.per_s >= rate_floor
    ok_mem = extra <= extra_cap
    rows = [
        ("leads exported", f"{big.leads:,}", f"baseline {small.leads:,}", ok_count),
        ("API requests (all calls)", f"{big.requests}", f"baseline {small.requests}", True),
        ("export time (s)", f"{big.seconds:.2f}", f"baseline {small.seconds:.2f}", True),
        (
            "leads/s",
            f"{big.per_s:,.0f}",
            f"target >= {rate_floor:,.0f} (baseline {small.per_s:,.0f})",
            ok_rate,
        ),
        ("peak RSS growth (MB)", f"{big.growth_mb:.1f}", f"baseline {small.growth_mb:.1f}", True),
        (
            "growth over baseline (MB)",
            f"{extra:.1f}",
            f"target <= {extra_cap:.0f} (streamed: flat)",
            ok_mem,
        ),
        ("CSV size (MB)", f"{big.file_mb:.1f}", f"baseline {small.file_mb:.1f}", True),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"bench_export ({mode}: {big_n:,} vs {small_n:,} leads, page_size {PAGE_SIZE})")
    print(f"{'metric':<{width}} | {'measured':>10} | target or baseline")
    for name, measured, target, ok in rows:
        flag = "" if ok else "   << MISSED"
        print(f"{name:<{width}} | {measured:>10} | {target}{flag}")
    return 0 if (ok_count and ok_rate and ok_mem) else 1


if __name__ == "__main__":
    sys.exit(main())
