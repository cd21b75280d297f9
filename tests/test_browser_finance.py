"""A budget as its people handle it, in headless Chromium: the alliance office of 郁南县第一医共体 opens an
adjusted version of its approved budget, downloads it, fills 医疗收入 in Excel and imports it (preview,
then confirm); the bureau approves it; the statistician of 都城镇卫生院 (a member) files last month;
the budget page shows each line's execution rate and flags 医疗收入 running ahead of the year.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from tests.test_browser import (  # noqa: F401
    artifacts_dir,
    body_text,
    browser,
    clock_not_before,
    log_in,
    log_out,
    page,
)
from tests.test_browser_filing import FIGURES, draft, fill_grid, submit_explaining_warnings  # noqa: F401

pytestmark = pytest.mark.browser
MED_BUDGET = 1000000  # far below what the members file in a year: running ahead


@pytest.fixture(autouse=True)
def _last_month_in_this_year():
    """The budget is this year's and the member files last month, which in January is last year's
    (counted in last year's execution): in January the test runs from 1 February at 10:00."""
    from django.utils import timezone

    year = timezone.localdate().year
    with clock_not_before(datetime(year, 2, 1, 10, tzinfo=ZoneInfo("Asia/Shanghai"))):
        yield


def _with_medical_budget(content: bytes) -> bytes:
    book = load_workbook(BytesIO(content))
    ws = book.active
    row = next(r for r in range(5, ws.max_row + 1) if ws.cell(row=r, column=1).value == "医疗收入")
    ws.cell(row=row, column=2, value=MED_BUDGET)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_office_imports_a_budget_a_member_files_and_execution_is_flagged(live_server, draft, page, tmp_path):  # noqa: F811
    from finance.models import Budget

    shots = artifacts_dir()
    base = live_server.url

    # 1. The alliance office opens an adjusted version and imports the budget from Excel.
    log_in(page, base, "yn_gt1")
    page.goto(f"{base}/finance/budgets/")
    row = page.locator("#budget-list tr", has_text="郁南县第一医共体")
    row.get_by_label("调整原因").fill("年中调整医疗收入预算")
    row.get_by_role("button", name="调整预算").click()
    assert "调整预算" in body_text(page) and "草稿" in body_text(page)
    page.get_by_role("link", name="导入 .xlsx").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="下载模板").click()
    filled = tmp_path / "预算.xlsx"
    filled.write_bytes(_with_medical_budget(download.value.path().read_bytes()))
    page.set_input_files("#id_file", str(filled))
    page.get_by_role("button", name="检查并预览").click()
    text = body_text(page)
    assert "没有错误" in text and "1,000,000.00" in text, text[:1500]
    page.screenshot(path=str(shots / "finance_budget_import_preview.png"), full_page=True)
    page.get_by_role("button", name="确认并保存").click()
    assert "已导入" in body_text(page)
    budget = Budget.objects.get(alliance__name="郁南县第一医共体", state=Budget.State.DRAFT)
    assert budget.kind == Budget.Kind.ADJUSTED and budget.amounts.get(line="MED", institution=None).amount == MED_BUDGET
    page.get_by_role("button", name="提交审批").click()
    assert "已提交县卫生健康局审批" in body_text(page) and "已报审" in body_text(page)
    log_out(page, base)

    # 2. The bureau approves it.
    log_in(page, base, "yn_admin")
    page.goto(f"{base}/finance/budgets/{budget.pk}/")
    page.get_by_role("button", name="批准预算").click()
    assert "预算已批准。" in body_text(page)
    log_out(page, base)

    # 3. A member files last month.
    log_in(page, base, "yn_dc")
    page.goto(f"{base}/filings/{draft['filing']}/")
    fill_grid(page, draft["codes"], FIGURES)
    assert "已提交" in submit_explaining_warnings(page)
    log_out(page, base)

    # 4. The office sees the execution: 医疗收入 far ahead of the year.
    log_in(page, base, "yn_gt1")
    page.goto(f"{base}/finance/budgets/{budget.pk}/")
    text = body_text(page)
    assert "执行情况" in text
    row = page.locator("#execution-table tr[data-line='MED']").inner_text()
    assert "快于时间进度" in row and "%" in row, row
    page.screenshot(path=str(shots / "finance_budget_execution.png"), full_page=True)
