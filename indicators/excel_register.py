"""The filing Excel uploads as registers of the import engine (``core.imports``): ``filing`` (the
template of one filing, or a clerk's own 数据项 | 编码 | 数值 sheet) and ``alliance_filing`` (the
alliance-wide workbook, or the alliance's own 机构 × elements sheet). The API's preview and
confirmation, and the end of a confirmed import that the pages share (audit event, remembered
column mapping). Reading, checking and writing are ``indicators.excel``'s, the one filing pipeline
(validation, version check, audit rows)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import scoping
from alliances.models import Region
from core import audit
from core.imports import mappings, registry
from core.imports.columns import Field
from core.imports.registry import Applied, Preview, Stale
from core.issues import ImportFailed, Issue
from core.periods import Period, PeriodError
from indicators import excel
from indicators.models import DataElement, Filing, ReportForm


def excel_finish(request, filing: Filing, payload: dict, result) -> None:
    """After a confirmed upload into one filing (page or API): the audit event and the column
    mapping the user made, remembered for the next file with the same headers."""
    audit.record(audit.Event.IMPORT_CONFIRM, request=request, target=filing, details={
        "register": "filing", "file": payload.get("filename", ""), "rows": result.changed + result.created,
        "form": filing.form.code, "period": filing.period})
    mappings.remember(payload.get("columns") or {}, register=excel.REGISTER_FILING, scope=filing.county_id,
                      user=request.user)


def alliance_finish(request, alliance, report_form: ReportForm, period: Period, payload: dict, results) -> int:
    """After a confirmed alliance-wide upload (page or API): the audit event and the remembered
    column mapping. Returns the number of figures written."""
    figures = sum(r.changed + r.created for r in results)
    audit.record(audit.Event.IMPORT_CONFIRM, request=request, target=alliance, details={
        "register": "alliance_workbook", "file": payload.get("filename", ""), "rows": len(results),
        "figures": figures, "form": report_form.code, "period": str(period)})
    mappings.remember(payload.get("columns") or {}, register=excel.REGISTER_ALLIANCE, scope=alliance.county_id,
                      user=request.user)
    return figures


def _county(user, county_id) -> Region:
    """The county named by the API call: 404 when missing or not seen (whether the user may file
    there is the filing's or the alliance's rule, checked on them)."""
    county = scoping.get_for_user(user, Region, county_id)
    if not county.is_county:
        raise Http404(_("Not found."))
    return county


def _mapping_body(header, fields) -> dict:
    plan = header.to_json() if header is not None else {}
    return {"header_row": plan.get("header_row"),
            "fields": plan.get("fields") or [{"name": f.name, "label": str(f.label), "required": f.required}
                                             for f in fields],
            "mapping": {c["title"] or c["letter"]: {"field": c["field"], "source": c["source"], "column": c["letter"]}
                        for c in plan.get("columns", [])}}


def _status(change) -> str:
    return excel.CHANGED if change.status == excel.CLEARED else change.status


def _change_row(change, **extra) -> dict:
    return {"row": change.row, "column": change.column, "status": _status(change), "code": change.element.code,
            "name": change.element.name, "old": None if change.old is None else str(change.old),
            "new": None if change.new is None else str(change.new), "cleared": change.status == excel.CLEARED,
            "errors": [change.error] if change.error else [], **extra}


# One filing ------------------------------------------------------------------------------------

def _filing(user, county, options: dict) -> Filing:
    """The filing the options name (``filing``: its id; or ``form`` (id or code), ``period`` and
    ``institution``: an id, or empty / ``county`` for the county's own filing): 404 when missing,
    not seen or of another county; 403 when not the user's to file or no longer editable."""
    from indicators.views.excel import editable_filing  # the page's rule (the views import this module)

    pk = options.get("filing")
    if pk in (None, ""):
        form_text = str(options.get("form") or "").strip()
        period_text = str(options.get("period") or "").strip()
        institution = str(options.get("institution") or "").strip()
        try:
            period = str(Period.parse(period_text))
        except PeriodError:
            raise Http404(_("Not found.")) from None
        forms = Q(form__code=form_text) | (Q(form_id=int(form_text)) if form_text.isdigit() else Q(pk__in=[]))
        filer = Q(institution=None) if institution in ("", excel.COUNTY_FILER) else (
            Q(institution_id=int(institution)) if institution.isdigit() else Q(pk__in=[]))
        pk = (Filing.objects.filter(forms, filer, county=county, period=period).order_by("pk")
              .values_list("pk", flat=True).first())
    filing = editable_filing(user, pk)
    if filing.county_id != county.pk:
        raise Http404(_("Not found."))
    return filing


def filing_body(plan: excel.FilingPlan) -> dict:
    body = _mapping_body(plan.header, excel.FILING_FIELDS)
    body |= {"filing": plan.filing.pk, "version": plan.version,
             "rows": [_change_row(c) for c in sorted(plan.changes, key=lambda c: c.number)],
             "errors": [i.text for i in plan.issues],
             "warnings": [f.message for f in plan.findings], "counts": plan.counts}
    return body


class FilingRegister:
    name = excel.REGISTER_FILING
    label = gettext_lazy("Filing (Excel template)")
    fields = excel.FILING_FIELDS

    def county_for(self, user, county_id):
        return _county(user, county_id)

    def preview(self, *, user, county, upload, mapping, options, now: datetime) -> Preview:
        filing = _filing(user, county, options)
        sheet, problems = excel.read_upload(upload, max_col=excel.FILING_READ_COLUMNS)
        if sheet is None:
            return Preview(_mapping_body(None, self.fields) | {"rows": [], "errors": [p.text for p in problems],
                                                                "warnings": [], "counts": {}})
        plan = excel.plan_filing_upload(filing, sheet, mapping=mapping,
                                        saved_for=mappings.saver(self.name, county.pk))
        payload = None
        if plan.ok and plan.has_changes:
            payload = {**plan.payload(), "filename": sheet.name,
                       "columns": plan.header.to_json() if plan.header is not None else None}
        return Preview(filing_body(plan), payload, plan.fingerprint())

    def confirm(self, *, user, county, payload, fingerprint, now, request) -> Applied:
        filing = _filing(user, county, {"filing": payload["filing"]})
        if filing.version != payload["version"]:
            raise Stale({"filing": filing.pk, "version": filing.version})
        result = excel.apply_filing_payload(filing, payload, user=user)
        excel_finish(request, filing, payload, result)
        return Applied(body={"filing": filing.pk, "changed": result.changed, "created": result.created,
                             "version": result.filing.version},
                       url=reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk}))


# The alliance-wide workbook --------------------------------------------------------------------

def _alliance_target(user, county, options: dict):
    """(form, alliance, period, error) of the options ``alliance`` (id), ``form`` (id or code) and
    ``period``: 404 when missing, not seen or of another county; 403 when the user does not file
    the alliance-wide workbook."""
    from indicators.views.excel import form_and_alliance, period_of  # the page's rules

    form_text = str(options.get("form") or "").strip()
    form_pk = form_text
    if not form_text.isdigit():
        form_pk = (ReportForm.objects.filter(code=form_text, county=county).values_list("pk", flat=True).first()
                   if form_text else None)
    form, alliance = form_and_alliance(user, form_pk, options.get("alliance"))
    if alliance.county_id != county.pk:
        raise Http404(_("Not found."))
    period, error = period_of(form, options.get("period"))
    return form, alliance, period, error


def alliance_body(plan: excel.AlliancePlan) -> dict:
    body = _mapping_body(plan.header, excel.ALLIANCE_BASE_FIELDS)
    rows = []
    for unit in plan.units:
        status = "error" if unit.issues else ("changed" if unit.filing is not None and unit.has_changes else
                                              "new" if unit.has_changes else "unchanged")
        rows.append({"row": unit.row, "institution": unit.institution.pk, "name": unit.institution.name,
                     "status": status, "counts": unit.counts, "errors": [i.text for i in unit.issues],
                     "warnings": [f.message for f in unit.findings],
                     "changes": [_change_row(c) for c in unit.changes if c.is_change]})
    body |= {"form": plan.form.pk, "alliance": plan.alliance.pk, "period": str(plan.period), "rows": rows,
             "errors": [i.text for i in plan.issues],
             "warnings": [f"{u.institution.name}: {f.message}" for u in plan.units for f in u.findings],
             "counts": plan.counts}
    return body


class AllianceFilingRegister:
    name = excel.REGISTER_ALLIANCE
    label = gettext_lazy("Alliance-wide filing workbook")

    @property
    def fields(self) -> tuple[Field, ...]:
        """For checking an API mapping: the institution's fields and every data element's code (the
        form, known only from the options, decides which apply)."""
        codes = DataElement.objects.order_by("code").values_list("code", "name").distinct()
        return excel.ALLIANCE_BASE_FIELDS + tuple(Field(code, name) for code, name in codes)

    def county_for(self, user, county_id):
        return _county(user, county_id)

    def preview(self, *, user, county, upload, mapping, options, now: datetime) -> Preview:
        form, alliance, period, error = _alliance_target(user, county, options)
        empty = _mapping_body(None, excel.ALLIANCE_BASE_FIELDS) | {"rows": [], "warnings": [], "counts": {}}
        if period is None:
            return Preview(empty | {"errors": [error]})
        sheet, problems = excel.read_upload(upload, max_col=excel.MAX_COLUMNS)
        if sheet is None:
            return Preview(empty | {"errors": [p.text for p in problems]})
        plan = excel.plan_alliance_upload(form, alliance, period, sheet, user=user, mapping=mapping,
                                          saved_for=mappings.saver(self.name, county.pk))
        payload = None
        if plan.ok and plan.has_changes:
            payload = {**plan.payload(), "filename": sheet.name,
                       "columns": plan.header.to_json() if plan.header is not None and plan.own_layout else None}
        return Preview(alliance_body(plan), payload, plan.fingerprint())

    def confirm(self, *, user, county, payload, fingerprint, now, request) -> Applied:
        form, alliance, period, error = _alliance_target(user, county, payload)
        if period is None or str(period) != payload["period"]:
            raise ImportFailed([Issue(error or _("Not found."))])
        plan = excel.plan_alliance_payload(form, alliance, period, payload, user=user)
        current = {u.institution.pk: (u.filing.version if u.filing else None) for u in plan.units}
        if not plan.ok or any(current[u.institution.pk] != u.expected_version for u in plan.units):
            raise Stale(alliance_body(plan))
        results = excel.apply_alliance_plan(plan, user=user)
        figures = alliance_finish(request, alliance, form, period, payload, results)
        return Applied(body={"filings": len(results), "figures": figures},
                       url=reverse("indicators:completeness") + f"?county={county.pk}&form={form.pk}&period={period}")


def register() -> None:
    """Add the registers to the import API (from ``IndicatorsConfig.ready``)."""
    registry.add(FilingRegister())
    registry.add(AllianceFilingRegister())
