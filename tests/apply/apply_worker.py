"""A separate process that applies COUNT adds against a running sandbox, for the kill test.

    apply_worker.py BASE_URL CAMPAIGN_ID JOURNAL COUNT CONCURRENCY

Uses the sandbox's demo credentials (not secrets: they open a local stand-in only). Prints
"started" once the client logged in, then applies; the test kills it with SIGKILL midway.
"""

from __future__ import annotations

import sys

from leadsync.api import CampaignsClient
from leadsync.apply import Journal, apply_plan
from leadsync.config import ApiSettings
from leadsync.sandbox import SandboxConfig

from .support import add_ops


def main(argv: list[str]) -> int:
    base_url, campaign_id, journal_path, count, concurrency = argv
    demo = SandboxConfig()
    settings = ApiSettings(
        base_url=base_url,
        username=demo.username,
        password=demo.password,
        domain=demo.domain,
        account_id=demo.account_id,
    )  # type: ignore[arg-type]
    client = CampaignsClient(settings)
    client.campaigns()  # log in before the clock starts
    print("started", flush=True)
    with Journal(journal_path) as journal:
        apply_plan(
            add_ops(campaign_id, int(count)), client, concurrency=int(concurrency), journal=journal
        )
    print("finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
