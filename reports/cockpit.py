"""The home page's 驾驶舱: "what needs me today", chosen by the user's role and scope.

- county bureau staff and county leaders (a county grant other than a supervisor's alone): the key
  indicators against target, the tasks' red and yellow, the filing completeness of the open period,
  the next scheduled reports and what awaits the user's sign-off, the budget execution, the 医保
  run-rate and the talent targets;
- a supervisor (督查, a county grant as supervisor only): the 督办 figures, the worst tasks and the
  supervision orders awaiting a reply;
- a filer (an institution's statistician or finance officer, or an alliance's filer): 我的填报 and
  我的任务, what needs doing first;
- the alliance office: its members' filing completeness, returned filings, its tasks, its budget;
- a city or province: its counties side by side, ranked on the quarterly evaluation, with a few
  key indicators and the tasks' red and yellow.

Every builder reads a constant number of queries whatever the number of alliances, institutions,
tasks and filings: the figures come from the apps' own set-based reads (tasks.selectors,
indicators.selectors, indicators.engine, finance.budgets, finance.insurance, staffing.targets,
reports.city), never one query per unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from accounts.models import Role
from alliances import scoping
from alliances.models import Alliance, AllianceMembership, Institution, Region
from alliances.views.common import natural_key
from core.periods import Period, PeriodKind
from finance import budgets as budget_lines
from finance.insurance import county_settlements
from finance.models import Budget, BudgetAmount, SettlementRule
from indicators import indicator_tables as tables
from indicators import selectors as filing_selectors
from indicators.engine import Engine, Result, Units
from indicators.models import Filing, Indicator, ReportForm
from indicators.views.evaluation import quarter_choices
from reports import city, schedule
from reports.models import Kind, Report
from staffing import targets as talent
from tasks import permissions as task_permissions
from tasks import selectors as task_selectors
from tasks.models import Assignment, SupervisionOrder
from tasks.models.rollups import UnitRollup
from tasks.services.rollups import rollups_ensure_fresh
from tasks.services.status import assignments_refresh_due
from tasks.status import Status

# What a home shows: how many of each list.
WORST_TASKS = 3
FILER_ROWS = 6
ORDERS_SHOWN = 5
RETURNED_SHOWN = 6
SIGNOFF_SHOWN = 3
KEY_INDICATORS_REGION = 4

COUNTY, SUPERVISOR, FILER, ALLIANCE, REGION = "county", "supervisor", "filer", "alliance", "region"
# Roles that make a county grant a leader's or the bureau's (a supervisor alone gets the 督办 home).
COUNTY_HOME_ROLES = {Role.BUREAU_ADMIN, Role.BUREAU_STAFF, Role.VIEWER, Role.HR_OFFICER}


# Which home ------------------------------------------------------------------------------------

@dataclass
class Home:
    """Which cockpit a user gets, and on what."""

    kind: str | None  # None: no cockpit fits, the view falls back to the structure page
    county_id: int | None = None
    alliance_id: int | None = None
    region_ids: list[int] = field(default_factory=list)


def home_for(user) -> Home:
    """The cockpit that fits the user's grants (no query: the scope is read once per request)."""
    scope = scoping.scope_of(user)
    higher = sorted(scope.granted_regions - scope.view_counties)
    if scope.everything or higher:
        return Home(REGION, region_ids=higher)
    if len(scope.view_counties) == 1:
        county_id = next(iter(scope.view_counties))
        if scope.roles & COUNTY_HOME_ROLES:
            return Home(COUNTY, county_id=county_id)
        if Role.SUPERVISOR in scope.roles:
            return Home(SUPERVISOR, county_id=county_id)
        return Home(COUNTY, county_id=county_id)
    if scope.view_counties:
        return Home(None)  # several counties without a city: the roll-up of the structure page
    if len(scope.change_alliances) == 1:
        return Home(ALLIANCE, alliance_id=next(iter(scope.change_alliances)))
    if scope.report_alliances or scope.report_institutions:
        return Home(FILER)
    if len(scope.view_alliances) == 1 and not scope.view_institutions:
        return Home(ALLIANCE, alliance_id=next(iter(scope.view_alliances)))
    return Home(None)


# Periods ---------------------------------------------------------------------------------------

def key_period(today: date) -> Period:
    """The latest complete month: the newest month whose filings are due (the 5th has passed)."""
    month = Period.containing_date(PeriodKind.MONTH, today).previous
    return month.previous if today.day <= tables.DUE_DAY else month


def open_period(form: ReportForm, today: date) -> Period:
    """The form's period being filed now: the latest one that has ended."""
    periods = filing_selectors.due_periods(form, today, 1)
    return periods[0] if periods else Period.containing_date(form.kind, today).previous


# Key indicators -----------------------------------------------------------------------------------

@dataclass
class AllianceValue:
    alliance: Alliance
    value: Decimal | None
    text: str
    met: str


@dataclass
class KeyRow:
    indicator: Indicator
    result: Result | None
    baseline: Decimal | None
    alliances: list[AllianceValue] = field(default_factory=list)

    @property
    def value(self) -> Decimal | None:
        return self.result.value if self.result else None

    @property
    def value_text(self) -> str:
        return tables.value_text(self.indicator, self.value)

    @property
    def baseline_text(self) -> str:
        return tables.value_text(self.indicator, self.baseline)

    @property
    def target_text(self) -> str:
        return tables.target_text(self.indicator)

    @property
    def met(self) -> str:
        return tables.met_state(self.result)

    @property
    def met_label(self) -> str:
        return str(tables.MET_LABELS[self.met])

    @property
    def trend(self) -> str:
        """up, down or flat against the same period last year; "" when either is missing."""
        if self.value is None or self.baseline is None:
            return ""
        value = round(self.value, self.indicator.decimals)
        baseline = round(self.baseline, self.indicator.decimals)
        return "up" if value > baseline else "down" if value < baseline else "flat"

    @property
    def change_text(self) -> str:
        if not self.trend:
            return ""
        change = self.value - self.baseline
        return ("+" if change > 0 else "") + tables.number_text(change, self.indicator.decimals)


def key_indicators(user, county: Region, period: Period) -> list[Indicator]:
    """The active key indicators of the shared catalogue and of the county that mean something for
    a county (one query)."""
    qs = (scoping.queryset_for(user, Indicator).filter(is_active=True, is_key=True)
          .filter(Q(county__isnull=True) | Q(county=county)).order_by("order", "code", "pk"))
    return [i for i in qs if i.applies_at("county")]


def key_rows(user, county: Region, period: Period, *, with_alliances: bool = True) -> list[KeyRow]:
    """The county's key indicators for ``period``: value, target, met, the same period last year,
    and each alliance's value for the indicators with an alliance level. One engine for all the
    indicators and all the alliances: a constant number of grouped reads."""
    indicators = key_indicators(user, county, period)
    if not indicators:
        return []
    engine = Engine(indicators, [county.pk])
    units = Units("county", [county.pk], {county.pk: county.pk})
    current = engine.compute(period, "county", units=units)
    last_year = engine.compute(period.same_period_last_year, "county", units=units)
    by_alliance: dict[tuple[int, int], Result] = {}
    alliances: list[Alliance] = []
    if with_alliances and any(i.applies_at("alliance") for i in indicators):
        alliances = sorted(scoping.queryset_for(user, Alliance).filter(county=county, is_active=True),
                           key=lambda a: natural_key(a.name))
        if alliances:
            by_alliance = engine.compute(period, "alliance", units=Units(
                "alliance", [a.pk for a in alliances], {a.pk: county.pk for a in alliances}))
    rows = []
    for indicator in indicators:
        result = current.get((indicator.pk, county.pk))
        previous = last_year.get((indicator.pk, county.pk))
        row = KeyRow(indicator, result, _baseline(result, previous))
        if indicator.applies_at("alliance"):
            for alliance in alliances:
                found = by_alliance.get((indicator.pk, alliance.pk))
                value = found.value if found else None
                row.alliances.append(AllianceValue(alliance, value, tables.value_text(indicator, value),
                                                   tables.met_state(found)))
        rows.append(row)
    return rows


def _baseline(result: Result | None, previous: Result | None) -> Decimal | None:
    if result is not None and result.baseline is not None:
        return result.baseline
    return previous.value if previous is not None else None


# Tasks -----------------------------------------------------------------------------------------

@dataclass
class TaskFigures:
    counts: task_selectors.Counts
    worst: list[Assignment]


def task_figures(qs, now: datetime, limit: int = WORST_TASKS) -> TaskFigures:
    """Counts by light and the ``limit`` longest overdue responsible assignments of ``qs``. Three
    queries."""
    worst = task_selectors.most_overdue(qs.filter(role=Assignment.Role.LEAD), limit)
    for assignment in worst:
        assignment.result = assignment.status_at(now)
    return TaskFigures(task_selectors.status_counts(qs), worst)


def open_orders(user, county_ids: list[int] | None, limit: int = ORDERS_SHOWN) -> tuple[int, list[SupervisionOrder]]:
    """Supervision orders awaiting a reply: how many, and the ``limit`` whose reply is due first. Two
    queries."""
    qs = scoping.queryset_for(user, SupervisionOrder).filter(state=SupervisionOrder.State.OPEN,
                                                              assignment__is_active=True)
    if county_ids is not None:
        qs = qs.filter(county_id__in=county_ids)
    rows = list(qs.select_related("assignment__item", "assignment__department", "assignment__institution",
                                  "assignment__alliance").order_by("reply_due", "pk")[:limit])
    return qs.count(), rows


# Filings ---------------------------------------------------------------------------------------

@dataclass
class FormCompleteness:
    form: ReportForm
    period: Period
    due_date: date
    expected: int
    filed: int
    returned: int
    rate: Decimal | None


def filing_completeness(user, county: Region, today: date, *, alliance_ids: set[int] | None = None
                        ) -> list[FormCompleteness]:
    """Per active form of the county, its open period: filed / expected and how many are returned
    (``indicators.selectors.completeness``, four queries a form; the forms are the county's
    definitions, not data that grows)."""
    forms = sorted(scoping.queryset_for(user, ReportForm).filter(county=county, is_active=True).select_related("county"),
                   key=lambda f: (f.filer_level != ReportForm.FilerLevel.INSTITUTION, f.kind.months, f.code))
    result = []
    for form in forms:
        if alliance_ids is not None and form.filer_level != ReportForm.FilerLevel.INSTITUTION:
            continue
        period = open_period(form, today)
        report = filing_selectors.completeness(form, period, alliance_ids=alliance_ids, trend_periods=1)
        total = report.total
        returned = sum(1 for _institution, status in total.missing if status == Filing.Status.RETURNED)
        result.append(FormCompleteness(form, period, report.due_date, total.expected, total.filed, returned,
                                       total.rate))
    return result


def returned_filings(user, today: date, *, alliance: Alliance | None = None, limit: int = RETURNED_SHOWN
                     ) -> tuple[int, list[Filing]]:
    """Returned filings the user sees (of the alliance's members today): how many, the newest
    returns. Two queries."""
    qs = scoping.queryset_for(user, Filing).filter(status=Filing.Status.RETURNED)
    if alliance is not None:
        qs = qs.filter(institution_id__in=AllianceMembership.objects.on(today).filter(alliance=alliance)
                       .values("institution_id"))
    rows = list(qs.select_related("form", "institution").order_by("-reviewed_at", "-pk")[:limit])
    return qs.count(), rows


# Reports ---------------------------------------------------------------------------------------

@dataclass
class NextReport:
    label: str
    period: Period
    due_at: datetime
    deadline: datetime


def next_reports(now: datetime) -> list[NextReport]:
    """The next 进度监测表 and 季度评价指标表 to go out (``reports.schedule``; no query)."""
    today = schedule.local_today(now)
    month = Period.containing_date(PeriodKind.MONTH, today)
    monthly = schedule.monthly_slot(month.previous)
    if monthly.due_at <= now:
        monthly = schedule.monthly_slot(month)
    quarter = Period.containing_date(PeriodKind.QUARTER, today)
    quarterly = schedule.quarterly_slot(quarter.previous)
    if quarterly.deadline <= now:
        quarterly = schedule.quarterly_slot(quarter)
    rows = [NextReport(str(Kind.MONTHLY.label), monthly.period, monthly.due_at, monthly.deadline),
            NextReport(str(Kind.QUARTERLY.label), quarterly.period, quarterly.due_at, quarterly.deadline)]
    return sorted(rows, key=lambda r: r.due_at)


def awaiting_signoff(user, county: Region, limit: int = SIGNOFF_SHOWN) -> tuple[int, list[Report]]:
    """Quarterly tables of the county ready and waiting for the user's sign-off (only a bureau user who
    may change the county signs off). Two queries; none for the others."""
    if not scoping.scope_of(user).can_change_county(county.pk):
        return 0, []
    qs = scoping.queryset_for(user, Report).filter(county=county, kind=Kind.QUARTERLY, state=Report.State.READY)
    return qs.count(), list(qs.order_by("deadline", "pk")[:limit])


# Finance ---------------------------------------------------------------------------------------

@dataclass
class BudgetLine:
    alliance: Alliance
    budget: Budget | None
    expense_budget: Decimal | None = None
    expense_actual: Decimal | None = None
    months: int = 0

    @property
    def rate(self) -> Decimal | None:
        return budget_lines.ExecutionCell(self.expense_budget, self.expense_actual).rate

    @property
    def elapsed(self) -> Decimal:
        return (Decimal(self.months) * 100 / 12).quantize(budget_lines.FEN)

    @property
    def warning(self) -> bool:
        rate = self.rate
        return rate is not None and bool(self.months) and abs(rate - self.elapsed) > budget_lines.PACING_POINTS


EXPENSE_LINES = [line for line in budget_lines.LINES if line.side == budget_lines.EXPENSE and not line.part_of]


def budget_execution(alliances: list[Alliance], year: int, through: date) -> list[BudgetLine]:
    """Each alliance's newest approved budget of ``year``: its expenditure total against the filed
    actuals of its members (the lines and sums of ``finance.budgets.execution``, read for every
    alliance at once). Four queries whatever the number of alliances."""
    if not alliances:
        return []
    newest: dict[int, Budget] = {}
    for budget in Budget.objects.filter(alliance__in=alliances, year=year, state=Budget.State.APPROVED).order_by(
            "alliance_id", "-number"):
        newest.setdefault(budget.alliance_id, budget)
    totals: dict[int, Decimal] = {}
    for budget_id, amount in (BudgetAmount.objects.filter(
            budget__in=list(newest.values()), institution__isnull=True,
            line__in=[line.code for line in EXPENSE_LINES]).values_list("budget_id", "amount")):
        totals[budget_id] = totals.get(budget_id, Decimal(0)) + amount
    members: dict[int, list[int]] = {}
    for alliance_id, institution_id in AllianceMembership.objects.on(date(year, 12, 31)).filter(
            alliance_id__in=list(newest)).values_list("alliance_id", "institution_id"):
        members.setdefault(alliance_id, []).append(institution_id)
    sums, months = budget_lines.filed_actuals([pk for ids in members.values() for pk in ids], year, through)
    rows = []
    for alliance in alliances:
        budget = newest.get(alliance.pk)
        line = BudgetLine(alliance, budget, months=months)
        if budget is not None:
            line.expense_budget = totals.get(budget.pk)
            known = [a for pk in members.get(alliance.pk, []) for ln in EXPENSE_LINES
                     if (a := budget_lines.actual_of(ln, sums, pk)) is not None]
            line.expense_actual = sum(known, Decimal(0)) if known else None
        rows.append(line)
    return rows


def alliance_execution(alliance: Alliance, year: int, through: date) -> budget_lines.Execution | None:
    """The alliance's newest approved budget of ``year`` with ``finance.budgets.execution`` (six
    queries); None without one."""
    budget = (Budget.objects.filter(alliance=alliance, year=year, state=Budget.State.APPROVED)
              .select_related("alliance").order_by("-number").first())
    if budget is None:
        return None
    return budget_lines.execution(budget, through=through)


@dataclass
class InsuranceRun:
    budget: Decimal
    actual: Decimal
    months: int
    rate: Decimal | None

    @property
    def elapsed(self) -> Decimal:
        return (Decimal(self.months) * 100 / 12).quantize(budget_lines.FEN)

    @property
    def ahead(self) -> bool:
        """Spending faster than the year elapses (by more than the pacing points)."""
        return self.rate is not None and bool(self.months) and self.rate - self.elapsed > budget_lines.PACING_POINTS


def insurance_run(county: Region, year: int, through: date) -> InsuranceRun | None:
    """The 医保 global budgets of the county's alliances against the fund's payments filed so far
    (``finance.insurance.county_settlements``: five queries); None without a budget."""
    rule = SettlementRule.objects.filter(county=county).first()
    settlements = county_settlements(county, year, rule, through)
    if not settlements:
        return None
    budget = sum((s.settlement.budget for s in settlements), Decimal(0))
    actual = sum((s.settlement.actual for s in settlements), Decimal(0))
    rate = (actual / budget * 100).quantize(budget_lines.FEN) if budget else None
    return InsuranceRun(budget, actual, max(s.months for s in settlements), rate)


# Talent ----------------------------------------------------------------------------------------

@dataclass
class TalentRow:
    target: talent.Target
    value: Decimal | None

    @property
    def met(self) -> bool | None:
        return talent.met(self.target, self.value)


def talent_rows(county: Region, today: date) -> list[TalentRow]:
    """The talent targets of seed 001 附件3 counted from the roster today (five queries)."""
    values, _primary, _everyone, _residents = talent.county_metrics(county, today)
    return [TalentRow(t, values.get(t.code)) for t in talent.TARGETS]


# The cockpits ------------------------------------------------------------------------------------

def county_context(user, county: Region, now: datetime) -> dict:
    """The county leader's and the bureau's cockpit."""
    today = schedule.local_today(now)
    period = key_period(today)
    assignments_refresh_due(now=now, county_ids=[county.pk])
    tasks = task_figures(task_selectors.visible_assignments(user).filter(county=county), now)
    signoff_count, signoff = awaiting_signoff(user, county)
    alliances = sorted(scoping.queryset_for(user, Alliance).filter(county=county, is_active=True),
                       key=lambda a: natural_key(a.name))
    order_count, _orders = open_orders(user, [county.pk], limit=0)
    return {
        "county": county, "today": today, "key_period": period,
        "key_rows": key_rows(user, county, period),
        "tasks": tasks, "open_orders": order_count,
        "completeness": filing_completeness(user, county, today),
        "next_reports": next_reports(now), "signoff_count": signoff_count, "signoff": signoff,
        "budgets": budget_execution(alliances, today.year, today),
        "insurance": insurance_run(county, today.year, today),
        "talent": talent_rows(county, today),
    }


def supervisor_context(user, county: Region, now: datetime) -> dict:
    """The supervisor's cockpit: the 督办 dashboard's figures of the county (tasks.selectors)."""
    today = schedule.local_today(now)
    assignments_refresh_due(now=now, county_ids=[county.pk])
    qs = task_selectors.visible_assignments(user).filter(county=county)
    tasks = task_figures(qs, now, limit=10)
    order_count, orders = open_orders(user, [county.pk])
    by_alliance = task_selectors.counts_by_alliance(qs, today)
    return {"county": county, "today": today, "tasks": tasks, "open_orders": order_count, "orders": orders,
            "by_alliance": by_alliance,
            "aging": task_selectors.overdue_aging(qs.filter(role=Assignment.Role.LEAD), today)}


def filer_context(user, now: datetime) -> dict:
    """The filer's cockpit: what to file (returned first, then not started or draft), what is in for
    the latest periods, and the user's units' tasks still open, worst first."""
    today = schedule.local_today(now)
    scope = scoping.scope_of(user)
    rows = filing_selectors.my_filing_rows(user, today)
    todo = [r for r in rows if not r.is_filed and r.status != Filing.Status.SUBMITTED]
    latest = {}
    for row in rows:
        latest[row.form.pk] = max(latest.get(row.form.pk, row.period), row.period, key=lambda p: p.start)
    current = sorted((r for r in rows if r.period == latest[r.form.pk] and r not in todo), key=lambda r: r.sort_key)
    filings = sorted(todo, key=lambda r: r.sort_key)
    assignments_refresh_due(now=now, county_ids=sorted(scope.context_counties | scope.view_counties))
    qs = task_permissions.reportable_assignments(user)
    open_tasks = qs.exclude(status=Status.DONE)
    tasks = list(task_selectors.with_list_data(open_tasks).order_by(*task_selectors.WORST_FIRST)[:FILER_ROWS])
    for assignment in tasks:
        assignment.result = assignment.status_at(now)
    units = [*scoping.queryset_for(user, Institution).filter(pk__in=scope.report_institutions).order_by("name"),
             *scoping.queryset_for(user, Alliance).filter(pk__in=scope.report_alliances).order_by("name")]
    return {
        "today": today, "units": units, "filings": filings[:FILER_ROWS], "filings_total": len(filings),
        "current": current[:FILER_ROWS * 2],
        "returned": sum(1 for r in rows if r.status == Filing.Status.RETURNED),
        "late": sum(1 for r in todo if r.days_late > 0),
        "tasks": tasks, "task_counts": task_selectors.status_counts(qs),
        "open_url_name": "indicators:filing_open",
    }


def alliance_context(user, alliance: Alliance, now: datetime) -> dict:
    """The alliance office's cockpit: its members' filings, its tasks, its budget."""
    today = schedule.local_today(now)
    assignments_refresh_due(now=now, county_ids=[alliance.county_id])
    returned_count, returned = returned_filings(user, today, alliance=alliance)
    return {
        "alliance": alliance, "today": today,
        "completeness": filing_completeness(user, alliance.county, today, alliance_ids={alliance.pk}),
        "returned_count": returned_count, "returned": returned,
        "tasks": task_figures(task_selectors.visible_assignments(user), now),
        "execution": alliance_execution(alliance, today.year, today),
    }


@dataclass
class RegionCounty:
    row: city.CountyRow
    red: int = 0
    yellow: int = 0
    indicators: list[tuple[Indicator, Result | None, str]] = field(default_factory=list)


@dataclass
class RegionBlock:
    region: Region
    summary: city.Summary
    counties: list[RegionCounty]


def county_lights(county_ids: list[int], now: datetime) -> dict[int, dict]:
    """{county id: red and yellow counts} from the tasks' roll-ups (as the city's 督办 dashboard reads
    them), brought up to date first. Three queries when the roll-ups are fresh."""
    today = schedule.local_today(now)
    assignments_refresh_due(now=now, county_ids=county_ids)
    rollups_ensure_fresh(county_ids, today=today)
    rows = (UnitRollup.objects.filter(county_id__in=county_ids).values("county_id")
            .annotate(red_count=Coalesce(Sum("red"), 0), yellow_count=Coalesce(Sum("yellow"), 0)).order_by())
    return {row["county_id"]: row for row in rows}


def region_context(user, region_ids: list[int], now: datetime) -> dict:
    """The city's or province's cockpit: its counties ranked on the latest quarter's evaluation
    (``reports.city.summary``), with their red and yellow tasks (the tasks' roll-ups) and a few
    shared key indicators of the latest complete month (one engine for all the counties)."""
    today = schedule.local_today(now)
    quarter = quarter_choices(today)[0]
    period = key_period(today)
    regions_qs = scoping.queryset_for(user, Region).filter(level__in=[Region.Level.CITY, Region.Level.PROVINCE])
    regions_qs = regions_qs.filter(pk__in=region_ids) if region_ids else regions_qs.filter(
        level=Region.Level.PROVINCE)
    regions = list(regions_qs.order_by("code"))
    summaries = [city.summary(user, region, quarter, today) for region in regions]
    county_ids = sorted({row.county.pk for s in summaries for row in s.rows})
    lights = county_lights(county_ids, now) if county_ids else {}
    indicators = [i for i in Indicator.objects.filter(is_active=True, is_key=True, county__isnull=True)
                  .order_by("order", "code", "pk") if i.applies_at("county")][:KEY_INDICATORS_REGION]
    results: dict[tuple[int, int], Result] = {}
    if indicators and county_ids:
        results = Engine(indicators, county_ids).compute(period, "county", units=Units(
            "county", county_ids, {pk: pk for pk in county_ids}))
    blocks = []
    for region, data in zip(regions, summaries, strict=True):
        counties = []
        for row in data.rows:
            light = lights.get(row.county.pk, {})
            entry = RegionCounty(row, red=light.get("red_count", 0), yellow=light.get("yellow_count", 0))
            for indicator in indicators:
                found = results.get((indicator.pk, row.county.pk))
                entry.indicators.append((indicator, found, tables.value_text(indicator, found.value if found else None)))
            counties.append(entry)
        blocks.append(RegionBlock(region, data, counties))
    return {"today": today, "quarter": quarter, "key_period": period, "indicators": indicators, "blocks": blocks}


def title_for(kind: str) -> str:
    return {COUNTY: _("Cockpit"), SUPERVISOR: _("Supervision today"), FILER: _("What needs me today"),
            ALLIANCE: _("Alliance office today"), REGION: _("Counties at a glance")}[kind]
