"""The console's guards over real HTTP: the access token, sessions, CSRF on every POST, body
limits, private work files, confined report files, headers, and no secret on any page."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from starlette.routing import Route

from leadsync.console import ConsoleOptions, create_app
from leadsync.console.security import COOKIE_NAME
from leadsync.reader.limits import Limits
from tests.console.support import (
    SAMPLE_DIR,
    SECRET_API_KEY,
    SECRET_PASSWORD,
    TOKEN,
    ConsoleEnv,
    csrf_of,
    numbers,
    serve,
    session,
    write_csv,
)

PAGES = ("/campaigns", "/imports/new", "/history", "/jobs")
TIMEOUT_S = 60


def start_import(s: requests.Session, env: ConsoleEnv, files: list[Path], **fields: str) -> str:
    """Upload ``files``; returns the import's id (its map page was shown)."""
    csrf = csrf_of(s.get(f"{env.base}/imports/new", timeout=TIMEOUT_S).text)
    opened = [(f.name, f.open("rb")) for f in files]
    try:
        r = s.post(
            f"{env.base}/imports",
            data={"csrf_token": csrf, "mode": "upsert", **fields},
            files=[("files", (name, fh)) for name, fh in opened],
            timeout=TIMEOUT_S,
        )
    finally:
        for _, fh in opened:
            fh.close()
    assert r.status_code == 200 and r.url.endswith("/map"), r.text[:500]
    return r.url.split("/imports/")[1].split("/")[0]


def wait_for(s: requests.Session, url: str, suffix: str) -> requests.Response:
    """Follow ``url`` until it redirects to a page ending in ``suffix`` (the work finished)."""
    for _ in range(600):
        r = s.get(url, timeout=TIMEOUT_S)
        if r.url.split("?")[0].endswith(suffix):
            return r
        with requests.get(  # the progress stream ends when the work does
            url + "/events", cookies=s.cookies, timeout=TIMEOUT_S, stream=True
        ) as events:
            for line in events.iter_lines():
                if line == b"event: end":
                    break
    raise AssertionError(f"{url} never reached {suffix}")


@pytest.fixture(scope="module")
def signed_in(env: ConsoleEnv) -> requests.Session:
    return session(env)


@pytest.mark.parametrize("path", PAGES)
def test_without_the_access_token_every_page_is_refused(env: ConsoleEnv, path: str) -> None:
    r = requests.get(env.base + path, timeout=TIMEOUT_S, allow_redirects=False)
    assert r.status_code == 401 and "leadsync serve" in r.text
    wrong = requests.get(env.base + path + "?token=guess", timeout=TIMEOUT_S)
    assert wrong.status_code == 403
    forged = requests.get(env.base + path, cookies={COOKIE_NAME: "forged"}, timeout=TIMEOUT_S)
    assert forged.status_code == 401


def test_the_token_becomes_a_strict_cookie_and_leaves_the_url(env: ConsoleEnv) -> None:
    r = requests.get(env.login_url("/history"), allow_redirects=False, timeout=TIMEOUT_S)
    assert r.status_code == 303 and r.headers["location"] == "/history"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    static = requests.get(env.base + "/static/console.js", timeout=TIMEOUT_S)
    assert static.status_code == 200  # the console's own JS needs no session


def test_every_page_carries_a_strict_content_security_policy(
    signed_in: requests.Session, env: ConsoleEnv
) -> None:
    r = signed_in.get(env.base + "/campaigns", timeout=TIMEOUT_S)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_every_post_refuses_a_request_without_the_csrf_token(
    signed_in: requests.Session, env: ConsoleEnv
) -> None:
    iid = start_import(signed_in, env, [SAMPLE_DIR / "spring_promo.csv"])
    posts = [
        r.path
        for r in env.app.routes
        if isinstance(r, Route) and r.methods is not None and "POST" in r.methods
    ]
    assert len(posts) >= 6
    for template in posts:
        path = template.replace("{iid}", iid).replace("{name}", "nightly")
        for data in ({}, {"csrf_token": "forged"}):
            r = signed_in.post(env.base + path, data=data, timeout=TIMEOUT_S)
            assert r.status_code == 403, f"POST {path} without CSRF answered {r.status_code}"
    # Nothing happened: the import is still there, unplanned.
    imp = env.console.store.get(iid)
    assert imp is not None and not imp.plans and imp.task is None


def test_an_unmapped_phone_column_is_refused_by_the_server_too(
    signed_in: requests.Session, env: ConsoleEnv, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "no phone.csv", ["Tel (direct)", "Name"], [["2125550100", "A"]])
    iid = start_import(signed_in, env, [source])
    page = signed_in.get(f"{env.base}/imports/{iid}/map", timeout=TIMEOUT_S).text
    r = signed_in.post(
        f"{env.base}/imports/{iid}/map", data={"csrf_token": csrf_of(page)}, timeout=TIMEOUT_S
    )
    assert r.status_code == 400 and "no phone column" in r.text
    assert env.console.store.get(iid).plans == []  # type: ignore[union-attr]


def test_work_files_are_private_and_removed_after_the_apply(
    signed_in: requests.Session, env: ConsoleEnv, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "private.csv", ["phone"], [[n] for n in numbers(3, 7000)])
    iid = start_import(signed_in, env, [source], campaign=env.campaigns["Winter Leads"])
    imp = env.console.store.get(iid)
    assert imp is not None
    assert stat.S_IMODE(imp.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(env.console.store.work_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(imp.uploads[0].path.stat().st_mode) == 0o600
    page = signed_in.get(f"{env.base}/imports/{iid}/map", timeout=TIMEOUT_S).text
    signed_in.post(
        f"{env.base}/imports/{iid}/map", data={"csrf_token": csrf_of(page)}, timeout=TIMEOUT_S
    )
    review = wait_for(signed_in, f"{env.base}/imports/{iid}", "/review")
    plan_id = re.search(r'name="plan_id" value="(\w+)"', review.text)
    assert plan_id, review.text[:2000]
    signed_in.post(
        f"{env.base}/imports/{iid}/approve",
        data={"csrf_token": csrf_of(review.text), "plan_id": plan_id[1]},
        timeout=TIMEOUT_S,
    )
    result = wait_for(signed_in, f"{env.base}/imports/{iid}", "/result")
    assert "3 leads were added" in result.text
    assert not imp.files_dir.exists() and not imp.uploads[0].path.exists()


def test_report_files_are_confined_to_report_folders(
    signed_in: requests.Session, env: ConsoleEnv
) -> None:
    runs = re.findall(r'href="(/runs/\d+/[^"]+)"', signed_in.get(env.base + "/history").text)
    assert runs, "an earlier test made runs"
    run = runs[0]
    assert signed_in.get(env.base + run + "/files/summary.json").status_code == 200
    for bad in (
        run + "/files/..%2f..%2fsummary.json",
        run + "/files/plan.json",
        "/runs/0/..%2F..%2Fetc/files/summary.json",
        "/runs/9/20260101T000000Z_x/files/summary.json",
        "/runs/0/not-a-report/files/summary.json",
    ):
        assert signed_in.get(env.base + bad, timeout=TIMEOUT_S).status_code == 404, bad
    (env.reports / "20200101T000000Z_link").symlink_to(env.reports)
    assert signed_in.get(env.base + "/runs/0/20200101T000000Z_link").status_code == 404
    report = signed_in.get(env.base + run + "/files/report.html")
    assert "sandbox" in report.headers["content-security-policy"]


def test_no_page_shows_a_secret(signed_in: requests.Session, env: ConsoleEnv) -> None:
    pages = [*PAGES]
    history = signed_in.get(env.base + "/history").text
    pages += re.findall(r'href="(/runs/\d+/[^"]+)"', history)[:6]
    for imp in env.console.store:
        pages += [
            f"/imports/{imp.id}/map",
            f"/imports/{imp.id}/review",
            f"/imports/{imp.id}/result",
        ]
    seen = 0
    for path in pages:
        r = signed_in.get(env.base + path, timeout=TIMEOUT_S)
        assert SECRET_PASSWORD not in r.text and SECRET_API_KEY not in r.text, path
        seen += r.status_code == 200
        for link in re.findall(r'href="(/runs/[^"]+/files/[^"?]+)', r.text):
            body = signed_in.get(env.base + link, timeout=TIMEOUT_S).content
            assert SECRET_PASSWORD.encode() not in body, link
    assert seen >= len(PAGES) + 3


@pytest.fixture
def small_console(env: ConsoleEnv, tmp_path: Path) -> Iterator[tuple[str, requests.Session]]:
    """A second console on the same sandbox whose reader refuses files over 10 kB."""
    app = create_app(
        env.settings,
        ConsoleOptions(token=TOKEN, cwd=tmp_path, limits=Limits(max_file_bytes=10_000)),
    )
    with serve(app) as base:
        s = requests.Session()
        s.get(f"{base}/campaigns?token={TOKEN}", timeout=TIMEOUT_S)
        yield base, s


def test_uploads_are_bounded_by_the_readers_file_limit(
    small_console: tuple[str, requests.Session], tmp_path: Path
) -> None:
    base, s = small_console
    csrf = csrf_of(s.get(f"{base}/imports/new", timeout=TIMEOUT_S).text)
    big = write_csv(tmp_path / "big.csv", ["phone"], [[n] for n in numbers(2000, 9000)])
    with big.open("rb") as fh:
        r = s.post(
            f"{base}/imports",
            data={"csrf_token": csrf},
            files=[("files", ("big.csv", fh))],
            timeout=TIMEOUT_S,
        )
    assert r.status_code == 413 and "10,000 bytes" in r.text
    ok = write_csv(tmp_path / "ok.csv", ["phone"], [[n] for n in numbers(5, 9000)])
    with ok.open("rb") as fh:
        r = s.post(f"{base}/imports", data={"csrf_token": csrf}, files=[("files", ("ok.csv", fh))])
    assert r.status_code == 200 and r.url.endswith("/map")
    with ok.open("rb") as fh:
        r = s.post(f"{base}/imports", data={"csrf_token": csrf}, files=[("files", ("x.pdf", fh))])
    assert r.status_code == 400 and "not a spreadsheet" in r.text
