"""The alliance membership register (医共体成员名册) of a county: the xlsx export, which doubles as the
import template, and the import in three steps (upload → preview, with the column mapping → confirm).

Reading and checking live in ``alliances.imports.membership_file``, the writing is the institution
register's (``alliances.imports.apply_import`` through the membership services). The county comes
from ``alliances.imports.registers.register_county``: a foreign or missing county answers 404, a
county the user sees but may not change 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from alliances import exports, imports
from alliances.imports import membership_file, registers
from alliances.models import AllianceMembership, Region
from alliances.views.imports import XLSX_CONTENT_TYPE, CountyRegisterPage, RegisterUploadForm

REGISTER = registers.MEMBERSHIPS
PENDING_KIND = "memberships"
FILES_KIND = "membership-files"  # the uploaded files themselves, for a new column mapping
PREVIEW_KEYS = ("alliance", "institution", "role", "joined")


@login_required
def region_memberships_xlsx(request, region_pk: int):
    """The county's memberships in force today, in the layout the import reads."""
    county = registers.register_county(request.user, region_pk, change=False)
    today = timezone.localdate()
    memberships = exports.membership_register_entries(request.user, county, today)
    content = exports.membership_register_workbook(county=county, memberships=memberships, on=today)
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=exports.membership_register_filename(county, today))
    return response


class MembershipImportPage(CountyRegisterPage):
    register, pending_kind, files_kind = REGISTER, PENDING_KIND, FILES_KIND

    def url(self, scope) -> str:
        return reverse("alliances:region_memberships_import", kwargs={"region_pk": scope.pk})

    def done_url(self, scope) -> str:
        return registers.memberships_url(scope)

    def read_upload(self, request, scope, form, *, saved_for):
        return membership_file.read_upload(form.cleaned_data["file"], saved_for=saved_for)

    def read_data(self, request, scope, data, name, *, mapping, saved_for, extra):
        return membership_file.read_data(data, name, mapping=mapping, saved_for=saved_for)

    def plan(self, request, scope, read, extra):
        return membership_file.validate(read.table, county=scope, user=request.user)

    def payload(self, read, plan, extra):
        return {"table": read.table.to_json()}

    def replan(self, request, scope, payload):
        return membership_file.validate(imports.RawTable.from_json(payload["table"]), county=scope, user=request.user)

    def apply(self, request, scope, plan, payload):
        return registers.apply_memberships(plan, county=scope, user=request.user)

    def finish(self, request, scope, plan, payload, result) -> str:
        registers.finish_memberships(request, scope, imports.RawTable.from_json(payload["table"]), result)
        messages.success(request, _("The alliance members were imported: %(new)s joined, %(changed)s changed, "
                                    "%(unchanged)s unchanged.") % result)
        return self.done_url(scope)


@login_required
def region_memberships_import(request, region_pk: int):
    return PAGE.handle(request, registers.register_county(request.user, region_pk, change=True))


def _upload_page(request, county: Region, form, *, status: int = 200, error: str = "", **mapping):
    return render(request, "alliances/membership_import_upload.html", {
        "county": county, "form": form, "error": error, "max_mb": imports.MAX_UPLOAD_BYTES // (1024 * 1024),
        "header_rows": imports.HEADER_SEARCH_ROWS, "roles": [str(label) for label in AllianceMembership.Role.labels],
        **mapping}, status=status)


def _preview(request, county: Region, result: imports.ImportResult, *, token: str | None = None, notice: str = "",
             apply_issues=None, mapping: dict | None = None):
    table = result.table
    letters = {key: letter for key, (letter, _title) in table.columns.items()}
    rows = []
    for row in result.rows:
        changed = {c.key: c for c in row.changes}
        wrong = {i.column for i in row.issues if i.column}
        cells = []
        for key in PREVIEW_KEYS:
            error = letters.get(key) in wrong
            shown = row.display.get("name" if key == "institution" else key, "")
            value = row.raw.get(key, "") if error or not shown else shown
            cells.append({"key": key, "value": value, "error": error, "change": None if error else changed.get(key)})
        rows.append({"result": row, "status": membership_file.status_of(row), "cells": cells})
    return render(request, "alliances/membership_import_preview.html", {
        "county": county, "result": result, "table": table, "rows": rows,
        "columns": [_(membership_file.TITLES[key]) for key in PREVIEW_KEYS],
        "counts": membership_file.counts_of(result), "issues": result.issues, "token": token, "notice": notice,
        "apply_issues": apply_issues or [], "form": RegisterUploadForm(), **(mapping or {}),
    })


MembershipImportPage.render_upload = staticmethod(_upload_page)
MembershipImportPage.render_preview = staticmethod(_preview)
PAGE = MembershipImportPage()
