"""The city (and province) roll-up of the quarterly evaluation: the page and its 季度汇总表 (.xlsx).

A region the user does not see is a 404 (``scoping.get_for_user``), like a missing one; a county
user who sees the city's name but holds no grant on it gets the 403 of the page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from alliances import scoping
from alliances.models import Region
from core.clock import local_date, request_now
from core.http import xlsx_response
from core.periods import Period, PeriodError
from indicators.views.evaluation import quarter_choices
from reports import city


def _region_and_quarter(request, region_pk):
    region = scoping.get_for_user(request.user, Region, region_pk)
    if region.is_county:
        raise Http404(_("Only a city or a province has a roll-up of its counties."))
    if not scoping.reads_region_rollup(request.user, region):
        raise PermissionDenied(_("Only the city's or province's users see the roll-up of its counties."))
    today = local_date(request_now(request))
    quarters = quarter_choices(today)
    wanted = request.GET.get("period", "").strip()[:20]
    quarter = quarters[0]
    if wanted:
        try:
            quarter = Period.parse(wanted)
        except PeriodError:
            raise Http404(_("Not found.")) from None
        if quarter not in quarters:
            raise Http404(_("Not found."))
    return region, quarter, quarters, today


@login_required
@require_GET
def city_summary(request, region_pk):
    """The counties below the region side by side: score, rank, missing ones, drill-down links."""
    region, quarter, quarters, today = _region_and_quarter(request, region_pk)
    data = city.summary(request.user, region, quarter, today)
    return render(request, "reports/city_summary.html", {
        "region": region, "quarter": quarter, "quarters": quarters, "summary": data,
        "with_city": region.level == Region.Level.PROVINCE, "title": city.title(region, quarter),
    })


@login_required
@require_GET
def city_summary_xlsx(request, region_pk):
    """The 季度汇总表, once every county has signed off or from the 10th of the month after."""
    region, quarter, _quarters, today = _region_and_quarter(request, region_pk)
    data = city.summary(request.user, region, quarter, today)
    if not data.available:
        raise Http404(_("The quarterly summary is not available yet: some counties have not signed off."))
    return xlsx_response(city.summary_xlsx(data), city.filename(region, quarter, today))
