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
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from alliances import exports, imports
from alliances.imports import membership_file, registers
from alliances.models import AllianceMembership, Region
from alliances.views.imports import XLSX_CONTENT_TYPE, RegisterUploadForm
from core import pending
from core.imports import mappings
from core.issues import ImportFailed

REGISTER = registers.MEMBERSHIPS
PENDING_KIND = "memberships"
FILES_KIND = "membership-files"  # the uploaded files themselves, for a new column mapping
PREVIEW_KEYS = ("alliance", "institution", "role", "joined")
EXPIRED = gettext_noop("This preview is no longer valid: it has expired, has been imported already, or belongs to another "
           "session. Nothing was saved. Upload the file again.")


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


@login_required
def region_memberships_import(request, region_pk: int):
    user = request.user
    county = registers.register_county(user, region_pk, change=True)
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request, county)
    if request.method == "POST" and "remap" in request.POST:
        return _remap(request, county)
    form = RegisterUploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        read = membership_file.read_upload(form.cleaned_data["file"], saved_for=mappings.saver(REGISTER, county.pk))
        return _after_reading(request, county, read, form=form)
    return _upload_page(request, county, form)


def _after_reading(request, county: Region, read, *, form=None, file_token: str = "", mapping_errors=()):
    user = request.user
    owner = imports.pending_owner(user, county)
    if read.columns is not None and read.data and not file_token:
        file_token = pending.store_file(request.session, FILES_KIND, data=read.data, name=read.name, owner=owner,
                                        extra={"columns": read.columns.to_json()})
    mapping = {"mapping_columns": read.columns.to_json() if read.columns is not None and file_token else None,
               "remap_token": file_token, "mapping_errors": list(mapping_errors),
               "mapping_open": bool(mapping_errors) or bool(read.columns and read.columns.needs_user),
               "remap_url": reverse("alliances:region_memberships_import", kwargs={"region_pk": county.pk})}
    if read.table is None:
        form = form or RegisterUploadForm()
        for problem in read.problems:
            form.add_error("file", problem.text)
        return _upload_page(request, county, form, **mapping)
    result = membership_file.validate(read.table, county=county, user=user)
    token = None
    if result.ok and result.has_changes:
        token = pending.store(request.session, PENDING_KIND, payload={"table": read.table.to_json()}, owner=owner,
                              fingerprint=result.fingerprint())
    return _preview(request, county, result, token=token, mapping=mapping)


def _remap(request, county: Region):
    found = mappings.remapped(request, FILES_KIND, owner=imports.pending_owner(request.user, county))
    if found is None:
        return _upload_page(request, county, RegisterUploadForm(), status=400, error=_(EXPIRED))
    data, name, _extra, given, errors = found
    read = membership_file.read_data(data, name, mapping=given, saved_for=mappings.saver(REGISTER, county.pk))
    return _after_reading(request, county, read, file_token=request.POST["remap"], mapping_errors=errors)


def _confirm(request, county: Region):
    user = request.user
    token = request.POST.get("token", "")
    if "cancel" in request.POST:
        pending.discard(request.session, PENDING_KIND, token)
        messages.info(request, _("The import was cancelled; nothing was saved."))
        return redirect("alliances:region_memberships_import", region_pk=county.pk)
    owner = imports.pending_owner(user, county)
    done_url = registers.memberships_url(county)
    if pending.was_claimed(PENDING_KIND, token):  # a second click: the first one applies it
        return pending.already_confirmed(request, PENDING_KIND, token, owner=owner, fallback=done_url)
    found = pending.load(request.session, PENDING_KIND, token, owner=owner)
    if found is None:
        return _upload_page(request, county, RegisterUploadForm(), status=400, error=_(EXPIRED))
    payload, fingerprint = found
    table = imports.RawTable.from_json(payload["table"])
    result = membership_file.validate(table, county=county, user=user)
    if not result.ok:
        pending.discard(request.session, PENDING_KIND, token)
        return _preview(request, county, result, notice=_("The data in the portal changed since the preview and the "
                                                          "file no longer fits it. Nothing was saved."))
    if result.fingerprint() != fingerprint:
        pending.update_fingerprint(request.session, PENDING_KIND, token, result.fingerprint())
        return _preview(request, county, result, token=token, notice=_(
            "The data in the portal changed since the preview. Check the preview again and confirm."))
    if not pending.claim(PENDING_KIND, token):  # the other click won the race
        return pending.already_confirmed(request, PENDING_KIND, token, owner=owner, fallback=done_url)
    try:
        with pending.released_on_error(PENDING_KIND, token):
            counts = registers.apply_memberships(result, county=county, user=user)
    except ImportFailed as exc:
        pending.discard(request.session, PENDING_KIND, token)
        return _preview(request, county, result, apply_issues=exc.issues)
    pending.discard(request.session, PENDING_KIND, token)
    registers.finish_memberships(request, county, table, counts)
    pending.record_outcome(PENDING_KIND, token, owner=owner, url=done_url)
    messages.success(request, _("The alliance members were imported: %(new)s joined, %(changed)s changed, "
                                "%(unchanged)s unchanged.") % counts)
    return redirect(done_url)


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
