"""Demo 医保 global budgets: for each alliance of the demo counties, last year's and this year's
budget (last year's payments to its members plus 3 %, in round ten thousands), the quarterly
prepayments of this year as they came (one late), and the county's settlement rule. Running it
again changes nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from alliances.models import Alliance, AllianceMembership, Region
from core.demo import DemoReport
from finance import budgets
from finance.insurance import calendar_for, prepayment_deadline, spending_by_institution
from finance.models import (
    Budget,
    BudgetAmount,
    InsuranceBudget,
    Prepayment,
    ProcurementAccount,
    Purchase,
    SettlementRule,
)
from indicators.models import DataValue

COUNTIES = ("郁南县", "万源市")


def load_demo_finance(*, today: date, now: datetime) -> dict[str, int]:
    stats = {"budgets": 0, "prepayments": 0, "line_budgets": 0, "purchases": 0}
    for county in Region.objects.filter(name__in=COUNTIES, level=Region.Level.COUNTY):
        calendar = calendar_for(county, [today.year - 1, today.year])
        alliances = list(Alliance.objects.filter(county=county, is_active=True).order_by("pk"))
        for year in (today.year - 1, today.year):
            SettlementRule.objects.get_or_create(county=county, year=year, defaults={
                "surplus_retained": Decimal(80), "bands": [["5", "70"], ["10", "50"]], "warning_points": Decimal(10)})
            basis, _months = spending_by_institution(county, year - 1)
            current, months = spending_by_institution(county, year)
            for number, alliance in enumerate(alliances):
                members = AllianceMembership.objects.on(date(year, 12, 31)).filter(alliance=alliance) \
                    .values_list("institution_id", flat=True)
                paid = sum((basis.get(pk) or current.get(pk, Decimal(0)) * 12 / max(months, 1)
                            for pk in members), Decimal(0))
                amount = max(Decimal(100000), (paid * Decimal("1.03") / 10000).quantize(Decimal(1)) * 10000)
                budget, created = InsuranceBudget.objects.get_or_create(alliance=alliance, year=year,
                                                                        defaults={"amount": amount})
                stats["budgets"] += created
                for quarter in range(1, 5):
                    deadline = prepayment_deadline(year, quarter, calendar)
                    if deadline > today + timedelta(days=20):
                        continue
                    late = year == today.year and quarter == 3 and number == 0
                    first = date(year, 3 * quarter - 2, 1)
                    received = calendar.nth_working_day(first, 13 if late else 6)
                    if received > today:
                        continue
                    _row, made = Prepayment.objects.get_or_create(budget=budget, quarter=quarter, defaults={
                        "amount": (budget.amount / 4).quantize(Decimal("0.01")), "received_on": received})
                    stats["prepayments"] += made
        for number, alliance in enumerate(alliances, start=1):
            stats["line_budgets"] += _line_budget(alliance, today.year, now)
            stats["purchases"] += _procurement(alliance, county, number, today)
    return stats


PURCHASED = {  # category: (filed element, share bought through the alliance's account)
    Purchase.Category.DRUGS: ("DRUG_REVENUE", Decimal("0.88")),
    Purchase.Category.CONSUMABLES: ("CONSUMABLE_REVENUE", Decimal("0.85")),
    Purchase.Category.EQUIPMENT: ("EXP_EQUIPMENT", Decimal("0.9")),
    Purchase.Category.OTHER: ("EXP_OTHER", Decimal("0.25")),
}


def _procurement(alliance: Alliance, county: Region, number: int, today: date) -> int:
    """The alliance's purchasing account and this year's purchases of its members: most of the drugs
    and materials they sold and the equipment they bought, month by month, from their filings."""
    if Purchase.objects.filter(alliance=alliance).exists():
        return 0
    ProcurementAccount.objects.get_or_create(alliance=alliance, defaults={
        "name": f"{alliance.name}统一采购资金账户", "bank": f"{county.name}农村商业银行",
        "number": f"62284800{county.code}{number:02d}{alliance.pk:04d}"[:19], "opened_on": date(2023, 1, 3)})
    members = {m.pk for m in budgets.members_of(alliance, today.year)}
    rows = []
    for institution_id, period, code, value in DataValue.objects.filter(
            institution_id__in=members, counted=True, period__startswith=f"{today.year}-", period__regex=r"^\d{4}-\d{2}$",
            element__county__isnull=True, element__code__in=[code for code, _share in PURCHASED.values()]
    ).values_list("institution_id", "period", "element__code", "value"):
        for category, (element, share) in PURCHASED.items():
            if element == code:
                rows.append(Purchase(alliance=alliance, county=county, institution_id=institution_id, month=period,
                                     category=category, amount=(value * share).quantize(Decimal("0.01"))))
    Purchase.objects.bulk_create(rows)
    return len(rows)


def _line_budget(alliance: Alliance, year: int, now: datetime) -> int:
    """This year's approved original budget: each member's lines at last year's filed figures plus 5 %,
    the alliance's total their sum (so the difference shows 0)."""
    if Budget.objects.filter(alliance=alliance, year=year).exists():
        return 0
    members = budgets.members_of(alliance, year)
    sums, _months = budgets.filed_actuals([m.pk for m in members], year - 1)
    budget = Budget.objects.create(alliance=alliance, year=year, number=1, state=Budget.State.APPROVED,
                                   created_at=now, approved_at=now)
    rows, totals = [], {}
    for line in budgets.LINES:
        for member in members:
            actual = budgets.actual_of(line, sums, member.pk)
            if actual is None:
                continue
            amount = (actual * Decimal("1.05") / 1000).quantize(Decimal(1)) * 1000
            rows.append(BudgetAmount(budget=budget, institution=member, line=line.code, amount=amount))
            totals[line.code] = totals.get(line.code, Decimal(0)) + amount
    rows += [BudgetAmount(budget=budget, line=code, amount=amount) for code, amount in totals.items()]
    BudgetAmount.objects.bulk_create(rows)
    return 1


def load_demo_part(*, now: datetime, today: date) -> DemoReport:
    """Budgets, prepayments and purchases of the demo counties (``core.demo``); nothing to report."""
    load_demo_finance(today=today, now=now)
    return DemoReport()
