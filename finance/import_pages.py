"""The budget and procurement import pages on the one import flow (``core.imports.pages``): what the
two share beside it.

Both pages keep the preview's token in the session (``session_key``: the budget or alliance, the
user, the token and the page of the result), and their confirmation posts nothing but the CSRF
token to its own address (``…/import/confirm/``); a second click finds the same token claimed and
is told so. The file is checked as it is read (``budget_import`` / ``procurement_import``), and again
as it is saved (``budgets.save_amounts`` / ``procurement.save_months``, against the members of now),
so the confirmation does not plan again. Every problem is shown on the page itself with a 400, the
file's columns in the mapping panel; a preview without an error always offers the confirmation
(the file replaces what it holds). Saving that fails (the members changed since the preview) says
why in messages and goes back to the upload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import pending
from core.imports.pages import ImportPage
from core.issues import ImportFailed, Issue
from finance.importing import needs_mapping


class UploadForm(forms.Form):
    file = forms.FileField(allow_empty_file=True,  # an empty file is named by the reader ("not an .xlsx")
                           error_messages={"required": gettext_lazy("Choose the .xlsx file to import.")})


@dataclass
class Checked:
    """A file as read and checked (``budget_import.Parsed`` or ``procurement_import.Parsed``), in the
    flow's terms: it is its own plan."""

    parsed: Any
    chosen: bool = False  # read with the columns mapped by the user
    has_changes = True  # the page's preview always offers the confirmation

    @property
    def table(self):
        return self.parsed  # never None: the errors are shown with the preview page's

    @property
    def columns(self):
        return self.parsed.columns

    @property
    def data(self):
        return self.parsed.data

    @property
    def name(self) -> str:
        return self.parsed.name

    @property
    def ok(self) -> bool:
        return self.parsed.ok

    def fingerprint(self) -> str:
        return ""  # the confirmation does not compare (``replan_on_confirm``)


def failed(errors: list[str]) -> ImportFailed:
    return ImportFailed([Issue(error) for error in errors])


class KeptImportPage(ImportPage):
    """An import page whose preview token is kept in the session (see the module)."""

    replan_on_confirm = False  # the saving checks the amounts against the members of now
    session_key = ""
    owner_key = ""  # the scope's name in the owner and the kept preview ("budget", "alliance")
    template = ""

    # --- what the subclass says --------------------------------------------------------------------

    def read(self, request, scope, upload, *, saved_for):
        raise NotImplementedError

    def read_kept(self, request, scope, data: bytes, name: str, *, mapping, saved_for):
        raise NotImplementedError

    def context(self, request, scope) -> dict:
        raise NotImplementedError

    def preview_context(self, request, scope, parsed) -> dict:
        raise NotImplementedError

    def result_url(self, scope, parsed) -> str:
        """The page of the result once the previewed file is imported."""
        return self.done_url(scope)

    # --- the flow's hooks ----------------------------------------------------------------------------

    def owner(self, request, scope) -> dict:
        return {"user": request.user.pk, self.owner_key: scope.pk}

    def upload_form(self, request=None):
        return UploadForm(*((request.POST, request.FILES) if request is not None else ()))

    def read_upload(self, request, scope, form, *, saved_for):
        return Checked(self.read(request, scope, form.cleaned_data["file"], saved_for=saved_for))

    def read_data(self, request, scope, data, name, *, mapping, saved_for, extra):
        return Checked(self.read_kept(request, scope, data, name, mapping=mapping, saved_for=saved_for), chosen=True)

    def plan(self, request, scope, read, extra):
        return read

    def payload(self, read, plan, extra) -> dict:
        return {"file": read.name, "columns": read.columns.to_json()}

    def replan(self, request, scope, payload):
        return None

    def session_entry(self, request, scope) -> dict:
        kept = request.session.get(self.session_key) or {}
        if kept.get(self.owner_key) != scope.pk or kept.get("user") != request.user.pk:
            return {}
        return kept

    def confirm_token(self, request, scope) -> str:
        return self.session_entry(request, scope).get("token") or ""

    def confirmed_already(self, request, scope) -> bool:
        """Whether this is a second click on a confirmation (the first applied it, or is applying it)."""
        return pending.was_claimed(self.pending_kind, self.confirm_token(request, scope))

    def confirmed_url(self, request, scope) -> str:
        return self.session_entry(request, scope).get("url") or self.done_url(scope)

    def nothing_to_confirm(self, request, scope):
        messages.error(request, _("Nothing to import: upload the file again."))
        return redirect(self.url(scope))

    def upload_page(self, request, scope, form, *, status=200, error="", mapping=None):
        errors = [error] if error else []
        if form.is_bound:
            errors += [message for field_errors in form.errors.values() for message in field_errors]
        context = {**self.context(request, scope), **(mapping or {})}
        if errors:
            context["errors"] = errors
        return render(request, self.template, context, status=400 if errors and status == 200 else status)

    def preview_page(self, request, scope, plan, *, token=None, notice="", apply_issues=None, mapping=None):
        if apply_issues is not None:  # the members changed since the preview: nothing was saved
            request.session.pop(self.session_key, None)
            for issue in apply_issues:
                messages.error(request, issue.message)
            return redirect(self.url(scope))
        parsed = plan.parsed
        context = {**self.context(request, scope), **(mapping or {})}
        if parsed.columns is not None and mapping:
            context["mapping_open"] = bool(mapping.get("mapping_errors")) or needs_mapping(parsed.columns,
                                                                                          chosen=plan.chosen)
        if not parsed.ok or not token:
            request.session.pop(self.session_key, None)  # a new file: the one previewed before is not confirmed
            context["errors"] = parsed.errors
            return render(request, self.template, context, status=400)
        request.session[self.session_key] = {"user": request.user.pk, self.owner_key: scope.pk, "token": token,
                                             "url": self.result_url(scope, parsed)}
        context.update(self.preview_context(request, scope, parsed))
        return render(request, self.template, context)
