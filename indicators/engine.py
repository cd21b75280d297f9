"""The indicator engine: set-based, a few grouped queries whatever the number of units.

1. Parse every formula once and gather its references (data element × unit filter × period offset).
2. For each period the references need (the period itself, the previous period, the same period
   last year — for offsets and for direction targets), read every needed element for every unit
   in ONE grouped query: per institution, with the alliance and role it had on the day the value
   is for (membership in force then, so reorganisations do not rewrite history).
3. Roll the rows up into term values per unit (county, alliance or institution), then do the
   arithmetic in Python with Decimals.

Over time an element follows its aggregation: flows (sum) add the months of a quarter; stocks
(last) take the latest period within it, or the coarser period containing it (a yearly
population for a quarter); averages take the mean of the periods. Over units sums and stocks add
up, averages take the mean.
"""

from __future__ import annotations

import gc
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, DivisionByZero, InvalidOperation
from functools import lru_cache
from typing import NamedTuple

from django.db import connection
from django.db.models import F, Q

from alliances.models import Alliance, AllianceMembership, Institution
from core.periods import Period, PeriodKind
from indicators.formula import BinOp, Formula, Neg, Node, Num, Ref, parse
from indicators.formula import _evaluate as _evaluate_formula
from indicators.models import DataElement, DataValue, Indicator

LEVELS = ("county", "alliance", "institution")

PRIMARY_KINDS = frozenset({
    Institution.Kind.CENTRAL_HEALTH_CENTRE, Institution.Kind.TOWNSHIP_HEALTH_CENTRE,
    Institution.Kind.COMMUNITY_HEALTH_CENTRE, Institution.Kind.VILLAGE_CLINIC,
})
TOWNSHIP_KINDS = frozenset({Institution.Kind.CENTRAL_HEALTH_CENTRE, Institution.Kind.TOWNSHIP_HEALTH_CENTRE})
HOSPITAL_KINDS = frozenset(Institution.LEAD_KINDS)

_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul}

_KIND_ORDER = [PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF_YEAR, PeriodKind.YEAR]


@lru_cache(maxsize=4096)
def parsed(text: str) -> Formula | None:
    return parse(text) if text and text.strip() else None


@dataclass(slots=True)
class Result:
    """An indicator's value for one unit and period, with what is behind it."""

    indicator: Indicator
    level: str
    unit_id: int
    period: Period
    value: Decimal | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    baseline: Decimal | None = None  # the value for the same period last year
    met_threshold: bool | None = None
    met_direction: bool | None = None
    units_averaged: int = 0  # for indicators that take the mean of unit values

    @property
    def met(self) -> bool | None:
        kind = self.indicator.target_kind
        if kind == Indicator.TargetKind.THRESHOLD:
            return self.met_threshold
        if kind == Indicator.TargetKind.DIRECTION:
            return self.met_direction
        if kind == Indicator.TargetKind.ALL:
            if self.met_threshold is False or self.met_direction is False:
                return False
            return None if None in (self.met_threshold, self.met_direction) else True
        if kind == Indicator.TargetKind.ANY:
            if self.met_threshold or self.met_direction:
                return True
            return None if None in (self.met_threshold, self.met_direction) else False
        return None

    @property
    def change(self) -> Decimal | None:
        if self.value is None or self.baseline is None:
            return None
        return self.value - self.baseline


# A row read is the database's row as it comes: (element id, institution id or None for a county's
# own figure, county id, institution kind, alliance id and role on the day the value is for, total,
# number of values, period end or None). Plain tuples, kept as read: the full evaluation of a
# province handles hundreds of thousands of them.
_Row = tuple
_ELEMENT, _INSTITUTION, _COUNTY, _KIND, _ALLIANCE, _ROLE, _TOTAL, _COUNT, _END = range(9)


def _period_keys(period: Period, with_containing: bool) -> list[str]:
    """Keys of every period within ``period`` (all finer kinds) and, for stocks, of the coarser
    periods that contain it."""
    keys = []
    position = _KIND_ORDER.index(period.kind)
    for kind in _KIND_ORDER[: position + 1]:
        keys.extend(str(p) for p in period.subperiods(kind))
    if with_containing:
        keys.extend(str(period.containing(kind)) for kind in _KIND_ORDER[position + 1:])
    return keys


def _placeholders(values) -> str:
    return ", ".join(["%s"] * len(values))


class Organisation:
    """The institutions of some counties with every alliance membership they ever had (a village
    clinic: its centre's), read in one query and joined to the rows in Python: the grouped read of
    values then stays as plain as the floor's."""

    def __init__(self, counties: Iterable[int]) -> None:
        counties = sorted(set(counties))
        self.kind: dict[int, str] = {}
        self.county: dict[int, int] = {}
        # institution id -> [(valid from, valid to or None, alliance id, role)]
        self.spans: dict[int, list[tuple[date, date | None, int, str]]] = defaultdict(list)
        if not counties:
            return
        institution_table = Institution._meta.db_table
        membership_table = AllianceMembership._meta.db_table
        sql = f"""
            SELECT i.id, i.county_id, i.kind, m.alliance_id, m.role, m.valid_from, m.valid_to
            FROM {institution_table} i
            LEFT JOIN {membership_table} m
              ON m.institution_id = (CASE WHEN i.kind = %s THEN i.parent_id ELSE i.id END)
            WHERE i.county_id IN ({_placeholders(counties)})
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, [Institution.Kind.VILLAGE_CLINIC.value, *counties])
            found = cursor.fetchall()
        for pk, county_id, kind, alliance_id, role, valid_from, valid_to in found:
            self.kind[pk] = kind
            self.county[pk] = county_id
            if alliance_id is not None:
                self.spans[pk].append((_as_date(valid_from), _as_date(valid_to) if valid_to else None,
                                       alliance_id, role))

    def units(self, ids: Iterable[int] | None = None) -> Units:
        """The institutions as units (not village clinics), in id order; ``ids`` narrows them."""
        village = Institution.Kind.VILLAGE_CLINIC
        chosen = sorted(pk for pk, kind in self.kind.items() if kind != village)
        if ids is not None:
            wanted = set(ids)
            chosen = [pk for pk in chosen if pk in wanted]
        return Units("institution", chosen, {pk: self.county[pk] for pk in chosen})

    def during(self, period: Period) -> tuple[dict[int, tuple], set[int]]:
        """``({institution id: (kind, alliance id, role)}, moving)`` for ``period``: the alliance
        and role of an institution that had one and the same membership over the whole period
        (none: no alliance), and the institutions whose alliance or role changed within it
        (moved, joined or left), which are looked up day by day (``on``)."""
        start, end = period.start, period.end
        fixed: dict[int, tuple] = {}
        moving: set[int] = set()
        for pk, kind in self.kind.items():
            spans = [span for span in self.spans.get(pk, ()) if span[0] <= end and (span[1] is None or span[1] >= start)]
            if not spans:
                fixed[pk] = (kind, None, None)
            elif len(spans) == 1 and spans[0][0] <= start and (spans[0][1] is None or spans[0][1] >= end):
                fixed[pk] = (kind, spans[0][2], spans[0][3])
            else:
                moving.add(pk)
        return fixed, moving

    def on(self, institution_id: int, day: date) -> tuple:
        """``(kind, alliance id, role)`` of an institution on ``day``."""
        for valid_from, valid_to, alliance_id, role in self.spans.get(institution_id, ()):
            if valid_from <= day and (valid_to is None or valid_to >= day):
                return self.kind.get(institution_id), alliance_id, role
        return self.kind.get(institution_id), None, None


def fetch_rows(period: Period, elements: dict[int, str], counties: Iterable[int],
               organisation: Organisation | None = None) -> dict[int, list[_Row]]:
    """``{element id: rows}`` for ``period``: one grouped query over every element and unit.

    The values are summed per element × filer, as a plain grouped read does, and the sums are
    joined in Python to the institution's kind and to the membership in force on the day the
    value is for (``Organisation``). A filer whose alliance or role is not one and the same over
    the whole period (it moved, joined or left during it; for a village clinic, its centre) is
    summed per period end instead, so that each of its values meets the membership of its own day;
    so are stocks, whose latest period wins."""
    counties = sorted(set(counties))
    if not elements or not counties:
        return {}
    if organisation is None:
        organisation = Organisation(counties)
    fixed, moving = organisation.during(period)
    stock_ids = sorted(pk for pk, aggregation in elements.items() if aggregation == DataElement.Aggregation.LAST)
    keys = _period_keys(period, with_containing=bool(stock_ids))
    moving_ids = sorted(moving)
    split = []
    if stock_ids:
        split.append(f"v.element_id IN ({_placeholders(stock_ids)})")
    if moving_ids:
        split.append(f"v.institution_id IN ({_placeholders(moving_ids)})")
    key_end = f"CASE WHEN {' OR '.join(split)} THEN v.period_end END" if split else "NULL"
    element_ids = sorted(elements)
    sql = f"""
        SELECT v.element_id, v.institution_id, v.county_id, {key_end} AS key_end,
               SUM(v.value) AS total, COUNT(v.value) AS n
        FROM {DataValue._meta.db_table} v
        WHERE v.period IN ({_placeholders(keys)})
          AND v.element_id IN ({_placeholders(element_ids)})
          AND v.county_id IN ({_placeholders(counties)})
          AND v.counted AND v.value IS NOT NULL
        GROUP BY v.element_id, v.institution_id, v.county_id, key_end
    """
    params = [*stock_ids, *moving_ids, *keys, *element_ids, *counties]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        raw = cursor.fetchall()
    end = period.end
    sqlite = connection.vendor == "sqlite"
    county_row = (None, None, None)
    # Rows summed over the whole period go straight to their element (most of them, in one pass);
    # stocks, rows per period end and averages are reduced afterwards.
    rows: dict[int, list[_Row]] = defaultdict(list)
    direct = {pk: rows[pk].append for pk, aggregation in elements.items()
              if aggregation != DataElement.Aggregation.AVERAGE}
    later = []
    on = organisation.on
    for element_id, institution_id, county_id, period_end, total, count in raw:
        if sqlite:
            # SQLite gives numbers for sums and text for dates; PostgreSQL Decimals and dates.
            total = Decimal(str(total))
            period_end = _as_date(period_end) if period_end is not None else None
        if institution_id is None:
            member = county_row
        elif period_end is not None and institution_id in moving:
            member = on(institution_id, period_end if period_end < end else end)
        else:
            member = fixed.get(institution_id)
            if member is None:  # an institution of another county: its kind only, no alliance
                member = (organisation.kind.get(institution_id), None, None)
        row = (element_id, institution_id, county_id, *member, total, count, period_end)
        if period_end is None and element_id in direct:
            direct[element_id](row)
        else:
            later.append(row)
    return _reduce(later, elements, end, rows)


def _as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _reduce(raw, elements: dict[int, str], end: date,
            rows: dict[int, list[_Row]] | None = None) -> dict[int, list[_Row]]:
    """``rows`` (``{element id: rows}``) with ``raw`` added: averages divided by their count,
    stocks at their best period end, rows read per period end summed per alliance and role."""
    rows = defaultdict(list) if rows is None else rows
    stocks = {pk for pk, aggregation in elements.items() if aggregation == DataElement.Aggregation.LAST}
    averages = {pk for pk, aggregation in elements.items() if aggregation == DataElement.Aggregation.AVERAGE}
    # Stocks: per (element, filer) the rows of the best period end: the latest within the period,
    # else (only coarser periods containing it were filed) the shortest of those.
    stock_best: dict[tuple[int, int | None, int], list] = {}
    # Flows of filers read per period (they moved): summed per alliance and role.
    split: dict[tuple, list] = {}
    append = {element_id: rows[element_id].append for element_id in elements}
    for row in raw:
        element_id = row[_ELEMENT]
        period_end = row[_END]
        if period_end is None:
            if element_id in averages:
                count = row[_COUNT]
                row = (*row[:_TOTAL], row[_TOTAL] / count, 1, None) if count else row
            append[element_id](row)
        elif element_id in stocks:
            slot = (element_id, row[_INSTITUTION], row[_COUNTY])
            best = stock_best.get(slot)
            if best is None:
                stock_best[slot] = [period_end, row]
                continue
            current = best[0]
            if period_end == current:
                best.append(row)
            elif (current > end or period_end > current) if period_end <= end else (current > end
                                                                                       and period_end < current):
                stock_best[slot] = [period_end, row]
        else:
            slot = row[:_TOTAL]
            merged = split.get(slot)
            if merged is None:
                split[slot] = [row[_TOTAL], row[_COUNT]]
            else:
                merged[0] += row[_TOTAL]
                merged[1] += row[_COUNT]
    for slot, (total, count) in split.items():
        if slot[_ELEMENT] in averages and count:
            total, count = total / count, 1
        rows[slot[_ELEMENT]].append((*slot, total, count, None))
    for (element_id, _institution_id, _county_id), best in stock_best.items():
        rows[element_id].extend(best[1:])
    return rows


def _filtered(rows: list[_Row], unit_filter: str) -> list[_Row]:
    """The rows a unit filter keeps (see ``indicators.formula``)."""
    if unit_filter == "county":
        return [row for row in rows if row[_INSTITUTION] is None]
    if unit_filter == "all":
        return [row for row in rows if row[_INSTITUTION] is not None]
    if unit_filter in ("lead", "member"):
        role = AllianceMembership.Role.LEAD if unit_filter == "lead" else AllianceMembership.Role.MEMBER
        return [row for row in rows if row[_INSTITUTION] is not None and row[_ROLE] == role]
    kinds = {"primary": PRIMARY_KINDS, "township": TOWNSHIP_KINDS, "hospital": HOSPITAL_KINDS}.get(unit_filter)
    if kinds is None:
        return []
    return [row for row in rows if row[_INSTITUTION] is not None and row[_KIND] in kinds]


@dataclass
class Units:
    """The units values are computed for, and how county-level figures reach them."""

    level: str
    ids: list[int]
    county_of: dict[int, int]  # unit id -> county id

    def by_county(self) -> dict[int, list[int]]:
        grouped: dict[int, list[int]] = defaultdict(list)
        for unit_id, county_id in self.county_of.items():
            grouped[county_id].append(unit_id)
        return grouped


def units_for(level: str, counties: Iterable[int], ids: Iterable[int] | None = None) -> Units:
    """Every county, alliance or institution (not village clinics) of ``counties``; ``ids``
    narrows it. One query (none for counties)."""
    counties = set(counties)
    if level == "county":
        chosen = sorted(counties if ids is None else counties & set(ids))
        return Units(level, chosen, {pk: pk for pk in chosen})
    if level == "alliance":
        qs = Alliance.objects.filter(county_id__in=counties)
    else:
        qs = Institution.objects.filter(county_id__in=counties).exclude(kind=Institution.Kind.VILLAGE_CLINIC)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    pairs = list(qs.order_by("pk").values_list("pk", "county_id"))
    return Units(level, [pk for pk, _c in pairs], dict(pairs))


def _term_values(rows: list[_Row], unit_filter: str, aggregation: str, units: Units) -> dict[int, Decimal]:
    """``{unit id: value}`` of one reference: ``rows`` (already narrowed to ``unit_filter``)
    added up per unit of ``units`` (averages: the mean of the rows)."""
    totals: dict[int, Decimal] = {}
    counts: dict[int, int] = {}
    average = aggregation == DataElement.Aggregation.AVERAGE
    wanted = units.county_of
    if unit_filter == "county" and units.level != "county":
        # A county's own figure reaches every unit of that county.
        county_units = units.by_county()
        for row in rows:
            for unit_id in county_units.get(row[_COUNTY], ()):
                total = totals.get(unit_id)
                totals[unit_id] = row[_TOTAL] if total is None else total + row[_TOTAL]
                counts[unit_id] = counts.get(unit_id, 0) + 1
    else:
        position = {"institution": _INSTITUTION, "alliance": _ALLIANCE}.get(units.level, _COUNTY)
        if position == _INSTITUTION and not average:
            # Mostly one row per institution: taken as they are, unless some institution has several.
            single = {row[_INSTITUTION]: row[_TOTAL] for row in rows}
            if len(single) == len(rows):
                return single if single.keys() <= wanted.keys() else {
                    unit_id: total for unit_id, total in single.items() if unit_id in wanted}
        for row in rows:
            unit_id = row[position]
            if unit_id not in wanted:  # None (no alliance that day) is never wanted
                continue
            total = totals.get(unit_id)
            totals[unit_id] = row[_TOTAL] if total is None else total + row[_TOTAL]
            if average:
                counts[unit_id] = counts.get(unit_id, 0) + 1
    if average:
        return {unit_id: total / counts[unit_id] for unit_id, total in totals.items()}
    return totals


def _shift(period: Period, offset: str) -> Period:
    if offset == "ly":
        return period.same_period_last_year
    if offset == "pp":
        return period.previous
    return period


def _divide(left: dict, right: dict) -> dict:
    """``left / right`` per unit; no value where either is missing or the divisor is zero."""
    try:
        return {unit: value / divisor for unit, value in left.items()
                if (divisor := right.get(unit)) is not None and divisor != 0}
    except (DivisionByZero, InvalidOperation):
        out = {}
        for unit, value in left.items():
            divisor = right.get(unit)
            if divisor is None or divisor == 0:
                continue
            try:
                out[unit] = value / divisor
            except (DivisionByZero, InvalidOperation):
                continue
        return out


def _columns(node: Node, lookup: Callable[[Ref], dict[int, Decimal]]) -> dict[int, Decimal] | Decimal | None:
    """A formula evaluated for every unit at once: ``{unit id: value}`` (a unit without a value
    has none, as ``Formula.evaluate`` gives None), or a plain number when no reference is in it.
    The same operations in the same order as ``Formula.evaluate``, unit by unit."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        return lookup(node)
    if isinstance(node, Neg):
        operand = _columns(node.operand, lookup)
        if isinstance(operand, dict):
            return {unit: -value for unit, value in operand.items()}
        return None if operand is None else -operand
    left = _columns(node.left, lookup)
    right = _columns(node.right, lookup)
    if left is None or right is None:
        return None
    op = node.op
    if not isinstance(left, dict) and not isinstance(right, dict):
        return _evaluate_formula(BinOp(op, Num(left), Num(right)), lookup)
    if op == "/":
        return _divide(left if isinstance(left, dict) else dict.fromkeys(right, left),
                       right if isinstance(right, dict) else dict.fromkeys(left, right))
    apply = _OPERATORS[op]
    if not isinstance(left, dict):
        return {unit: apply(left, value) for unit, value in right.items()}
    if not isinstance(right, dict):
        return {unit: apply(value, right) for unit, value in left.items()}
    return {unit: apply(value, other) for unit, value in left.items() if (other := right.get(unit)) is not None}


class _Values(NamedTuple):
    """One indicator for a set of units: ``{unit id: …}``, a unit without a figure missing."""

    values: dict[int, Decimal]
    numerators: dict[int, Decimal]
    denominators: dict[int, Decimal]
    averaged: dict[int, int] | None = None  # units averaged, for indicators that take a mean


@contextmanager
def _gc_paused():
    """No cyclic garbage collection while many short-lived tuples and results are made: with the
    rows of a province in memory, each pass would walk all of them (the evaluation took twice as
    long). Nothing made here is cyclic; collection resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Engine:
    """Computes many indicators for many units of one level and one period."""

    def __init__(self, indicators: Iterable[Indicator], counties: Iterable[int]) -> None:
        self.indicators = list(indicators)
        self.counties = set(counties)
        codes: set[str] = set()
        for indicator in self.indicators:
            for text in (indicator.numerator, indicator.denominator):
                formula = parsed(text)
                if formula is not None:
                    codes.update(formula.codes)
        self.elements: dict[str, tuple[int, str]] = {}
        county_ids = {indicator.county_id for indicator in self.indicators if indicator.county_id}
        found = (
            DataElement.objects.filter(code__in=codes)
            .filter(Q(county__isnull=True) | Q(county_id__in=county_ids))
            .order_by(F("county_id").asc(nulls_first=True))
            .values_list("pk", "code", "aggregation")
        )
        for pk, code, aggregation in found:
            # Shared elements first; a county's own element of the same code does not shadow them.
            self.elements.setdefault(code, (pk, aggregation))
        self._rows: dict[Period, dict[int, list[_Row]]] = {}
        self._loaded: set[tuple[Period, int]] = set()
        self._filtered: dict[tuple[Period, int, str], list[_Row]] = {}
        self._terms: dict[tuple, dict[int, Decimal]] = {}
        self._all_units: dict[str, Units] = {}
        self._organisation: Organisation | None = None

    @property
    def organisation(self) -> Organisation:
        """The counties' institutions and memberships, read once per engine."""
        if self._organisation is None:
            self._organisation = Organisation(self.counties)
        return self._organisation

    def units(self, level: str, unit_ids: Iterable[int] | None = None) -> Units:
        """``units_for`` the engine's counties; every unit of a level is read once per engine
        (institutions come with the organisation the rows are joined to)."""
        if level == "institution":
            if unit_ids is None:
                if level not in self._all_units:
                    self._all_units[level] = self.organisation.units()
                return self._all_units[level]
            return self.organisation.units(unit_ids)
        if unit_ids is not None:
            return units_for(level, self.counties, unit_ids)
        if level not in self._all_units:
            self._all_units[level] = units_for(level, self.counties)
        return self._all_units[level]

    # Data -----------------------------------------------------------------------------
    def _needs(self, periods: Iterable[Period], indicators: list[Indicator]) -> dict[Period, dict[int, str]]:
        needs: dict[Period, dict[int, str]] = defaultdict(dict)
        for period in periods:
            for indicator in indicators:
                for text in (indicator.numerator, indicator.denominator):
                    formula = parsed(text)
                    if formula is None:
                        continue
                    for ref in formula.refs:
                        element = self.elements.get(ref.code)
                        if element is not None:
                            needs[_shift(period, ref.offset)][element[0]] = element[1]
        return needs

    def needs_for(self, period: Period, indicators: list[Indicator]) -> dict[Period, dict[int, str]]:
        """What ``compute`` reads for ``period``: the terms of ``indicators`` (offsets included)
        and, for the indicators judged against the same period last year, their terms then. Only
        those: an indicator of growth (``[ly]`` terms) would otherwise read the year before last
        for nothing."""
        needs = self._needs([period], indicators)
        judged = [i for i in indicators if i.has_direction]
        if judged:
            for shifted, elements in self._needs([period.same_period_last_year], judged).items():
                needs[shifted].update(elements)
        return needs

    def load(self, periods: Iterable[Period], indicators: list[Indicator] | None = None) -> None:
        """Read what the indicators (``indicators``: some of them) need for ``periods`` (and their
        offsets): one query per period."""
        self._load(self._needs(periods, self.indicators if indicators is None else indicators))

    def _load(self, needs: dict[Period, dict[int, str]]) -> None:
        for period, elements in needs.items():
            missing = {pk: agg for pk, agg in elements.items() if (period, pk) not in self._loaded}
            if not missing:
                continue
            self._rows.setdefault(period, {}).update(fetch_rows(period, missing, self.counties, self.organisation))
            self._loaded.update((period, pk) for pk in missing)

    def _rows_for(self, period: Period, element_id: int, unit_filter: str) -> list[_Row]:
        """The rows of one element and period that ``unit_filter`` keeps (kept for every level)."""
        key = (period, element_id, unit_filter)
        rows = self._filtered.get(key)
        if rows is None:
            rows = _filtered(self._rows.get(period, {}).get(element_id, []), unit_filter)
            if (period, element_id) in self._loaded:
                self._filtered[key] = rows
        return rows

    def term(self, ref: Ref, period: Period, units: Units) -> dict[int, Decimal]:
        actual = _shift(period, ref.offset)
        # Within one compute() there is at most one Units per level (the cache is cleared per call).
        key = (ref.code, ref.filter, actual, units.level)
        cached = self._terms.get(key)
        if cached is None:
            element = self.elements.get(ref.code)
            if element is None:
                cached = {}
            else:
                cached = _term_values(self._rows_for(actual, element[0], ref.filter), ref.filter, element[1], units)
            self._terms[key] = cached
        return cached

    # Arithmetic -------------------------------------------------------------------------
    def _evaluate(self, indicator: Indicator, period: Period, units: Units) -> _Values:
        """Pooled: each formula evaluated for every unit at once, then value = numerator /
        denominator × factor per unit."""
        numerator = parsed(indicator.numerator)
        denominator = parsed(indicator.denominator)

        def lookup(ref: Ref) -> dict[int, Decimal]:
            return self.term(ref, period, units)

        nums = _columns(numerator.tree, lookup) if numerator else None
        if not isinstance(nums, dict):
            nums = dict.fromkeys(units.ids, nums) if nums is not None else {}
        factor = indicator.factor
        if denominator is None:
            return _Values({unit: num * factor for unit, num in nums.items()}, nums, {})
        dens = _columns(denominator.tree, lookup)
        if not isinstance(dens, dict):
            dens = dict.fromkeys(units.ids, dens) if dens is not None else {}
        values = {unit: num / den * factor for unit, num in nums.items()
                  if (den := dens.get(unit)) is not None and den != 0}
        return _Values(values, nums, dens)

    def _evaluate_mean(self, indicator: Indicator, period: Period, units: Units, institutions: Units) -> _Values:
        """The mean of institution values within each unit."""
        per_institution = self._evaluate(indicator, period, institutions)
        if units.level == "institution":
            return _Values(per_institution.values, per_institution.numerators, per_institution.denominators,
                           dict.fromkeys(units.ids, 1))
        unit_of = self._institution_units(indicator, period, units)
        collected: dict[int, list[Decimal]] = defaultdict(list)
        found_values = per_institution.values
        for institution_id in institutions.ids:
            value = found_values.get(institution_id)
            if value is None:
                continue
            for unit_id in unit_of.get(institution_id, ()):
                collected[unit_id].append(value)
        values, averaged = {}, {}
        for unit_id in units.ids:
            found = collected.get(unit_id)
            if found:
                # A mean of unit values has no pooled numerator and denominator: the page shows how
                # many units were averaged instead.
                values[unit_id] = sum(found, Decimal(0)) / len(found)
                averaged[unit_id] = len(found)
        return _Values(values, {}, {}, averaged)

    def _institution_units(self, indicator: Indicator, period: Period, units: Units) -> dict[int, tuple[int, ...]]:
        """Which unit each institution counted in during ``period``, from the rows of the
        indicator's own elements (so that the answer does not depend on which other indicators
        the engine computes)."""
        element_ids = set()
        for text in (indicator.numerator, indicator.denominator):
            formula = parsed(text)
            for ref in formula.refs if formula else ():
                element = self.elements.get(ref.code)
                if element is not None and not ref.offset:
                    element_ids.add(element[0])
        read = self._rows.get(period, {})
        mapping: dict[int, set[int]] = defaultdict(set)
        position = _ALLIANCE if units.level == "alliance" else _COUNTY
        for element_id in sorted(element_ids):
            for row in read.get(element_id, ()):
                if row[_INSTITUTION] is None:
                    continue
                unit = row[position]
                if unit is not None:
                    mapping[row[_INSTITUTION]].add(unit)
        return {pk: tuple(found) for pk, found in mapping.items()}

    def compute(self, period: Period, level: str, unit_ids: Iterable[int] | None = None,
                *, units: Units | None = None) -> dict[tuple[int, int], Result]:
        """``{(indicator id, unit id): Result}`` for every indicator and unit of ``level``."""
        indicators = [i for i in self.indicators if i.applies_at(level)]
        units = units or self.units(level, unit_ids)
        self._terms.clear()  # term values are per set of units; the rows read stay cached
        institutions = None
        if any(i.aggregation == Indicator.Aggregation.MEAN for i in indicators):
            institutions = units if level == "institution" else self.units("institution")
        results: dict[tuple[int, int], Result] = {}
        # Hundreds of thousands of rows and tens of thousands of results: no collection passes meanwhile.
        with _gc_paused():
            self._load(self.needs_for(period, self.indicators))  # every level's at once
            for indicator in indicators:
                self._results(indicator, period, level, units, institutions, results)
        return results

    def _results(self, indicator: Indicator, period: Period, level: str, units: Units, institutions: Units | None,
                 results: dict[tuple[int, int], Result]) -> None:
        mean = indicator.aggregation == Indicator.Aggregation.MEAN
        last_year = period.same_period_last_year
        if mean:
            current = self._evaluate_mean(indicator, period, units, institutions)
            previous = self._evaluate_mean(indicator, last_year, units, institutions) if indicator.has_direction else None
        else:
            current = self._evaluate(indicator, period, units)
            previous = self._evaluate(indicator, last_year, units) if indicator.has_direction else None
        values, nums, dens, averaged = current.values, current.numerators, current.denominators, current.averaged
        baselines = previous.values if previous is not None else {}
        threshold = indicator.has_threshold and indicator.target_value is not None
        direction = indicator.has_direction
        judged = threshold or direction
        pk = indicator.pk
        for unit_id in units.ids:
            value = values.get(unit_id)
            result = Result(indicator, level, unit_id, period, value, nums.get(unit_id), dens.get(unit_id),
                            baselines.get(unit_id), None, None, averaged.get(unit_id, 0) if averaged else 0)
            if judged and value is not None:
                _judge(result, threshold, direction)
            results[(pk, unit_id)] = result


def _judge(result: Result, threshold: bool | None = None, direction: bool | None = None) -> None:
    """Whether ``result`` meets its target (``threshold`` and ``direction``: the indicator's
    ``has_threshold`` with a target value and ``has_direction``, when the caller knows them)."""
    indicator = result.indicator
    value = result.value
    if value is None:
        return
    if threshold is None:
        threshold = indicator.has_threshold and indicator.target_value is not None
    if direction is None:
        direction = indicator.has_direction
    if threshold:
        result.met_threshold = indicator.threshold_met(value)
    if direction and result.baseline is not None:
        points = indicator.direction_points or Decimal(0)
        change = value - result.baseline
        if indicator.direction == Indicator.Direction.DOWN:
            result.met_direction = change <= -points if points else change < 0
        else:
            result.met_direction = change >= points if points else change > 0


def compute(indicators: Iterable[Indicator], period: Period, level: str, counties: Iterable[int],
            unit_ids: Iterable[int] | None = None) -> dict[tuple[int, int], Result]:
    """Shortcut: one engine, one period, one level."""
    return Engine(indicators, counties).compute(period, level, unit_ids)
