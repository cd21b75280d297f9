"""Pages of ledgers and their items: the list, a ledger's tree, an item with its assignments and
reports, and the forms to create and edit them by hand."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from alliances import scoping
from tasks import permissions, rollup_reads, selectors
from tasks.deadlines import DeadlineKind
from tasks.exports import ledger_export_data, ledger_filename, ledger_workbook
from tasks.forms import DeadlineForm, ItemForm, LedgerForm, ReviewForm
from tasks.models import Assignment, Evidence, Ledger, ProgressReport, SupervisionOrder, TaskItem
from tasks.rollup_reads import rollup_counties
from tasks.services.ledgers import item_save, item_set_deadline, ledger_create
from tasks.services.status import assignments_refresh_due
from tasks.services.targets import target_text_of
from tasks.status import local_date
from tasks.views.common import county_for, request_now, write_or_report, xlsx_response


def _ledger(user, ledger_pk, *, edit: bool = False) -> Ledger:
    ledger = scoping.get_for_user(user, Ledger, ledger_pk,
                                  queryset=scoping.queryset_for(user, Ledger).select_related("county"))
    if edit and not permissions.can_edit_county(user, ledger.county_id):
        raise PermissionDenied(_("Only the county health bureau changes the task ledgers."))
    return ledger


def _item(user, item_pk, *, edit: bool = False) -> TaskItem:
    item = scoping.get_for_user(user, TaskItem, item_pk, queryset=scoping.queryset_for(user, TaskItem).select_related(
        "ledger__county", "section__parent", "deadline_corrected_by"))
    if edit and not permissions.can_edit_county(user, item.ledger.county_id):
        raise PermissionDenied(_("Only the county health bureau changes the task ledgers."))
    return item


@login_required
def ledger_list(request):
    """Every ledger the user sees, with its progress, and the county's actions (import, new)."""
    user = request.user
    now = request_now(request)
    scope = scoping.scope_of(user)
    rollup_ids = rollup_counties(user)
    ledgers = scoping.queryset_for(user, Ledger).filter(is_active=True).select_related("county")
    if rollup_ids is None:
        ledgers = ledgers.annotate(item_count=Count("items", filter=Q(items__is_active=True)))
    ledgers = list(ledgers.order_by("county__name", "-year", "title"))
    ledger_ids = [ledger.pk for ledger in ledgers]
    assignments_refresh_due(now=now, county_ids={ledger.county_id for ledger in ledgers})
    if rollup_ids is not None:  # a city, a province: the roll-ups of its counties
        progress = rollup_reads.ledger_progress(rollup_ids, ledger_ids, local_date(now))
        items = rollup_reads.ledger_items(ledger_ids)
        for ledger in ledgers:
            ledger.item_count = items.get(ledger.pk, 0)
    else:
        progress = selectors.ledger_progress(selectors.visible_assignments(user), ledger_ids)
    for ledger in ledgers:
        ledger.progress = progress.get(ledger.pk)
    counties = list(scoping.counties_for(user, scoping.CHANGE).order_by("name"))
    return render(request, "tasks/ledger_list.html", {
        "ledgers": ledgers, "editable_counties": counties,
        "supervise_counties": scope.supervise_counties, "today": local_date(now),
    })


@login_required
def ledger_create_view(request, region_pk):
    county = county_for(request.user, region_pk, edit=True)
    form = LedgerForm(request.POST or None, initial={"year": local_date(request_now(request)).year})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, ledger = write_or_report(form, lambda: ledger_create(
            county=county, user=request.user, title=data["title"], year=data["year"], doc_number=data["doc_number"],
            issuer=data["issuer"], issued_on=data["issued_on"], note=data["note"]))
        if ok:
            messages.success(request, _("The ledger was created; add its items."))
            return redirect("tasks:ledger_detail", ledger_pk=ledger.pk)
    return render(request, "tasks/ledger_form.html", {"form": form, "county": county, "ledger": None})


@login_required
def ledger_edit(request, ledger_pk):
    ledger = _ledger(request.user, ledger_pk, edit=True)
    form = LedgerForm(request.POST or None, instance=ledger)
    if request.method == "POST" and form.is_valid():
        ok, _ledger_saved = write_or_report(form, form.save)
        if ok:
            messages.success(request, _("The ledger was saved."))
            return redirect("tasks:ledger_detail", ledger_pk=ledger.pk)
    return render(request, "tasks/ledger_form.html", {"form": form, "county": ledger.county, "ledger": ledger})


@login_required
def ledger_detail(request, ledger_pk):
    """The ledger as a tree (action → key task → item), each item with its units, deadline and
    lights. A constant number of queries whatever the size of the ledger."""
    user = request.user
    ledger = _ledger(user, ledger_pk)
    now = request_now(request)
    assignments_refresh_due(now=now, county_ids=[ledger.county_id])
    visible = selectors.visible_assignments(user).filter(item__ledger=ledger)
    items = list(scoping.queryset_for(user, TaskItem).filter(ledger=ledger, is_active=True)
                 .select_related("section__parent").order_by("order", "pk"))
    by_item: dict[int, list[Assignment]] = defaultdict(list)
    for assignment in visible.select_related("department", "institution", "alliance").order_by("role", "pk"):
        by_item[assignment.item_id].append(assignment)
    groups: list[dict] = []
    for item in items:
        item.visible_assignments = by_item.get(item.pk, [])
        top = item.section.parent if item.section and item.section.parent_id else item.section
        key = item.section if item.section and item.section.parent_id else None
        if not groups or groups[-1]["top"] != top:
            groups.append({"top": top, "keys": []})
        keys = groups[-1]["keys"]
        if not keys or keys[-1]["key"] != key:
            keys.append({"key": key, "items": []})
        keys[-1]["items"].append(item)
    counts = selectors.status_counts(visible)
    return render(request, "tasks/ledger_detail.html", {
        "ledger": ledger, "groups": groups, "counts": counts, "item_count": len(items),
        "needs_deadline": sum(1 for item in items if item.needs_deadline),
        "can_edit": permissions.can_edit_county(user, ledger.county_id), "today": local_date(now),
        # Labels of the chips, translated once rather than in each of thousands of rows.
        "lead_label": Assignment.Role.LEAD.label, "coop_label": Assignment.Role.COOPERATING.label,
        "red_label": _("Red"), "yellow_label": _("Yellow"), "blue_label": _("Blue"), "done_label": _("Done"),
    })


@login_required
def ledger_xlsx(request, ledger_pk):
    ledger = _ledger(request.user, ledger_pk)
    now = request_now(request)
    assignments_refresh_due(now=now, county_ids=[ledger.county_id])
    items, assignments_by_item, latest = ledger_export_data(ledger)
    if not scoping.scope_of(request.user).everything and ledger.county_id not in scoping.scope_of(
            request.user).view_counties:
        # A unit's user exports its own part of the ledger.
        visible = set(selectors.visible_assignments(request.user).filter(item__ledger=ledger)
                      .values_list("pk", flat=True))
        assignments_by_item = {pk: [a for a in rows if a.pk in visible] for pk, rows in assignments_by_item.items()}
        items = [item for item in items if assignments_by_item.get(item.pk)]
    content = ledger_workbook(ledger=ledger, items=items, assignments_by_item=assignments_by_item,
                              latest_by_assignment=latest, now=now)
    return xlsx_response(content, ledger_filename(ledger, local_date(now)))


def _item_form_initial(item: TaskItem) -> dict:
    section = item.section
    top, key = (section.parent, section) if section and section.parent_id else (section, None)
    return {"section": top.label if top else "", "key_task": key.label if key else "", "number": item.number,
            "text": item.text, "lead_units_text": item.lead_units_text, "coop_units_text": item.coop_units_text,
            "deadline_text": item.deadline_text, "target_text": item.target_text}


def _save_item(request, form, ledger: Ledger, item: TaskItem | None):
    data = form.cleaned_data
    return write_or_report(form, lambda: item_save(
        ledger=ledger, user=request.user, number=data["number"], text=data["text"],
        lead_units_text=data["lead_units_text"], coop_units_text=data["coop_units_text"],
        deadline_text=data["deadline_text"], target_text=data["target_text"] or None,
        section_labels=[data["section"].strip(), data["key_task"].strip()], create_unknown=data["create_unknown"],
        item=item, now=request_now(request)))


@login_required
def item_create(request, ledger_pk):
    ledger = _ledger(request.user, ledger_pk, edit=True)
    form = ItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, item = _save_item(request, form, ledger, None)
        if ok:
            messages.success(request, _("Item %(number)s was added.") % {"number": item.number})
            return redirect("tasks:item_detail", item_pk=item.pk)
    return render(request, "tasks/item_form.html", {"form": form, "ledger": ledger, "item": None})


@login_required
def item_edit(request, item_pk):
    item = _item(request.user, item_pk, edit=True)
    form = ItemForm(request.POST or None, initial=_item_form_initial(item))
    if request.method == "POST" and form.is_valid():
        ok, _saved = _save_item(request, form, item.ledger, item)
        if ok:
            messages.success(request, _("Item %(number)s was saved.") % {"number": item.number})
            return redirect("tasks:item_detail", item_pk=item.pk)
    return render(request, "tasks/item_form.html", {"form": form, "ledger": item.ledger, "item": item})


@login_required
def item_deadline(request, item_pk):
    """A person sets the deadline the phrase did not give (or corrects it); it is kept."""
    item = _item(request.user, item_pk, edit=True)
    initial = {"deadline_kind": item.deadline_kind if item.deadline_kind != DeadlineKind.UNKNOWN else
               DeadlineKind.FIXED, "due_date": item.due_date, "recurrence": item.recurrence}
    form = DeadlineForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ok, _saved = write_or_report(form, lambda: item_set_deadline(
            item=item, user=request.user, kind=data["deadline_kind"], due_date=data["due_date"],
            recurrence=data["recurrence"] or "", now=request_now(request)), {"": "due_date"})
        if ok:
            messages.success(request, _("The deadline of item %(number)s was set.") % {"number": item.number})
            return redirect("tasks:item_detail", item_pk=item.pk)
    return render(request, "tasks/item_deadline.html", {"form": form, "item": item})


@login_required
def item_detail(request, item_pk):
    """An item: its text, deadline and target; each visible assignment with its status, its reports
    (with evidence and the reviewer's reason) and its supervision orders. Constant queries."""
    user = request.user
    item = _item(user, item_pk)
    now = request_now(request)
    today = local_date(now)
    assignments_refresh_due(now=now, county_ids=[item.ledger.county_id])
    reports = ProgressReport.objects.select_related("submitted_by", "reviewed_by").prefetch_related(
        Prefetch("evidence", queryset=Evidence.objects.order_by("pk"))).order_by("-submitted_at", "-pk")
    orders = SupervisionOrder.objects.select_related("issued_by").order_by("-issued_at")
    assignments = list(selectors.visible_assignments(user).filter(item=item)
                       .select_related("department", "institution", "alliance")
                       .prefetch_related(Prefetch("reports", queryset=reports, to_attr="report_list"),
                                         Prefetch("supervision_orders", queryset=orders, to_attr="order_list"))
                       .order_by("role", "pk"))
    reportable = set(permissions.reportable_assignments(user).filter(item=item).values_list("pk", flat=True))
    for assignment in assignments:
        assignment.item = item
        assignment.result = assignment.status_at(now)
        assignment.can_report = assignment.pk in reportable
    county_id = item.ledger.county_id
    judged_assignments = [a for a in assignments if a.alliance_id] if item.judged_by_alliance else []
    return render(request, "tasks/item_detail.html", {
        "item": item, "ledger": item.ledger, "assignments": assignments, "today": today,
        "target_label": target_text_of(item), "judged_assignments": judged_assignments,
        "can_edit": permissions.can_edit_county(user, county_id),
        "can_review": permissions.can_edit_county(user, county_id),
        "can_supervise": permissions.can_supervise(user, county_id),
        "review_form": ReviewForm(),
    })
