"""The security log as auditors read it (the page, its .xlsx export and ``/api/security-events/``):
one filter form, one scoped and filtered queryset, the actors' real names in one query, a short
summary of each event's details, and the workbook in the official layout.

Who reads it is ``alliances.scoping``'s decision (``security.access``): a superuser everything, an
auditor the events of its counties (a city's or province's auditor: the counties below); anyone
else is refused (403) before any row is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from alliances import scoping
from alliances.models import Region
from core import audit
from core.models import SecurityEvent
from core.workbook import Column, Table, workbook

PAGE_SIZE = 50
# An export is one sheet of the official layout; beyond this the filter must be narrowed.
EXPORT_MAX_ROWS = 20_000
SUMMARY_MAX = 160

# Registers named in ``import.confirm`` and ``export.personal`` events.
REGISTERS = {
    "institutions": gettext_lazy("Institution register"),
    "ledger": gettext_lazy("Task ledger"),
    "filing": gettext_lazy("Filing"),
    "alliance_workbook": gettext_lazy("Alliance-wide filing workbook"),
    "budget": gettext_lazy("Budget"),
    "procurement": gettext_lazy("Purchase register"),
    "roster": gettext_lazy("Roster"),
    "users": gettext_lazy("User list"),
    "users_initial_passwords": gettext_lazy("Initial passwords of the new accounts"),  # the one-time download
    "security_log": gettext_lazy("Security log"),
}
CHANNELS = {"page": gettext_lazy("Page"), "api": gettext_lazy("API"), "export": gettext_lazy("Export"),
            "api_token": gettext_lazy("API token request"), "otp": gettext_lazy("Two-factor step of sign-in"),
            "enrol": gettext_lazy("Two-factor enrolment")}
SIGN_IN_METHODS = {"password": gettext_lazy("Password"),
                   "totp": gettext_lazy("Password and authenticator code"),
                   "recovery_code": gettext_lazy("Password and recovery code")}


def require_auditor(user) -> None:
    """403 unless the user reads some security log (an auditor, a superuser)."""
    if not scoping.scope_of(user).audits:
        raise PermissionDenied(_("Only auditors read the security log."))


def visible(user) -> QuerySet[SecurityEvent]:
    return scoping.queryset_for(user, SecurityEvent)


def event_choices() -> list[tuple[str, str]]:
    return [("", _("All events"))] + [(code, str(label)) for code, label in audit.LABELS.items()]


def result_choices() -> list[tuple[str, str]]:
    return [("", _("All results"))] + [(value, str(label)) for value, label in SecurityEvent.Result.choices]


class EventFilterForm(forms.Form):
    """The filters of the page, the export and the API (the same names everywhere)."""

    since = forms.DateField(label=gettext_lazy("From (date)"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    until = forms.DateField(label=gettext_lazy("To (date)"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    user = forms.CharField(label=gettext_lazy("User name"), required=False, max_length=150, widget=forms.TextInput(
        attrs={"placeholder": gettext_lazy("who acted, or was acted on")}))
    event = forms.ChoiceField(label=gettext_lazy("Event"), required=False)
    address = forms.CharField(label=gettext_lazy("Address"), required=False, max_length=45, widget=forms.TextInput(
        attrs={"placeholder": gettext_lazy("or its beginning, e.g. 10.2.")}))
    result = forms.ChoiceField(label=gettext_lazy("Result"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].choices = event_choices()
        self.fields["result"].choices = result_choices()

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date %(until)s is before the start date %(since)s.")
                           % {"until": until.isoformat(), "since": since.isoformat()})
        return data

    def filters(self) -> dict:
        """The valid filters (a wrong field is left out and shown with its error)."""
        self.is_valid()
        return {name: value for name, value in getattr(self, "cleaned_data", {}).items()
                if name in self.fields and value not in (None, "")}


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def filtered(user, filters: dict) -> QuerySet[SecurityEvent]:
    """The user's part of the log with ``filters`` (``EventFilterForm.filters``), newest first. Days
    are whole days in the portal's time zone (Asia/Shanghai)."""
    qs = visible(user)
    if filters.get("since"):
        qs = qs.filter(time__gte=_start_of(filters["since"]))
    if filters.get("until"):
        qs = qs.filter(time__lt=_start_of(filters["until"] + timedelta(days=1)))
    if filters.get("user"):
        name = filters["user"].strip()
        accounts = (User.objects.filter(username=name).annotate(key=Cast("pk", CharField())).values("key"))
        qs = qs.filter(Q(actor_username=name) | Q(target_type=User._meta.label_lower, target_id__in=accounts))
    if filters.get("event"):
        qs = qs.filter(event=filters["event"])
    if filters.get("address"):
        qs = qs.filter(address__startswith=filters["address"].strip())
    if filters.get("result"):
        qs = qs.filter(result=filters["result"])
    return qs.order_by("-seq")


def actor_names(rows: Iterable[SecurityEvent]) -> dict[int, str]:
    """{actor id: real name} of the rows' actors who have one (one query, whatever the number of rows)."""
    ids = {row.actor_id for row in rows if row.actor_id is not None}
    if not ids:
        return {}
    return {pk: name for pk, name in User.objects.filter(pk__in=ids).values_list("pk", "full_name") if name}


# What a row says -------------------------------------------------------------------------------------

def _words(values) -> str:
    return "、".join(str(v) for v in values) if values else _("none")


def _register(details: dict) -> str:
    code = details.get("register", "")
    return str(REGISTERS.get(code, code))


def summary(row: SecurityEvent) -> str:
    """The details of an event in a few words (who got which grant, which file was imported, why a
    filing was unlocked…); the detail page shows them all."""
    details = row.details if isinstance(row.details, dict) else {}
    text = _summary(row.event, details)
    return text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX - 1] + "…"


PASSWORD_CHANGE_REASONS = {
    "initial": gettext_lazy("after an initial or reset password"),
    "expired": gettext_lazy("after the password expired"),
    "voluntary": gettext_lazy("by the user's choice"),
    "wrong_old_password": gettext_lazy("the old password was wrong"),
}


def _summary(event: str, d: dict) -> str:  # one branch per kind of event
    E = audit.Event
    if event in (E.GRANT_ADD, E.GRANT_REMOVE):
        return _("%(grant)s; before: %(before)s; after: %(after)s") % {
            "grant": d.get("grant", ""), "before": _words(d.get("before")), "after": _words(d.get("after"))}
    if event == E.GRANT_DENIED:
        role = Role(d["role"]).label if d.get("role") in Role.values else d.get("role", "")
        return _("%(role)s · %(scope)s refused: %(reason)s") % {
            "role": role, "scope": d.get("scope", ""), "reason": d.get("reason", "")}
    if event == E.IMPORT_CONFIRM:
        return _("%(register)s, file “%(file)s”, %(rows)s rows written") % {
            "register": _register(d), "file": d.get("file", ""), "rows": d.get("rows", "?")}
    if event == E.EXPORT_PERSONAL:
        text = _("%(register)s, %(rows)s rows") % {"register": _register(d), "rows": d.get("rows", "?")}
        if d.get("full_identity_numbers"):
            text += _("; %(n)s identity numbers in full") % {"n": d["full_identity_numbers"]}
        return text
    if event in (E.FILING_UNLOCK, E.USER_DEACTIVATE):
        return _("Reason: %(reason)s") % {"reason": d.get("reason", "")} if d.get("reason") else ""
    if event == E.REPORT_SIGNOFF:
        text = _("Version %(version)s") % {"version": d.get("version", "?")}
        return f"{text}; {d['commentary']}" if d.get("commentary") else text
    if event == E.IDENTITY_VIEW:
        return _("Channel: %(channel)s") % {"channel": CHANNELS.get(d.get("channel"), d.get("channel", ""))}
    if event in (E.USER_EDIT, E.PROFILE_EDIT):
        changed = d.get("changed")
        return _("Changed: %(fields)s") % {"fields": _words(changed if isinstance(changed, list) else
                                                            list(changed or {}))}
    if event in (E.TOKEN_CREATE, E.TOKEN_REVOKE):
        return _("Token “%(name)s” (%(prefix)s…)") % {"name": d.get("name", ""), "prefix": d.get("prefix", "")}
    if event == E.LOCKOUT:
        return _("%(n)s failed attempts") % {"n": d.get("failures", "?")}
    if event == E.LOGIN:
        method = d.get("method", "")
        return _("Method: %(method)s") % {"method": SIGN_IN_METHODS.get(method, method)}
    if event in (E.LOGIN_FAILED, E.OTP_FAILED, E.TOKEN_FAILED):
        channel = d.get("channel", "")
        text = _("Channel: %(channel)s") % {"channel": CHANNELS.get(channel, channel)} if channel else ""
        return "; ".join(t for t in (text, _("while locked out") if d.get("locked_out") else "") if t)
    if event == E.AUDIT_PURGE:
        return _("%(n)s rows deleted (sequence %(first)s–%(last)s)") % {
            "n": d.get("deleted", "?"), "first": d.get("from_seq", "?"), "last": d.get("to_seq", "?")}
    if event in (E.BACKUP_MADE, E.BACKUP_RESTORED):
        return _("Archive %(archive)s: %(rows)s rows, %(files)s files") % {
            "archive": d.get("archive", ""), "rows": d.get("rows", "?"), "files": d.get("media_files", "?")}
    if event in (E.WEBHOOK_ADD, E.WEBHOOK_REMOVE):  # the URL is stored masked
        return " · ".join(str(d[key]) for key in ("name", "url") if d.get(key))
    if event == E.COUNTY_CREATE:
        return f"{d.get('code', '')} {d.get('name', '')}".strip()
    if event == E.USER_CREATE:
        return d.get("username", "")
    if event == E.PASSWORD_CHANGE:
        reason = d.get("reason", "")
        return str(PASSWORD_CHANGE_REASONS.get(reason, reason))
    if event == E.USER_UNLOCK:
        return _("%(n)s failed-attempt records cleared") % {"n": d.get("attempts", "?")}
    if event in (E.OTP_RESET, E.OTP_RECOVERY_NEW, E.OTP_RECOVERY_USED, E.OTP_ENROL, E.USER_REACTIVATE,
                 E.PASSWORD_RESET, E.LOGOUT, E.IDLE_TIMEOUT, E.SESSION_EXPIRED):
        if event == E.OTP_RECOVERY_USED and "left" in d:
            return _("%(n)s recovery codes left") % {"n": d["left"]}
        return ""
    return "; ".join(f"{key}: {value}" for key, value in d.items())


def pretty_details(row: SecurityEvent) -> str:
    """The details as indented JSON, for the detail page."""
    return json.dumps(row.details, ensure_ascii=False, indent=2, sort_keys=True)


# The export --------------------------------------------------------------------------------------------

def export_rows(user, filters: dict) -> tuple[list[SecurityEvent], bool]:
    """The newest ``EXPORT_MAX_ROWS`` rows of the filtered log, and whether there were more."""
    rows = list(filtered(user, filters)[:EXPORT_MAX_ROWS + 1])
    return rows[:EXPORT_MAX_ROWS], len(rows) > EXPORT_MAX_ROWS


def export_workbook(rows: list[SecurityEvent], names: dict[int, str], *, unit: str, on: date,
                    truncated: bool) -> bytes:
    """The rows in the official layout. Everything a user could have typed (names, targets, details,
    addresses) is a text column: written as text, never as a formula."""
    results = dict(SecurityEvent.Result.choices)
    table = Table(
        sheet=_("Security log"), title=_("Security log"),
        columns=[Column(_("Sequence"), 8), Column(_("Time"), 20, text=True), Column(_("User name"), 16, text=True),
                 Column(_("Real name"), 12, text=True), Column(_("Address"), 16, text=True),
                 Column(_("Event"), 18, text=True), Column(_("Acted on"), 24, text=True),
                 Column(_("Result"), 8, text=True), Column(_("Event details"), 60, text=True)],
        rows=[[row.seq, timezone.localtime(row.time).strftime("%Y-%m-%d %H:%M:%S"), row.actor_username,
               names.get(row.actor_id, ""), row.address, audit.label(row.event), row.target_repr,
               str(results.get(row.result, row.result)), summary(row)] for row in rows],
        note=(_("Only the newest %(n)s rows are exported; narrow the filter to export the rest.")
              % {"n": f"{EXPORT_MAX_ROWS:,}"}) if truncated else "")
    return workbook([table], unit=unit, on=on)


def export_filename(on: date) -> str:
    return f"安全审计日志_{on:%Y%m%d}.xlsx"


def unit_name(user) -> str:
    """The 填报单位 line of the export: the auditor's counties (all, for a superuser)."""
    scope = scoping.scope_of(user)
    if scope.everything:
        return _("All counties")
    names = list(Region.objects.filter(pk__in=scope.audit_counties).order_by("code").values_list("name", flat=True))
    return "、".join(names)


def export_county(user) -> int | None:
    """The county the export event belongs to: the auditor's one county (else the actor's)."""
    counties = scoping.scope_of(user).audit_counties
    return next(iter(counties)) if len(counties) == 1 else None
