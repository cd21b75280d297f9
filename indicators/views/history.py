"""历史数据导入 of a report form: upload → preview (values new / changed / unchanged per
institution and period, errors by row and column; the columns and the fields they fill, to map)
→ confirm. For the county bureau; nothing is saved before the confirmation, nothing at all if any
row is wrong."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import pending
from core.imports import mappings
from core.issues import ImportFailed
from indicators import history, history_register
from indicators.models import ReportForm
from indicators.views.definitions import _definition

PENDING_KIND = "history"
FILES_KIND = "history-files"


class HistoryUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("History file"), allow_empty_file=True, help_text=gettext_lazy(
        "An .xlsx workbook or a .csv file: one row a value — 机构 | 报告期 | 数据项 (name or code) | 数值; or one sheet a "
        "period (the period in the sheet's name or title), the institutions down and the data elements across, as in "
        "the alliance-wide filing workbook."))


def _owner(user, form: ReportForm) -> dict:
    return {"user": user.pk, "form": form.pk}


@login_required
def history_import(request, form_pk):
    user = request.user
    form = _definition(user, ReportForm, form_pk, edit=True)
    if form.county_id is None:
        raise Http404(_("Not found."))  # the shared catalogue has no filings
    if request.method == "POST" and "token" in request.POST:
        return _confirm(request, form)
    if request.method == "POST" and "remap" in request.POST:
        found = mappings.remapped(request, FILES_KIND, owner=_owner(user, form))
        if found is None:
            return _page(request, form, HistoryUploadForm(), status=400, error=_(
                "This preview is no longer valid: it has expired, has been imported already, or belongs to another "
                "session. Nothing was saved. Upload the file again."))
        data, name, _extra, given, errors = found
        plan = history.read_history(data, name, form, mapping=given,
                                    saved_for=mappings.saver(history.REGISTER, form.county_id))
        return _preview(request, form, plan, file_token=request.POST["remap"], mapping_errors=errors)
    upload_form = HistoryUploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and upload_form.is_valid():
        plan, data = history.read_upload(upload_form.cleaned_data["file"], form,
                                         saved_for=mappings.saver(history.REGISTER, form.county_id))
        file_token = ""
        if plan.columns is not None and data:
            file_token = pending.store_file(request.session, FILES_KIND, data=data, name=plan.filename,
                                            owner=_owner(user, form), extra={"columns": plan.columns.to_json()})
        return _preview(request, form, plan, file_token=file_token)
    return _page(request, form, upload_form)


def _page(request, form, upload_form, *, status=200, **context):
    return render(request, "indicators/history_import.html", {
        "form_obj": form, "county": form.county, "upload_form": upload_form, **context}, status=status)


def _preview(request, form, plan: history.HistoryPlan, *, file_token: str, mapping_errors=()):
    token = None
    if plan.ok and plan.has_changes:
        token = pending.store(request.session, PENDING_KIND, payload=plan.payload(),
                              owner=_owner(request.user, form), fingerprint=plan.fingerprint())
    institutions = dict(form.county.institutions.values_list("pk", "name")) if plan.groups else {}
    groups = [{"institution": institutions.get(inst, form.county.name), "period": period, **counts}
              for (inst, period), counts in sorted(plan.groups.items(), key=lambda kv: (kv[0][1], str(kv[0][0])))]
    columns = plan.columns.to_json() if plan.columns is not None else None
    return _page(request, form, HistoryUploadForm(), plan=plan, token=token, groups=groups[:500],
                 hidden_groups=max(0, len(groups) - 500), columns=columns if file_token else None,
                 remap_token=file_token, mapping_errors=list(mapping_errors),
                 mapping_open=bool(mapping_errors) or bool(plan.columns and plan.columns.needs_user),
                 remap_url=reverse("indicators:history_import", kwargs={"form_pk": form.pk}))


def _confirm(request, form):
    user = request.user
    token = request.POST.get("token", "")
    owner = _owner(user, form)
    url = reverse("indicators:history_import", kwargs={"form_pk": form.pk})
    if "cancel" in request.POST:
        pending.discard(request.session, PENDING_KIND, token)
        messages.info(request, _("The import was cancelled; nothing was saved."))
        return redirect(url)
    if pending.was_claimed(PENDING_KIND, token):
        return pending.already_confirmed(request, PENDING_KIND, token, owner=owner, fallback=url)
    found = pending.load(request.session, PENDING_KIND, token, owner=owner)
    if found is None:
        return _page(request, form, HistoryUploadForm(), status=400, error=_(
            "This preview is no longer valid: it has expired, has been imported already, or belongs to another "
            "session. Nothing was saved. Upload the file again."))
    payload, _fingerprint = found
    if not pending.claim(PENDING_KIND, token):
        return pending.already_confirmed(request, PENDING_KIND, token, owner=owner, fallback=url)
    reason = history_register.reason_for(payload["filename"])
    try:
        with pending.released_on_error(PENDING_KIND, token):
            result = history.apply_history(payload, user=user, now=timezone.now(), reason=reason)
    except ImportFailed as exc:
        pending.discard(request.session, PENDING_KIND, token)
        return _page(request, form, HistoryUploadForm(), error=" ".join(i.text for i in exc.issues))
    pending.discard(request.session, PENDING_KIND, token)
    history_register.finish(request, form, payload, result)
    pending.record_outcome(PENDING_KIND, token, owner=owner, url=url)
    messages.success(request, _("History loaded: %(filings)s filings created, %(created)s values added, %(changed)s "
                                "changed, %(unchanged)s unchanged.") % result)
    return redirect(url)
