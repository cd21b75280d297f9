"""Roll-ups of the task ledgers for the pages of cities and provinces: per county, the counts of
its active assignments by ledger, role and unit, and per county and month the figures of the
monthly trend. They are kept by ``tasks.services.rollups`` on every write (under a lock on the
county) and checked against a recount every night; a county reads its live rows instead.

The foreign keys have no database constraint (``db_constraint=False``; Django still cascades the
deletes): the rows are derived data, and writing them then takes no key-share lock on the ledgers
and units that a concurrent writer of the county may hold locked."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from alliances.models import Alliance, Institution, Region
from tasks.models.ledgers import Department, Ledger

# The counts of ``UnitRollup`` besides its key, in the order ``tasks.selectors.count_fields`` gives them.
UNIT_COUNTS = ("total", "not_started", "on_track", "due_soon", "overdue", "done", "continuous", "red", "yellow",
               "blue", "awaiting", "late_1", "late_8", "late_31", "late_91")
MONTH_COUNTS = ("overdue", "done", "reports")


class UnitRollup(models.Model):
    """One county's active assignments of one ledger, role and unit: the total, by cached status and
    light, the reports awaiting review, and the overdue responsible ones by days late (1–7, 8–30,
    31–90, over 90) as of the county's ``CountyMonthRollup.as_of``."""

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE, related_name="+", db_constraint=False)
    ledger = models.ForeignKey(Ledger, verbose_name=_("ledger"), on_delete=models.CASCADE, related_name="+", db_constraint=False)
    role = models.CharField(_("role"), max_length=20)
    department = models.ForeignKey(Department, verbose_name=_("department"), null=True, on_delete=models.CASCADE,
                                   related_name="+", db_constraint=False)
    institution = models.ForeignKey(Institution, verbose_name=_("institution"), null=True, on_delete=models.CASCADE,
                                    related_name="+", db_constraint=False)
    alliance = models.ForeignKey(Alliance, verbose_name=_("alliance"), null=True, on_delete=models.CASCADE,
                                 related_name="+", db_constraint=False)
    total = models.PositiveIntegerField(default=0)
    not_started = models.PositiveIntegerField(default=0)
    on_track = models.PositiveIntegerField(default=0)
    due_soon = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    continuous = models.PositiveIntegerField(default=0)
    red = models.PositiveIntegerField(default=0)
    yellow = models.PositiveIntegerField(default=0)
    blue = models.PositiveIntegerField(default=0)
    awaiting = models.PositiveIntegerField(default=0)
    late_1 = models.PositiveIntegerField(default=0)
    late_8 = models.PositiveIntegerField(default=0)
    late_31 = models.PositiveIntegerField(default=0)
    late_91 = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("task roll-up by unit")
        verbose_name_plural = _("task roll-ups by unit")
        indexes = [models.Index(fields=["county", "ledger"], name="unit_rollup_county_ledger")]

    def __str__(self) -> str:
        return f"{self.county_id} · {self.ledger_id} · {self.role}"


class CountyMonthRollup(models.Model):
    """One county's monthly trend for one month: responsible assignments overdue at the month's end
    (or at ``as_of`` for the month under way), completed in it, and progress reports of it. All the
    county's rows are recomputed together as of ``as_of``; a row of an earlier day is stale."""

    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE, related_name="+", db_constraint=False)
    month = models.CharField(_("month"), max_length=7)
    as_of = models.DateField(_("as of"))
    overdue = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    reports = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("task roll-up by month")
        verbose_name_plural = _("task roll-ups by month")
        constraints = [models.UniqueConstraint(fields=["county", "month"], name="county_month_rollup_unique")]

    def __str__(self) -> str:
        return f"{self.county_id} · {self.month}"


class LedgerRollup(models.Model):
    """A ledger's active items (the ledger list of a city or province reads it)."""

    ledger = models.OneToOneField(Ledger, verbose_name=_("ledger"), on_delete=models.CASCADE, related_name="+", db_constraint=False)
    county = models.ForeignKey(Region, verbose_name=_("county"), on_delete=models.CASCADE, related_name="+", db_constraint=False)
    items = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("task roll-up by ledger")
        verbose_name_plural = _("task roll-ups by ledger")

    def __str__(self) -> str:
        return f"{self.ledger_id}: {self.items}"
