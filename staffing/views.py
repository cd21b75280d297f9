"""Staffing overview (编制 pooled in each alliance, posts against their quotas, contracts about to
end), the establishment / post quotas / population forms, and the talent targets page (the
metrics of seed 001 附件3 from the roster, against their goals, with the monthly trend filed by the
snapshot)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import scoping
from alliances.models import AllianceMembership, Institution, Region
from alliances.scoping import CHANGE, VIEW
from core.clock import local_date, request_now
from core.http import xlsx_response
from core.periods import Period, PeriodKind
from indicators.models import DataValue
from staffing import rules, targets
from staffing.exports import establishment_filename, establishment_xlsx, targets_filename, targets_xlsx
from staffing.models import Establishment, Grade, Move, Population, PostQuota, PostType, Staff
from staffing.scoping import roster_institutions

EXPIRING_DAYS = 90
TREND_MONTHS = 12


def _counties(request) -> list[Region]:
    scope = scoping.scope_of(request.user)
    if scope.everything:
        return list(Region.objects.filter(level=Region.Level.COUNTY).order_by("pk"))
    ids = scope.view_counties | scope.context_counties
    return list(Region.objects.filter(pk__in=ids, level=Region.Level.COUNTY).order_by("pk"))


def _county(request) -> tuple[Region, list[Region]]:
    counties = _counties(request)
    if not counties:
        raise Http404(_("Not found."))
    wanted = request.GET.get("county")
    return next((c for c in counties if str(c.pk) == wanted), counties[0]), counties


def _alliance_tables(county: Region, visible: set[int], day: date) -> list[dict]:
    """Each alliance of ``county`` with a visible member: its members' establishment rows (visible
    members only) and the pooled row (when every member is visible). Five queries."""
    memberships = list(AllianceMembership.objects.on(day).filter(alliance__county=county, alliance__is_active=True)
                       .select_related("alliance", "institution").order_by("alliance_id", "role", "institution__name"))
    member_ids = [m.institution_id for m in memberships]
    approvals = list(Establishment.objects.filter(institution_id__in=member_ids))
    staff = list(Staff.objects.filter(Q(home_id__in=member_ids) | Q(institution_id__in=member_ids))
                 .filter(hired_on__lte=day).exclude(left_on__lte=day))
    moves: dict[int, list[Move]] = defaultdict(list)
    for move in Move.objects.filter(county=county, start__lte=day):
        moves[move.staff_id].append(move)
    quotas = defaultdict(dict)
    for quota in PostQuota.objects.filter(institution_id__in=member_ids):
        quotas[quota.institution_id][(quota.post_type, quota.grade)] = quota.quota
    posts_filled = defaultdict(lambda: defaultdict(int))
    for person in staff:
        posts_filled[person.home_id][(person.post_type, person.grade)] += 1
    by_alliance: dict[int, list[AllianceMembership]] = defaultdict(list)
    for membership in memberships:
        by_alliance[membership.alliance_id].append(membership)
    tables = []
    for members in by_alliance.values():
        ids = [m.institution_id for m in members]
        if not set(ids) & visible:
            continue
        rows, pooled = rules.establishment(ids, approvals, staff, moves, day)
        names = {m.institution_id: m.institution.name for m in members}
        shown = [r for r in rows if r.institution_id in visible]
        post_rows = []
        for member in members:
            if member.institution_id not in visible:
                continue
            cells = [{"quota": quotas[member.institution_id].get(key), "label": _post_label(key),
                      "name": f"post_{key[0]}_{key[1]}", "filled": posts_filled[member.institution_id].get(key, 0)}
                     for key in POST_KEYS]
            post_rows.append({"institution": member.institution, "cells": cells})
        county_ids = {m.institution_id for m in members if m.institution.kind in Institution.LEAD_KINDS}
        levels = [(_("County-level institutions"), rules.subtotal([r for r in rows if r.institution_id in county_ids])),
                  (_("Primary-care institutions"),
                   rules.subtotal([r for r in rows if r.institution_id not in county_ids]))]
        tables.append({"alliance": members[0].alliance, "rows": [(names[r.institution_id], r) for r in shown],
                       "levels": levels if len(shown) == len(rows) else [],
                       "pooled": pooled if len(shown) == len(rows) else None, "names": names,
                       "post_rows": post_rows, "members": [m.institution for m in members
                                                           if m.institution_id in visible]})
    return tables


POST_KEYS = [(t, g) for t in (PostType.PROFESSIONAL,) for g in (Grade.SENIOR, Grade.INTERMEDIATE, Grade.JUNIOR,
                                                                  Grade.NONE)] + \
            [(PostType.MANAGEMENT, Grade.NONE), (PostType.SUPPORT, Grade.NONE)]


def _post_label(key) -> str:
    post_type, grade = key
    if post_type == PostType.PROFESSIONAL:
        return f"{PostType(post_type).label}·{Grade(grade).label}"
    return str(PostType(post_type).label)


@login_required
def overview(request):
    county, counties = _county(request)
    scope = scoping.scope_of(request.user)
    today = local_date(request_now(request))
    visible = set(roster_institutions(scope, VIEW).filter(county=county).values_list("pk", flat=True))
    tables = _alliance_tables(county, visible, today)
    if request.GET.get("format") == "xlsx":
        table = next((t for t in tables if str(t["alliance"].pk) == request.GET.get("alliance")), None)
        if table is None or table["pooled"] is None:
            raise Http404(_("Not found."))
        rows = [r for _name, r in table["rows"]]
        return xlsx_response(establishment_xlsx(table["alliance"], rows, table["pooled"], table["names"], on=today),
                             establishment_filename(table["alliance"], today))
    expiring = scoping.queryset_for(request.user, Staff).filter(
        county=county, contract_end__gte=today, contract_end__lte=today + timedelta(days=EXPIRING_DAYS)).filter(
        Q(left_on__isnull=True) | Q(left_on__gt=today)).select_related("institution").order_by("contract_end")[:20]
    changeable = set(roster_institutions(scope, CHANGE).filter(county=county).values_list("pk", flat=True))
    return render(request, "staffing/overview.html", {
        "county": county, "counties": counties, "tables": tables, "today": today, "expiring": list(expiring),
        "expiring_days": EXPIRING_DAYS, "post_labels": [_post_label(k) for k in POST_KEYS],
        "can_approve": scope.can_change_county(county.pk),
        "can_set_posts": bool(changeable) and (scope.can_change_county(county.pk) or bool(scope.change_alliances)
                                               or bool(scope.hr_alliances) or county.pk in scope.hr_counties),
        "establishment_form": EstablishmentForm(), "counts": _headcounts(request, county, today),
    })


def _headcounts(request, county: Region, today: date) -> dict:
    qs = scoping.queryset_for(request.user, Staff).filter(county=county).filter(
        Q(left_on__isnull=True) | Q(left_on__gt=today))
    row = qs.aggregate(total=Count("pk"), established=Count("pk", filter=Q(employment=Staff.Employment.ESTABLISHED)))
    return row


class EstablishmentForm(forms.Form):
    class1 = forms.IntegerField(label=gettext_lazy("编制 (class 1)"), min_value=0, required=False)
    class2 = forms.IntegerField(label=gettext_lazy("编制 (class 2)"), min_value=0, required=False)
    quota = forms.IntegerField(label=gettext_lazy("员额"), min_value=0, required=False)
    document = forms.CharField(label=gettext_lazy("Approval document"), max_length=100, required=False)


def _back(institution: Institution) -> str:
    return f"{reverse('staffing:overview')}?county={institution.county_id}"


@login_required
def establishment_save(request, institution_pk):
    institution = scoping.get_for_user(request.user, Institution, institution_pk)
    if not scoping.scope_of(request.user).can_change_county(institution.county_id):
        raise PermissionDenied(_("Only the county health bureau records the approved establishment."))
    if request.method != "POST":
        return redirect(_back(institution))
    form = EstablishmentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("%(institution)s: nothing saved — %(errors)s") % {
            "institution": institution.name, "errors": "；".join(
                f"{form.fields[name].label}：{'，'.join(errs)}" for name, errs in form.errors.items())})
        return redirect(_back(institution))
    data = form.cleaned_data
    for kind, nature, value in ((Establishment.Kind.ESTABLISHMENT, Establishment.Nature.CLASS_ONE, data["class1"]),
                                (Establishment.Kind.ESTABLISHMENT, Establishment.Nature.CLASS_TWO, data["class2"]),
                                (Establishment.Kind.QUOTA, Establishment.Nature.CLASS_TWO, data["quota"])):
        if value is None:
            Establishment.objects.filter(institution=institution, kind=kind, nature=nature).delete()
        else:
            Establishment.objects.update_or_create(institution=institution, kind=kind, nature=nature,
                                                   defaults={"approved": value, "document": data["document"]})
    messages.success(request, _("%(institution)s: the establishment is saved.") % {"institution": institution.name})
    return redirect(_back(institution))


@login_required
def posts_save(request, institution_pk):
    institution = scoping.get_for_user(request.user, Institution, institution_pk)
    scope = scoping.scope_of(request.user)
    if not (scope.everything or Institution.objects.filter(pk=institution.pk, pk__in=_post_institutions(scope)).exists()):
        raise PermissionDenied(_("Only the county health bureau or the alliance office sets the posts."))
    if request.method != "POST":
        return redirect(_back(institution))
    values, errors = {}, []
    for key in POST_KEYS:
        text = (request.POST.get(f"post_{key[0]}_{key[1]}") or "").strip()
        if not text:
            values[key] = None
            continue
        if not text.isdigit():
            errors.append(_("%(post)s: “%(text)s” is not a whole number of posts.") % {"post": _post_label(key),
                                                                                     "text": text})
            continue
        values[key] = int(text)
    if errors:
        messages.error(request, _("%(institution)s: nothing saved — %(errors)s") % {
            "institution": institution.name, "errors": "；".join(errors)})
        return redirect(_back(institution))
    for (post_type, grade), value in values.items():
        if value is None:
            PostQuota.objects.filter(institution=institution, post_type=post_type, grade=grade).delete()
        else:
            PostQuota.objects.update_or_create(institution=institution, post_type=post_type, grade=grade,
                                               defaults={"quota": value})
    messages.success(request, _("%(institution)s: the posts are saved.") % {"institution": institution.name})
    return redirect(_back(institution))


def _post_institutions(scope):
    from staffing.scoping import _planners

    return Institution.objects.filter(_planners(scope)).values("pk")


@login_required
def population_save(request, region_pk):
    county = scoping.get_for_user(request.user, Region, region_pk)
    if not scoping.scope_of(request.user).can_change_county(county.pk):
        raise PermissionDenied(_("Only the county health bureau records the population."))
    back = f"{reverse('staffing:targets')}?county={county.pk}"
    if request.method != "POST":
        return redirect(back)
    year_text, residents_text = (request.POST.get("year") or "").strip(), (request.POST.get("residents") or "").strip()
    today = local_date(request_now(request))
    errors = []
    if not year_text.isdigit() or not 2000 <= int(year_text) <= today.year + 1:
        errors.append(_("Year: “%(text)s” is not a year from 2000 to next year.") % {"text": year_text})
    if not residents_text.replace(",", "").isdigit() or int(residents_text.replace(",", "")) < 1:
        errors.append(_("Resident population: “%(text)s” is not a whole number of people.") % {"text": residents_text})
    if errors:
        messages.error(request, _("Population: nothing saved — %(errors)s") % {"errors": "；".join(errors)})
        return redirect(back)
    Population.objects.update_or_create(county=county, year=int(year_text),
                                        defaults={"residents": int(residents_text.replace(",", ""))})
    messages.success(request, _("The population is saved."))
    return redirect(back)


def _trend(county: Region, months: list[Period]) -> dict[str, list]:
    """Each target metric per month from the filed snapshots (one query)."""
    kinds = dict(Institution.objects.filter(county=county).values_list("pk", "kind"))
    sums: dict[str, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    population: dict[str, int] = {}
    for institution_id, period, code, value in DataValue.objects.filter(
            county=county, counted=True, element__county__isnull=True, period__in=[str(m) for m in months],
            element__code__in=[*targets.CODES, "RESIDENT_POP"]).values_list("institution_id", "period",
                                                                             "element__code", "value"):
        if code == "RESIDENT_POP":
            population[period] = int(value)
        else:
            sums[period][institution_id][code] = int(value)
    series: dict[str, list] = {t.code: [] for t in targets.TARGETS}
    for month in months:
        key = str(month)
        if key not in sums:
            for t in targets.TARGETS:
                series[t.code].append(None)
            continue
        primary, everyone = targets.totals(sums[key], kinds)
        values = targets.metrics(primary, everyone, population.get(key))
        for t in targets.TARGETS:
            value = values[t.code]
            series[t.code].append(None if value is None else float(value))
    return series


@login_required
def targets_page(request):
    county, counties = _county(request)
    now = request_now(request)
    today = local_date(now)
    values, primary, everyone, residents = targets.county_metrics(county, today)
    rows = []
    for target in targets.TARGETS:
        value = values[target.code]
        met = targets.met(target, value)
        rows.append({"target": target, "code": target.code, "label": target.label, "baseline": target.baseline,
                     "goal": target.goal, "value": value, "met": met,
                     "met_label": "—" if met is None else (_("Goal met") if met else _("Not met")),
                     "basis": _basis(target.code, primary, everyone, residents)})
    current = Period.containing_date(PeriodKind.MONTH, today)
    months = [current.shift(-n) for n in range(TREND_MONTHS - 1, -1, -1)]
    if request.GET.get("format") == "xlsx":
        return xlsx_response(targets_xlsx(county, [{**r, "value": "" if r["value"] is None else r["value"],
                                                    "baseline": "" if r["baseline"] is None else r["baseline"],
                                                    "met_label": str(r["met_label"])} for r in rows], on=today),
                             targets_filename(county, today))
    series = _trend(county, months)
    chart = {"months": [m.label for m in months],
             "series": [{"code": t.code, "name": t.label, "goal": float(t.goal), "values": series[t.code]}
                        for t in targets.TARGETS]}
    populations = list(Population.objects.filter(county=county).order_by("-year")[:5])
    return render(request, "staffing/targets.html", {
        "county": county, "counties": counties, "rows": rows, "today": today, "residents": residents,
        "chart": chart, "populations": populations,
        "can_set_population": scoping.scope_of(request.user).can_change_county(county.pk),
    })


def _basis(code: str, primary: dict, everyone: dict, residents: int | None) -> str:
    pop = f"{residents:,}" if residents else _("no population recorded")
    doctors = primary.get("ST_DOCTORS", 0)
    return {
        "PRIMARY_STAFF": _("%(n)s people working in primary care") % {"n": primary.get("ST_STAFF", 0)},
        "PRIMARY_PER_1000": _("%(n)s / %(pop)s residents × 1,000") % {"n": primary.get("ST_STAFF", 0), "pop": pop},
        "GP_PER_10000": _("%(n)s GPs / %(pop)s residents × 10,000") % {"n": everyone.get("ST_GPS", 0), "pop": pop},
        "NURSES_PER_DOCTOR": _("%(n)s nurses / %(d)s doctors") % {"n": primary.get("ST_NURSES", 0), "d": doctors},
        "DOC_COLLEGE": _("%(n)s / %(d)s doctors") % {"n": primary.get("ST_DOC_COLLEGE", 0), "d": doctors},
        "DOC_BACHELOR": _("%(n)s / %(d)s doctors") % {"n": primary.get("ST_DOC_BACHELOR", 0), "d": doctors},
        "DOC_MID": _("%(n)s / %(d)s doctors") % {"n": primary.get("ST_DOC_MID", 0), "d": doctors},
        "DOC_SENIOR": _("%(n)s / %(d)s doctors") % {"n": primary.get("ST_DOC_SENIOR", 0), "d": doctors},
    }[code]

