"""The county structure page (with its xlsx export) and the roll-up of counties above a county."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from alliances import exports, scoping, selectors
from alliances.models import Alliance, AllianceMembership, Institution, Region
from alliances.views.common import (
    VIEW,
    K,
    _joint_partners,
    natural_key,
)
from core.http import xlsx_response

# Page contexts (used by the pages here and by the home page) ------------------------------

def county_structure_context(user, county: Region, *, today: date | None = None) -> dict:
    """The county → alliances → members → village clinics tree, joint offices and the
    institutions in no alliance. A constant number of queries whatever the size of the county."""
    today = today or timezone.localdate()
    scope = scoping.scope_of(user)
    full_view = scope.everything or county.pk in scope.view_counties
    alliance_qs = scoping.queryset_for(user, Alliance).filter(county=county)
    alliances = selectors.alliances_with_structure(alliances=alliance_qs.filter(is_active=True), on=today)
    alliances.sort(key=lambda a: natural_key(a.name))
    inactive_alliances = list(alliance_qs.filter(is_active=False).order_by("name").only("pk", "name", "county_id"))
    partners = _joint_partners(user, county=county)
    for alliance in alliances:
        for membership in alliance.current_memberships:
            membership.institution.joint = partners.get(membership.institution_id, [])
            for clinic in membership.institution.village_clinics:
                clinic.joint = partners.get(clinic.pk, [])

    unaffiliated = []
    if full_view:
        in_alliance = scoping.queryset_for(user, AllianceMembership).on(today).values("institution_id")
        unaffiliated = list(
            scoping.queryset_for(user, Institution)
            .filter(county=county, is_active=True)
            .exclude(kind=K.VILLAGE_CLINIC)
            .exclude(pk__in=in_alliance)
            .annotate(clinic_count=Count("children", filter=Q(children__kind=K.VILLAGE_CLINIC,
                                                                children__is_active=True)))
            .order_by("kind", "name")
        )
        for institution in unaffiliated:
            institution.joint = partners.get(institution.pk, [])
        counts = selectors.county_counts(county_ids=[county.pk], on=today)[county.pk]
    else:
        # Users who see only part of the county get the figures of what they see.
        counts = {
            "alliances": len(alliances),
            "institutions": sum(a.member_count for a in alliances),
            "village_clinics": sum(a.clinic_count for a in alliances),
            "unaffiliated": None,
        }
    return {
        "county": county,
        "region": county,
        "today": today,
        "alliances": alliances,
        "inactive_alliances": inactive_alliances,
        "unaffiliated": unaffiliated,
        "counts": counts,
        "full_view": full_view,
        "joint_offices": sorted({p["office"] for ps in partners.values() for p in ps}, key=lambda o: o.pk),
        "can_change": scope.can_change_county(county.pk),
    }


def rollup_context(user, *, region: Region | None = None, today: date | None = None) -> dict:
    """The counties the user sees (below ``region`` when given) with their counts. Three queries."""
    today = today or timezone.localdate()
    counties = scoping.counties_for(user, VIEW).select_related("parent", "parent__parent")
    if region is not None and not region.is_county:
        counties = counties.filter(Q(parent=region) | Q(parent__parent=region))
    counties = list(counties.order_by("code"))
    counts = selectors.county_counts(county_ids=[c.pk for c in counties], on=today) if counties else {}
    rows = [{"county": c, "city": c.parent, **counts[c.pk]} for c in counties]
    totals = {key: sum(r[key] for r in rows) for key in ("alliances", "institutions", "village_clinics",
                                                         "unaffiliated")}
    return {"region": region, "rows": rows, "totals": totals, "today": today}


# Regions ----------------------------------------------------------------------------------

@login_required
def region_detail(request, region_pk: int):
    region = scoping.get_for_user(request.user, Region, region_pk)
    if region.is_county:
        return render(request, "alliances/region_detail.html", county_structure_context(request.user, region))
    context = rollup_context(request.user, region=region)
    context["can_summary"] = scoping.reads_region_rollup(request.user, region)
    return render(request, "alliances/region_rollup.html", context)


@login_required
def region_structure_xlsx(request, region_pk: int):
    region = scoping.get_for_user(request.user, Region, region_pk)
    if not region.is_county:
        raise Http404(_("Only a county has an alliance structure to export."))
    context = county_structure_context(request.user, region)
    content = exports.county_structure_workbook(
        county=region, alliances=context["alliances"], unaffiliated=context["unaffiliated"], on=context["today"]
    )
    filename = exports.county_structure_filename(region, context["today"])
    return xlsx_response(content, filename)
