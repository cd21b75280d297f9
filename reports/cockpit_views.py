"""The home page (``/``): the 驾驶舱 that fits the user (``reports.cockpit``). Security roles alone
keep their security pages; a user no cockpit fits gets the structure page as before
(``alliances.views.home``). The structure pages stay at their own URLs and each cockpit links them.

Every cockpit shows the open 预警 the user may see (``reports.alerts.open_alerts_summary``); a filer's
only when there are some."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from alliances import scoping
from alliances.models import Alliance, Region
from alliances.views.home import home as structure_home
from core.clock import request_now
from reports import cockpit
from reports.alerts import open_alerts_summary


@login_required
@require_safe
def home(request):
    user = request.user
    scope = scoping.scope_of(user)
    chosen = cockpit.home_for(user) if not scope.is_empty else cockpit.Home(None)
    if chosen.kind is None:
        return structure_home(request)
    now = request_now(request)
    if chosen.kind in (cockpit.COUNTY, cockpit.SUPERVISOR):
        county = scoping.get_for_user(user, Region, chosen.county_id)
        builder = cockpit.county_context if chosen.kind == cockpit.COUNTY else cockpit.supervisor_context
        context = builder(user, county, now)
    elif chosen.kind == cockpit.ALLIANCE:
        alliance = scoping.get_for_user(user, Alliance, chosen.alliance_id,
                                        queryset=scoping.queryset_for(user, Alliance).select_related("county"))
        context = cockpit.alliance_context(user, alliance, now)
    elif chosen.kind == cockpit.FILER:
        context = cockpit.filer_context(user, now)
    else:
        context = cockpit.region_context(user, chosen.region_ids, now)
    context.update({"cockpit_kind": chosen.kind, "cockpit_title": cockpit.title_for(chosen.kind), "scope": scope})
    alerts = open_alerts_summary(user)
    if alerts["count"] or chosen.kind != cockpit.FILER:
        context["alerts"] = {**alerts, "url": reverse("reports:alert_list"),
                             "template": "reports/cockpit/_alert_rows.html"}
    return render(request, f"reports/cockpit/{chosen.kind}.html", context)
