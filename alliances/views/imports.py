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
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import exports, imports
from alliances.imports import registers
from alliances.models import Institution, Region
from alliances.views.common import CHANGE, VIEW
from core.imports.pages import ImportPage

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


class CountyRegisterPage(ImportPage):
    """A register of the county's organisation (institutions, memberships): the register upload form,
    the user and county as the preview's owner, the pages' own render functions (``render_upload``,
    ``render_preview``) with the mapping panel under the names their templates use."""

    render_upload = render_preview = None  # module functions, set by the subclass (staticmethod)

    def owner(self, request, scope) -> dict:
        return imports.pending_owner(request.user, scope)

    def upload_form(self, request=None):
        return RegisterUploadForm(*((request.POST, request.FILES) if request is not None else ()))

    def upload_page(self, request, scope, form, *, status=200, error="", mapping=None):
        return self.render_upload(request, scope, form, status=status, error=error, **panel_context(mapping))

    def preview_page(self, request, scope, plan, *, token=None, notice="", apply_issues=None, mapping=None):
        return self.render_preview(request, scope, plan, token=token, notice=notice, apply_issues=apply_issues,
                                   mapping=panel_context(mapping))


class InstitutionImportPage(CountyRegisterPage):
    register, pending_kind, files_kind = REGISTER, imports.PENDING_KIND, FILES_KIND

    def url(self, scope) -> str:
        return reverse("alliances:region_institutions_import", kwargs={"region_pk": scope.pk})

    def done_url(self, scope) -> str:
        return registers.institutions_url(scope)

    def read_upload(self, request, scope, form, *, saved_for):
        return imports.read_register(form.cleaned_data["file"], saved_for=saved_for)

    def read_data(self, request, scope, data, name, *, mapping, saved_for, extra):
        return imports.read_register_data(data, name, mapping=mapping, saved_for=saved_for)

    def plan(self, request, scope, read, extra):
        return imports.validate(read.table, county=scope, user=request.user)

    def payload(self, read, plan, extra):
        return read.table.to_json()

    def replan(self, request, scope, payload):
        return imports.validate(imports.RawTable.from_json(payload), county=scope, user=request.user)

    def apply(self, request, scope, plan, payload):
        return imports.apply_import(plan, county=scope, user=request.user)

    def finish(self, request, scope, plan, payload, result) -> str:
        registers.finish_institutions(request, scope, imports.RawTable.from_json(payload), plan, result)
        messages.success(request, _("The register was imported: %(create)s institutions created, %(update)s updated, "
                                    "%(unchanged)s unchanged.") % result)
        return self.done_url(scope)




def panel_context(mapping: dict | None) -> dict:
    """The mapping panel's context under the names the register's templates use."""
    if not mapping:
        return {}
    return {"mapping_columns": mapping.get("columns"), **{k: v for k, v in mapping.items() if k != "columns"}}


@login_required
def region_institutions_import(request, region_pk: int):
    return PAGE.handle(request, _county(request.user, region_pk, CHANGE))


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


InstitutionImportPage.render_upload = staticmethod(_upload_page)
InstitutionImportPage.render_preview = staticmethod(_preview)
PAGE = InstitutionImportPage()
