"""Monthly filing as its people do it, in headless Chromium: the township centre's statistician
fills the grid and submits; the alliance office returns it with a reason; the statistician sees
the reason, fixes the figure and resubmits; the indicator page shows the value computed from the
filed figures. Screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.test_browser import artifacts_dir, body_text, browser, log_in, log_out, page  # noqa: F401

pytestmark = pytest.mark.browser

FIGURES = dict(OP_VISITS=8600, DISCHARGES=160, DISCHARGE_BED_DAYS=1040, OPEN_BED_DAYS=1800, OCCUPIED_BED_DAYS=1250,
               REHAB_PATIENTS=40, TOTAL_REVENUE=2_100_000, BUSINESS_REVENUE=1_600_000, MED_REVENUE=1_450_000,
               DRUG_REVENUE=520_000, CONSUMABLE_REVENUE=100_000, EXAM_REVENUE=90_000, LAB_REVENUE=80_000,
               FISCAL_REVENUE=500_000, INSURANCE_REVENUE=720_000, BUSINESS_EXPENSE=1_450_000,
               PERSONNEL_EXPENSE=700_000, SALARY_TOTAL=610_000, STAFF_ON_DUTY=92, GPS=7)


@pytest.fixture
def draft(transactional_db):
    """The demo, with last month's monthly form of 都城镇卫生院 as an empty draft (reopened by the
    bureau if the lock day has passed), prepared before Playwright starts."""
    from core.periods import Period, PeriodKind
    from indicators.models import Filing, ReportForm
    from indicators.services.filings import form_rows, open_filing

    call_command("load_demo", quiet=True, without_staffing=True, without_reports=True)
    today = timezone.localdate()
    period = Period.containing_date(PeriodKind.MONTH, today).previous
    form = ReportForm.objects.get(county__name="郁南县", code="MONTHLY_OPS")
    filing = Filing.objects.filter(form=form, institution__name="郁南县都城镇卫生院", period=str(period)).first()
    if filing:
        filing.delete()
    from alliances.models import Institution

    centre = Institution.objects.get(name="郁南县都城镇卫生院")
    filing = open_filing(form, centre, period)
    if today > form.lock_date(period):
        Filing.objects.filter(pk=filing.pk).update(reopened_until=today + timedelta(days=7))
    codes = [row.element.code for row in form_rows(form, centre.kind)]
    return {"period": period, "filing": filing.pk, "codes": codes, "centre": centre.pk}


def fill_grid(tab, codes, figures):
    for code in codes:
        tab.fill(f"#row-{code} input", str(figures.get(code, 10)))


def submit_explaining_warnings(tab):
    tab.get_by_role("button", name="提交").click()
    text = body_text(tab)
    if "已提交" not in text and tab.locator('input[name^="c_"]').count():
        for box in tab.locator('input[name^="c_"]').all():
            box.fill("已核实：本月开展下乡义诊，住院病人增加")
        tab.get_by_role("button", name="提交").click()
        text = body_text(tab)
    return text


def test_fill_submit_return_fix_resubmit_and_see_the_indicator(live_server, draft, page):  # noqa: F811
    shots = artifacts_dir()
    base = live_server.url
    label = draft["period"].label

    # 1. The statistician of 都城镇卫生院 finds the form on 我的填报 and fills the grid.
    log_in(page, base, "yn_dc")
    page.goto(f"{base}/filings/")
    row = page.locator("#my-filings tr", has_text=label).filter(has_text="运行监测月报").first
    if not row.count():
        row = page.locator("#my-filings tr", has_text=label).first
    assert "草稿" in row.inner_text()
    page.screenshot(path=str(shots / "filing_my_filings.png"), full_page=True)
    row.get_by_role("button", name="继续填报").or_(row.get_by_role("link", name="继续填报")).first.click()
    assert "上年同期" in body_text(page)
    figures = dict(FIGURES, DISCHARGE_BED_DAYS="1,040")
    fill_grid(page, draft["codes"], figures)
    # A typo first: text in a number cell is named by row and nothing is saved.
    page.fill("#row-OP_VISITS input", "八千六")
    page.get_by_role("button", name="保存草稿").click()
    text = body_text(page)
    assert "“八千六”不是数字" in text and "未保存任何数据" in text
    page.fill("#row-OP_VISITS input", "8600")
    page.screenshot(path=str(shots / "filing_grid.png"), full_page=True)
    text = submit_explaining_warnings(page)
    assert "已提交" in text, text[:1500]
    log_out(page, base)

    # 2. The alliance office (the lead hospital's office) returns it with a reason.
    log_in(page, base, "yn_gt1")
    page.goto(f"{base}/filings/review/")
    row = page.locator("#review-queue tr", has_text="都城镇卫生院").filter(has_text=str(draft["period"])).first
    row.get_by_role("link", name="审核").click()
    page.fill("#review-reason", "出院者占用总床日数偏高，请与病案首页核对")
    page.screenshot(path=str(shots / "filing_review.png"), full_page=True)
    page.get_by_role("button", name="退回").click()
    assert "已退回" in body_text(page)
    log_out(page, base)

    # 3. The statistician sees the reason, fixes the figure and resubmits.
    log_in(page, base, "yn_dc")
    page.goto(f"{base}/filings/")
    text = body_text(page)
    assert "出院者占用总床日数偏高，请与病案首页核对" in text
    page.screenshot(path=str(shots / "filing_returned.png"), full_page=True)
    page.locator("#my-filings tr", has_text="出院者占用总床日数偏高").get_by_role("link", name="继续填报").click()
    assert "出院者占用总床日数偏高，请与病案首页核对" in body_text(page)
    page.fill("#row-DISCHARGE_BED_DAYS input", "960")
    text = submit_explaining_warnings(page)
    assert "已提交" in text
    history = page.get_by_role("link", name="修改记录").first
    history.click()
    text = body_text(page)
    assert "1,040" in text and "960" in text
    page.screenshot(path=str(shots / "filing_history.png"), full_page=True)

    # 4. The indicator page shows the value from the filed figures: 基层医疗卫生机构床位使用率 =
    #    实际占用总床日数 / 实际开放总床日数 × 100 = 1250 / 1800 × 100 = 69.44%.
    page.goto(f"{base}/indicators/?institution={draft['centre']}&period={draft['period']}")
    text = body_text(page)
    page.screenshot(path=str(shots / "filing_indicator.png"), full_page=True)
    assert "基层医疗卫生机构床位使用率" in text
    row = page.locator("tr", has_text="基层医疗卫生机构床位使用率").first.inner_text()
    expected = (Decimal(1250) / Decimal(1800) * 100).quantize(Decimal("0.01"))
    assert str(expected) in row and "1,250" in row.replace("1250", "1,250") and "1,800" in row.replace("1800", "1,800"), row
