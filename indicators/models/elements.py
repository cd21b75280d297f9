"""What is filed: data elements (数据项) and report forms (报表) with their elements."""

from __future__ import annotations

from datetime import date

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from alliances.models import Institution, Region
from core.periods import Period, PeriodKind

PERIOD_KIND_CHOICES = [
    (PeriodKind.MONTH.value, _("Month")),
    (PeriodKind.QUARTER.value, _("Quarter")),
    (PeriodKind.HALF_YEAR.value, _("Half-year")),
    (PeriodKind.YEAR.value, _("Year")),
]


class DataElement(models.Model):
    """One figure an institution (or the county) files, e.g. 门急诊人次 (人次) or 在岗职工数 (人).

    ``county`` empty = the shared catalogue every county uses (so that formulas and roll-ups mean the
    same everywhere); a county may add its own elements.
    """

    class ValueType(models.TextChoices):
        INTEGER = "integer", _("Integer")
        DECIMAL = "decimal", _("Decimal")
        MONEY = "money", _("Amount (yuan)")

    class Aggregation(models.TextChoices):
        # Over time (months → quarter → year) and over units (institutions → alliance → county).
        SUM = "sum", _("Sum (flows such as visits)")
        LAST = "last", _("Last value (stocks such as staff or beds)")
        AVERAGE = "average", _("Average")

    class Outlier(models.TextChoices):
        NONE = "none", _("No check")
        ZSCORE = "zscore", _("Z-score against the institution's history")
        RANGE = "range", _("Minimum–maximum of the institution's history")

    county = models.ForeignKey(Region, verbose_name=_("county"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="data_elements", limit_choices_to={"level": Region.Level.COUNTY},
                               help_text=_("Empty: the shared catalogue."))
    code = models.CharField(_("code"), max_length=40,
                            help_text=_("Letters, digits and underscores, starting with a letter; used in formulas."))
    name = models.CharField(_("name"), max_length=100)
    unit = models.CharField(_("unit"), max_length=20, blank=True, help_text=_("e.g. 人次, 元, 床日, 人"))
    value_type = models.CharField(_("value type"), max_length=10, choices=ValueType.choices,
                                  default=ValueType.INTEGER)
    aggregation = models.CharField(_("aggregation"), max_length=10, choices=Aggregation.choices,
                                   default=Aggregation.SUM)
    description = models.TextField(_("description"), blank=True)
    min_value = models.DecimalField(_("minimum"), max_digits=20, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(_("maximum"), max_digits=20, decimal_places=4, null=True, blank=True)
    outlier = models.CharField(_("outlier check"), max_length=10, choices=Outlier.choices, default=Outlier.NONE)
    outlier_threshold = models.DecimalField(
        _("outlier threshold"), max_digits=6, decimal_places=2, default=3,
        help_text=_("Z-score: how many standard deviations; range: how far beyond min–max, as a fraction."))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("data element")
        verbose_name_plural = _("data elements")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=models.Q(county__isnull=True),
                                    name="dataelement_shared_code_unique"),
            models.UniqueConstraint(fields=["county", "code"], condition=models.Q(county__isnull=False),
                                    name="dataelement_county_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def decimal_places(self) -> int:
        return {"integer": 0, "money": 2}.get(self.value_type, 4)


class ReportForm(models.Model):
    """A report form (报表) of a county: which elements, how often, who files, when due."""

    class FilerLevel(models.TextChoices):
        INSTITUTION = "institution", _("Institutions")
        COUNTY = "county", _("The county (bureau)")

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT,
                               related_name="report_forms", limit_choices_to={"level": Region.Level.COUNTY})
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    period_kind = models.CharField(_("period type"), max_length=10, choices=PERIOD_KIND_CHOICES,
                                   default=PeriodKind.MONTH.value)
    filer_level = models.CharField(_("filed by"), max_length=12, choices=FilerLevel.choices,
                                   default=FilerLevel.INSTITUTION)
    institution_kinds = models.JSONField(
        _("institution kinds"), default=list, blank=True,
        help_text=_("Institutions of these kinds file the form (empty: use the list below)."))
    institutions = models.ManyToManyField(Institution, verbose_name=_("institutions"), blank=True,
                                          related_name="report_forms",
                                          help_text=_("Institutions named one by one, in addition to the kinds."))
    due_day = models.PositiveSmallIntegerField(
        _("due day"), default=5, validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text=_("Day of the first month after the period by which the form is due."))
    lock_day = models.PositiveSmallIntegerField(
        _("lock day"), default=20, validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text=_("Day of the first month after the period after which filers can no longer change it."))
    first_period = models.CharField(_("first period"), max_length=7, blank=True,
                                    help_text=_("The first period filed, e.g. 2024-01; empty: no limit."))
    elements = models.ManyToManyField(DataElement, through="FormElement", verbose_name=_("data elements"),
                                      related_name="forms")
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Bumped whenever one of the form's rows or their data elements changes (indicators/signals.py):
    # the key of the per-process cache of the form's rows on the save path.
    rows_version = models.PositiveIntegerField(_("rows version"), default=0, editable=False)

    class Meta:
        verbose_name = _("report form")
        verbose_name_plural = _("report forms")
        ordering = ["county", "code"]
        constraints = [
            models.UniqueConstraint(fields=["county", "code"], name="reportform_county_code_unique"),
            models.CheckConstraint(condition=models.Q(lock_day__gte=models.F("due_day")),
                                   name="reportform_lock_after_due"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def kind(self) -> PeriodKind:
        return PeriodKind(self.period_kind)

    def due_date(self, period: Period) -> date:
        following = period.next.start
        return following.replace(day=self.due_day)

    def lock_date(self, period: Period) -> date:
        following = period.next.start
        return following.replace(day=self.lock_day)

    def files_from(self) -> Period | None:
        return Period.parse(self.first_period) if self.first_period else None


class FormElement(models.Model):
    form = models.ForeignKey(ReportForm, verbose_name=_("report form"), on_delete=models.CASCADE,
                             related_name="form_elements")
    element = models.ForeignKey(DataElement, verbose_name=_("data element"), on_delete=models.PROTECT,
                                related_name="form_elements")
    section = models.CharField(_("section"), max_length=60, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    required = models.BooleanField(_("required"), default=True)
    institution_kinds = models.JSONField(
        _("institution kinds"), default=list, blank=True,
        help_text=_("Only institutions of these kinds fill this row (empty: every filer)."))

    class Meta:
        verbose_name = _("form element")
        verbose_name_plural = _("form elements")
        ordering = ["form", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["form", "element"], name="formelement_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.form} · {self.element}"

    def applies_to(self, institution_kind: str | None) -> bool:
        return not self.institution_kinds or institution_kind in self.institution_kinds
