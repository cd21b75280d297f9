"""The 医保 global budget's rules, on hand-worked figures: working days across the 2025 国庆/中秋
holiday (1–8 October off, Sunday 28 September and Saturday 11 October worked) and New Year 2026
(Sunday 4 January worked), the prepayment deadline (the 10th working day of the quarter) and its
states, a county's own correction of the calendar, the settlement with a surplus and with an
overspend in each band, and splitting to the fen."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from finance.calendar import WorkCalendar
from finance.insurance import (
    LATE,
    NOT_YET,
    ON_TIME,
    OVERDUE,
    calendar_for,
    parse_bands,
    prepayment_deadline,
    prepayment_lines,
    prepayment_state,
    settle,
    split,
)
from finance.models import CalendarDay, InsuranceBudget, Prepayment

D = Decimal
BANDS = [(D(5), D(70)), (D(10), D(50))]


@pytest.fixture
def national(db):
    return calendar_for(None, [2025, 2026])


def test_the_national_calendar_is_loaded_with_holidays_and_make_up_days(national):
    assert CalendarDay.objects.filter(county=None, day=date(2025, 10, 8), kind="holiday").exists()
    for day in (date(2025, 10, 1), date(2025, 10, 3), date(2025, 10, 8), date(2026, 1, 2)):
        assert not national.is_working_day(day), day
    for day in (date(2025, 9, 28), date(2025, 10, 11), date(2026, 1, 4), date(2025, 10, 9)):
        assert national.is_working_day(day), day  # 28 Sept and 4 Jan are Sundays, 11 Oct a Saturday
    assert not national.is_working_day(date(2025, 10, 12))  # an ordinary Sunday
    # 28 Sept (Sun, worked), 29, 30 Sept, then 9, 10 and 11 Oct (Sat, worked).
    assert national.working_days(date(2025, 9, 27), date(2025, 10, 12)) == 6
    assert national.working_days(date(2025, 9, 29), date(2025, 9, 30)) == 2


def test_the_prepayment_is_due_on_the_10th_working_day_of_the_quarter(national):
    # Q4 2025: 1–8 Oct off; 9, 10, 11 (Sat, worked), 13–17, 20, 21 → the 10th is Tuesday 21 October.
    assert prepayment_deadline(2025, 4, national) == date(2025, 10, 21)
    # Q1 2026: 1–3 Jan off; Sunday 4 Jan worked: 4, 5–9, 12–15 → Thursday 15 January.
    assert prepayment_deadline(2026, 1, national) == date(2026, 1, 15)
    # Q3 2025 has no holiday: 1–4, 7–11, 14 July.
    assert prepayment_deadline(2025, 3, national) == date(2025, 7, 14)


def test_a_county_corrects_the_calendar_for_itself(world):
    CalendarDay.objects.create(county=world.yn, day=date(2025, 10, 20), kind="holiday", name="县内调整")
    local = calendar_for(world.yn, [2025])
    assert prepayment_deadline(2025, 4, local) == date(2025, 10, 22)
    assert prepayment_deadline(2025, 4, calendar_for(world.wy, [2025])) == date(2025, 10, 21)


def test_prepayment_states_and_working_days_late(national):
    deadline = date(2025, 10, 21)
    assert prepayment_state(deadline, date(2025, 10, 21), date(2025, 11, 1), national) == (ON_TIME, 0)
    assert prepayment_state(deadline, date(2025, 10, 22), date(2025, 11, 1), national) == (LATE, 1)
    assert prepayment_state(deadline, None, date(2025, 10, 20), national) == (NOT_YET, 0)
    assert prepayment_state(deadline, None, date(2025, 10, 24), national) == (OVERDUE, 3)
    assert prepayment_state(deadline, None, date(2025, 10, 26), national) == (OVERDUE, 3)  # a weekend counts not


def test_prepayment_lines_of_a_budget(world, national):
    budget = InsuranceBudget.objects.create(alliance=world.alliance_a, year=2025, amount=D("12000000.00"))
    Prepayment.objects.create(budget=budget, quarter=3, amount=D("3000000.00"), received_on=date(2025, 7, 10))
    Prepayment.objects.create(budget=budget, quarter=4, amount=D("3000000.00"), received_on=date(2025, 10, 23))
    assert budget.county == world.yn
    lines = prepayment_lines(2025, budget.prepayments.all(), date(2025, 10, 30), national)
    assert [(line.quarter, line.state, line.working_days_late) for line in lines] == [
        (1, OVERDUE, lines[0].working_days_late), (2, OVERDUE, lines[1].working_days_late), (3, ON_TIME, 0),
        (4, LATE, 2)]
    assert lines[0].warning and not lines[2].warning and lines[3].warning


def test_settlement_with_a_surplus():
    result = settle(D("10000000.00"), D("9200000.00"), surplus_retained=D(80), bands=BANDS)
    assert (result.surplus, result.retained, result.returned) == (D("800000.00"), D("640000.00"), D("160000.00"))
    assert result.overspend == 0 and result.fund_share == 0 and result.rate == D("92.00")


def test_settlement_with_an_overspend_in_each_band():
    first = settle(D("10000000"), D("10300000"), surplus_retained=D(100), bands=BANDS)  # 3 % over
    assert (first.overspend, first.fund_share, first.alliance_share) == (D("300000.00"), D("210000.00"),
                                                                         D("90000.00"))
    second = settle(D("10000000"), D("10800000"), surplus_retained=D(100), bands=BANDS)  # 8 % over
    assert [(b.amount, b.fund) for b in second.bands] == [(D("500000.00"), D("350000.00")),
                                                         (D("300000.00"), D("150000.00"))]
    assert (second.fund_share, second.alliance_share) == (D("500000.00"), D("300000.00"))
    beyond = settle(D("10000000"), D("11500000"), surplus_retained=D(100), bands=BANDS)  # 15 % over
    assert [(b.up_to, b.amount, b.fund) for b in beyond.bands] == [
        (D(5), D("500000.00"), D("350000.00")), (D(10), D("500000.00"), D("250000.00")),
        (None, D("500000.00"), D(0))]
    assert (beyond.fund_share, beyond.alliance_share) == (D("600000.00"), D("900000.00"))


def test_settlement_reconciles_to_the_fen():
    result = settle(D("1000000.01"), D("1033333.33"), surplus_retained=D(100), bands=[(D(5), D("33.33"))])
    assert result.fund_share + result.alliance_share == result.overspend == D("33333.32")
    assert result.fund_share == D("11110.00")  # 33,333.32 × 33.33 % = 11,109.9956 → 11,110.00
    kept = settle(D("100.00"), D("66.67"), surplus_retained=D("33.33"), bands=BANDS)
    assert kept.retained + kept.returned == kept.surplus == D("33.33") and kept.retained == D("11.11")


def test_split_to_the_fen():
    assert split(D("100.00"), {"a": 1, "b": 1, "c": 1}) == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}
    parts = split(D("900000.00"), {"县人民医院": D("5000000"), "平台镇卫生院": D("1200000"), "桂圩镇卫生院": D("800000")})
    assert sum(parts.values()) == D("900000.00") and parts["县人民医院"] == D("642857.14")
    assert split(D("-10.00"), {"a": 1, "b": 2}) == {"a": D("-3.33"), "b": D("-6.67")}
    assert split(D("5.00"), {"a": 0, "b": 0}) == {"a": D("2.50"), "b": D("2.50")}


def test_bands_are_checked():
    assert parse_bands([["5", "70"], [10, 50]]) == BANDS
    for bad, number in (([["10", "50"], ["5", "70"]], 2), ([["5", "120"]], 1), ([["五", "70"]], 1), ([[5]], 1)):
        with pytest.raises(ValueError) as caught:
            parse_bands(bad)
        assert caught.value.args == (number,)


def test_the_calendar_walks_long_runs_of_days_off():
    calendar = WorkCalendar([])
    assert calendar.nth_working_day(date(2026, 2, 14), 1) == date(2026, 2, 16)  # a Saturday: the Monday after
    with pytest.raises(ValueError):
        calendar.nth_working_day(date(2026, 2, 14), 0)


def test_the_settlement_of_each_alliance_on_filed_payments_split_over_its_members(world):
    """第一医共体: budget 1,000,000, members paid 600,000 + 300,000 + 200,000 = 1,100,000 (10 % over):
    the fund bears 50,000 × 70 % + 50,000 × 50 % = 60,000, the alliance 40,000, shared 6 : 3 : 2.
    第三医共体: budget 2,000,000, paid 900,000 + 600,000: surplus 500,000, 80 % kept = 400,000, 9 : 6."""
    from core.periods import Period
    from finance.insurance import county_settlements
    from finance.models import SettlementRule
    from indicators.catalog import install_catalog, install_forms
    from tests.test_indicators_engine import file_values

    install_catalog()
    form = {f.code: f for f in install_forms(world.yn)}["MONTHLY_OPS"]
    paid = {world.hospital: 600000, world.centre: 300000, world.centre2: 200000, world.tcm: 900000,
            world.centre_b: 600000}
    for institution, amount in paid.items():
        for month, part in (("2025-03", amount // 2), ("2025-11", amount - amount // 2)):
            file_values(form, institution, Period.parse(month), {"INSURANCE_REVENUE": part})
    file_values(form, world.hospital, Period.parse("2026-01"), {"INSURANCE_REVENUE": 999})  # another year
    InsuranceBudget.objects.create(alliance=world.alliance_a, year=2025, amount=D("1000000"))
    InsuranceBudget.objects.create(alliance=world.alliance_b, year=2025, amount=D("2000000"))
    rule = SettlementRule.objects.create(county=world.yn, year=2025, surplus_retained=D(80),
                                         bands=[["5", "70"], ["10", "50"]])
    first, third = county_settlements(world.yn, 2025, rule)
    assert first.budget.alliance == world.alliance_a and first.months == 2
    assert first.settlement.actual == D("1100000.00")
    assert (first.settlement.fund_share, first.settlement.alliance_share) == (D("60000.00"), D("40000.00"))
    assert [(m.institution.name, m.actual, m.share) for m in first.members] == [
        ("县人民医院", D("600000.00"), D("-21818.18")), ("平台镇卫生院", D("300000.00"), D("-10909.09")),
        ("桂圩镇卫生院", D("200000.00"), D("-7272.73"))]
    assert (third.settlement.surplus, third.settlement.retained) == (D("500000.00"), D("400000.00"))
    assert [(m.institution.name, m.share) for m in third.members] == [("县中医院", D("240000.00")),
                                                                      ("通门镇卫生院", D("160000.00"))]
