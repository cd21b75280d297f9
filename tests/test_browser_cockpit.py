"""The home page's cockpit in a browser (headless Chromium) on the demo: the county leader's at
1366 × 768 (one screen, panels in a grid), the supervisor's, and a filer's on a 390 × 844 phone
(nothing scrolls sideways: the panels stack and their tables become cards). Screenshots go to
test-artifacts/ (cockpit_*.png)."""

from __future__ import annotations

import pytest

from tests.test_browser import (  # noqa: F401
    TIMEOUT_MS,
    artifacts_dir,
    body_text,
    browser,
    demo,
    log_in,
    log_out,
)

pytestmark = pytest.mark.browser


def _context(browser, width: int, height: int, **extra):  # noqa: F811
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": width, "height": height},
                                  **extra)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _panels(page) -> list[str]:
    return page.eval_on_selector_all(".cockpit-panel", "nodes => nodes.map(n => n.id)")


def test_county_leader_sees_the_cockpit_on_one_screen_and_the_supervisor_the_dashboard(live_server, demo, browser):  # noqa: F811
    context = _context(browser, 1366, 768)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "yn_viewer")
        text = body_text(page)
        page.screenshot(path=str(artifacts_dir() / "cockpit_county_leader.png"))
        page.screenshot(path=str(artifacts_dir() / "cockpit_county_leader_full.png"), full_page=True)
        assert page.locator("[data-cockpit=county]").count() == 1
        for panel in ("panel-indicators", "panel-tasks", "panel-filings", "panel-reports", "panel-budget",
                      "panel-talent"):
            assert panel in _panels(page), panel
        assert "郁南县" in text and "万源" not in text
        # Panels side by side, every one of them whole on the first screen.
        boxes = page.eval_on_selector_all(".cockpit-grid > .cockpit-panel", "nodes => nodes.map(n => "
                                          "[n.id, n.getBoundingClientRect().top, n.getBoundingClientRect().bottom])")
        assert len({top for _id, top, _bottom in boxes}) == 2, boxes  # two rows
        assert all(bottom <= 768 for _id, _top, bottom in boxes), boxes
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        # The structure page stays reachable from the cockpit.
        page.locator("#structure-link").click()
        page.wait_for_load_state()
        assert "/regions/" in page.url
        log_out(page, live_server.url)

        log_in(page, live_server.url, "yn_supervisor")
        body_text(page)
        page.screenshot(path=str(artifacts_dir() / "cockpit_supervisor.png"))
        assert page.locator("[data-cockpit=supervisor]").count() == 1
        assert {"panel-tasks", "panel-orders", "panel-alliances"} <= set(_panels(page))
        assert int(page.locator("[data-figure=red]").first.inner_text()) >= 0
    finally:
        context.close()


def test_filer_home_fits_a_phone(live_server, demo, browser):  # noqa: F811
    context = _context(browser, 390, 844, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "yn_gt1_filer")
        body_text(page)
        page.screenshot(path=str(artifacts_dir() / "cockpit_filer_phone.png"))
        page.screenshot(path=str(artifacts_dir() / "cockpit_filer_phone_full.png"), full_page=True)
        assert page.locator("[data-cockpit=filer]").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # The big buttons lead to 我的填报 and 我的任务.
        box = page.locator("#btn-filings").bounding_box()
        assert box["height"] >= 44 and box["width"] >= 150
        page.locator("#btn-filings").click()
        page.wait_for_load_state()
        assert "/filings/" in page.url

        log_out(page, live_server.url)
        log_in(page, live_server.url, "yn_gt1")
        body_text(page)
        page.screenshot(path=str(artifacts_dir() / "cockpit_alliance_phone.png"), full_page=True)
        assert page.locator("[data-cockpit=alliance]").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
