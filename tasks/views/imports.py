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

from core import audit, pending
from core.issues import ImportFailed
from tasks.deadlines import DeadlineKind
from tasks.forms import LedgerUploadForm
from tasks.imports.applying import apply_plan
from tasks.imports.planning import CREATE, CREATE_OTHER, LedgerPlan, plan_import
from tasks.imports.reading import MAX_UPLOAD_BYTES, LedgerTable, read_ledger_upload
from tasks.models import Ledger
from tasks.views.common import county_for, request_now

PENDING_KIND = "ledgers"
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
    form = LedgerUploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        table, problems = read_ledger_upload(form.cleaned_data["file"])
        if table is not None:
            overrides = _overrides_json(form.overrides())
            plan = plan_import(table, county=county, user=user, now=now, overrides=overrides)
            token = None
            if plan.ok and plan.has_changes:
                token = pending.store(request.session, PENDING_KIND,
                                      payload={"table": table.to_json(), "overrides": overrides},
                                      owner=_owner(user, county), fingerprint=plan.fingerprint())
            return _preview(request, county, plan, token=token)
        for problem in problems:
            form.add_error("file", problem.text)
    return render(request, "tasks/import_upload.html", {
        "county": county, "form": form, "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
    }, status=200)


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
        return render(request, "tasks/import_upload.html", {
            "county": county, "form": LedgerUploadForm(), "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
            "error": _("This preview is no longer valid: it has expired, has been imported already, or belongs to "
                       "another session. Nothing was saved. Upload the file again.")}, status=400)
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
    pending.record_outcome(PENDING_KIND, token, owner=owner,
                           url=reverse("tasks:ledger_detail", kwargs={"ledger_pk": result["ledger"]}))
    ledger = Ledger.objects.get(pk=result["ledger"])
    audit.record(audit.Event.IMPORT_CONFIRM, request=request, target=ledger, details={
        "register": "ledger", "file": table.filename, "rows": result["create"] + result["update"],
        "created": result["create"], "updated": result["update"], "assignments": result["assignments"],
        "departments": result["departments"]})
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


def _preview(request, county, plan: LedgerPlan, *, token: str | None = None, notice: str = "", apply_issues=None):
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
    })
