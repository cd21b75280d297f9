"""统一采购: the account (number masked), a month's grid (bad cells named, nothing saved), the year by
member and by month, the audit of amounts, the export, and who may do what."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

from openpyxl import load_workbook

from finance.models import AmountChange, ProcurementAccount, Purchase

D = Decimal


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
    assert book.sheetnames == ["按成员单位", "按月份"]
    ws = book["按成员单位"]
    assert ws["A1"].value == "第一医共体2026年统一采购汇总表" and ws["B3"].value == "采购金额（元）"
    rows = {r[0].value: [c.value for c in r] for r in ws.iter_rows(min_row=5) if r[0].value}
    assert rows["县人民医院"][1] == "100,000.00" and rows["县人民医院"][-1] == "100,000.00"
    assert rows["合计"][-1] == "120,000.00"
    months = {r[0].value: [c.value for c in r] for r in book["按月份"].iter_rows(min_row=5) if r[0].value}
    assert months["2026年3月"][-1] == "120,000.00"
