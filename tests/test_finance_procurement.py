"""统一采购: the account (number masked), a month's grid (bad cells named, nothing saved), the year by
member and by month, the audit of amounts, the export, and who may do what."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from finance.models import AmountChange, ProcurementAccount, Purchase

D = Decimal
# The import takes the months of the last five years up to this month: its tests run on 20 November 2026
# (March to May 2026 recordable, 2030 not yet).
NOV_2026 = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_the_office_enters_a_month_and_sees_the_year(world, as_user):
    w = world
    office = as_user(w.alliance_admin)
    url = f"/finance/alliances/{w.alliance_a.pk}/procurement/?month=2026-03"
    page = office.get(url).content.decode()
    assert "县人民医院" in page and "药品" in page and "医用耗材" in page
    bad = office.post(url, {"month": "2026-03", f"p_{w.hospital.pk}_drugs": "100000", f"p_{w.centre.pk}_drugs": "abc"})
    assert bad.status_code == 400 and "平台镇卫生院 · 药品：“abc”不是金额" in bad.content.decode()
    assert not Purchase.objects.exists()
    good = office.post(url, {"month": "2026-03", f"p_{w.hospital.pk}_drugs": "100,000",
                             f"p_{w.centre.pk}_consumables": "5000.5", f"p_{w.tcm.pk}_drugs": "999"})
    assert good.status_code == 302
    assert {(p.institution_id, p.category): p.amount for p in Purchase.objects.all()} == {
        (w.hospital.pk, "drugs"): D("100000.00"), (w.centre.pk, "consumables"): D("5000.50")}  # 县中医院 is not a member
    office.post(f"/finance/alliances/{w.alliance_a.pk}/procurement/?month=2026-04",
                {"month": "2026-04", f"p_{w.hospital.pk}_drugs": "50000"})
    text = office.get("/finance/procurement/", {"alliance": w.alliance_a.pk, "year": 2026}).content.decode()
    assert "150,000.00" in text and "5,000.50" in text and "155,000.50" in text and "2026年4月" in text
    changes = AmountChange.objects.filter(record__startswith="第一医共体 2026年3月")
    assert {c.field for c in changes} == {"县人民医院 · 药品", "平台镇卫生院 · 医用耗材"} and changes[0].user == w.alliance_admin


def test_the_account_is_shown_masked(world, as_user):
    w = world
    office = as_user(w.alliance_admin)
    response = office.post(f"/finance/alliances/{w.alliance_a.pk}/procurement-account/",
                           {"name": "郁南县第一医共体统一采购账户", "bank": "郁南农商行", "number": "6228480012345678"})
    assert response.status_code == 302
    assert ProcurementAccount.objects.get().number == "6228480012345678"
    text = office.get("/finance/procurement/", {"alliance": w.alliance_a.pk}).content.decode()
    assert "************5678" in text and "6228480012345678" not in text.replace('value="6228480012345678"', "")
    bad = office.post(f"/finance/alliances/{w.alliance_a.pk}/procurement-account/",
                      {"name": "", "opened_on": "去年"}, follow=True)
    assert "账户：未保存" in bad.content.decode()


def test_who_may_enter_and_see(world, as_user):
    w = world
    url = f"/finance/alliances/{w.alliance_a.pk}/procurement/?month=2026-03"
    assert as_user(w.city).get(url).status_code == 403
    assert as_user(w.city).post(url, {"month": "2026-03"}).status_code == 403
    assert as_user(w.outsider).get(url).status_code == 404
    assert as_user(w.bureau).get(url).status_code == 200
    outsider = as_user(w.outsider).get("/finance/procurement/", {"alliance": w.alliance_a.pk}).content.decode()
    assert "第一医共体" not in outsider and "万源市医共体" in outsider
    assert as_user(w.outsider).get("/finance/procurement/export.xlsx", {"alliance": w.alliance_a.pk}).status_code == 404


def test_the_year_exports(world, as_user):
    w = world
    office = as_user(w.alliance_admin)
    office.post(f"/finance/alliances/{w.alliance_a.pk}/procurement/?month=2026-03",
                {"month": "2026-03", f"p_{w.hospital.pk}_drugs": "100000", f"p_{w.centre.pk}_equipment": "20000"})
    response = office.get("/finance/procurement/export.xlsx", {"alliance": w.alliance_a.pk, "year": 2026})
    book = load_workbook(BytesIO(response.content))
    assert book.sheetnames == ["按成员单位", "按月份", "采购明细"]
    ws = book["按成员单位"]
    assert ws["A1"].value == "第一医共体2026年统一采购汇总表" and ws["B3"].value == "采购金额（元）"
    rows = {r[0].value: [c.value for c in r] for r in ws.iter_rows(min_row=5) if r[0].value}
    assert rows["县人民医院"][1] == "100,000.00" and rows["县人民医院"][-1] == "100,000.00"
    assert rows["合计"][-1] == "120,000.00"
    months = {r[0].value: [c.value for c in r] for r in book["按月份"].iter_rows(min_row=5) if r[0].value}
    assert months["2026年3月"][-1] == "120,000.00"
    detail = [[c.value for c in r] for r in book["采购明细"].iter_rows(min_row=5) if r[0].value]
    assert book["采购明细"]["A3"].value == "月份" and book["采购明细"]["C4"].value == "药品"
    assert detail[0][:3] == ["2026-03", "县人民医院", "100,000.00"] and detail[1][1] == "平台镇卫生院"


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _register(rows, *, header=("月份", "成员单位", "药品", "医用耗材", "设备", "其他货物和服务")) -> SimpleUploadedFile:
    book = Workbook()
    ws = book.active
    ws.append(["第一医共体统一采购明细"])
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    buffer = BytesIO()
    book.save(buffer)
    return SimpleUploadedFile("采购明细.xlsx", buffer.getvalue(), content_type=XLSX)


@time_machine.travel(NOV_2026, tick=False)
def test_the_office_imports_its_register_with_a_preview(world, as_user):
    w = world
    office = as_user(w.alliance_admin)
    office.post(f"/finance/alliances/{w.alliance_a.pk}/procurement/?month=2026-03",
                {"month": "2026-03", f"p_{w.hospital.pk}_drugs": "1", f"p_{w.centre.pk}_other": "2"})
    office.post(f"/finance/alliances/{w.alliance_a.pk}/procurement/?month=2026-05",
                {"month": "2026-05", f"p_{w.hospital.pk}_drugs": "7"})
    url = f"/finance/alliances/{w.alliance_a.pk}/procurement/import/"
    # The export's own 采购明细 sheet round-trips (grouped header on two rows, amounts as "1,234.00").
    export = office.get("/finance/procurement/export.xlsx", {"alliance": w.alliance_a.pk, "year": 2026}).content
    book = load_workbook(BytesIO(export))
    book["采购明细"]["C5"] = 123456.78  # 2026-03 县人民医院 药品, typed as a number in Excel
    buffer = BytesIO()
    book.save(buffer)
    preview = office.post(url, {"file": SimpleUploadedFile("明细.xlsx", buffer.getvalue(), content_type=XLSX)})
    text = preview.content.decode()
    assert preview.status_code == 200 and "123,456.78" in text and "2026年3月" in text and "2026年5月" in text
    assert Purchase.objects.get(institution=w.hospital, month="2026-03").amount == D("1.00")  # not saved yet
    assert office.post(url + "confirm/").status_code == 302
    assert Purchase.objects.get(institution=w.hospital, month="2026-03").amount == D("123456.78")
    assert Purchase.objects.get(institution=w.centre, month="2026-03").amount == D("2.00")  # kept: in the file
    # A hand-made register: 2026年4月 is added, 2026-05 replaced (its row for 平台镇卫生院 only), 2026-03 untouched.
    register = _register([("2026年4月", "县人民医院", 1000, "2,000.50", None, None),
                          ("2026-05", "平台镇卫生院", None, None, 300000, None)])
    assert office.post(url, {"file": register}).status_code == 200
    assert office.post(url + "confirm/").status_code == 302
    assert {(p.institution_id, p.month, p.category): p.amount for p in Purchase.objects.all()} == {
        (w.hospital.pk, "2026-03", "drugs"): D("123456.78"), (w.centre.pk, "2026-03", "other"): D("2.00"),
        (w.hospital.pk, "2026-04", "drugs"): D("1000.00"), (w.hospital.pk, "2026-04", "consumables"): D("2000.50"),
        (w.centre.pk, "2026-05", "equipment"): D("300000.00")}
    changed = {c.field for c in AmountChange.objects.filter(record__startswith="第一医共体 2026年5月")}
    assert changed == {"县人民医院 · 药品", "平台镇卫生院 · 设备"}
    # A second click applies nothing and says the import was confirmed already (issue 16).
    again = office.post(url + "confirm/", follow=True)
    assert again.redirect_chain[-1][0].startswith(reverse("finance:procurement"))
    assert "这次导入已经确认过了。" in [str(m) for m in again.context["messages"]]
    assert Purchase.objects.count() == 5


@time_machine.travel(NOV_2026, tick=False)
def test_a_bad_register_is_named_cell_by_cell_and_nothing_is_saved(world, as_user):
    w = world
    office = as_user(w.alliance_admin)
    url = f"/finance/alliances/{w.alliance_a.pk}/procurement/import/"
    register = _register([("2026-04", "县人民医院", 1000, None, None, None),
                          ("2026-13", "县人民医院", 1, None, None, None),
                          ("2026-04", "县中医院", 1, None, None, None),
                          ("2026-04", "平台镇卫生院", "一千", -5, None, None),
                          ("2026-04", "县人民医院", 2, None, None, None),
                          ("2030-01", "县人民医院", 2, None, None, None)])
    response = office.post(url, {"file": register})
    text = response.content.decode()
    assert response.status_code == 400
    for message in ("第4行A列：“2026-13”不是月份", "第5行B列：“县中医院”不是第一医共体2026年的成员单位",
                    "第6行C列（平台镇卫生院 · 药品）：“一千”不是金额", "第6行D列（平台镇卫生院 · 医用耗材）：“-5”不是金额",
                    "第7行：2026年4月 县人民医院 已在第3行", "第8行A列：2030年1月不是可录入的月份"):
        assert message in text, message
    assert office.post(url + "confirm/").status_code == 302 and not Purchase.objects.exists()
    header = office.post(url, {"file": _register([("2026-04", "县人民医院", 1)], header=("月份", "成员单位", "燃油"))})
    assert "第2行C列：“燃油”不是采购类别" in header.content.decode() and header.status_code == 400
    other = office.post(url, {"file": SimpleUploadedFile("x.xlsx", b"not a workbook", content_type=XLSX)})
    assert other.status_code == 400 and "不是 .xlsx 工作簿" in other.content.decode()
    assert office.post(url, {}).status_code == 400
    assert not Purchase.objects.exists()


def test_who_may_import(world, as_user):
    w = world
    url = f"/finance/alliances/{w.alliance_a.pk}/procurement/import/"
    assert as_user(w.outsider).get(url).status_code == 404
    assert as_user(w.outsider).post(url + "confirm/").status_code == 404
    assert as_user(w.city).get(url).status_code == 403
    assert as_user(w.bureau).get(url).status_code == 200
