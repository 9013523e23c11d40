"""Fault knobs fire at about their rate (seeded), and do what they promise to the state."""

from __future__ import annotations

import time

import pytest
import requests

from leadsync.errors import ConfigError
from leadsync.sandbox import Sandbox, SandboxConfig
from tests.helpers import MakeSandbox, ManualClock, sandbox_login

CAMPAIGNS = "/api/v2/reports/campaigns/leads/status"
N = 200


def statuses_of_reads(http: requests.Session, sb: Sandbox, n: int) -> list[int]:
    headers = sb.auth_headers()
    return [http.get(sb.url(CAMPAIGNS), headers=headers).status_code for _ in range(n)]


def add_many(http: requests.Session, sb: Sandbox, cid: str, n: int) -> list[int]:
    headers = sb.auth_headers()
    url = sb.url(f"/api/v2/config/campaigns/{cid}/lead")
    return [
        http.put(url, json={"number": f"+1213555{i:04d}"}, headers=headers).status_code
        for i in range(n)
    ]


def test_fail_rate_answers_503_at_about_its_rate(
    make_sandbox: MakeSandbox, http: requests.Session
) -> None:
    sb = make_sandbox(fail_rate=0.25, seed=7)
    answers = statuses_of_reads(http, sb, N)
    failed = answers.count(503)
    assert set(answers) == {200, 503}
    assert 0.15 * N <= failed <= 0.35 * N
    assert sb.stats.faults["fail"] == failed


def test_fail_rate_commits_nothing_and_has_no_retry_after(
    make_sandbox: MakeSandbox, http: requests.Session
) -> None:
    sb = make_sandbox(fail_rate=0.3, seed=1)
    cid = sb.state.add_campaign("Spring Promo")
    answers = add_many(http, sb, cid, 100)
    assert 0.15 * 100 <= answers.count(503) <= 0.45 * 100
    assert len(sb.state.leads(cid)) == answers.count(200)
    one = http.get(sb.url(CAMPAIGNS), headers=sb.auth_headers())
    while one.status_code != 503:
        one = http.get(sb.url(CAMPAIGNS), headers=sb.auth_headers())
    assert "Retry-After" not in one.headers


def test_fail_rate_spares_login(make_sandbox: MakeSandbox, http: requests.Session) -> None:
    sb = make_sandbox(fail_rate=1.0)
    assert sandbox_login(http, sb).status_code == 200
    assert statuses_of_reads(http, sb, 5) == [503] * 5


def test_faults_repeat_with_the_seed(make_sandbox: MakeSandbox, http: requests.Session) -> None:
    runs = [statuses_of_reads(http, make_sandbox(fail_rate=0.5, seed=42), 60) for _ in range(2)]
    other = statuses_of_reads(http, make_sandbox(fail_rate=0.5, seed=43), 60)
    assert runs[0] == runs[1]
    assert other != runs[0]


def test_ambiguous_rate_commits_then_answers_500(
    make_sandbox: MakeSandbox, http: requests.Session
) -> None:
    sb = make_sandbox(ambiguous_rate=0.3, seed=3)
    cid = sb.state.add_campaign("Spring Promo")
    answers = add_many(http, sb, cid, 150)
    assert set(answers) == {200, 500}
    assert 0.18 * 150 <= answers.count(500) <= 0.42 * 150
    assert len(sb.state.leads(cid)) == 150  # every one committed, 500 or not
    assert sb.stats.faults["ambiguous"] == answers.count(500)
    assert sb.stats.committed == 150


def test_ambiguous_rate_spares_reads_and_refused_writes(
    make_sandbox: MakeSandbox, http: requests.Session
) -> None:
    sb = make_sandbox(ambiguous_rate=1.0)
    cid = sb.state.add_campaign("Spring Promo")
    assert statuses_of_reads(http, sb, 5) == [200] * 5
    bad = http.put(
        sb.url(f"/api/v2/config/campaigns/{cid}/lead"), json={}, headers=sb.auth_headers()
    )
    assert bad.status_code == 400
    delete = http.delete(
        sb.url(f"/api/v2/config/campaigns/leads/{'0' * 32}"), headers=sb.auth_headers()
    )
    assert delete.status_code == 400


def test_rate_limit_answers_429_with_retry_after(
    http: requests.Session, clock: ManualClock
) -> None:
    with Sandbox(SandboxConfig(rate_limit_rps=10), clock=clock) as sb:
        headers = sb.auth_headers()
        answers = [http.get(sb.url(CAMPAIGNS), headers=headers) for _ in range(12)]
        assert [a.status_code for a in answers] == [200] * 10 + [429] * 2
        assert answers[-1].headers["Retry-After"] == "1"
        assert answers[-1].json()["message"]
        assert sb.stats.faults["rate_limited"] == 2
        clock.advance(0.1)  # one token back
        assert http.get(sb.url(CAMPAIGNS), headers=headers).status_code == 200
        assert http.get(sb.url(CAMPAIGNS), headers=headers).status_code == 429


def test_rate_limit_burst_is_a_knob(http: requests.Session, clock: ManualClock) -> None:
    with Sandbox(SandboxConfig(rate_limit_rps=10, rate_limit_burst=2), clock=clock) as sb:
        headers = sb.auth_headers()
        answers = [http.get(sb.url(CAMPAIGNS), headers=headers).status_code for _ in range(4)]
        assert answers == [200, 200, 429, 429]
        sb.configure(rate_limit_burst=1)  # a new bucket, full: one request, then refused
        answers = [http.get(sb.url(CAMPAIGNS), headers=headers).status_code for _ in range(2)]
        assert answers == [200, 429]


def test_slow_rate_limit_asks_for_a_longer_wait(http: requests.Session, clock: ManualClock) -> None:
    with Sandbox(SandboxConfig(rate_limit_rps=0.5), clock=clock) as sb:
        headers = sb.auth_headers()
        assert http.get(sb.url(CAMPAIGNS), headers=headers).status_code == 200
        refused = http.get(sb.url(CAMPAIGNS), headers=headers)
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "2")


def test_rate_limit_on_the_real_clock(make_sandbox: MakeSandbox, http: requests.Session) -> None:
    sb = make_sandbox(rate_limit_rps=20)
    answers = statuses_of_reads(http, sb, 60)
    assert answers.count(429) >= 10  # 60 requests far faster than 20/s with a burst of 20


def test_latency_is_added_to_every_request(
    make_sandbox: MakeSandbox, http: requests.Session
) -> None:
    sb = make_sandbox(latency_ms=40)
    start = time.perf_counter()
    statuses_of_reads(http, sb, 5)
    assert time.perf_counter() - start >= 5 * 0.040


def test_knobs_change_at_runtime(sandbox: Sandbox, http: requests.Session) -> None:
    assert statuses_of_reads(http, sandbox, 3) == [200] * 3
    sandbox.configure(fail_rate=1.0)
    assert statuses_of_reads(http, sandbox, 3) == [503] * 3
    sandbox.configure(fail_rate=0.0, page_cap=2)
    assert sandbox.config.page_cap == 2
    assert statuses_of_reads(http, sandbox, 3) == [200] * 3


@pytest.mark.parametrize(
    "knobs",
    [
        {"fail_rate": 1.5},
        {"ambiguous_rate": -0.1},
        {"rate_limit_rps": 0},
        {"rate_limit_rps": 5, "rate_limit_burst": 0.5},
        {"token_ttl_s": 0},
        {"token_uses": -1},
        {"throttle_every": 0},
        {"page_cap": 0},
        {"last_page_style": "missing"},
        {"page_key_param": "cursor"},
        {"add_methods": ("PATCH",)},
        {"add_methods": ()},
    ],
)
def test_bad_knobs_are_a_config_error(knobs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="invalid sandbox settings"):
        SandboxConfig(**knobs)  # type: ignore[arg-type]


def test_unknown_knob_is_named(sandbox: Sandbox) -> None:
    with pytest.raises(ConfigError, match="fail_rat"):
        sandbox.configure(fail_rat=0.1)


def test_throttle_every_answers_every_nth_request_429(
    make_sandbox: MakeSandbox, http: requests.Session
) -> None:
    sb = make_sandbox(throttle_every=3)
    headers = sb.auth_headers()  # login is never throttled (nor counted)
    codes = [http.get(sb.url(CAMPAIGNS), headers=headers) for _ in range(9)]
    assert [r.status_code for r in codes] == [200, 200, 429] * 3
    assert codes[2].headers["Retry-After"] == "1"
    assert sb.stats.as_dict()["faults"]["rate_limited"] == 3
