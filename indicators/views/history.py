"""历史数据导入 of a report form: upload → preview (values new / changed / unchanged per
institution and period, errors by row and column; the columns and the fields they fill, to map)
→ confirm. For the county bureau; nothing is saved before the confirmation, nothing at all if any
row is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.imports.pages import ImportPage
from core.periods import Period
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


@dataclass
class _Read:
    """A history file as read: its plan (the table of the flow) and the file, for a new mapping."""

    table: history.HistoryPlan
    data: bytes
    problems: tuple = ()

    @property
    def columns(self):
        return self.table.columns

    @property
    def name(self) -> str:
        return self.table.filename


class HistoryImportPage(ImportPage):
    register, pending_kind, files_kind = history.REGISTER, PENDING_KIND, FILES_KIND
    replan_on_confirm = False  # applying checks each value against the filings of then

    def owner(self, request, scope) -> dict:
        return _owner(request.user, scope)

    def mapping_scope(self, scope) -> int:
        return scope.county_id

    def url(self, scope) -> str:
        return reverse("indicators:history_import", kwargs={"form_pk": scope.pk})

    def upload_form(self, request=None):
        return HistoryUploadForm(*((request.POST, request.FILES) if request is not None else ()))

    def read_upload(self, request, scope, form, *, saved_for):
        plan, data = history.read_upload(form.cleaned_data["file"], scope, saved_for=saved_for)
        return _Read(plan, data)

    def read_data(self, request, scope, data, name, *, mapping, saved_for, extra):
        return _Read(history.read_history(data, name, scope, mapping=mapping, saved_for=saved_for), data)

    def plan(self, request, scope, read, extra):
        return read.table

    def payload(self, read, plan, extra):
        return plan.payload()

    def replan(self, request, scope, payload):
        return None

    def apply(self, request, scope, plan, payload):
        return history.apply_history(payload, user=request.user, now=timezone.now(),
                                     reason=history_register.reason_for(payload["filename"]))

    def finish(self, request, scope, plan, payload, result) -> str:
        history_register.finish(request, scope, payload, result)
        messages.success(request, _("History loaded: %(filings)s filings created, %(created)s values added, "
                                    "%(changed)s changed, %(unchanged)s unchanged.") % result)
        return self.url(scope)

    def upload_page(self, request, scope, form, *, status=200, error="", mapping=None):
        return _page(request, scope, form, status=status, error=error)

    def preview_page(self, request, scope, plan, *, token=None, notice="", apply_issues=None, mapping=None):
        if plan is None:  # applying failed: the file no longer fits
            return _page(request, scope, HistoryUploadForm(), error=" ".join(i.text for i in apply_issues or ()))
        return _preview(request, scope, plan, token=token, mapping=mapping or {})


PAGE = HistoryImportPage()


@login_required
def history_import(request, form_pk):
    form = _definition(request.user, ReportForm, form_pk, edit=True)
    if form.county_id is None:
        raise Http404(_("Not found."))  # the shared catalogue has no filings
    return PAGE.handle(request, form)


def _page(request, form, upload_form, *, status=200, **context):
    return render(request, "indicators/history_import.html", {
        "form_obj": form, "county": form.county, "upload_form": upload_form, **context}, status=status)


def _preview(request, form, plan: history.HistoryPlan, *, token: str | None, mapping: dict):
    institutions = dict(form.county.institutions.values_list("pk", "name")) if plan.groups else {}
    groups = [{"institution": institutions.get(inst, form.county.name), "period": Period.parse(period).label, **counts}
              for (inst, period), counts in sorted(plan.groups.items(), key=lambda kv: (kv[0][1], str(kv[0][0])))]
    return _page(request, form, HistoryUploadForm(), plan=plan, token=token, groups=groups[:500],
                 hidden_groups=max(0, len(groups) - 500), **mapping)
