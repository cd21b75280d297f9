"""Budgets by line: drafting, entering the grid (bad cells named by member and line, nothing
saved), the difference between the alliance's total and the sum of its members' sub-budgets shown,
the bureau's approval, an adjusted version copied from the approved one, the audit of each changed
amount, the .xlsx export, who may do what, and constant queries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from finance.models import AmountChange, Budget, BudgetAmount
from tests.factories import InstitutionFactory, MembershipFactory

D = Decimal


@pytest.fixture
def drafted(world, as_user):
    client = as_user(world.bureau)
    response = client.post(f"/finance/alliances/{world.alliance_a.pk}/budgets/new/", {"year": 2026})
    world.budget = Budget.objects.get(alliance=world.alliance_a, year=2026)
    assert response.status_code == 302 and response.url == f"/finance/budgets/{world.budget.pk}/"
    world.client = client
    return world


def grid_post(w, **cells) -> dict:
    """Every cell of the grid, blank unless given as LINE_column=amount (column: total or a pk)."""
    from finance.budgets import LINES

    columns = ["total", w.hospital.pk, w.centre.pk, w.centre2.pk]
    data = {f"a_{line.code}_{column}": "" for line in LINES for column in columns}
    for key, value in cells.items():
        data[f"a_{key}"] = value
    return data


def test_the_bureau_drafts_and_fills_the_grid_and_the_difference_is_shown(drafted):
    w = drafted
    assert w.budget.kind == Budget.Kind.ORIGINAL and w.budget.state == Budget.State.DRAFT and w.budget.number == 1
    page = w.client.get(f"/finance/budgets/{w.budget.pk}/").content.decode()
    assert "县人民医院" in page and "平台镇卫生院" in page and "桂圩镇卫生院" in page and "其中：药品收入" in page
    data = grid_post(w, **{"MED_total": "1,000,000", f"MED_{w.hospital.pk}": "600000", f"MED_{w.centre.pk}": "300000",
                           f"MED_{w.centre2.pk}": "50000.5", "PERSONNEL_total": "400000",
                           f"DRUG_{w.hospital.pk}": "200000"})
    assert w.client.post(f"/finance/budgets/{w.budget.pk}/", data).status_code == 302
    amounts = {(a.line, a.institution_id): a.amount for a in BudgetAmount.objects.filter(budget=w.budget)}
    assert amounts[("MED", None)] == D("1000000.00") and amounts[("MED", w.centre2.pk)] == D("50000.50")
    assert len(amounts) == 6
    page = w.client.get(f"/finance/budgets/{w.budget.pk}/").content.decode()
    assert "950,000.50" in page and "49,999.50" in page  # the members' sum and the difference
    changes = AmountChange.objects.filter(record="第一医共体 2026年预算第1版")
    assert {c.field for c in changes} >= {"合计 · 医疗收入", "县人民医院 · 医疗收入", "桂圩镇卫生院 · 医疗收入"}
    assert all(c.user == w.bureau and c.old == "" for c in changes) and len(changes) == 6


def test_bad_cells_are_named_and_nothing_is_saved(drafted):
    w = drafted
    data = grid_post(w, **{"MED_total": "1000", f"DRUG_{w.centre.pk}": "abc", f"LAB_{w.hospital.pk}": "-5",
                           "FISCAL_total": "1.234"})
    response = w.client.post(f"/finance/budgets/{w.budget.pk}/", data)
    text = response.content.decode()
    assert response.status_code == 400
    assert "平台镇卫生院 · 其中：药品收入：“abc”不是金额" in text
    assert "县人民医院 · 其中：化验收入：“-5”不是金额" in text and "合计 · 财政补助收入：“1.234”不是金额" in text
    assert 'value="abc"' in text and 'value="1000"' in text  # what was typed is kept for correction
    assert not BudgetAmount.objects.exists() and not AmountChange.objects.exists()
    tampered = grid_post(w, **{"MED_total": "1"})
    tampered[f"a_MED_{w.tcm.pk}"] = "5"  # 县中医院 is not a member of 第一医共体: ignored
    assert w.client.post(f"/finance/budgets/{w.budget.pk}/", tampered).status_code == 302
    assert not BudgetAmount.objects.filter(institution=w.tcm).exists()


def test_approval_locks_the_version_and_an_adjusted_one_starts_from_it(drafted, as_user):
    w = drafted
    w.client.post(f"/finance/budgets/{w.budget.pk}/", grid_post(w, MED_total="1000000", PERSONNEL_total="400000"))
    assert as_user(w.alliance_admin).post(f"/finance/budgets/{w.budget.pk}/approve/").status_code == 403
    assert w.client.post(f"/finance/budgets/{w.budget.pk}/approve/").status_code == 302
    w.budget.refresh_from_db()
    assert w.budget.state == Budget.State.APPROVED and w.budget.approved_by == w.bureau
    assert w.client.post(f"/finance/budgets/{w.budget.pk}/", grid_post(w, MED_total="5")).status_code == 403
    office = as_user(w.alliance_admin)
    refused = office.post(f"/finance/alliances/{w.alliance_a.pk}/budgets/new/", {"year": 2026, "reason": " "},
                          follow=True)
    assert "调整已批准的预算须说明调整原因" in refused.content.decode()
    assert Budget.objects.filter(alliance=w.alliance_a, year=2026).count() == 1
    response = office.post(f"/finance/alliances/{w.alliance_a.pk}/budgets/new/",
                           {"year": 2026, "reason": "新增设备购置项目"})
    adjusted = Budget.objects.get(alliance=w.alliance_a, year=2026, number=2)
    assert adjusted.note == "新增设备购置项目"
    assert "调整原因：</span>新增设备购置项目" in office.get(response.url).content.decode()
    assert response.url == f"/finance/budgets/{adjusted.pk}/" and adjusted.kind == Budget.Kind.ADJUSTED
    assert {a.line: a.amount for a in adjusted.amounts.all()} == {"MED": D("1000000.00"), "PERSONNEL": D("400000.00")}
    assert office.post(f"/finance/budgets/{adjusted.pk}/", grid_post(w, MED_total="1100000",
                                                                      PERSONNEL_total="400000")).status_code == 302
    assert w.budget.amounts.get(line="MED").amount == D("1000000.00")  # the approved version is kept
    change = AmountChange.objects.get(record="第一医共体 2026年预算第2版")
    assert (change.field, change.old, change.new, change.user) == ("合计 · 医疗收入", "1,000,000.00", "1,100,000.00",
                                                                   w.alliance_admin)
    # Asking again while a draft is open returns that draft.
    office.post(f"/finance/alliances/{w.alliance_a.pk}/budgets/new/", {"year": 2026})
    assert Budget.objects.filter(alliance=w.alliance_a, year=2026).count() == 2


def test_the_office_submits_the_bureau_returns_then_approves(drafted, as_user):
    w = drafted
    office = as_user(w.alliance_admin)
    url = f"/finance/budgets/{w.budget.pk}/"
    office.post(url, grid_post(w, MED_total="1000000"))
    assert "提交审批" in office.get(url).content.decode()
    assert office.post(url + "submit/").status_code == 302
    w.budget.refresh_from_db()
    assert w.budget.state == Budget.State.SUBMITTED and w.budget.submitted_by == w.alliance_admin
    assert office.post(url, grid_post(w, MED_total="5")).status_code == 403  # locked while submitted
    assert "只有草稿可以提交" in office.post(url + "submit/", follow=True).content.decode()
    assert office.post(url + "return/", {"reason": "x"}).status_code == 403  # the office cannot return
    bureau_page = w.client.get(url).content.decode()
    assert "已报审" in bureau_page and "退回医共体办公室" in bureau_page and "批准预算" in bureau_page
    empty = w.client.post(url + "return/", {"reason": "  "}, follow=True).content.decode()
    assert "未退回：请说明退回原因" in empty
    long = w.client.post(url + "return/", {"reason": "长" * 501}, follow=True).content.decode()
    assert "原因有501个字符，最多500个" in long
    w.budget.refresh_from_db()
    assert w.budget.state == Budget.State.SUBMITTED
    assert w.client.post(url + "return/", {"reason": "医疗收入增幅过高，请核实"}).status_code == 302
    w.budget.refresh_from_db()
    assert w.budget.state == Budget.State.DRAFT and w.budget.return_reason == "医疗收入增幅过高，请核实"
    assert "医疗收入增幅过高，请核实" in office.get(url).content.decode()
    office.post(url, grid_post(w, MED_total="900000"))
    office.post(url + "submit/")
    assert w.client.post(url + "approve/").status_code == 302
    w.budget.refresh_from_db()
    assert w.budget.state == Budget.State.APPROVED and w.budget.return_reason == ""
    assert "只能退回已报审的预算" in w.client.post(url + "return/", {"reason": "晚了"}, follow=True).content.decode()
    assert as_user(w.outsider).post(url + "submit/").status_code == 404
    assert as_user(w.outsider).post(url + "return/", {"reason": "x"}).status_code == 404


def test_who_sees_and_changes(drafted, as_user):
    w = drafted
    assert as_user(w.city).get(f"/finance/budgets/{w.budget.pk}/").status_code == 200
    assert as_user(w.city).post(f"/finance/budgets/{w.budget.pk}/", grid_post(w, MED_total="1")).status_code == 403
    assert as_user(w.city).post(f"/finance/alliances/{w.alliance_a.pk}/budgets/new/", {"year": 2026}).status_code == 403
    assert as_user(w.outsider).get(f"/finance/budgets/{w.budget.pk}/").status_code == 404
    assert as_user(w.filer).get(f"/finance/budgets/{w.budget.pk}/").status_code == 404
    listing = as_user(w.alliance_admin).get("/finance/budgets/", {"year": 2026}).content.decode()
    assert "第一医共体" in listing and "第三医共体" not in listing and "v1" in listing
    bureau_list = w.client.get("/finance/budgets/", {"year": 2026}).content.decode()
    assert "第三医共体" in bureau_list and "暂无预算" in bureau_list


def test_the_budget_exports_in_the_official_layout(drafted):
    w = drafted
    w.client.post(f"/finance/budgets/{w.budget.pk}/", grid_post(w, **{
        "MED_total": "1000000", f"MED_{w.hospital.pk}": "600000", "PERSONNEL_total": "400000"}))
    response = w.client.get(f"/finance/budgets/{w.budget.pk}/export.xlsx")
    ws = load_workbook(BytesIO(response.content)).active
    assert ws["A1"].value == "第一医共体2026年预算表（原始预算第1版，草稿）"
    assert ws["C3"].value == "成员单位预算（元）" and ws["C4"].value == "县人民医院"
    rows = {r[0].value: [c.value for c in r] for r in ws.iter_rows(min_row=5) if r[0].value}
    assert rows["医疗收入"][1] == "1,000,000.00" and rows["医疗收入"][2] == "600,000.00"
    assert rows["医疗收入"][5:7] == ["600,000.00", "400,000.00"]
    assert rows["收入合计"][1] == "1,000,000.00" and rows["支出合计"][1] == "400,000.00"


def test_queries_do_not_grow_with_members(drafted):
    w = drafted

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert w.client.get(f"/finance/budgets/{w.budget.pk}/").status_code == 200
        return len(captured.captured_queries)

    before = count()
    for number in range(3):
        MembershipFactory(institution=InstitutionFactory(county=w.yn, name=f"新卫生院{number}",
                                                         kind="township_centre"),
                          alliance=w.alliance_a, valid_from=date(2020, 1, 1))
    assert count() == before
    w.client.post(f"/finance/budgets/{w.budget.pk}/approve/")  # with the execution table
    approved = count()
    MembershipFactory(institution=InstitutionFactory(county=w.yn, name="又一卫生院", kind="township_centre"),
                      alliance=w.alliance_a, valid_from=date(2020, 1, 1))
    assert count() == approved


def _template(w) -> bytes:
    return w.client.get(f"/finance/budgets/{w.budget.pk}/export.xlsx").content


def _filled(w, edits: dict[str, object]) -> bytes:
    """The budget's export with cells set by (row label, column title) → value."""
    ws_book = load_workbook(BytesIO(_template(w)))
    ws = ws_book.active
    titles = {ws.cell(row=4, column=c).value: c for c in range(1, ws.max_column + 1)}
    titles["医共体合计（元）"] = 2
    rows = {ws.cell(row=r, column=1).value: r for r in range(5, ws.max_row + 1)}
    for key, value in edits.items():
        label, title = key.split("|")
        ws.cell(row=rows[label], column=titles[title], value=value)
    buffer = BytesIO()
    ws_book.save(buffer)
    return buffer.getvalue()


def _upload(content: bytes, name="预算.xlsx"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def test_import_previews_then_saves_on_confirmation(drafted):
    w = drafted
    content = _filled(w, {"医疗收入|医共体合计（元）": 1000000, "医疗收入|县人民医院": 600000.5,
                          "其中：药品收入|县人民医院": "200,000", "人员经费|医共体合计（元）": 400000})
    response = w.client.post(f"/finance/budgets/{w.budget.pk}/import/", {"file": _upload(content)})
    text = response.content.decode()
    assert response.status_code == 200 and "4个金额" in text and "600,000.50" in text and "399,999.50" in text
    assert not BudgetAmount.objects.exists()  # the preview saves nothing
    confirm = w.client.post(f"/finance/budgets/{w.budget.pk}/import/confirm/")
    assert confirm.status_code == 302
    amounts = {(a.line, a.institution_id): a.amount for a in BudgetAmount.objects.all()}
    assert amounts == {("MED", None): D("1000000.00"), ("MED", w.hospital.pk): D("600000.50"),
                       ("DRUG", w.hospital.pk): D("200000.00"), ("PERSONNEL", None): D("400000.00")}
    again = w.client.post(f"/finance/budgets/{w.budget.pk}/import/confirm/", follow=True)
    assert "这次导入已经确认过了。" in [str(m) for m in again.context["messages"]]
    assert again.redirect_chain[-1][0] == f"/finance/budgets/{w.budget.pk}/"


def test_import_bad_cells_rows_and_columns_are_named(drafted):
    w = drafted
    content = _filled(w, {"医疗收入|县人民医院": "六十万", "人员经费|医共体合计（元）": -1})
    ws_book = load_workbook(BytesIO(content))
    ws = ws_book.active
    ws.cell(row=4, column=3, value="县中医院")  # 县中医院 is 第三医共体's
    ws.cell(row=ws.max_row + 1, column=1, value="差旅费")
    buffer = BytesIO()
    ws_book.save(buffer)
    response = w.client.post(f"/finance/budgets/{w.budget.pk}/import/", {"file": _upload(buffer.getvalue())})
    text = response.content.decode()
    assert response.status_code == 400
    assert "第4行第C列：“县中医院”不是第一医共体2026年12月31日的成员单位。" in text
    assert "（合计 · 人员经费）：“-1”不是金额" in text
    assert "“差旅费”不是预算项目" in text
    not_excel = w.client.post(f"/finance/budgets/{w.budget.pk}/import/", {"file": _upload(b"a,b\n1,2", "预算.xlsx")})
    assert not_excel.status_code == 400 and "不是 .xlsx 工作簿" in not_excel.content.decode()
    assert w.client.post(f"/finance/budgets/{w.budget.pk}/import/", {}).status_code == 400
    assert not BudgetAmount.objects.exists()


def test_import_of_an_approved_budget_or_by_a_viewer_is_refused(drafted, as_user):
    w = drafted
    assert as_user(w.city).get(f"/finance/budgets/{w.budget.pk}/import/").status_code == 403
    assert as_user(w.outsider).get(f"/finance/budgets/{w.budget.pk}/import/").status_code == 404
    w.client.post(f"/finance/budgets/{w.budget.pk}/approve/")
    assert w.client.get(f"/finance/budgets/{w.budget.pk}/import/").status_code == 403


def test_execution_of_an_approved_budget_against_filed_figures(drafted, as_user):
    """Filed January–June 2026 (6 months: 50 % of the year). 医疗收入: budget 1,200,000, filed 600,000
    (县人民医院) + 180,000 (平台镇卫生院) = 780,000 → 65 %, 15 points ahead: flagged. 人员经费 300,000 of
    480,000 → 62.5 %: flagged. 县人民医院's 医疗服务收入 = 600,000 − 180,000 (drugs) = 420,000; its 其他收入 =
    900,000 total − 600,000 − 120,000 fiscal = 180,000. 设备购置 comes from the 财务支出月报: 县人民医院 files
    2,000 a month and 30,000 in May (40,000), 平台镇卫生院 nothing → 40,000 of 50,000 = 80 %, 30 points
    ahead: flagged. 信息化建设 has a budget and no filing: no actual ("未填报")."""
    from core.periods import Period
    from indicators.catalog import install_catalog, install_forms
    from tests.test_indicators_engine import file_values

    w = drafted
    install_catalog()
    forms = {f.code: f for f in install_forms(w.yn)}
    form, expenses = forms["MONTHLY_OPS"], forms["FINANCE_EXPENSE"]
    for month in range(1, 7):
        file_values(form, w.hospital, Period.month(2026, month), {
            "MED_REVENUE": 100000, "DRUG_REVENUE": 30000, "TOTAL_REVENUE": 150000, "FISCAL_REVENUE": 20000,
            "PERSONNEL_EXPENSE": 50000})
        file_values(expenses, w.hospital, Period.month(2026, month), {
            "EXP_EQUIPMENT": 30000 if month == 5 else 2000, "EXP_DRUGS_MATERIALS": 25000})
        file_values(form, w.centre, Period.month(2026, month), {"MED_REVENUE": 30000})
    w.client.post(f"/finance/budgets/{w.budget.pk}/", grid_post(w, **{
        "MED_total": "1200000", f"MED_{w.hospital.pk}": "900000", "PERSONNEL_total": "480000",
        "EQUIPMENT_total": "50000", "IT_total": "10000", f"MED_{w.centre.pk}": "300000"}))
    draft_page = w.client.get(f"/finance/budgets/{w.budget.pk}/").content.decode()
    assert 'id="execution"' not in draft_page  # a draft has no execution yet
    w.client.post(f"/finance/budgets/{w.budget.pk}/approve/")

    from finance.budgets import execution

    result = execution(w.budget)
    assert result.months == 6 and result.elapsed == D("50.00")
    rows = {row["line"].code: row for row in result.rows}
    med = rows["MED"]
    assert med["cells"][0].actual == D("780000.00") and med["cells"][0].rate == D("65.00") and med["ahead"]
    assert med["cells"][1].actual == D("600000.00") and med["cells"][1].rate == D("66.67")
    assert rows["PERSONNEL"]["cells"][0].rate == D("62.50") and rows["PERSONNEL"]["warning"]
    assert rows["SERVICE"]["cells"][1].actual == D("420000.00")
    assert rows["OTHER_INCOME"]["cells"][1].actual == D("180000.00")
    equipment = rows["EQUIPMENT"]
    assert equipment["cells"][0].actual == D("40000.00") and equipment["cells"][0].rate == D("80.00")
    assert equipment["warning"] and equipment["ahead"] and equipment["cells"][2].actual is None  # the centre
    assert rows["DRUGS_MATERIALS"]["cells"][1].actual == D("150000.00")
    assert rows["IT"]["cells"][0].actual is None and not rows["IT"]["warning"]
    page = w.client.get(f"/finance/budgets/{w.budget.pk}/").content.decode()
    assert 'id="execution"' in page and "65.00%" in page and "快于时间进度" in page and "未填报" in page

    # The member's own books: 平台镇卫生院's filer sees its sub-budget (180,000 of 300,000 = 60 %) and its
    # purchases, nothing of 县人民医院's; users without an institution of their own have no such page.
    from finance.models import Purchase

    Purchase.objects.create(alliance=w.alliance_a, institution=w.centre, month="2026-03", category="drugs",
                            amount=D("12345.60"))
    filer = as_user(w.filer)
    books = filer.get("/finance/our-books/", {"year": 2026})
    text = books.content.decode()
    assert books.status_code == 200 and "本单位账目" in text and "平台镇卫生院" in text
    assert "300,000.00" in text and "180,000.00" in text and "60.00%" in text and "12,345.60" in text
    assert "县人民医院" not in text and "600,000.00" not in text
    assert as_user(w.outsider).get("/finance/our-books/").status_code == 404
    assert as_user(w.bureau).get("/finance/our-books/").status_code == 404
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as first:
        filer.get("/finance/our-books/", {"year": 2026})
    Purchase.objects.create(alliance=w.alliance_a, institution=w.centre, month="2026-04", category="other",
                            amount=D("1"))
    with CaptureQueriesContext(connection) as second:
        filer.get("/finance/our-books/", {"year": 2026})
    assert len(first) == len(second)
