"""Reads of the task roll-ups (``tasks.models.rollups``) for the users who see several whole
counties (a city, a province, a superuser): the dashboard and the ledger list read a few hundred
roll-up rows instead of every county's assignments and reports. A county's user, and any page
with a filter, reads the live rows (``tasks.selectors``), which are small for one county.

The figures are those of ``tasks.selectors`` over the same assignments (``tests/test_tasks_rollups``
compares the two); the counties read are first brought up to today (``rollups_ensure_fresh``)."""

from __future__ import annotations

from datetime import date

from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from alliances import scoping
from alliances.models import AllianceMembership, Region
from tasks import selectors
from tasks.models import CountyMonthRollup, LedgerRollup, UnitRollup
from tasks.models.rollups import MONTH_COUNTS, UNIT_COUNTS
from tasks.services.rollups import all_county_ids, rollups_ensure_fresh, trend_periods

COUNT_NAMES = [name for name in UNIT_COUNTS if name != "awaiting" and not name.startswith("late_")]


def rollup_counties(user) -> list[int] | None:
    """The counties whose roll-ups ``user``'s pages read: every county the user sees, when the user
    sees each whole and holds a grant above a county (a city, a province) or sees several; None
    when the user reads live rows (a county's or an institution's user)."""
    scope = scoping.scope_of(user)
    if scope.everything:
        return all_county_ids()
    if scope.view_alliances or scope.view_institutions or not scope.view_counties:
        return None
    if len(scope.view_counties) < 2 and not scope.granted_regions - scope.view_counties:
        return None
    return sorted(scope.view_counties)


def _sums(names) -> dict:
    return {name: Coalesce(Sum(name), 0) for name in names}


def dashboard_figures(county_ids: list[int], today: date) -> dict:
    """What the dashboard shows of ``county_ids`` as a whole: counts, by county, by unit (worst 20),
    by alliance (an institution's counts go to its alliance today), overdue by days late, the
    monthly trend and the reports awaiting review. Twelve queries over the roll-ups, each grouped
    in the database, when the roll-ups are fresh — whatever the data."""
    rollups_ensure_fresh(county_ids, today=today)
    units = UnitRollup.objects.filter(county_id__in=county_ids)
    totals = units.aggregate(**_sums(UNIT_COUNTS))
    by_county = {row["county_id"]: row for row in units.values("county_id").annotate(**_sums(COUNT_NAMES)).order_by()}
    regions = Region.objects.filter(pk__in=list(by_county)).order_by("code")
    by_unit = list(units.values("department_id", "institution_id", "alliance_id").annotate(**_sums(COUNT_NAMES))
                   .order_by("-red", "-yellow", "-total")[:20])
    own = units.filter(alliance__isnull=False).values("alliance_id").annotate(**_sums(COUNT_NAMES)).order_by()
    member_of = Subquery(AllianceMembership.objects.on(today).filter(institution_id=OuterRef("institution_id"))
                         .values("alliance_id")[:1])
    members = (units.filter(institution__isnull=False).annotate(member_of=member_of).values("member_of")
               .annotate(**_sums(COUNT_NAMES)).order_by())
    periods = trend_periods(today)
    months = {row["month"]: row for row in CountyMonthRollup.objects.filter(
        county_id__in=county_ids, month__in=[str(p) for p in periods])
        .values("month").annotate(**_sums(MONTH_COUNTS)).order_by()}
    trend = [{"period": period, "label": f"{period.start:%Y-%m}",
              **{name: months.get(str(period), {}).get(name, 0) for name in MONTH_COUNTS}} for period in periods]
    return {
        "counts": selectors.Counts(**{name: totals[name] for name in COUNT_NAMES}),
        "by_county": [{"county": region, **{k: by_county[region.pk][k] for k in COUNT_NAMES}} for region in regions],
        "by_unit": selectors.name_units(by_unit),
        "by_alliance": selectors.add_up_alliances(
            ((row["alliance_id"], row) for row in own),
            ((row["member_of"], row) for row in members), fields=COUNT_NAMES),
        "aging": [{"low": low, "high": high, "count": totals[f"late_{low}"]} for low, high in selectors.AGING_BUCKETS],
        "trend": trend,
        "awaiting": totals["awaiting"],
    }


def ledger_progress(county_ids: list[int], ledger_ids, today: date) -> dict[int, dict]:
    """Per ledger: assignments by status and light (as ``selectors.ledger_progress``). One query
    when the roll-ups are fresh."""
    rollups_ensure_fresh(county_ids, today=today)
    rows = (UnitRollup.objects.filter(ledger_id__in=list(ledger_ids)).values("ledger_id")
            .annotate(**_sums(COUNT_NAMES)).order_by())
    return {row["ledger_id"]: row for row in rows}


def ledger_items(ledger_ids) -> dict[int, int]:
    """Each ledger's active items. One query (the caller made the counties fresh)."""
    return dict(LedgerRollup.objects.filter(ledger_id__in=list(ledger_ids)).values_list("ledger_id", "items"))
