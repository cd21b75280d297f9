"""Filings (填报): one per form × filer × period, with its values, events and the audit of every
change of every value."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from alliances.models import Institution, Region
from indicators.models.elements import DataElement, ReportForm


class Filing(models.Model):
    """Form × filer × period. The filer is an institution, or the county itself (institution empty)
    for forms the bureau files (e.g. 常住人口, 医保基金县域外支出)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        RETURNED = "returned", _("Returned")
        APPROVED = "approved", _("Approved")
        LOCKED = "locked", _("Locked")

    # Statuses in which the filer may change values (before the lock day, or once reopened).
    EDITABLE = (Status.DRAFT, Status.RETURNED)
    # Statuses whose values count in indicators.
    COUNTED = (Status.SUBMITTED, Status.APPROVED, Status.LOCKED)

    form = models.ForeignKey(ReportForm, verbose_name=_("report form"), on_delete=models.PROTECT,
                             related_name="filings")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="filings")
    institution = models.ForeignKey(Institution, verbose_name=_("institution"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="filings")
    period = models.CharField(_("period"), max_length=7)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Optimistic locking: every write compares and increments it.
    version = models.PositiveIntegerField(_("version"), default=1)
    due_date = models.DateField(_("due date"))
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("submitted by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    first_submitted_at = models.DateTimeField(_("first submitted at"), null=True, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reviewed by"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    return_reason = models.TextField(_("reason for return"), blank=True)
    # Comments the filer gave for validation warnings, {rule code: text}.
    warning_comments = models.JSONField(_("comments on warnings"), default=dict, blank=True)
    reopened_until = models.DateField(_("reopened until"), null=True, blank=True,
                                      help_text=_("Unlocked by the bureau: filers may change it until this day."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("updated by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("filing")
        verbose_name_plural = _("filings")
        ordering = ["-period_start", "form", "institution"]
        constraints = [
            models.UniqueConstraint(fields=["form", "institution", "period"],
                                    condition=models.Q(institution__isnull=False), name="filing_unique"),
            models.UniqueConstraint(fields=["form", "county", "period"],
                                    condition=models.Q(institution__isnull=True), name="filing_county_unique"),
        ]
        indexes = [
            models.Index(fields=["county", "period", "status"], name="filing_county_period"),
            models.Index(fields=["institution", "period_start"], name="filing_institution_period"),
        ]

    def __str__(self) -> str:
        return f"{self.form} · {self.filer_name} · {self.period}"

    @property
    def filer_name(self) -> str:
        return self.institution.name if self.institution_id else str(self.county.name)


class DataValue(models.Model):
    """One filed figure: element × filer × period. Empty value = reported as missing ("-")."""

    element = models.ForeignKey(DataElement, verbose_name=_("data element"), on_delete=models.PROTECT,
                                related_name="values")
    filing = models.ForeignKey(Filing, verbose_name=_("filing"), on_delete=models.CASCADE, related_name="values")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey(Institution, verbose_name=_("institution"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    period = models.CharField(_("period"), max_length=7)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    value = models.DecimalField(_("value"), max_digits=20, decimal_places=4, null=True, blank=True)
    # Whether the value counts in indicators: its filing is submitted, approved or locked. Kept in step
    # with the filing's status by ``indicators.services.filings`` so the engine reads one table.
    counted = models.BooleanField(_("counted"), default=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("data value")
        verbose_name_plural = _("data values")
        constraints = [
            models.UniqueConstraint(fields=["element", "institution", "period"],
                                    condition=models.Q(institution__isnull=False), name="datavalue_unique"),
            models.UniqueConstraint(fields=["element", "county", "period"],
                                    condition=models.Q(institution__isnull=True), name="datavalue_county_unique"),
        ]
        indexes = [
            # The indicator engine reads by element and period over all units.
            models.Index(fields=["period", "element"], name="datavalue_period_element"),
            models.Index(fields=["institution", "element", "period_start"], name="datavalue_history"),
        ]

    def __str__(self) -> str:
        return f"{self.element_id}@{self.period}={self.value}"


class FilingEvent(models.Model):
    """What happened to a filing, with who, when and why."""

    class Action(models.TextChoices):
        SAVE = "save", _("Saved")
        IMPORT = "import", _("Imported from Excel")
        API = "api", _("Submitted through the API")
        SUBMIT = "submit", _("Submitted")
        RETURN = "return", _("Returned")
        APPROVE = "approve", _("Approved")
        LOCK = "lock", _("Locked")
        UNLOCK = "unlock", _("Unlocked")
        DERIVE = "derive", _("Derived from the roster")
        HISTORY = "history", _("Loaded as history (历史数据导入)")

    filing = models.ForeignKey(Filing, verbose_name=_("filing"), on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("at"))
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("filing event")
        verbose_name_plural = _("filing events")
        ordering = ["filing", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.filing_id} {self.action}"


class ValueAudit(models.Model):
    """One change of one value: who, when, old, new, why. Written in bulk with every save."""

    # No index of its own: ``valueaudit_cell`` (filing, element) serves reads by filing, and each of
    # a save's 25 audit rows would update one more index.
    filing = models.ForeignKey(Filing, verbose_name=_("filing"), on_delete=models.CASCADE, related_name="audits",
                               db_index=False)
    element = models.ForeignKey(DataElement, verbose_name=_("data element"), on_delete=models.PROTECT,
                                related_name="+")
    old_value = models.DecimalField(_("old value"), max_digits=20, decimal_places=4, null=True, blank=True)
    new_value = models.DecimalField(_("new value"), max_digits=20, decimal_places=4, null=True, blank=True)
    # Whether the value existed before (distinguishes "empty → 5" from "missing → 5").
    created = models.BooleanField(_("new value"), default=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("at"))
    source = models.CharField(_("source"), max_length=10, choices=FilingEvent.Action.choices)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("value change")
        verbose_name_plural = _("value changes")
        ordering = ["filing", "element", "at", "pk"]
        indexes = [models.Index(fields=["filing", "element"], name="valueaudit_cell")]

    def __str__(self) -> str:
        return f"{self.element_id}: {self.old_value} → {self.new_value}"
