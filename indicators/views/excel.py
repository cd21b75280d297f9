"""Excel templates and uploads of filings: the template of one filing and the alliance-wide
workbook to download; their uploads in three steps (upload → preview with errors by cell and the
validation findings → confirm). The reading, checking and writing live in ``indicators.excel``;
these views pick the filing, form and alliance (``scoping``: a foreign or missing object answers
404; one the user sees but does not file answers 403) and hand them to their page
(``core.imports.pages.ImportPage``: the kept file and its column mapping, the preview token, the
confirmation claimed once), which renders. Nothing is saved before the confirmation, and nothing
at all if any cell or any filing is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import scoping
from alliances.models import Alliance
from core.http import xlsx_response
from core.imports.columns import ColumnPlan
from core.imports.pages import ImportPage
from core.periods import Period, PeriodError
from indicators import excel, permissions, selectors
from indicators.excel_register import alliance_finish, excel_finish
from indicators.models import Filing, ReportForm
from indicators.services import filings as service

FILING_KIND = "filing_excel"
ALLIANCE_KIND = "alliance_excel"
FILING_FILES_KIND = "filing_excel-files"  # the uploaded files themselves, for a new column mapping
ALLIANCE_FILES_KIND = "alliance_excel-files"
MAX_MB = excel.MAX_UPLOAD_BYTES // (1024 * 1024)


class ExcelUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Filled template"), allow_empty_file=True,
                           widget=forms.FileInput(attrs={"accept": ".xlsx"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _("The .xlsx template downloaded from the portal, filled in; at most "
                                          "%(mb)s MB.") % {"mb": MAX_MB}


# One filing ------------------------------------------------------------------------------------

def _filing_for(user, filing_pk) -> Filing:
    qs = scoping.queryset_for(user, Filing).select_related("form", "form__county", "institution", "county")
    return scoping.get_for_user(user, Filing, filing_pk, queryset=qs)


def editable_filing(user, filing_pk) -> Filing:
    """The filing the user uploads into: 404 when not seen, 403 when not theirs to file or no
    longer editable."""
    filing = _filing_for(user, filing_pk)
    if not permissions.can_file_filing(user, filing):
        raise PermissionDenied(_("Only the institution's own filers, its alliance office or the county bureau "
                                 "file this form."))
    if not service.may_edit_on(filing):
        try:
            service.raise_not_editable(filing)
        except ValidationError as exc:
            raise PermissionDenied(" ".join(exc.messages)) from None
    return filing


def _filing_owner(user, filing: Filing) -> dict:
    return {"user": user.pk, "filing": filing.pk}


@login_required
def filing_template(request, filing_pk):
    """The template of the filing (.xlsx) with its current values."""
    filing = _filing_for(request.user, filing_pk)
    content = excel.filing_template(filing, today=timezone.localdate())
    return xlsx_response(content, excel.filing_template_filename(filing))


@login_required
def filing_upload(request, filing_pk):
    return FILING_PAGE.handle(request, editable_filing(request.user, filing_pk))


@dataclass
class _Read:
    """A file read for the page flow (``core.imports.pages``): the sheet (None when unreadable), why
    not, and its plan, made while reading since the column mapping decides it."""

    sheet: excel.Sheet | None
    problems: list
    plan: excel.FilingPlan | excel.AlliancePlan | None = None
    columns: ColumnPlan | None = None  # the header to map (kept with the file) or None

    @property
    def table(self):
        return self.sheet

    @property
    def data(self) -> bytes:
        return self.sheet.data if self.sheet is not None else b""

    @property
    def name(self) -> str:
        return self.sheet.name if self.sheet is not None else ""


class _ExcelPage(ImportPage):
    """What the two Excel pages share: reading the sheet, the plan made while reading, the payload
    kept with the file's name and header; a file that cannot be read again after a new mapping
    answers 400 on the upload page."""

    max_col = excel.MAX_COLUMNS

    def upload_form(self, request=None):
        return ExcelUploadForm(*((request.POST, request.FILES) if request is not None else ()))

    def read_upload(self, request, scope, form, *, saved_for):
        return self._planned(request, scope, *excel.read_upload(form.cleaned_data["file"], max_col=self.max_col),
                             mapping=None, saved_for=saved_for)

    def read_data(self, request, scope, data, name, *, mapping, saved_for, extra):
        return self._planned(request, scope, *excel.read_data(data, name, max_col=self.max_col), mapping=mapping,
                             saved_for=saved_for)

    def _planned(self, request, scope, sheet, problems, *, mapping, saved_for) -> _Read:
        if sheet is None:
            return _Read(sheet, problems)
        plan = self.plan_sheet(request, scope, sheet, mapping=mapping, saved_for=saved_for)
        plan.filename = sheet.name
        return _Read(sheet, problems, plan, self.columns_of(plan))

    def plan_sheet(self, request, scope, sheet, *, mapping, saved_for):
        raise NotImplementedError

    def columns_of(self, plan):
        return plan.header

    def plan(self, request, scope, read, extra):
        return read.plan

    def payload(self, read, plan, extra):
        return {**plan.payload(), "filename": read.name,
                "columns": plan.header.to_json() if plan.header is not None else None}

    def unreadable(self, request, scope, read, form, mapping):
        if form is None:  # the kept file read again with a new mapping
            return self.upload_page(request, scope, self.upload_form(), errors=read.problems, status=400)
        return super().unreadable(request, scope, read, form, mapping)


class FilingExcelPage(_ExcelPage):
    """The template of one filing uploaded: its figures replace the filing's; the confirmation
    writes the kept values at the version read (the save checks it), without planning again."""

    register, pending_kind, files_kind = excel.REGISTER_FILING, FILING_KIND, FILING_FILES_KIND
    replan_on_confirm = False
    max_col = excel.FILING_READ_COLUMNS

    def owner(self, request, scope) -> dict:
        return _filing_owner(request.user, scope)

    def mapping_scope(self, scope) -> int:
        return scope.county_id

    def url(self, scope) -> str:
        return reverse("indicators:excel_filing_upload", kwargs={"filing_pk": scope.pk})

    def done_url(self, scope) -> str:
        return reverse("indicators:filing_detail", kwargs={"filing_pk": scope.pk})

    def plan_sheet(self, request, scope, sheet, *, mapping, saved_for):
        return excel.plan_filing_upload(scope, sheet, mapping=mapping, saved_for=saved_for)

    def replan(self, request, scope, payload):
        return None  # the kept values are written as they stand

    def apply(self, request, scope, plan, payload):
        return excel.apply_filing_payload(scope, payload, user=request.user)

    def finish(self, request, scope, plan, payload, result) -> str:
        excel_finish(request, scope, payload, result)
        messages.success(request, _("Imported from Excel: %(count)d figures changed. The filing is not submitted "
                                    "yet; check it and submit it.") % {"count": result.changed + result.created})
        return self.done_url(scope)

    def upload_page(self, request, scope, form, *, status=200, error="", mapping=None, errors=None):
        return render(request, "indicators/excel_upload.html", {
            "mode": "filing", "filing": scope, "period": Period.parse(scope.period), "form": form,
            "error": error, "errors": errors or [], "max_mb": MAX_MB,
            "template_url": reverse("indicators:excel_filing_template", kwargs={"filing_pk": scope.pk}),
            "back_url": self.done_url(scope),
        }, status=status)

    def preview_page(self, request, scope, plan, *, token=None, notice="", apply_issues=None, mapping=None):
        if apply_issues is not None:  # the writing failed: the upload page with why, nothing saved
            return self.upload_page(request, scope, self.upload_form(), errors=apply_issues, status=409)
        rows, section = [], None
        for change in sorted(plan.changes, key=lambda c: c.number):
            rows.append({"change": change, "section": change.section if change.section != section else ""})
            section = change.section
        return render(request, "indicators/excel_preview.html", {
            "filing": scope, "period": Period.parse(scope.period), "plan": plan, "rows": rows,
            "counts": plan.counts, "errors": plan.issues, "findings": plan.findings, "token": token,
            "filename": plan.filename, "form": ExcelUploadForm(), "upload_url": self.url(scope),
            "back_url": self.done_url(scope), **(mapping or {}),
        })


FILING_PAGE = FilingExcelPage()


# The alliance-wide workbook --------------------------------------------------------------------

def form_and_alliance(user, form_pk, alliance_pk) -> tuple[ReportForm, Alliance]:
    """The form and alliance of an alliance-wide workbook: 404 when either is not seen (or they do
    not go together), 403 when the user is not the alliance office or the county bureau."""
    alliance = scoping.get_for_user(user, Alliance, alliance_pk)
    form = scoping.get_for_user(user, ReportForm, form_pk)
    if form.county_id != alliance.county_id or form.filer_level != ReportForm.FilerLevel.INSTITUTION:
        raise Http404(_("Not found."))
    scope = scoping.scope_of(user)
    if not (scope.everything or alliance.county_id in scope.change_counties or alliance.pk in scope.report_alliances):
        raise PermissionDenied(_("The alliance-wide workbook is filed by the alliance office or the county bureau."))
    return form, alliance


def _period(request, form: ReportForm) -> tuple[Period | None, str]:
    """The period of the query string (``?period=2026-05``; the latest due one without), or why it
    cannot be filed."""
    return period_of(form, request.GET.get("period"))


def period_of(form: ReportForm, text) -> tuple[Period | None, str]:
    """The period written ``text`` (the latest due one when empty) as the alliance-wide workbook
    files it, or why it cannot be filed."""
    today = timezone.localdate()
    text = str(text or "").strip()
    if not text:
        due = selectors.due_periods(form, today, 1)
        return (due[0], "") if due else (None, _("This form has no period to file yet."))
    try:
        period = Period.parse(text)
    except PeriodError as exc:
        return None, str(exc)
    if period.kind != form.kind:
        return None, _("%(form)s is filed per %(kind)s, not for %(period)s.") % {
            "form": form.name, "kind": Period(period.year, form.kind, 1).kind_label, "period": period.label}
    first = form.files_from()
    if period.end >= today or (first and period.start < first.start):
        return None, _("%(period)s cannot be filed: it has not ended yet or comes before the form's first period.") % {
            "period": period.label}
    return period, ""


@dataclass(frozen=True)
class AllianceTarget:
    """What the alliance-wide workbook is uploaded into: a form, an alliance and a period."""

    form: ReportForm
    alliance: Alliance
    period: Period


def _alliance_owner(user, form: ReportForm, alliance: Alliance, period: Period) -> dict:
    return {"user": user.pk, "form": form.pk, "alliance": alliance.pk, "period": str(period)}


def _alliance_urls(form: ReportForm, alliance: Alliance, period: Period | None) -> dict:
    kwargs = {"form_pk": form.pk, "alliance_pk": alliance.pk}
    query = f"?period={period}" if period else ""
    return {
        "template_url": reverse("indicators:excel_alliance_workbook", kwargs=kwargs) + query,
        "upload_url": reverse("indicators:excel_alliance_upload", kwargs=kwargs) + query,
        "back_url": reverse("indicators:completeness") + f"?county={form.county_id}&form={form.pk}"
                    + (f"&period={period}" if period else ""),
    }


@login_required
def alliance_workbook(request, form_pk, alliance_pk):
    """One row per member institution that files the form, one column per element (.xlsx)."""
    form, alliance = form_and_alliance(request.user, form_pk, alliance_pk)
    period, error = _period(request, form)
    if period is None:
        return HttpResponseBadRequest(error, content_type="text/plain; charset=utf-8")
    content = excel.alliance_workbook(form, alliance, period, today=timezone.localdate())
    return xlsx_response(content, excel.alliance_workbook_filename(form, alliance, period))


@login_required
def alliance_upload(request, form_pk, alliance_pk):
    report_form, alliance = form_and_alliance(request.user, form_pk, alliance_pk)
    period, error = _period(request, report_form)
    if period is None:
        return ALLIANCE_PAGE.upload_page(request, AllianceTarget(report_form, alliance, None), ExcelUploadForm(),
                                         error=error, status=400)
    return ALLIANCE_PAGE.handle(request, AllianceTarget(report_form, alliance, period))


class AllianceExcelPage(_ExcelPage):
    """The alliance-wide workbook uploaded: one row per member institution; the confirmation plans
    the kept values again against the portal of now and writes every filing or none. Only a sheet
    of the alliance's own layout is kept for a new mapping (the portal's is read by its hidden codes)."""

    register, pending_kind, files_kind = excel.REGISTER_ALLIANCE, ALLIANCE_KIND, ALLIANCE_FILES_KIND

    def owner(self, request, scope) -> dict:
        return _alliance_owner(request.user, scope.form, scope.alliance, scope.period)

    def mapping_scope(self, scope) -> int:
        return scope.alliance.county_id

    def url(self, scope) -> str:
        return _alliance_urls(scope.form, scope.alliance, scope.period)["upload_url"]

    def done_url(self, scope) -> str:
        return _alliance_urls(scope.form, scope.alliance, scope.period)["back_url"]

    def plan_sheet(self, request, scope, sheet, *, mapping, saved_for):
        return excel.plan_alliance_upload(scope.form, scope.alliance, scope.period, sheet, user=request.user,
                                          mapping=mapping, saved_for=saved_for)

    def columns_of(self, plan):
        return plan.header if plan.own_layout else None

    def replan(self, request, scope, payload):
        return excel.plan_alliance_payload(scope.form, scope.alliance, scope.period, payload, user=request.user)

    def apply(self, request, scope, plan, payload):
        return excel.apply_alliance_plan(plan, user=request.user)

    def finish(self, request, scope, plan, payload, result) -> str:
        figures = alliance_finish(request, scope.alliance, scope.form, scope.period, payload, result)
        messages.success(request, _("Imported from Excel: %(count)d figures changed in %(filings)d filings. The "
                                    "filings are not submitted yet.") % {"count": figures, "filings": len(result)})
        return self.done_url(scope)

    def upload_page(self, request, scope, form, *, status=200, error="", mapping=None, errors=None):
        return render(request, "indicators/excel_upload.html", {
            "mode": "alliance", "report_form": scope.form, "alliance": scope.alliance, "period": scope.period,
            "form": form, "error": error, "errors": errors or [], "max_mb": MAX_MB,
            **_alliance_urls(scope.form, scope.alliance, scope.period),
        }, status=status)

    def preview_page(self, request, scope, plan, *, token=None, notice="", apply_issues=None, mapping=None):
        return render(request, "indicators/excel_alliance_preview.html", {
            "plan": plan, "report_form": plan.form, "alliance": plan.alliance, "period": plan.period,
            "units": plan.units, "counts": plan.counts, "errors": plan.issues, "token": token, "notice": notice,
            "apply_issues": apply_issues or [], "filename": plan.filename, "form": ExcelUploadForm(),
            **_alliance_urls(plan.form, plan.alliance, plan.period), **(mapping or {}),
        })


ALLIANCE_PAGE = AllianceExcelPage()
