"""Reads behind the filing pages: what is due for whom (我的填报), completeness and timeliness
(expected / filed / on time / late / missing), the review queue and the figures shown beside
each cell. Each read is a constant number of queries whatever the number of institutions,
forms and periods.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from alliances import scoping
from alliances.models import Alliance, AllianceMembership, Institution
from core.periods import Period, PeriodKind
from indicators.models import DataValue, Filing, ReportForm
from indicators.scoping import current_member_ids

# How many periods back 我的填报 looks, by period type.
PERIODS_SHOWN = {PeriodKind.MONTH: 6, PeriodKind.QUARTER: 4, PeriodKind.HALF_YEAR: 2, PeriodKind.YEAR: 2}
NOT_STARTED = "not_started"
STATUS_LABELS = {NOT_STARTED: _("Not started"), **dict(Filing.Status.choices)}
# What needs the filer's hand first: returned, then not started or draft, then the rest.
STATUS_ORDER = {Filing.Status.RETURNED: 0, NOT_STARTED: 1, Filing.Status.DRAFT: 1, Filing.Status.SUBMITTED: 2,
                Filing.Status.APPROVED: 3, Filing.Status.LOCKED: 3}
FILED = set(Filing.COUNTED)


def due_periods(form: ReportForm, today: date, count: int | None = None) -> list[Period]:
    """The form's periods that have ended by ``today`` (so can be filed), newest first: the last
    ``count`` of them, never before the form's first period."""
    kind = form.kind
    latest = Period.containing_date(kind, today).previous
    count = count or PERIODS_SHOWN[kind]
    first = form.files_from()
    periods = []
    for step in range(count):
        period = latest.shift(-step)
        if first and period.start < first.start:
            break
        periods.append(period)
    return periods


def filers_by_form(forms: list[ReportForm], institutions: QuerySet[Institution] | None = None
                   ) -> dict[int, list[Institution]]:
    """{form id: active institutions that file it} (two queries). ``institutions`` narrows the
    candidates (e.g. to those a user files for)."""
    forms = [f for f in forms if f.filer_level == ReportForm.FilerLevel.INSTITUTION]
    if not forms:
        return {}
    listed = defaultdict(set)
    for form_id, institution_id in ReportForm.institutions.through.objects.filter(
            reportform_id__in=[f.pk for f in forms]).values_list("reportform_id", "institution_id"):
        listed[form_id].add(institution_id)
    candidates = institutions if institutions is not None else Institution.objects.all()
    candidates = candidates.filter(county_id__in={f.county_id for f in forms}, is_active=True).order_by("pk")
    result: dict[int, list[Institution]] = {f.pk: [] for f in forms}
    for institution in candidates:
        for form in forms:
            if form.county_id == institution.county_id and (
                    institution.kind in (form.institution_kinds or []) or institution.pk in listed[form.pk]):
                result[form.pk].append(institution)
    return result


def local_day(moment) -> date | None:
    return timezone.localtime(moment).date() if moment else None


@dataclass
class DueRow:
    """One form × filer × period on 我的填报."""

    form: ReportForm
    institution: Institution | None
    period: Period
    filing: Filing | None
    due_date: date
    lock_date: date
    today: date

    @property
    def status(self) -> str:
        return self.filing.status if self.filing else NOT_STARTED

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def filer_name(self) -> str:
        return self.institution.name if self.institution else str(self.form.county.name)

    @property
    def is_filed(self) -> bool:
        return self.status in FILED

    @property
    def days_left(self) -> int:
        return (self.due_date - self.today).days

    @property
    def days_late(self) -> int:
        """Days past the due day: for a filed form, how late it came; else how late it is now."""
        if self.is_filed:
            day = local_day(self.filing.first_submitted_at or self.filing.submitted_at)
            return max(0, (day - self.due_date).days) if day else 0
        return max(0, (self.today - self.due_date).days)

    @property
    def sort_key(self):
        # What needs doing: the oldest deadline first; what is done: the latest period first.
        order = STATUS_ORDER[self.status]
        day = self.due_date.toordinal()
        return (order, day if order < 2 else -day, self.form.code, self.filer_name)


def _filer_condition(institutions: list[Institution], county_forms: list[ReportForm]) -> Q:
    condition = Q(institution_id__in=[i.pk for i in institutions])
    if county_forms:
        condition |= Q(institution__isnull=True, form_id__in=[f.pk for f in county_forms])
    return condition


def my_filing_rows(user, today: date) -> list[DueRow]:
    """Every form × period due for the institutions ``user`` files for (their own institution, or
    the alliance's members for the alliance office), and the county-level forms for the bureau.
    Five queries."""
    scope = scoping.scope_of(user)
    own = Institution.objects.filter(
        Q(pk__in=scope.report_institutions) | Q(parent_id__in=scope.report_institutions)
        | Q(pk__in=current_member_ids(scope.report_alliances)))
    if not (scope.report_institutions or scope.report_alliances):
        own = own.none()
    county_ids = set(own.values_list("county_id", flat=True).distinct()) | set(scope.change_counties)
    forms = list(ReportForm.objects.filter(county_id__in=county_ids, is_active=True).select_related("county")
                 .order_by("code"))
    filers = filers_by_form(forms, own)
    county_forms = [f for f in forms if f.filer_level == ReportForm.FilerLevel.COUNTY
                    and (scope.everything or f.county_id in scope.change_counties)]
    plan = []  # (form, institution or None, period)
    for form in forms:
        periods = due_periods(form, today)
        if form.filer_level == ReportForm.FilerLevel.COUNTY:
            if form in county_forms:
                plan += [(form, None, p) for p in periods]
            continue
        plan += [(form, inst, p) for inst in filers.get(form.pk, []) for p in periods]
    if not plan:
        return []
    institutions = sorted({inst for _f, inst, _p in plan if inst is not None}, key=lambda i: i.pk)
    filings = Filing.objects.filter(_filer_condition(institutions, county_forms),
                                    form_id__in=[f.pk for f in forms],
                                    period__in={str(p) for _f, _i, p in plan})
    by_key = {(f.form_id, f.institution_id, f.period): f for f in filings}
    rows = [DueRow(form, inst, period, by_key.get((form.pk, inst.pk if inst else None, str(period))),
                   form.due_date(period), form.lock_date(period), today) for form, inst, period in plan]
    rows.sort(key=lambda row: row.sort_key)
    return rows


# Completeness and timeliness ---------------------------------------------------------------

@dataclass
class Tally:
    """Reporting figures of one group (an alliance, the unaffiliated, the county)."""

    label: str
    alliance: Alliance | None = None
    expected: int = 0
    filed: int = 0
    on_time: int = 0
    late: int = 0
    missing: list[tuple[Institution, str]] = field(default_factory=list)

    @property
    def rate(self) -> Decimal | None:
        return _percent(self.filed, self.expected)

    @property
    def timely_rate(self) -> Decimal | None:
        return _percent(self.on_time, self.expected)

    def add(self, institution: Institution, filing: Filing | None, due: date) -> None:
        self.expected += 1
        if filing is not None and filing.status in FILED:
            self.filed += 1
            day = local_day(filing.first_submitted_at or filing.submitted_at)
            if day is not None and day > due:
                self.late += 1
            else:
                self.on_time += 1
        else:
            self.missing.append((institution, filing.status if filing else NOT_STARTED))


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


@dataclass
class Completeness:
    form: ReportForm
    period: Period
    due_date: date
    groups: list[Tally]
    total: Tally
    trend: list[tuple[Period, Tally]]


def completeness(form: ReportForm, period: Period, *, alliance_ids: set[int] | None = None,
                 trend_periods: int = 6) -> Completeness:
    """Expected / filed / on time / late / missing of ``form`` for ``period`` by alliance (the
    membership in force at the period's end), with the missing institutions, and the county's
    figures for the periods before. Four queries (five for a county-level form's trend)."""
    periods = [period.shift(-step) for step in range(trend_periods)]
    first = form.files_from()
    if first:
        periods = [p for p in periods if p.start >= first.start] or [period]
    filings = {}
    for filing in Filing.objects.filter(form=form, period__in=[str(p) for p in periods]).only(
            "pk", "institution_id", "period", "status", "submitted_at", "first_submitted_at"):
        filings[(filing.institution_id, filing.period)] = filing
    if form.filer_level == ReportForm.FilerLevel.COUNTY:
        total = Tally(str(form.county.name))
        county_filer = Institution(name=str(form.county.name))
        total.add(county_filer, filings.get((None, str(period))), form.due_date(period))
        trend = []
        for p in periods:
            tally = Tally(p.label)
            tally.add(county_filer, filings.get((None, str(p))), form.due_date(p))
            trend.append((p, tally))
        return Completeness(form, period, form.due_date(period), [], total, trend)

    filers = filers_by_form([form])[form.pk]
    memberships = {m.institution_id: m for m in AllianceMembership.objects.on(period.end).filter(
        institution_id__in=[i.pk for i in filers]).select_related("alliance")}
    groups: dict[int | None, Tally] = {}
    total = Tally(_("County total"))
    for institution in filers:
        membership = memberships.get(institution.pk)
        alliance = membership.alliance if membership else None
        if alliance_ids is not None and (alliance is None or alliance.pk not in alliance_ids):
            continue
        key = alliance.pk if alliance else None
        if key not in groups:
            groups[key] = Tally(alliance.name if alliance else str(_("Not in an alliance")), alliance)
        filing = filings.get((institution.pk, str(period)))
        groups[key].add(institution, filing, form.due_date(period))
        total.add(institution, filing, form.due_date(period))
    counted = {i.pk for i in filers if alliance_ids is None or (
        memberships.get(i.pk) and memberships[i.pk].alliance_id in alliance_ids)}
    trend = []
    for p in periods:
        tally = Tally(p.label)
        for institution in filers:
            if institution.pk in counted:
                tally.add(institution, filings.get((institution.pk, str(p))), form.due_date(p))
        trend.append((p, tally))
    ordered = sorted(groups.values(), key=lambda t: (t.alliance is None, t.alliance.pk if t.alliance else 0))
    return Completeness(form, period, form.due_date(period), ordered, total, trend)


# Beside each cell ------------------------------------------------------------------------------

def reference_values(filing: Filing) -> dict[str, dict[int, Decimal | None]]:
    """The filer's values of the previous period and of the same period last year, by element id
    (one query)."""
    period = Period.parse(filing.period)
    previous, last_year = str(period.previous), str(period.same_period_last_year)
    qs = DataValue.objects.filter(period__in=[previous, last_year], filing__form_id=filing.form_id)
    qs = qs.filter(institution_id=filing.institution_id) if filing.institution_id else qs.filter(
        institution__isnull=True, county_id=filing.county_id)
    result: dict[str, dict[int, Decimal | None]] = {"previous": {}, "last_year": {}}
    for element_id, value_period, value in qs.values_list("element_id", "period", "value"):
        result["previous" if value_period == previous else "last_year"][element_id] = value
    return result


def review_queue(user) -> QuerySet[Filing]:
    """Submitted filings the user reviews, oldest submission first."""
    return (scoping.queryset_for(user, Filing, scoping.CHANGE).filter(status=Filing.Status.SUBMITTED)
            .select_related("form", "institution", "county", "submitted_by").order_by("submitted_at", "pk"))
