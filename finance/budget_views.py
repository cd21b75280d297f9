"""Budget pages: the alliances' budgets of a year with their versions; one budget as a grid — lines
down, the alliance's total, each member's sub-budget, the sum of the sub-budgets and the
difference across — entered by the alliance office or the bureau while a draft, approved by the
bureau; a new (adjusted) version copies the approved one; .xlsx export in the official layout."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from alliances import scoping
from alliances.models import Alliance
from core.clock import local_date, request_now
from core.http import xlsx_response
from finance import budget_import as budget_import_module
from finance import budget_register, budgets
from finance.exports import budget_filename, budget_xlsx
from finance.import_pages import KeptImportPage, failed
from finance.models import Budget, SettlementRule
from finance.views import _year, selection


def _can_edit(user, alliance: Alliance) -> bool:
    scope = scoping.scope_of(user)
    return scope.can_change_county(alliance.county_id) or alliance.pk in scope.change_alliances


@login_required
def budget_list(request):
    today = local_date(request_now(request))
    chosen = selection(request)
    county, counties, year, alliances = chosen.county, chosen.counties, chosen.year, chosen.alliances
    versions: dict[int, list[Budget]] = {}
    for budget in Budget.objects.filter(alliance__in=alliances, year=year).select_related("approved_by") \
            .order_by("alliance_id", "-number"):
        versions.setdefault(budget.alliance_id, []).append(budget)
    rows = [{"alliance": a, "versions": versions.get(a.pk, []), "can_edit": _can_edit(request.user, a),
             # an approved version and none open: the next one is an adjustment, with its reason
             "adjusting": bool(versions.get(a.pk)) and not any(v.state in budgets.OPEN_STATES
                                                               for v in versions.get(a.pk, []))}
            for a in alliances]
    return render(request, "finance/budget_list.html", {
        "county": county, "counties": counties, "year": year, "rows": rows,
        "years": list(range(today.year + 1, today.year - 5, -1))})


@login_required
@require_POST
def budget_new(request, alliance_pk):
    alliance = scoping.get_for_user(request.user, Alliance, alliance_pk)
    if not _can_edit(request.user, alliance):
        raise PermissionDenied(_("Only the alliance office or the county bureau drafts a budget."))
    year = _year(request.POST.get("year"), local_date(request_now(request)))
    try:
        budget = budgets.new_version(alliance, year, user=request.user, now=request_now(request),
                                     reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect(f"{reverse('finance:budget_list')}?county={alliance.county_id}&year={year}")
    return redirect("finance:budget_detail", budget_pk=budget.pk)


def _budget(request, budget_pk) -> Budget:
    qs = scoping.queryset_for(request.user, Budget).select_related("alliance", "county", "approved_by", "created_by")
    return scoping.get_for_user(request.user, Budget, budget_pk, queryset=qs)


@login_required
def budget_detail(request, budget_pk):
    budget = _budget(request, budget_pk)
    can_edit = budget.state == Budget.State.DRAFT and _can_edit(request.user, budget.alliance)
    errors, posted = [], {}
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("This budget cannot be changed by you now."))
        members = budgets.members_of(budget.alliance, budget.year)
        columns = [budgets.TOTAL] + [m.pk for m in members]
        entries = {(line.code, column): request.POST.get(f"a_{line.code}_{column}", "")
                   for line in budgets.LINES for column in columns}
        errors = budgets.save_amounts(budget, entries, user=request.user, now=request_now(request))
        if not errors:
            messages.success(request, _("Saved."))
            return redirect("finance:budget_detail", budget_pk=budget.pk)
        posted = {f"a_{line}_{column}": text for (line, column), text in entries.items()}
    grid = budgets.grid(budget)
    columns = [(budgets.TOTAL, _("Alliance total"))] + [(m.pk, m.name) for m in grid.members]
    rows = []
    for row in grid.rows():
        values = [row["total"], *row["members"]]
        cells = []
        for (column, label), value in zip(columns, values, strict=True):
            name = f"a_{row['line'].code}_{column}"
            shown = posted.get(name, "") if posted else ("" if value is None else str(value))
            cells.append({"name": name, "label": f"{row['line'].label} {label}", "value": value, "input": shown})
        rows.append({**row, "cells": cells})
    rule = SettlementRule.objects.filter(county_id=budget.county_id, year=budget.year).first()
    is_bureau = scoping.scope_of(request.user).can_change_county(budget.county_id)
    return render(request, "finance/budget_detail.html", {
        "budget": budget, "grid": grid, "rows": rows, "side_rows": grid.side_rows(), "can_edit": can_edit,
        "execution": budgets.execution(budget, threshold=rule.warning_points if rule else budgets.PACING_POINTS)
        if budget.state == Budget.State.APPROVED else None,
        "can_approve": budget.state in budgets.OPEN_STATES and is_bureau,
        "can_return": budget.state == Budget.State.SUBMITTED and is_bureau,
        "can_submit": can_edit,
        "errors": errors,
        "other_versions": list(Budget.objects.filter(alliance=budget.alliance, year=budget.year)
                               .exclude(pk=budget.pk).order_by("-number")),
    }, status=400 if errors else 200)


@login_required
@require_POST
def budget_approve(request, budget_pk):
    budget = _budget(request, budget_pk)
    if not scoping.scope_of(request.user).can_change_county(budget.county_id):
        raise PermissionDenied(_("Only the county health bureau approves a budget."))
    if budgets.approve(budget, user=request.user, now=request_now(request)):
        messages.success(request, _("The budget is approved."))
    else:
        messages.error(request, _("This budget is approved already."))  # or it was just returned
    return redirect("finance:budget_detail", budget_pk=budget.pk)


@login_required
@require_POST
def budget_submit(request, budget_pk):
    budget = _budget(request, budget_pk)
    if not _can_edit(request.user, budget.alliance):
        raise PermissionDenied(_("Only the alliance office or the county bureau submits a budget."))
    if budgets.submit(budget, user=request.user, now=request_now(request)):
        messages.success(request, _("The budget is submitted to the county health bureau for approval."))
    else:
        messages.error(request, _("Only a draft can be submitted."))
    return redirect("finance:budget_detail", budget_pk=budget.pk)


@login_required
@require_POST
def budget_return(request, budget_pk):
    budget = _budget(request, budget_pk)
    if not scoping.scope_of(request.user).can_change_county(budget.county_id):
        raise PermissionDenied(_("Only the county health bureau returns a budget."))
    try:
        returned = budgets.return_to_draft(budget, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, _("Not returned: %(why)s") % {"why": "；".join(exc.messages)})
        return redirect("finance:budget_detail", budget_pk=budget.pk)
    if returned:
        messages.success(request, _("The budget is returned to the alliance office."))
    else:
        messages.error(request, _("Only a submitted budget can be returned."))
    return redirect("finance:budget_detail", budget_pk=budget.pk)


@login_required
def budget_export(request, budget_pk):
    budget = _budget(request, budget_pk)
    today = local_date(request_now(request))
    return xlsx_response(budget_xlsx(budgets.grid(budget), on=today), budget_filename(budget, today))


SESSION_KEY = "finance_budget_import"  # the preview's token (``KeptImportPage``)
PENDING_KIND = "budget"  # the previews kept for the confirmation, claimed once
FILES_KIND = "budget-files"  # the uploaded files themselves, for a new column mapping


def _may_import(request, budget: Budget) -> Budget:
    if not (budget.state == Budget.State.DRAFT and _can_edit(request.user, budget.alliance)):
        raise PermissionDenied(_("This budget cannot be changed by you now."))
    return budget


def _entries(payload: dict) -> dict:
    return {(line, column if column == budgets.TOTAL else int(column)): text
            for line, column, text in payload["entries"]}


class BudgetImportPage(KeptImportPage):
    """Upload → check → preview (with the columns of the file and the field each fills, to map);
    nothing is saved before the confirmation, which replaces the whole grid."""

    register, pending_kind, files_kind = budget_register.NAME, PENDING_KIND, FILES_KIND
    session_key, owner_key, template = SESSION_KEY, "budget", "finance/budget_import.html"

    def mapping_scope(self, scope) -> int:
        return scope.county_id

    def url(self, scope) -> str:
        return reverse("finance:budget_import", kwargs={"budget_pk": scope.pk})

    def done_url(self, scope) -> str:
        return reverse("finance:budget_detail", kwargs={"budget_pk": scope.pk})

    def read(self, request, scope, upload, *, saved_for):
        return budget_import_module.read(upload, scope, saved_for=saved_for)

    def read_kept(self, request, scope, data, name, *, mapping, saved_for):
        return budget_import_module.read_data(data, name, scope, mapping=mapping, saved_for=saved_for)

    def payload(self, read, plan, extra) -> dict:
        return {**super().payload(read, plan, extra),
                "entries": [[line, column, text] for (line, column), text in read.parsed.entries.items()]}

    def apply(self, request, scope, plan, payload):
        errors = budgets.save_amounts(scope, _entries(payload), user=request.user, now=request_now(request))
        if errors:
            raise failed(errors)

    def finish(self, request, scope, plan, payload, result) -> str:
        budget_register.finish(request, scope, filename=payload["file"], entries=_entries(payload),
                               columns=payload["columns"])
        messages.success(request, _("Imported."))
        return self.done_url(scope)

    def context(self, request, scope) -> dict:
        return {"budget": scope}

    def preview_context(self, request, scope, parsed) -> dict:
        preview = budgets.Grid(scope, budgets.members_of(scope.alliance, scope.year))
        for (line, column), text in parsed.entries.items():
            if text:
                preview.cells[(line, column)] = budgets.parse_amount(text)
        return {"preview": preview, "rows": preview.rows(), "cells": parsed.cells, "filename": parsed.name}


PAGE = BudgetImportPage()


@login_required
def budget_import(request, budget_pk):
    return PAGE.handle(request, _may_import(request, _budget(request, budget_pk)))


@login_required
@require_POST
def budget_import_confirm(request, budget_pk):
    budget = _budget(request, budget_pk)
    if not PAGE.confirmed_already(request, budget):  # a second click is told so, whatever the budget is now
        _may_import(request, budget)
    return PAGE.confirm(request, budget)
