"""Alliance pages: list, detail, members on a date, create, edit, deactivate, add a member."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from alliances import scoping, selectors, services
from alliances.forms import (
    AddMemberForm,
    AllianceFilterForm,
    AllianceForm,
    DeactivateForm,
    MembersOnForm,
)
from alliances.models import Alliance, AllianceMembership, GovernanceMember, Institution
from alliances.views.common import (
    ADD_MEMBER_ERROR_FIELDS,
    CHANGE,
    CREATE_ALLIANCE_ERROR_FIELDS,
    DEACTIVATE_ERROR_FIELDS,
    PAGE_SIZE,
    K,
    _forget_unsaved,
    _require_change_county,
    _require_membership_change,
    natural_key,
    write_or_report,
)

# Page contexts (used by the pages here and by the home page) ------------------------------

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
    # The county whose alliance members the user may import here: the one filtered on, or the only one.
    changeable = scoping.counties_for(user, CHANGE)
    if data.get("county"):
        import_county = changeable.filter(pk=data["county"].pk).first()
        can_create = import_county is not None or changeable.exists()
    else:
        first = list(changeable[:2])
        can_create, import_county = bool(first), (first[0] if len(first) == 1 else None)
    return render(request, "alliances/alliance_list.html", {
        "page": page,
        "form": form,
        "today": today,
        "can_create": can_create,
        "import_county": import_county,
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
        def create():
            created = form.save()
            lead = form.cleaned_data.get("lead")
            if lead:
                services.institution_move(institution=lead, to_alliance=created,
                                          on=form.cleaned_data["lead_from"], role=AllianceMembership.Role.LEAD)
            return created

        saved, alliance = write_or_report(form, create, CREATE_ALLIANCE_ERROR_FIELDS,
                                          on_failure=lambda: _forget_unsaved(form))
        if saved:
            messages.success(request, _("Alliance “%(name)s” was created.") % {"name": alliance.name})
            return redirect("alliances:alliance_detail", alliance_pk=alliance.pk)
    return render(request, "alliances/alliance_form.html", {"form": form, "alliance": None})


@login_required
def alliance_edit(request, alliance_pk: int):
    user = request.user
    alliance = scoping.get_for_user(user, Alliance, alliance_pk, CHANGE)
    form = AllianceForm(request.POST or None, instance=alliance, user=user)
    if request.method == "POST" and form.is_valid():
        saved, _alliance = write_or_report(form, form.save)
        if saved:
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
        saved, _alliance = write_or_report(
            form, lambda: services.alliance_deactivate(alliance=alliance, last_day=form.cleaned_data["last_day"]),
            DEACTIVATE_ERROR_FIELDS, on_failure=alliance.refresh_from_db)
        if saved:
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
        saved, _membership = write_or_report(
            form, lambda: services.institution_move(institution=data["institution"], to_alliance=alliance,
                                                    on=data["valid_from"], role=data["role"], note=data["note"]),
            ADD_MEMBER_ERROR_FIELDS)
        if saved:
            messages.success(request, _("“%(institution)s” is a member of “%(alliance)s” from %(day)s.") % {
                "institution": data["institution"].name, "alliance": alliance.name,
                "day": data["valid_from"].isoformat()})
            return redirect(detail_url)
    return render(request, "alliances/add_member.html", {"form": form, "alliance": alliance,
                                                         "cancel_url": detail_url})
