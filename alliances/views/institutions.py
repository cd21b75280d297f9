"""Institution pages: list, detail, create, edit, deactivate, move to another alliance."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from alliances import scoping, selectors, services
from alliances.forms import (
    DeactivateForm,
    InstitutionFilterForm,
    InstitutionForm,
    MoveForm,
)
from alliances.models import AllianceMembership, Institution
from alliances.views.common import (
    CHANGE,
    DEACTIVATE_ERROR_FIELDS,
    MOVE_ERROR_FIELDS,
    PAGE_SIZE,
    K,
    _forget_unsaved,
    _joint_partners,
    _require_change_county,
    _require_membership_change,
    _visible_alliance_ids,
    write_or_report,
)

# Page contexts (used by the pages here and by the home page) ------------------------------

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
        saved, institution = write_or_report(form, form.save, on_failure=lambda: _forget_unsaved(form))
        if saved:
            messages.success(request, _("Institution “%(name)s” was created.") % {"name": institution.name})
            return redirect("alliances:institution_detail", institution_pk=institution.pk)
    return render(request, "alliances/institution_form.html", {"form": form, "institution": None})


@login_required
def institution_edit(request, institution_pk: int):
    user = request.user
    institution = scoping.get_for_user(user, Institution, institution_pk, CHANGE)
    form = InstitutionForm(request.POST or None, instance=institution, user=user)
    if request.method == "POST" and form.is_valid():
        saved, _institution = write_or_report(form, form.save)
        if saved:
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
        saved, _institution = write_or_report(
            form,
            lambda: services.institution_deactivate(institution=institution, last_day=form.cleaned_data["last_day"]),
            DEACTIVATE_ERROR_FIELDS, on_failure=institution.refresh_from_db)
        if saved:
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
        saved, _membership = write_or_report(
            form, lambda: services.institution_move(institution=institution, to_alliance=data["to_alliance"],
                                                    on=data["on"], role=data["role"], note=data["note"]),
            MOVE_ERROR_FIELDS)
        if saved:
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
