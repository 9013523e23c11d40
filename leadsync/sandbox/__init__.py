"""The sandbox: a stand-in for the Campaigns API over real HTTP, with fault knobs.

Only the CLI's sandbox/demo commands, the tests and the benchmarks import it::

    from leadsync.sandbox import Sandbox, SandboxConfig
    with Sandbox(SandboxConfig(fail_rate=0.1)) as sb:
        cid = sb.state.add_campaign("Spring Promo")
        sb.state.add_leads(cid, [{"number": "+12135550100"}])
        sb.base_url  # http://127.0.0.1:PORT
"""

from __future__ import annotations

from .config import LAST_PAGE_STYLES, SandboxConfig
from .demo import DEMO_CAMPAIGNS, seed_demo
from .server import Sandbox
from .state import SandboxState
from .stats import WRITE_ROUTES, SandboxStats

__all__ = [
    "DEMO_CAMPAIGNS",
    "LAST_PAGE_STYLES",
    "WRITE_ROUTES",
    "Sandbox",
    "SandboxConfig",
    "SandboxState",
    "SandboxStats",
    "seed_demo",
]
