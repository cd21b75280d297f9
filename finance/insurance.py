"""The 医保 global budget: when each quarter's prepayment is due (the 10th working day of the
quarter, seed 003 "每季度前10个工作日内及时足额预拨到位"), whether it arrived in time, and the year-end
settlement — surplus kept at the county's rate, overspend shared by band — split over the members
so that the parts add up to the fen."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q

from alliances.models import AllianceMembership, Region
from core.periods import Period
from finance.calendar import SpecialDay, WorkCalendar
from finance.filed import monthly_sums
from finance.models import CalendarDay, InsuranceBudget, Prepayment
from indicators.models import DataValue

PREPAY_WORKING_DAYS = 10
FEN = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)

# Prepayment states
ON_TIME, LATE, OVERDUE, NOT_YET = "on_time", "late", "overdue", "not_yet"


def fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def calendar_for(county: Region | None, years: Iterable[int]) -> WorkCalendar:
    """The national calendar of ``years`` with the county's own rows over it (one query)."""
    years = sorted(set(years))
    rows = CalendarDay.objects.filter(day__year__in=years).filter(
        Q(county__isnull=True) | Q(county=county) if county is not None else Q(county__isnull=True))
    national, local = [], []
    for row in rows.order_by("day"):
        (local if row.county_id else national).append(SpecialDay(row.day, row.kind, row.name))
    return WorkCalendar([*national, *local])  # the county's row of a day comes last and wins


def prepayment_deadline(year: int, quarter: int, calendar: WorkCalendar) -> date:
    return calendar.nth_working_day(Period.quarter(year, quarter).start, PREPAY_WORKING_DAYS)


@dataclass
class PrepaymentLine:
    quarter: int
    deadline: date
    amount: Decimal | None
    received_on: date | None
    state: str
    working_days_late: int = 0

    @property
    def warning(self) -> bool:
        return self.state in (LATE, OVERDUE)


def prepayment_state(deadline: date, received_on: date | None, today: date,
                     calendar: WorkCalendar) -> tuple[str, int]:
    """(state, working days late). Late is counted in working days after the deadline."""
    if received_on is not None:
        if received_on <= deadline:
            return ON_TIME, 0
        return LATE, calendar.working_days(deadline, received_on) - 1
    if today > deadline:
        return OVERDUE, calendar.working_days(deadline, today) - 1
    return NOT_YET, 0


def prepayment_lines(year: int, prepayments: Iterable[Prepayment], today: date,
                     calendar: WorkCalendar) -> list[PrepaymentLine]:
    """The four quarters of a budget, with or without a recorded prepayment."""
    by_quarter = {p.quarter: p for p in prepayments}
    lines = []
    for quarter in range(1, 5):
        deadline = prepayment_deadline(year, quarter, calendar)
        found = by_quarter.get(quarter)
        state, late = prepayment_state(deadline, found.received_on if found else None, today, calendar)
        lines.append(PrepaymentLine(quarter, deadline, found.amount if found else None,
                                    found.received_on if found else None, state, late))
    return lines


@dataclass
class BandLine:
    up_to: Decimal | None  # % of the budget; None: beyond the last band
    fund_rate: Decimal
    amount: Decimal  # overspend within the band
    fund: Decimal  # the fund's share of it


@dataclass
class Settlement:
    budget: Decimal
    actual: Decimal
    surplus: Decimal = ZERO
    retained: Decimal = ZERO  # surplus kept by the alliance
    returned: Decimal = ZERO  # surplus back to the fund
    overspend: Decimal = ZERO
    fund_share: Decimal = ZERO
    alliance_share: Decimal = ZERO
    bands: list[BandLine] = field(default_factory=list)

    @property
    def rate(self) -> Decimal | None:
        """Actual spending as a percentage of the budget."""
        return fen(self.actual / self.budget * HUNDRED) if self.budget else None


def parse_bands(bands: Iterable) -> list[tuple[Decimal, Decimal]]:
    """[[up to %, fund bears %], …] as Decimals, checked: ascending limits, rates 0–100. Raises
    ValueError naming the band (1-based)."""
    parsed, previous = [], ZERO
    for number, band in enumerate(bands, start=1):
        try:
            up_to, rate = Decimal(str(band[0])), Decimal(str(band[1]))
        except (TypeError, ValueError, IndexError, ArithmeticError):
            raise ValueError(number) from None
        if not (up_to > previous and ZERO <= rate <= HUNDRED):
            raise ValueError(number)
        parsed.append((up_to, rate))
        previous = up_to
    return parsed


def settle(budget: Decimal, actual: Decimal, *, surplus_retained: Decimal,
           bands: Iterable[tuple[Decimal, Decimal]]) -> Settlement:
    """The year-end settlement of one alliance. Every figure is rounded to the fen once, and the
    shares are taken as differences so that retained + returned = surplus and fund + alliance =
    overspend exactly."""
    result = Settlement(budget=fen(budget), actual=fen(actual))
    difference = result.budget - result.actual
    if difference >= 0:
        result.surplus = difference
        result.retained = fen(difference * surplus_retained / HUNDRED)
        result.returned = difference - result.retained
        return result
    overspend = -difference
    result.overspend = overspend
    floor = ZERO
    fund = ZERO
    for up_to, rate in bands:
        cap = result.budget * up_to / HUNDRED
        amount = max(ZERO, min(overspend, cap) - floor)
        share = fen(amount * rate / HUNDRED)
        result.bands.append(BandLine(up_to, rate, fen(amount), share))
        fund += share
        floor = cap
    beyond = max(ZERO, overspend - floor)
    if beyond:
        result.bands.append(BandLine(None, ZERO, fen(beyond), ZERO))
    result.fund_share = fund
    result.alliance_share = overspend - fund
    return result


def split(total: Decimal, weights: Mapping, *, places: Decimal = FEN) -> dict:
    """``total`` shared in proportion to ``weights`` (largest remainder), each part in fen, the parts
    adding up to ``total`` exactly. Keys with no weight get zero; all weights zero: equal parts."""
    keys = list(weights)
    if not keys:
        return {}
    total_weight = sum((Decimal(weights[k]) for k in keys), ZERO)
    if total_weight <= 0:
        weights = {k: Decimal(1) for k in keys}
        total_weight = Decimal(len(keys))
    units = int((total / places).to_integral_value(rounding=ROUND_HALF_UP))
    sign = 1 if units >= 0 else -1
    units = abs(units)
    exact = {k: Decimal(units) * Decimal(weights[k]) / total_weight for k in keys}
    parts = {k: int(exact[k]) for k in keys}
    left = units - sum(parts.values())
    for k in sorted(keys, key=lambda k: (-(exact[k] - parts[k]), keys.index(k)))[:left]:
        parts[k] += 1
    return {k: sign * parts[k] * places for k in keys}


# The settlement of a county's alliances, on filed figures -----------------------------------------

SPENDING_ELEMENT = "INSURANCE_REVENUE"  # 医保基金收入: what the fund paid each member, filed monthly


@dataclass
class MemberLine:
    institution: object
    actual: Decimal
    share: Decimal  # of the alliance's retained surplus (positive) or of its overspend share (negative)


@dataclass
class AllianceSettlement:
    budget: object  # InsuranceBudget
    settlement: Settlement
    members: list[MemberLine]
    months: int  # months with filed figures


def spending_by_institution(county: Region, year: int, through: date | None = None) -> tuple[dict[int, Decimal], int]:
    """The fund's payments to each institution of ``county`` in ``year`` (up to ``through``) from counted
    monthly filings, and how many months have any. One query."""
    sums, months = monthly_sums([SPENDING_ELEMENT], year, county=county, through=through)
    return {institution_id: total for (institution_id, _code), total in sums.items()}, months


def county_settlements(county: Region, year: int, rule, through: date | None = None) -> list[AllianceSettlement]:
    """Each alliance with a global budget for ``year``: its settlement by ``rule`` (a SettlementRule)
    on the members' filed payments, and each member's part (members on the year's last day).
    Four queries."""
    budgets = list(InsuranceBudget.objects.filter(county=county, year=year).select_related("alliance")
                   .order_by("alliance_id"))
    spending, months = spending_by_institution(county, year, through)
    members: dict[int, list] = {}
    for membership in (AllianceMembership.objects.on(date(year, 12, 31))
                       .filter(alliance__in=[b.alliance_id for b in budgets]).select_related("institution")
                       .order_by("role", "institution__name")):
        members.setdefault(membership.alliance_id, []).append(membership.institution)
    bands = parse_bands(rule.bands) if rule else []
    retained = rule.surplus_retained if rule else HUNDRED
    result = []
    for budget in budgets:
        institutions = members.get(budget.alliance_id, [])
        actual_by = {i: spending.get(i.pk, ZERO) for i in institutions}
        settlement = settle(budget.amount, sum(actual_by.values(), ZERO), surplus_retained=retained, bands=bands)
        to_share = settlement.retained if settlement.surplus else -settlement.alliance_share
        parts = split(to_share, actual_by) if institutions else {}
        result.append(AllianceSettlement(budget, settlement, [MemberLine(i, actual_by[i], parts.get(i, ZERO))
                                                              for i in institutions], months))
    return result


# The county's fund, month by month (县域医保结算月报) ---------------------------------------------

@dataclass
class FundMonth:
    period: Period
    total: Decimal | None
    in_county: Decimal | None

    @property
    def out_of_county(self) -> Decimal | None:
        if self.total is None or self.in_county is None:
            return None
        return self.total - self.in_county

    @property
    def in_county_rate(self) -> Decimal | None:
        if not self.total or self.in_county is None:
            return None
        return fen(self.in_county / self.total * HUNDRED)


def county_fund(county: Region, year: int) -> tuple[list[FundMonth], FundMonth]:
    """The fund's spending in and out of the county for each month of ``year`` filed by the county
    (FUND_TOTAL, FUND_IN_COUNTY), and the year to date. One query."""
    values: dict[tuple[str, str], Decimal] = {}
    for period, code, value in (DataValue.objects.filter(
            county=county, institution__isnull=True, counted=True, element__county__isnull=True,
            element__code__in=("FUND_TOTAL", "FUND_IN_COUNTY"), period_start__year=year,
            period__regex=r"^\d{4}-\d{2}$").values_list("period", "element__code", "value")):
        values[(period, code)] = fen(value) if value is not None else None
    months = []
    for index in range(1, 13):
        period = Period.month(year, index)
        months.append(FundMonth(period, values.get((str(period), "FUND_TOTAL")),
                                values.get((str(period), "FUND_IN_COUNTY"))))
    filed = [m for m in months if m.total is not None and m.in_county is not None]
    total = FundMonth(Period.of_year(year), sum((m.total for m in filed), ZERO) if filed else None,
                      sum((m.in_county for m in filed), ZERO) if filed else None)
    return months, total
