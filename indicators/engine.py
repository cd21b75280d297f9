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

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

from django.db import connection
from django.db.models import F, Q

from alliances.models import Alliance, AllianceMembership, Institution
from core.periods import Period, PeriodKind
from indicators.formula import Formula, Ref, parse
from indicators.models import DataElement, DataValue, Indicator

LEVELS = ("county", "alliance", "institution")

PRIMARY_KINDS = frozenset({
    Institution.Kind.CENTRAL_HEALTH_CENTRE, Institution.Kind.TOWNSHIP_HEALTH_CENTRE,
    Institution.Kind.COMMUNITY_HEALTH_CENTRE, Institution.Kind.VILLAGE_CLINIC,
})
TOWNSHIP_KINDS = frozenset({Institution.Kind.CENTRAL_HEALTH_CENTRE, Institution.Kind.TOWNSHIP_HEALTH_CENTRE})
HOSPITAL_KINDS = frozenset(Institution.LEAD_KINDS)

_KIND_ORDER = [PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF_YEAR, PeriodKind.YEAR]


@lru_cache(maxsize=4096)
def parsed(text: str) -> Formula | None:
    return parse(text) if text and text.strip() else None


@dataclass
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


@dataclass
class _Row:
    institution_id: int | None
    county_id: int
    kind: str | None
    alliance_id: int | None
    role: str | None
    total: Decimal
    count: int


@dataclass
class _Needs:
    elements: dict[int, str] = field(default_factory=dict)  # element id -> aggregation


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


def fetch_rows(period: Period, elements: dict[int, str], counties: Iterable[int]) -> dict[int, list[_Row]]:
    """``{element id: rows}`` for ``period``: one grouped query over every element and unit."""
    counties = sorted(set(counties))
    if not elements or not counties:
        return {}
    stock_ids = sorted(pk for pk, aggregation in elements.items() if aggregation == DataElement.Aggregation.LAST)
    keys = _period_keys(period, with_containing=bool(stock_ids))
    value_table = DataValue._meta.db_table
    institution_table = Institution._meta.db_table
    membership_table = AllianceMembership._meta.db_table
    on_day = "CASE WHEN v.period_end > %s THEN %s ELSE v.period_end END"
    if stock_ids:
        period_key = f"CASE WHEN v.element_id IN ({_placeholders(stock_ids)}) THEN v.period ELSE '' END"
        period_params = list(stock_ids)
    else:
        period_key, period_params = "''", []
    element_ids = sorted(elements)
    sql = f"""
        SELECT v.element_id, v.institution_id, v.county_id, i.kind, m.alliance_id, m.role,
               {period_key} AS period_key, MAX(v.period_end), SUM(v.value), COUNT(v.value)
        FROM {value_table} v
        LEFT JOIN {institution_table} i ON i.id = v.institution_id
        LEFT JOIN {membership_table} m
          ON m.institution_id = (CASE WHEN i.kind = %s THEN i.parent_id ELSE i.id END)
         AND m.valid_from <= {on_day}
         AND (m.valid_to IS NULL OR m.valid_to >= {on_day})
        WHERE v.period IN ({_placeholders(keys)})
          AND v.element_id IN ({_placeholders(element_ids)})
          AND v.county_id IN ({_placeholders(counties)})
          AND v.counted AND v.value IS NOT NULL
        GROUP BY v.element_id, v.institution_id, v.county_id, i.kind, m.alliance_id, m.role, period_key
    """
    end = period.end
    params = [*period_params, Institution.Kind.VILLAGE_CLINIC.value, end, end, end, end,
              *keys, *element_ids, *counties]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        raw = cursor.fetchall()
    return _reduce(raw, elements, period.end)


def _as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _reduce(raw, elements: dict[int, str], end: date) -> dict[int, list[_Row]]:
    rows: dict[int, list[_Row]] = defaultdict(list)
    # Stocks: per (element, filer) keep the latest period within, else the one containing.
    stock_best: dict[tuple[int, int | None, int], tuple[tuple, list]] = {}
    for element_id, institution_id, county_id, kind, alliance_id, role, key, period_end, total, count in raw:
        total = total if isinstance(total, Decimal) else Decimal(str(total))
        if key:
            period_end = _as_date(period_end)
            inside = period_end <= end
            # Within the period: the latest wins; otherwise (a containing period) the shortest.
            rank = (inside, period_end if inside else -period_end.toordinal())
            slot = (element_id, institution_id, county_id)
            best = stock_best.get(slot)
            row = _Row(institution_id, county_id, kind, alliance_id, role, total, count)
            if best is None or rank > best[0]:
                stock_best[slot] = (rank, [row])
            elif rank == best[0]:
                best[1].append(row)
            continue
        if elements.get(element_id) == DataElement.Aggregation.AVERAGE and count:
            total = total / count
            count = 1
        rows[element_id].append(_Row(institution_id, county_id, kind, alliance_id, role, total, count))
    for (element_id, _institution_id, _county_id), (_rank, best_rows) in stock_best.items():
        rows[element_id].extend(best_rows)
    return rows


def _passes(row: _Row, unit_filter: str) -> bool:
    if unit_filter == "county":
        return row.institution_id is None
    if row.institution_id is None:
        return False
    if unit_filter == "all":
        return True
    if unit_filter == "lead":
        return row.role == AllianceMembership.Role.LEAD
    if unit_filter == "member":
        return row.role == AllianceMembership.Role.MEMBER
    if unit_filter == "primary":
        return row.kind in PRIMARY_KINDS
    if unit_filter == "township":
        return row.kind in TOWNSHIP_KINDS
    if unit_filter == "hospital":
        return row.kind in HOSPITAL_KINDS
    return False


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
    totals: dict[int, Decimal] = {}
    counts: dict[int, int] = {}
    county_units = units.by_county() if unit_filter == "county" and units.level != "county" else None
    wanted = units.county_of
    for row in rows:
        if not _passes(row, unit_filter):
            continue
        if county_units is not None:
            targets = county_units.get(row.county_id, ())
        elif units.level == "institution":
            targets = (row.institution_id,)
        elif units.level == "alliance":
            targets = (row.alliance_id,) if row.alliance_id is not None else ()
        else:
            targets = (row.county_id,)
        for unit_id in targets:
            if unit_id not in wanted:
                continue
            totals[unit_id] = totals.get(unit_id, Decimal(0)) + row.total
            counts[unit_id] = counts.get(unit_id, 0) + 1
    if aggregation == DataElement.Aggregation.AVERAGE:
        return {unit_id: total / counts[unit_id] for unit_id, total in totals.items()}
    return totals


def _shift(period: Period, offset: str) -> Period:
    if offset == "ly":
        return period.same_period_last_year
    if offset == "pp":
        return period.previous
    return period


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
        self._terms: dict[tuple, dict[int, Decimal]] = {}

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

    def load(self, periods: Iterable[Period]) -> None:
        """Read what the indicators need for ``periods`` (and their offsets): one query per period."""
        for period, elements in self._needs(periods, self.indicators).items():
            missing = {pk: agg for pk, agg in elements.items() if (period, pk) not in self._loaded}
            if not missing:
                continue
            self._rows.setdefault(period, {}).update(fetch_rows(period, missing, self.counties))
            self._loaded.update((period, pk) for pk in missing)

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
                rows = self._rows.get(actual, {}).get(element[0], [])
                cached = _term_values(rows, ref.filter, element[1], units)
            self._terms[key] = cached
        return cached

    # Arithmetic -------------------------------------------------------------------------
    def _evaluate(self, indicator: Indicator, period: Period, units: Units):
        """``{unit id: (value, numerator, denominator)}``, pooled."""
        numerator = parsed(indicator.numerator)
        denominator = parsed(indicator.denominator)
        out = {}
        for unit_id in units.ids:
            def lookup(ref: Ref, unit_id=unit_id):
                return self.term(ref, period, units).get(unit_id)

            num = numerator.evaluate(lookup) if numerator else None
            den = denominator.evaluate(lookup) if denominator else None
            if num is None:
                value = None
            elif denominator is None:
                value = num * indicator.factor
            elif den is None or den == 0:
                value = None
            else:
                value = num / den * indicator.factor
            out[unit_id] = (value, num, den)
        return out

    def _evaluate_mean(self, indicator: Indicator, period: Period, units: Units, institutions: Units):
        """The mean of institution values within each unit."""
        per_institution = self._evaluate(indicator, period, institutions)
        if units.level == "institution":
            return {pk: (*per_institution.get(pk, (None, None, None)), 1) for pk in units.ids}
        unit_of = self._institution_units(period, units)
        collected: dict[int, list] = defaultdict(list)
        for institution_id, triple in per_institution.items():
            if triple[0] is None:
                continue
            for unit_id in unit_of.get(institution_id, ()):
                collected[unit_id].append(triple)
        out = {}
        for unit_id in units.ids:
            triples = collected.get(unit_id, [])
            if not triples:
                out[unit_id] = (None, None, None, 0)
                continue
            # A mean of unit values has no pooled numerator and denominator: the page shows how many
            # units were averaged instead.
            value = sum((t[0] for t in triples), Decimal(0)) / len(triples)
            out[unit_id] = (value, None, None, len(triples))
        return out

    def _institution_units(self, period: Period, units: Units) -> dict[int, tuple[int, ...]]:
        """Which unit each institution counted in during ``period`` (from the rows read)."""
        mapping: dict[int, set[int]] = defaultdict(set)
        for rows in self._rows.get(period, {}).values():
            for row in rows:
                if row.institution_id is None:
                    continue
                unit = row.alliance_id if units.level == "alliance" else row.county_id
                if unit is not None:
                    mapping[row.institution_id].add(unit)
        return {pk: tuple(found) for pk, found in mapping.items()}

    def compute(self, period: Period, level: str, unit_ids: Iterable[int] | None = None,
                *, units: Units | None = None) -> dict[tuple[int, int], Result]:
        """``{(indicator id, unit id): Result}`` for every indicator and unit of ``level``."""
        indicators = [i for i in self.indicators if i.applies_at(level)]
        units = units or units_for(level, self.counties, unit_ids)
        self._terms.clear()  # term values are per set of units; the rows read stay cached
        baseline_needed = any(i.has_direction for i in indicators)
        periods = [period, period.same_period_last_year] if baseline_needed else [period]
        self.load(periods)
        institutions = None
        if any(i.aggregation == Indicator.Aggregation.MEAN for i in indicators):
            institutions = units if level == "institution" else units_for("institution", self.counties)
        results: dict[tuple[int, int], Result] = {}
        for indicator in indicators:
            mean = indicator.aggregation == Indicator.Aggregation.MEAN
            current = (self._evaluate_mean(indicator, period, units, institutions) if mean
                       else self._evaluate(indicator, period, units))
            previous = None
            if indicator.has_direction:
                previous = (self._evaluate_mean(indicator, period.same_period_last_year, units, institutions)
                            if mean else self._evaluate(indicator, period.same_period_last_year, units))
            for unit_id in units.ids:
                values = current.get(unit_id)
                result = Result(indicator, level, unit_id, period)
                if values is not None:
                    result.value, result.numerator, result.denominator = values[0], values[1], values[2]
                    if mean:
                        result.units_averaged = values[3]
                if previous is not None:
                    result.baseline = previous.get(unit_id, (None,))[0]
                _judge(result)
                results[(indicator.pk, unit_id)] = result
        return results


def _judge(result: Result) -> None:
    indicator = result.indicator
    value = result.value
    if value is None:
        return
    if indicator.has_threshold and indicator.target_value is not None:
        if indicator.target_operator == Indicator.Operator.LE:
            result.met_threshold = value <= indicator.target_value
        else:
            result.met_threshold = value >= indicator.target_value
    if indicator.has_direction and result.baseline is not None:
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
