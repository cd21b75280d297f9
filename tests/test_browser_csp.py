"""The Content-Security-Policy in a real browser: every role walks its main pages with the policy
enforced, and Chromium reports no violation, no console error and no script error.

The demo is loaded once (one test walks every role). Each role starts from its home page and follows
the links of the navigation and the page (one page per kind of address, ids folded), up to a bound;
the bureau administrator also opens the chart pages, whose charts must still draw. A canary (an
inline script added on purpose) proves the listener sees a violation when there is one.
"""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from tests.test_browser import artifacts_dir, browser, log_in, page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

# Recorded before any page script runs: init scripts are not subject to the page's policy.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample,
                     source: e.sourceFile, line: e.lineNumber});
});
"""

ROLES = {
    "yn_admin": 24,  # bureau_admin
    "yn_gt1": 14,  # alliance office
    "yn_rmyy": 14,  # institution filer
    "yn_supervisor": 14,
    "yn_rmyy_hr": 14,  # hr_officer
    "yn_security": 10,  # security_admin
    "yn_auditor": 10,
    "gd_province": 14,  # province viewer
    "yf_city": 10,  # city viewer
}
# Downloads, sign-out, the admin site and the API are not pages of the portal's own templates.
SKIP = re.compile(r"/logout/|/admin/|/i18n/|\.xlsx|\.pdf|/export|/download|/evidence/|/api/|/template|/media/|/files/")


def page_kind(path: str) -> str:
    return re.sub(r"\d+", "N", path)


@pytest.fixture
def csp_demo(transactional_db):
    """The whole demo (reports too: the print page has bars drawn by portal.js), and the addresses of
    the chart pages, looked up before Playwright starts."""
    from alliances.models import Region
    from indicators.models import EvaluationRun, Indicator
    from reports.models import ReportVersion

    call_command("load_demo", quiet=True)
    indicator = Indicator.objects.filter(county__name="郁南县").order_by("pk").first() or Indicator.objects.order_by("pk").first()
    run = EvaluationRun.objects.filter(county__name="郁南县").order_by("-pk").first()
    version = ReportVersion.objects.filter(report__county__name="郁南县", report__alliance__isnull=True).order_by("-pk").first()
    return {
        "charts": {
            "/tasks/dashboard/": "#trend-chart",
            f"/indicators/{indicator.pk}/": "#trend-chart",
            f"/indicators/evaluation/{run.pk}/": "#evaluation-chart",
            "/staffing/targets/": "#targets-chart",
        },
        "print": f"/reports/versions/{version.pk}/",
        "calendar": f"/finance/regions/{Region.objects.get(name='郁南县').pk}/calendar/",
    }


class Recorder:
    def __init__(self, tab):
        self.page = tab
        self.console: list[str] = []
        tab.on("console", self.on_console)
        tab.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        tab.context.add_init_script(RECORD_VIOLATIONS)

    def on_console(self, message):
        if message.type in ("error", "warning"):
            self.console.append(f"{message.type}: {message.text}")

    def open(self, url: str) -> dict:
        """Open a page; its status, its policy header, the violations and console messages it caused."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.console.clear()
        response = self.page.goto(url)
        try:
            self.page.wait_for_load_state("networkidle", timeout=5_000)
        except PlaywrightTimeout:
            pass  # a page that keeps polling is read as it is
        return {
            "status": response.status if response else None,
            "policy": (response.headers.get("content-security-policy") if response else None) or "",
            "violations": self.page.evaluate("window.__csp || []"),
            "console": list(self.console),
        }


def links(tab) -> list[str]:
    hrefs = tab.eval_on_selector_all("nav a[href], main a[href]", "els => els.map(e => e.getAttribute('href'))")
    return [h for h in hrefs if h and h.startswith("/") and not SKIP.search(h)]


def walk(recorder: Recorder, base: str, limit: int, first: list[str]) -> tuple[list[str], list[str]]:
    seen, visited, problems = set(), [], []
    queue = deque(first + ["/"])
    while queue and len(visited) < limit:
        href = queue.popleft()
        path = urlsplit(href).path
        if page_kind(path) in seen:
            continue
        seen.add(page_kind(path))
        result = recorder.open(base + href)
        visited.append(href)
        if result["status"] is None or result["status"] >= 500:
            problems.append(f"{href}: status {result['status']}")
        if "script-src 'self'" not in result["policy"]:
            problems.append(f"{href}: no strict policy header ({result['policy']!r})")
        for violation in result["violations"]:
            problems.append(f"{href}: violation {violation}")
        for line in result["console"]:
            problems.append(f"{href}: {line}")
        queue.extend(links(recorder.page))
    return visited, problems


def test_every_role_walks_its_pages_without_a_policy_violation(live_server, csp_demo, page):  # noqa: F811
    base = live_server.url
    recorder = Recorder(page)
    shots = artifacts_dir()
    report, problems = {}, []

    # The canary: an inline script is blocked and reported, so the walk below can fail.
    recorder.open(f"{base}/login/")
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.appendChild(s); }")
    assert page.evaluate("window.__ran") is None, "an inline script ran: the policy is not enforced"
    assert any(v["directive"].startswith("script-src") for v in page.evaluate("window.__csp")), "the listener saw no violation"

    for username, limit in ROLES.items():
        page.context.clear_cookies()
        log_in(page, base, username)
        first = []
        if username == "yn_admin":
            # Chart pages: the charts draw (a canvas inside each box), and two are kept as screenshots.
            for path, box in csp_demo["charts"].items():
                result = recorder.open(base + path)
                assert result["status"] == 200, (path, result["status"])
                canvas = page.locator(f"{box} canvas").first
                size = canvas.bounding_box() if page.locator(f"{box} canvas").count() else None
                if not size or size["height"] < 100:  # no chart, or a box without its height (CSS blocked)
                    problems.append(f"{path}: the chart {box} did not draw ({size})")
                    continue
                problems += [f"{path}: violation {v}" for v in result["violations"]]
                problems += [f"{path}: {line}" for line in result["console"]]
                # A tooltip (ECharts writes its HTML with style attributes) must not be blocked either.
                canvas.hover()
                page.wait_for_timeout(300)
                problems += [f"{path} (hover): violation {v}" for v in page.evaluate("window.__csp")[len(result["violations"]):]]
            page.goto(base + "/tasks/dashboard/")
            page.screenshot(path=str(shots / "csp_dashboard.png"), full_page=True)
            page.goto(base + list(csp_demo["charts"])[2])
            page.screenshot(path=str(shots / "csp_evaluation.png"), full_page=True)
            first = [csp_demo["print"]]
        visited, found = walk(recorder, base, limit, first)
        report[username] = visited
        problems += [f"{username} {line}" for line in found]

    print("\npages walked with the policy enforced: " + ", ".join(f"{user} {len(v)}" for user, v in report.items())
          + f"; {sum(len(v) for v in report.values())} in all")
    assert sum(len(v) for v in report.values()) >= 60, report
    problems = list(dict.fromkeys(problems))
    assert not problems, "\n".join(problems[:60])

    # data-confirm (portal.js) replaced onsubmit="return confirm(...)": dismissing the dialog keeps
    # the training record, accepting it deletes it.
    page.context.clear_cookies()
    log_in(page, base, "yn_hr")
    page.goto(f"{base}/staffing/training/")
    forms = page.locator("form[data-confirm]")
    before = forms.count()
    assert before, "no training record to delete on the page"
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    forms.first.locator("[type=submit]").click()
    page.wait_for_timeout(500)
    assert asked and asked[0], "no confirmation was asked"
    page.reload()
    assert page.locator("form[data-confirm]").count() == before, "deleted although the dialog was dismissed"
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.locator("form[data-confirm]").first.locator("[type=submit]").click()
    assert page.locator("form[data-confirm]").count() == before - 1, "not deleted although the dialog was accepted"

    # data-autosubmit (portal.js) replaced onchange="this.form.submit()": choosing a year reloads the page.
    page.context.clear_cookies()
    log_in(page, base, "yn_admin")
    page.goto(base + csp_demo["calendar"])
    select = page.locator("select[data-autosubmit]").first
    other = select.locator("option:not([selected])").first.get_attribute("value")
    with page.expect_navigation():
        select.select_option(other)
    assert f"year={other}" in page.url, page.url
