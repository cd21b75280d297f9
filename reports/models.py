"""Reports that go out by themselves (seed 001 §四(四)): the monthly 进度监测表, the quarterly
评价指标表 with the bureau's sign-off, filing reminders and late lists, and the alert to
supervisors when a quarterly table is not signed off in time.

Exactly once, by data (DESIGN.md "data-driven idempotent jobs"):

- a ``Report`` is a row unique by (kind, scope, period, edition); the sweep creates the rows that
  are due and moves each through its states by conditional updates —
  pending → generating → ready → (signed, quarterly only) → sending → sent / failed;
- each recipient is a ``Delivery`` row unique by (report, address), claimed queued → sending
  before its e-mail goes out, retried with backoff on failure;
- every step is written to ``ReportLog`` (the delivery log of the archive page).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from alliances.models import Alliance, Region


class Kind(models.TextChoices):
    MONTHLY = "monthly", _("Monthly progress table")
    QUARTERLY = "quarterly", _("Quarterly evaluation table")
    SIGNOFF_ALERT = "signoff_alert", _("Sign-off overdue alert")
    REMINDER = "reminder", _("Filing reminder")
    LATE = "late", _("Late filings list")
    FINANCE_HALF = "finance_half", _("Semi-annual financial analysis")
    TASK_DIGEST = "task_digest", _("Weekly task digest for group robots")


class SweepMark(models.Model):
    """When the sweep first and last ran (one row). Reports due before the first sweep are not
    made by it (a new installation does not send last month's tables late); after that, a gap
    in the sweeps is caught up."""

    first_at = models.DateTimeField(_("first sweep"))
    last_at = models.DateTimeField(_("last sweep"))

    class Meta:
        verbose_name = _("sweep mark")
        verbose_name_plural = _("sweep marks")

    def __str__(self) -> str:
        return f"{self.first_at:%Y-%m-%d %H:%M} – {self.last_at:%Y-%m-%d %H:%M}"


class ReportSettings(models.Model):
    """A county's choices for its scheduled reports (defaults when there is no row)."""

    county = models.OneToOneField(Region, verbose_name=_("county"), on_delete=models.CASCADE,
                                  related_name="report_settings")
    enabled = models.BooleanField(_("send scheduled reports"), default=True)
    reminder_days = models.CharField(
        _("reminder days"), max_length=40, default="1,3",
        help_text=_("Days of the month on which institutions with a missing filing are reminded, e.g. 1,3."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("updated by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("report settings")
        verbose_name_plural = _("report settings")

    def __str__(self) -> str:
        return str(self.county)

    @property
    def days(self) -> list[int]:
        return parse_days(self.reminder_days)


def parse_days(text: str) -> list[int]:
    """"1, 3" → [1, 3]. Raises ValueError naming the bad part."""
    days = set()
    for part in (text or "").replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 28:
            raise ValueError(part)
        days.add(int(part))
    return sorted(days)


class RecipientList(models.Model):
    """Who gets one kind of report of one county or alliance: users by role, plus addresses.
    Without a row the defaults of ``reports.recipients.DEFAULT_ROLES`` apply."""

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE, related_name="+")
    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    scope_key = models.CharField(_("scope"), max_length=40, editable=False)
    kind = models.CharField(_("report"), max_length=20, choices=Kind.choices)
    roles = models.JSONField(_("roles"), default=list, blank=True)
    emails = models.TextField(_("other e-mail addresses"), blank=True, help_text=_("One address per line."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("updated by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("recipient list")
        verbose_name_plural = _("recipient lists")
        constraints = [models.UniqueConstraint(fields=["kind", "scope_key"], name="recipients_one_per_scope")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.scope_key}"

    def save(self, *args, **kwargs):
        self.scope_key = scope_key(self.county_id, self.alliance_id)
        super().save(*args, **kwargs)

    @property
    def email_list(self) -> list[str]:
        return [line.strip() for line in self.emails.splitlines() if line.strip()]


def scope_key(county_id: int, alliance_id: int | None) -> str:
    return f"alliance:{alliance_id}" if alliance_id else f"county:{county_id}"


class Report(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be generated")
        GENERATING = "generating", _("Generating")
        READY = "ready", _("Ready")
        SIGNED = "signed", _("Signed off")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="reports")
    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="reports")
    scope_key = models.CharField(_("scope"), max_length=40)
    period = models.CharField(_("period"), max_length=7)
    edition = models.PositiveSmallIntegerField(
        _("edition"), default=0, help_text=_("The day of the month of a reminder; 0 for the others."))
    title = models.CharField(_("title"), max_length=200)

    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.PENDING)
    state_changed_at = models.DateTimeField(_("state changed at"))
    claim = models.CharField(_("claimed by"), max_length=32, blank=True,
                             help_text=_("The run that holds the report while generating it."))
    attempts = models.PositiveSmallIntegerField(_("generation attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    progress_note = models.CharField(_("progress note"), max_length=100, blank=True)

    due_at = models.DateTimeField(_("due at"))
    deadline = models.DateTimeField(_("deadline"))
    created_at = models.DateTimeField(_("created at"))
    late = models.BooleanField(_("late"), default=False)
    generated_at = models.DateTimeField(_("generated at"), null=True, blank=True)
    signed_off_at = models.DateTimeField(_("signed off at"), null=True, blank=True)
    signed_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("signed off by"), null=True,
                                      blank=True, on_delete=models.SET_NULL, related_name="+")
    commentary = models.TextField(_("commentary"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-due_at", "kind", "scope_key", "-edition", "pk"]
        constraints = [models.UniqueConstraint(fields=["kind", "scope_key", "period", "edition"],
                                               name="report_once_per_scope_and_period")]
        indexes = [models.Index(fields=["state", "state_changed_at"], name="report_state"),
                   models.Index(fields=["county", "-due_at"], name="report_county_due")]

    def __str__(self) -> str:
        return self.title

    @property
    def needs_signoff(self) -> bool:
        return self.kind == Kind.QUARTERLY

    @property
    def is_working(self) -> bool:
        return self.state in (self.State.PENDING, self.State.GENERATING)


class ReportVersion(models.Model):
    """One generated edition of a report: the figures as shown on the printable page and the
    workbook as attached. Regenerating adds a version; old ones stay."""

    report = models.ForeignKey(Report, verbose_name=_("report"), on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField(_("version"))
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(_("content"), default=dict)
    filename = models.CharField(_("file name"), max_length=200, blank=True)
    xlsx = models.BinaryField(_("workbook"), null=True, blank=True)
    size = models.PositiveIntegerField(_("size"), default=0)
    build_ms = models.PositiveIntegerField(_("generated in (ms)"), default=0)

    class Meta:
        verbose_name = _("report version")
        verbose_name_plural = _("report versions")
        ordering = ["report_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["report", "number"], name="report_version_unique")]

    def __str__(self) -> str:
        return f"{self.report} v{self.number}"


class Webhook(models.Model):
    """A group robot (企业微信 / 钉钉 / a generic JSON webhook) of a county or one of its alliances, to
    which the reports of that county (or alliance) are posted as text and a link. The URL (and the
    钉钉 signing secret) are secrets: shown masked after saving, never in the logs."""

    class Kind(models.TextChoices):
        WECOM = "wecom", _("WeCom group robot")
        DINGTALK = "dingtalk", _("DingTalk group robot")
        GENERIC = "generic", _("Generic JSON webhook")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE, related_name="+")
    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+",
                                 help_text=_("Empty: the county's own reports."))
    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("format"), max_length=10, choices=Kind.choices)
    url = models.CharField(_("webhook URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True,
                              help_text=_("DingTalk 加签 only; leave empty otherwise."))
    created_at = models.DateTimeField(_("added at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("added by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("group robot")
        verbose_name_plural = _("group robots")
        ordering = ["county_id", "alliance_id", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)


def mask_url(url: str) -> str:
    """``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd…wxyz`` → ``https://qyapi.weixin.qq.com/…wxyz``:
    the host and the last four characters, never the path or the token."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        head = f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        head = ""
    return f"{head}/…{url[-4:]}" if len(url) > 12 else "…"


class Delivery(models.Model):
    """One recipient of one report: a user (inbox, and e-mail when they have an address), an
    extra address (e-mail only) or a group robot (``webhook``; address key ``webhook:<pk>``)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        PORTAL = "portal", _("In the portal only (no e-mail address)")
        FAILED = "failed", _("Failed")

    report = models.ForeignKey(Report, verbose_name=_("report"), on_delete=models.CASCADE, related_name="deliveries")
    version = models.ForeignKey(ReportVersion, verbose_name=_("version"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    address_key = models.CharField(_("recipient key"), max_length=260)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="report_deliveries")
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    webhook = models.ForeignKey(Webhook, verbose_name=_("group robot"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="deliveries")
    label = models.CharField(_("recipient"), max_length=200, blank=True,
                             help_text=_("How a group robot is shown in the delivery log."))
    reason = models.CharField(_("why"), max_length=200, blank=True)
    message = models.TextField(_("message"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("queued at"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["report_id", "pk"]
        constraints = [models.UniqueConstraint(fields=["report", "address_key"], name="delivery_once_per_recipient")]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
                   models.Index(fields=["user", "-created_at"], name="delivery_inbox")]

    def __str__(self) -> str:
        return f"{self.report} → {self.label or self.email or self.user}"

    @property
    def recipient(self) -> str:
        if self.label:
            return self.label
        if self.user_id:
            return self.user.display_name
        return self.email


EVENT_LABELS = {
    "created": _("Made"), "generating": _("Generation started"), "generated": _("Generated"),
    "generate_failed": _("Generation failed"), "recovered": _("Recovered"), "signed_off": _("Signed off"),
    "regenerate": _("Regeneration requested"), "queued": _("Queued"), "sent": _("Sent"), "failed": _("Failed"),
    "retry": _("Will retry"), "portal": _("Delivered in the portal"), "resend": _("Resend"),
}


class ReportLog(models.Model):
    """What happened to a report and to each of its deliveries, in order."""

    report = models.ForeignKey(Report, verbose_name=_("report"), on_delete=models.CASCADE, related_name="log")
    delivery = models.ForeignKey(Delivery, verbose_name=_("delivery"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(_("at"))
    event = models.CharField(_("event"), max_length=20)
    note = models.CharField(_("note"), max_length=500, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("report log entry")
        verbose_name_plural = _("report log")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.event} {self.note}"

    @property
    def event_label(self) -> str:
        return str(EVENT_LABELS.get(self.event, self.event))


# Threshold alerts (预警) -----------------------------------------------------------------------------

class AlertRule(models.Model):
    """A county bureau's rule that raises alerts (预警): an indicator below or above a value, falling
    for N periods, missing its target for the quarter so far; the 医保 fund spending ahead of its
    budget share; a budget's execution off the elapsed time; an alliance with N red tasks. Rules are
    disabled, never deleted (their alerts stay recorded)."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", _("Indicator below or above a value")
        FALLING = "falling", _("Indicator falling for consecutive periods")
        QUARTER = "quarter", _("Indicator missing its target for the quarter so far")
        INSURANCE = "insurance", _("Medical-insurance fund spending ahead of its budget share")
        BUDGET = "budget", _("Budget execution behind or ahead of time")
        RED_TASKS = "red_tasks", _("Red (overdue) tasks of an alliance")

    class Operator(models.TextChoices):
        BELOW = "below", _("below")
        ABOVE = "above", _("above")

    class Level(models.TextChoices):
        COUNTY = "county", _("County")
        ALLIANCE = "alliance", _("Each alliance")
        INSTITUTION = "institution", _("Each institution")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    indicator = models.ForeignKey("indicators.Indicator", verbose_name=_("indicator"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    level = models.CharField(_("level"), max_length=12, choices=Level.choices, default=Level.COUNTY)
    operator = models.CharField(_("operator"), max_length=6, choices=Operator.choices, blank=True)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=4, null=True, blank=True)
    count = models.PositiveSmallIntegerField(_("N"), null=True, blank=True)
    roles = models.JSONField(_("who is told"), default=list, blank=True)
    webhooks = models.ManyToManyField(Webhook, verbose_name=_("group robots"), blank=True, related_name="+")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(_("updated at"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("updated by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["county_id", "-is_active", "name", "pk"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """One alert: a rule's condition held for one unit (the county, an alliance or an institution) in
    one period. Raised once per (rule, unit, period); it stays recorded when the condition stops
    holding (resolved), and an acknowledged alert stays closed."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved (the condition no longer holds)")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")

    rule = models.ForeignKey(AlertRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="alerts")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+")
    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    level = models.CharField(_("level"), max_length=12)
    unit_id = models.PositiveIntegerField(_("unit"))
    unit_name = models.CharField(_("unit"), max_length=120)
    period = models.CharField(_("period"), max_length=7)
    value = models.DecimalField(_("value"), max_digits=20, decimal_places=4, null=True, blank=True)
    reference = models.DecimalField(_("compared with"), max_digits=20, decimal_places=4, null=True, blank=True)
    text = models.CharField(_("what happened"), max_length=500)
    batch = models.CharField(_("raised by run"), max_length=32, editable=False)
    raised_at = models.DateTimeField(_("raised at"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.OPEN)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("acknowledged by"), null=True,
                                        blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-raised_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["rule", "level", "unit_id", "period"],
                                               name="alert_once_per_unit_and_period")]
        indexes = [models.Index(fields=["county", "state", "-raised_at"], name="alert_county_state"),
                   models.Index(fields=["batch"], name="alert_batch")]

    def __str__(self) -> str:
        return self.text

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN


class AlertDelivery(models.Model):
    """One recipient of one alert: a user (the alerts inbox, and e-mail when they have an address), or
    a group robot (address key ``webhook:<pk>``). Claimed queued → sending before it goes out, retried
    with backoff; unique per (alert, recipient), so an alert reaches each recipient once."""

    State = Delivery.State

    alert = models.ForeignKey(Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="deliveries")
    address_key = models.CharField(_("recipient key"), max_length=260)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="alert_deliveries")
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    webhook = models.ForeignKey(Webhook, verbose_name=_("group robot"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    label = models.CharField(_("recipient"), max_length=200, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=Delivery.State.choices, default=Delivery.State.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("queued at"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert delivery")
        verbose_name_plural = _("alert deliveries")
        ordering = ["alert_id", "pk"]
        constraints = [models.UniqueConstraint(fields=["alert", "address_key"], name="alert_delivery_once")]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="alert_delivery_due"),
                   models.Index(fields=["user", "read_at"], name="alert_delivery_inbox")]

    def __str__(self) -> str:
        return f"{self.alert} → {self.label or self.email or self.user_id}"
