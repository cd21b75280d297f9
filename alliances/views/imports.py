"""The institution register (机构名册) of a county: the xlsx export, which doubles as the import
template, and the import in three steps (upload → preview → confirm).

The reading, checking and writing live in ``alliances.imports``; these views only pick the county
(``scoping``: a foreign or missing county answers 404, a county the user sees but may not change
403), keep the upload between preview and confirmation, and render.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import exports, imports
from alliances.imports import registers
from alliances.models import Institution, Region
from alliances.views.common import CHANGE, VIEW
from core import pending as pending_store
from core.imports import mappings

REGISTER = registers.INSTITUTIONS
FILES_KIND = "institution-files"  # the uploaded files themselves, for a new column mapping
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Columns of the preview table, in the order of the register.
PREVIEW_KEYS = ("name", "kind", "parent", "credit_code", "beds", "service_population", "alliance", "role", "joined")


class RegisterUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Register file"), allow_empty_file=True,
        help_text=gettext_lazy("An .xlsx workbook or a .csv file (UTF-8 or GB18030), at most 5 MB."),
        widget=forms.FileInput(attrs={"accept": ".xlsx,.csv"}),
    )


def _county(user, region_pk: int, action: str) -> Region:
    return registers.register_county(user, region_pk, change=action == CHANGE)


@login_required
def region_institutions_xlsx(request, region_pk: int):
    """The county's institutions in the official layout; with ``?blank=1`` the empty import template."""
    county = _county(request.user, region_pk, VIEW)
    today = timezone.localdate()
    blank = request.GET.get("blank") == "1"
    entries = [] if blank else exports.institution_register_entries(request.user, county, today)
    content = exports.institution_register_workbook(county=county, entries=entries, on=today, blank=blank)
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=exports.institution_register_filename(county, today, blank=blank)
    )
    return response


@login_required
def region_institutions_import(request, region_pk: int):
    user = request.user
    county = _county(user, region_pk, CHANGE)
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request, county)
    if request.method == "POST" and "remap" in request.POST:
        return _remap(request, county)
    form = RegisterUploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        read = imports.read_register(form.cleaned_data["file"], saved_for=mappings.saver(REGISTER, county.pk))
        return _after_reading(request, county, read, form=form)
    return _upload_page(request, county, form)


def _after_reading(request, county: Region, read: imports.RegisterRead, *, form=None, file_token: str = "",
                   mapping_errors=()):
    """The preview of a file just read, with its columns and the fields they fill (to map by hand)."""
    user = request.user
    if read.columns is not None and read.data and not file_token:
        file_token = pending_store.store_file(request.session, FILES_KIND, data=read.data, name=read.name,
                                              owner=imports.pending_owner(user, county),
                                              extra={"columns": read.columns.to_json()})
    mapping = {"mapping_columns": read.columns.to_json() if read.columns is not None and file_token else None,
               "remap_token": file_token, "mapping_errors": list(mapping_errors),
               "mapping_open": bool(mapping_errors) or bool(read.columns and read.columns.needs_user),
               "remap_url": reverse("alliances:region_institutions_import", kwargs={"region_pk": county.pk})}
    if read.table is None:
        form = form or RegisterUploadForm()
        for problem in read.problems:
            form.add_error("file", problem.text)
        return _upload_page(request, county, form, **mapping)
    result = imports.validate(read.table, county=county, user=user)
    token = None
    if result.ok and result.has_changes:
        token = imports.store_pending(request.session, table=read.table, county=county, user=user,
                                      fingerprint=result.fingerprint())
    return _preview(request, county, result, token=token, mapping=mapping)


def _remap(request, county: Region):
    found = mappings.remapped(request, FILES_KIND, owner=imports.pending_owner(request.user, county))
    if found is None:
        return _upload_page(request, county, RegisterUploadForm(), status=400,
                            error=_("This preview is no longer valid: it has expired, has been imported already, "
                                    "or belongs to another session. Nothing was saved. Upload the file again."))
    data, name, _extra, given, errors = found
    read = imports.read_register_data(data, name, mapping=given, saved_for=mappings.saver(REGISTER, county.pk))
    return _after_reading(request, county, read, file_token=request.POST["remap"], mapping_errors=errors)


def _confirm(request, county: Region):
    user = request.user
    token = request.POST.get("token", "")
    import_url = reverse("alliances:region_institutions_import", kwargs={"region_pk": county.pk})
    if "cancel" in request.POST:
        imports.discard_pending(request.session, token)
        messages.info(request, _("The import was cancelled; nothing was saved."))
        return redirect(import_url)
    owner = imports.pending_owner(user, county)
    done_url = registers.institutions_url(county)
    if pending_store.was_claimed(imports.PENDING_KIND, token):  # a second click: the first one applies it
        return pending_store.already_confirmed(request, imports.PENDING_KIND, token, owner=owner, fallback=done_url)
    pending = imports.load_pending(request.session, token, county=county, user=user)
    if pending is None:
        return _upload_page(request, county, RegisterUploadForm(), status=400,
                            error=_("This preview is no longer valid: it has expired, has been imported already, "
                                    "or belongs to another session. Nothing was saved. Upload the file again."))
    table, fingerprint = pending
    result = imports.validate(table, county=county, user=user)
    if not result.ok:
        imports.discard_pending(request.session, token)
        return _preview(request, county, result, notice=_("The data in the portal changed since the preview and the "
                                                          "file no longer fits it. Nothing was saved."))
    if result.fingerprint() != fingerprint:
        imports.update_pending(request.session, token, result.fingerprint())
        return _preview(request, county, result, token=token,
                        notice=_("The data in the portal changed since the preview. Check the preview again and "
                                 "confirm."))
    if not pending_store.claim(imports.PENDING_KIND, token):  # the other click won the race
        return pending_store.already_confirmed(request, imports.PENDING_KIND, token, owner=owner, fallback=done_url)
    try:
        counts = imports.apply_import(result, county=county, user=user)
    except imports.ImportFailed as exc:
        pending_store.release(imports.PENDING_KIND, token)
        imports.discard_pending(request.session, token)
        return _preview(request, county, result, apply_issues=exc.issues)
    except BaseException:
        pending_store.release(imports.PENDING_KIND, token)
        raise
    imports.discard_pending(request.session, token)
    registers.finish_institutions(request, county, table, result, counts)
    pending_store.record_outcome(imports.PENDING_KIND, token, owner=owner, url=done_url)
    messages.success(request, _("The register was imported: %(create)s institutions created, %(update)s updated, "
                                "%(unchanged)s unchanged.") % counts)
    return redirect(done_url)


def _upload_page(request, county: Region, form, *, status: int = 200, error: str = "", **mapping):
    kinds = [str(label) for label in Institution.Kind.labels]
    return render(request, "alliances/import_upload.html", {
        "county": county,
        "form": form,
        "kinds": kinds,
        "max_mb": imports.MAX_UPLOAD_BYTES // (1024 * 1024),
        "header_rows": imports.HEADER_SEARCH_ROWS,
        "error": error,
        **mapping,
    }, status=status)


def _preview(request, county: Region, result: imports.ImportResult, *, token: str | None = None,
             notice: str = "", apply_issues=None, mapping: dict | None = None):
    titles = {key: column.title for key, column in exports.REGISTER_COLUMN_BY_KEY.items()}
    letters = {key: letter for key, (letter, _title) in (result.table.columns.items() if result.table else ())}
    rows = []
    for row in result.rows:
        changed = {c.key: c for c in row.changes}
        wrong = {i.column for i in row.issues if i.column}
        cells = []
        for key in PREVIEW_KEYS:
            error = letters.get(key) in wrong
            # A wrong cell shows what was written; the others what was understood.
            value = row.raw.get(key, "") if error else row.display.get(key, "")
            cells.append({"key": key, "value": value, "change": None if error else changed.get(key), "error": error,
                          "numeric": key in ("beds", "service_population")})
        rows.append({"result": row, "cells": cells, "short_name": row.display.get("short_name", ""),
                     "short_name_change": changed.get("short_name")})
    return render(request, "alliances/import_preview.html", {
        "county": county,
        "result": result,
        "table": result.table,
        "rows": rows,
        "titles": titles,
        "columns": [titles[key] for key in PREVIEW_KEYS],
        "counts": result.counts,
        "issues": result.issues,
        "token": token,
        "notice": notice,
        "apply_issues": apply_issues or [],
        "form": RegisterUploadForm(),
        **(mapping or {}),
    })
