"""Build one version of a report: its data (for the printable page), its workbook and the e-mail
text. One builder per kind; ``Cache`` keeps what several reports of one sweep share (the county's
monthly context for the county's and each alliance's table)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from io import BytesIO

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.styles import Alignment

from alliances.exports import OFFICIAL_LANGUAGE
from core import workbook as book
from core import xlsx as core_xlsx
from core.clock import local_date
from core.http import safe_filename
from core.periods import Period, PeriodKind
from indicators.catalog import DERIVED_FORMS, SCHEME_CODE
from indicators.exports import evaluation_filename, evaluation_xlsx
from indicators.models import EvaluationScheme, Filing, ReportForm
from indicators.selectors import STATUS_LABELS, completeness, filers_by_form
from indicators.services.evaluation import evaluation_run, evaluation_table
from reports import xlsx
from reports.content import MonthlyContext
from reports.models import Kind, Report

Progress = Callable[[int, str], None]


@dataclass
class Built:
    data: dict
    xlsx: bytes | None = None
    filename: str = ""


@dataclass
class Cache:
    monthly: dict = field(default_factory=dict)

    def monthly_context(self, report: Report, now: datetime) -> MonthlyContext:
        key = (report.county_id, report.period)
        if key not in self.monthly:
            self.monthly = {}  # one county at a time: the sweep goes county by county
            self.monthly[key] = MonthlyContext.load(report.county, Period.parse(report.period), now)
        return self.monthly[key]


def filename(title: str, on: date) -> str:
    return f"{safe_filename(title)}_{on:%Y%m%d}.xlsx"


def build(report: Report, *, now: datetime, cache: Cache, progress: Progress) -> Built:
    return BUILDERS[report.kind](report, now, cache, progress)


def _monthly(report: Report, now: datetime, cache: Cache, progress: Progress) -> Built:
    today = local_date(now)
    progress(10, _("Reading ledgers, filings and indicators"))
    context = cache.monthly_context(report, now)
    progress(60, _("Writing the table"))
    data = context.data(report.alliance, report.title)
    content = xlsx.workbook(xlsx.monthly_tables(data), unit=_unit(report), on=today)
    return Built(data, content, filename(report.title, today))


def _unit(report: Report) -> str:
    from django.utils import translation

    with translation.override(OFFICIAL_LANGUAGE):
        if report.alliance_id:
            return report.alliance.name
        return _("%(county)s卫生健康局") % {"county": report.county.name}


def scheme_for(county) -> EvaluationScheme | None:
    """The quarterly scheme a county is evaluated by: its own active one, else the shared 附件6."""
    schemes = list(EvaluationScheme.objects.filter(is_active=True, period_kind=PeriodKind.QUARTER)
                   .filter(Q(county=county) | Q(county__isnull=True)))
    schemes.sort(key=lambda s: (s.county_id is None, s.code != SCHEME_CODE, s.pk))
    return schemes[0] if schemes else None


def evaluated_counties(counties) -> set[int]:
    """Counties with a quarterly scheme to be evaluated by (one query)."""
    owners = set(EvaluationScheme.objects.filter(is_active=True, period_kind=PeriodKind.QUARTER)
                 .values_list("county_id", flat=True))
    return {c.pk for c in counties if None in owners or c.pk in owners}


def _quarterly(report: Report, now: datetime, cache: Cache, progress: Progress) -> Built:
    today = local_date(now)
    scheme = scheme_for(report.county)
    if scheme is None:
        raise ValidationError(_("No active quarterly evaluation scheme for %(county)s.") % {"county": report.county})
    progress(10, _("Evaluating the quarter"))
    run = evaluation_run(scheme=scheme, county=report.county, period=report.period)
    progress(70, _("Writing the table"))
    expected, filed = quarter_filings(report.county, Period.parse(report.period))
    table = evaluation_table(run)
    content = evaluation_xlsx(run, table=table, on=today)
    data = {
        "title": report.title, "county": report.county.name, "period": report.period,
        "period_label": Period.parse(report.period).label, "as_of": today.isoformat(),
        "scheme": scheme.name, "run_id": run.pk, "full_marks": str(table.full_marks),
        "filings_expected": expected, "filings_filed": filed,
        "alliances": [{"name": c.unit.name, "total": str(c.total), "full_marks": str(c.full_marks),
                       "rate": str(c.rate) if c.rate is not None else "", "rank": c.rank}
                      for c in sorted(table.alliances, key=lambda c: (c.rank or 999, c.unit.name))],
        "members": [{"alliance": c.alliance.name, "name": c.unit.name, "total": str(c.total),
                     "full_marks": str(c.full_marks), "rate": str(c.rate) if c.rate is not None else "",
                     "rank": c.rank} for c in sorted(table.members, key=lambda c: (c.rank or 999, c.unit.name))],
    }
    return Built(data, content, evaluation_filename(run, today))


def quarter_filings(county, quarter: Period) -> tuple[int, int]:
    """(expected, filed) institution filings of ``quarter``: its months of the monthly forms and the
    quarter of the quarterly ones. One query per form and three more."""
    expected = filed = 0
    forms = list(ReportForm.objects.filter(county=county, is_active=True,
                                           filer_level=ReportForm.FilerLevel.INSTITUTION,
                                           period_kind__in=[PeriodKind.MONTH, PeriodKind.QUARTER])
                 .exclude(code__in=DERIVED_FORMS))
    filers = filers_by_form(list(forms))
    for form in forms:
        first = form.files_from()
        periods = [p for p in quarter.subperiods(form.kind) if not first or p.start >= first.start]
        ids = [i.pk for i in filers.get(form.pk, [])]
        expected += len(ids) * len(periods)
        filed += Filing.objects.filter(form=form, institution_id__in=ids, period__in=[str(p) for p in periods],
                                       status__in=Filing.COUNTED).count()
    return expected, filed


def signed_workbook(content: bytes, *, commentary: str, signer: str, on: date) -> bytes:
    """The draft's workbook with the bureau's sign-off: a sheet 审核意见 after the tables."""
    from django.utils import translation

    wb = load_workbook(BytesIO(content))
    with translation.override(OFFICIAL_LANGUAGE):
        ws = wb.create_sheet(_("审核意见"))
        ws.column_dimensions["A"].width = 16
        ws.column_dimensions["B"].width = 80
        rows = [(_("审核意见"), commentary or _("同意上报。")), (_("审核人"), signer),
                (_("审核日期"), f"{on.year}年{on.month}月{on.day}日")]
        for number, (label, value) in enumerate(rows, start=1):
            core_xlsx.put(ws, number, 1, label)
            cell = core_xlsx.put(ws, number, 2, value)  # the commentary and the signer's name: text
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        book.fit_row_heights(ws, 1, len(rows))  # a long commentary wraps in column B
    return core_xlsx.save(wb)


def _alert(report: Report, now: datetime, cache: Cache, progress: Progress) -> Built:
    quarterly = Report.objects.filter(kind=Kind.QUARTERLY, scope_key=report.scope_key, period=report.period).first()
    state = quarterly.get_state_display() if quarterly else _("not generated")
    return Built({"title": report.title, "county": report.county.name, "period": report.period,
                  "period_label": Period.parse(report.period).label, "quarterly_id": quarterly.pk if quarterly else None,
                  "state": str(state), "deadline": quarterly.deadline.isoformat() if quarterly else ""})


def missing_filings(county, period: Period, today: date, *, overdue: bool) -> list[dict]:
    """Institutions' filings missing for ``period`` (a month; a quarterly form counts in its
    quarter's last month): those not yet due (``overdue`` False, reminders) or past due (True)."""
    rows = []
    forms = ReportForm.objects.filter(county=county, is_active=True, filer_level=ReportForm.FilerLevel.INSTITUTION,
                                      period_kind__in=[PeriodKind.MONTH, PeriodKind.QUARTER]) \
        .exclude(code__in=DERIVED_FORMS).order_by("code", "pk")
    for form in forms:
        if form.kind == PeriodKind.MONTH:
            form_period = period
        elif period.index % 3 == 0:
            form_period = period.containing(PeriodKind.QUARTER)
        else:
            continue
        first = form.files_from()
        if first and first.start > form_period.start:
            continue
        due = form.due_date(form_period)
        if overdue != (due < today):
            continue
        result = completeness(form, form_period, trend_periods=1)
        for tally in result.groups:
            for institution, status in tally.missing:
                rows.append({
                    "institution_id": institution.pk, "institution": institution.name,
                    "alliance_id": tally.alliance.pk if tally.alliance else None,
                    "alliance": tally.alliance.name if tally.alliance else str(_("Not in an alliance")),
                    "form": form.name, "period": form_period.label, "due": due.isoformat(),
                    "days_late": (today - due).days if overdue else 0, "status": str(STATUS_LABELS[status]),
                })
    return rows


def _reminder(report: Report, now: datetime, cache: Cache, progress: Progress) -> Built:
    today = local_date(now)
    rows = missing_filings(report.county, Period.parse(report.period), today, overdue=False)
    return Built({"title": report.title, "county": report.county.name, "period": report.period,
                  "period_label": Period.parse(report.period).label, "as_of": today.isoformat(), "rows": rows})


def _late(report: Report, now: datetime, cache: Cache, progress: Progress) -> Built:
    today = local_date(now)
    rows = missing_filings(report.county, Period.parse(report.period), today, overdue=True)
    if report.alliance_id:
        rows = [r for r in rows if r["alliance_id"] == report.alliance_id]
    data = {"title": report.title, "county": report.county.name, "period": report.period,
            "period_label": Period.parse(report.period).label, "as_of": today.isoformat(), "rows": rows}
    content = xlsx.workbook(xlsx.late_tables(data), unit=_unit(report), on=today)
    return Built(data, content, filename(report.title, today))


def _task_digest(report: Report, now: datetime, cache: Cache, progress: Progress) -> Built:
    """The week's task digest of a county or an alliance (the alliance's own assignments and those of
    its members today), for a group robot: the open responsible assignments by light, those that
    became overdue in the last seven days, and the five longest overdue by item and unit (no names of
    people). A constant number of queries."""
    from alliances.models import AllianceMembership
    from tasks.models import Assignment, AssignmentEvent
    from tasks.selectors import most_overdue, status_counts

    today = local_date(now)
    lead = Assignment.objects.filter(county=report.county, is_active=True, role=Assignment.Role.LEAD)
    if report.alliance_id:
        members = AllianceMembership.objects.on(today).filter(alliance_id=report.alliance_id).values("institution_id")
        lead = lead.filter(Q(alliance_id=report.alliance_id) | Q(institution_id__in=members))
    counts = status_counts(lead)
    new_overdue = AssignmentEvent.objects.filter(
        assignment__in=lead, kind=AssignmentEvent.Kind.OVERDUE, happened_at__gte=now - timedelta(days=7)).count()
    worst = [{"number": a.item.number, "text": a.item.text[:40], "unit": a.unit_name,
              "days_late": (today - a.due_date).days if a.due_date else 0} for a in most_overdue(lead, limit=5)]
    lines = [_("Open tasks %(open)d: red (overdue) %(red)d, yellow (behind) %(yellow)d, blue (due soon) %(blue)d; "
               "%(new)d became overdue this week.") % {"open": counts.open, "red": counts.red, "yellow": counts.yellow,
                                                      "blue": counts.blue, "new": new_overdue}]
    if worst:
        lines.append(_("Longest overdue:"))
        lines += [_("%(number)s %(text)s — %(unit)s, %(days_late)d days late") % row for row in worst]
    return Built({"title": report.title, "county": report.county.name, "as_of": today.isoformat(),
                  "open": counts.open, "red": counts.red, "yellow": counts.yellow, "blue": counts.blue,
                  "new_overdue": new_overdue, "worst": worst, "lines": lines})


REVENUE_STRUCTURE = ("A4_26", "A4_31", "A4_29", "A4_30", "A4_16", "A4_12")


def _finance_half(report: Report, now: datetime, cache: Cache, progress: Progress) -> Built:
    """An alliance's half-year: budget execution by line (the newest approved budget, filed figures of
    the half), its 医保 global budget so far, and the revenue-structure indicators of the half."""
    from finance.budgets import execution
    from finance.insurance import county_settlements
    from finance.models import Budget, SettlementRule
    from indicators.engine import Engine, Units
    from indicators.indicator_tables import MET_LABELS, met_state, target_text, value_text
    from indicators.models import Indicator

    today = local_date(now)
    period = Period.parse(report.period)
    alliance = report.alliance
    progress(10, _("Reading the budget and the filed figures"))
    budget = (Budget.objects.filter(alliance=alliance, year=period.year, state=Budget.State.APPROVED)
              .order_by("-number").first())
    lines = []
    months = 0
    if budget is not None:
        result = execution(budget, through=period.end)
        months = result.months
        for row in result.rows:
            total = row["cells"][0]
            lines.append({"line": str(row["line"].label), "part": bool(row["line"].part_of),
                          "budget": _money(total.budget), "actual": _money(total.actual),
                          "rate": f"{total.rate}%" if total.rate is not None else "", "warning": row["warning"],
                          "rate_value": "" if total.rate is None else str(total.rate),
                          "bar": _bar(total.rate)})
    rule = SettlementRule.objects.filter(county=report.county, year=period.year).first()
    insurance = next((s for s in county_settlements(report.county, period.year, rule, through=period.end)
                      if s.budget.alliance_id == alliance.pk), None)
    progress(50, _("Computing the indicators"))
    indicators = list(Indicator.objects.filter(county__isnull=True, code__in=REVENUE_STRUCTURE, is_active=True))
    indicators.sort(key=lambda i: REVENUE_STRUCTURE.index(i.code))
    computed = {}
    if indicators:
        units = Units("alliance", [alliance.pk], {alliance.pk: report.county_id})
        computed = Engine(indicators, [report.county_id]).compute(period, "alliance", units=units)
    indicator_rows = []
    for indicator in indicators:
        found = computed.get((indicator.pk, alliance.pk))
        state = met_state(found)
        number = found.value if found else None
        indicator_rows.append({"name": indicator.name, "value": value_text(indicator, number),
                               "number": "" if number is None else str(round(number, indicator.decimals)),
                               "unit": indicator.unit_label,
                               "target": target_text(indicator), "met": state, "met_label": str(MET_LABELS[state])})
    data = {
        "title": report.title, "county": report.county.name, "unit": alliance.name, "level": "alliance",
        "period": report.period, "period_label": period.label, "as_of": today.isoformat(),
        "budget": f"v{budget.number} {budget.get_kind_display()}" if budget else "", "months": months,
        "elapsed": str(result.elapsed) if budget is not None else "", "elapsed_bar": _bar(result.elapsed) if budget else 0,
        "execution": lines, "indicators": indicator_rows,
        "insurance": {"budget": _money(insurance.settlement.budget), "actual": _money(insurance.settlement.actual),
                      "rate": f"{insurance.settlement.rate}%", "months": insurance.months} if insurance else None,
    }
    progress(70, _("Writing the table"))
    content = xlsx.workbook(xlsx.finance_half_tables(data), unit=alliance.name, on=today)
    return Built(data, content, filename(report.title, today))


CHART_MAX = 150  # the printable page's bars run to 150 % (a line far ahead is cut there)


def _bar(rate) -> int:
    """A rate as the width of its bar on the printable page, in % of the chart's width."""
    if rate is None:
        return 0
    return int(min(max(rate, 0), CHART_MAX) * 100 / CHART_MAX)


def _money(value) -> str:
    return "" if value is None else f"{value:,.2f}"


BUILDERS = {Kind.MONTHLY: _monthly, Kind.QUARTERLY: _quarterly, Kind.SIGNOFF_ALERT: _alert,
            Kind.REMINDER: _reminder, Kind.LATE: _late, Kind.FINANCE_HALF: _finance_half,
            Kind.TASK_DIGEST: _task_digest}
