"""Pages of the organisation tree: county structure, alliances, institutions, joint offices.

Every queryset and object comes from ``alliances.scoping``: GET pages use the
"view" action, forms and POSTs the "change" action (a record the user sees but
may not change answers 403, a foreign or missing one 404). Memberships are
written only through ``alliances.services``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from alliances import exports, scoping, selectors, services
from alliances.forms import (
    AddMemberForm,
    AllianceFilterForm,
    AllianceForm,
    DeactivateForm,
    InstitutionFilterForm,
    InstitutionForm,
    JointOfficeForm,
    MembersOnForm,
    MoveForm,
)
from alliances.models import Alliance, AllianceMembership, GovernanceMember, Institution, JointOffice, Region

K = Institution.Kind
VIEW, CHANGE = scoping.VIEW, scoping.CHANGE
PAGE_SIZE = 50


# Helpers ----------------------------------------------------------------------------------

# Where a service error belongs in a form, by its code (see alliances.services); others go above the form.
MOVE_ERROR_FIELDS = {
    "move_too_early": "on", "later_membership": "on", "same_alliance": "target", "other_county": "target",
    "lead_kind": "role", "two_leads": "role",
}
ADD_MEMBER_ERROR_FIELDS = {
    "move_too_early": "valid_from", "later_membership": "valid_from", "same_alliance": "institution",
    "other_county": "institution", "village_clinic": "institution", "lead_kind": "role", "two_leads": "role",
}
DEACTIVATE_ERROR_FIELDS = {"history_after_last_day": "last_day", "later_membership": "last_day",
                           "move_too_early": "last_day"}
CREATE_ALLIANCE_ERROR_FIELDS = {
    "move_too_early": "lead_from", "later_membership": "lead_from", "lead_kind": "lead", "other_county": "lead",
}


def add_service_errors(form, exc: ValidationError, fields_by_code: dict[str, str] | None = None) -> None:
    """Show a service's ``ValidationError`` in ``form``: next to the field it concerns when its code
    says which, above the form otherwise."""
    fields_by_code = fields_by_code or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error.messages)
        return
    for error in exc.error_list:
        field = fields_by_code.get(error.code)
        form.add_error(field if field in form.fields else None, error.messages)


def _require_membership_change(user, county_id: int) -> None:
    """Moving institutions between alliances is the county bureau's decision (see scoping)."""
    if not scoping.scope_of(user).can_change_county(county_id):
        raise PermissionDenied(_("Only the county health bureau changes alliance memberships."))


def _require_change_county(user) -> None:
    if not scoping.counties_for(user, CHANGE).exists():
        raise PermissionDenied(_("You may not create records in any county."))


def _joint_partners(user, *, county: Region | None = None, institution_ids=None) -> dict[int, list[dict]]:
    """``{institution_id: [{"office": JointOffice, "other": Institution}]}`` for the joint offices the user
    sees, in one query."""
    qs = scoping.queryset_for(user, JointOffice).select_related("first", "second")
    if county is not None:
        qs = qs.filter(first__county=county)
    if institution_ids is not None:
        ids = list(institution_ids)
        qs = qs.filter(Q(first_id__in=ids) | Q(second_id__in=ids))
    partners: dict[int, list[dict]] = defaultdict(list)
    for office in qs:
        partners[office.first_id].append({"office": office, "other": office.second})
        partners[office.second_id].append({"office": office, "other": office.first})
    return partners


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_NUMBER_RE = re.compile(r"[0-9]+|[零〇一二两三四五六七八九十百]+")


def _cn_number(text: str) -> int:
    """一 → 1, 十二 → 12, 二十三 → 23, 一百零五 → 105; Arabic digits as they are."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[ch]
    return total + current


def natural_key(name: str) -> tuple:
    """Sort 第一医共体, 第二医共体, …, 第十医共体 in their numbered order, not by code point."""
    parts: list = []
    position = 0
    for match in _NUMBER_RE.finditer(name):
        parts += [(0, name[position:match.start()]), (1, _cn_number(match.group()))]
        position = match.end()
    parts.append((0, name[position:]))
    return tuple(parts)


def _visible_alliance_ids(user, alliance_ids) -> set[int]:
    ids = {pk for pk in alliance_ids if pk}
    if not ids:
        return set()
    return set(scoping.queryset_for(user, Alliance).filter(pk__in=ids).values_list("pk", flat=True))


def _visible_institution_ids(user, institution_ids) -> set[int]:
    ids = {pk for pk in institution_ids if pk}
    if not ids:
        return set()
    return set(scoping.queryset_for(user, Institution).filter(pk__in=ids).values_list("pk", flat=True))


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


def _members_context(alliance: Alliance, on: date) -> dict:
    members = list(selectors.alliance_members_on(alliance=alliance, on=on))
    return {"alliance": alliance, "members": members, "on": on, "is_today": on == timezone.localdate()}


def alliance_page_context(request, alliance: Alliance) -> dict:
    user = request.user
    today = timezone.localdate()
    on_form = MembersOnForm(request.GET or None)
    on = today
    if on_form.is_bound and on_form.is_valid() and on_form.cleaned_data.get("on"):
        on = on_form.cleaned_data["on"]
    context = _members_context(alliance, on)
    current = context["members"] if on == today else list(selectors.alliance_members_on(alliance=alliance, on=today))
    member_ids = [m.institution_id for m in current]
    clinics = list(
        scoping.queryset_for(user, Institution)
        .filter(parent_id__in=member_ids, kind=K.VILLAGE_CLINIC)
        .select_related("parent")
        .order_by("parent__name", "name")
    )
    governance: dict[str, list[GovernanceMember]] = defaultdict(list)
    for seat in alliance.governance_members.select_related("institution").order_by("body", "order", "pk"):
        governance[seat.body].append(seat)
    bodies = [
        {"label": label, "seats": governance[value]}
        for value, label in GovernanceMember.Body.choices
        if governance.get(value)
    ]
    history = list(
        scoping.queryset_for(user, AllianceMembership)
        .filter(alliance=alliance)
        .select_related("institution")
        .order_by("-valid_from", "institution__name")
    )
    scope = scoping.scope_of(user)
    context.update(
        on_form=on_form,
        lead=next((m for m in current if m.role == AllianceMembership.Role.LEAD), None),
        member_count=len(current),
        clinics=clinics,
        bodies=bodies,
        history=history,
        can_change=alliance.is_active and scoping.can_change(user, alliance),
        can_change_members=alliance.is_active and scope.can_change_county(alliance.county_id),
        county_visible=scope.everything or alliance.county_id in scope.view_counties or bool(scope.view_alliances),
    )
    return context


def institution_page_context(request, institution: Institution) -> dict:
    user = request.user
    today = timezone.localdate()
    is_clinic = institution.kind == K.VILLAGE_CLINIC
    memberships = scoping.queryset_for(user, AllianceMembership).select_related("alliance")
    # A village clinic follows its township centre.
    current = memberships.on(today).filter(
        institution_id=institution.parent_id if is_clinic else institution.pk
    ).first()
    history = list(memberships.filter(institution=institution).order_by("-valid_from"))
    clinics = list(
        scoping.queryset_for(user, Institution).filter(parent=institution).order_by("-is_active", "name")
    )
    parent = None
    if institution.parent_id:
        parent = scoping.queryset_for(user, Institution).filter(pk=institution.parent_id).first()
    partners = _joint_partners(user, institution_ids=[institution.pk]).get(institution.pk, [])
    visible_alliances = _visible_alliance_ids(
        user, [m.alliance_id for m in history] + ([current.alliance_id] if current else [])
    )
    scope = scoping.scope_of(user)
    can_change = institution.is_active and scoping.can_change(user, institution)
    can_change_members = institution.is_active and scope.can_change_county(institution.county_id)
    return {
        "institution": institution,
        "is_clinic": is_clinic,
        "current": current,
        "history": history,
        "clinics": clinics,
        "parent": parent,
        "partners": partners,
        "visible_alliances": visible_alliances,
        "today": today,
        "can_change": can_change,
        "can_move": can_change_members and not is_clinic,
        "can_deactivate": can_change_members,
        "can_link": scope.can_change_county(institution.county_id) and not is_clinic,
        "can_create_here": scope.can_change_county(institution.county_id),
        "county_visible": scope.everything or institution.county_id in scope.view_counties,
    }


# Regions ----------------------------------------------------------------------------------

@login_required
def region_detail(request, region_pk: int):
    region = scoping.get_for_user(request.user, Region, region_pk)
    if region.is_county:
        return render(request, "alliances/region_detail.html", county_structure_context(request.user, region))
    return render(request, "alliances/region_rollup.html", rollup_context(request.user, region=region))


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
    response = HttpResponse(
        content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


# Alliances --------------------------------------------------------------------------------

@login_required
def alliance_list(request):
    user = request.user
    today = timezone.localdate()
    form = AllianceFilterForm(request.GET or None, user=user)
    form.is_valid()  # invalid filters are shown on the form and ignored
    data = getattr(form, "cleaned_data", {})
    in_force = Q(memberships__valid_from__lte=today) & (
        Q(memberships__valid_to__isnull=True) | Q(memberships__valid_to__gte=today)
    )
    lead_name = (
        AllianceMembership.objects.on(today)
        .filter(alliance=OuterRef("pk"), role=AllianceMembership.Role.LEAD)
        .values("institution__name")[:1]
    )
    lead_id = (
        AllianceMembership.objects.on(today)
        .filter(alliance=OuterRef("pk"), role=AllianceMembership.Role.LEAD)
        .values("institution_id")[:1]
    )
    qs = scoping.queryset_for(user, Alliance).select_related("county")
    active = data.get("active") or "1"
    if active == "1":
        qs = qs.filter(is_active=True)
    elif active == "0":
        qs = qs.filter(is_active=False)
    if data.get("county"):
        qs = qs.filter(county=data["county"])
    qs = qs.annotate(
        lead_name=Subquery(lead_name),
        lead_id=Subquery(lead_id),
        member_count=Count("memberships", filter=in_force, distinct=True),
        clinic_count=Count(
            "memberships__institution__children",
            filter=in_force & Q(memberships__institution__children__kind=K.VILLAGE_CLINIC,
                                memberships__institution__children__is_active=True),
            distinct=True,
        ),
    )
    # Alliances are few (a handful per county): sort them in their numbered order, then paginate.
    rows = sorted(qs, key=lambda a: (a.county.code, natural_key(a.name)))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "alliances/alliance_list.html", {
        "page": page,
        "form": form,
        "today": today,
        "can_create": scoping.counties_for(user, CHANGE).exists(),
    })


@login_required
def alliance_detail(request, alliance_pk: int):
    alliance = scoping.get_for_user(request.user, Alliance, alliance_pk,
                                    queryset=scoping.queryset_for(request.user, Alliance).select_related("county"))
    return render(request, "alliances/alliance_detail.html", alliance_page_context(request, alliance))


@login_required
def alliance_members(request, alliance_pk: int):
    """The members table on a date (the HTMX part of the alliance page)."""
    alliance = scoping.get_for_user(request.user, Alliance, alliance_pk)
    form = MembersOnForm(request.GET or None)
    on = timezone.localdate()
    if form.is_bound and form.is_valid() and form.cleaned_data.get("on"):
        on = form.cleaned_data["on"]
    context = _members_context(alliance, on)
    context["on_form"] = form
    return render(request, "alliances/_members_table.html", context)


@login_required
def alliance_create(request):
    user = request.user
    _require_change_county(user)
    county_pk = request.GET.get("county", "")
    initial = {"county": county_pk} if county_pk.isascii() and county_pk.isdigit() else {}
    form = AllianceForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                alliance = form.save()
                lead = form.cleaned_data.get("lead")
                if lead:
                    services.institution_move(institution=lead, to_alliance=alliance,
                                              on=form.cleaned_data["lead_from"], role=AllianceMembership.Role.LEAD)
        except ValidationError as exc:
            form.instance.pk = None  # rolled back
            add_service_errors(form, exc, CREATE_ALLIANCE_ERROR_FIELDS)
        except IntegrityError:
            form.instance.pk = None
            form.add_error(None, _("The data changed while you were editing; please check and try again."))
        else:
            messages.success(request, _("Alliance “%(name)s” was created.") % {"name": alliance.name})
            return redirect("alliances:alliance_detail", alliance_pk=alliance.pk)
    return render(request, "alliances/alliance_form.html", {"form": form, "alliance": None})


@login_required
def alliance_edit(request, alliance_pk: int):
    user = request.user
    alliance = scoping.get_for_user(user, Alliance, alliance_pk, CHANGE)
    form = AllianceForm(request.POST or None, instance=alliance, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                form.save()
        except IntegrityError:
            form.add_error(None, _("The data changed while you were editing; please check and try again."))
        else:
            messages.success(request, _("Alliance “%(name)s” was saved.") % {"name": alliance.name})
            return redirect("alliances:alliance_detail", alliance_pk=alliance.pk)
    return render(request, "alliances/alliance_form.html", {"form": form, "alliance": alliance})


@login_required
def alliance_deactivate(request, alliance_pk: int):
    user = request.user
    alliance = scoping.get_for_user(user, Alliance, alliance_pk, CHANGE)
    _require_membership_change(user, alliance.county_id)
    detail_url = reverse("alliances:alliance_detail", kwargs={"alliance_pk": alliance.pk})
    if not alliance.is_active:
        messages.info(request, _("Alliance “%(name)s” is already inactive.") % {"name": alliance.name})
        return redirect(detail_url)
    form = DeactivateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.alliance_deactivate(alliance=alliance, last_day=form.cleaned_data["last_day"])
        except ValidationError as exc:
            alliance.refresh_from_db()
            add_service_errors(form, exc, DEACTIVATE_ERROR_FIELDS)
        else:
            messages.success(request, _("Alliance “%(name)s” was deactivated; its memberships end on %(day)s.")
                             % {"name": alliance.name, "day": form.cleaned_data["last_day"].isoformat()})
            return redirect(detail_url)
    return render(request, "alliances/confirm_form.html", {
        "form": form,
        "object": alliance,
        "title": _("Deactivate alliance"),
        "message": _("Deactivating “%(name)s” ends every membership still open on the last active day. "
                     "The membership history is kept.") % {"name": alliance.name},
        "submit_label": _("Deactivate"),
        "danger": True,
        "cancel_url": detail_url,
    })


@login_required
def alliance_add_member(request, alliance_pk: int):
    user = request.user
    alliance = scoping.get_for_user(user, Alliance, alliance_pk, CHANGE)
    _require_membership_change(user, alliance.county_id)
    detail_url = reverse("alliances:alliance_detail", kwargs={"alliance_pk": alliance.pk})
    if not alliance.is_active:
        messages.error(request, _("An inactive alliance takes no new members."))
        return redirect(detail_url)
    form = AddMemberForm(request.POST or None, user=user, alliance=alliance)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                services.institution_move(institution=data["institution"], to_alliance=alliance,
                                          on=data["valid_from"], role=data["role"], note=data["note"])
        except ValidationError as exc:
            add_service_errors(form, exc, ADD_MEMBER_ERROR_FIELDS)
        except IntegrityError:
            form.add_error(None, _("The data changed while you were editing; please check and try again."))
        else:
            messages.success(request, _("“%(institution)s” is a member of “%(alliance)s” from %(day)s.") % {
                "institution": data["institution"].name, "alliance": alliance.name,
                "day": data["valid_from"].isoformat()})
            return redirect(detail_url)
    return render(request, "alliances/add_member.html", {"form": form, "alliance": alliance,
                                                         "cancel_url": detail_url})


# Institutions -----------------------------------------------------------------------------

@login_required
def institution_list(request):
    user = request.user
    today = timezone.localdate()
    form = InstitutionFilterForm(request.GET or None, user=user)
    form.is_valid()  # invalid filters are shown on the form and ignored
    data = getattr(form, "cleaned_data", {})
    qs = scoping.queryset_for(user, Institution).select_related("county", "parent")
    active = data.get("active") or "1"
    if active == "1":
        qs = qs.filter(is_active=True)
    elif active == "0":
        qs = qs.filter(is_active=False)
    if data.get("q"):
        term = data["q"].strip()
        qs = qs.filter(Q(name__icontains=term) | Q(short_name__icontains=term))
    if data.get("county"):
        qs = qs.filter(county=data["county"])
    if data.get("kind"):
        qs = qs.filter(kind=data["kind"])
    if data.get("alliance"):
        members = (
            scoping.queryset_for(user, AllianceMembership).on(today)
            .filter(alliance=data["alliance"]).values("institution_id")
        )
        qs = qs.filter(Q(pk__in=members) | Q(parent_id__in=members, kind=K.VILLAGE_CLINIC))
    # Each township centre is followed by its village clinics.
    qs = qs.order_by("county__code", Coalesce("parent__name", "name"), F("parent_id").asc(nulls_first=True), "name")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    institutions = list(page.object_list)
    # The alliance of each row today (a village clinic follows its centre): one query for the page.
    follow = {i.pk: (i.parent_id if i.kind == K.VILLAGE_CLINIC else i.pk) for i in institutions}
    memberships = {
        m.institution_id: m
        for m in scoping.queryset_for(user, AllianceMembership).on(today)
        .filter(institution_id__in={pk for pk in follow.values() if pk})
        .select_related("alliance")
    }
    visible_alliances = _visible_alliance_ids(user, [m.alliance_id for m in memberships.values()])
    for institution in institutions:
        institution.membership_today = memberships.get(follow[institution.pk])
    return render(request, "alliances/institution_list.html", {
        "page": page,
        "institutions": institutions,
        "form": form,
        "visible_alliances": visible_alliances,
        "can_create": scoping.counties_for(user, CHANGE).exists(),
        "today": today,
    })


@login_required
def institution_detail(request, institution_pk: int):
    institution = scoping.get_for_user(
        request.user, Institution, institution_pk,
        queryset=scoping.queryset_for(request.user, Institution).select_related("county"),
    )
    return render(request, "alliances/institution_detail.html", institution_page_context(request, institution))


@login_required
def institution_create(request):
    user = request.user
    _require_change_county(user)
    initial = {}
    parent_pk = request.GET.get("parent")
    if parent_pk:
        parent = None
        if parent_pk.isascii() and parent_pk.isdigit():
            parent = scoping.queryset_for(user, Institution, CHANGE).filter(pk=int(parent_pk)).first()
        if parent:
            initial = {"parent": parent.pk, "county": parent.county_id, "kind": K.VILLAGE_CLINIC}
    form = InstitutionForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                institution = form.save()
        except IntegrityError:
            form.instance.pk = None
            form.add_error(None, _("The data changed while you were editing; please check and try again."))
        else:
            messages.success(request, _("Institution “%(name)s” was created.") % {"name": institution.name})
            return redirect("alliances:institution_detail", institution_pk=institution.pk)
    return render(request, "alliances/institution_form.html", {"form": form, "institution": None})


@login_required
def institution_edit(request, institution_pk: int):
    user = request.user
    institution = scoping.get_for_user(user, Institution, institution_pk, CHANGE)
    form = InstitutionForm(request.POST or None, instance=institution, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                form.save()
        except IntegrityError:
            form.add_error(None, _("The data changed while you were editing; please check and try again."))
        else:
            messages.success(request, _("Institution “%(name)s” was saved.") % {"name": institution.name})
            return redirect("alliances:institution_detail", institution_pk=institution.pk)
    return render(request, "alliances/institution_form.html", {"form": form, "institution": institution})


@login_required
def institution_deactivate(request, institution_pk: int):
    user = request.user
    institution = scoping.get_for_user(user, Institution, institution_pk, CHANGE)
    _require_membership_change(user, institution.county_id)
    detail_url = reverse("alliances:institution_detail", kwargs={"institution_pk": institution.pk})
    if not institution.is_active:
        messages.info(request, _("Institution “%(name)s” is already inactive.") % {"name": institution.name})
        return redirect(detail_url)
    form = DeactivateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.institution_deactivate(institution=institution, last_day=form.cleaned_data["last_day"])
        except ValidationError as exc:
            institution.refresh_from_db()
            add_service_errors(form, exc, DEACTIVATE_ERROR_FIELDS)
        except IntegrityError:
            institution.refresh_from_db()
            form.add_error(None, _("The data changed while you were editing; please check and try again."))
        else:
            messages.success(request, _("Institution “%(name)s” was deactivated.") % {"name": institution.name})
            return redirect(detail_url)
    return render(request, "alliances/confirm_form.html", {
        "form": form,
        "object": institution,
        "title": _("Deactivate institution"),
        "message": _("Deactivating “%(name)s” ends its alliance membership on the last active day. "
                     "The membership history is kept.") % {"name": institution.name},
        "submit_label": _("Deactivate"),
        "danger": True,
        "cancel_url": detail_url,
    })


@login_required
def institution_move(request, institution_pk: int):
    user = request.user
    institution = scoping.get_for_user(user, Institution, institution_pk, CHANGE)
    _require_membership_change(user, institution.county_id)
    detail_url = reverse("alliances:institution_detail", kwargs={"institution_pk": institution.pk})
    if institution.kind == K.VILLAGE_CLINIC:
        messages.error(request, _("A village clinic does not join an alliance itself; it follows its township "
                                  "health centre. Change its managing institution instead."))
        return redirect(detail_url)
    today = timezone.localdate()
    current = selectors.institution_membership_on(institution=institution, on=today)
    form = MoveForm(request.POST or None, user=user, institution=institution)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                services.institution_move(institution=institution, to_alliance=data["to_alliance"],
                                          on=data["on"], role=data["role"], note=data["note"])
        except ValidationError as exc:
            add_service_errors(form, exc, MOVE_ERROR_FIELDS)
        except IntegrityError:
            form.add_error(None, _("The data changed while you were editing; please check and try again."))
        else:
            if data["to_alliance"] is None:
                text = _("“%(institution)s” belongs to no alliance from %(day)s.")
            else:
                text = _("“%(institution)s” belongs to “%(alliance)s” from %(day)s.")
            messages.success(request, text % {
                "institution": institution.name, "day": data["on"].isoformat(),
                "alliance": data["to_alliance"].name if data["to_alliance"] else ""})
            return redirect(detail_url)
    history = list(
        scoping.queryset_for(user, AllianceMembership).filter(institution=institution)
        .select_related("alliance").order_by("-valid_from")
    )
    return render(request, "alliances/institution_move.html", {
        "form": form, "institution": institution, "current": current, "history": history,
        "cancel_url": detail_url,
    })


# Joint offices ----------------------------------------------------------------------------

@login_required
def joint_office_create(request):
    user = request.user
    _require_change_county(user)
    initial = {}
    first_pk = request.GET.get("institution", "")
    if first_pk.isascii() and first_pk.isdigit():
        initial["first"] = first_pk
    form = JointOfficeForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                office = services.joint_office_create(first=data["first"], second=data["second"], note=data["note"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except IntegrityError:
            form.add_error(None, _("These two institutions are already linked as a joint office."))
        else:
            messages.success(request, _("“%(first)s” and “%(second)s” are linked as a joint office.")
                             % {"first": office.first.name, "second": office.second.name})
            return redirect("alliances:institution_detail", institution_pk=data["first"].pk)
    return render(request, "alliances/joint_office_form.html", {"form": form})


@login_required
def joint_office_delete(request, joint_office_pk: int):
    user = request.user
    office = scoping.get_for_user(
        user, JointOffice, joint_office_pk, CHANGE,
        queryset=scoping.queryset_for(user, JointOffice).select_related("first", "second"),
    )
    back = reverse("alliances:institution_detail", kwargs={"institution_pk": office.first_id})
    if request.method == "POST":
        office.delete()
        messages.success(request, _("The joint office of “%(first)s” and “%(second)s” was removed.")
                         % {"first": office.first.name, "second": office.second.name})
        return redirect(back)
    return render(request, "alliances/confirm_form.html", {
        "form": None,
        "object": office,
        "title": _("Remove joint office"),
        "message": _("Remove the joint office link between “%(first)s” and “%(second)s”? "
                     "The two institutions stay as they are.")
        % {"first": office.first.name, "second": office.second.name},
        "submit_label": _("Remove"),
        "danger": True,
        "cancel_url": back,
    })
