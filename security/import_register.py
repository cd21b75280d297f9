"""The user accounts as a register of the import engine (``core.imports``, name ``users``): the
API's preview and confirmation of the same file the page imports, with the page's reading,
checks, county rule and services (``security.user_import``).

No answer of the import API holds a password or anything derived from one. The one-time passwords
of the new accounts go as the page gives them: once, as an .xlsx, to the importer only. The page
keeps them encrypted in the importer's session; a script has no session, so they are kept
encrypted under a random batch token bound to the importer (``store_passwords``), and the
confirmation answers only that token and where to fetch the workbook (``POST
/api/users/import-passwords/``, ``take_passwords``), which works once."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import scoping
from alliances.models import Region
from core import pending
from core.imports import mappings
from core.imports.registry import Applied, Preview, Stale
from core.issues import Issue
from security import user_import as importer

NAME = importer.REGISTER  # "users"
PASSWORDS_KIND = "user-import-passwords"  # one-time passwords of an API import, encrypted, by batch token
ERROR = "error"


def import_county(user, county_id) -> Region:
    """The county whose accounts ``user`` imports, by the page's rule (the counties whose accounts
    the user runs): a missing county or another county's answers ``Http404``; a county the user sees
    or belongs to (its bureau, its auditor) but whose accounts the user does not run,
    ``PermissionDenied``."""
    try:
        pk = int(str(county_id))
    except (TypeError, ValueError):
        raise Http404(_("Not found.")) from None
    scope = scoping.scope_of(user)
    if scope.runs_accounts and (scope.everything or pk in scope.account_counties):
        county = Region.objects.filter(pk=pk, level=Region.Level.COUNTY).first()
        if county is None:
            raise Http404(_("Not found."))
        return county
    own = scope.view_counties | scope.context_counties | scope.audit_counties | {getattr(user, "county_id", None)}
    county = Region.objects.filter(pk=pk).first() if pk in own else None
    if county is None:  # not one of the user's own counties: the same 404 as a missing one, unless seen
        county = scoping.get_for_user(user, Region, pk)
    if not county.is_county:
        raise Http404(_("Not found."))
    raise PermissionDenied(_("Only the county's security administrator manages user accounts."))


def preview_body(plan: importer.Plan | None, plan_json: dict, problems: list[Issue]) -> dict:
    """The API's answer for a preview: the header, fields and mapping, every row with its status
    (new, changed, unchanged, or error) and errors, the counts. No password, no hash."""
    body = {"header_row": plan_json.get("header_row"),
            "fields": plan_json.get("fields") or [{"name": f.name, "label": str(f.label), "required": f.required}
                                                 for f in importer.FIELDS],
            "mapping": {c["title"] or c["letter"]: {"field": c["field"], "source": c["source"], "column": c["letter"]}
                        for c in plan_json.get("columns", [])},
            "rows": [], "errors": [p.text for p in problems], "warnings": [], "counts": {}}
    if plan is None:
        return body
    by_row: dict[int | None, list[str]] = {}
    for issue in plan.issues:
        by_row.setdefault(issue.row, []).append(issue.text)
    rows = []
    for row in plan.rows:
        rows.append({"row": row.line, "status": row.status if row.clean else ERROR, "username": row.username,
                     "full_name": row.full_name, "unit": row.unit.obj.name if row.unit else "", "role": row.role,
                     "changes": [{"field": key, "before": before, "after": after}
                                 for key, before, after in row.changes],
                     "errors": by_row.get(row.line, [])})
    body["rows"] = rows
    body["errors"] = plan.errors
    body["counts"] = {status: sum(1 for r in rows if r["status"] == status)
                      for status in (importer.NEW, importer.CHANGED, importer.UNCHANGED, ERROR)}
    return body


class UsersRegister:
    name = NAME
    label = gettext_lazy("Accounts and their grants")
    fields = importer.FIELDS

    def county_for(self, user, county_id) -> Region:
        return import_county(user, county_id)

    def preview(self, *, user, county, upload, mapping, options, now: datetime) -> Preview:
        read = importer.read_file(upload, mapping=mapping, saved_for=mappings.saver(NAME, county.pk))
        plan_json = read.columns.to_json() if read.columns is not None else {}
        if read.table is None:
            return Preview(preview_body(None, plan_json, read.problems))
        plan = importer.check(read.table, actor=user, county=county)
        payload = {"table": read.table.to_json()} if plan.ok and plan.has_changes else None
        return Preview(preview_body(plan, plan_json, []), payload, plan.fingerprint())

    def confirm(self, *, user, county, payload, fingerprint, now, request) -> Applied:
        """The page's confirmation: the county locked, the file checked again, applied in one
        transaction with its security events (no password in any), the mapping remembered."""
        table = importer.Table.from_json(payload["table"])
        try:
            result = importer.confirm(table, actor=user, county=county, fingerprint=fingerprint, request=request)
        except (importer.Stale, IntegrityError):
            plan = importer.check(table, actor=user, county=county)
            raise Stale(preview_body(plan, table.mapping, [])) from None
        passwords = None
        if result.created:
            batch = store_passwords(result, user=user, county=county)
            passwords = {"count": len(result.created), "batch": batch,
                         "url": reverse("user-import-passwords"), "method": "POST"}
        return Applied(body={"created": len(result.created), "changed": result.changed,
                             "unchanged": result.unchanged, "passwords": passwords},
                       url=reverse("security:user_list"))


# The one-time passwords of an API import ------------------------------------------------------------

def store_passwords(result: importer.Result, *, user, county: Region) -> str:
    """Keep the new accounts' passwords, encrypted (``user_import.passwords_seal``), for one download
    by ``user``; the batch token."""
    return pending.store_detached(PASSWORDS_KIND, payload={"cipher": importer.passwords_seal(result)},
                                  owner={"user": user.pk, "county": county.pk}, fingerprint="")


def take_passwords(user, batch: str) -> tuple[list[importer.Created], Region] | None:
    """The passwords kept under ``batch`` for ``user``, and their county, once: None for a batch that
    is not this user's, has been taken already or has expired. The county's rule of now applies
    (``import_county``)."""
    found = pending.load_detached(PASSWORDS_KIND, batch, owner_user=user.pk)
    if found is None:
        return None
    payload, owner, _fingerprint = found
    county = import_county(user, owner.get("county"))
    if not pending.claim(PASSWORDS_KIND, batch):  # two downloads at once: one gets the workbook
        return None
    pending.discard_detached(PASSWORDS_KIND, batch)
    created = importer.passwords_open(str(payload.get("cipher", "")))
    if created is None:
        return None
    return created, county
