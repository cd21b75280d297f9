"""Reads behind the indicator pages: the scope a page is for (a county, an alliance or an
institution the user sees), the period (with a safe default), the table of indicators with their
numerators, denominators, targets and a sparkline, the sub-table of units one level down, and the
trend of one indicator.

Every figure comes from ``indicators.engine``: one grouped read per period, so a table of all
indicators over eight periods is a constant number of queries whatever the number of units,
indicators and filed values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import groupby

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from alliances import scoping
from alliances.models import Alliance, AllianceMembership, Institution, Region
from alliances.views.common import natural_key
from core.periods import Period, PeriodError, PeriodKind
from indicators.engine import Engine, Result, Units, parsed
from indicators.models import DataElement, Indicator
from indicators.services.evaluation import reaches_institution

CHILD_LEVEL = {"county": "alliance", "alliance": "institution", "institution": None}
LEVEL_LABELS = {"county": gettext_lazy("County"), "alliance": gettext_lazy("Alliance"),
                "institution": gettext_lazy("Institution")}
SPARK_PERIODS = 8
TREND_PERIODS = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 12, PeriodKind.HALF_YEAR: 8, PeriodKind.YEAR: 6}
FIRST_YEAR = 2000  # periods before this are refused (and shifting far back stays in range)
DUE_DAY = 5  # filings are due on the 5th of the month after the period

# Met states, in the order of the badges.
MET, NOT_MET, UNDETERMINED, NO_DATA, NO_TARGET = "met", "not_met", "undetermined", "no_data", "no_target"
MET_LABELS = {
    MET: gettext_lazy("Met"),
    NOT_MET: gettext_lazy("Not met"),
    UNDETERMINED: gettext_lazy("Cannot judge"),
    NO_DATA: gettext_lazy("No data"),
    NO_TARGET: gettext_lazy("No target"),
}

FILTER_LABELS = {
    "lead": gettext_lazy("lead hospital"),
    "member": gettext_lazy("members other than the lead"),
    "primary": gettext_lazy("primary care"),
    "township": gettext_lazy("township health centres"),
    "hospital": gettext_lazy("county-level hospitals"),
    "county": gettext_lazy("filed by the county"),
}
OFFSET_LABELS = {"pp": gettext_lazy("previous period"), "ly": gettext_lazy("same period last year")}
_REF = re.compile(r"([A-Za-z][A-Za-z0-9_]*)(?:\s*@\s*([a-z]+))?(?:\s*\[\s*([a-z]+)\s*\])?")


# Scope ----------------------------------------------------------------------------------------

@dataclass
class UnitScope:
    """What a page is about: a county, an alliance or an institution, with its county."""

    level: str
    county: Region
    alliance: Alliance | None = None
    institution: Institution | None = None
    # An institution's role in its alliance on the period's last day ("" outside any alliance).
    role: str = ""

    @property
    def unit(self):
        return {"county": self.county, "alliance": self.alliance, "institution": self.institution}[self.level]

    @property
    def unit_id(self) -> int:
        return self.unit.pk

    @property
    def name(self) -> str:
        return self.unit.name

    @property
    def query(self) -> str:
        return f"{self.level}={self.unit_id}"

    @property
    def child_level(self) -> str | None:
        return CHILD_LEVEL[self.level]

    def units(self) -> Units:
        return Units(self.level, [self.unit_id], {self.unit_id: self.county.pk})


def county_queryset(user) -> QuerySet[Region]:
    """Counties the user sees in full (a county, city or province grant): county-wide figures are
    theirs only, not an alliance's or an institution's."""
    return scoping.counties_for(user)


def _alliance_queryset(user) -> QuerySet[Alliance]:
    return scoping.queryset_for(user, Alliance).select_related("county")


def _institution_queryset(user) -> QuerySet[Institution]:
    return (scoping.queryset_for(user, Institution).exclude(kind=Institution.Kind.VILLAGE_CLINIC)
            .select_related("county"))


def resolve_scope(user, params) -> UnitScope | None:
    """The scope named by ``?institution=``, ``?alliance=`` or ``?county=`` (the most specific
    given wins). An id the user cannot see, or not a number, is a 404. None when none is given."""
    for key in ("institution", "alliance", "county"):
        raw = (params.get(key) or "").strip()
        if not raw:
            continue
        if key == "institution":
            institution = scoping.get_for_user(user, Institution, raw, queryset=_institution_queryset(user))
            return UnitScope("institution", institution.county, institution=institution)
        if key == "alliance":
            alliance = scoping.get_for_user(user, Alliance, raw, queryset=_alliance_queryset(user))
            return UnitScope("alliance", alliance.county, alliance=alliance)
        county = scoping.get_for_user(user, Region, raw, queryset=county_queryset(user))
        return UnitScope("county", county)
    return None


def default_scope(user) -> UnitScope | None:
    """Where a user lands: a county user on the (first) county, an alliance user on the alliance,
    an institution user on the institution. None for a user who sees none of these."""
    county = county_queryset(user).order_by("code").first()
    if county is not None:
        return UnitScope("county", county)
    scope = scoping.scope_of(user)
    if scope.view_alliances:
        alliances = list(_alliance_queryset(user).filter(pk__in=scope.view_alliances))
        if alliances:
            alliance = min(alliances, key=lambda a: (not a.is_active, natural_key(a.name)))
            return UnitScope("alliance", alliance.county, alliance=alliance)
    if scope.view_institutions:
        institution = _institution_queryset(user).filter(pk__in=scope.view_institutions).order_by("pk").first()
        if institution is not None:
            return UnitScope("institution", institution.county, institution=institution)
    return None


def membership_of(institution: Institution, day: date) -> AllianceMembership | None:
    """The membership of ``institution`` in force on ``day``, with its alliance (one query)."""
    return (AllianceMembership.objects.on(day).filter(institution=institution)
            .select_related("alliance").order_by("-valid_from").first())


def applies(indicator: Indicator, level: str, institution: Institution | None = None, role: str = "") -> bool:
    """Whether the indicator means something for a unit of ``level``; for an institution, also
    whether its formulas can count it (a lead-hospital indicator means nothing for a township
    centre)."""
    if not indicator.applies_at(level):
        return False
    if level == "institution" and institution is not None:
        return reaches_institution(indicator, institution.kind, role)
    return True


def can_see_alliance(user, alliance: Alliance | None) -> bool:
    if alliance is None:
        return False
    scope = scoping.scope_of(user)
    return scope.everything or alliance.county_id in scope.view_counties or alliance.pk in scope.view_alliances


@dataclass
class Picker:
    """The choices of the scope picker: what the user sees in the scope's county."""

    counties: list[Region]
    alliances: list[Alliance]
    institutions: list[Institution]


def picker(user, unit_scope: UnitScope) -> Picker:
    """Three queries."""
    counties = list(county_queryset(user).order_by("code"))
    alliances = list(scoping.queryset_for(user, Alliance).filter(county=unit_scope.county, is_active=True))
    alliances.sort(key=lambda a: natural_key(a.name))
    institutions = list(_institution_queryset(user).filter(county=unit_scope.county, is_active=True)
                        .order_by("kind", "name"))
    return Picker(counties, alliances, institutions)


# Period ---------------------------------------------------------------------------------------

def default_period(today: date) -> Period:
    """The latest quarter whose filings are due (due on the 5th of the month after it)."""
    month = Period.containing_date(PeriodKind.MONTH, today).previous
    if today.day <= DUE_DAY:
        month = month.previous
    quarter = Period.containing_date(PeriodKind.QUARTER, month.end)
    return quarter if quarter.end == month.end else quarter.previous


def read_period(text: str | None, today: date) -> tuple[Period, str]:
    """The period asked for, or the default with a message saying why the text was not used."""
    fallback = default_period(today)
    if text is None or not str(text).strip():
        return fallback, ""
    try:
        period = Period.parse(str(text)[:20])
    except PeriodError as exc:
        return fallback, _("%(error)s Showing %(period)s instead.") % {"error": exc, "period": fallback.label}
    if not FIRST_YEAR <= period.year <= today.year + 1:
        return fallback, _("There are no figures for %(period)s (years %(first)s to %(last)s can be shown). "
                           "Showing %(default)s instead.") % {
            "period": period.label, "first": FIRST_YEAR, "last": today.year + 1, "default": fallback.label}
    return period, ""


def period_choices(today: date, current: Period) -> list[tuple[str, list[tuple[str, str]]]]:
    """Recent periods of each kind for the period picker, newest first, the current one included."""
    latest_month = Period.containing_date(PeriodKind.MONTH, today).previous
    latest = {kind: latest_month.containing(kind) for kind in PeriodKind}
    counts = {PeriodKind.QUARTER: 12, PeriodKind.MONTH: 24, PeriodKind.HALF_YEAR: 6, PeriodKind.YEAR: 5}
    labels = {PeriodKind.QUARTER: _("Quarters"), PeriodKind.MONTH: _("Months"),
              PeriodKind.HALF_YEAR: _("Half-years"), PeriodKind.YEAR: _("Years")}
    groups = []
    for kind, count in counts.items():
        periods = [latest[kind].shift(-i) for i in range(count)]
        if current.kind == kind and current not in periods:
            periods = sorted({*periods, current}, reverse=True)
        groups.append((labels[kind], [(str(p), p.label) for p in periods]))
    return groups


# Texts ----------------------------------------------------------------------------------------

def number_text(value: Decimal | None, decimals: int | None = None) -> str:
    """12,345 / 12,345.68 (two places unless told); "" for None."""
    if value is None:
        return ""
    if decimals is None:
        decimals = 0 if value == value.to_integral_value() else 2
    return f"{value:,.{decimals}f}"


def value_text(indicator: Indicator, value: Decimal | None) -> str:
    return number_text(value, indicator.decimals)


def _plain(value: Decimal) -> str:
    value = value.normalize()
    return f"{value:f}"


def target_text(indicator: Indicator) -> str:
    """≥90%; ↑ rise against the same period last year; ≥65% or ↑ by 2 points…; "" without a target."""
    unit = indicator.unit_label or ""
    threshold = direction = ""
    if indicator.has_threshold and indicator.target_value is not None:
        operator = indicator.threshold_symbol
        threshold = f"{operator}{_plain(indicator.target_value)}{unit}"
    if indicator.has_direction and indicator.direction:
        points = indicator.direction_points or Decimal(0)
        down = indicator.direction == Indicator.Direction.DOWN
        if points:
            amount = (_("%(points)s percentage points") % {"points": _plain(points)} if unit == "%"
                      else f"{_plain(points)}{unit}")
            direction = (_("↓ down at least %(amount)s on the same period last year") if down
                         else _("↑ up at least %(amount)s on the same period last year")) % {"amount": amount}
        else:
            direction = (_("↓ down on the same period last year") if down
                         else _("↑ up on the same period last year"))
    kind = indicator.target_kind
    if threshold and direction:
        if kind == Indicator.TargetKind.ALL:
            return _("%(threshold)s and %(direction)s") % {"threshold": threshold, "direction": direction}
        return _("%(threshold)s or %(direction)s") % {"threshold": threshold, "direction": direction}
    return threshold or direction


def met_state(result: Result | None) -> str:
    if result is None:
        return NO_DATA
    if result.indicator.target_kind == Indicator.TargetKind.NONE:
        return NO_TARGET if result.value is not None else NO_DATA
    if result.value is None:
        return NO_DATA
    met = result.met
    if met is None:
        return UNDETERMINED
    return MET if met else NOT_MET


def element_names(indicators: list[Indicator], county: Region) -> dict[str, str]:
    """{element code: name} for every element the indicators' formulas name (one query)."""
    codes: set[str] = set()
    for indicator in indicators:
        for text in (indicator.numerator, indicator.denominator):
            formula = parsed(text)
            if formula is not None:
                codes.update(formula.codes)
    if not codes:
        return {}
    names: dict[str, str] = {}
    rows = (DataElement.objects.filter(code__in=codes).filter(Q(county__isnull=True) | Q(county=county))
            .order_by("county_id").values_list("code", "name", "county_id"))
    for code, name, county_id in rows:
        if county_id is None or code not in names:
            names[code] = name
    return names


def formula_text(text: str, names: dict[str, str]) -> str:
    """A formula with element names: ``OP_VISITS@primary / OP_VISITS`` → 门急诊人次（基层） / 门急诊人次."""
    if not text or not text.strip():
        return ""

    def replace(match: re.Match) -> str:
        code, unit_filter, offset = match.groups()
        out = names.get(code, code)
        notes = []
        if unit_filter and unit_filter != "all":
            notes.append(str(FILTER_LABELS.get(unit_filter, unit_filter)))
        if offset:
            notes.append(str(OFFSET_LABELS.get(offset, offset)))
        if notes:
            out += "（" + "，".join(notes) + "）"
        return out

    return _REF.sub(replace, text.strip()).replace("*", "×")


# Rows -----------------------------------------------------------------------------------------

@dataclass
class Spark:
    """A small trend as an inline SVG polyline (no script needed)."""

    points: list[tuple[Period, Decimal | None]]
    width: int = 96
    height: int = 26

    def _coords(self) -> list[tuple[float, float] | None]:
        values = [v for _p, v in self.points if v is not None]
        if not values:
            return [None] * len(self.points)
        low, high = min(values), max(values)
        step = (self.width - 6) / max(len(self.points) - 1, 1)
        coords: list[tuple[float, float] | None] = []
        for i, (_period, value) in enumerate(self.points):
            if value is None:
                coords.append(None)
                continue
            y = self.height / 2 if high == low else 3 + (self.height - 6) * (1 - float((value - low) / (high - low)))
            coords.append((3 + step * i, y))
        return coords

    @property
    def segments(self) -> list[str]:
        """SVG ``points`` attributes, one per run of periods with a value."""
        out, current = [], []
        for point in self._coords():
            if point is None:
                if len(current) > 1:
                    out.append(" ".join(current))
                current = []
                continue
            current.append(f"{point[0]:.1f},{point[1]:.1f}")
        if len(current) > 1:
            out.append(" ".join(current))
        return out

    @property
    def dots(self) -> list[tuple[str, str]]:
        return [(f"{p[0]:.1f}", f"{p[1]:.1f}") for p in self._coords() if p is not None]

    @property
    def has_values(self) -> bool:
        return any(v is not None for _p, v in self.points)

    @property
    def last_point(self) -> tuple[str, str] | None:
        point = self._coords()[-1] if self.points else None
        return None if point is None else (f"{point[0]:.1f}", f"{point[1]:.1f}")

    def title(self, indicator: Indicator) -> str:
        return "\n".join(f"{p.label}：{value_text(indicator, v) or '—'}" for p, v in self.points)


@dataclass
class Row:
    """One indicator for the scope's unit and period, with what is behind the figure."""

    indicator: Indicator
    result: Result | None
    baseline: Decimal | None
    numerator_formula: str
    denominator_formula: str
    target: str
    spark: Spark | None = None
    drill_level: str | None = None

    @property
    def value(self) -> Decimal | None:
        return self.result.value if self.result else None

    @property
    def value_text(self) -> str:
        return value_text(self.indicator, self.value)

    @property
    def baseline_text(self) -> str:
        return value_text(self.indicator, self.baseline)

    @property
    def numerator_text(self) -> str:
        return number_text(self.result.numerator) if self.result else ""

    @property
    def denominator_text(self) -> str:
        return number_text(self.result.denominator) if self.result else ""

    @property
    def is_mean(self) -> bool:
        return self.indicator.aggregation == Indicator.Aggregation.MEAN

    @property
    def units_averaged(self) -> int:
        return self.result.units_averaged if self.result else 0

    @property
    def met(self) -> str:
        return met_state(self.result)

    @property
    def met_label(self) -> str:
        return str(MET_LABELS[self.met])

    @property
    def spark_title(self) -> str:
        return self.spark.title(self.indicator) if self.spark else ""


@dataclass
class Group:
    category: str
    rows: list[Row] = field(default_factory=list)


def visible_indicators(user, unit_scope: UnitScope) -> list[Indicator]:
    """Active indicators of the shared catalogue and of the scope's county that mean something at
    the scope's level (one query)."""
    qs = (scoping.queryset_for(user, Indicator).filter(is_active=True)
          .filter(Q(county__isnull=True) | Q(county=unit_scope.county)).order_by("order", "code", "pk"))
    return [i for i in qs if applies(i, unit_scope.level, unit_scope.institution, unit_scope.role)]


def _baseline(result: Result | None, previous: Result | None) -> Decimal | None:
    if result is not None and result.baseline is not None:
        return result.baseline
    return previous.value if previous is not None else None


def indicator_rows(indicators: list[Indicator], unit_scope: UnitScope, period: Period,
                   names: dict[str, str]) -> list[Row]:
    """Every indicator for the scope's unit: this period, the same period last year and the last
    ``SPARK_PERIODS`` periods. One engine, one grouped read per period read."""
    if not indicators:
        return []
    engine = Engine(indicators, [unit_scope.county.pk])
    units = unit_scope.units()
    spark_periods = [period.shift(-i) for i in range(SPARK_PERIODS - 1, -1, -1)]
    computed = {p: engine.compute(p, unit_scope.level, units=units)
                for p in sorted({*spark_periods, period.same_period_last_year})}
    child = unit_scope.child_level
    rows = []
    for indicator in indicators:
        key = (indicator.pk, unit_scope.unit_id)
        result = computed[period].get(key)
        previous = computed[period.same_period_last_year].get(key)
        points = []
        for p in spark_periods:
            r = computed[p].get(key)
            points.append((p, r.value if r else None))
        rows.append(Row(
            indicator=indicator, result=result, baseline=_baseline(result, previous),
            numerator_formula=formula_text(indicator.numerator, names),
            denominator_formula=formula_text(indicator.denominator, names),
            target=target_text(indicator), spark=Spark(points),
            drill_level=child if child and indicator.applies_at(child) else None,
        ))
    return rows


def grouped(rows: list[Row]) -> list[Group]:
    """Rows by category, the categories in the order they first appear."""
    first = {}
    for position, row in enumerate(rows):
        first.setdefault(row.indicator.category, position)
    ordered = sorted(rows, key=lambda r: first[r.indicator.category])
    return [Group(category, list(items)) for category, items in groupby(ordered, key=lambda r: r.indicator.category)]


@dataclass
class Tally:
    met: int = 0
    not_met: int = 0
    undetermined: int = 0
    no_data: int = 0
    total: int = 0


def tally(rows: list[Row]) -> Tally:
    counts = Tally(total=len(rows))
    for row in rows:
        state = row.met
        if state == MET:
            counts.met += 1
        elif state == NOT_MET:
            counts.not_met += 1
        elif state == UNDETERMINED:
            counts.undetermined += 1
        elif state == NO_DATA:
            counts.no_data += 1
    return counts


# One level down -------------------------------------------------------------------------------

@dataclass
class UnitRow:
    """One alliance or member institution on one indicator."""

    level: str
    unit: Alliance | Institution
    row: Row
    role: str = ""

    @property
    def query(self) -> str:
        return f"{self.level}={self.unit.pk}"

    @property
    def is_lead(self) -> bool:
        return self.role == AllianceMembership.Role.LEAD


def child_units(user, unit_scope: UnitScope, period: Period) -> list[tuple[Alliance | Institution, str]]:
    """The units one level down that the user sees, with their role: the active alliances of a
    county; the members of an alliance on the period's last day (the lead first). One query."""
    if unit_scope.level == "county":
        alliances = list(scoping.queryset_for(user, Alliance).filter(county=unit_scope.county, is_active=True))
        alliances.sort(key=lambda a: natural_key(a.name))
        return [(a, "") for a in alliances]
    if unit_scope.level == "alliance":
        memberships = list(
            AllianceMembership.objects.on(period.end).filter(alliance=unit_scope.alliance)
            .filter(institution__in=_institution_queryset(user).values("pk"))
            .select_related("institution"))
        memberships.sort(key=lambda m: (m.role != AllianceMembership.Role.LEAD, m.institution.kind,
                                        natural_key(m.institution.name)))
        return [(m.institution, m.role) for m in memberships]
    return []


def unit_rows(indicator: Indicator, unit_scope: UnitScope, period: Period, children, names: dict[str, str],
              engine: Engine | None = None) -> list[UnitRow]:
    """The indicator for each unit one level down, this period and the same period last year."""
    level = unit_scope.child_level
    if level is None or not indicator.applies_at(level):
        return []
    if level == "institution":
        children = [(unit, role) for unit, role in children if applies(indicator, level, unit, role)]
    if not children:
        return []
    engine = engine or Engine([indicator], [unit_scope.county.pk])
    units = Units(level, [u.pk for u, _role in children], {u.pk: unit_scope.county.pk for u, _role in children})
    now = engine.compute(period, level, units=units)
    before = engine.compute(period.same_period_last_year, level, units=units)
    numerator = formula_text(indicator.numerator, names)
    denominator = formula_text(indicator.denominator, names)
    target = target_text(indicator)
    rows = []
    for unit, role in children:
        result = now.get((indicator.pk, unit.pk))
        rows.append(UnitRow(level, unit, Row(indicator, result, _baseline(result, before.get((indicator.pk, unit.pk))),
                                             numerator, denominator, target), role))
    return rows


# Trend ----------------------------------------------------------------------------------------

@dataclass
class Trend:
    periods: list[Period]
    values: list[Decimal | None]
    last_year: list[Decimal | None]
    met: list[str]


def trend(indicator: Indicator, unit_scope: UnitScope, period: Period, engine: Engine) -> Trend:
    """The indicator for the scope's unit over the last ``TREND_PERIODS`` periods, with the same
    periods a year earlier: one grouped read per period."""
    count = TREND_PERIODS[period.kind]
    # A direction target brings last year's value with each result; otherwise the trend reaches a
    # year further back for it.
    back = 0 if indicator.has_direction else period.kind.per_year
    periods = [period.shift(-i) for i in range(count - 1 + back, -1, -1)]
    units = unit_scope.units()
    key = (indicator.pk, unit_scope.unit_id)
    results = {p: engine.compute(p, unit_scope.level, units=units).get(key) for p in periods}
    shown = periods[-count:]
    return Trend(
        periods=shown,
        values=[results[p].value if results[p] else None for p in shown],
        last_year=[_baseline(results[p], results.get(p.same_period_last_year)) for p in shown],
        met=[met_state(results[p]) for p in shown],
    )


def as_float(value: Decimal | None, decimals: int) -> float | None:
    return None if value is None else float(round(value, decimals))
