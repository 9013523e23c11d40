"""Wire contract: the client understands every example answer of the vendor document.

The cassettes (tests/cassettes/doc_*.yaml) hold the document's own example payloads, quirks
and all, and are replayed strictly: a request the cassette does not hold fails the test, and
the matchers check the X-Account-ID and bearer headers the client sends.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import vcr
import yaml

from leadsync.api import CampaignsClient, to_epoch_seconds
from leadsync.errors import AuthError, BadRequestError, ConfigError, ExitCode
from leadsync.sandbox import Sandbox
from tests.helpers import settings_for

from .support import (
    CASSETTES,
    DOC_PASSWORD,
    FILTERED,
    SECRET_HEADERS,
    Exchange,
    doc_settings,
    make_vcr,
    watch_answers,
)

DOC_CAMPAIGN = "210ea5d942f41744f1ef37e84a4965e0"
DOC_LEAD = "210ea5d942f41744f1ef37e84a59878d"
DOC_CDR = "d7bf2f395cf9adddece9dd8df49712f13d39-clicktocall"
#: The add body the document lists, every field given.
DOC_ADD_BODY = {
    "number": "+12131204",
    "retries": 11,
    "first_name": "Piper",
    "last_name": "Huffman",
    "type": "manual",
    "priority": 4,
    "ticket_id": "T-1",
    "note": "from the doc",
    "cool_off": 60,
}
#: Token values a cassette may hold: the document's placeholders, or masked.
ALLOWED_TOKENS = {"{access_token_value}", "{refresh_token_value}", FILTERED}


def test_campaigns_status_example_with_repeated_key(doc_vcr: vcr.VCR) -> None:
    with doc_vcr.use_cassette("doc_campaigns_status.yaml"), CampaignsClient(doc_settings()) as c:
        campaigns = c.campaigns()
    by_id = {camp.id: camp for camp in campaigns}
    # The ids are the object's keys (the document's misspelled placeholders), not positions.
    assert set(by_id) == {"campaing_id_1", "campaing_id_n"}
    first, last = by_id["campaing_id_1"], by_id["campaing_id_n"]
    assert (first.name, first.status, first.total_leads) == ("campaign_1", "stopped", 44)
    # "success" appears twice: the counts are added, and then they sum to total_leads.
    assert first.leads_by_status == {"new": 4, "success": 35, "failed": 5}
    assert sum(first.leads_by_status.values()) == first.total_leads
    assert last.leads_by_status == {"new": 8, "success": 40, "failed": 5}
    assert sum(last.leads_by_status.values()) == last.total_leads == 53


def test_leads_page_example(doc_vcr: vcr.VCR) -> None:
    with doc_vcr.use_cassette("doc_leads_page.yaml"), CampaignsClient(doc_settings()) as c:
        pages = c.iter_lead_pages(DOC_CAMPAIGN)
        first = next(pages)  # the document shows one page; asking for more would fail
    assert [lead["id"] for lead in first] == [
        "210ea5d942f41744f1ef37e84a59878d",
        "210ea5d942f41744f1ef37e84a5a1f95",
    ]
    # The invalid (too short) number comes through untouched: keying is the sync's job.
    assert first[0]["number"] == "+12131204"
    assert first[0]["created"] == 1665762498 and first[0]["retries"] == 11


def test_leads_page_example_next_key_is_followed(doc_vcr: vcr.VCR) -> None:
    cassette_error = vcr.errors.CannotOverwriteExistingCassetteException
    with doc_vcr.use_cassette("doc_leads_page.yaml"), CampaignsClient(doc_settings()) as c:
        pages = c.iter_lead_pages(DOC_CAMPAIGN)
        next(pages)
        # The second request carries the document's next_start_key, which the cassette does
        # not hold: strict replay refuses it, showing the key was sent.
        with pytest.raises(cassette_error, match="next_start_key=9f6b620d4d5e82e16a822fdff7210a8f"):
            next(pages)


def test_queues_example(doc_vcr: vcr.VCR) -> None:
    with doc_vcr.use_cassette("doc_queues.yaml"), CampaignsClient(doc_settings()) as c:
        queues = c.queues()
    assert len(queues) == 1
    queue = queues[0]
    assert queue["name"] == "QueueName" and queue["extension"] == "5586"
    assert queue["agents"][0]["tags"][0]["name"] == "Batch-W??B1"
    assert queue["total_agents"] == 1 and queue["calls"] == {}


def test_activity_example_sends_seconds(doc_vcr: vcr.VCR) -> None:
    # The document's URL: starDate=1652977920 (seconds) and endDate=1652978220220 (ms).
    since, until = to_epoch_seconds("1652977920"), to_epoch_seconds("1652978220220")
    assert (since, until) == (1652977920, 1652978220)
    with doc_vcr.use_cassette("doc_activity.yaml"), CampaignsClient(doc_settings()) as c:
        events = list(c.iter_activity(since, until))
    assert len(events) == 1  # a short page: the end
    event = events[0]
    assert event["lead_number"] == "+12195011918" and event["timestamp"] == 1666222318
    assert event["lead_history"][0]["uuid"] == DOC_CDR


def test_add_lead_example_does_not_depend_on_the_body(doc_vcr: vcr.VCR) -> None:
    with doc_vcr.use_cassette("doc_add_lead.yaml"), CampaignsClient(doc_settings()) as c:
        result = c.add_lead(DOC_CAMPAIGN, DOC_ADD_BODY)
        assert c.add_method == "PUT"
    assert (result.method, result.status, result.body) == ("PUT", 200, None)


def test_add_lead_400_surfaces_the_server_message(doc_vcr: vcr.VCR) -> None:
    with (
        doc_vcr.use_cassette("doc_add_lead_invalid.yaml"),
        CampaignsClient(doc_settings(retry_attempts=3)) as c,
    ):
        with pytest.raises(BadRequestError) as info:
            c.add_lead(DOC_CAMPAIGN, DOC_ADD_BODY)
        assert c.counters.as_dict()["retries"] == 0  # a 400 is never retried
    err = info.value
    assert err.status == 400 and err.server_message == "The information sent is invalid."
    assert str(err) == (
        f"PUT /api/v2/config/campaigns/{DOC_CAMPAIGN}/lead → 400: The information sent is invalid."
    )


def test_set_status_delete_voicemail_examples(doc_vcr: vcr.VCR) -> None:
    for cassette, call in (
        ("doc_set_status.yaml", lambda c: c.set_status(DOC_LEAD, "success")),
        ("doc_delete_lead.yaml", lambda c: c.delete_lead(DOC_LEAD)),
        ("doc_voicemail.yaml", lambda c: c.set_voicemail(DOC_CDR)),
    ):
        with doc_vcr.use_cassette(cassette) as cas, CampaignsClient(doc_settings()) as c:
            assert call(c) is None
            assert cas.all_played, cassette
            assert c.counters.as_dict()["requests"] == 2  # login + the call


def test_login_refused_is_auth_error(doc_vcr: vcr.VCR) -> None:
    with (
        doc_vcr.use_cassette("doc_login_refused.yaml"),
        CampaignsClient(doc_settings()) as c,
        pytest.raises(AuthError) as info,
    ):
        c.campaigns()
    assert info.value.exit_code == ExitCode.UNREACHABLE
    assert "login refused" in str(info.value)
    assert "The information sent is invalid." in str(info.value)


def test_login_example_without_account_id_is_a_config_error(doc_vcr: vcr.VCR) -> None:
    # The document's login answer elides the user: no user.account_id to fall back on.
    with (
        doc_vcr.use_cassette("doc_login.yaml") as cas,
        CampaignsClient(doc_settings(account_id=None)) as c,
    ):
        with pytest.raises(ConfigError, match="account_id"):
            c.campaigns()
        assert cas.play_count == 1  # the login; the campaigns call was never sent


def _cassette_texts() -> dict[str, str]:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert len(files) >= 11
    return {f.name: f.read_text(encoding="utf-8") for f in files}


def test_cassettes_hold_no_secret() -> None:
    for name, text in _cassette_texts().items():
        assert DOC_PASSWORD not in text, name
        data = yaml.safe_load(text)
        for interaction in data["interactions"]:
            request, response = interaction["request"], interaction["response"]
            for header, values in request["headers"].items():
                if header.lower() in SECRET_HEADERS:
                    assert all(v.endswith(FILTERED) for v in values), name
            if request["uri"].endswith("/login"):
                assert json.loads(request["body"])["password"] == FILTERED, name
                if response["status"]["code"] != 200:
                    continue
                body = json.loads(response["body"]["string"])
                tokens = {body.get(k) for k in ("access_token", "refresh_token")} - {None}
                assert tokens <= ALLOWED_TOKENS, name


def test_recording_filters_secrets(sandbox: Sandbox, tmp_path: Path) -> None:
    """A live recording against the sandbox with the project's filters keeps no secret."""
    tokens: list[str] = []

    def grab_tokens(x: Exchange) -> None:
        if x.path.endswith("/login") and x.answer is not None:
            tokens.extend(x.answer.json()[k] for k in ("access_token", "refresh_token"))

    cid = sandbox.state.add_campaign("Recorded")
    recorder = make_vcr(record_mode="all", library=tmp_path)
    with (
        recorder.use_cassette("live.yaml"),
        CampaignsClient(settings_for(sandbox)) as c,
    ):
        watch_answers(c, grab_tokens)
        c.campaigns()
        c.add_lead(cid, {"number": "+12135550100"})
    text = (tmp_path / "live.yaml").read_text(encoding="utf-8")
    assert len(tokens) == 2
    for secret in (sandbox.config.password, *tokens):
        assert secret not in text
    assert f"Bearer {FILTERED}" in text
    # and the recording replays strictly
    with make_vcr(library=tmp_path).use_cassette("live.yaml") as cas:
        with CampaignsClient(settings_for(sandbox)) as c:
            assert [x.name for x in c.campaigns()] == ["Recorded"]
        assert cas.play_count == 2
