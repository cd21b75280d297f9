"""Unified finance, first part: the working-day calendar and the 医保 global budget of each alliance
with its quarterly prepayments and the year-end settlement rule (seed 001 医保支付方式改革:
总额付费、结余留用、合理超支分担; seed 003: prepaid "每季度前10个工作日内").

Money is Decimal in yuan with two places."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from alliances.models import Alliance, Region

MONEY = {"max_digits": 16, "decimal_places": 2}
RATE = {"max_digits": 6, "decimal_places": 2, "validators": [MinValueValidator(Decimal(0)),
                                                              MaxValueValidator(Decimal(100))]}


class CalendarDay(models.Model):
    """A day that breaks the Monday–Friday rule: a public holiday (放假) or a make-up working day on a
    weekend (调休上班). National rows have no county; a county may add or correct its own."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Public holiday")
        WORKDAY = "workday", _("Make-up working day")

    county = models.ForeignKey(Region, verbose_name=_("county"), null=True, blank=True, on_delete=models.CASCADE,
                               related_name="calendar_days", help_text=_("Empty: the national calendar."))
    day = models.DateField(_("day"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=40, blank=True, help_text=_("e.g. 国庆节"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("updated by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["day", "county_id"]
        constraints = [
            models.UniqueConstraint(fields=["day"], condition=Q(county__isnull=True), name="calendar_national_day"),
            models.UniqueConstraint(fields=["county", "day"], condition=Q(county__isnull=False),
                                    name="calendar_county_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.get_kind_display()} {self.name}"


class InsuranceBudget(models.Model):
    """The 医保局's global budget (医保总额) of an alliance for a year."""

    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), on_delete=models.PROTECT,
                                 related_name="insurance_budgets")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+",
                               editable=False)
    year = models.PositiveSmallIntegerField(_("year"))
    amount = models.DecimalField(_("global budget (yuan)"), **MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("updated by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("医保 global budget")
        verbose_name_plural = _("医保 global budgets")
        ordering = ["-year", "alliance_id"]
        constraints = [models.UniqueConstraint(fields=["alliance", "year"], name="insurance_budget_once_a_year")]

    def __str__(self) -> str:
        return f"{self.alliance} {self.year}"

    def save(self, *args, **kwargs):
        self.county_id = self.alliance.county_id
        super().save(*args, **kwargs)


class Prepayment(models.Model):
    """One quarter's prepayment of the global budget: planned amount, and when it arrived."""

    budget = models.ForeignKey(InsuranceBudget, verbose_name=_("global budget"), on_delete=models.CASCADE,
                               related_name="prepayments")
    quarter = models.PositiveSmallIntegerField(_("quarter"), validators=[MinValueValidator(1), MaxValueValidator(4)])
    amount = models.DecimalField(_("amount (yuan)"), **MONEY, validators=[MinValueValidator(Decimal(0))])
    received_on = models.DateField(_("received on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("prepayment")
        verbose_name_plural = _("prepayments")
        ordering = ["budget_id", "quarter"]
        constraints = [models.UniqueConstraint(fields=["budget", "quarter"], name="prepayment_once_a_quarter")]

    def __str__(self) -> str:
        return f"{self.budget} Q{self.quarter}"


class SettlementRule(models.Model):
    """How a county settles its alliances' global budgets at the year's end: the share of a surplus
    the alliance keeps (结余留用), and for an overspend the share the fund bears in each band of the
    overspend as a percentage of the budget (合理超支分担); beyond the last band the alliance bears it."""

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE,
                               related_name="settlement_rules")
    year = models.PositiveSmallIntegerField(_("year"))
    surplus_retained = models.DecimalField(_("surplus kept by the alliance (%)"), **RATE, default=Decimal(100))
    bands = models.JSONField(
        _("overspend bands"), default=list,
        help_text=_('[[up to % of the budget, % the fund bears], …], e.g. [["5", "70"], ["10", "50"]]'))
    warning_points = models.DecimalField(
        _("run-rate warning (percentage points)"), max_digits=5, decimal_places=1, default=Decimal(10),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text=_("Warn when spending runs ahead of the elapsed share of the year by more than this."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("settlement rule")
        verbose_name_plural = _("settlement rules")
        constraints = [models.UniqueConstraint(fields=["county", "year"], name="settlement_rule_once_a_year")]

    def __str__(self) -> str:
        return f"{self.county} {self.year}"


class AmountChange(models.Model):
    """Who changed which amount or date of the finance records, when, from what to what: the audit of
    budgets, prepayments and settlement rules (filed values have theirs in the filing pipeline)."""

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField(_("year"))
    record = models.CharField(_("record"), max_length=120, help_text=_("e.g. 第一医共体 2025 总额预算"))
    field = models.CharField(_("field"), max_length=60)
    old = models.CharField(_("old value"), max_length=200, blank=True)
    new = models.CharField(_("new value"), max_length=200, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("changed by"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("finance change")
        verbose_name_plural = _("finance changes")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["county", "year", "-at"], name="finance_change_recent")]

    def __str__(self) -> str:
        return f"{self.record} {self.field}: {self.old} → {self.new}"


class Budget(models.Model):
    """An alliance's budget (统一预算) for a year, by line, as a total and each member's sub-budget.
    Versions: the original, then adjusted ones; each is drafted, then approved by the bureau."""

    class Kind(models.TextChoices):
        ORIGINAL = "original", _("Original")
        ADJUSTED = "adjusted", _("Adjusted")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted for approval")
        APPROVED = "approved", _("Approved budget")

    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), on_delete=models.PROTECT, related_name="budgets")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+",
                               editable=False)
    year = models.PositiveSmallIntegerField(_("year"))
    number = models.PositiveSmallIntegerField(_("version"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.ORIGINAL)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    note = models.CharField(_("reason for the adjustment"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("submitted by"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    return_reason = models.CharField(_("reason for returning"), max_length=500, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("approved by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        ordering = ["-year", "alliance_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["alliance", "year", "number"], name="budget_version_unique")]

    def __str__(self) -> str:
        return f"{self.alliance} {self.year} v{self.number}"

    def save(self, *args, **kwargs):
        self.county_id = self.alliance.county_id
        super().save(*args, **kwargs)


class BudgetAmount(models.Model):
    """One line of a budget: the alliance's total (no institution) or a member's sub-budget."""

    budget = models.ForeignKey(Budget, verbose_name=_("budget"), on_delete=models.CASCADE, related_name="amounts")
    institution = models.ForeignKey("alliances.Institution", verbose_name=_("member"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    line = models.CharField(_("line"), max_length=30)
    amount = models.DecimalField(_("amount (yuan)"), **MONEY, validators=[MinValueValidator(Decimal(0))])

    class Meta:
        verbose_name = _("budget amount")
        verbose_name_plural = _("budget amounts")
        constraints = [
            models.UniqueConstraint(fields=["budget", "line"], condition=Q(institution__isnull=True),
                                    name="budget_total_line_once"),
            models.UniqueConstraint(fields=["budget", "institution", "line"], condition=Q(institution__isnull=False),
                                    name="budget_member_line_once"),
        ]

    def __str__(self) -> str:
        return f"{self.budget} {self.line} {self.amount}"


class ProcurementAccount(models.Model):
    """The alliance's single purchasing account (统一采购账户)."""

    alliance = models.OneToOneField(Alliance, verbose_name=_("alliance"), on_delete=models.CASCADE,
                                    related_name="procurement_account")
    name = models.CharField(_("account name"), max_length=100)
    bank = models.CharField(_("bank"), max_length=100, blank=True)
    number = models.CharField(_("account number"), max_length=40, blank=True)
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("procurement account")
        verbose_name_plural = _("procurement accounts")

    def __str__(self) -> str:
        return self.name

    @property
    def masked_number(self) -> str:
        """Only the last four digits on pages and exports."""
        digits = self.number.replace(" ", "")
        return f"{'*' * max(0, len(digits) - 4)}{digits[-4:]}" if digits else ""


class Purchase(models.Model):
    """What a member bought through the alliance's account in a month, by category (yuan)."""

    class Category(models.TextChoices):
        DRUGS = "drugs", _("Drugs")
        CONSUMABLES = "consumables", _("Medical consumables")
        EQUIPMENT = "equipment", _("Equipment")
        OTHER = "other", _("Other goods and services")

    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), on_delete=models.PROTECT, related_name="+")
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.PROTECT, related_name="+",
                               editable=False)
    institution = models.ForeignKey("alliances.Institution", verbose_name=_("member"), on_delete=models.PROTECT,
                                    related_name="+")
    month = models.CharField(_("month"), max_length=7)
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    amount = models.DecimalField(_("amount (yuan)"), **MONEY, validators=[MinValueValidator(Decimal(0))])

    class Meta:
        verbose_name = _("purchase total")
        verbose_name_plural = _("purchase totals")
        constraints = [models.UniqueConstraint(fields=["institution", "month", "category"],
                                               name="purchase_once_a_month")]
        indexes = [models.Index(fields=["alliance", "month"], name="purchase_alliance_month")]

    def __str__(self) -> str:
        return f"{self.institution} {self.month} {self.category}"

    def save(self, *args, **kwargs):
        self.county_id = self.alliance.county_id
        super().save(*args, **kwargs)
