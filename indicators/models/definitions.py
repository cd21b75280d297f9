"""Indicators (指标) computed from filed figures, validation rules over a filing, and evaluation
schemes (评价方案) with their runs and scores."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from alliances.models import Alliance, Institution, Region
from indicators.models.elements import PERIOD_KIND_CHOICES, ReportForm


class Indicator(models.Model):
    """numerator / denominator × factor, both formulas over data elements (see ``indicators.formula``)."""

    class Aggregation(models.TextChoices):
        POOLED = "pooled", _("Pooled (Σ numerator / Σ denominator)")
        MEAN = "mean", _("Mean of unit values")

    class TargetKind(models.TextChoices):
        NONE = "none", _("No target")
        THRESHOLD = "threshold", _("Threshold")
        DIRECTION = "direction", _("Direction against the same period last year")
        ALL = "all", _("Threshold and direction")
        ANY = "any", _("Threshold or direction")

    class Operator(models.TextChoices):
        GE = "ge", "≥"
        LE = "le", "≤"
        GT = "gt", ">"  # strictly above (e.g. 下转增幅高于上转增幅: the gap > 0)

    class Direction(models.TextChoices):
        UP = "up", _("Rise")
        DOWN = "down", _("Fall")

    county = models.ForeignKey(Region, verbose_name=_("county"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="indicators", limit_choices_to={"level": Region.Level.COUNTY},
                               help_text=_("Empty: the shared catalogue."))
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    category = models.CharField(_("category"), max_length=60, blank=True)
    source = models.CharField(_("source"), max_length=120, blank=True,
                              help_text=_("Where the definition comes from, e.g. 附件4（24）; 附件6 第19项"))
    numerator = models.TextField(_("numerator"))
    denominator = models.TextField(_("denominator"), blank=True, help_text=_("Empty: the numerator alone."))
    factor = models.DecimalField(_("factor"), max_digits=10, decimal_places=2, default=1,
                                 help_text=_("100 for %, 1000 for ‰ or per 1,000, 10000 for per 10,000."))
    unit_label = models.CharField(_("unit"), max_length=20, blank=True)
    decimals = models.PositiveSmallIntegerField(_("decimals"), default=2)
    aggregation = models.CharField(_("aggregation"), max_length=10, choices=Aggregation.choices,
                                   default=Aggregation.POOLED)
    definition = models.TextField(_("definition"), blank=True)
    derived_definition = models.BooleanField(
        _("our definition"), default=False,
        help_text=_("The seed gives no formula; the formula is ours and the definition says why."))
    target_kind = models.CharField(_("target"), max_length=10, choices=TargetKind.choices,
                                   default=TargetKind.NONE)
    target_operator = models.CharField(_("operator"), max_length=2, choices=Operator.choices, blank=True)
    target_value = models.DecimalField(_("target value"), max_digits=12, decimal_places=4, null=True, blank=True)
    direction = models.CharField(_("direction"), max_length=4, choices=Direction.choices, blank=True)
    direction_points = models.DecimalField(
        _("by at least"), max_digits=8, decimal_places=4, default=0,
        help_text=_("Points (in the indicator's unit) the value must rise or fall by."))
    levels = models.JSONField(
        _("levels"), default=list, blank=True,
        help_text=_("Where the indicator means something: county, alliance, institution (empty: all three)."))
    is_key = models.BooleanField(_("key indicator"), default=False,
                                 help_text=_("Shown in the monthly progress table."))
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")
        ordering = ["order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=models.Q(county__isnull=True),
                                    name="indicator_shared_code_unique"),
            models.UniqueConstraint(fields=["county", "code"], condition=models.Q(county__isnull=False),
                                    name="indicator_county_code_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_threshold(self) -> bool:
        return self.target_kind in (self.TargetKind.THRESHOLD, self.TargetKind.ALL, self.TargetKind.ANY)

    @property
    def has_direction(self) -> bool:
        return self.target_kind in (self.TargetKind.DIRECTION, self.TargetKind.ALL, self.TargetKind.ANY)

    @property
    def threshold_symbol(self) -> str:
        """≥, ≤ or > (≥ when the operator is unset, as the engine reads it)."""
        return {self.Operator.LE: "≤", self.Operator.GT: ">"}.get(self.target_operator, "≥")

    def threshold_met(self, value) -> bool:
        """Whether ``value`` meets the threshold (``target_value`` set)."""
        if self.target_operator == self.Operator.LE:
            return value <= self.target_value
        if self.target_operator == self.Operator.GT:
            return value > self.target_value
        return value >= self.target_value

    def applies_at(self, level: str) -> bool:
        return not self.levels or level in self.levels


class ValidationRule(models.Model):
    """left operator right over the elements of one filing, e.g. 实际占用总床日数 ≤ 实际开放总床日数."""

    class Operator(models.TextChoices):
        LE = "le", "≤"
        LT = "lt", "<"
        EQ = "eq", "="
        NE = "ne", "≠"
        GE = "ge", "≥"
        GT = "gt", ">"

    class Severity(models.TextChoices):
        ERROR = "error", _("Error (blocks submission)")
        WARNING = "warning", _("Warning (needs a comment)")

    county = models.ForeignKey(Region, verbose_name=_("county"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="validation_rules", limit_choices_to={"level": Region.Level.COUNTY},
                               help_text=_("Empty: applies in every county."))
    code = models.CharField(_("code"), max_length=40)
    left = models.TextField(_("left side"))
    operator = models.CharField(_("operator"), max_length=2, choices=Operator.choices)
    right = models.TextField(_("right side"))
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.ERROR)
    message = models.CharField(_("message"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("validation rule")
        verbose_name_plural = _("validation rules")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=models.Q(county__isnull=True),
                                    name="validationrule_shared_code_unique"),
            models.UniqueConstraint(fields=["county", "code"], condition=models.Q(county__isnull=False),
                                    name="validationrule_county_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.left} {self.get_operator_display()} {self.right}"


class EvaluationScheme(models.Model):
    """A set of indicators with weights and a scoring rule (评价方案)."""

    county = models.ForeignKey(Region, verbose_name=_("county"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="evaluation_schemes", help_text=_("Empty: the shared scheme."))
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    period_kind = models.CharField(_("period type"), max_length=10, choices=PERIOD_KIND_CHOICES, default="quarter")
    source = models.CharField(_("source"), max_length=120, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("evaluation scheme")
        verbose_name_plural = _("evaluation schemes")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=models.Q(county__isnull=True),
                                    name="scheme_shared_code_unique"),
            models.UniqueConstraint(fields=["county", "code"], condition=models.Q(county__isnull=False),
                                    name="scheme_county_code_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class SchemeItem(models.Model):
    class Rule(models.TextChoices):
        MET = "met", _("Full marks when the target is met")
        PROPORTIONAL = "proportional", _("Proportional to the target")
        RANK = "rank", _("By rank")

    scheme = models.ForeignKey(EvaluationScheme, verbose_name=_("scheme"), on_delete=models.CASCADE,
                               related_name="items")
    indicator = models.ForeignKey(Indicator, verbose_name=_("indicator"), on_delete=models.PROTECT,
                                  related_name="+")
    weight = models.DecimalField(_("weight"), max_digits=6, decimal_places=2)
    rule = models.CharField(_("scoring rule"), max_length=12, choices=Rule.choices, default=Rule.MET)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("scheme item")
        verbose_name_plural = _("scheme items")
        ordering = ["scheme", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["scheme", "indicator"], name="schemeitem_unique")]

    def __str__(self) -> str:
        return f"{self.scheme} · {self.indicator}"


class EvaluationRun(models.Model):
    """One evaluation of a county for a period, kept as it was computed."""

    scheme = models.ForeignKey(EvaluationScheme, verbose_name=_("scheme"), on_delete=models.PROTECT,
                               related_name="runs")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT,
                               related_name="evaluation_runs")
    period = models.CharField(_("period"), max_length=7)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("evaluation run")
        verbose_name_plural = _("evaluation runs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.scheme} · {self.period}"


class EvaluationScore(models.Model):
    """A unit's score on one item (``item`` set) or in total (``item`` empty)."""

    run = models.ForeignKey(EvaluationRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="scores")
    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey(Institution, verbose_name=_("institution"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(SchemeItem, verbose_name=_("item"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    value = models.DecimalField(_("value"), max_digits=20, decimal_places=6, null=True, blank=True)
    baseline = models.DecimalField(_("same period last year"), max_digits=20, decimal_places=6, null=True,
                                   blank=True)
    met = models.BooleanField(_("met"), null=True)
    score = models.DecimalField(_("score"), max_digits=8, decimal_places=2)
    rank = models.PositiveSmallIntegerField(_("rank"), null=True, blank=True)

    class Meta:
        verbose_name = _("score")
        verbose_name_plural = _("scores")
        ordering = ["run", "rank", "pk"]

    def __str__(self) -> str:
        return f"{self.run_id}: {self.score}"


__all__ = ["EvaluationRun", "EvaluationScheme", "EvaluationScore", "Indicator", "ReportForm", "SchemeItem",
           "ValidationRule"]
