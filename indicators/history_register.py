"""历史数据导入 as the import engine's register ``history`` (``core.imports``): the API's preview
and confirmation of a form's history file (option ``form``: the report form's id), and the end of
a confirmed import that the page shares (audit event, remembered column mapping). The rules are the
page's: the form must be the county's own (else the same 404 as a missing one) and the user the
county's bureau (else 403)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import audit
from core.imports import mappings
from core.imports.registry import Applied, Preview, Stale
from core.periods import Period
from indicators import history
from indicators.models import ReportForm


def reason_for(filename: str) -> str:
    return _("历史数据导入: %(file)s") % {"file": filename}


def finish(request, form: ReportForm, payload: dict, result: dict) -> None:
    """After a confirmed history import (page or API): the audit event and the column mapping the
    user made, remembered for the next file with the same headers."""
    mappings.remember(payload.get("columns") or {}, register=history.REGISTER, scope=form.county_id,
                      user=request.user)
    audit.record(audit.Event.IMPORT_CONFIRM, request=request, target=form, details={
        "register": history.REGISTER, "file": payload["filename"], "rows": len(payload["values"]), **result})


def preview_body(plan: history.HistoryPlan) -> dict:
    """The API's answer for a history preview: the columns (long layout) or the sheets read
    (per-period layout), a row per value with its status, the errors."""
    located = plan.columns.to_json() if plan.columns is not None else {}
    body = {"layout": plan.layout, "header_row": located.get("header_row"),
            "fields": located.get("fields") or [{"name": f.name, "label": str(f.label), "required": f.required}
                                                for f in history.FIELDS],
            "mapping": {c["title"] or c["letter"]: {"field": c["field"], "source": c["source"], "column": c["letter"]}
                        for c in located.get("columns", [])},
            "sheets": plan.sheets,
            "rows": [{"row": v.row, "sheet": v.sheet, "institution": v.institution_id, "period": v.period,
                      "element": v.element_id, "value": str(v.value), "status": v.status, "errors": []}
                     for v in plan.values if v.status],  # compared with the portal (a file without errors)
            "errors": [i.text for i in plan.errors], "warnings": [i.text for i in plan.warnings],
            "counts": {"new": plan.new, "changed": plan.changed, "unchanged": plan.unchanged,
                       "skipped": plan.skipped, "filings": plan.new_filings}}
    body["rows"] += [{"row": i.row, "sheet": getattr(i, "sheet", ""), "status": "error", "errors": [i.text]}
                     for i in plan.errors if i.row]
    return body


class HistoryRegister:
    name = history.REGISTER
    label = gettext_lazy("History of a report form")
    fields = history.FIELDS

    def county_for(self, user, county_id):
        from indicators.views.definitions import _county  # the page's rule (views import this module)

        return _county(user, county_id, edit=True)

    def _form(self, user, county, form_id) -> ReportForm:
        from indicators.views.definitions import _definition

        form = _definition(user, ReportForm, form_id, edit=True)
        if form.county_id != county.pk:
            raise Http404(_("Not found."))  # another county's form, or the shared catalogue's
        return form

    def preview(self, *, user, county, upload, mapping, options, now: datetime) -> Preview:
        if options.get("form") in (None, ""):
            return Preview({"errors": [_("Give the report form (field “form”: its id).")]})
        form = self._form(user, county, options.get("form"))
        plan, _data = history.read_upload(upload, form, mapping=mapping,
                                          saved_for=mappings.saver(history.REGISTER, county.pk))
        payload = plan.payload() if plan.ok and plan.has_changes else None
        return Preview(preview_body(plan), payload, plan.fingerprint() if payload else "")

    def confirm(self, *, user, county, payload, fingerprint, now, request) -> Applied:
        form = self._form(user, county, payload["form"])
        plan = history.HistoryPlan(form=form, filename=payload["filename"], columns=None, values=[
            history.HistoryValue(row, institution, period, element, Decimal(value))
            for row, institution, period, element, value in payload["values"]])
        first = Period.parse(form.first_period) if form.first_period else None
        if first is None or any(Period.parse(v.period) >= first for v in plan.values):
            raise Stale(preview_body(plan))  # the form went live earlier since
        history.compare(plan)
        if not plan.ok or plan.fingerprint() != fingerprint:
            raise Stale(preview_body(plan))
        result = history.apply_history(payload, user=user, now=now, reason=reason_for(payload["filename"]))
        finish(request, form, payload, result)
        return Applied(body=result, url=reverse("indicators:history_import", kwargs={"form_pk": form.pk}))
