"""Who does a task (assignments to departments, institutions or alliances), their monthly
progress reports with evidence (佐证材料), and the county's rules for status lights."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from alliances.models import Alliance, Institution, Region
from tasks.models.ledgers import Department, JudgedTarget, TaskItem
from tasks.status import Behind, Light, Status, StatusResult, StatusRules, assignment_status, local_date


def target_inputs(item: TaskItem, *, alliance_id: int | None, met: bool | None, trend: str) -> dict:
    """The target inputs of ``assignment_status`` for one assignment of ``item`` (``met`` and ``trend``:
    the assignment's own judgement, which counts when the item is judged per alliance)."""
    if not item.is_linked:
        return {}
    if item.judged_by_alliance:
        if not alliance_id:
            return {}
    else:
        met, trend = item.target_met, item.target_trend
    return {"auto_complete": item.auto_complete, "target_met": met, "target_away": trend == JudgedTarget.Trend.AWAY}


class TaskSettings(models.Model):
    """A county's rules for the lights of its assignments."""

    county = models.OneToOneField(Region, verbose_name=_("county"), on_delete=models.CASCADE,
                                  related_name="task_settings", limit_choices_to={"level": Region.Level.COUNTY})
    due_soon_days = models.PositiveSmallIntegerField(
        _("days before the deadline that count as due soon"), default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)])
    behind_margin = models.PositiveSmallIntegerField(
        _("points behind the elapsed time that count as behind"), default=25,
        validators=[MinValueValidator(1), MaxValueValidator(100)])
    escalation_configured = models.BooleanField(
        _("the county has set its escalation rules"), default=False,
        help_text=_("Until then the portal suggests steps by its default rules."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("task settings")
        verbose_name_plural = _("task settings")

    def __str__(self) -> str:
        return str(self.county)

    @property
    def rules(self) -> StatusRules:
        return StatusRules(due_soon_days=self.due_soon_days, behind_margin=self.behind_margin)


SEVERITY = {Light.RED: 3, Light.YELLOW: 2, Light.BLUE: 1, Light.NONE: 0}


class AssignmentQuerySet(models.QuerySet):
    def open(self):
        return self.filter(completed_at__isnull=True)


class Assignment(JudgedTarget):
    """One responsible unit of one item. The lead (责任/牵头) unit owns the deadline; a cooperating
    (配合) unit reports too but carries no light. "各医共体" makes one assignment per alliance.

    ``status``, ``light``, ``behind`` and ``next_change_at`` cache ``status_at(now)``: services
    refresh them on every write, and ``tasks.services.assignments_refresh_due`` refreshes the
    rows whose ``next_change_at`` has passed (an index answers which)."""

    class Role(models.TextChoices):
        LEAD = "lead", _("Responsible unit")
        COOPERATING = "cooperating", _("Cooperating unit")

    item = models.ForeignKey(TaskItem, verbose_name=_("task item"), on_delete=models.CASCADE, related_name="assignments")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.LEAD)
    department = models.ForeignKey(Department, verbose_name=_("department"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="assignments")
    institution = models.ForeignKey(Institution, verbose_name=_("institution"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="task_assignments")
    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="task_assignments")
    source_text = models.CharField(_("as written"), max_length=100, blank=True,
                                   help_text=_("The words of the ledger this assignment comes from, e.g. 各医共体."))
    # Progress, kept by the services from the reports.
    percent = models.PositiveSmallIntegerField(_("percent done"), default=0, validators=[MaxValueValidator(100)])
    last_report_at = models.DateTimeField(_("last report"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    # Cache of status_at(now).
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.NOT_STARTED)
    light = models.CharField(_("light"), max_length=10, choices=Light.choices, blank=True, default="")
    behind = models.CharField(_("behind"), max_length=20, choices=Behind.choices, blank=True, default="")
    next_change_at = models.DateTimeField(_("status next changes at"), null=True, blank=True)
    # Copies kept with the status, so that lists sort "worst first" on one index and the dashboard
    # counts overdue by days without joining the items: the item's due date (None unless dated) and
    # the light as a rank (3 red, 2 yellow, 1 blue, 0 none).
    due_date = models.DateField(_("due date"), null=True, blank=True)
    severity = models.PositiveSmallIntegerField(_("severity"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["item_id", "role", "pk"]
        indexes = [
            models.Index(fields=["next_change_at"], name="assignment_next_change",
                         condition=Q(next_change_at__isnull=False)),
            models.Index(fields=["county", "status", "light"], name="assignment_county_status"),
            models.Index(fields=["-severity", "due_date", "id"], name="assignment_worst_first"),
            models.Index(fields=["county", "-severity", "due_date", "id"], name="assignment_county_worst"),
            # The dashboard's most overdue responsible assignments, oldest due date first, without
            # reading every overdue row of a province.
            models.Index(fields=["due_date", "id"], name="assignment_overdue_lead",
                         condition=Q(status="overdue", role="lead", is_active=True)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(department__isnull=False, institution__isnull=True, alliance__isnull=True)
                    | Q(department__isnull=True, institution__isnull=False, alliance__isnull=True)
                    | Q(department__isnull=True, institution__isnull=True, alliance__isnull=False)
                ),
                name="assignment_exactly_one_unit",
                violation_error_message=_("An assignment has exactly one unit: a department, an institution or an "
                                          "alliance."),
            ),
            # A unit is either responsible or cooperating for an item, once.
            models.UniqueConstraint(fields=["item", "department"], condition=Q(department__isnull=False),
                                    name="assignment_unique_department"),
            models.UniqueConstraint(fields=["item", "institution"], condition=Q(institution__isnull=False),
                                    name="assignment_unique_institution"),
            models.UniqueConstraint(fields=["item", "alliance"], condition=Q(alliance__isnull=False),
                                    name="assignment_unique_alliance"),
        ]

    def __str__(self) -> str:
        return f"{self.item.number} · {self.unit}"

    @property
    def unit(self):
        return self.department or self.institution or self.alliance

    @property
    def unit_name(self) -> str:
        unit = self.unit
        return getattr(unit, "display_name", None) or str(unit)

    @property
    def unit_kind(self) -> str:
        if self.department_id:
            return "department"
        return "institution" if self.institution_id else "alliance"

    @property
    def is_lead(self) -> bool:
        return self.role == self.Role.LEAD

    def start_date(self):
        """When the work began: the ledger's date, or the day the assignment was made if later.
        Needs ``item.ledger`` (select_related)."""
        ledger_start = self.item.ledger.start_date
        made = local_date(self.created_at) if self.created_at else ledger_start
        return max(ledger_start, made)

    def set_status(self, result: StatusResult) -> None:
        """Keep ``result`` (of ``status_at``) and the copies that go with it on the row (not saved).
        Needs ``item``."""
        self.status, self.light, self.behind = result.status, result.light, result.behind
        self.next_change_at = result.next_change_at
        self.severity = SEVERITY.get(result.light, 0)
        self.due_date = self.item.due_date

    def status_at(self, now: datetime, rules: StatusRules | None = None) -> StatusResult:
        """The status at ``now`` (no query when ``item.ledger`` is loaded)."""
        item = self.item
        return assignment_status(
            is_lead=self.is_lead, kind=item.deadline_kind, due_date=item.due_date, start_date=self.start_date(),
            completed=self.completed_at is not None, percent=self.percent, last_report_at=self.last_report_at,
            now=now, **({"rules": rules} if rules else {}),
            **target_inputs(item, alliance_id=self.alliance_id, met=self.target_met, trend=self.target_trend),
        )


class ProgressReport(models.Model):
    """A unit's monthly progress on one assignment: a narrative, a percent and evidence. A report
    that marks the task complete needs evidence; a bureau reviewer accepts or returns it with a
    reason."""

    class State(models.TextChoices):
        SUBMITTED = "submitted", _("Awaiting review")
        ACCEPTED = "accepted", _("Accepted")
        RETURNED = "returned", _("Returned")

    assignment = models.ForeignKey(Assignment, verbose_name=_("assignment"), on_delete=models.CASCADE,
                                   related_name="reports")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+")
    period = models.CharField(_("month"), max_length=7, help_text=_("The month reported on, e.g. 2026-11."))
    text = models.TextField(_("progress"))
    percent = models.PositiveSmallIntegerField(_("percent done"), validators=[MaxValueValidator(100)])
    marks_complete = models.BooleanField(_("task complete"), default=False)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.SUBMITTED)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("submitted by"), null=True,
                                     on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"))
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reviewed by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_reason = models.TextField(_("reviewer's reason"), blank=True)

    class Meta:
        verbose_name = _("progress report")
        verbose_name_plural = _("progress reports")
        ordering = ["-submitted_at", "-pk"]
        indexes = [
            models.Index(fields=["assignment", "-submitted_at"], name="report_assignment_latest"),
            models.Index(fields=["county", "state"], name="report_county_state"),
            models.Index(fields=["county", "period"], name="report_county_period"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(percent__lte=100), name="report_percent_at_most_100"),
            models.CheckConstraint(condition=~Q(state="returned") | ~Q(review_reason=""),
                                   name="report_return_has_reason",
                                   violation_error_message=_("A returned report needs the reason.")),
        ]

    def __str__(self) -> str:
        return f"{self.assignment} · {self.period} · {self.percent}%"


def evidence_path(instance: Evidence, filename: str) -> str:
    # The stored name is random: the original name is kept in the row and given back on download.
    return f"evidence/{instance.county_id}/{instance.sha256[:2]}/{instance.sha256}{instance.extension}"


class Evidence(models.Model):
    """An attachment of a progress report (佐证材料): PDF, image, Word or Excel, its type checked by
    content."""

    class Kind(models.TextChoices):
        PDF = "pdf", "PDF"
        IMAGE = "image", _("Image")
        WORD = "word", _("Word document")
        EXCEL = "excel", _("Excel workbook")

    report = models.ForeignKey(ProgressReport, verbose_name=_("progress report"), on_delete=models.CASCADE,
                               related_name="evidence")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+")
    file = models.FileField(_("file"), upload_to=evidence_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    content_type = models.CharField(_("content type"), max_length=100)
    extension = models.CharField(_("extension"), max_length=10)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["report_id", "pk"]

    def __str__(self) -> str:
        return self.original_name
