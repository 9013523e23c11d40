"""History lists console, command-line and job runs; Jobs shows the configured jobs, their
waiting files, and a dry run started from the page; one apply per campaign at a time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from leadsync.run.lock import JobLock, campaign_lock_dir
from leadsync.run.pipeline import run_sync
from leadsync.run.state import SyncRequest
from tests.console.support import (
    SAMPLE_DIR,
    ConsoleEnv,
    console_env,
    csrf_of,
    numbers,
    session,
    write_csv,
)
from tests.console.test_security import start_import, wait_for

TIMEOUT_S = 60


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleEnv]:
    """A console whose config has a job with its own report folder and a file waiting."""
    tmp = tmp_path_factory.mktemp("jobs")
    (tmp / "drop").mkdir()
    (tmp / "drop" / "spring_promo.csv").write_bytes((SAMPLE_DIR / "spring_promo.csv").read_bytes())
    config = tmp / "leadsync.toml"
    config.write_text(
        '[[jobs]]\nname = "spring-nightly"\nsource = "drop/*.csv"\n'
        'campaign = "Spring Promo"\nreport_dir = "job-reports"\n'
    )
    with console_env(tmp, config) as running:
        yield running


@pytest.fixture(scope="module")
def signed_in(env: ConsoleEnv) -> requests.Session:
    return session(env)


def test_jobs_show_their_waiting_files_and_run_dry_from_the_page(
    signed_in: requests.Session, env: ConsoleEnv
) -> None:
    page = signed_in.get(f"{env.base}/jobs", timeout=TIMEOUT_S)
    assert "spring-nightly" in page.text and "never run" in page.text
    assert re.search(r"<li><code>[^<]*drop/spring_promo\.csv</code></li>", page.text)
    r = signed_in.post(
        f"{env.base}/jobs/spring-nightly/dry-run",
        data={"csrf_token": csrf_of(page.text)},
        timeout=TIMEOUT_S,
    )
    assert "/jobs/runs/" in r.url
    with signed_in.get(r.url + "/events", stream=True, timeout=TIMEOUT_S) as events:
        for event in events.iter_lines():
            if event == b"event: end":
                break
    done = signed_in.get(r.url, timeout=TIMEOUT_S)
    assert "Dry run:" in done.text and "nothing was changed" in done.text
    jobs = signed_in.get(f"{env.base}/jobs", timeout=TIMEOUT_S).text
    assert "last run" in jobs and "dry run" in jobs
    # Files stay in the drop folder after a dry run.
    assert re.search(r"drop/spring_promo\.csv", jobs)


def test_history_lists_console_command_line_and_job_runs(
    signed_in: requests.Session, env: ConsoleEnv, tmp_path: Path
) -> None:
    request = SyncRequest((SAMPLE_DIR / "renewals.xlsx",), dry_run=True, job="from-the-cli")
    cli_report = run_sync(env.settings, request)
    iid = start_import(signed_in, env, [SAMPLE_DIR / "renewals.xlsx"])
    map_page = signed_in.get(f"{env.base}/imports/{iid}/map").text
    signed_in.post(f"{env.base}/imports/{iid}/map", data={"csrf_token": csrf_of(map_page)})
    wait_for(signed_in, f"{env.base}/imports/{iid}", "/review")
    history = signed_in.get(f"{env.base}/history", timeout=TIMEOUT_S).text
    assert "from-the-cli" in history  # the command line's run
    assert "console-renewals" in history  # the console's plan
    assert "spring-nightly" in history  # the job's, from its own report folder
    assert cli_report.folder is not None and cli_report.folder.name in history
    link = re.search(rf'href="(/runs/\d+/{re.escape(cli_report.folder.name)})"', history)
    assert link
    run = signed_in.get(env.base + link[1], timeout=TIMEOUT_S).text
    assert cli_report.headline() in run and 'id="report-frame"' in run


def test_one_apply_per_campaign_at_a_time(
    signed_in: requests.Session, env: ConsoleEnv, tmp_path: Path
) -> None:
    cid = env.campaigns["Winter Leads"]
    source = write_csv(tmp_path / "locked.csv", ["phone"], [[n] for n in numbers(4, 9500)])
    iid = start_import(signed_in, env, [source], campaign=cid)
    map_page = signed_in.get(f"{env.base}/imports/{iid}/map").text
    signed_in.post(f"{env.base}/imports/{iid}/map", data={"csrf_token": csrf_of(map_page)})
    review = wait_for(signed_in, f"{env.base}/imports/{iid}", "/review").text
    plan_id = re.search(r'name="plan_id" value="(\w+)"', review)
    assert plan_id
    form = {"csrf_token": csrf_of(review), "plan_id": plan_id[1]}
    lock = campaign_lock_dir(env.settings) / f"campaign-{cid}.lock"  # the CLI's and jobs' too
    with JobLock(lock, job="another apply"):
        signed_in.post(f"{env.base}/imports/{iid}/approve", data=form, timeout=TIMEOUT_S)
        refused = wait_for(signed_in, f"{env.base}/imports/{iid}", "/result").text
    assert 'id="apply-error"' in refused and "already running" in refused
    assert env.leads(cid) == []  # nothing was written
    signed_in.post(f"{env.base}/imports/{iid}/approve", data=form, timeout=TIMEOUT_S)
    for _ in range(100):
        done = wait_for(signed_in, f"{env.base}/imports/{iid}", "/result").text
        if 'id="headline"' in done:
            break
    assert "4 leads were added" in done and len(env.leads(cid)) == 4
