"""Fixtures of the console tests: one console + sandbox per module, a headless Chromium driven
by Playwright (Debian's chromium through its executable path; never a downloaded browser)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Dialog, Page, sync_playwright

from tests.console.support import ConsoleEnv, console_env
from tests.report.conftest import chromium  # noqa: F401  (the fixture, reused)

#: Milliseconds a page action or wait may take before the test fails (generous: 2 shared cores).
PAGE_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleEnv]:
    """The console and its sandbox (demo campaigns), shared by the tests of a module."""
    with console_env(tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:  # noqa: F811
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def dialogs() -> list[str]:
    """Messages of every alert/confirm a page opened (an XSS payload would open one)."""
    return []


@pytest.fixture
def page(browser: Browser, env: ConsoleEnv, dialogs: list[str]) -> Iterator[Page]:
    """A fresh browser context signed in to the console."""
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    tab = context.new_page()

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.goto(env.login_url())
    yield tab
    context.close()
