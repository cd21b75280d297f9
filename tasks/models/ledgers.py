"""Departments, ledgers (台账) and their tree of sections and task items.

A ledger is the task list of one official document (title, 文号, issuing body, year) kept by
one county. Its items hang under sections: an action or category (一、“深化改革”行动 /
（一）落实责任…) and a key task (1．夯实管理责任). Items are keyed by ledger and item number,
so importing the same file again changes nothing.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from alliances.models import Region
from tasks.deadlines import DeadlineKind, Recurrence


class Department(models.Model):
    """A unit outside the alliance tree that can be responsible for a task: a government
    department (县卫生健康局, 县财政局, 县委编办 …) or another body (市直相关医疗机构). One registry per
    county, filled on first sight when a ledger is imported (with the user's confirmation)."""

    class Kind(models.TextChoices):
        GOVERNMENT = "government", _("Government department")
        OTHER = "other", _("Other body")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="departments",
                               limit_choices_to={"level": Region.Level.COUNTY})
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.GOVERNMENT)
    aliases = models.JSONField(_("other names"), default=list, blank=True,
                               help_text=_("Other spellings in ledgers that mean this department, e.g. 市保障局."))
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["county_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["county", "name"], name="department_unique_name_in_county",
                                    violation_error_message=_("A department of this name already exists in the county.")),
        ]

    def __str__(self) -> str:
        return self.name


class Ledger(models.Model):
    class Layout(models.TextChoices):
        TREE = "tree", _("Actions, key tasks and items")
        NUMBERED = "numbered", _("Numbered items under sections")
        MANUAL = "manual", _("Kept in the portal")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="ledgers",
                               limit_choices_to={"level": Region.Level.COUNTY})
    title = models.CharField(_("title"), max_length=200)
    doc_number = models.CharField(_("document number"), max_length=100, blank=True, help_text=_("文号, e.g. 郁府办函〔2020〕78号"))
    issuer = models.CharField(_("issuing body"), max_length=100, blank=True)
    year = models.PositiveSmallIntegerField(_("year"))
    issued_on = models.DateField(_("issued on"), null=True, blank=True,
                                 help_text=_("Work is reckoned from this day; from 1 January of the year when empty."))
    layout = models.CharField(_("layout"), max_length=20, choices=Layout.choices, default=Layout.MANUAL)
    source_filename = models.CharField(_("source file"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("ledger")
        verbose_name_plural = _("ledgers")
        ordering = ["county_id", "-year", "title"]
        constraints = [
            models.UniqueConstraint(fields=["county", "title", "year"], name="ledger_unique_title_year",
                                    violation_error_message=_("The county already has a ledger of this title and year.")),
            models.CheckConstraint(condition=Q(year__gte=2000, year__lte=2100), name="ledger_year_plausible",
                                   violation_error_message=_("The year must be between 2000 and 2100.")),
        ]

    def __str__(self) -> str:
        return f"{self.title}（{self.year}）"

    @property
    def start_date(self) -> date:
        return self.issued_on or date(self.year, 1, 1)

    @property
    def source_text(self) -> str:
        return " ".join(part for part in (self.issuer, self.doc_number) if part)


class LedgerSection(models.Model):
    """A heading of the ledger: level 1 is an action, category or section (一、“深化改革”行动), level 2
    a key task (1．夯实管理责任)."""

    ledger = models.ForeignKey(Ledger, verbose_name=_("ledger"), on_delete=models.CASCADE, related_name="sections")
    parent = models.ForeignKey("self", verbose_name=_("parent section"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="children")
    level = models.PositiveSmallIntegerField(_("level"))
    label = models.CharField(_("heading"), max_length=300, help_text=_("As written in the ledger."))
    path = models.CharField(_("path"), max_length=650, help_text=_("Headings from the top, to find the section again."))
    order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("ledger section")
        verbose_name_plural = _("ledger sections")
        ordering = ["ledger_id", "order"]
        constraints = [
            models.UniqueConstraint(fields=["ledger", "path"], name="section_unique_path"),
            models.CheckConstraint(condition=Q(level__in=[1, 2]), name="section_level_valid"),
        ]

    def __str__(self) -> str:
        return self.label


JUDGED_FIELDS = ("judged_value", "judged_last_year", "judged_previous", "judged_period", "judged_target",
                 "target_met", "target_trend", "target_checked_at")


class JudgedTarget(models.Model):
    """The last judgement of an indicator-backed item (``reports.targets``): the figure at the last
    complete period of the indicator's form, the target it was held against, last year's and the
    previous period's figures, whether it meets the target and where it is heading. On the item
    when judged for the county, on each alliance's assignment when judged per alliance."""

    class Trend(models.TextChoices):
        NONE = "", _("Unknown")
        TOWARD = "toward", _("Toward the target")
        AWAY = "away", _("Away from the target")
        FLAT = "flat", _("Unchanged")

    judged_value = models.DecimalField(_("indicator value"), max_digits=18, decimal_places=4, null=True, blank=True)
    judged_last_year = models.DecimalField(_("same period last year"), max_digits=18, decimal_places=4, null=True,
                                           blank=True)
    judged_previous = models.DecimalField(_("previous period"), max_digits=18, decimal_places=4, null=True,
                                          blank=True)
    judged_period = models.CharField(_("judged period"), max_length=7, blank=True)
    judged_target = models.CharField(_("target judged against"), max_length=60, blank=True)
    target_met = models.BooleanField(_("target met"), null=True, blank=True)
    target_trend = models.CharField(_("trend"), max_length=10, choices=Trend.choices, blank=True, default="")
    target_checked_at = models.DateTimeField(_("target checked at"), null=True, blank=True)

    class Meta:
        abstract = True

    def clear_judgement(self) -> None:
        for field in JUDGED_FIELDS:
            setattr(self, field, "" if field in ("judged_period", "judged_target", "target_trend") else None)


class TaskItem(JudgedTarget):
    """One task of a ledger (任务条目) with its responsible units as written and its deadline,
    parsed from the phrase and correctable by a person."""

    class TargetOperator(models.TextChoices):
        NONE = "", _("None")
        AT_LEAST = "ge", _("At least")
        MORE_THAN = "gt", _("More than")
        AT_MOST = "le", _("At most")
        RISE = "rise", _("Rise against the same period last year")
        FALL = "fall", _("Fall against the same period last year")

    class TargetLevel(models.TextChoices):
        NONE = "", _("Not linked")
        COUNTY = "county", _("The county")
        ALLIANCE = "alliance", _("Each assigned alliance")

    ledger = models.ForeignKey(Ledger, verbose_name=_("ledger"), on_delete=models.CASCADE, related_name="items")
    section = models.ForeignKey(LedgerSection, verbose_name=_("section"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="items")
    number = models.CharField(_("item number"), max_length=30, help_text=_("e.g. 1.1, （12）, 23"))
    key = models.CharField(_("item key"), max_length=30, editable=False,
                           help_text=_("The item number without brackets or spaces; unique in the ledger."))
    text = models.TextField(_("task"))
    lead_units_text = models.CharField(_("responsible units (as written)"), max_length=500, blank=True)
    coop_units_text = models.CharField(_("cooperating units (as written)"), max_length=500, blank=True)
    deadline_text = models.CharField(_("deadline (as written)"), max_length=200, blank=True)
    deadline_kind = models.CharField(_("deadline kind"), max_length=20, choices=DeadlineKind.choices,
                                     default=DeadlineKind.UNKNOWN)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    recurrence = models.CharField(_("recurrence"), max_length=20, choices=Recurrence.choices, blank=True, default="")
    deadline_note = models.CharField(_("deadline note"), max_length=300, blank=True)
    # Earlier dates of the same deadline cell (3月底前制定方案，10月底前完成验收: 3月底), ISO dates in order.
    milestones = models.JSONField(_("milestones"), default=list, blank=True)
    deadline_corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("deadline set by"), null=True,
                                              blank=True, on_delete=models.SET_NULL, related_name="+")
    deadline_corrected_at = models.DateTimeField(_("deadline set at"), null=True, blank=True)
    # A quantitative target stated in the task (县域就诊率同比提升1个百分点或达到90%). The indicator
    # fields are the hook for the indicator engine: an item may point to an indicator code with a
    # threshold and turn done by itself when the indicator meets it.
    target_text = models.TextField(_("quantitative target"), blank=True)
    indicator_code = models.CharField(_("indicator code"), max_length=50, blank=True)
    target_operator = models.CharField(_("target operator"), max_length=10, choices=TargetOperator.choices,
                                       blank=True, default="")
    target_value = models.DecimalField(_("target value"), max_digits=14, decimal_places=4, null=True, blank=True)
    auto_complete = models.BooleanField(_("done when the indicator meets the target"), default=False)
    # rise/fall: by at least this many points (同比提升1个百分点); their target_value, when set, is a
    # level that counts as well (或达到90%).
    target_points = models.DecimalField(_("by at least (points)"), max_digits=10, decimal_places=4, null=True,
                                        blank=True)
    target_level = models.CharField(_("judged for"), max_length=10, choices=TargetLevel.choices, blank=True,
                                    default="")
    source_row = models.PositiveIntegerField(_("row in the source file"), null=True, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("task item")
        verbose_name_plural = _("task items")
        ordering = ["ledger_id", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["ledger", "key"], name="item_unique_number_in_ledger",
                                    violation_error_message=_("The ledger already has an item of this number.")),
            models.CheckConstraint(
                condition=Q(deadline_kind__in=["continuous", "unknown"]) | Q(due_date__isnull=False),
                name="item_dated_kind_has_date",
                violation_error_message=_("A fixed deadline or a milestone needs its date."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.text[:40]}"

    @property
    def is_linked(self) -> bool:
        return bool(self.indicator_code and self.target_operator and self.target_level)

    @property
    def judged_by_alliance(self) -> bool:
        return self.is_linked and self.target_level == self.TargetLevel.ALLIANCE

    @property
    def deadline_corrected(self) -> bool:
        return self.deadline_corrected_at is not None

    @property
    def needs_deadline(self) -> bool:
        """The phrase could not be read and nobody has set the deadline yet."""
        return self.deadline_kind == DeadlineKind.UNKNOWN and not self.deadline_corrected
