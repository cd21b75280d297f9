"""The roster (花名册) pages: the list with filters (identity numbers masked), a person with their
moves and training, the full identity number for HR officers of the right scope (logged), recording
a move (transfer, secondment, 县聘乡用), the list of moves, and the export (masked unless the user
may see the numbers whole; every full number exported is logged)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from alliances import scoping
from alliances.models import Institution
from alliances.scoping import CHANGE, VIEW
from core.clock import local_date, request_now
from core.http import xlsx_response
from staffing import identity, rules, services
from staffing.exports import roster_filename, roster_xlsx
from staffing.models import IdentityView, Move, Staff
from staffing.scoping import identity_institution_ids, may_see_identity, roster_institutions

PAGE_SIZE = 50
EXPIRING_DAYS = 90


def _visible_institutions(request) -> list[Institution]:
    scope = scoping.scope_of(request.user)
    if scope.is_empty:
        raise Http404(_("Not found."))
    return list(roster_institutions(scope, VIEW).order_by("county_id", "kind", "name"))


def _filtered(request, institutions: list[Institution]):
    qs = scoping.queryset_for(request.user, Staff).select_related("institution", "home")
    params = request.GET
    chosen = next((i for i in institutions if str(i.pk) == params.get("institution")), None)
    if chosen is not None:
        qs = qs.filter(Q(institution=chosen) | Q(home=chosen))
    for name, choices in (("employment", Staff.Employment), ("profession", Staff.Profession),
                          ("title", Staff.Title), ("education", Staff.Education)):
        if params.get(name) in choices.values:
            qs = qs.filter(**{name: params[name]})
    text = (params.get("q") or "").strip()
    if text:
        qs = qs.filter(name__contains=text)
    today = local_date(request_now(request))
    state = params.get("state", "active")
    if state == "active":
        qs = qs.filter(Q(left_on__isnull=True) | Q(left_on__gt=today))
    elif state == "left":
        qs = qs.filter(left_on__lte=today)
    elif state == "expiring":
        qs = qs.filter(contract_end__isnull=False, contract_end__gte=today,
                       contract_end__lte=today + timedelta(days=EXPIRING_DAYS)).filter(
            Q(left_on__isnull=True) | Q(left_on__gt=today))
    return qs.order_by("institution__name", "name", "pk"), chosen, state


@login_required
def roster(request):
    institutions = _visible_institutions(request)
    qs, chosen, state = _filtered(request, institutions)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    today = local_date(request_now(request))
    scope = scoping.scope_of(request.user)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "staffing/roster.html", {
        "institutions": institutions, "chosen": chosen, "state": state, "page": page, "today": today,
        "expiring_until": today + timedelta(days=EXPIRING_DAYS), "query": query.urlencode(),
        "employments": Staff.Employment.choices, "professions": Staff.Profession.choices,
        "titles": Staff.Title.choices, "educations": Staff.Education.choices,
        "can_import": roster_institutions(scope, CHANGE).exists(),
        "sees_identity": bool(identity_institution_ids(request.user)),
        "states": [("active", _("Working")), ("expiring", _("Contract ending soon")), ("left", _("Left")),
                   ("all", _("All"))],
    })


@login_required
def roster_export(request):
    """The filtered roster as .xlsx. Identity numbers in full only for the people whose numbers the user
    may see (each one logged); masked for the rest."""
    institutions = _visible_institutions(request)
    qs, _chosen, _state = _filtered(request, institutions)
    people = list(qs)
    whole = identity_institution_ids(request.user)
    now = request_now(request)
    shown = [p for p in people if p.institution_id in whole or p.home_id in whole]
    numbers = {p.pk: identity.decrypt(p.id_cipher) for p in shown}
    if shown:
        services.log_full_views(request.user, shown, IdentityView.Channel.EXPORT, now)
    services.log_roster_export(user=request.user, people=people, shown=shown, now=now, request=request,
                               county_ids=sorted({i.county_id for i in institutions}))
    today = local_date(now)
    return xlsx_response(roster_xlsx(people, numbers, on=today, unit=_unit_name(institutions)),
                         roster_filename(today))


def _unit_name(institutions: list[Institution]) -> str:
    counties = {i.county.name for i in institutions} if institutions else set()
    return "、".join(sorted(counties))


def _staff(request, staff_pk, action=VIEW) -> Staff:
    qs = scoping.queryset_for(request.user, Staff).select_related("institution", "home", "county")
    return scoping.get_for_user(request.user, Staff, staff_pk, action=action, queryset=qs)


@login_required
def staff_detail(request, staff_pk):
    staff = _staff(request, staff_pk)
    today = local_date(request_now(request))
    moves = list(staff.moves.select_related("from_institution", "to_institution", "created_by").order_by("-start"))
    place = rules.place_on(staff, moves, today)
    working = staff.institution if place == staff.institution_id else Institution.objects.get(pk=place)
    years = sorted({y for m in moves if m.kind == Move.Kind.SECONDMENT for y in range(m.start.year, m.end.year + 1)},
                   reverse=True)
    secondments = [{"move": m, "years": [{"year": y, "days": rules.secondment_days(m, y),
                                          "counts": rules.counts_for_paizhu(m, staff, y)} for y in years
                                         if rules.secondment_days(m, y)]}
                   for m in moves if m.kind == Move.Kind.SECONDMENT]
    can_change = scoping.queryset_for(request.user, Staff, CHANGE).filter(pk=staff.pk).exists()
    return render(request, "staffing/staff_detail.html", {
        "staff": staff, "moves": moves, "working": working, "secondments": secondments, "today": today,
        "trainings": list(staff.trainings.order_by("-start")), "can_change": can_change,
        "may_see_identity": may_see_identity(request.user, staff),
        "move_form": MoveForm(staff=staff, user=request.user) if can_change else None,
    })


@login_required
@require_POST
def staff_identity(request, staff_pk):
    """The whole identity number, for HR officers of the right scope; the view is logged."""
    staff = _staff(request, staff_pk)
    if not may_see_identity(request.user, staff):
        raise PermissionDenied(_("Only HR officers of this person's institution, alliance or county see the whole "
                                 "identity number."))
    number = services.full_number(request.user, staff, IdentityView.Channel.PAGE, request_now(request),
                                  request=request)
    return render(request, "staffing/_identity.html", {"staff": staff, "number": number})


class MoveForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Move.Kind.choices)
    to_institution = forms.ModelChoiceField(label=gettext_lazy("Moved to"), queryset=Institution.objects.none())
    start = forms.DateField(label=gettext_lazy("Start"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=gettext_lazy("End (secondments)"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)

    def __init__(self, *args, staff: Staff, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_institution"].queryset = Institution.objects.filter(
            county_id=staff.county_id, is_active=True).exclude(kind=Institution.Kind.VILLAGE_CLINIC).order_by("kind",
                                                                                                           "name")


@login_required
@require_POST
def move_new(request, staff_pk):
    staff = _staff(request, staff_pk, action=CHANGE)
    form = MoveForm(request.POST, staff=staff, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.record_move(staff, kind=data["kind"], to=data["to_institution"], start=data["start"],
                                 end=data["end"], note=data["note"], user=request.user, now=request_now(request))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
    if form.errors:
        messages.error(request, _("The move was not recorded: %(errors)s") % {"errors": "；".join(
            f"{form.fields[name].label if name in form.fields else ''}：{'，'.join(errs)}".lstrip("：")
            for name, errs in form.errors.items())})
        return redirect("staffing:staff_detail", staff_pk=staff.pk)
    messages.success(request, _("The move is recorded."))
    return redirect("staffing:staff_detail", staff_pk=staff.pk)


@login_required
def moves(request):
    scope = scoping.scope_of(request.user)
    if scope.is_empty:
        raise Http404(_("Not found."))
    today = local_date(request_now(request))
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    kind = request.GET.get("kind") if request.GET.get("kind") in Move.Kind.values else ""
    qs = scoping.queryset_for(request.user, Move).select_related("staff", "from_institution", "to_institution") \
        .filter(start__lte=f"{year}-12-31").filter(Q(end__isnull=True, start__year=year) | Q(end__gte=f"{year}-01-01"))
    if kind:
        qs = qs.filter(kind=kind)
    rows = []
    for move in qs.order_by("-start", "-pk")[:500]:
        row = {"move": move, "days": None, "counts": False}
        if move.kind == Move.Kind.SECONDMENT:
            row["days"] = rules.secondment_days(move, year)
            row["counts"] = rules.counts_for_paizhu(move, move.staff, year)
        rows.append(row)
    return render(request, "staffing/moves.html", {
        "rows": rows, "year": year, "kind": kind, "kinds": Move.Kind.choices,
        "years": list(range(today.year + 1, today.year - 5, -1)),
        "paizhu": sum(1 for r in rows if r.get("counts")),
    })
