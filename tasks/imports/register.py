"""The task ledger as a register of the import engine (``core.imports``): the API's preview and
confirmation, and the end of a confirmed import that the page shares (audit event, remembered
column mapping)."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils.translation import gettext_lazy

from core import audit
from core.imports import mappings
from core.imports.registry import Applied, Preview, Stale
from tasks.forms import LedgerUploadForm
from tasks.imports.applying import apply_plan
from tasks.imports.planning import LedgerPlan, plan_import
from tasks.imports.reading import FIELDS, LedgerTable, read_ledger
from tasks.models import Ledger

NAME = "ledger"


def finish(request, county, table: LedgerTable, result: dict) -> Ledger:
    """After a confirmed ledger import (page or API): the audit event and the column mapping the
    user made, remembered for the next file with the same headers."""
    ledger = Ledger.objects.get(pk=result["ledger"])
    audit.record(audit.Event.IMPORT_CONFIRM, request=request, target=ledger, details={
        "register": NAME, "file": table.filename, "rows": result["create"] + result["update"],
        "created": result["create"], "updated": result["update"], "assignments": result["assignments"],
        "departments": result["departments"]})
    mappings.remember(table.mapping, register=NAME, scope=county.pk, user=request.user)
    return ledger


def preview_body(plan: LedgerPlan | None, table_mapping: dict, problems: list) -> dict:
    """The API's answer for a ledger preview."""
    body = {"header_row": table_mapping.get("header_row"),
            "fields": table_mapping.get("fields") or [{"name": f.name, "label": str(f.label), "required": f.required}
                                                     for f in FIELDS],
            "mapping": {c["title"] or c["letter"]: {"field": c["field"], "source": c["source"], "column": c["letter"]}
                        for c in table_mapping.get("columns", [])},
            "rows": [], "errors": [p.text for p in problems], "warnings": [], "counts": {}}
    if plan is None:
        return body
    body["rows"] = [{"row": i.raw.row, "status": i.action, "number": i.raw.number, "text": i.raw.text[:200],
                     "deadline": {"kind": i.deadline.kind, "due_date": i.deadline.due_date,
                                  "milestones": list(getattr(i.deadline, "milestones", ()))},
                     "errors": [e.text for e in i.issues if not e.warning],
                     "warnings": [e.text for e in i.issues if e.warning]} for i in plan.items]
    body["errors"] = [e.text for e in plan.errors]
    body["warnings"] = [e.text for e in plan.warnings]
    body["counts"] = plan.counts
    body["unknown_units"] = [{"name": u.name, "rows": u.rows, "will_be": plan.decision_for(u)}
                             for u in plan.unknown.values()]
    return body


def _overrides(options: dict) -> tuple[dict, list[str]]:
    """The ledger's metadata given beside the file (title, 文号, issuer, year, issued on), checked by
    the upload form's rules."""
    form = LedgerUploadForm({k: v for k, v in options.items() if v not in (None, "")})
    form.is_valid()  # the file comes separately: only the metadata fields count
    errors = [f"{form.fields[name].label}: {' '.join(messages)}" for name, messages in form.errors.items()
              if name != "file"]
    overrides = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in form.overrides().items()}
    return overrides, errors


class LedgerRegister:
    name = NAME
    label = gettext_lazy("Task ledger")
    fields = FIELDS

    def county_for(self, user, county_id):
        from tasks.views.common import county_for  # the page's rule (views import this module)

        return county_for(user, county_id, edit=True)

    def preview(self, *, user, county, upload, mapping, options, now: datetime) -> Preview:
        result = read_ledger(upload, mapping=mapping, saved_for=mappings.saver(NAME, county.pk))
        table_mapping = result.columns.to_json() if result.columns is not None else {}
        if result.table is None:
            return Preview(preview_body(None, table_mapping, result.problems))
        overrides, errors = _overrides(options)
        if errors:
            body = preview_body(None, table_mapping, [])
            return Preview(body | {"errors": errors})
        plan = plan_import(result.table, county=county, user=user, now=now, overrides=overrides)
        payload = None
        if plan.ok and plan.has_changes:
            payload = {"table": result.table.to_json(), "overrides": overrides}
        return Preview(preview_body(plan, table_mapping, []), payload, plan.fingerprint())

    def confirm(self, *, user, county, payload, fingerprint, now, request) -> Applied:
        table = LedgerTable.from_json(payload["table"])
        plan = plan_import(table, county=county, user=user, now=now, overrides=payload["overrides"])
        if not plan.ok or plan.fingerprint() != fingerprint:
            raise Stale(preview_body(plan, table.mapping, []))
        result = apply_plan(plan, user=user, now=now)
        ledger = finish(request, county, table, result)
        return Applied(body={k: result[k] for k in ("create", "update", "unchanged", "assignments", "departments")}
                       | {"ledger": ledger.pk},
                       url=reverse("tasks:ledger_detail", kwargs={"ledger_pk": ledger.pk}))
