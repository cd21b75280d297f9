"""Importing a ledger from Excel or CSV in three steps: upload → preview (every row with its parsed
deadline and the assignments it will make; unknown units to create or map) → confirm. The reading,
checking and writing live in ``tasks.imports``; nothing is saved before the confirmation, and
nothing at all if any row is wrong."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from core import pending
from core.imports import mappings
from core.issues import ImportFailed
from tasks.deadlines import DeadlineKind
from tasks.forms import LedgerUploadForm
from tasks.imports.applying import apply_plan
from tasks.imports.planning import CREATE, CREATE_OTHER, LedgerPlan, plan_import
from tasks.imports.reading import MAX_UPLOAD_BYTES, LedgerRead, LedgerTable, read_ledger, read_ledger_data
from tasks.imports.register import finish
from tasks.views.common import county_for, request_now

PENDING_KIND = "ledgers"
FILES_KIND = "ledger-files"  # the uploaded files themselves, for a new column mapping
REGISTER = "ledger"
PREVIEW_ROWS = 500


def _owner(user, county) -> dict:
    return {"user": user.pk, "county": county.pk}


def _overrides_json(overrides: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in overrides.items()}


@login_required
def ledger_import(request, region_pk):
    user = request.user
    county = county_for(user, region_pk, edit=True)
    now = request_now(request)
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request, county, now)
    if request.method == "POST" and "remap" in request.POST:
        return _remap(request, county, now)
    form = LedgerUploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        result = read_ledger(form.cleaned_data["file"], saved_for=mappings.saver(REGISTER, county.pk))
        overrides = _overrides_json(form.overrides())
        return _after_reading(request, county, now, result, overrides, form=form)
    return _upload_page(request, county, form)


def _upload_page(request, county, form, *, error: str = "", status: int = 200, columns=None, **mapping):
    return render(request, "tasks/import_upload.html", {
        "county": county, "form": form, "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024), "error": error,
        "columns": columns, **mapping}, status=status)


def _after_reading(request, county, now, result: LedgerRead, overrides: dict, *, form=None, file_token: str = "",
                   mapping_errors=()):
    """The preview of a file just read (or the mapping panel, when its columns need the user)."""
    user = request.user
    if result.columns is not None and result.data is not None and not file_token:
        file_token = pending.store_file(request.session, FILES_KIND, data=result.data, name=result.name,
                                        owner=_owner(user, county),
                                        extra={"overrides": overrides, "columns": result.columns.to_json()})
    mapping = {"remap_token": file_token, "mapping_errors": list(mapping_errors),
               "remap_url": reverse("tasks:ledger_import", kwargs={"region_pk": county.pk})}
    if result.table is None:
        form = form or LedgerUploadForm()
        if result.columns is None or not file_token:
            for problem in result.problems:
                form.add_error("file", problem.text)
            return _upload_page(request, county, form)
        return _upload_page(request, county, form, error=_(
            "The file's columns could not all be matched to the ledger's fields; nothing was read. Map them below "
            "and preview again."), columns=result.columns.to_json(), mapping_open=True, **mapping)
    table = result.table
    plan = plan_import(table, county=county, user=user, now=now, overrides=overrides)
    token = None
    if plan.ok and plan.has_changes:
        token = pending.store(request.session, PENDING_KIND,
                              payload={"table": table.to_json(), "overrides": overrides},
                              owner=_owner(user, county), fingerprint=plan.fingerprint())
    return _preview(request, county, plan, token=token, mapping=mapping,
                    mapping_open=bool(mapping_errors) or result.columns.needs_user)


def _remap(request, county, now):
    """The same file read again with the columns mapped as the user said in the preview."""
    found = mappings.remapped(request, FILES_KIND, owner=_owner(request.user, county))
    if found is None:
        return _upload_page(request, county, LedgerUploadForm(), status=400, error=_(
            "This preview is no longer valid: it has expired, has been imported already, or belongs to another "
            "session. Nothing was saved. Upload the file again."))
    data, name, extra, given, errors = found
    result = read_ledger_data(data, name, mapping=given, saved_for=mappings.saver(REGISTER, county.pk))
    return _after_reading(request, county, now, result, extra.get("overrides", {}),
                          file_token=request.POST["remap"], mapping_errors=errors)


def _decisions(request) -> dict[str, str]:
    names = request.POST.getlist("unit_name")
    choices = request.POST.getlist("unit_decision")
    return dict(zip(names, choices, strict=False))


def _confirm(request, county, now):
    user = request.user
    token = request.POST.get("token", "")
    import_url = reverse("tasks:ledger_import", kwargs={"region_pk": county.pk})
    if "cancel" in request.POST:
        pending.discard(request.session, PENDING_KIND, token)
        messages.info(request, _("The import was cancelled; nothing was saved."))
        return redirect(import_url)
    owner = _owner(user, county)
    if pending.was_claimed(PENDING_KIND, token):  # a second click: the first one applies (or applied) it
        return pending.already_confirmed(request, PENDING_KIND, token, owner=owner,
                                         fallback=reverse("tasks:ledger_list"))
    found = pending.load(request.session, PENDING_KIND, token, owner=owner)
    if found is None:
        return _upload_page(request, county, LedgerUploadForm(), status=400, error=_(
            "This preview is no longer valid: it has expired, has been imported already, or belongs to another "
            "session. Nothing was saved. Upload the file again."))
    payload, fingerprint = found
    table = LedgerTable.from_json(payload["table"])
    plan = plan_import(table, county=county, user=user, now=now, overrides=payload["overrides"],
                       decisions=_decisions(request))
    if not plan.ok:
        pending.discard(request.session, PENDING_KIND, token)
        return _preview(request, county, plan, notice=_("The data in the portal changed since the preview and the "
                                                        "file no longer fits it. Nothing was saved."))
    if plan.fingerprint() != fingerprint:
        pending.update_fingerprint(request.session, PENDING_KIND, token, plan.fingerprint())
        return _preview(request, county, plan, token=token, notice=_(
            "The data in the portal changed since the preview. Check the preview again and confirm."))
    if not pending.claim(PENDING_KIND, token):  # the other click won the race
        return pending.already_confirmed(request, PENDING_KIND, token, owner=owner,
                                         fallback=reverse("tasks:ledger_list"))
    try:
        with pending.released_on_error(PENDING_KIND, token):
            result = apply_plan(plan, user=user, now=now)
    except ImportFailed as exc:
        pending.discard(request.session, PENDING_KIND, token)
        return _preview(request, county, plan, apply_issues=exc.issues)
    pending.discard(request.session, PENDING_KIND, token)
    ledger = finish(request, county, table, result)
    pending.record_outcome(PENDING_KIND, token, owner=owner,
                           url=reverse("tasks:ledger_detail", kwargs={"ledger_pk": ledger.pk}))
    messages.success(request, _("The ledger was imported: %(create)s items created, %(update)s updated, %(unchanged)s "
                                "unchanged; %(assignments)s assignments made and %(departments)s departments "
                                "created.") % result)
    return redirect("tasks:ledger_detail", ledger_pk=result["ledger"])


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
             mapping: dict | None = None, mapping_open: bool = False):
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
        "columns": plan.table.mapping if mapping else None, "mapping_open": mapping_open, **(mapping or {}),
    })
