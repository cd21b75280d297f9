"""Evaluation pages (评价): the runs of a county with the bureau's form to run a scheme for a
quarter, one run as the official 季度评价指标表 (items down, a value and a score per alliance
across, 合计 / 应得满分 / 得分率 / 排名, the member institutions' scores under each alliance, a chart
of the totals) and the run as .xlsx.

Who sees what is ``indicators.scoping``: everybody with a grant in a county sees its runs (an
evaluation is a county-wide ranking, so an alliance user sees every alliance's scores); only the
county bureau runs an evaluation. A run of another county is a 404, like a missing one. Every page
reads a constant number of queries whatever the number of alliances, members, items and runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from alliances import scoping
from alliances.models import Alliance, Region
from core.clock import local_date, request_now
from core.http import xlsx_response
from core.periods import Period, PeriodError, PeriodKind
from indicators.catalog import SCHEME_CODE
from indicators.exports import evaluation_filename, evaluation_title, evaluation_xlsx, orientation_text
from indicators.indicator_tables import number_text
from indicators.models import EvaluationRun, EvaluationScheme, Indicator, ReportForm, SchemeItem
from indicators.services.evaluation import Cell, UnitScores, evaluation_run, evaluation_table, latest_run

QUARTERS_OFFERED = 8
RUNS_PAGE_SIZE = 30


def _today(request):
    return local_date(request_now(request))


def latest_ended_quarter(today) -> Period:
    """The last quarter that ended before ``today``."""
    return Period.containing_date(PeriodKind.QUARTER, today).previous


def quarter_choices(today) -> list[Period]:
    """The last ``QUARTERS_OFFERED`` quarters that have ended, newest first."""
    latest = latest_ended_quarter(today)
    return [latest.shift(-i) for i in range(QUARTERS_OFFERED)]


def _counties(user) -> list[Region]:
    """Counties the user sees that have something to evaluate (report forms or alliances)."""
    return list(scoping.queryset_for(user, Region).filter(level=Region.Level.COUNTY).filter(
        Q(pk__in=ReportForm.objects.values("county_id")) | Q(pk__in=Alliance.objects.values("county_id")))
        .order_by("code"))


def _default_county(user, counties: list[Region]) -> Region | None:
    """The user's own county: one they run, else one granted to them, else the first."""
    if not counties:
        return None
    scope = scoping.scope_of(user)

    def preference(county: Region) -> int:
        if county.pk in scope.change_counties:
            return 0
        if county.pk in scope.granted_regions or county.pk in scope.context_counties:
            return 1
        return 2

    return min(counties, key=lambda c: (preference(c), c.code))


def _schemes(user, county: Region) -> list[EvaluationScheme]:
    """Active quarterly schemes the user sees for ``county``: the shared ones and the county's own,
    the shared 附件6 scheme first."""
    schemes = list(scoping.queryset_for(user, EvaluationScheme).filter(
        Q(county__isnull=True) | Q(county=county), is_active=True, period_kind=PeriodKind.QUARTER.value))
    return sorted(schemes, key=lambda s: (not (s.county_id is None and s.code == SCHEME_CODE),
                                          s.county_id is not None, s.code))


def _list_url(county: Region | None) -> str:
    url = reverse("indicators:evaluation_list")
    return f"{url}?county={county.pk}" if county else url


@login_required
@require_http_methods(["GET", "POST"])
def evaluation_list(request):
    """The runs of a county, newest first; the county bureau runs a scheme for a quarter (POST)."""
    user = request.user
    scope = scoping.scope_of(user)
    today = _today(request)
    counties = _counties(user)
    wanted = request.POST.get("county") if request.method == "POST" else request.GET.get("county")
    county = None
    if wanted:
        county = next((c for c in counties if str(c.pk) == str(wanted).strip()), None)
        if county is None:
            raise Http404(_("Not found."))
    else:
        county = _default_county(user, counties)
    can_run = county is not None and scope.can_change_county(county.pk)

    if request.method == "POST":
        if county is None or not can_run:
            raise PermissionDenied(_("Only the county health bureau runs the evaluation."))
        return _run(request, county, today)

    context = {"counties": counties, "county": county, "can_run": can_run, "today": today}
    if county is not None:
        runs = (scoping.queryset_for(user, EvaluationRun).filter(county=county)
                .select_related("scheme", "created_by").order_by("-created_at", "-pk"))
        page = Paginator(runs, RUNS_PAGE_SIZE).get_page(request.GET.get("page"))
        # The newest run of each scheme and period (older ones are kept as history).
        newest: dict[tuple[int, str], int] = {}
        for pk, scheme_id, period in runs.values_list("pk", "scheme_id", "period"):
            newest.setdefault((scheme_id, period), pk)
        rows = [{"run": run, "period": _period_or_none(run.period),
                 "is_latest": newest.get((run.scheme_id, run.period)) == run.pk} for run in page.object_list]
        context.update({"page": page, "rows": rows})
        if can_run:
            schemes = _schemes(user, county)
            quarters = quarter_choices(today)
            context.update({"schemes": schemes, "quarters": quarters, "default_quarter": quarters[0]})
    return render(request, "indicators/evaluation_list.html", context)


def _period_or_none(text: str) -> Period | None:
    try:
        return Period.parse(text)
    except PeriodError:
        return None


def _run(request, county: Region, today):
    """Run the scheme chosen in the form for the quarter chosen; messages for what cannot be run."""
    back = redirect(_list_url(county))
    scheme = next((s for s in _schemes(request.user, county) if str(s.pk) == request.POST.get("scheme", "").strip()),
                  None)
    if scheme is None:
        messages.error(request, _("Choose an evaluation scheme from the list."))
        return back
    text = request.POST.get("period", "").strip()[:20]
    try:
        period = Period.parse(text)
    except PeriodError as exc:
        messages.error(request, _("Period: %(error)s") % {"error": exc})
        return back
    if period.end >= today:
        messages.error(request, _("%(period)s has not ended yet: only a quarter that has ended can be evaluated.")
                       % {"period": period.label})
        return back
    try:
        run = evaluation_run(scheme=scheme, county=county, period=period, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return back
    messages.success(request, _("%(scheme)s for %(period)s has been computed.")
                     % {"scheme": scheme.name, "period": period.label})
    return redirect("indicators:evaluation_detail", run_pk=run.pk)


def _run_for(user, run_pk) -> EvaluationRun:
    qs = scoping.queryset_for(user, EvaluationRun).select_related("scheme", "county", "created_by")
    return scoping.get_for_user(user, EvaluationRun, run_pk, queryset=qs)


# The detail page ----------------------------------------------------------------------------------

@dataclass
class CellView:
    """One alliance's (or member's) value and score on one item, as the page shows it."""

    applies: bool
    value_text: str = ""
    score: Decimal | None = None
    met: bool | None = None
    flagged: bool = False
    rank: int | None = None
    baseline_text: str = ""

    @property
    def unmet(self) -> bool:
        return self.met is False


def _value_text(value: Decimal | None, indicator: Indicator) -> str:
    if value is None:
        return ""
    return f"{number_text(value, indicator.decimals)}{indicator.unit_label or ''}"


def _cell_view(cell: Cell | None, indicator: Indicator) -> CellView:
    if cell is None:
        return CellView(applies=False)
    return CellView(applies=True, value_text=_value_text(cell.value, indicator), score=cell.score, met=cell.met,
                    flagged=cell.flagged, rank=cell.rank, baseline_text=_value_text(cell.baseline, indicator))


@dataclass
class MemberGroup:
    alliance: UnitScores
    members: list[UnitScores]
    rows: list[tuple[UnitScores, list[CellView]]] = field(default_factory=list)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@login_required
@require_GET
def evaluation_detail(request, run_pk):
    """A run as the 季度评价指标表, with the member institutions' scores under each alliance."""
    user = request.user
    run = _run_for(user, run_pk)
    table = evaluation_table(run)
    period = table.period
    rows = []
    for number, item in enumerate(table.items, start=1):
        indicator = item.indicator
        rows.append({
            "number": number, "item": item, "indicator": indicator, "orientation": orientation_text(indicator),
            "cells": [_cell_view(column.cell(item), indicator) for column in table.alliances],
        })

    # The members' table: only the items that apply to some member, numbered as in the scheme.
    member_items = [(number, item) for number, item in enumerate(table.items, start=1)
                    if any(member.cell(item) is not None for member in table.members)]
    by_alliance: dict[int, list[UnitScores]] = {}
    for member in table.members:
        by_alliance.setdefault(member.alliance.pk, []).append(member)
    groups = []
    for column in table.alliances:
        members = by_alliance.get(column.unit.pk, [])
        group = MemberGroup(column, members)
        group.rows = [(m, [_cell_view(m.cell(item), item.indicator) for _n, item in member_items]) for m in members]
        groups.append(group)

    newest = latest_run(scheme=run.scheme, county=run.county, period=period)
    chart = {
        "names": [column.unit.name for column in table.alliances],
        "totals": [_float(column.total) for column in table.alliances],
        "full_marks": [_float(column.full_marks) for column in table.alliances],
        "rates": [_float(column.rate) for column in table.alliances],
        "ranks": [column.rank for column in table.alliances],
    }
    return render(request, "indicators/evaluation_detail.html", {
        "run": run, "table": table, "period": period, "rows": rows, "title": evaluation_title(run),
        "member_items": member_items, "groups": groups, "chart": chart,
        "colspan": 4 + 2 * len(table.alliances),
        "ranking": sorted(table.alliances, key=lambda c: (c.rank is None, c.rank or 0)),
        "newest": newest if newest is not None and newest.pk != run.pk else None,
        "can_run": scoping.scope_of(user).can_change_county(run.county_id) and run.scheme.is_active,
        "rules": [rule.label for rule in SchemeItem.Rule if any(item.rule == rule.value for item in table.items)],
    })


@login_required
@require_GET
def evaluation_export(request, run_pk):
    """The run as the 季度评价指标表 (.xlsx): the alliances, and the members on a second sheet."""
    run = _run_for(request.user, run_pk)
    today = _today(request)
    return xlsx_response(evaluation_xlsx(run, table=evaluation_table(run), on=today),
                         evaluation_filename(run, today))
