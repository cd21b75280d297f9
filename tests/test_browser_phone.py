"""The portal on a phone (390 × 844, headless Chromium): the first alliance's filer opens 我的填报,
fills a month's grid and saves it, opens 我的任务 and reports progress with a photo taken for
evidence; the bureau answers a 督办单; the inbox. No page scrolls sideways: tables become cards.
Screenshots go to test-artifacts/ (phone_*.png)."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.test_browser import (  # noqa: F401
    TIMEOUT_MS,
    artifacts_dir,
    body_text,
    browser,
    log_in,
    log_out,
)

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 390, 844
FILER = "yn_gt1_filer"
CENTRE = "郁南县都城镇卫生院"


def tiny_png(width: int = 8, height: int = 6) -> bytes:
    """A small real PNG (blue), so the evidence check by content accepts it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x17\x4a\x8b" * width for _row in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def phone(browser):  # noqa: F811
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": WIDTH, "height": HEIGHT},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def phone_demo(transactional_db):
    """The demo (one load for the whole walk), with last month's monthly form of 都城镇卫生院 (a member
    of the first alliance) as an empty draft, reopened if its lock day has passed."""
    from accounts.models import User
    from alliances.models import Institution
    from core.periods import Period, PeriodKind
    from indicators.models import Filing, ReportForm
    from indicators.services.filings import form_rows, open_filing
    from tasks.models import Assignment, SupervisionOrder
    from tasks.services.supervision import order_issue

    call_command("load_demo", quiet=True, without_staffing=True, without_reports=True)
    today = timezone.localdate()
    period = Period.containing_date(PeriodKind.MONTH, today).previous
    form = ReportForm.objects.get(county__name="郁南县", code="MONTHLY_OPS")
    centre = Institution.objects.get(name=CENTRE)
    Filing.objects.filter(form=form, institution=centre, period=str(period)).delete()
    filing = open_filing(form, centre, period)
    if today > form.lock_date(period):
        Filing.objects.filter(pk=filing.pk).update(reopened_until=today + timedelta(days=7))
    codes = [row.element.code for row in form_rows(form, centre.kind)]
    # An order on one of the bureau's own departments, which the bureau answers itself (issued here
    # when the demo's orders, on whatever is overdue on the day, name none).
    order = SupervisionOrder.objects.filter(county__name="郁南县", state="open",
                                            assignment__department__isnull=False).order_by("pk").first()
    if order is None:
        order = order_issue(
            assignment=Assignment.objects.filter(county=form.county, role="lead", department__isnull=False,
                                                 completed_at__isnull=True).order_by("pk").first(),
            user=User.objects.get(username="yn_supervisor"), colour="yellow", text="请报送推进情况。",
            reply_due=today + timedelta(days=7), now=timezone.now())
    _reminder_in_the_inbox(FILER, form.county, period)
    return {"filing": filing.pk, "codes": codes, "order": order.pk}


def _reminder_in_the_inbox(username, county, period):
    """A filing reminder sent to the filer (the demo is loaded without the scheduled reports)."""
    from django.contrib.auth import get_user_model

    from reports.models import Delivery, Kind, Report, ReportVersion

    now = timezone.now()
    report = Report.objects.create(
        kind=Kind.REMINDER, county=county, scope_key=f"county:{county.pk}", period=str(period),
        title=f"{county.name}{period.label}填报提醒", state=Report.State.SENT, state_changed_at=now, due_at=now,
        deadline=now, created_at=now, generated_at=now, sent_at=now)
    version = ReportVersion.objects.create(report=report, number=1, created_at=now, data={})
    user = get_user_model().objects.get(username=username)
    Delivery.objects.create(report=report, version=version, address_key=f"user:{user.pk}", user=user,
                            label=user.display_name, state=Delivery.State.SENT, next_attempt_at=now, sent_at=now,
                            created_at=now, message="以下报表尚未报送：医共体成员单位运行监测月报（郁南县都城镇卫生院），"
                                                    "请于锁定日前完成填报。")


def fits(page, name: str, at: str | None = None) -> None:
    """The page is no wider than the phone; a screenshot of the phone's screen is kept (scrolled to
    the element ``at`` when given)."""
    body_text(page)
    if at:
        page.locator(at).first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir() / f"phone_{name}.png"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{name}: the page is {width} px wide on a {WIDTH} px phone"


def test_filer_files_a_month_and_reports_progress_with_a_photo_on_a_phone(live_server, phone_demo, phone, tmp_path):
    page, base = phone, live_server.url
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(tiny_png())

    # 1. 我的填报: the list is cards; the draft opens the grid; a few figures are saved.
    log_in(page, base, FILER)
    page.goto(f"{base}/filings/")
    assert "我的填报" in body_text(page)
    fits(page, "my_filings")
    page.locator(f'#my-filings a[href$="/filings/{phone_demo["filing"]}/"]').first.click()
    assert "保存草稿" in body_text(page)
    for code in phone_demo["codes"][:4]:
        page.fill(f"#row-{code} input", "120")
    fits(page, "filing_grid", at=f"#row-{phone_demo['codes'][0]}")
    fits(page, "filing_buttons", at='button[value="submit"]')
    page.get_by_role("button", name="保存草稿").click()
    text = body_text(page)
    assert "草稿已保存" in text, text[:1500]
    assert page.input_value(f"#row-{phone_demo['codes'][0]} input") == "120"
    fits(page, "filing_saved")

    # 2. 我的任务: cards; a progress report with a photo from the camera.
    page.goto(f"{base}/tasks/mine/")
    assert "我的任务" in body_text(page)
    fits(page, "my_tasks")
    page.locator(".navbar-toggler").click()  # the menu folds out within the width too
    page.wait_for_selector("#portal-nav.show")
    fits(page, "menu")
    page.locator(".navbar-toggler").click()
    page.locator("#my-tasks").get_by_role("link", name="填报").first.click()
    photo_input = page.locator('input[name="photo"]')
    assert photo_input.get_attribute("capture") == "environment"
    assert "image/" in photo_input.get_attribute("accept")
    page.fill('input[name="percent"]', "60")
    page.fill('textarea[name="text"]', "已完成村卫生室巡诊，现场照片见附件。")
    photo_input.set_input_files(str(photo))
    fits(page, "report_form", at='input[name="photo"]')
    page.get_by_role("button", name="提交报告").click()
    text = body_text(page)
    assert "进展报告已提交" in text and "现场照片.png" in text, text[:1500]
    fits(page, "report_sent")

    # 3. The inbox (reports sent to the filer) and the task notifications.
    page.goto(f"{base}/reports/inbox/")
    assert "填报提醒" in body_text(page)
    fits(page, "inbox")
    page.goto(f"{base}/tasks/notifications/")
    fits(page, "notifications")
    log_out(page, base)

    # 4. The bureau answers a 督办单 from its phone.
    log_in(page, base, "yn_staff")
    page.goto(f"{base}/tasks/orders/{phone_demo['order']}/")
    fits(page, "order")
    fits(page, "order_reply", at='textarea[name="reply_text"]')
    page.fill('textarea[name="reply_text"]', "已召开专题会议研究整改，本月底前完成。")
    page.get_by_role("button", name="提交回复").click()
    assert "已召开专题会议研究整改" in body_text(page)
    fits(page, "order_replied")
