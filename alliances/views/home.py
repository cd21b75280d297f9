"""The home page: what a user sees first depends on their grants."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from alliances import scoping
from alliances.models import Alliance, Institution, Region
from alliances.views.alliance_views import alliance_page_context
from alliances.views.institutions import institution_page_context
from alliances.views.regions import county_structure_context, rollup_context


@login_required
def home(request):
    """Province, city and superusers: a roll-up of their counties. County users: their county's
    structure. Alliance users: their alliance. Institution users: their institution."""
    user = request.user
    scope = scoping.scope_of(user)
    if scope.is_empty:
        # A security role alone sees no business data: its home is its work.
        if scope.runs_accounts:
            return redirect("security:user_list")
        if scope.audits:
            return redirect("security:event_list")
        return render(request, "core/no_access.html")
    above_county = bool(scope.granted_regions - scope.view_counties)  # a city or province grant
    if scope.everything or above_county or len(scope.view_counties) > 1:
        context = rollup_context(user)
        context["summary_regions"] = _summary_regions(scope, context["rows"])
        return render(request, "core/home_rollup.html", context)
    if scope.view_counties:
        county = scoping.get_for_user(user, Region, next(iter(scope.view_counties)))
        context = county_structure_context(user, county)
        context["is_home"] = True
        return render(request, "alliances/region_detail.html", context)
    if scope.view_alliances:
        if len(scope.view_alliances) > 1:
            return redirect("alliances:alliance_list")
        alliance = scoping.get_for_user(
            user, Alliance, next(iter(scope.view_alliances)),
            queryset=scoping.queryset_for(user, Alliance).select_related("county"),
        )
        context = alliance_page_context(request, alliance)
        context["is_home"] = True
        return render(request, "alliances/alliance_detail.html", context)
    if len(scope.view_institutions) > 1:
        return redirect("alliances:institution_list")
    institution = scoping.get_for_user(
        user, Institution, next(iter(scope.view_institutions)),
        queryset=scoping.queryset_for(user, Institution).select_related("county"),
    )
    context = institution_page_context(request, institution)
    context["is_home"] = True
    return render(request, "alliances/institution_detail.html", context)


def _summary_regions(scope, rows) -> list[Region]:
    """The cities and provinces granted to the user, for the links to their quarterly roll-up (read
    from the roll-up's rows, no query)."""
    regions: dict[int, Region] = {}
    for row in rows:
        city = row["city"]
        for region in (city, city.parent if city is not None else None):
            if region is not None and region.pk in scope.granted_regions:
                regions[region.pk] = region
    return sorted(regions.values(), key=lambda r: r.code)
