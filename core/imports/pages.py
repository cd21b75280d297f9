"""The import pages every register shares: upload → preview (with the column mapping) → confirm.

A register's page is an ``ImportPage``: it says how to read a file, check what was read against
the portal (its *plan*), apply a plan and show the two pages; the flow is here once:

- an upload is read; the file is kept (``pending.store_file``) so the user can map its columns in
  the preview and read it again (``mappings.remapped``); a mapping saved for the same headers
  applies by itself (``mappings.saver``);
- a plan without errors and with changes is kept under a token bound to the session, the user and
  the scope (``pending.store``); the preview shows it;
- the confirmation checks the plan again against the portal of now: a plan that no longer fits is
  refused, one whose fingerprint changed is shown again to be confirmed; a second click, or two at
  once, apply it once (``pending.claim``); applying fails as a whole (``ImportFailed``) or not at
  all; the register's ``finish`` writes the audit event and remembers the mapping.

A plan has ``ok``, ``has_changes`` and ``fingerprint()``. A read has ``table`` (None when nothing
could be read), ``problems`` (with ``text``), ``columns`` (a ``ColumnPlan`` or None), ``data`` and
``name`` (the file, for a new mapping).

Optional hooks: ``sealed``/``opened`` (the kept file encrypted, for files with personal data) and
``keep``/``kept``/``forget``/``confirm_token`` (where the preview waits for its confirmation:
``pending.store`` by default; a register may keep it in the session and confirm it at its own address).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core import pending
from core.imports import mappings
from core.issues import ImportFailed

EXPIRED = gettext_noop("This preview is no longer valid: it has expired, has been imported already, or belongs to "
                       "another session. Nothing was saved. Upload the file again.")
CANCELLED = gettext_noop("The import was cancelled; nothing was saved.")
NO_LONGER_FITS = gettext_noop("The data in the portal changed since the preview and the file no longer fits it. "
                              "Nothing was saved.")
CHANGED_SINCE = gettext_noop("The data in the portal changed since the preview. Check the preview again and confirm.")


class ImportPage:
    """One register's import page. Subclasses set the names and implement the hooks; ``handle``
    answers the page's GET and POST."""

    register = ""  # the register's name for remembered mappings (``core.models.ImportMapping``)
    pending_kind = ""  # previews kept for the confirmation
    files_kind = ""  # uploaded files kept for a new mapping
    # Whether the confirmation plans again and compares fingerprints (a register whose payload is
    # applied as it stands, already checked at apply time, says False).
    replan_on_confirm = True

    # --- what the subclass says ------------------------------------------------------------------

    def owner(self, request, scope) -> dict[str, Any]:
        return {"user": request.user.pk, "county": scope.pk}

    def mapping_scope(self, scope) -> int:
        """The county whose remembered mappings apply."""
        return scope.pk

    def url(self, scope) -> str:
        """The import page itself (the mapping form posts here; a cancel comes back here)."""
        raise NotImplementedError

    def done_url(self, scope) -> str:
        """Where a second click on a confirmation goes when the first has not finished yet."""
        return self.url(scope)

    def upload_form(self, request=None):
        raise NotImplementedError

    def upload_scope(self, request, scope, form):
        """The scope of an upload whose form is valid: the page's, or what the form narrows it to (a
        county chosen on the form)."""
        return scope

    def file_extra(self, request, scope, form) -> dict[str, Any]:
        """What the upload form says beside the file (a ledger's year), kept with the file."""
        return {}

    def read_upload(self, request, scope, form, *, saved_for):
        raise NotImplementedError

    def read_data(self, request, scope, data: bytes, name: str, *, mapping, saved_for, extra: dict):
        raise NotImplementedError

    def plan(self, request, scope, read, extra: dict):
        """Check what was read against the portal."""
        raise NotImplementedError

    def payload(self, read, plan, extra: dict) -> dict[str, Any]:
        """What the confirmation needs (JSON)."""
        raise NotImplementedError

    def replan(self, request, scope, payload: dict):
        """The plan of a kept payload, checked against the portal of now."""
        raise NotImplementedError

    def apply(self, request, scope, plan, payload: dict):
        """Write the plan in one transaction; ``ImportFailed`` when it cannot be written."""
        raise NotImplementedError

    def finish(self, request, scope, plan, payload: dict, result) -> str | HttpResponse:
        """After a confirmed import: the audit event, the remembered mapping and the success message;
        returns the page that shows the result: its URL, or the page itself when it is shown once (the
        new accounts' one-time passwords; a second click then goes to ``done_url``)."""
        raise NotImplementedError

    def upload_page(self, request, scope, form, *, status: int = 200, error: str = "", mapping: dict | None = None):
        raise NotImplementedError

    def preview_page(self, request, scope, plan, *, token: str | None = None, notice: str = "", apply_issues=None,
                     mapping: dict | None = None):
        raise NotImplementedError

    def sealed(self, data: bytes) -> bytes:
        """An uploaded file as kept for a new mapping (a register whose files hold personal data
        encrypts it)."""
        return data

    def opened(self, data: bytes) -> bytes | None:
        """A kept file as read again (None: it does not open)."""
        return data

    def keep(self, request, scope, payload: dict, *, fingerprint: str) -> str:
        """Keep a previewed plan's payload for the confirmation; returns its token."""
        return pending.store(request.session, self.pending_kind, payload=payload, owner=self.owner(request, scope),
                             fingerprint=fingerprint)

    def kept(self, request, scope, token: str) -> tuple[dict, str] | None:
        """The payload and fingerprint kept under ``token`` for this session and owner, or None."""
        return pending.load(request.session, self.pending_kind, token, owner=self.owner(request, scope))

    def forget(self, request, scope, token: str) -> None:
        pending.discard(request.session, self.pending_kind, token)

    def confirm_token(self, request, scope) -> str:
        """The token of the preview being confirmed: the confirmation form's (a page that keeps the
        preview's token in the session, its confirmation posting nothing, says so here)."""
        return request.POST.get("token", "")

    def nothing_to_confirm(self, request, scope):
        """The answer to a confirmation whose preview is not kept (expired, imported, another session's)."""
        return self.expired(request, scope)

    def confirmed_url(self, request, scope) -> str:
        """Where a second click goes while the first one has not finished (the page of the result)."""
        return self.done_url(scope)

    def unreadable(self, request, scope, read, form, mapping: dict):
        """The answer when nothing could be read: the problems on the upload form, with the mapping
        panel when the header was found."""
        form = form or self.upload_form()
        for problem in read.problems:
            form.add_error("file", problem.text)
        return self.upload_page(request, scope, form, mapping=mapping)

    # --- the flow ----------------------------------------------------------------------------------

    def handle(self, request, scope):
        if request.method == "POST" and "token" in request.POST:
            return self.confirm(request, scope)
        if request.method == "POST" and "remap" in request.POST:
            return self.remap(request, scope)
        form = self.upload_form(request if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            scope = self.upload_scope(request, scope, form)
            read = self.read_upload(request, scope, form, saved_for=self.saved_for(scope))
            return self.after_reading(request, scope, read, self.file_extra(request, scope, form), form=form)
        return self.upload_page(request, scope, form)

    def saved_for(self, scope):
        return mappings.saver(self.register, self.mapping_scope(scope))

    def expired(self, request, scope):
        return self.upload_page(request, scope, self.upload_form(), status=400, error=_(EXPIRED))

    def after_reading(self, request, scope, read, extra: dict, *, form=None, file_token: str = "",
                      mapping_errors=()):
        columns = getattr(read, "columns", None)
        if columns is not None and getattr(read, "data", None) and not file_token:
            file_token = pending.store_file(request.session, self.files_kind, data=self.sealed(read.data), name=read.name,
                                            owner=self.owner(request, scope),
                                            extra={**extra, "columns": columns.to_json()})
        mapping = {"columns": columns.to_json() if columns is not None and file_token else None,
                   "remap_token": file_token, "mapping_errors": list(mapping_errors),
                   "mapping_open": bool(mapping_errors) or bool(columns is not None and columns.needs_user),
                   "remap_url": self.url(scope)}
        if read.table is None:
            return self.unreadable(request, scope, read, form, mapping)
        plan = self.plan(request, scope, read, extra)
        token = None
        if plan.ok and plan.has_changes:
            token = self.keep(request, scope, self.payload(read, plan, extra), fingerprint=plan.fingerprint())
        return self.preview_page(request, scope, plan, token=token, mapping=mapping)

    def remap(self, request, scope):
        """The same file read again with its columns mapped as the user said in the preview."""
        found = mappings.remapped(request, self.files_kind, owner=self.owner(request, scope))
        if found is None:
            return self.expired(request, scope)
        data, name, extra, given, errors = found
        data = self.opened(data)
        if data is None:
            return self.expired(request, scope)
        extra = {k: v for k, v in extra.items() if k != "columns"}
        read = self.read_data(request, scope, data, name, mapping=given, saved_for=self.saved_for(scope),
                              extra=extra)
        return self.after_reading(request, scope, read, extra, file_token=request.POST["remap"],
                                  mapping_errors=errors)

    def confirm(self, request, scope):
        kind, token = self.pending_kind, self.confirm_token(request, scope)
        if "cancel" in request.POST:
            self.forget(request, scope, token)
            messages.info(request, _(CANCELLED))
            return redirect(self.url(scope))
        owner = self.owner(request, scope)
        if pending.was_claimed(kind, token):  # a second click: the first one applies (or applied) it
            return pending.already_confirmed(request, kind, token, owner=owner,
                                             fallback=self.confirmed_url(request, scope))
        found = self.kept(request, scope, token)
        if found is None:
            return self.nothing_to_confirm(request, scope)
        payload, fingerprint = found
        plan = self.replan(request, scope, payload)
        if self.replan_on_confirm:
            if not plan.ok:
                self.forget(request, scope, token)
                return self.preview_page(request, scope, plan, notice=_(NO_LONGER_FITS))
            if plan.fingerprint() != fingerprint:
                pending.update_fingerprint(request.session, kind, token, plan.fingerprint())
                return self.preview_page(request, scope, plan, token=token, notice=_(CHANGED_SINCE))
        if not pending.claim(kind, token):  # the other click won the race
            return pending.already_confirmed(request, kind, token, owner=owner, fallback=self.confirmed_url(request, scope))
        try:
            with pending.released_on_error(kind, token):
                result = self.apply(request, scope, plan, payload)
        except ImportFailed as exc:
            self.forget(request, scope, token)
            return self.preview_page(request, scope, plan, apply_issues=exc.issues)
        self.forget(request, scope, token)
        done = self.finish(request, scope, plan, payload, result)
        url = done if isinstance(done, str) else self.done_url(scope)
        pending.record_outcome(kind, token, owner=owner, url=url)
        return redirect(url) if isinstance(done, str) else done
