"""Where the fetch's CPU goes, per part, beside the bare paging client's (CPU seconds, so that
the figures hold on a busy machine better than wall times).

Builds bench/scale_sync.py's load (``--rows``, default 1,000,000), seeds bench/stdlib_server.py,
then in this process:

- the bare client (one ``http.client`` connection, ``json.loads`` per page) — its CPU, and the
  CPU of its ``json.loads`` alone on the same bodies;
- leadsync's requests alone (``CampaignsClient._request`` of the same pages, no parsing);
- the parse of the same bodies into Arrow columns (``api.leadtable.parse_lead_table``);
- the keys (``run.campaigns.RemoteKeys``, batches of ``KEY_BATCH_ROWS``) and the final table
  (``remote_frame``).

Usage: python bench/fetch_cpu.py [--rows N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scale_sync  # noqa: E402
from benchtable import Row, print_rows  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    from leadsync.api import CampaignsClient
    from leadsync.api.leadtable import parse_lead_table
    from leadsync.config import ApiSettings
    from leadsync.run.campaigns import RemoteKeys, remote_frame

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        load = scale_sync.build_load(Path(tmp), args.rows, 1)
        server = scale_sync.start_stdlib(load.seed)
        try:
            cid = server.cids[0]
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            headers = {"Authorization": f"Bearer {server.token}", "X-Account-ID": server.account_id}
            bodies: list[bytes] = []
            keys: list[str | None] = [None]
            c0 = time.process_time()
            while True:
                path = f"/api/v2/config/campaigns/{cid}/leads?page_size={scale_sync.PAGE}"
                path += f"&next_start_key={keys[-1]}" if keys[-1] else ""
                conn.request("GET", path, headers=headers)
                body = conn.getresponse().read()
                bodies.append(body)
                key = json.loads(body).get("next_start_key")
                if not key:
                    break
                keys.append(key)
            bare = time.process_time() - c0
            conn.close()
            c0 = time.process_time()
            for body in bodies:
                json.loads(body)
            loads = time.process_time() - c0
            settings = ApiSettings(
                base_url=server.url,
                account_id=server.account_id,
                page_size=scale_sync.PAGE,
                username=server.login["username"],
                password=server.login["password"],
                domain=server.login["domain"],
            )
            with CampaignsClient(settings) as client:
                client.campaigns()
                path = f"/api/v2/config/campaigns/{cid}/leads"
                c0 = time.process_time()
                for key in keys:
                    params: dict[str, object] = {"page_size": scale_sync.PAGE}
                    if key:
                        params["next_start_key"] = key
                    client._request("GET", path, params=params)
                requests = time.process_time() - c0
        finally:
            server.close()
    c0 = time.process_time()
    pages = [parse_lead_table(body)[0] for body in bodies]
    parse = time.process_time() - c0
    c0 = time.process_time()
    with RemoteKeys("US") as keyed:
        for page in pages:
            keyed.add(page)
        batches = keyed.batches()
    keying = time.process_time() - c0
    c0 = time.process_time()
    frame = remote_frame(batches, cid, region="US")
    final = time.process_time() - c0
    n = len(frame)
    ours = requests + parse + keying + final
    rows = [
        Row("pages / leads", f"{len(bodies):,} / {n:,}", f"{args.rows:,} rows loaded"),
        Row("bare client, CPU", f"{bare:.2f} s", f"of which json.loads {loads:.2f} s"),
        Row("leadsync: requests (CampaignsClient._request)", f"{requests:.2f} s", "CPU"),
        Row("leadsync: parse into Arrow columns", f"{parse:.2f} s", "CPU"),
        Row("leadsync: keys (RemoteKeys)", f"{keying:.2f} s", "CPU"),
        Row("leadsync: final table (remote_frame)", f"{final:.2f} s", "CPU"),
        Row("leadsync: sum", f"{ours:.2f} s", f"{ours / bare:.2f}× the bare client's CPU"),
    ]
    print(
        "load average at start: {:.1f} {:.1f} {:.1f}; at end: {:.1f} {:.1f} {:.1f}".format(
            *load_start, *os.getloadavg()
        )
    )
    return print_rows(rows)


if __name__ == "__main__":
    raise SystemExit(main())
