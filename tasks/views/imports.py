"""Importing a ledger from Excel or CSV in three steps: upload → preview (every row with its parsed
deadline and the assignments it will make; unknown units to create or map) → confirm. The reading,
checking and writing live in ``tasks.imports``; nothing is saved before the confirmation, and
nothing at all if any row is wrong."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from core.imports.pages import ImportPage
from tasks.deadlines import DeadlineKind
from tasks.forms import LedgerUploadForm
from tasks.imports.applying import apply_plan
from tasks.imports.planning import CREATE, CREATE_OTHER, LedgerPlan, plan_import
from tasks.imports.reading import MAX_UPLOAD_BYTES, LedgerTable, read_ledger, read_ledger_data
from tasks.imports.register import finish
from tasks.views.common import county_for, request_now

PENDING_KIND = "ledgers"
FILES_KIND = "ledger-files"  # the uploaded files themselves, for a new column mapping
REGISTER = "ledger"
PREVIEW_ROWS = 500


def _overrides_json(overrides: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in overrides.items()}


class LedgerImportPage(ImportPage):
    register, pending_kind, files_kind = REGISTER, PENDING_KIND, FILES_KIND

    def url(self, scope) -> str:
        return reverse("tasks:ledger_import", kwargs={"region_pk": scope.pk})

    def done_url(self, scope) -> str:
        return reverse("tasks:ledger_list")

    def upload_form(self, request=None):
        return LedgerUploadForm(*((request.POST, request.FILES) if request is not None else ()))

    def file_extra(self, request, scope, form) -> dict:
        return {"overrides": _overrides_json(form.overrides())}

    def read_upload(self, request, scope, form, *, saved_for):
        return read_ledger(form.cleaned_data["file"], saved_for=saved_for)

    def read_data(self, request, scope, data, name, *, mapping, saved_for, extra):
        return read_ledger_data(data, name, mapping=mapping, saved_for=saved_for)

    def plan(self, request, scope, read, extra):
        return plan_import(read.table, county=scope, user=request.user, now=request_now(request),
                           overrides=extra.get("overrides", {}))

    def payload(self, read, plan, extra):
        return {"table": read.table.to_json(), "overrides": extra.get("overrides", {})}

    def replan(self, request, scope, payload):
        return plan_import(LedgerTable.from_json(payload["table"]), county=scope, user=request.user,
                           now=request_now(request), overrides=payload["overrides"], decisions=_decisions(request))

    def apply(self, request, scope, plan, payload):
        return apply_plan(plan, user=request.user, now=request_now(request))

    def finish(self, request, scope, plan, payload, result) -> str:
        ledger = finish(request, scope, plan.table, result)
        messages.success(request, _("The ledger was imported: %(create)s items created, %(update)s updated, "
                                    "%(unchanged)s unchanged; %(assignments)s assignments made and %(departments)s "
                                    "departments created.") % result)
        return reverse("tasks:ledger_detail", kwargs={"ledger_pk": ledger.pk})

    def unreadable(self, request, scope, read, form, mapping):
        if mapping.get("columns") is None:
            return super().unreadable(request, scope, read, form, mapping)
        return self.upload_page(request, scope, form or self.upload_form(), error=_(
            "The file's columns could not all be matched to the ledger's fields; nothing was read. Map them below "
            "and preview again."), mapping=mapping | {"mapping_open": True})

    def upload_page(self, request, scope, form, *, status=200, error="", mapping=None):
        return render(request, "tasks/import_upload.html", {
            "county": scope, "form": form, "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024), "error": error,
            "columns": None, **(mapping or {})}, status=status)

    def preview_page(self, request, scope, plan, *, token=None, notice="", apply_issues=None, mapping=None):
        return _preview(request, scope, plan, token=token, notice=notice, apply_issues=apply_issues,
                        mapping=mapping)


PAGE = LedgerImportPage()


@login_required
def ledger_import(request, region_pk):
    return PAGE.handle(request, county_for(request.user, region_pk, edit=True))


def _decisions(request) -> dict[str, str]:
    names = request.POST.getlist("unit_name")
    choices = request.POST.getlist("unit_decision")
    return dict(zip(names, choices, strict=False))


def _unit_options(plan: LedgerPlan) -> list[tuple[str, str]]:
    directory = plan.directory
    options = [(CREATE, _("Create as a new government department")),
               (CREATE_OTHER, _("Create as another body"))]
    options += [(f"department:{d.pk}", _("Department: %(name)s") % {"name": d.name}) for d in directory.departments]
    options += [(f"alliance:{a.pk}", _("Alliance: %(name)s") % {"name": a.display_name}) for a in directory.alliances]
    options += [(f"institution:{i.pk}", _("Institution: %(name)s") % {"name": i.name})
                for i in directory.institutions if i.kind != "village_clinic"]
    return options


def _preview(request, county, plan: LedgerPlan, *, token: str | None = None, notice: str = "", apply_issues=None,
             mapping: dict | None = None):
    rows = []
    flagged = {i.row for i in plan.all_issues if i.row}
    for position, item in enumerate(plan.items):
        if position >= PREVIEW_ROWS and item.raw.row not in flagged:
            continue
        rows.append(item)
    unknown = sorted(plan.unknown.values(), key=lambda u: min(u.rows))
    for entry in unknown:
        entry.chosen = plan.decision_for(entry)
    return render(request, "tasks/import_preview.html", {
        "county": county, "plan": plan, "table": plan.table, "rows": rows, "counts": plan.counts,
        "hidden_rows": len(plan.items) - len(rows), "errors": plan.errors, "warnings": plan.warnings,
        "unknown": unknown, "unit_options": _unit_options(plan), "token": token, "notice": notice,
        "apply_issues": apply_issues or [], "form": LedgerUploadForm(), "UNKNOWN": DeadlineKind.UNKNOWN,
        "columns": None, "mapping_open": False, **(mapping or {}),
    })
