"""Supervision (三色督办): orders to a unit about one matter, their escalation steps, the county's
rules that suggest the next step, and the half-year inspections (督查) with their findings."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from alliances.models import Alliance, Institution, Region
from tasks.models.assignments import Assignment
from tasks.models.ledgers import Department, TaskItem


class Colour(models.TextChoices):
    BLUE = "blue", _("Blue (reminder)")
    YELLOW = "yellow", _("Yellow (behind schedule)")
    RED = "red", _("Red (overdue)")


class Step(models.TextChoices):
    """Escalation, in order: 提醒 → 专函督办 → 通报 → 约谈 → 问责."""

    REMINDER = "reminder", _("Reminder")
    LETTER = "letter", _("Formal supervision letter")
    NOTICE = "notice", _("Public notice")
    INTERVIEW = "interview", _("Interview of the unit head")
    ACCOUNTABILITY = "accountability", _("Accountability")


STEP_ORDER = [Step.REMINDER, Step.LETTER, Step.NOTICE, Step.INTERVIEW, Step.ACCOUNTABILITY]


class SupervisionOrder(models.Model):
    """A 督办单: one matter (one unit's assignment), a colour, a text and a reply deadline. The unit
    replies in the portal; the supervisor closes it. At most one order per matter awaits a reply."""

    class State(models.TextChoices):
        OPEN = "open", _("Awaiting reply")
        REPLIED = "replied", _("Replied")
        CLOSED = "closed", _("Closed")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+")
    assignment = models.ForeignKey(Assignment, verbose_name=_("matter"), on_delete=models.CASCADE,
                                   related_name="supervision_orders")
    number = models.CharField(_("order number"), max_length=40)
    colour = models.CharField(_("colour"), max_length=10, choices=Colour.choices)
    step = models.CharField(_("escalation step"), max_length=20, choices=Step.choices, default=Step.REMINDER)
    text = models.TextField(_("text"))
    reply_due = models.DateField(_("reply by"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("issued by"), null=True,
                                  on_delete=models.SET_NULL, related_name="+")
    issued_at = models.DateTimeField(_("issued at"))
    reply_text = models.TextField(_("reply"), blank=True)
    replied_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("replied by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("closed by"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    close_note = models.TextField(_("closing note"), blank=True)

    class Meta:
        verbose_name = _("supervision order")
        verbose_name_plural = _("supervision orders")
        ordering = ["-issued_at", "-pk"]
        indexes = [models.Index(fields=["county", "state"], name="order_county_state")]
        constraints = [
            models.UniqueConstraint(fields=["assignment"], condition=Q(state="open"), name="order_one_open_per_matter",
                                    violation_error_message=_("An order about this matter is still awaiting its "
                                                              "reply; escalate that one instead.")),
            models.UniqueConstraint(fields=["county", "number"], name="order_unique_number"),
        ]

    def __str__(self) -> str:
        return self.number


class EscalationStep(models.Model):
    """A step taken on an order (提醒, 专函督办, 通报, 约谈, 问责): who, when and why."""

    order = models.ForeignKey(SupervisionOrder, verbose_name=_("supervision order"), on_delete=models.CASCADE,
                              related_name="steps")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+")
    step = models.CharField(_("step"), max_length=20, choices=Step.choices)
    note = models.TextField(_("note"), blank=True)
    was_suggested = models.BooleanField(_("suggested by the portal"), default=False)
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("taken by"), null=True,
                                 on_delete=models.SET_NULL, related_name="+")
    taken_at = models.DateTimeField(_("taken at"))

    class Meta:
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")
        ordering = ["order_id", "taken_at", "pk"]

    def __str__(self) -> str:
        return f"{self.order} · {self.get_step_display()}"


class EscalationRule(models.Model):
    """When the portal suggests a step: ``count`` orders of ``colour`` about the same unit within one
    calendar quarter, or in a row (the unit's latest orders)."""

    class Window(models.TextChoices):
        QUARTER = "quarter", _("within one quarter")
        CONSECUTIVE = "consecutive", _("in a row")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE,
                               related_name="escalation_rules")
    colour = models.CharField(_("colour"), max_length=10, choices=Colour.choices)
    count = models.PositiveSmallIntegerField(_("number of orders"), validators=[MinValueValidator(1),
                                                                                MaxValueValidator(12)])
    window = models.CharField(_("counted"), max_length=20, choices=Window.choices)
    suggests = models.CharField(_("suggests"), max_length=20, choices=Step.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("escalation rule")
        verbose_name_plural = _("escalation rules")
        ordering = ["county_id", "pk"]

    def __str__(self) -> str:
        return f"{self.count}×{self.get_colour_display()} {self.get_window_display()} → {self.get_suggests_display()}"


class Inspection(models.Model):
    """A supervision inspection (督查), held at least every half year."""

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="inspections")
    title = models.CharField(_("title"), max_length=200)
    half_year = models.CharField(_("half year"), max_length=6, help_text=_("e.g. 2026H1"))
    held_on = models.DateField(_("held on"))
    inspectors = models.CharField(_("inspectors"), max_length=300, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        ordering = ["-held_on", "-pk"]

    def __str__(self) -> str:
        return self.title


class InspectionFinding(models.Model):
    """A finding of an inspection; it can become a new task (整改任务) of the county."""

    class Severity(models.TextChoices):
        MINOR = "minor", _("Minor")
        SERIOUS = "serious", _("Serious")
        CRITICAL = "critical", _("Critical")

    inspection = models.ForeignKey(Inspection, verbose_name=_("inspection"), on_delete=models.CASCADE,
                                   related_name="findings")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("finding"))
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.MINOR)
    department = models.ForeignKey(Department, verbose_name=_("department"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey(Institution, verbose_name=_("institution"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    task_item = models.OneToOneField(TaskItem, verbose_name=_("task made from it"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="finding")
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("inspection finding")
        verbose_name_plural = _("inspection findings")
        ordering = ["inspection_id", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(department__isnull=True, institution__isnull=True)
                           | Q(department__isnull=True, alliance__isnull=True)
                           | Q(institution__isnull=True, alliance__isnull=True)),
                name="finding_at_most_one_unit",
            ),
        ]

    def __str__(self) -> str:
        return self.text[:40]

    @property
    def unit(self):
        return self.department or self.institution or self.alliance
