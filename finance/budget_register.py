"""The budget import as a register of the import engine (``core.imports``): the API's preview and
confirmation of a budget's grid (option ``budget``: the draft to fill), and the end of a confirmed
import that the page shares (audit event, remembered column mapping)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import scoping
from core import audit
from core.imports import mappings
from core.imports.registry import Applied, Preview, Stale
from core.issues import ImportFailed, Issue
from finance import budget_import, budgets, importing
from finance.models import Budget

NAME = "budget"


def finish(request, budget: Budget, *, filename: str, entries: dict, columns: dict) -> list:
    """After a confirmed budget import (page or API): the audit event and the column mapping the
    user made, remembered for the county's next file with the same headers. The amounts filled."""
    filled = [key for key, text in entries.items() if text]
    audit.record(audit.Event.IMPORT_CONFIRM, request=request, target=budget, details={
        "register": NAME, "file": filename, "rows": len({line for line, _column in filled}),
        "amounts": len(filled), "year": budget.year})
    mappings.remember(columns, register=NAME, scope=budget.county_id, user=request.user)
    return filled


def _budget_for(user, county, budget_id) -> Budget:
    """The page's rules: a budget the user does not see (or of another county) is not found; one
    seen but not a draft the user may fill is refused."""
    from finance.budget_views import _can_edit  # the page's rule (the views import this module)

    qs = scoping.queryset_for(user, Budget).select_related("alliance", "county")
    budget = scoping.get_for_user(user, Budget, budget_id, queryset=qs)
    if budget.county_id != county.pk:
        raise Http404(_("Not found."))
    if not (budget.state == Budget.State.DRAFT and _can_edit(user, budget.alliance)):
        raise PermissionDenied(_("This budget cannot be changed by you now."))
    return budget


def _current(budget: Budget) -> dict:
    return {(line, institution_id or budgets.TOTAL): amount
            for institution_id, line, amount in budget.amounts.values_list("institution_id", "line", "amount")}


def _fingerprint(budget: Budget, current: dict, members) -> str:
    return importing.fingerprint([budget.state, sorted((f"{k[0]}:{k[1]}", str(v)) for k, v in current.items()),
                                  [m.pk for m in members]])


def _entries(payload: list) -> dict:
    return {(line, column if column == budgets.TOTAL else int(column)): text for line, column, text in payload}


class BudgetRegister:
    name = NAME
    label = gettext_lazy("Budget")
    fields = budget_import.FIELDS

    def county_for(self, user, county_id):
        return importing.county_for(user, county_id)

    def fields_for(self, *, user, county, options):
        """The line, the total and the budget's members (a column may be mapped to a member by
        its field name, ``m<institution id>``)."""
        if not options.get("budget"):
            return self.fields
        budget = _budget_for(user, county, options["budget"])
        return budget_import.fields_for(budgets.members_of(budget.alliance, budget.year))

    def preview(self, *, user, county, upload, mapping, options, now: datetime) -> Preview:
        if not options.get("budget"):
            return Preview({"header_row": None, "fields": importing.fields_body({}, self.fields), "mapping": {},
                            "rows": [], "errors": [_("Say which budget to fill (field “budget”: the draft's id).")],
                            "warnings": [], "counts": {}})
        budget = _budget_for(user, county, options["budget"])
        parsed = budget_import.read(upload, budget, mapping=mapping, saved_for=mappings.saver(NAME, county.pk))
        plan = parsed.columns.to_json() if parsed.columns is not None else {}
        current = _current(budget)
        rows = budget_import.row_status(parsed, current)
        counts = dict(Counter(r["status"] for r in rows)) | {"amounts": parsed.cells}
        body = {"budget": budget.pk, "header_row": plan.get("header_row"),
                "fields": importing.fields_body(plan, self.fields), "mapping": importing.mapping_body(plan),
                "rows": rows, "errors": list(parsed.errors), "warnings": [], "counts": counts}
        if not parsed.ok:
            return Preview(body)
        members = budgets.members_of(budget.alliance, budget.year)
        changes = any((budgets.parse_amount(text) if text else None) != current.get(key)
                      for key, text in parsed.entries.items())
        payload = None
        if changes:
            payload = {"budget": budget.pk, "file": parsed.name, "columns": plan,
                       "entries": [[line, column, text] for (line, column), text in parsed.entries.items()]}
        return Preview(body, payload, _fingerprint(budget, current, members))

    def confirm(self, *, user, county, payload, fingerprint, now, request) -> Applied:
        budget = _budget_for(user, county, payload["budget"])  # the rules of now
        members = budgets.members_of(budget.alliance, budget.year)
        if _fingerprint(budget, _current(budget), members) != fingerprint:
            raise Stale({"budget": budget.pk})
        entries = _entries(payload["entries"])
        with transaction.atomic():
            errors = budgets.save_amounts(budget, entries, user=user, now=now)
            if errors:
                raise ImportFailed([Issue(e) for e in errors])
            filled = finish(request, budget, filename=payload["file"], entries=entries, columns=payload["columns"])
        return Applied(body={"budget": budget.pk, "amounts": len(filled),
                             "rows": len({line for line, _column in filled})},
                       url=reverse("finance:budget_detail", kwargs={"budget_pk": budget.pk}))
