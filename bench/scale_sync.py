"""The ``sync`` scenario of bench/bench_scale.py: ``leadsync sync --dry-run --mode mirror`` of a
messy 1,000,000-row CSV against a campaign that already holds ~99 % of its numbers.

The load (deterministic for a seed):

- the file: bench/gen_data.py's messy rows (mixed US and UK phone formats, ~1 % bad rows,
  statuses, priorities, notes), without the campaign column (``--campaign Scale``), or with
  ``--campaigns K`` rows spread over K campaigns;
- the campaign(s): every accepted number of the file (as leadsync's reader reads it) except
  :data:`ABSENT` of them, :data:`STATUS_DIFF` of them with another status,
  :data:`DRIFT` with another priority, :data:`NATIONAL` stored in national format,
  :data:`EXTRA` more leads the file does not list (most at status ``new``, so mirror mode
  removes them), :data:`DUPLICATE` extra copies of listed numbers;
- the servers, each in its own process, seeded with the same leads: bench/stdlib_server.py
  (the standard library's ThreadingHTTPServer, written from the API document) and leadsync's
  sandbox.

Against each server, in the same run: the bare paging client (:func:`bare_fetch`: one
``http.client`` keep-alive connection, pages of 1,000, ``json.loads`` of each page to find
the next key) before and after the whole ``leadsync sync`` command as a subprocess (wall, CPU,
peak RSS by ``os.wait4``; stage times from its ``summary.json``).
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_data  # noqa: E402
import stdlib_server  # noqa: E402
from benchtable import Row  # noqa: E402

PAGE = 1_000
ABSENT = 0.01  # accepted numbers the campaign lacks (adds)
STATUS_DIFF = 0.02  # of the present ones: another remote status
DRIFT = 0.002  # of the present ones: another priority
NATIONAL = 0.05  # of the present ones: stored as "(213) 555-0100", not E.164
EXTRA = 0.01  # remote leads the file does not list (share of the accepted rows)
EXTRA_KEPT = 0.1  # of those, at a status mirror mode keeps (success)
DUPLICATE = 0.001  # extra copies of listed numbers
CAMPAIGN = "Scale"
TARGET_OTHER_S = 8.0
TARGET_RSS_MB = 1_200.0
TARGET_FETCH_SHARE = 0.90
START_TIMEOUT_S = 600
#: The stages the fetch target is judged apart from (the network's, and the campaign list's).
FETCH_STAGES = ("fetch", "resolve")

#: Child process: leadsync's sandbox seeded from the JSON lines; prints READY port token.
SANDBOX = """
import json, sys
from leadsync.sandbox import Sandbox, SandboxConfig
with Sandbox(SandboxConfig(page_cap={page})) as sb:
    ids = {{}}
    batch = {{}}
    with open(sys.argv[1], encoding="utf-8") as fh:
        for line in fh:
            lead = json.loads(line)
            batch.setdefault(lead.pop("campaign"), []).append(lead)
    for name, leads in batch.items():
        ids[name] = sb.state.add_campaign(name)
        sb.state.add_leads(ids[name], leads)
    del batch
    print("READY", sb.port, sb.issue_token(), *ids.values(), flush=True)
    sys.stdin.read()
"""


@dataclass
class Server:
    """A seeded server process: URL, a token, the account, the login leadsync uses."""

    name: str
    proc: subprocess.Popen[str]
    port: int
    token: str
    cids: list[str]
    account_id: str
    login: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


def _start(name: str, cmd: list[str], account_id: str, login: dict[str, str]) -> Server:
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    line = ""
    while time.monotonic() < deadline and not line.startswith("READY"):
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise SystemExit(f"the {name} server ended before it was ready")
    _, port, token, *cids = line.split()
    return Server(name, proc, int(port), token, cids, account_id, login)


def start_stdlib(seed: Path) -> Server:
    s = stdlib_server
    cmd = [sys.executable, str(HERE / "stdlib_server.py"), "--latency-ms", "0", "--seed", str(seed)]
    login = {"username": s.USERNAME, "password": s.PASSWORD, "domain": s.DOMAIN}
    server = _start("stdlib", cmd, s.ACCOUNT_ID, login)
    server.cids = server.cids[len(s.CAMPAIGNS) :]  # the seeded campaigns come after the others
    return server


def start_sandbox(seed: Path) -> Server:
    from leadsync.sandbox import SandboxConfig

    demo = SandboxConfig()
    login = {"username": demo.username, "password": demo.password or "", "domain": demo.domain}
    cmd = [sys.executable, "-c", SANDBOX.format(page=PAGE), str(seed)]
    return _start("sandbox", cmd, demo.account_id, login)


# --- the load --------------------------------------------------------------------------------
@dataclass
class Load:
    csv: Path
    seed: Path
    rows: int
    leads: int
    expected: dict[str, int]
    campaigns: int


def build_load(folder: Path, n: int, campaigns: int, seed: int = 0) -> Load:
    """Write the file and the servers' seed (JSON lines); the planned counts to expect."""
    from leadsync.config import load_settings
    from leadsync.reader import read_sources

    names = [CAMPAIGN] if campaigns == 1 else [f"{CAMPAIGN} {k + 1}" for k in range(campaigns)]
    path = folder / "leads.csv"
    column = gen_data.HEADER.index("Campaign")
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        header = list(gen_data.HEADER)
        if campaigns == 1:
            header.pop(column)
        w.writerow(header)
        for i, row in enumerate(gen_data.rows(n, seed)):
            if campaigns == 1:
                row.pop(column)
            else:
                row[column] = names[i % campaigns]
            w.writerow(row)
    settings = load_settings(None, environ={}, cwd=folder, overrides={"sync": {"region": "US"}})
    leads = read_sources([path], settings, campaign=CAMPAIGN if campaigns == 1 else None).leads
    leads = leads.drop_duplicates(["campaign", "number"]) if campaigns > 1 else leads
    rng = np.random.default_rng(seed + 1)
    k = len(leads)
    numbers = leads["number"].astype(str).to_numpy()
    wanted = leads["status"].astype("string").fillna("").to_numpy(dtype=object)
    camp = (
        np.full(k, CAMPAIGN, dtype=object)
        if campaigns == 1
        else leads["campaign"].astype(str).to_numpy()
    )
    present = rng.random(k) >= ABSENT
    other = present & (rng.random(k) < STATUS_DIFF)
    drift = present & (rng.random(k) < DRIFT)
    national = present & (rng.random(k) < NATIONAL) & np.char.startswith(numbers.astype(str), "+1")
    remote_status = np.where(wanted == "", "new", wanted)
    remote_status = np.where(
        other, np.where(remote_status == "failed", "success", "failed"), remote_status
    )
    prio = leads["priority"].astype("Int64").to_numpy(dtype="int64", na_value=0)
    retries = leads["retries"].astype("Int64").to_numpy(dtype="int64", na_value=-1)
    first = leads["first_name"].astype("string").fillna("").to_numpy(dtype=object)
    last = leads["last_name"].astype("string").fillna("").to_numpy(dtype=object)
    created = 1_700_000_000
    seed_path = folder / "seed.jsonl"
    n_leads = 0
    with seed_path.open("w", encoding="utf-8") as out:

        def put(**lead: Any) -> None:
            nonlocal n_leads
            n_leads += 1
            out.write(json.dumps(lead, separators=(",", ":")) + "\n")

        for i in np.flatnonzero(present):
            num = numbers[i]
            shown = f"({num[2:5]}) {num[5:8]}-{num[8:]}" if national[i] else num
            put(
                campaign=camp[i],
                number=shown,
                first_name=first[i],
                last_name=last[i],
                priority=int(prio[i]) + (1 if drift[i] else 0) if prio[i] or drift[i] else None,
                retries=int(retries[i]) if retries[i] >= 0 else None,
                status=str(remote_status[i]),
                created=created + int(i),
            )
        dups = np.flatnonzero(present & (rng.random(k) < DUPLICATE))
        for i in dups:
            put(campaign=camp[i], number=numbers[i], status="new", created=created + k + int(i))
        extra = int(k * EXTRA)
        kept = rng.random(extra) < EXTRA_KEPT
        for j in range(extra):
            status = "success" if kept[j] else "new"
            put(
                campaign=names[j % campaigns],
                number=f"+1999{j:07d}",  # never a number of the file
                status=status,
                created=created + 2 * k + j,
            )
    # What the plan must hold: an add per absent row (and a status after it when the file
    # asks for one other than "new"), a status change per present lead whose status differs,
    # a delete per extra lead at status "new".
    asks = wanted != ""
    expected = {
        "planned_add": int((~present).sum()),
        "planned_status": int((asks & ~present & (wanted != "new")).sum())
        + int((asks & present & (remote_status != wanted)).sum()),
        "planned_delete": int((~kept).sum()),
    }
    return Load(path, seed_path, n, n_leads, expected, campaigns)


# --- what is measured ------------------------------------------------------------------------
def bare_fetch(server: Server) -> dict[str, float]:
    """Every page of every seeded campaign, one after the other, on one ``http.client``
    keep-alive connection; ``json.loads`` of each page (to find the next key). No retries, no
    tables: the floor of what a paging client costs."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = {"Authorization": f"Bearer {server.token}", "X-Account-ID": server.account_id}
    leads = pages = 0
    t0 = time.perf_counter()
    for cid in server.cids:
        key: str | None = None
        while True:
            path = f"/api/v2/config/campaigns/{cid}/leads?page_size={PAGE}"
            path += f"&next_start_key={key}" if key is not None else ""
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            body = json.loads(answer.read())
            assert answer.status == 200, answer.status
            pages += 1
            leads += len(body["data"])
            key = body.get("next_start_key")
            if not key:
                break
    wall = time.perf_counter() - t0
    conn.close()
    return {"wall": wall, "leads": leads, "pages": pages}


def run_sync(
    server: Server, load: Load, folder: Path, measure: Any, label: str = ""
) -> dict[str, Any]:
    """The whole ``leadsync sync --dry-run --mode mirror`` command; its wall, CPU, peak RSS,
    stage timings and totals."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")},
        "LEADSYNC_BASE_URL": server.url,
        "LEADSYNC_USERNAME": server.login["username"],
        "LEADSYNC_PASSWORD": server.login["password"],
        "LEADSYNC_DOMAIN": server.login["domain"],
        "LEADSYNC_ACCOUNT_ID": server.account_id,
    }
    config = folder / f"{server.name}.toml"
    config.write_text(f"[api]\npage_size = {PAGE}\n", encoding="utf-8")
    report = folder / f"report-{server.name}{label}"
    cmd = [sys.executable, "-m", "leadsync", "--config", str(config), "sync", str(load.csv)]
    cmd += ["--campaign", CAMPAIGN] if load.campaigns == 1 else []
    cmd += ["--mode", "mirror", "--dry-run", "--report-dir", str(report), "--replace-report"]
    figures = measure(cmd, env)
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    return {**figures, "timings": summary["timings"], "totals": summary["totals"]}


def scenario(
    folder: Path, n: int, campaigns: int, judged: bool, measure: Any, before: Any = None
) -> list[Row]:
    """Build the load, then measure against each server in turn; the table's rows.
    ``before``: how to run an earlier leadsync's command (``measure``'s signature); its sync
    runs against the same server, between the same two bare-client runs, before this one's."""
    t0 = time.perf_counter()
    load = build_load(folder, n, campaigns)
    out = [
        Row(
            "sync load",
            f"{load.rows:,} rows, {load.leads:,} remote leads",
            f"{campaigns} campaign(s); built in {time.perf_counter() - t0:.0f} s",
        )
    ]
    note = "" if judged else " (quick: not judged)"
    for start in (start_stdlib, start_sandbox):
        server = start(load.seed)
        try:
            bare_before = bare_fetch(server)
            old = run_sync(server, load, folder, before, "-before") if before else None
            sync = run_sync(server, load, folder, measure)
            bare_after = bare_fetch(server)
        finally:
            server.close()
        out += _rows(server.name, load, bare_before, bare_after, sync, judged, note)
        if old is not None:
            out += _before_rows(server.name, load, bare_before, bare_after, old)
    return out


def _before_rows(
    name: str, load: Load, before: dict[str, float], after: dict[str, float], old: dict[str, Any]
) -> list[Row]:
    """The earlier code's figures against the same server, same bare-client runs."""
    timings: dict[str, float] = old["timings"]
    other = sum(v for k, v in timings.items() if k not in FETCH_STAGES)
    fetch_s = timings.get("fetch", float("nan"))
    share = (before["wall"] + after["wall"]) / 2 / fetch_s if fetch_s else 0.0
    got = {k: old["totals"][k] for k in load.expected}
    return [
        Row(
            f"[{name}] BEFORE (--before): whole sync, wall / CPU",
            f"{old['wall']:.2f} s / {old['cpu']:.2f} s",
            f"exit {old.get('code', '?')}",
        ),
        Row(
            f"[{name}]   BEFORE: stages except fetch / peak RSS",
            f"{other:.2f} s / {old['rss_mb']:,.0f} MB",
            ", ".join(f"{k} {v:.2f}" for k, v in timings.items() if k not in FETCH_STAGES),
        ),
        Row(
            f"[{name}]   BEFORE: fetch stage, share of the bare client's page rate",
            f"{fetch_s:.2f} s, {share:.0%}",
            "planned " + " / ".join(f"{got[k]:,}" for k in load.expected),
        ),
    ]


def _rows(
    name: str,
    load: Load,
    before: dict[str, float],
    after: dict[str, float],
    sync: dict[str, Any],
    judged: bool,
    note: str,
) -> list[Row]:
    timings: dict[str, float] = sync["timings"]
    other = {k: v for k, v in timings.items() if k not in FETCH_STAGES}
    other_s = sum(other.values())
    bare_s = (before["wall"] + after["wall"]) / 2
    fetch_s = timings.get("fetch", float("nan"))
    share = bare_s / fetch_s if fetch_s else 0.0
    totals = sync["totals"]
    got = {k: totals[k] for k in load.expected}
    return [
        Row(
            f"[{name}] whole sync --dry-run --mode mirror, wall",
            f"{sync['wall']:.2f} s",
            f"CPU {sync['cpu']:.2f} s; exit {sync.get('code', '?')}",
        ),
        Row(
            f"[{name}]   stages except fetch, total",
            f"{other_s:.2f} s",
            f"≤ {TARGET_OTHER_S:.0f} s{note}; before: ~26 s (diff 4.8, plan 1.3, report 1.8, "
            "write 13.9)",
            not judged or other_s <= TARGET_OTHER_S,
        ),
        Row(f"[{name}]   of which", ", ".join(f"{k} {v:.2f}" for k, v in other.items()), "s"),
        Row(
            f"[{name}]   peak RSS",
            f"{sync['rss_mb']:,.0f} MB",
            f"≤ {TARGET_RSS_MB:,.0f} MB{note}; before: 2,590 MB",
            not judged or sync["rss_mb"] <= TARGET_RSS_MB,
        ),
        Row(
            f"[{name}]   fetch stage",
            f"{fetch_s:.2f} s ({load.leads / fetch_s:,.0f} leads/s)",
            f"resolve {timings.get('resolve', 0):.2f} s",
        ),
        Row(
            f"[{name}] bare http.client paging client (before / after)",
            f"{before['wall']:.2f} / {after['wall']:.2f} s",
            f"{before['pages']:,.0f} pages, {before['leads'] / bare_s:,.0f} leads/s (mean)",
        ),
        Row(
            f"[{name}]   fetch, share of the bare client's page rate",
            f"{share:.0%}",
            f"≥ {TARGET_FETCH_SHARE:.0%}{note}",
            not judged or share >= TARGET_FETCH_SHARE,
        ),
        Row(
            f"[{name}]   planned add / status / delete",
            " / ".join(f"{got[k]:,}" for k in load.expected),
            "built in: " + " / ".join(f"{v:,}" for v in load.expected.values()),
            got == load.expected,
        ),
    ]
