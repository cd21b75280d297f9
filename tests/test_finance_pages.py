"""The 医保总额 page and the working-day calendar page: what each user sees, the bureau's entries
with bad input named and nothing saved, the warnings (a prepayment late, spending ahead of the
year), and query counts that do not grow with the alliances."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.periods import Period
from finance.models import AmountChange, CalendarDay, InsuranceBudget, Prepayment, SettlementRule
from indicators.catalog import install_catalog, install_forms
from tests.factories import AllianceFactory, InstitutionFactory, MembershipFactory
from tests.test_indicators_engine import file_values

NOV_2025 = datetime(2025, 11, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def money(world):
    """郁南县 2025: 第一医共体's budget 1,200,000 with Q1–Q3 prepaid in time and Q4 (due 21 Oct) not
    arrived; its members paid 990,000 over Jan–Sep filings (9 months): 82.5 % of the budget at 75 % of
    the year. 第三医共体 has no budget."""
    install_catalog()
    form = {f.code: f for f in install_forms(world.yn)}["MONTHLY_OPS"]
    for month in range(1, 10):
        file_values(form, world.hospital, Period.month(2025, month), {"INSURANCE_REVENUE": 80000})
        file_values(form, world.centre, Period.month(2025, month), {"INSURANCE_REVENUE": 30000})
    world.budget = InsuranceBudget.objects.create(alliance=world.alliance_a, year=2025, amount=Decimal("1200000"))
    for quarter, received in ((1, date(2025, 1, 10)), (2, date(2025, 4, 8)), (3, date(2025, 7, 14))):
        Prepayment.objects.create(budget=world.budget, quarter=quarter, amount=Decimal("300000"), received_on=received)
    SettlementRule.objects.create(county=world.yn, year=2025, surplus_retained=Decimal(80),
                                  bands=[["5", "70"], ["10", "50"]], warning_points=Decimal(5))
    return world


def page(client, **params):
    with time_machine.travel(NOV_2025, tick=False):
        return client.get("/finance/insurance/", {"year": 2025, **params})


def test_the_bureau_sees_each_alliance_with_prepayments_warnings_and_settlement(money, as_user):
    response = page(as_user(money.bureau))
    text = response.content.decode()
    assert response.status_code == 200
    assert "第一医共体" in text and "第三医共体" in text and "本年度未录入医保总额预算" in text
    assert "1,200,000" in text and "2025-10-21" in text and "未到账，已逾期" in text and "（9个工作日）" in text
    assert "1笔预拨款逾期" in text and "支出快于时间进度" in text
    assert "990,000" in text and "82.50%" in text and "75.00%" in text
    # Before the year's end the settlement is a projection: 210,000 surplus, 80 % kept = 168,000.
    assert "如果现在结算" in text and "210,000" in text and "168,000" in text
    assert "保存预算" in text and "设置规则" in text


def test_an_alliance_office_sees_its_alliance_only_and_cannot_record(money, as_user):
    client = as_user(money.alliance_admin)
    text = page(client).content.decode()
    assert "第一医共体" in text and "第三医共体" not in text and "保存预算" not in text
    with time_machine.travel(NOV_2025, tick=False):
        assert client.post(f"/finance/alliances/{money.alliance_a.pk}/insurance-budget/",
                           {"year": 2025, "amount": "1"}).status_code == 403
        assert client.post(f"/finance/insurance-budgets/{money.budget.pk}/prepayments/",
                           {"quarter": 4, "amount": "1"}).status_code == 403
    assert InsuranceBudget.objects.get().amount == Decimal("1200000")


def test_outsiders_and_institution_users(money, as_user):
    outsider = page(as_user(money.outsider), county=money.yn.pk).content.decode()
    assert "万源市" in outsider and "郁南县" not in outsider and "第一医共体" not in outsider
    assert page(as_user(money.filer)).status_code == 404  # an institution's user has no alliance books here
    assert "第一医共体" in page(as_user(money.city), county=money.yn.pk).content.decode()


def test_bad_input_is_named_and_nothing_saved(money, as_user):
    client = as_user(money.bureau)
    with time_machine.travel(NOV_2025, tick=False):
        bad = client.post(f"/finance/alliances/{money.alliance_b.pk}/insurance-budget/",
                          {"year": 2025, "amount": "十万"}, follow=True)
        assert "第三医共体，2025年：未保存——总额预算（元）：输入一个数字。" in bad.content.decode()
        assert not InsuranceBudget.objects.filter(alliance=money.alliance_b).exists()
        negative = client.post(f"/finance/insurance-budgets/{money.budget.pk}/prepayments/",
                               {"quarter": 4, "amount": "-5", "received_on": "2025-10-30"}, follow=True)
        assert "第一医共体，第4季度预拨款：未保存——金额（元）：" in negative.content.decode()
        wrong_year = client.post(f"/finance/insurance-budgets/{money.budget.pk}/prepayments/",
                                 {"quarter": 4, "amount": "300000", "received_on": "2023-10-30"}, follow=True)
        assert "到账日期2023-10-30不在2025年" in wrong_year.content.decode()
        bands = client.post(f"/finance/regions/{money.yn.pk}/settlement-rule/",
                            {"year": 2025, "surplus_retained": "80", "bands": "10:50, 5:70", "warning_points": "5"},
                            follow=True)
        assert "第2档" in bands.content.decode()
    assert not Prepayment.objects.filter(quarter=4).exists()
    assert SettlementRule.objects.get().bands == [["5", "70"], ["10", "50"]]


def test_the_bureau_records_a_budget_a_late_prepayment_and_the_rule(money, as_user):
    client = as_user(money.bureau)
    with time_machine.travel(NOV_2025, tick=False):
        client.post(f"/finance/alliances/{money.alliance_b.pk}/insurance-budget/", {"year": 2025, "amount": "800000.5"})
        client.post(f"/finance/insurance-budgets/{money.budget.pk}/prepayments/",
                    {"quarter": 4, "amount": "300000", "received_on": "2025-10-23"})
        client.post(f"/finance/regions/{money.yn.pk}/settlement-rule/",
                    {"year": 2025, "surplus_retained": "60", "bands": "3：80，8：40", "warning_points": "10"})
    assert InsuranceBudget.objects.get(alliance=money.alliance_b).amount == Decimal("800000.50")
    assert Prepayment.objects.get(quarter=4).received_on == date(2025, 10, 23)
    assert SettlementRule.objects.get().bands == [["3", "80"], ["8", "40"]]
    text = page(client).content.decode()
    assert "到账逾期（2个工作日）" in text and "支出快于时间进度" not in text  # 7.5 points ahead < 10
    assert "126,000" in text  # 60 % of the 210,000 surplus
    changes = {(c.record, c.field): (c.old, c.new, c.user) for c in AmountChange.objects.all()}
    assert changes[("第三医共体 2025年 总额预算", "总额预算（元）")] == ("", "800,000.50", money.bureau)
    assert changes[("第一医共体 2025年 第4季度预拨款", "到账日期")] == ("", "2025-10-23", money.bureau)
    assert changes[("2025年结算规则", "结余留用比例（%）")] == ("80.00", "60.00", money.bureau)
    assert len(changes) == 6  # budget amount; prepayment amount and date; the rule's three fields
    assert "本年修改记录" in text and "2025-10-23" in text
    with time_machine.travel(NOV_2025, tick=False):  # the same figures again: nothing to record
        client.post(f"/finance/alliances/{money.alliance_b.pk}/insurance-budget/", {"year": 2025, "amount": "800000.50"})
    assert AmountChange.objects.count() == 6


def test_the_calendar_page(money, as_user):
    client = as_user(money.bureau)
    text = client.get(f"/finance/regions/{money.yn.pk}/calendar/", {"year": 2025}).content.decode()
    assert "国庆节、中秋节" in text and "调休上班日" in text and "2025-10-21" in text
    response = client.post(f"/finance/regions/{money.yn.pk}/calendar/",
                           {"year": 2025, "day": "2025-10-20", "kind": "holiday", "name": "县内调整"})
    assert response.status_code == 302
    assert "2025-10-22" in client.get(f"/finance/regions/{money.yn.pk}/calendar/", {"year": 2025}).content.decode()
    again = client.post(f"/finance/regions/{money.yn.pk}/calendar/",
                        {"year": 2025, "day": "2025-10-20", "kind": "holiday", "name": "重复"})
    assert "2025-10-20已在本县日历中" in again.content.decode()
    bad = client.post(f"/finance/regions/{money.yn.pk}/calendar/", {"year": 2025, "day": "十月", "kind": "holiday"})
    assert bad.status_code == 200 and "输入一个有效的日期。" in bad.content.decode()
    national = CalendarDay.objects.get(county=None, day=date(2025, 10, 1))
    assert client.post(f"/finance/calendar-days/{national.pk}/delete/").status_code == 404
    local = CalendarDay.objects.get(county=money.yn)
    assert as_user(money.city).post(f"/finance/calendar-days/{local.pk}/delete/").status_code == 403
    assert client.post(f"/finance/calendar-days/{local.pk}/delete/").status_code == 302
    assert not CalendarDay.objects.filter(county=money.yn).exists()
    assert as_user(money.city).post(f"/finance/regions/{money.yn.pk}/calendar/",
                                    {"day": "2025-10-20", "kind": "holiday"}).status_code == 403


def test_query_counts_do_not_grow_with_alliances(money, as_user):
    client = as_user(money.bureau)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert page(client).status_code == 200
        return len(captured.captured_queries)

    before = count()
    for number in range(4):
        alliance = AllianceFactory(county=money.yn, name=f"第{number + 4}医共体")
        lead = InstitutionFactory(county=money.yn, name=f"新医院{number}", kind="county_general")
        MembershipFactory(institution=lead, alliance=alliance, role="lead", valid_from=date(2020, 1, 1))
        budget = InsuranceBudget.objects.create(alliance=alliance, year=2025, amount=Decimal("500000"))
        Prepayment.objects.create(budget=budget, quarter=1, amount=Decimal("1"), received_on=date(2025, 1, 9))
    assert count() == before


def test_the_county_fund_in_and_out_of_the_county(money, as_user):
    form = {f.code: f for f in install_forms(money.yn)}["COUNTY_INSURANCE"]
    file_values(form, None, Period.month(2025, 1), {"FUND_TOTAL": 5000000, "FUND_IN_COUNTY": 4000000})
    file_values(form, None, Period.month(2025, 2), {"FUND_TOTAL": 4000000, "FUND_IN_COUNTY": 3400000})
    text = page(as_user(money.bureau)).content.decode()
    assert "2025年1月" in text and "1,000,000.00" in text and "80.00%" in text and "85.00%" in text
    assert "9,000,000.00" in text and "7,400,000.00" in text and "1,600,000.00" in text and "82.22%" in text
    assert "参保人医保基金支出（县域内外）" in text
    assert "2025年1月" not in page(as_user(money.alliance_admin)).content.decode()  # the county's, not an alliance's


def test_the_settlement_table_exports_in_the_official_layout(money, as_user):
    from io import BytesIO

    from openpyxl import load_workbook

    InsuranceBudget.objects.create(alliance=money.alliance_b, year=2025, amount=Decimal("100"))
    with time_machine.travel(NOV_2025, tick=False):
        response = as_user(money.bureau).get("/finance/insurance/export.xlsx", {"county": money.yn.pk, "year": 2025})
    assert response.status_code == 200
    ws = load_workbook(BytesIO(response.content)).active
    assert ws["A1"].value == "郁南县2025年医共体医保总额预算执行与结算测算表"
    assert ws["A2"].value == "填报单位：郁南县卫生健康局"
    assert ws["D3"].value == "季度预拨款（到账日期）" and [ws.cell(row=4, column=c).value for c in range(4, 8)] == [
        "Q1", "Q2", "Q3", "Q4"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=5, max_row=ws.max_row)]
    first = next(r for r in rows if r[0] == "第一医共体")
    assert first[2] == "1,200,000.00" and first[3] == "300,000.00（01-10）" and first[6] is None  # Q4 not arrived
    assert first[7:12] == ["990,000.00", "82.50%", "210,000.00", "168,000.00", "42,000.00"]
    hospital = next(r for r in rows if r[1] == "县人民医院")
    assert hospital[7] == "720,000.00" and hospital[12] == "122,181.82"
    third = next(r for r in rows if r[0] == "第三医共体")
    assert third[9:12] == ["100.00", "80.00", "20.00"]  # nothing paid yet: the whole budget a surplus, 80 % kept
    assert any(str(v).startswith("审核人") for r in rows for v in r if v)
    outsider = as_user(money.outsider).get("/finance/insurance/export.xlsx", {"county": money.yn.pk, "year": 2025})
    assert "郁南县" not in load_workbook(BytesIO(outsider.content)).active["A1"].value
