"""``leadsync demo``: the embedded sandbox, two campaigns, and a real sync of sample_data/.

The sandbox is seeded so that the demo shows every kind of outcome: leads to add, a lead that
is already there (unchanged), one whose status the file changes, one whose name drifted, leads
only the campaign has (kept), and the rejected rows of the messy sample files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from ..api import CampaignsClient
from ..config import Settings, load_settings
from ..report import RunReport
from ..run.pipeline import Progress, SyncRequest, expand_sources, run_sync
from ..sandbox import Sandbox, SandboxConfig

#: Where the demo's files are: ./sample_data when run from a checkout.
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"

#: What the campaigns hold before the demo sync (numbers are fictional 555-01xx).
DEMO_STATE: dict[str, list[dict[str, Any]]] = {
    "Spring Promo": [
        # In the file, identical: unchanged.
        {"number": "+12135550100", "first_name": "Ann", "last_name": "Lee", "priority": 1},
        # In the file as "Bob Marsh": the last name drifted (reported, not changed).
        {"number": "+12135550101", "first_name": "Bob", "last_name": "Marshall", "priority": 2},
        # The file says this lead was reached: its status is set to success.
        {"number": "+14155550134", "first_name": "Ivy", "last_name": "Chen", "priority": 1},
        # Only in the campaign: kept (upsert never removes; mirror would).
        {"number": "+15105550160", "first_name": "Old", "last_name": "Lead", "priority": 5},
        {
            "number": "+15105550161",
            "first_name": "Called",
            "last_name": "Already",
            "status": "success",
        },
    ],
    "Renewals": [
        {
            "number": "+13125550150",
            "first_name": "Uma",
            "last_name": "Khan",
            "priority": 1,
            "retries": 3,
        },
    ],
    "Winter Leads": [],
}


def seed_demo_state(sandbox: Sandbox) -> dict[str, str]:
    """Create the demo campaigns in ``sandbox``; returns name → campaign id."""
    ids = {}
    for name, leads in DEMO_STATE.items():
        cid = sandbox.state.add_campaign(name)
        sandbox.state.add_leads(cid, [{"status": "new", **lead} for lead in leads])
        ids[name] = cid
    return ids


def sandbox_api(sandbox: Sandbox) -> dict[str, str]:
    """The ``[api]`` settings of the embedded sandbox (its demo credentials are not secrets)."""
    cfg = sandbox.config
    return {
        "base_url": sandbox.base_url,
        "username": cfg.username,
        "password": cfg.password,
        "domain": cfg.domain,
        "account_id": cfg.account_id,
    }


def demo_settings(sandbox: Sandbox, *, mode: str, report_root: Path) -> Settings:
    """Settings pointing at the embedded sandbox."""
    return load_settings(
        environ={},
        overrides={"api": sandbox_api(sandbox), "sync": {"mode": mode, "report_dir": report_root}},
    )


def run_demo(
    console: Console,
    *,
    mode: str = "upsert",
    dry_run: bool = False,
    report_dir: Path | None = None,
    report_root: Path = Path("reports"),
    progress: Progress | None = None,
    sample_dir: Path = SAMPLE_DIR,
) -> RunReport:
    """Start the sandbox, show its campaigns, sync ``sample_dir`` into it, show them again."""
    from .api_commands import campaigns_table

    with Sandbox(SandboxConfig()) as sandbox:
        seed_demo_state(sandbox)
        settings = demo_settings(sandbox, mode=mode, report_root=report_root)
        console.print(f"[dim]sandbox API at {sandbox.base_url}[/dim]")
        with CampaignsClient(settings.api) as client:
            console.print(campaigns_table(client.campaigns(), title="Campaigns before the sync"))
            request = SyncRequest(
                expand_sources((sample_dir,)),
                dry_run=dry_run,
                report_dir=report_dir,
                job="demo",
            )
            report = run_sync(settings, request, client=client, progress=progress)
            if not dry_run:
                console.print(campaigns_table(client.campaigns(), title="Campaigns after"))
    return report
