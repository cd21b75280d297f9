"""The task ledger as its people use it, in headless Chromium: the bureau imports the seed 000
ledger and sees the fan-out to the three alliances; the alliance office (the lead hospital's
office) reports progress with evidence; the bureau returns the report with a reason and the office
sees it; the supervisor finds the item on the dashboard. Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from tests.test_browser import artifacts_dir, body_text, browser, log_in, log_out, page  # noqa: F401

pytestmark = pytest.mark.browser

SEED_000 = Path(__file__).resolve().parent.parent / "tasks" / "seed_ledgers" / "ledger_000_key_tasks_2021.xlsx"


@pytest.fixture
def demo_without_ledgers(transactional_db):
    """The demo organisation and logins, committed for the live server, without task ledgers: the
    test imports one itself."""
    call_command("load_demo", quiet=True, without_ledgers=True)


def test_import_fan_out_report_return_and_dashboard(live_server, demo_without_ledgers, page, tmp_path):  # noqa: F811
    shots = artifacts_dir()
    base = live_server.url

    # 1. Bureau staff of 郁南县 import the seed 000 ledger: the preview shows the fan-out.
    log_in(page, base, "yn_staff")
    page.goto(f"{base}/tasks/")
    page.get_by_role("link", name="导入台账").first.click()
    page.set_input_files('input[name="file"]', str(SEED_000))
    page.get_by_role("button", name="上传并预览").click()
    text = body_text(page)
    assert "导入预览" in text and "县域医共体建设2021年重点任务清单" in text
    for alliance in ("第一医共体", "第二医共体", "第三医共体"):
        assert alliance in text, f"the preview does not fan 各医共体 out to {alliance}"
    page.screenshot(path=str(shots / "tasks_import_preview.png"), full_page=True)
    page.get_by_role("button", name="确认导入").click()
    text = body_text(page)
    assert "台账已导入" in text and "1.1" in text and "13.3" in text
    page.screenshot(path=str(shots / "tasks_ledger.png"), full_page=True)
    log_out(page, base)

    # 2. The first alliance's office (the lead hospital's office) reports item 2.1 with evidence.
    evidence = tmp_path / "人才培训佐证材料.pdf"
    evidence.write_bytes(b"%PDF-1.4\n% training records\n")
    log_in(page, base, "yn_gt1")
    page.goto(f"{base}/tasks/mine/")
    row = page.locator("tr", has_text="提升医共体管理队伍职业化").first
    row.get_by_role("link", name="填报").click()
    page.fill('input[name="percent"]', "100")
    page.fill('textarea[name="text"]', "已开展五大管理中心人员能力素质提升培训3期，培训120人次。")
    page.set_input_files('input[name="files"]', str(evidence))
    page.check('input[name="marks_complete"]')
    page.screenshot(path=str(shots / "tasks_report_form.png"), full_page=True)
    page.get_by_role("button", name="提交报告").click()
    text = body_text(page)
    assert "进展报告已提交" in text and "人才培训佐证材料.pdf" in text
    log_out(page, base)

    # 3. The bureau returns the report with a reason.
    log_in(page, base, "yn_staff")
    page.goto(f"{base}/tasks/review/")
    page.fill('input[name="reason"]', "请补充培训签到表和课件")
    page.get_by_role("button", name="退回").first.click()
    assert "已退回" in body_text(page) or "退回" in body_text(page)
    log_out(page, base)

    # 4. The office sees the reason on its list.
    log_in(page, base, "yn_gt1")
    page.goto(f"{base}/tasks/mine/")
    text = body_text(page)
    assert "请补充培训签到表和课件" in text
    page.screenshot(path=str(shots / "tasks_my_tasks_returned.png"), full_page=True)
    log_out(page, base)

    # 5. The supervisor finds the item on the dashboard (2021 deadlines are long past: red).
    log_in(page, base, "yn_supervisor")
    page.goto(f"{base}/tasks/dashboard/")
    text = body_text(page)
    assert "督办看板" in text and "第一医共体" in text
    page.goto(f"{base}/tasks/assignments/?q=提升医共体管理队伍职业化")
    text = body_text(page)
    assert "2.1" in text and "第一医共体" in text
    page.goto(f"{base}/tasks/dashboard/")
    page.wait_for_selector("#trend-chart canvas, #trend-chart svg", timeout=10_000)
    page.screenshot(path=str(shots / "tasks_dashboard.png"), full_page=True)
