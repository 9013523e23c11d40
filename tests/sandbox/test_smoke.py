"""First smoke test of the sandbox fixtures over real HTTP."""

import requests

from leadsync.sandbox import Sandbox
from tests.helpers import settings_for


def test_login_and_list_campaigns(sandbox: Sandbox) -> None:
    cid = sandbox.state.add_campaign("Spring Promo")
    sandbox.state.add_leads(cid, [{"number": "+12135550100", "first_name": "Ann"}])
    settings = settings_for(sandbox)
    with requests.Session() as s:
        login = s.post(
            f"{settings.base_url}/api/v2/login",
            json={
                "username": settings.username,
                "password": settings.password.get_secret_value() if settings.password else "",
                "domain": settings.domain,
            },
        )
        assert login.status_code == 200
        headers = {
            "Authorization": f"Bearer {login.json()['access_token']}",
            "X-Account-ID": settings.account_id or "",
        }
        answer = s.get(sandbox.url("/api/v2/reports/campaigns/leads/status"), headers=headers)
    assert answer.json()[cid]["total_leads"] == 1
    assert sandbox.stats.by_route[("GET", "campaigns")] == 1
