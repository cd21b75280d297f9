"""Supervision pages: the dashboard (counts by status and light, by unit, by alliance, overdue
aging, the monthly trend), the filterable list and its export, supervision orders (督办单) with
replies and escalation, and inspections (督查) with findings that become tasks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from alliances import scoping
from alliances.models import Alliance, Institution, Region
from tasks import permissions, selectors
from tasks.exports import assignment_list_filename, assignment_list_workbook
from tasks.forms import (
    AssignmentFilterForm,
    CloseForm,
    EscalateForm,
    FindingForm,
    FindingTaskForm,
    InspectionForm,
    OrderForm,
    ReplyForm,
)
from tasks.models import (
    Assignment,
    Department,
    EscalationStep,
    Inspection,
    InspectionFinding,
    Ledger,
    ProgressReport,
    SupervisionOrder,
)
from tasks.rollup_reads import dashboard_figures, rollup_counties
from tasks.services.ledgers import finding_to_task
from tasks.services.status import assignments_refresh_due
from tasks.services.supervision import (
    finding_add,
    inspection_record,
    order_close,
    order_escalate,
    order_issue,
    order_reply,
    suggest_next_step,
)
from tasks.status import local_date
from tasks.views.common import county_for, request_now, write_or_report, xlsx_response

PAGE_SIZE = 50


def _filter_form(request, user):
    counties = scoping.counties_for(user).order_by("name")
    ledgers = scoping.queryset_for(user, Ledger).filter(is_active=True).order_by("-year", "title")
    alliances = scoping.queryset_for(user, Alliance).filter(is_active=True).order_by("county_id", "name")
    form = AssignmentFilterForm(request.GET or None, counties=counties, ledgers=ledgers, alliances=alliances)
    data = form.cleaned_data if form.is_valid() else {}
    return form, data


def _filtered(request, user):
    now = request_now(request)
    form, data = _filter_form(request, user)
    visible = selectors.visible_assignments(user)
    assignments_refresh_due(now=now, county_ids=_county_ids(user, data))
    return form, data, selectors.filter_assignments(visible, data, local_date(now))


def _county_ids(user, data) -> list[int] | None:
    scope = scoping.scope_of(user)
    if data.get("county"):
        return [data["county"].pk]
    if scope.everything:
        return None
    return sorted(scope.view_counties | scope.context_counties)


def _county_reports(user, data: dict, county_ids: list[int] | None):
    """The reports of whole counties, when the user sees whole counties and nothing but the county
    is filtered (an index on county and month serves it); None otherwise (counted through the
    assignments shown)."""
    scope = scoping.scope_of(user)
    if any(v for k, v in data.items() if k != "county"):
        return None
    if county_ids is None:
        return ProgressReport.objects.all() if scope.everything else None
    if not set(county_ids) <= scope.view_counties and not scope.everything:
        return None
    return ProgressReport.objects.filter(county_id__in=county_ids)


def _live_figures(user, data: dict, qs, lead, today) -> dict:
    """The dashboard's figures counted from the assignments ``qs`` (a county, or any filter)."""
    by_county = None
    county_ids = _county_ids(user, data)
    if county_ids is None or len(county_ids) > 1:
        rows = {r["county_id"]: r for r in qs.values("county_id").annotate(**selectors.count_fields())}
        regions = Region.objects.filter(pk__in=list(rows)).order_by("code")
        by_county = [{"county": region, **rows[region.pk]} for region in regions]
    awaiting = scoping.queryset_for(user, ProgressReport).filter(
        state=ProgressReport.State.SUBMITTED, assignment__in=qs.values("pk")).count()
    return {
        "counts": selectors.status_counts(qs), "by_county": by_county,
        "by_unit": selectors.counts_by_unit(qs)[:20], "by_alliance": selectors.counts_by_alliance(qs, today),
        "aging": selectors.overdue_aging(lead, today),
        "trend": selectors.monthly_trend(lead, today, reports=_county_reports(user, data, county_ids)),
        "awaiting": awaiting,
    }


@login_required
def dashboard(request):
    """The supervisor's view of one county or of every county the user sees (a city or province
    rolls up its counties). A constant number of queries whatever the data."""
    user = request.user
    now = request_now(request)
    today = local_date(now)
    form, data, qs = _filtered(request, user)
    lead = qs.filter(role=Assignment.Role.LEAD)
    rollup_ids = None if any(data.values()) else rollup_counties(user)
    if rollup_ids is not None:
        # A city, a province: the roll-ups of its counties (tasks.rollup_reads), not their rows.
        figures = dashboard_figures(rollup_ids, today)
        open_orders = scoping.queryset_for(user, SupervisionOrder).filter(
            state=SupervisionOrder.State.OPEN, assignment__is_active=True).count()
    else:
        figures = _live_figures(user, data, qs, lead, today)
        open_orders = scoping.queryset_for(user, SupervisionOrder).filter(
            state=SupervisionOrder.State.OPEN, assignment__in=qs.values("pk")).count()
    worst = selectors.most_overdue(lead)
    for assignment in worst:
        assignment.result = assignment.status_at(now)
    trend = figures["trend"]
    return render(request, "tasks/dashboard.html", {
        **figures, "form": form,
        "chart": {"labels": [t["label"] for t in trend], "overdue": [t["overdue"] for t in trend],
                  "done": [t["done"] for t in trend], "reports": [t["reports"] for t in trend]},
        "open_orders": open_orders, "worst": worst, "today": today,
        "query": request.GET.urlencode(),
    })


@login_required
def assignment_list(request):
    """Every assignment the user sees, filtered, worst first; 50 a page. Constant queries."""
    user = request.user
    now = request_now(request)
    form, data, qs = _filtered(request, user)
    qs = selectors.with_list_data(qs).order_by(*selectors.WORST_FIRST)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    latest = selectors.latest_reports([a.pk for a in rows])
    for assignment in rows:
        assignment.result = assignment.status_at(now)
        assignment.latest = latest.get(assignment.pk)
    return render(request, "tasks/assignment_list.html", {
        "form": form, "page": page, "rows": rows, "today": local_date(now), "query": request.GET.urlencode(),
    })


@login_required
def assignment_list_xlsx(request):
    """The filtered list as an .xlsx file in the official layout (all rows, not one page)."""
    user = request.user
    now = request_now(request)
    form, data, qs = _filtered(request, user)
    rows = list(selectors.with_list_data(qs).order_by(*selectors.WORST_FIRST))
    latest = selectors.latest_reports([a.pk for a in rows])
    for assignment in rows:
        assignment.latest = latest.get(assignment.pk)
    county = data.get("county")
    if county is None:
        counties = list(scoping.counties_for(user).order_by("name")[:2])
        county = counties[0] if len(counties) == 1 else None
    county_name = county.name if county else _("所辖各县")
    filters = "；".join(f"{form.fields[k].label}：{v}" for k, v in data.items()
                       if v not in (None, "", False) and k in form.fields and k != "unit")
    content = assignment_list_workbook(title=_("%(county)s任务督办清单") % {"county": county_name},
                                       county_name=county_name, rows=rows, filters_text=filters, now=now)
    return xlsx_response(content, assignment_list_filename(county_name, local_date(now)))


# Supervision orders --------------------------------------------------------------------------

@login_required
def order_list(request):
    user = request.user
    qs = (scoping.queryset_for(user, SupervisionOrder)
          .select_related("assignment__item__ledger", "assignment__department", "assignment__institution",
                          "assignment__alliance", "issued_by").order_by("-issued_at", "-pk"))
    state = request.GET.get("state", "")
    if state in SupervisionOrder.State.values:
        qs = qs.filter(state=state)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tasks/order_list.html", {"page": page, "orders": page.object_list, "state": state,
                                                      "states": SupervisionOrder.State.choices})


@login_required
def order_create(request, assignment_pk):
    """A supervisor issues a 督办单 about one assignment."""
    user = request.user
    assignment = scoping.get_for_user(user, Assignment, assignment_pk, queryset=selectors.with_list_data(
        scoping.queryset_for(user, Assignment)))
    if not permissions.can_supervise(user, assignment.county_id):
        raise PermissionDenied(_("Only the county's supervisors issue supervision orders."))
    now = request_now(request)
    result = assignment.status_at(now)
    colour = {"red": "red", "yellow": "yellow"}.get(result.light, "blue")
    form = OrderForm(request.POST or None, initial={"colour": colour})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, order = write_or_report(form, lambda: order_issue(
            assignment=assignment, user=user, colour=data["colour"], text=data["text"], reply_due=data["reply_due"],
            now=now))
        if ok:
            messages.success(request, _("Supervision order %(number)s was issued.") % {"number": order.number})
            return redirect("tasks:order_detail", order_pk=order.pk)
    return render(request, "tasks/order_form.html", {"form": form, "assignment": assignment, "result": result})


@login_required
def order_detail(request, order_pk):
    """An order: its text, the unit's reply, the escalation steps with who and when, the portal's
    suggestion; the unit replies here, the supervisor escalates or closes."""
    user = request.user
    order = scoping.get_for_user(user, SupervisionOrder, order_pk, queryset=scoping.queryset_for(
        user, SupervisionOrder).select_related(
        "assignment__item__ledger", "assignment__department", "assignment__institution", "assignment__alliance",
        "issued_by", "replied_by", "closed_by").prefetch_related(
        Prefetch("steps", queryset=EscalationStep.objects.select_related("taken_by").order_by("taken_at", "pk"))))
    can_supervise = permissions.can_supervise(user, order.county_id)
    can_reply = permissions.can_reply(user, order)
    now = request_now(request)
    action = request.POST.get("action") if request.method == "POST" else None
    forms = {"reply": ReplyForm(), "escalate": EscalateForm(after=order.step), "close": CloseForm()}
    if action in forms:
        if action == "reply" and not can_reply or action != "reply" and not can_supervise:
            raise PermissionDenied(_("You may not do this on this order."))
        extra = {"after": order.step} if action == "escalate" else {}
        form = forms[action] = type(forms[action])(request.POST, **extra)
        if form.is_valid():
            data = form.cleaned_data
            write = {
                "reply": lambda: order_reply(order=order, user=user, text=data["reply_text"], now=now),
                "escalate": lambda: order_escalate(order=order, user=user, step=data["step"], note=data["note"],
                                                   now=now),
                "close": lambda: order_close(order=order, user=user, note=data["note"], now=now),
            }[action]
            ok, _done = write_or_report(form, write)
            if ok:
                messages.success(request, {"reply": _("Your reply was sent."), "escalate": _("The step was recorded."),
                                           "close": _("The order was closed.")}[action])
                return redirect("tasks:order_detail", order_pk=order.pk)
            if set(form.errors) == {NON_FIELD_ERRORS}:
                # Refused as a whole (a second click: closed or replied already): the page as it is now,
                # with the reason, where a form that no longer shows could not carry it.
                for error in form.non_field_errors():
                    messages.error(request, error)
                return redirect("tasks:order_detail", order_pk=order.pk)
    suggestion = suggest_next_step(order) if can_supervise and order.state != SupervisionOrder.State.CLOSED else None
    if suggestion and not forms["escalate"].is_bound:
        forms["escalate"] = EscalateForm(initial={"step": suggestion.step}, after=order.step)
    return render(request, "tasks/order_detail.html", {
        "order": order, "assignment": order.assignment, "steps": order.steps.all(), "suggestion": suggestion,
        "can_supervise": can_supervise, "can_reply": can_reply, "forms": forms,
    })


# Inspections ---------------------------------------------------------------------------------

@login_required
def inspection_list(request):
    user = request.user
    scope = scoping.scope_of(user)
    inspections = (scoping.queryset_for(user, Inspection).select_related("county", "created_by")
                   .prefetch_related("findings").order_by("-held_on", "-pk"))
    counties = Region.objects.filter(pk__in=scope.supervise_counties).order_by("name") if not scope.everything \
        else Region.objects.filter(level=Region.Level.COUNTY).order_by("name")
    page = Paginator(inspections, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tasks/inspection_list.html", {"page": page, "inspections": page.object_list,
                                                           "counties": counties})


@login_required
def inspection_create(request, region_pk):
    county = county_for(request.user, region_pk, supervise=True)
    today = local_date(request_now(request))
    form = InspectionForm(request.POST or None, initial={
        "half_year": f"{today.year}H{1 if today.month <= 6 else 2}", "held_on": today})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, inspection = write_or_report(form, lambda: inspection_record(county=county, user=request.user, **data))
        if ok:
            messages.success(request, _("The inspection was recorded; add its findings."))
            return redirect("tasks:inspection_detail", inspection_pk=inspection.pk)
    return render(request, "tasks/inspection_form.html", {"form": form, "county": county})


def _unit_choices(county_id: int) -> list[tuple[str, str]]:
    choices = [(f"department:{d.pk}", d.name) for d in Department.objects.filter(county_id=county_id, is_active=True)]
    choices += [(f"alliance:{a.pk}", a.name) for a in Alliance.objects.filter(county_id=county_id, is_active=True)]
    choices += [(f"institution:{i.pk}", i.name) for i in Institution.objects.filter(
        county_id=county_id, is_active=True).exclude(kind=Institution.Kind.VILLAGE_CLINIC)]
    return choices


def _unit_of(value: str, county_id: int):
    kind, _sep, pk = (value or "").partition(":")
    model = {"department": Department, "alliance": Alliance, "institution": Institution}.get(kind)
    if model is None or not pk.isdigit():
        return None
    return model.objects.filter(pk=int(pk), county_id=county_id).first()


@login_required
def inspection_detail(request, inspection_pk):
    user = request.user
    inspection = scoping.get_for_user(user, Inspection, inspection_pk, queryset=scoping.queryset_for(
        user, Inspection).select_related("county", "created_by"))
    can_supervise = permissions.can_supervise(user, inspection.county_id)
    units = _unit_choices(inspection.county_id) if can_supervise else []
    form = FindingForm(request.POST or None, units=units)
    if request.method == "POST":
        if not can_supervise:
            raise PermissionDenied(_("Only the county's supervisors record findings."))
        if form.is_valid():
            data = form.cleaned_data
            ok, _finding = write_or_report(form, lambda: finding_add(
                inspection=inspection, text=data["text"], severity=data["severity"],
                unit=_unit_of(data["unit"], inspection.county_id)))
            if ok:
                messages.success(request, _("The finding was recorded."))
                return redirect("tasks:inspection_detail", inspection_pk=inspection.pk)
    findings = inspection.findings.select_related("department", "institution", "alliance", "task_item").order_by("pk")
    return render(request, "tasks/inspection_detail.html", {
        "inspection": inspection, "findings": findings, "form": form, "task_form": FindingTaskForm(),
        "can_supervise": can_supervise})


@login_required
def finding_task(request, finding_pk):
    """Make a finding a task of the county's rectification ledger."""
    user = request.user
    finding = scoping.get_for_user(user, InspectionFinding, finding_pk, queryset=scoping.queryset_for(
        user, InspectionFinding).select_related("inspection", "department", "institution", "alliance"))
    if not permissions.can_supervise(user, finding.county_id):
        raise PermissionDenied(_("Only the county's supervisors do this."))
    if request.method != "POST":
        return redirect("tasks:inspection_detail", inspection_pk=finding.inspection_id)
    form = FindingTaskForm(request.POST)
    if form.is_valid():
        ok, item = write_or_report(form, lambda: finding_to_task(
            finding=finding, user=user, deadline_text=form.cleaned_data["deadline_text"], now=request_now(request)))
        if ok:
            messages.success(request, _("The finding is now task %(number)s.") % {"number": item.number})
            return redirect("tasks:item_detail", item_pk=item.pk)
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)
    return redirect("tasks:inspection_detail", inspection_pk=finding.inspection_id)
