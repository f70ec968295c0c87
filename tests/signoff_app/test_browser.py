"""Reviewers in a real browser, with JavaScript off: Playwright driving Debian's chromium
against the app served on loopback by the local stack."""

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from apps.signoff.local import start_local_app
from tests.signoff_app.conftest import start_release

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, for the whole module."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Debian's chromium is missing at {CHROMIUM}: `./dev test` installs it "
            "(or: sudo apt-get install chromium)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(stack):
    """The app served on loopback as the local stack serves it; answers its URL."""
    server = start_local_app(stack)
    yield server.url
    server.stop()


@pytest.fixture
def page(browser):
    """A fresh browser tab with JavaScript off, so every action is a plain form."""
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    yield context.new_page()
    context.close()


def sign_in(page, site: str, email: str) -> None:
    """Sign in through the dev login form."""
    page.goto(f"{site}/login")
    page.check(f'input[name="email"][value="{email}"]')
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("header .reviewer")).to_have_text(email)


def sign_out(page) -> None:
    """Sign out with the header's button."""
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()


def open_from_pending_list(page, site: str, signoff_id: str) -> None:
    """Reload the pending list until the signoff shows up, then open it."""
    link = page.locator(f'a[href="/signoffs/{signoff_id}"]')
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        page.goto(f"{site}/signoffs/")
        if link.count() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    link.first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("signoff:")


def open_execution_when_ended(page, site: str, name: str) -> None:
    """Open the execution from the list, reloading until it is no longer running."""
    page.goto(f"{site}/executions/")
    page.get_by_role("link", name=name, exact=True).click()
    deadline = time.monotonic() + WAIT_SECONDS
    while page.locator(".status .badge").inner_text() == "RUNNING":
        assert time.monotonic() < deadline, f"{name} still running"
        time.sleep(0.5)
        page.reload()


def test_a_release_ships_entirely_from_the_browser(stack, site, page, tmp_path):
    release = start_release(stack, "browser-ship")

    sign_in(page, site, "qa-reviewer@mozilla.com")
    open_from_pending_list(page, site, release.signoff("qa"))
    expect(page.locator("body")).to_contain_text(release.record("qa")["sha512"])
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash.success")).to_contain_text("You approved")
    sign_out(page)

    sign_in(page, site, "relman-reviewer@mozilla.com")
    open_from_pending_list(page, site, release.signoff("relman"))
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash.success")).to_contain_text("You approved")

    open_execution_when_ended(page, site, release.name)
    expect(page.locator(".status .badge")).to_have_text("SUCCEEDED")
    graph = page.locator("figure.graph svg")
    expect(graph).to_be_visible()
    for state in ("RequestQaSignoff", "RequestRelmanSignoff", "CloseTrackingBug"):
        expect(graph.locator("g.state", has_text=state)).to_contain_text("done")
    expect(graph.locator("g.state", has_text="ReportFailure")).to_contain_text("not reached")
    expect(page.locator("table.history")).to_contain_text("execution SUCCEEDED")
    screenshot = tmp_path / "execution-succeeded.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000


def test_a_rejection_shows_the_failure_and_the_restored_test_rule(stack, site, page, tmp_path):
    release = start_release(stack, "browser-reject")

    sign_in(page, site, "qa-reviewer@mozilla.com")
    open_from_pending_list(page, site, release.signoff("qa"))
    page.get_by_label("Reject: why?").fill("video playback stutters on the test channel")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator(".flash.success")).to_contain_text("You rejected")

    open_execution_when_ended(page, site, release.name)
    failure = page.locator("section.failure")
    expect(page.locator(".status .badge")).to_have_text("FAILED")
    expect(failure).to_contain_text("SignoffRejected")
    expect(failure).to_contain_text("video playback stutters on the test channel")
    expect(failure).to_contain_text(re.compile(r"rule \d+"))
    graph = page.locator("figure.graph svg")
    expect(graph.locator("g.state", has_text="RequestQaSignoff")).to_contain_text("failed")
    expect(graph.locator("g.state", has_text="ReportFailure")).to_contain_text("done")
    page.screenshot(path=str(tmp_path / "execution-rejected.png"), full_page=True)
