"""Pages of the scheduled reports: the archive (every report the user sees, with its state, a
progress bar while generating, versions and the delivery log), the printable page and workbook of
each version, the bureau's sign-off / regenerate / resend, the inbox of reports sent to the user,
and the county's recipients.

A report of another county is a 404 (the archive's queryset is scoped); a version is also
downloadable by whoever it was delivered to.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from alliances import scoping
from alliances.models import Alliance, Region
from alliances.scoping import CHANGE
from core import audit
from core.clock import request_now
from core.http import xlsx_response
from reports import golive, services
from reports.models import (
    Delivery,
    Kind,
    RecipientList,
    Report,
    ReportSettings,
    ReportVersion,
    Webhook,
    parse_days,
    scope_key,
)
from reports.recipients import CONFIGURABLE, ROLE_CHOICES, ROLE_LABELS, configured
from reports.scoping import openable_versions
from tasks.views.common import county_for

PAGE_SIZE = 30
STATE_BADGES = {
    Report.State.PENDING: "secondary", Report.State.GENERATING: "info", Report.State.READY: "warning",
    Report.State.SIGNED: "primary", Report.State.SENDING: "info", Report.State.SENT: "success",
    Report.State.FAILED: "danger",
}


def _kick(report_id: int) -> None:
    from reports.jobs import enqueue

    enqueue(report_id)


def _report(user, scheduled_report_pk, action=scoping.VIEW) -> Report:
    qs = scoping.queryset_for(user, Report).select_related("county", "alliance", "signed_off_by")
    return scoping.get_for_user(user, Report, scheduled_report_pk, action=action, queryset=qs)


def _can_change(user, report: Report) -> bool:
    return scoping.scope_of(user).can_change_county(report.county_id)


@login_required
def archive(request):
    """Every report the user sees, newest first, filtered by kind, state and period."""
    qs = (scoping.queryset_for(request.user, Report).select_related("county", "alliance")
          .annotate(version_count=Count("versions", distinct=True),
                    delivery_count=Count("deliveries", distinct=True),
                    failed_count=Count("deliveries", filter=Q(deliveries__state=Delivery.State.FAILED),
                                       distinct=True)))
    kind = request.GET.get("kind", "")
    state = request.GET.get("state", "")
    period = request.GET.get("period", "").strip()
    if kind in Kind.values:
        qs = qs.filter(kind=kind)
    if state in Report.State.values:
        qs = qs.filter(state=state)
    if period:
        qs = qs.filter(period__startswith=period[:7])
    page = Paginator(qs.order_by("-due_at", "kind", "scope_key", "-edition", "pk"), PAGE_SIZE).get_page(
        request.GET.get("page"))
    scope = scoping.scope_of(request.user)
    return render(request, "reports/archive.html", {
        "page": page, "reports": page.object_list, "kinds": Kind.choices, "states": Report.State.choices,
        "kind": kind, "state": state, "period": period, "badges": STATE_BADGES,
        "settings_counties": Region.objects.filter(pk__in=scope.change_counties).order_by("pk")
        if not scope.everything else Region.objects.none(),
        "waiting_signoff": qs.filter(kind=Kind.QUARTERLY, state=Report.State.READY).count()
        if scope.change_counties or scope.everything else 0,
    })


class SignOffForm(forms.Form):
    commentary = forms.CharField(label=gettext_lazy("Review and commentary"), required=False, max_length=2000,
                                 widget=forms.Textarea(attrs={"rows": 3}))


def _detail_context(request, report: Report) -> dict:
    versions = list(report.versions.defer("xlsx", "data").select_related("created_by").order_by("-number"))
    deliveries = list(report.deliveries.select_related("user", "version").order_by("pk"))
    log = list(report.log.select_related("user", "delivery", "delivery__user").order_by("at", "pk"))
    by_delivery: dict[int, list] = {}
    for entry in log:
        if entry.delivery_id:
            by_delivery.setdefault(entry.delivery_id, []).append(entry)
    for delivery in deliveries:
        delivery.entries = by_delivery.get(delivery.pk, [])
    return {
        "report": report, "versions": versions, "deliveries": deliveries,
        "log": [e for e in log if not e.delivery_id], "badges": STATE_BADGES,
        "can_change": _can_change(request.user, report),
        "form": SignOffForm(initial={"commentary": report.commentary}),
        "counts": [(label, n) for value, label in Delivery.State.choices
                   if (n := sum(1 for d in deliveries if d.state == value))],
    }


@login_required
def detail(request, scheduled_report_pk):
    report = _report(request.user, scheduled_report_pk)
    return render(request, "reports/detail.html", _detail_context(request, report))


@login_required
def status(request, scheduled_report_pk):
    """The state and progress bar (polled while the report is generating)."""
    report = _report(request.user, scheduled_report_pk)
    return render(request, "reports/_status.html", {"report": report, "badges": STATE_BADGES})


def _version(user, version_pk) -> ReportVersion:
    """A version the user may open: of a report they see, or of one delivered to them."""
    version = openable_versions(user).filter(pk=version_pk).select_related("report").first() \
        if str(version_pk).isdigit() else None
    if version is None:
        raise Http404(_("Not found."))
    return version


@login_required
def download(request, version_pk):
    version = _version(request.user, version_pk)
    if not version.xlsx:
        raise Http404(_("This report has no workbook."))
    services.mark_read(version.report_id, request.user, timezone.now())
    return xlsx_response(bytes(version.xlsx), version.filename or "report.xlsx")


@login_required
def print_view(request, version_pk):
    version = _version(request.user, version_pk)
    services.mark_read(version.report_id, request.user, timezone.now())
    return render(request, "reports/print.html", {"version": version, "report": version.report,
                                                  "data": version.data})


@login_required
@require_POST
def sign_off(request, scheduled_report_pk):
    report = _report(request.user, scheduled_report_pk, action=CHANGE)
    form = SignOffForm(request.POST)
    if not report.needs_signoff:
        raise Http404(_("Not found."))
    if not form.is_valid():
        context = _detail_context(request, report)
        context["form"] = form
        return render(request, "reports/detail.html", context, status=400)
    if services.sign_off(report, user=request.user, commentary=form.cleaned_data["commentary"].strip(),
                         now=request_now(request), request=request):
        messages.success(request, _("Signed off. The table is being sent."))
        _kick(report.pk)
    else:
        messages.error(request, _("This table cannot be signed off now (state: %(state)s).") % {
            "state": report.get_state_display()})
    return redirect("reports:detail", scheduled_report_pk=report.pk)


@login_required
@require_POST
def regenerate(request, scheduled_report_pk):
    report = _report(request.user, scheduled_report_pk, action=CHANGE)
    if services.regenerate(report, user=request.user, now=request_now(request)):
        messages.success(request, _("A new version is being generated; the earlier ones are kept."))
        _kick(report.pk)
    else:
        messages.error(request, _("This report cannot be regenerated now (state: %(state)s).") % {
            "state": report.get_state_display()})
    return redirect("reports:detail", scheduled_report_pk=report.pk)


@login_required
@require_POST
def resend(request, scheduled_report_pk, delivery_pk):
    report = _report(request.user, scheduled_report_pk, action=CHANGE)
    delivery = Delivery.objects.filter(report=report, pk=delivery_pk).select_related("report", "user").first() \
        if str(delivery_pk).isdigit() else None
    if delivery is None:
        raise Http404(_("Not found."))
    if services.resend(delivery, user=request.user, now=request_now(request)):
        messages.success(request, _("Queued again for %(who)s.") % {"who": delivery.recipient})
        _kick(report.pk)
    else:
        messages.error(request, _("This delivery is still in progress."))
    return redirect("reports:detail", scheduled_report_pk=report.pk)


@login_required
def inbox(request):
    """The reports sent to the user, newest first; opening one marks it read."""
    qs = (Delivery.objects.filter(user=request.user).select_related("report", "version")
          .order_by("-created_at", "-pk"))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "reports/inbox.html", {"page": page, "deliveries": page.object_list})


# Settings ---------------------------------------------------------------------------------------

class SettingsForm(forms.ModelForm):
    class Meta:
        model = ReportSettings
        fields = ["enabled", "reminder_days"]

    def clean_reminder_days(self):
        text = self.cleaned_data["reminder_days"]
        try:
            days = parse_days(text)
        except ValueError as exc:
            raise forms.ValidationError(
                _("“%(part)s” is not a day of the month from 1 to 28.") % {"part": exc.args[0]}) from None
        return ",".join(str(d) for d in days)


class RecipientsForm(forms.Form):
    roles = forms.MultipleChoiceField(label=gettext_lazy("Users by role"), choices=ROLE_CHOICES, required=False,
                                      widget=forms.CheckboxSelectMultiple)
    emails = forms.CharField(label=gettext_lazy("Other e-mail addresses"), required=False,
                             widget=forms.Textarea(attrs={"rows": 3}), help_text=gettext_lazy("One per line."))

    def clean_emails(self):
        from django.core.validators import validate_email

        lines = [line.strip() for line in self.cleaned_data["emails"].replace("，", "\n").replace(",", "\n")
                 .splitlines() if line.strip()]
        for number, line in enumerate(lines, start=1):
            try:
                validate_email(line)
            except forms.ValidationError:
                raise forms.ValidationError(_("Line %(n)s: “%(text)s” is not an e-mail address.") % {
                    "n": number, "text": line}) from None
        return "\n".join(lines)


def _recipient_rows(county: Region, alliances: list[Alliance]) -> list[dict]:
    lists = {f"{r.kind}|{r.scope_key}": r for r in RecipientList.objects.filter(county=county)}
    rows = []
    for kind, level in CONFIGURABLE:
        scopes = [None] if level == "county" else alliances
        for alliance in scopes:
            roles, emails = configured(kind, county.pk, alliance.pk if alliance else None, lists)
            rows.append({"kind": kind, "kind_label": Kind(kind).label, "alliance": alliance,
                         "scope": alliance.name if alliance else county.name,
                         "roles": [ROLE_LABELS.get(r, r) for r in roles], "emails": emails,
                         "custom": f"{kind}|{scope_key(county.pk, alliance.pk if alliance else None)}" in lists})
    return rows


@login_required
def county_settings(request, region_pk):
    county = county_for(request.user, region_pk)
    can_edit = scoping.scope_of(request.user).can_change_county(county.pk)
    instance = ReportSettings.objects.filter(county=county).first() or ReportSettings(county=county)
    form = SettingsForm(request.POST or None, instance=instance)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("Only the county health bureau changes the report settings."))
        if form.is_valid():
            saved = form.save(commit=False)
            saved.county, saved.updated_by = county, request.user
            saved.save()
            messages.success(request, _("Saved."))
            return redirect("reports:settings", region_pk=county.pk)
    alliances = list(Alliance.objects.filter(county=county, is_active=True).order_by("pk"))
    return render(request, "reports/settings.html", {
        "county": county, "form": form, "can_edit": can_edit, "rows": _recipient_rows(county, alliances)})


@login_required
def recipients_edit(request, region_pk):
    county = county_for(request.user, region_pk, edit=True)
    kind = request.GET.get("kind") or request.POST.get("kind") or ""
    alliance = None
    if request.GET.get("alliance") or request.POST.get("alliance"):
        alliance = scoping.get_for_user(request.user, Alliance, request.GET.get("alliance") or request.POST.get(
            "alliance"), queryset=Alliance.objects.filter(county=county))
    level = "alliance" if alliance else "county"
    if (kind, level) not in CONFIGURABLE:
        raise Http404(_("Not found."))  # the county's page, for a report that has no list
    roles, emails = configured(kind, county.pk, alliance.pk if alliance else None)
    form = RecipientsForm(request.POST or None, initial={"roles": roles, "emails": "\n".join(emails)})
    if request.method == "POST" and form.is_valid():
        row = RecipientList.objects.filter(kind=kind, county=county, alliance=alliance).first() or RecipientList(
            kind=kind, county=county, alliance=alliance)
        row.roles, row.emails, row.updated_by = form.cleaned_data["roles"], form.cleaned_data["emails"], request.user
        row.save()
        messages.success(request, _("Recipients saved."))
        return redirect("reports:settings", region_pk=county.pk)
    return render(request, "reports/recipients_form.html", {
        "county": county, "alliance": alliance, "kind_label": Kind(kind).label, "form": form,
        "back": reverse("reports:settings", kwargs={"region_pk": county.pk})})


@login_required
def unread(request):
    """The navigation's badge: how many reports sent to the user are unread (loaded after the page)."""
    count = Delivery.objects.filter(user=request.user, read_at__isnull=True).count()
    return render(request, "reports/_unread.html", {"count": count})


@login_required
def go_live(request, region_pk):
    """上线准备: the county's go-live checklist, for its bureau."""
    county = county_for(request.user, region_pk)
    if not scoping.scope_of(request.user).can_change_county(county.pk):
        raise PermissionDenied(_("Only the county health bureau sees the go-live checklist."))
    lines = golive.checklist(county, timezone.localdate(request_now(request)))
    return render(request, "reports/go_live.html", {
        "county": county, "lines": lines, "done": sum(1 for line in lines if line.done)})


# Group robots -------------------------------------------------------------------------------------

class WebhookForm(forms.ModelForm):
    class Meta:
        model = Webhook
        fields = ["name", "kind", "alliance", "url", "secret"]
        widgets = {"url": forms.TextInput(attrs={"autocomplete": "off"}),
                   "secret": forms.PasswordInput(attrs={"autocomplete": "off"})}

    def __init__(self, *args, county: Region, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["alliance"].queryset = Alliance.objects.filter(county=county, is_active=True).order_by("pk")
        self.fields["alliance"].empty_label = _("The county's own reports")

    def clean_url(self):
        from urllib.parse import urlsplit

        url = self.cleaned_data["url"].strip()
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise forms.ValidationError(_("The webhook URL must begin with http:// or https://."))
        return url

    def clean(self):
        data = super().clean()
        if data.get("secret") and data.get("kind") != Webhook.Kind.DINGTALK:
            self.add_error("secret", _("Only a DingTalk robot uses a signing secret."))
        return data


@sensitive_post_parameters("url", "secret")
@login_required
def webhooks(request, region_pk):
    """The county's group robots (企业微信 / 钉钉 / generic webhook): added and removed by its bureau;
    the URL is shown masked once saved."""
    county = county_for(request.user, region_pk)
    if not scoping.scope_of(request.user).can_change_county(county.pk):
        raise PermissionDenied(_("Only the county health bureau manages the group robots."))
    now = request_now(request)
    form = WebhookForm(county=county)
    if request.method == "POST":
        if request.POST.get("remove"):
            try:
                hook = Webhook.objects.get(county=county, pk=int(request.POST["remove"]))
            except (ValueError, Webhook.DoesNotExist):
                raise Http404(_("Not found.")) from None
            details = {"name": hook.name, "kind": hook.kind, "alliance": hook.alliance_id, "url": hook.masked_url}
            with transaction.atomic():
                audit.record(audit.Event.WEBHOOK_REMOVE, request=request, target=hook, county_id=county.pk,
                             now=now, details=details)
                hook.delete()
            messages.success(request, _("Group robot removed."))
            return redirect("reports:webhooks", region_pk=county.pk)
        form = WebhookForm(request.POST, county=county)
        if form.is_valid():
            hook = form.save(commit=False)
            hook.county, hook.created_by, hook.created_at = county, request.user, now
            with transaction.atomic():
                hook.save()
                audit.record(audit.Event.WEBHOOK_ADD, request=request, target=hook, county_id=county.pk, now=now,
                             details={"name": hook.name, "kind": hook.kind, "alliance": hook.alliance_id,
                                      "url": hook.masked_url, "signed": bool(hook.secret)})
            messages.success(request, _("Group robot added."))
            return redirect("reports:webhooks", region_pk=county.pk)
    hooks = Webhook.objects.filter(county=county).select_related("alliance", "created_by")
    return render(request, "reports/webhooks.html", {
        "county": county, "form": form, "hooks": hooks,
        "back": reverse("reports:settings", kwargs={"region_pk": county.pk})})
