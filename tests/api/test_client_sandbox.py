"""CampaignsClient against the real sandbox over HTTP on 127.0.0.1: paging, auth, faults."""

from __future__ import annotations

import itertools
import random
import socket
import threading
from typing import Any

import pytest

from leadsync.api import CampaignsClient
from leadsync.api.client import MAX_RELOGIN_ROUNDS
from leadsync.errors import (
    AuthError,
    BadRequestError,
    ConfigError,
    ExitCode,
    NotFoundError,
    PaginationError,
    ServerError,
    UncertainAddError,
    UnreachableError,
)
from leadsync.sandbox import Sandbox, SandboxConfig
from tests.conftest import MakeSandbox
from tests.helpers import settings_for

from .support import Exchange, RecordingSleep, watch_answers

CREATED = 1_700_000_000  # fixed creation time of seeded leads (activity tests)


def seed_campaign(sb: Sandbox, n: int, name: str = "Spring Promo", status: str = "new") -> str:
    cid = sb.state.add_campaign(name)
    sb.state.add_leads(
        cid,
        [
            {
                "number": f"+1213555{i:04d}",
                "status": status,
                "first_name": f"L{i}",
                "created": CREATED,
            }
            for i in range(n)
        ],
    )
    return cid


def client_for(sb: Sandbox, sleep: RecordingSleep | None = None, **api: Any) -> CampaignsClient:
    sleep = sleep or RecordingSleep()
    return CampaignsClient(settings_for(sb, **api), sleep=sleep, clock=sleep.clock)


def all_ids(client: CampaignsClient, cid: str, **kw: Any) -> list[str]:
    return [lead["id"] for page in client.iter_lead_pages(cid, **kw) for lead in page]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- paging ----------------------------------------------------------------------------------
def test_page_cap_smaller_than_page_size(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(page_cap=7)
    cid = seed_campaign(sb, 30)
    with client_for(sb, page_size=50) as c:
        pages = [len(p) for p in c.iter_lead_pages(cid)]
    # 7 < 50 on every page but the last: short pages are not the end.
    assert pages == [7, 7, 7, 7, 2]
    assert sb.stats.by_route[("GET", "leads")] == 5


@pytest.mark.parametrize("style", ["absent", "null", "empty"])
def test_each_last_page_style_ends_the_listing(make_sandbox: MakeSandbox, style: str) -> None:
    sb = make_sandbox(last_page_style=style)
    cid = seed_campaign(sb, 25)
    with client_for(sb, page_size=10) as c:
        ids = all_ids(c, cid)
    assert ids == [lead["id"] for lead in sb.state.leads(cid)]
    assert len(set(ids)) == 25
    assert sb.stats.by_route[("GET", "leads")] == 3


def test_exact_multiple_of_page_size(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(last_page_style="null")
    cid = seed_campaign(sb, 20)
    with client_for(sb, page_size=10) as c:
        assert len(all_ids(c, cid)) == 20


def test_empty_campaign(sandbox: Sandbox) -> None:
    cid = sandbox.state.add_campaign("Empty")
    with client_for(sandbox) as c:
        assert list(c.iter_lead_pages(cid)) == [[]]


def test_repeated_key_is_a_clear_pagination_error(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(repeat_key=True)
    cid = seed_campaign(sb, 30)
    with client_for(sb, page_size=10) as c:
        pages = c.iter_lead_pages(cid)
        assert len(next(pages)) == 10
        with pytest.raises(PaginationError) as info:
            next(pages)
    message = str(info.value)
    assert cid in message and "page key" in message and "start_key" in message
    assert "'" in message.split("key ", 2)[-1]  # names the key
    assert sb.stats.by_route[("GET", "leads")] == 2  # stopped at once, no loop


def test_page_key_param_setting(make_sandbox: MakeSandbox) -> None:
    kazoo = make_sandbox(page_key_param="start_key")
    cid = seed_campaign(kazoo, 25)
    with client_for(kazoo, page_size=10, page_key_param="start_key") as c:
        assert len(all_ids(c, cid)) == 25
    # The document's parameter name against a Kazoo-style server: it loops, we stop.
    with client_for(kazoo, page_size=10) as c, pytest.raises(PaginationError, match="start_key"):
        all_ids(c, cid)


def test_expired_token_mid_export_relogs_in_once(sandbox: Sandbox) -> None:
    cid = seed_campaign(sandbox, 50)
    with client_for(sandbox, page_size=10) as c:
        seen: list[str] = []
        for i, page in enumerate(c.iter_lead_pages(cid)):
            seen += [lead["id"] for lead in page]
            if i == 2:
                sandbox.expire_tokens()
        assert c.counters.as_dict()["relogins"] == 1
    assert len(seen) == len(set(seen)) == 50
    assert sandbox.stats.by_route[("POST", "login")] == 2
    assert sandbox.stats.by_status[401] == 1


def test_token_ttl_expiry_with_a_shared_clock() -> None:
    clock = RecordingSleep()
    with (
        Sandbox(SandboxConfig(token_ttl_s=60), clock=clock.clock) as sb,
        client_for(sb, clock) as c,
    ):
        c.campaigns()
        clock.now += 61  # the token has expired
        c.campaigns()
        assert c.counters.as_dict()["relogins"] == 1


def test_401_right_after_a_fresh_login_is_auth_error(sandbox: Sandbox) -> None:
    """A server that refuses every token: a bounded number of re-logins, then AuthError."""
    with client_for(sandbox) as c:
        c.campaigns()
        sandbox.configure(token_uses=0)  # every token is refused, however fresh
        sandbox.expire_tokens()
        with pytest.raises(AuthError, match="right after a fresh login") as info:
            c.campaigns()
    assert info.value.exit_code == ExitCode.UNREACHABLE
    assert sandbox.stats.by_route[("POST", "login")] == 1 + MAX_RELOGIN_ROUNDS


def test_a_replacement_token_that_expired_before_use_is_replaced_too() -> None:
    """Regression: thread A's token is refused; meanwhile thread B already logged in again,
    and B's token expired too before A used it (short token lifetime, back-off waits). A must
    log in again rather than fail with AuthError."""
    clock = RecordingSleep()
    with Sandbox(SandboxConfig(token_ttl_s=60), clock=clock.clock) as sb:
        c = CampaignsClient(settings_for(sb), sleep=clock, clock=clock.clock)
        c.campaigns()
        auth = c._auth  # the shared login state all workers use
        state = {"done": False}

        def other_thread_relogs_then_time_passes(x: Exchange) -> None:
            if x.status == 401 and not state["done"]:
                state["done"] = True
                auth.relogin(auth.generation)  # "thread B" replaced the token...
                clock.now += 61  # ...and that one expired too before A used it

        watch_answers(c, other_thread_relogs_then_time_passes)
        clock.now += 61  # A's token has expired
        assert [x.name for x in c.campaigns()] == []
        assert state["done"]
        assert sb.stats.by_route[("POST", "login")] == 3
        c.close()


def test_concurrent_401s_cause_one_relogin(sandbox: Sandbox) -> None:
    threads = 8
    with client_for(sandbox, concurrency=threads) as c:
        c.campaigns()  # logged in
        sandbox.expire_tokens()
        barrier = threading.Barrier(threads)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                barrier.wait()
                c.campaigns()
            except BaseException as err:  # collected and asserted below
                errors.append(err)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        assert c.counters.as_dict()["relogins"] == 1
    assert sandbox.stats.by_route[("POST", "login")] == 2
    assert sandbox.stats.by_status[401] >= 1


def test_login_refused(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    with (
        client_for(sb, password="wrong-pw-4711") as c,
        pytest.raises(AuthError, match="login refused") as info,
    ):
        c.campaigns()
    assert info.value.exit_code == ExitCode.UNREACHABLE
    assert "wrong username, password or domain" in str(info.value)


def test_api_key_mode_never_logs_in(sandbox: Sandbox) -> None:
    seed_campaign(sandbox, 3)
    with client_for(sandbox, username=None, password=None, api_key="demo-api-key") as c:
        assert [x.total_leads for x in c.campaigns()] == [3]
    assert sandbox.stats.by_route[("POST", "login")] == 0


def test_account_id_from_the_login_answer(sandbox: Sandbox) -> None:
    with client_for(sandbox, account_id=None) as c:
        assert c.account_id is None
        c.campaigns()
        assert c.account_id == sandbox.config.account_id


def test_api_key_without_account_id_is_a_config_error(sandbox: Sandbox) -> None:
    with pytest.raises(ConfigError, match="account_id"):
        client_for(sandbox, username=None, account_id=None, api_key="demo-api-key")


# --- retries ---------------------------------------------------------------------------------
class UpperBound(random.Random):
    """A jitter source that always draws the top of the range (exact sequences)."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_exact_backoff_sequence(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(fail_rate=1.0)
    sleep = RecordingSleep()
    settings = settings_for(sb, retry_attempts=5, backoff_max_s=1.5)
    with CampaignsClient(settings, sleep=sleep, clock=sleep.clock, rng=UpperBound()) as c:
        with pytest.raises(ServerError) as info:
            c.set_status("x" * 32, "new")
        assert c.counters.as_dict() == {
            "requests": 6,  # login + 5 attempts
            "retries": 4,
            "throttled": 0,
            "relogins": 0,
            "errors": 1,
        }
    assert sleep.waits == [0.5, 1.0, 1.5, 1.5]  # 0.5·2^n capped at backoff_max_s
    assert info.value.status == 503 and info.value.attempts == 5  # type: ignore[attr-defined]


def test_backoff_jitter_is_drawn_from_the_injected_rng(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(fail_rate=1.0)
    sleep = RecordingSleep()
    settings = settings_for(sb, retry_attempts=4, backoff_max_s=30)
    client = CampaignsClient(settings, sleep=sleep, clock=sleep.clock, rng=random.Random(7))
    with client, pytest.raises(ServerError):
        client.queues()
    expected_rng = random.Random(7)
    expected = [expected_rng.uniform(d / 2, d) for d in (0.5, 1.0, 2.0)]
    assert sleep.waits == expected


def test_transient_503s_are_retried(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(fail_rate=0.3, seed=3)
    cid = seed_campaign(sb, 40)
    with client_for(sb, page_size=5, retry_attempts=8) as c:
        ids = all_ids(c, cid)
        counters = c.counters.as_dict()
    assert len(ids) == len(set(ids)) == 40
    assert sb.stats.faults["fail"] > 0
    assert counters["retries"] == sb.stats.faults["fail"]


def test_throttled_waits_at_least_retry_after() -> None:
    clock = RecordingSleep()  # one fake clock for the client's sleeps and the server's bucket
    answers: list[tuple[float, int, float]] = []  # (when, status, Retry-After)
    cfg = SandboxConfig(rate_limit_rps=0.5)  # one request, then Retry-After: 2
    with Sandbox(cfg, clock=clock.clock) as sb:
        cid = seed_campaign(sb, 1)
        settings = settings_for(sb, retry_attempts=4)
        with CampaignsClient(settings, sleep=clock, clock=clock.clock) as c:
            watch_answers(
                c,
                lambda x: answers.append(
                    (clock.now, x.status or 0, getattr(x.error, "retry_after", None) or 0.0)
                ),
            )
            c.campaigns()  # the login took the only token: this call is throttled first
            c.add_lead(cid, {"number": "+12135550999"})  # an add is retried on 429 too
            counters = c.counters.as_dict()
    throttled = [(t, ra) for t, status, ra in answers if status == 429]
    assert len(throttled) == counters["throttled"] == sb.stats.faults["rate_limited"] >= 2
    assert max(clock.waits) >= max(ra for _, ra in throttled) == 2.0
    # after every 429 the next request went out no sooner than its Retry-After
    for (t, status, ra), (t_next, _, _) in itertools.pairwise(answers):
        if status == 429:
            assert t_next - t >= ra
    assert sb.stats.by_route[("PUT", "add")] == 2  # refused once, then accepted
    assert len(sb.state.leads(cid)) == 2  # the add committed exactly once


def test_retry_budget_exhausted_stops_quickly(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(fail_rate=1.0)
    cid = "0" * 32
    with client_for(sb, retry_attempts=50, retry_budget=3) as c:
        with pytest.raises(UnreachableError, match="retry budget exhausted") as info:
            for _ in range(10):
                c.set_status(cid, "new")
        counters = c.counters.as_dict()
    assert info.value.exit_code == ExitCode.UNREACHABLE
    assert counters["retries"] == 3
    assert sb.stats.requests <= 6  # login + 4 attempts: it did not try 50 times


def test_stopped_server_is_unreachable(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    sleep = RecordingSleep()
    with client_for(sb, sleep, retry_attempts=3) as c:
        c.campaigns()
        sb.stop()
        with pytest.raises(UnreachableError, match="unreachable") as info:
            c.campaigns()
    assert info.value.exit_code == ExitCode.UNREACHABLE
    assert len(sleep.waits) == 2  # connection errors are retried, then given up


def test_nothing_listening_add_is_retried_then_unreachable() -> None:
    sleep = RecordingSleep()
    settings = settings_for_url(f"http://127.0.0.1:{free_port()}", retry_attempts=3)
    client = CampaignsClient(settings, sleep=sleep, clock=sleep.clock)
    with client, pytest.raises(UnreachableError) as info:
        client.add_lead("0" * 32, {"number": "+12135550100"})
    assert "/api/v2/login" in str(info.value)  # the lazy login could not connect
    assert len(sleep.waits) == 2


def settings_for_url(url: str, **api: Any) -> Any:
    from leadsync.config import ApiSettings

    values: dict[str, Any] = {
        "base_url": url,
        "username": "nobody",
        "password": "unused-password-31f9",
        "domain": "nowhere",
        "account_id": "acct-none",
    }
    values.update(api)
    return ApiSettings(**values)


# --- writes ----------------------------------------------------------------------------------
def test_ambiguous_add_is_uncertain_and_not_retried(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(ambiguous_rate=1.0)
    cid = seed_campaign(sb, 0)
    with client_for(sb, retry_attempts=5) as c:
        with pytest.raises(UncertainAddError) as info:
            c.add_lead(cid, {"number": "+12135550100"})
        assert c.counters.as_dict()["retries"] == 0
    assert sb.stats.by_route[("PUT", "add")] == 1  # exactly one add sent
    assert len(sb.state.leads(cid)) == 1  # committed once: the "uncertain" case is real
    assert info.value.status == 500 and "outcome unknown" in str(info.value)
    assert info.value.attempts == 1  # type: ignore[attr-defined]


def test_add_503_without_retry_after_is_uncertain(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    cid = seed_campaign(sb, 0)
    with client_for(sb, retry_attempts=5) as c:
        c.campaigns()
        sb.configure(fail_rate=1.0)
        with pytest.raises(UncertainAddError):
            c.add_lead(cid, {"number": "+12135550100"})
    assert sb.stats.by_route[("PUT", "add")] == 1


def test_add_read_timeout_is_uncertain(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    cid = seed_campaign(sb, 0)
    with client_for(sb, retry_attempts=5, timeout_s=0.2) as c:
        c.campaigns()
        sb.configure(latency_ms=600)
        with pytest.raises(UncertainAddError, match="no answer within"):
            c.add_lead(cid, {"number": "+12135550100"})
        sb.configure(latency_ms=0)
    assert sb.stats.by_route[("PUT", "add")] == 1


def test_400_surfaces_the_server_message(sandbox: Sandbox) -> None:
    cid = seed_campaign(sandbox, 1)
    lead_id = sandbox.state.leads(cid)[0]["id"]
    with client_for(sandbox, retry_attempts=5) as c:
        with pytest.raises(BadRequestError) as info:
            c.set_status(lead_id, "bogus")
        with pytest.raises(BadRequestError, match="number is required"):
            c.add_lead(cid, {"first_name": "No Number"})
        assert c.counters.as_dict()["retries"] == 0
    err = info.value
    assert err.status == 400
    assert err.server_message == "The information sent is invalid. (unknown status bogus)"
    assert str(err).startswith(f"POST /api/v2/config/campaigns/leads/{lead_id}/status/bogus → 400")


def test_put_to_post_fallback_on_a_post_only_server(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(add_methods=("POST",))
    cid = seed_campaign(sb, 0)
    with client_for(sb) as c:
        first = c.add_lead(cid, {"number": "+12135550100"})
        second = c.add_lead(cid, {"number": "+12135550101"})
        assert c.add_method == "POST"
    assert (first.method, first.status, second.method) == ("POST", 200, "POST")
    assert (first.attempts, second.attempts) == (2, 1)  # PUT refused + POST; then POST
    assert sb.stats.by_route[("PUT", "add")] == 1  # tried once, then remembered
    assert sb.stats.by_route[("POST", "add")] == 2
    assert len(sb.state.leads(cid)) == 2


def test_pinned_put_does_not_fall_back(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(add_methods=("POST",))
    cid = seed_campaign(sb, 0)
    with client_for(sb, add_lead_method="PUT") as c, pytest.raises(NotFoundError):
        c.add_lead(cid, {"number": "+12135550100"})
    assert sb.stats.by_route[("POST", "add")] == 0


def test_pinned_post(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(add_methods=("POST",))
    cid = seed_campaign(sb, 0)
    with client_for(sb, add_lead_method="POST") as c:
        assert c.add_lead(cid, {"number": "+12135550100"}).method == "POST"
    assert sb.stats.by_route[("PUT", "add")] == 0


def test_delete_400_after_an_ambiguous_attempt_is_success(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    cid = seed_campaign(sb, 2)
    first, second = (lead["id"] for lead in sb.state.leads(cid))
    with client_for(sb, retry_attempts=3) as c:
        c.campaigns()
        sb.configure(ambiguous_rate=1.0)
        c.delete_lead(first)  # 500 although deleted, then 400 "unknown lead": done
        sb.configure(ambiguous_rate=0.0)
        c.delete_lead(second)
        with pytest.raises(BadRequestError, match="unknown lead"):
            c.delete_lead(second)  # a plain 400 stays an error
    assert sb.state.leads(cid) == []
    assert sb.stats.by_route[("DELETE", "delete")] == 4


def test_set_status_and_voicemail(sandbox: Sandbox) -> None:
    cid = seed_campaign(sandbox, 3, status="failed")
    lead_id = sandbox.state.leads(cid)[0]["id"]
    with client_for(sandbox) as c:
        c.set_status(lead_id, "success")
        c.set_status(lead_id, "success")  # idempotent
        events = list(c.iter_activity(CREATED - 10, CREATED + 10**7))
        cdr = events[0]["lead_history"][0]["uuid"]
        c.set_voicemail(cdr)
    assert sandbox.state.lead(lead_id)["status"] == "success"  # type: ignore[index]
    assert cdr in sandbox.state.voicemails()


def test_activity_pages_by_offset(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    seed_campaign(sb, 10, status="success")
    with client_for(sb) as c:
        everything = list(c.iter_activity(CREATED - 10, CREATED + 10**7, page_size=1000))
        paged = list(c.iter_activity(CREATED - 10, CREATED + 10**7, page_size=3))
    assert len(everything) == 10
    assert paged == everything
    assert sb.stats.by_route[("GET", "activity")] == 1 + 4  # 3+3+3+1


def test_user_agent_and_account_header_are_sent(sandbox: Sandbox) -> None:
    from leadsync import __version__

    sent: list[dict[str, str]] = []
    with CampaignsClient(settings_for(sandbox)) as c:
        watch_answers(c, lambda x: sent.append(x.headers))
        c.queues()
    login, queues = sent
    assert "X-Account-ID" not in login
    assert queues["X-Account-ID"] == sandbox.config.account_id
    assert queues["Authorization"].startswith("Bearer ")
    assert login["User-Agent"] == queues["User-Agent"] == f"leadsync/{__version__}"
