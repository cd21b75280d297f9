"""The quarterly 评价指标表 as the bureau handles it, in headless Chromium: the bureau's administrator
opens the report archive (the demo's last quarter waits for sign-off), opens the draft, reads it,
adds the review and signs it off; the sweep (what beat runs every five minutes) sends it; the page
shows it sent with its delivery log, and the city's user finds it in the inbox. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.test_browser import (  # noqa: F401
    artifacts_dir,
    body_text,
    browser,
    clock_not_before,
    log_in,
    log_out,
    page,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db):
    """The demo with last quarter's table drafted: that happens on the 1st after the quarter at 08:00
    (of January, April, July or October); earlier on that morning the test runs from 08:00."""
    from core.periods import Period, PeriodKind
    from reports import schedule
    from reports.models import Report

    quarter = Period.containing_date(PeriodKind.QUARTER, schedule.local_today(timezone.now()))
    with clock_not_before(schedule.quarterly_slot(quarter.previous).due_at):
        call_command("load_demo", quiet=True, without_staffing=True)
        draft = Report.objects.get(kind="quarterly", county__name="郁南县", state=Report.State.READY)
        yield {"draft": draft}


def test_bureau_signs_off_the_quarterly_table_and_sees_it_sent(live_server, demo, page):  # noqa: F811
    from reports import services
    from reports.models import Report

    shots = artifacts_dir()
    base = live_server.url
    draft = demo["draft"]

    # 1. The archive: the draft waits for the bureau's sign-off.
    log_in(page, base, "yn_admin")
    page.goto(f"{base}/reports/")
    assert "份季度评价指标表待您签发" in body_text(page)
    assert "进度监测表" in body_text(page)
    page.screenshot(path=str(shots / "reports_archive.png"), full_page=True)
    page.get_by_role("link", name="查看待签发").click()
    page.get_by_role("link", name=draft.title).click()

    # 2. The draft: read it, then sign it off with the review.
    assert "已生成" in body_text(page) and "签发后才会报送" in body_text(page)
    page.screenshot(path=str(shots / "reports_quarterly_draft.png"), full_page=True)
    page.locator("#versions").get_by_role("link", name="查看").first.click()
    text = body_text(page)
    assert draft.title in text and "医共体得分与排名" in text and "待县卫生健康局审核签发" in text
    page.screenshot(path=str(shots / "reports_quarterly_print.png"), full_page=True)
    page.go_back()
    page.fill("#id_commentary", "经审核，同意上报。第三医共体签约率偏低，请限期整改。")
    page.get_by_role("button", name="签发并报送").click()
    assert "已签发，正在报送。" in body_text(page)

    # 3. Beat's next sweep sends it; the page shows it sent, with the delivery log.
    services.sweep(timezone.now())
    page.reload()
    text = body_text(page)
    draft.refresh_from_db()
    assert draft.state == Report.State.SENT
    assert "已发送" in text and "投递记录" in text
    log = page.locator("#delivery-log").inner_text()
    assert "苏建新" in log and "yfswjj@yunfu.example.cn" in log and "梁永康" in log
    assert log.count("已发送") >= 3
    assert "梁永康于" in text and "签发" in text
    page.screenshot(path=str(shots / "reports_quarterly_sent.png"), full_page=True)

    # 4. The city's user has it in the inbox, with the signed workbook.
    log_out(page, base)
    log_in(page, base, "yf_city")
    page.goto(f"{base}/reports/inbox/")
    item = page.locator("#inbox .list-group-item", has_text=draft.title)
    assert item.count() == 1 and "未读" in item.inner_text()
    page.screenshot(path=str(shots / "reports_inbox_city.png"), full_page=True)
    with page.expect_download() as download:
        item.get_by_role("link", name="下载 .xlsx").click()
    assert download.value.suggested_filename.endswith(".xlsx")

