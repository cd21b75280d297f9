"""The institution register (``institutions``) and the alliance membership register
(``memberships``) as registers of the import engine (``core.imports``): the API's preview and
confirmation, and the end of a confirmed import that the pages share (audit event, remembered
column mapping)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import scoping
from alliances.imports import membership_file
from alliances.imports.applying import apply_import
from alliances.imports.reading import FIELDS, RegisterRead, read_register
from alliances.imports.results import ImportResult, RawTable
from alliances.imports.validation import validate
from alliances.models import Region
from core import audit
from core.imports import mappings
from core.imports.registry import Applied, Preview, Stale

INSTITUTIONS = "institutions"
MEMBERSHIPS = membership_file.REGISTER
# The institution register's statuses in the API's words.
STATUS = {"create": "new", "update": "changed", "unchanged": "unchanged"}


def register_county(user, region_pk, *, change: bool) -> Region:
    """The county of a register page: 404 when missing, foreign or not a county; 403 when the user
    sees it but may not change it (only the county health bureau imports)."""
    county = scoping.get_for_user(user, Region, region_pk)
    if not county.is_county:
        raise Http404(_("Only a county has an institution register."))
    if change and not scoping.counties_for(user, scoping.CHANGE).filter(pk=county.pk).exists():
        raise PermissionDenied(_("Only the county health bureau imports the institution register."))
    return county


def institutions_url(county: Region) -> str:
    return f"{reverse('alliances:institution_list')}?county={county.pk}&active=all"


def finish_institutions(request, county: Region, table: RawTable, result: ImportResult, counts: dict) -> None:
    """After a confirmed institution register import (page or API): the audit event and the column
    mapping the user made, remembered for the next file with the same headers."""
    audit.record(audit.Event.IMPORT_CONFIRM, request=request, target=county, details={
        "register": INSTITUTIONS, "file": table.filename, "rows": counts["create"] + counts["update"],
        "created": counts["create"], "updated": counts["update"],
        "memberships": sum(1 for row in result.rows if row.membership)})
    mappings.remember(table.mapping, register=INSTITUTIONS, scope=county.pk, user=request.user)


def finish_memberships(request, county: Region, table: RawTable, counts: dict) -> None:
    """After a confirmed membership register import (page or API): audit event, remembered mapping."""
    audit.record(audit.Event.IMPORT_CONFIRM, request=request, target=county, details={
        "register": MEMBERSHIPS, "file": table.filename, "rows": counts["new"] + counts["changed"],
        "created": counts["new"], "updated": counts["changed"]})
    mappings.remember(table.mapping, register=MEMBERSHIPS, scope=county.pk, user=request.user)


def preview_body(plan: dict, problems: list, result: ImportResult | None, fields, *, status_of, counts: dict) -> dict:
    """The API's answer for a preview of either register (``plan``: the column plan as JSON)."""
    body = {"header_row": plan.get("header_row"),
            "fields": plan.get("fields") or [{"name": f.name, "label": str(f.label), "required": f.required}
                                            for f in fields],
            "mapping": {c["title"] or c["letter"]: {"field": c["field"], "source": c["source"], "column": c["letter"]}
                        for c in plan.get("columns", [])},
            "rows": [], "errors": [p.text for p in problems], "warnings": [], "counts": {}}
    if result is None:
        return body
    body["rows"] = [{"row": r.row, "name": r.name, "status": status_of(r),
                     "changes": [{"field": c.key, "old": c.old, "new": c.new} for c in r.changes],
                     "errors": [i.text for i in r.issues]} for r in result.rows]
    body["errors"] = [i.text for i in result.issues]
    body["counts"] = counts
    return body


def _plan(read: RegisterRead) -> dict:
    return read.columns.to_json() if read.columns is not None else {}


def _institution_status(row) -> str:
    return "error" if row.issues else STATUS[row.action]


def _institution_counts(result: ImportResult) -> dict:
    counts = result.counts
    return {"new": counts["create"], "changed": counts["update"], "unchanged": counts["unchanged"],
            "error": counts["error"]}


class InstitutionRegister:
    name = INSTITUTIONS
    label = gettext_lazy("Institution register")
    fields = FIELDS

    def county_for(self, user, county_id):
        return register_county(user, county_id, change=True)

    def preview(self, *, user, county, upload, mapping, options, now: datetime) -> Preview:
        read = read_register(upload, mapping=mapping, saved_for=mappings.saver(INSTITUTIONS, county.pk))
        if read.table is None:
            return Preview(preview_body(_plan(read), read.problems, None, FIELDS, status_of=_institution_status, counts={}))
        result = validate(read.table, county=county, user=user)
        payload = {"table": read.table.to_json()} if result.ok and result.has_changes else None
        body = preview_body(_plan(read), [], result, FIELDS, status_of=_institution_status, counts=_institution_counts(result))
        return Preview(body, payload, result.fingerprint())

    def confirm(self, *, user, county, payload, fingerprint, now, request) -> Applied:
        table = RawTable.from_json(payload["table"])
        with transaction.atomic():
            result = validate(table, county=county, user=user)
            if not result.ok or result.fingerprint() != fingerprint:
                raise Stale(preview_body(table.mapping, [], result, FIELDS, status_of=_institution_status,
                                         counts=_institution_counts(result)))
            counts = apply_import(result, county=county, user=user)
            finish_institutions(request, county, table, result, counts)
        return Applied(body={"new": counts["create"], "changed": counts["update"], "unchanged": counts["unchanged"]},
                       url=institutions_url(county))


def memberships_url(county: Region) -> str:
    return f"{reverse('alliances:alliance_list')}?county={county.pk}"


def apply_memberships(result: ImportResult, *, county: Region, user) -> dict:
    """Write a valid membership register (``apply_import``: leads first, through the services; all
    or nothing); the counts by status."""
    counts = membership_file.counts_of(result)
    apply_import(result, county=county, user=user)
    return counts


class MembershipRegister:
    name = MEMBERSHIPS
    label = gettext_lazy("Alliance membership register")
    fields = membership_file.FIELDS

    def county_for(self, user, county_id):
        return register_county(user, county_id, change=True)

    def preview(self, *, user, county, upload, mapping, options, now: datetime) -> Preview:
        read = membership_file.read_upload(upload, mapping=mapping, saved_for=mappings.saver(MEMBERSHIPS, county.pk))
        if read.table is None:
            return Preview(preview_body(_plan(read), read.problems, None, self.fields, status_of=membership_file.status_of, counts={}))
        result = membership_file.validate(read.table, county=county, user=user)
        counts = membership_file.counts_of(result)
        payload = {"table": read.table.to_json()} if result.ok and result.has_changes else None
        body = preview_body(_plan(read), [], result, self.fields, status_of=membership_file.status_of, counts=counts)
        return Preview(body, payload, result.fingerprint())

    def confirm(self, *, user, county, payload, fingerprint, now, request) -> Applied:
        table = RawTable.from_json(payload["table"])
        with transaction.atomic():
            result = membership_file.validate(table, county=county, user=user)
            if not result.ok or result.fingerprint() != fingerprint:
                raise Stale(preview_body(table.mapping, [], result, self.fields,
                                         status_of=membership_file.status_of,
                                         counts=membership_file.counts_of(result)))
            counts = apply_memberships(result, county=county, user=user)
            finish_memberships(request, county, table, counts)
        return Applied(body={k: counts[k] for k in ("new", "changed", "unchanged")}, url=memberships_url(county))
