"""The roster (花名册) as a register of the import engine (``core.imports``): the API's preview and
confirmation, and what the page shares with it: saving the previewed rows (checked again against
the portal of now), the end of a confirmed import (audit event, remembered column mapping), and
the column plan as it may be shown or kept (no identity number in it).

Personal data: the API's answer shows what the preview page shows (names, masked identity
numbers, institutions, the errors' texts); what is kept between the preview and the confirmation
has the identity numbers encrypted (``roster_import.to_session``)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import scoping
from alliances.models import Institution, Region
from alliances.scoping import CHANGE
from core import audit
from core.imports import mappings
from core.imports.registry import Applied, Preview, Stale
from core.models import ImportMapping
from staffing import identity, services
from staffing import roster_import as importer
from staffing.scoping import roster_institutions

NAME = "roster"
# What the API calls the preview's statuses.
STATUS = {importer.NEW: "new", importer.UPDATED: "changed", importer.UNCHANGED: "unchanged"}
_DIGITS = re.compile(r"\d{10,}[\dXx]?")  # identity numbers, phone numbers (as typed or as numbers)


class Changed(Exception):  # noqa: N818
    """The institutions or the people of the preview changed since it was made."""


def no_permission() -> PermissionDenied:
    return PermissionDenied(_("Only HR officers, the alliance office and the county health bureau import the "
                              "roster."))


def county_institutions(user, county) -> list[Institution]:
    """The institutions of ``county`` whose roster the user keeps (one query)."""
    scope = scoping.scope_of(user)
    return list(roster_institutions(scope, CHANGE).filter(county_id=county.pk).select_related("county")
                .order_by("name"))


def saved_for(county_ids):
    """``saved_for(signature)`` over the counties the user keeps a roster in (one query): the page
    knows the county only once the file is read."""
    ids = sorted(set(county_ids))
    if len(ids) == 1:
        return mappings.saver(NAME, ids[0])
    return lambda signature: ImportMapping.objects.filter(register=NAME, scope__in=ids, signature=signature).order_by(
        "-pk").values_list("mapping", flat=True).first()


def shown_plan(plan) -> dict:
    """A column plan (``ColumnPlan.to_json``) as the page shows it: sample values of the identity
    number column, and any long run of digits elsewhere, masked."""
    data = plan.to_json()
    for column in data["columns"]:
        if column["field"] == "number":
            column["samples"] = [identity.mask(s) for s in column["samples"]]
        else:
            column["samples"] = [_DIGITS.sub(lambda m: identity.mask(m[0]), s) for s in column["samples"]]
    return data


def kept_plan(plan) -> dict:
    """A column plan as kept between requests: without sample values."""
    data = plan.to_json()
    for column in data["columns"]:
        column["samples"] = []
    return data


def state_fingerprint(county_id: int, institutions: list[Institution], digests: list[str]) -> str:
    """The state of the portal a preview depends on: the institutions the user keeps in the county
    and the people of the file already on its roster (one query)."""
    existing = importer.existing_staff(county_id, digests)
    state = {"kept": sorted(i.pk for i in institutions if i.county_id == county_id),
             "people": sorted(existing.items())}
    return hashlib.sha256(json.dumps(state, default=str, sort_keys=True).encode()).hexdigest()


def save_rows(county_id: int, rows: list[tuple[str, dict]], institutions: list[Institution]) -> dict[str, int]:
    """Check the rows again against the user's institutions and the county's roster now, then write
    them (``services.upsert``); raises ``Changed`` before writing anything when a check fails."""
    kept = {i.pk: i for i in institutions if i.county_id == county_id}
    for _number, fields in rows:
        for key in ("institution", "home"):
            if key in fields and fields[key] not in kept:
                raise Changed
    existing = importer.existing_staff(county_id, [identity.digest(number) for number, _fields in rows])
    for before in existing.values():
        if not (before["institution_id"] in kept or before["home_id"] in kept):
            raise Changed
    counts = {importer.NEW: 0, importer.UPDATED: 0, importer.UNCHANGED: 0}
    for number, fields in rows:
        values = {key: kept[value] if key in ("institution", "home") else value for key, value in fields.items()}
        status = importer.status_of(existing.get(identity.digest(number)), values)
        counts[status] += 1
        if status != importer.UNCHANGED:
            services.upsert(county_id, number, values)
    return counts


def finish(request, county, county_id: int, *, filename: str, counts: dict[str, int], plan: dict | None) -> None:
    """After a confirmed roster import (page or API), in its transaction: the audit event and the
    column mapping the user made, remembered for the next file with the same headers."""
    audit.record(audit.Event.IMPORT_CONFIRM, request=request, target=county, county_id=county_id, details={
        "register": NAME, "file": filename,
        "rows": counts[importer.NEW] + counts[importer.UPDATED], "created": counts[importer.NEW],
        "updated": counts[importer.UPDATED]})
    if plan:
        mappings.remember(plan, register=NAME, scope=county_id, user=request.user)


def preview_body(parsed: importer.Parsed) -> dict:
    """The API's answer for a roster preview: what the preview page shows, no more (identity
    numbers masked)."""
    plan = parsed.plan.to_json() if parsed.plan is not None else {}
    body = {"header_row": plan.get("header_row"),
            "fields": plan.get("fields") or [{"name": f.name, "label": str(f.label), "required": f.required}
                                             for f in importer.FIELDS],
            "mapping": {c["title"] or c["letter"]: {"field": c["field"], "source": c["source"], "column": c["letter"]}
                        for c in plan.get("columns", [])},
            "rows": [], "errors": list(parsed.errors), "warnings": [], "counts": {}}
    if parsed.errors:
        body["rows"] = [{"row": line, "status": "error", "errors": texts}
                        for line, texts in sorted(parsed.row_errors.items())]
    else:
        body["rows"] = [{"row": r.line, "status": STATUS[r.status], "name": r.fields.get("name", ""),
                         "number": r.masked, "institution": r.shown.get("institution", ""), "changes": r.changes,
                         "errors": []} for r in parsed.rows]
    counts = {"new": 0, "changed": 0, "unchanged": 0, "error": len(parsed.row_errors)}
    if not parsed.errors:
        for row in parsed.rows:
            counts[STATUS[row.status]] += 1
    body["counts"] = counts
    return body


class RosterRegister:
    name = NAME
    label = gettext_lazy("Roster")
    fields = importer.FIELDS

    def county_for(self, user, county_id):
        """The page's rule: users who see nothing of the county get 404 (as for a missing county);
        those who see it but keep no roster in it 403."""
        county = scoping.get_for_user(user, Region, county_id)
        if not county.is_county:
            raise Http404(_("Not found."))
        if not roster_institutions(scoping.scope_of(user), CHANGE).filter(county_id=county.pk).exists():
            raise no_permission()
        return county

    def preview(self, *, user, county, upload, mapping, options, now: datetime) -> Preview:
        institutions = county_institutions(user, county)
        parsed = importer.read(upload, institutions, mapping=mapping, saved_for=mappings.saver(NAME, county.pk))
        body = preview_body(parsed)
        if not parsed.ok or not any(r.status != importer.UNCHANGED for r in parsed.rows):
            return Preview(body)
        payload = {**importer.to_session(parsed, user.pk), "filename": parsed.filename,
                   "columns": kept_plan(parsed.plan)}
        return Preview(body, payload, state_fingerprint(county.pk, institutions, [r.digest for r in parsed.rows]))

    def confirm(self, *, user, county, payload, fingerprint, now, request) -> Applied:
        found = importer.from_session(payload, user.pk)
        if found is None or found[0] != county.pk:
            raise Http404(_("Not found."))
        county_id, rows = found
        institutions = county_institutions(user, county)
        stale = Stale({"counts": {}, "rows": []})
        try:
            with transaction.atomic():
                digests = [identity.digest(number) for number, _fields in rows]
                if state_fingerprint(county_id, institutions, digests) != fingerprint:
                    raise stale
                counts = save_rows(county_id, rows, institutions)
                finish(request, county, county_id, filename=payload.get("filename", ""), counts=counts,
                       plan=payload.get("columns"))
        except (Changed, IntegrityError):
            raise stale from None
        return Applied(body={"new": counts[importer.NEW], "changed": counts[importer.UPDATED],
                             "unchanged": counts[importer.UNCHANGED]}, url=reverse("staffing:roster"))
