"""Staffing as its people handle it, in headless Chromium: the HR officer of 郁南县人民医院 downloads the
roster template, fills two doctors in Excel and imports them (preview with masked identity numbers,
then confirm); opens one of them and seconds him to a township centre for the rest of the year; the
talent targets page then counts him in primary care (基层卫生人员数 and the doctors' shares change).
Screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from tests.test_browser import artifacts_dir, body_text, browser, demo, log_in, page  # noqa: F401

pytestmark = pytest.mark.browser
def _id(seventeen: str) -> str:
    from staffing.identity import check_digit

    return seventeen + check_digit(seventeen)


DOCTORS = [("钟向阳", _id("44532219860412357"), "主治医师", "本科"),
           ("区慧敏", _id("44532219900815246"), "医师", "大专")]


def _filled(template: bytes) -> bytes:
    """The template with the two doctors under its header (the example row left as it is)."""
    book = load_workbook(BytesIO(template))
    ws = book.worksheets[0]
    header_row = next(r for r in range(1, 11) if ws.cell(row=r, column=1).value == "姓名")
    titles = {ws.cell(row=header_row, column=c).value: c for c in range(1, ws.max_column + 1)}
    titles = {str(k).rstrip("*").strip(): v for k, v in titles.items() if k}
    row = ws.max_row + 1
    for name, number, title, education in DOCTORS:
        values = {"姓名": name, "身份证号": number, "工作单位": "郁南县人民医院", "人员类别": "在编", "专业类别": "医师",
                  "职称": title, "学历": education, "入职日期": "2015-07-01"}
        for column, value in values.items():
            ws.cell(row=row, column=titles[column], value=value)
        row += 1
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _metric(tab, code: str) -> str:
    return tab.locator(f'#targets-table tr[data-code="{code}"] .metric-value').inner_text().strip()


def test_hr_imports_a_roster_seconds_a_doctor_and_the_targets_change(live_server, demo, page, tmp_path):  # noqa: F811
    from staffing.models import Move, Staff

    shots = artifacts_dir()
    base = live_server.url
    log_in(page, base, "yn_rmyy_hr")
    page.goto(f"{base}/staffing/targets/")
    staff_before = int(_metric(page, "PRIMARY_STAFF"))
    mid_before = _metric(page, "DOC_MID")

    # 1. Import two doctors from the template filled in Excel.
    page.goto(f"{base}/staffing/roster/")
    page.get_by_role("link", name="导入 .xlsx").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="下载模板").click()
    filled = tmp_path / "花名册.xlsx"
    filled.write_bytes(_filled(download.value.path().read_bytes()))
    page.set_input_files("#id_file", str(filled))
    page.get_by_role("button", name="检查并预览").click()
    text = body_text(page)
    assert "无错误" in text and "新增2人" in text and "钟向阳" in text, text[:1500]
    assert DOCTORS[0][1] not in page.content() and DOCTORS[0][1][:4] + "**********" + DOCTORS[0][1][-4:] in text
    page.screenshot(path=str(shots / "staffing_import_preview.png"), full_page=True)
    page.get_by_role("button", name="确认并保存").click()
    doctor = Staff.objects.get(name="钟向阳")
    assert doctor.institution.name == "郁南县人民医院" and doctor.title == "intermediate"

    # 2. Second him to a township centre of the alliance, from today for seven months.
    page.goto(f"{base}/staffing/staff/{doctor.pk}/")
    start = timezone.localdate()
    page.locator("#move-form").get_by_label("类别").select_option("secondment")
    page.locator("#move-form").get_by_label("调入单位").select_option(label="郁南县都城镇卫生院")
    page.locator("#move-form").get_by_label("开始日期").fill(start.isoformat())
    page.locator("#move-form").get_by_label("结束日期（派驻）").fill((start + timedelta(days=213)).isoformat())
    page.locator("#move-form").get_by_role("button", name="登记").click()
    assert "人员流动已登记" in body_text(page)
    assert Move.objects.filter(staff=doctor, kind="secondment", to_institution__name="郁南县都城镇卫生院").exists()
    assert "派驻在郁南县都城镇卫生院" in body_text(page)
    page.screenshot(path=str(shots / "staffing_secondment.png"), full_page=True)

    # 3. The targets page counts him where he works now.
    page.goto(f"{base}/staffing/targets/")
    assert int(_metric(page, "PRIMARY_STAFF")) == staff_before + 1
    assert _metric(page, "DOC_MID") != mid_before  # one more 中级 doctor in primary care
    page.screenshot(path=str(shots / "staffing_targets.png"), full_page=True)
