"""A person's view of the portal: headless Chromium (Debian's) driven by Playwright.

Skipped when /usr/bin/chromium is missing, unless REQUIRE_BROWSER=1 (CI), where that fails.
Screenshots go to test-artifacts/ (or $TEST_ARTIFACTS_DIR).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.browser

BASE_DIR = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
REQUIRED = os.environ.get("REQUIRE_BROWSER", "").strip().lower() in ("1", "true", "yes", "on")
DEMO_PASSWORD = "Yigongti-2026"
TIMEOUT_MS = 20_000


def artifacts_dir() -> Path:
    path = Path(os.environ.get("TEST_ARTIFACTS_DIR") or BASE_DIR / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"Playwright is not installed: {exc}")
    # Playwright's sync API keeps an event loop running in this thread; the ORM calls
    # made meanwhile (demo data, live server teardown) are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    playwright = sync_playwright().start()
    try:
        try:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
        except Exception as exc:
            unavailable(f"Chromium did not start: {exc}")
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1440, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', DEMO_PASSWORD)
    with page.expect_navigation():
        page.locator('form:has(input[name="password"]) [type="submit"]').first.click()
    assert "/login/" not in page.url, f"{username} could not log in:\n{page.inner_text('body')[:2000]}"


def log_out(page, base_url: str) -> None:
    form = page.locator('form[action$="/logout/"]')
    if form.count():
        button = form.first.locator('[type="submit"]')
        with page.expect_navigation():
            if button.count() and button.first.is_visible():
                button.first.click()
            else:
                form.first.evaluate("f => f.submit()")
    else:  # no navbar button: post the way the button would
        token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
        response = page.request.post(f"{base_url}/logout/", headers={"X-CSRFToken": token, "Referer": page.url})
        assert response.ok, response.status
    page.goto(f"{base_url}/")
    assert "/login/" in page.url, "still logged in after logging out"


@contextmanager
def clock_not_before(moment: datetime):
    """The real clock, or — while it is earlier than ``moment`` — a clock that starts at ``moment`` and
    ticks, for a test that needs the demo as it stands from ``moment`` on. time_machine moves this
    process (the live server's threads too); Chromium keeps the real clock, which is harmless: the
    portal's cookies carry Max-Age."""
    import time_machine
    from django.utils import timezone

    if timezone.now() >= moment:
        yield
        return
    with time_machine.travel(moment, tick=True):
        yield


def body_text(page) -> str:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:  # let partial (HTMX) loads finish; a page that keeps polling is read as it is
        page.wait_for_load_state("networkidle", timeout=5_000)
    except PlaywrightTimeout:
        pass
    return page.inner_text("body")


@pytest.fixture
def demo(transactional_db):
    """The demo data, committed so the live server's threads see it. Loaded before Playwright
    starts: inside its sync API the ORM would open (and leave open) a connection of its own.
    Without the past months' scheduled reports, which no test using this fixture reads (they take a
    third of the loading time)."""
    call_command("load_demo", quiet=True, without_reports=True)


@pytest.fixture
def org_demo(transactional_db):
    """The demo's organisation and logins only."""
    call_command("load_demo", quiet=True, without_ledgers=True, without_filings=True)


def test_bureau_and_hospital_see_their_own_scope(live_server, org_demo, page):
    shots = artifacts_dir()

    # Bureau staff of 郁南县: the county's three alliances, nothing of 万源市.
    log_in(page, live_server.url, "yn_staff")
    text = body_text(page)
    page.screenshot(path=str(shots / "bureau_home.png"), full_page=True)
    for name in ("第一医共体", "第二医共体", "第三医共体"):
        assert name in text, f"yn_staff does not see {name}"
    assert "万源" not in text

    log_out(page, live_server.url)

    # An institution filer of 县人民医院: their hospital, not the other alliances or hospitals.
    log_in(page, live_server.url, "yn_rmyy")
    text = body_text(page)
    page.screenshot(path=str(shots / "hospital_home.png"), full_page=True)
    assert "县人民医院" in text
    for name in ("第二医共体", "第三医共体", "县中医院", "万源"):
        assert name not in text, f"yn_rmyy sees {name}"
