"""Excel templates and uploads of filings: the template of one filing and the alliance-wide
workbook to download; their uploads in three steps (upload → preview with errors by cell and the
validation findings → confirm). The reading, checking and writing live in ``indicators.excel``;
these views pick the filing, form and alliance (``scoping``: a foreign or missing object answers
404; one the user sees but does not file answers 403), keep the upload between preview and
confirmation (``core.pending``) and render. Nothing is saved before the confirmation, and nothing
at all if any cell or any filing is wrong."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import scoping
from alliances.models import Alliance
from core import pending
from core.http import xlsx_response
from core.imports import mappings
from core.issues import ImportFailed
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


def _expired() -> str:
    return _("This preview is no longer valid: it has expired, has been imported already, or belongs to another "
             "session. Nothing was saved. Upload the file again.")


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
    user = request.user
    filing = editable_filing(user, filing_pk)
    if request.method == "POST" and "token" in request.POST:
        return _filing_confirm(request, filing)
    if request.method == "POST" and "remap" in request.POST:
        return _filing_remap(request, filing)
    form = ExcelUploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        sheet, problems = excel.read_upload(form.cleaned_data["file"], max_col=excel.FILING_READ_COLUMNS)
        if sheet is not None:
            plan = excel.plan_filing_upload(filing, sheet, saved_for=mappings.saver(excel.REGISTER_FILING,
                                                                                   filing.county_id))
            return _filing_read(request, filing, plan, sheet)
        for problem in problems:
            form.add_error("file", problem.text)
    return _filing_upload_page(request, filing, form)


def _filing_read(request, filing: Filing, plan: excel.FilingPlan, sheet, *, file_token: str = "", mapping_errors=()):
    """The preview of a file just read: kept for the confirmation when it changes something, the
    file itself kept for a new column mapping."""
    owner = _filing_owner(request.user, filing)
    header = plan.header.to_json() if plan.header is not None else None
    if header is not None and not file_token:
        file_token = pending.store_file(request.session, FILING_FILES_KIND, data=sheet.data, name=sheet.name,
                                        owner=owner, extra={"columns": header})
    token = None
    if plan.ok and plan.has_changes:
        token = pending.store(request.session, FILING_KIND,
                              payload={**plan.payload(), "filename": sheet.name, "columns": header},
                              owner=owner, fingerprint=plan.fingerprint())
    mapping = {"columns": header if file_token else None, "remap_token": file_token,
               "mapping_errors": list(mapping_errors),
               "mapping_open": bool(mapping_errors) or bool(plan.header and plan.header.needs_user),
               "remap_url": reverse("indicators:excel_filing_upload", kwargs={"filing_pk": filing.pk})}
    return _filing_preview(request, filing, plan, sheet=sheet, token=token, mapping=mapping)


def _filing_remap(request, filing: Filing):
    """The same file read again with the columns mapped as the user said in the preview."""
    found = mappings.remapped(request, FILING_FILES_KIND, owner=_filing_owner(request.user, filing))
    if found is None:
        return _filing_upload_page(request, filing, ExcelUploadForm(), error=_expired(), status=400)
    data, name, _extra, given, errors = found
    sheet, problems = excel.read_data(data, name, max_col=excel.FILING_READ_COLUMNS)
    if sheet is None:
        return _filing_upload_page(request, filing, ExcelUploadForm(), errors=problems, status=400)
    plan = excel.plan_filing_upload(filing, sheet, mapping=given,
                                    saved_for=mappings.saver(excel.REGISTER_FILING, filing.county_id))
    return _filing_read(request, filing, plan, sheet, file_token=request.POST["remap"], mapping_errors=errors)


def _filing_upload_page(request, filing: Filing, form, *, error: str = "", errors=None, status: int = 200):
    return render(request, "indicators/excel_upload.html", {
        "mode": "filing", "filing": filing, "period": Period.parse(filing.period), "form": form,
        "error": error, "errors": errors or [], "max_mb": MAX_MB,
        "template_url": reverse("indicators:excel_filing_template", kwargs={"filing_pk": filing.pk}),
        "back_url": reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk}),
    }, status=status)


def _filing_preview(request, filing: Filing, plan: excel.FilingPlan, *, sheet=None, token=None, mapping=None):
    rows, section = [], None
    for change in sorted(plan.changes, key=lambda c: c.number):
        rows.append({"change": change, "section": change.section if change.section != section else ""})
        section = change.section
    return render(request, "indicators/excel_preview.html", {
        "filing": filing, "period": Period.parse(filing.period), "plan": plan, "rows": rows,
        "counts": plan.counts, "errors": plan.issues, "findings": plan.findings, "token": token,
        "filename": sheet.name if sheet else "", "form": ExcelUploadForm(),
        "upload_url": reverse("indicators:excel_filing_upload", kwargs={"filing_pk": filing.pk}),
        "back_url": reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk}),
        **(mapping or {}),
    })


def _filing_confirm(request, filing: Filing):
    user = request.user
    token = request.POST.get("token", "")
    upload_url = reverse("indicators:excel_filing_upload", kwargs={"filing_pk": filing.pk})
    if "cancel" in request.POST:
        pending.discard(request.session, FILING_KIND, token)
        messages.info(request, _("The import was cancelled; nothing was saved."))
        return redirect(upload_url)
    owner = _filing_owner(user, filing)
    done_url = reverse("indicators:filing_detail", kwargs={"filing_pk": filing.pk})
    if pending.was_claimed(FILING_KIND, token):  # a second click: the first one applies (or applied) it
        return pending.already_confirmed(request, FILING_KIND, token, owner=owner, fallback=done_url)
    found = pending.load(request.session, FILING_KIND, token, owner=owner)
    if found is None:
        return _filing_upload_page(request, filing, ExcelUploadForm(), error=_expired(), status=400)
    payload, _fingerprint = found
    if not pending.claim(FILING_KIND, token):  # the other click won the race
        return pending.already_confirmed(request, FILING_KIND, token, owner=owner, fallback=done_url)
    try:
        with pending.released_on_error(FILING_KIND, token):
            result = excel.apply_filing_payload(filing, payload, user=user)
    except ImportFailed as exc:
        pending.discard(request.session, FILING_KIND, token)
        return _filing_upload_page(request, filing, ExcelUploadForm(), errors=exc.issues, status=409)
    pending.discard(request.session, FILING_KIND, token)
    pending.record_outcome(FILING_KIND, token, owner=owner, url=done_url)
    excel_finish(request, filing, payload, result)
    messages.success(request, _("Imported from Excel: %(count)d figures changed. The filing is not submitted yet; "
                                "check it and submit it.") % {"count": result.changed + result.created})
    return redirect(done_url)


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
    user = request.user
    report_form, alliance = form_and_alliance(user, form_pk, alliance_pk)
    period, error = _period(request, report_form)
    if period is None:
        return _alliance_upload_page(request, report_form, alliance, None, ExcelUploadForm(), error=error, status=400)
    if request.method == "POST" and "token" in request.POST:
        return _alliance_confirm(request, report_form, alliance, period)
    if request.method == "POST" and "remap" in request.POST:
        return _alliance_remap(request, report_form, alliance, period)
    form = ExcelUploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        sheet, problems = excel.read_upload(form.cleaned_data["file"])
        if sheet is not None:
            plan = excel.plan_alliance_upload(report_form, alliance, period, sheet, user=user,
                                              saved_for=mappings.saver(excel.REGISTER_ALLIANCE, alliance.county_id))
            return _alliance_read(request, plan, sheet)
        for problem in problems:
            form.add_error("file", problem.text)
    return _alliance_upload_page(request, report_form, alliance, period, form)


def _alliance_read(request, plan: excel.AlliancePlan, sheet, *, file_token: str = "", mapping_errors=()):
    """The preview of a workbook just read; a sheet of the alliance's own layout kept for a new
    column mapping (the portal's workbook is read by its hidden codes)."""
    owner = _alliance_owner(request.user, plan.form, plan.alliance, plan.period)
    header = plan.header.to_json() if plan.header is not None else None
    if header is not None and plan.own_layout and not file_token:
        file_token = pending.store_file(request.session, ALLIANCE_FILES_KIND, data=sheet.data, name=sheet.name,
                                        owner=owner, extra={"columns": header})
    token = None
    if plan.ok and plan.has_changes:
        token = pending.store(request.session, ALLIANCE_KIND,
                              payload={**plan.payload(), "filename": sheet.name, "columns": header},
                              owner=owner, fingerprint=plan.fingerprint())
    mapping = {"columns": header if file_token else None, "remap_token": file_token,
               "mapping_errors": list(mapping_errors),
               "mapping_open": bool(mapping_errors) or bool(plan.header and plan.header.needs_user),
               "remap_url": _alliance_urls(plan.form, plan.alliance, plan.period)["upload_url"]}
    return _alliance_preview(request, plan, filename=sheet.name, token=token, mapping=mapping)


def _alliance_remap(request, report_form: ReportForm, alliance: Alliance, period: Period):
    found = mappings.remapped(request, ALLIANCE_FILES_KIND,
                              owner=_alliance_owner(request.user, report_form, alliance, period))
    if found is None:
        return _alliance_upload_page(request, report_form, alliance, period, ExcelUploadForm(), error=_expired(),
                                     status=400)
    data, name, _extra, given, errors = found
    sheet, problems = excel.read_data(data, name)
    if sheet is None:
        return _alliance_upload_page(request, report_form, alliance, period, ExcelUploadForm(), errors=problems,
                                     status=400)
    plan = excel.plan_alliance_upload(report_form, alliance, period, sheet, user=request.user, mapping=given,
                                      saved_for=mappings.saver(excel.REGISTER_ALLIANCE, alliance.county_id))
    return _alliance_read(request, plan, sheet, file_token=request.POST["remap"], mapping_errors=errors)


def _alliance_upload_page(request, report_form: ReportForm, alliance: Alliance, period: Period | None, form, *,
                          error: str = "", errors=None, status: int = 200):
    return render(request, "indicators/excel_upload.html", {
        "mode": "alliance", "report_form": report_form, "alliance": alliance, "period": period, "form": form,
        "error": error, "errors": errors or [], "max_mb": MAX_MB,
        **_alliance_urls(report_form, alliance, period),
    }, status=status)


def _alliance_preview(request, plan: excel.AlliancePlan, *, filename: str = "", token=None, notice: str = "",
                      apply_issues=None, mapping=None):
    return render(request, "indicators/excel_alliance_preview.html", {
        "plan": plan, "report_form": plan.form, "alliance": plan.alliance, "period": plan.period,
        "units": plan.units, "counts": plan.counts, "errors": plan.issues, "token": token, "notice": notice,
        "apply_issues": apply_issues or [], "filename": filename, "form": ExcelUploadForm(),
        **_alliance_urls(plan.form, plan.alliance, plan.period), **(mapping or {}),
    })


def _alliance_confirm(request, report_form: ReportForm, alliance: Alliance, period: Period):
    user = request.user
    token = request.POST.get("token", "")
    urls = _alliance_urls(report_form, alliance, period)
    if "cancel" in request.POST:
        pending.discard(request.session, ALLIANCE_KIND, token)
        messages.info(request, _("The import was cancelled; nothing was saved."))
        return redirect(urls["upload_url"])
    owner = _alliance_owner(user, report_form, alliance, period)
    if pending.was_claimed(ALLIANCE_KIND, token):  # a second click: the first one applies (or applied) it
        return pending.already_confirmed(request, ALLIANCE_KIND, token, owner=owner, fallback=urls["back_url"])
    found = pending.load(request.session, ALLIANCE_KIND, token, owner=owner)
    if found is None:
        return _alliance_upload_page(request, report_form, alliance, period, ExcelUploadForm(), error=_expired(),
                                     status=400)
    payload, _fingerprint = found
    plan = excel.plan_alliance_payload(report_form, alliance, period, payload, user=user)
    if not plan.ok:
        pending.discard(request.session, ALLIANCE_KIND, token)
        return _alliance_preview(request, plan, notice=_("The data in the portal changed since the preview and the "
                                                         "file no longer fits it. Nothing was saved."))
    if not pending.claim(ALLIANCE_KIND, token):  # the other click won the race
        return pending.already_confirmed(request, ALLIANCE_KIND, token, owner=owner, fallback=urls["back_url"])
    try:
        with pending.released_on_error(ALLIANCE_KIND, token):
            results = excel.apply_alliance_plan(plan, user=user)
    except ImportFailed as exc:
        pending.discard(request.session, ALLIANCE_KIND, token)
        return _alliance_preview(request, plan, apply_issues=exc.issues)
    pending.discard(request.session, ALLIANCE_KIND, token)
    pending.record_outcome(ALLIANCE_KIND, token, owner=owner, url=urls["back_url"])
    figures = alliance_finish(request, alliance, report_form, period, payload, results)
    messages.success(request, _("Imported from Excel: %(count)d figures changed in %(filings)d filings. The filings "
                                "are not submitted yet.")
                     % {"count": figures, "filings": len(results)})
    return redirect(urls["back_url"])
