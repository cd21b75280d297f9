"""The purchase register (统一采购明细) as a register of the import engine (``core.imports``): the
API's preview and confirmation (option ``alliance``: whose purchases), and the end of a confirmed
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
from alliances.models import Alliance
from core import audit
from core.clock import local_date
from core.imports import mappings
from core.imports.registry import Applied, Preview, Stale
from core.issues import ImportFailed, Issue
from core.periods import Period
from finance import importing, procurement, procurement_import
from finance.budgets import members_of

NAME = "procurement"


def finish(request, alliance: Alliance, *, filename: str, months: dict, columns: dict) -> int:
    """After a confirmed purchase import (page or API): the audit event and the column mapping the
    user made, remembered for the county's next file with the same headers. The rows imported."""
    rows = sum(len({institution for institution, _category in entries}) for entries in months.values())
    audit.record(audit.Event.IMPORT_CONFIRM, request=request, target=alliance, details={
        "register": NAME, "file": filename, "rows": rows, "months": sorted(str(month) for month in months)})
    mappings.remember(columns, register=NAME, scope=alliance.county_id, user=request.user)
    return rows


def _alliance_for(user, county, alliance_id) -> Alliance:
    """The page's rules: an alliance the user does not see (or of another county) is not found; one
    seen but not the user's to enter purchases for is refused."""
    from finance.budget_views import _can_edit  # the page's rule (the views import this module)

    alliance = scoping.get_for_user(user, Alliance, alliance_id)
    if alliance.county_id != county.pk:
        raise Http404(_("Not found."))
    if not _can_edit(user, alliance):
        raise PermissionDenied(_("Only the alliance office or the county bureau enters purchases."))
    return alliance


def _current(alliance: Alliance, months) -> dict:
    return {month: procurement.month_values(alliance, month) for month in sorted(months, key=str)}


def _fingerprint(alliance: Alliance, current: dict) -> str:
    years = sorted({month.year for month in current})
    return importing.fingerprint([
        [[str(month), sorted((f"{k[0]}:{k[1]}", str(v)) for k, v in values.items())] for month, values in
         current.items()],
        [[year, [m.pk for m in members_of(alliance, year)]] for year in years]])


def _months(payload: list) -> dict:
    months: dict = {}
    for month, institution, category, text in payload:
        months.setdefault(Period.parse(month), {})[(int(institution), category)] = text
    return months


class ProcurementRegister:
    name = NAME
    label = gettext_lazy("Unified procurement")
    fields = procurement_import.FIELDS

    def county_for(self, user, county_id):
        return importing.county_for(user, county_id)

    def preview(self, *, user, county, upload, mapping, options, now: datetime) -> Preview:
        if not options.get("alliance"):
            return Preview({"header_row": None, "fields": importing.fields_body({}, self.fields), "mapping": {},
                            "rows": [], "errors": [_("Say whose purchases these are (field “alliance”: the "
                                                     "alliance's id).")], "warnings": [], "counts": {}})
        alliance = _alliance_for(user, county, options["alliance"])
        parsed = procurement_import.read(upload, alliance, today=local_date(now), mapping=mapping,
                                         saved_for=mappings.saver(NAME, county.pk))
        plan = parsed.columns.to_json() if parsed.columns is not None else {}
        current = _current(alliance, parsed.months)
        rows = procurement_import.row_status(parsed, current)
        counts = dict(Counter(r["status"] for r in rows)) | {"amounts": parsed.cells, "months": len(parsed.months)}
        body = {"alliance": alliance.pk, "header_row": plan.get("header_row"),
                "fields": importing.fields_body(plan, self.fields), "mapping": importing.mapping_body(plan),
                "rows": rows, "errors": list(parsed.errors), "warnings": [], "counts": counts}
        if not parsed.ok:
            return Preview(body)
        payload = None
        if any(r["status"] != "unchanged" for r in rows) or any(
                (key not in parsed.months[month]) for month, values in current.items() for key in values):
            payload = {"alliance": alliance.pk, "file": parsed.name, "columns": plan,
                       "entries": [[str(month), institution, category, text]
                                   for month, entries in parsed.months.items()
                                   for (institution, category), text in entries.items()]}
        return Preview(body, payload, _fingerprint(alliance, current))

    def confirm(self, *, user, county, payload, fingerprint, now, request) -> Applied:
        alliance = _alliance_for(user, county, payload["alliance"])  # the rules of now
        months = _months(payload["entries"])
        if _fingerprint(alliance, _current(alliance, months)) != fingerprint:
            raise Stale({"alliance": alliance.pk})
        with transaction.atomic():
            errors = procurement.save_months(alliance, months, user=user, now=now)
            if errors:
                raise ImportFailed([Issue(e) for e in errors])
            rows = finish(request, alliance, filename=payload["file"], months=months, columns=payload["columns"])
        latest = max(months, key=str) if months else None
        url = f"{reverse('finance:procurement')}?alliance={alliance.pk}" + (f"&year={latest.year}" if latest else "")
        return Applied(body={"alliance": alliance.pk, "rows": rows, "months": sorted(str(m) for m in months)},
                       url=url)
