"""The quarterly evaluation (评价): run a scheme for a county and a period, score every alliance and
every member institution on each item, total and rank them, and keep the result as a run.

Who is evaluated
    The alliances of the county that have members in force on the period's last day, and those
    members (the lead hospitals and the other members, never village clinics). A member's rows
    also carry the alliance it belonged to on that day, so a table can group members under their
    alliance without asking the membership history again.

Which items apply
    An item applies at a level when its indicator does (``Indicator.levels``): a county-only
    indicator (县域内住院率) gives no row for alliances or institutions. To a member institution it
    applies when every reference of the indicator's formulas can count that institution: ``@lead``
    only the lead hospital, ``@primary`` only primary-care centres, ``@hospital`` county-level
    hospitals, ``@member`` members other than the lead, no filter and ``@county`` everybody. A
    township centre is therefore not scored on the lead hospital's surgery share. An item that does
    not apply has no row, and does not count in the unit's full marks.

Scoring rules (``SchemeItem.Rule``), every score a Decimal quantized to 0.01 (half up)
    met
        the full weight when the indicator's target is met, else 0.
    proportional
        the full weight when the target is met (in any of its ways: "≥ 90% or rising" is met by
        rising); otherwise the share of the way to the threshold: weight × value / target for a
        "≥" target, weight × target / value for a "≤" target (0 for a value at or below zero
        against "≥", full marks for a value at or below zero against "≤"). A target that needs
        the threshold *and* a rise ("≥ 60% and rising") gives the share only when the rise is
        there, else 0. Direction-only indicators (rise or fall against the same period last year)
        have no distance to measure: full weight when met, else 0, as the met rule.
    rank
        the units of the level the item applies to and that have a value are ranked by value, the
        better end first (lower is better for a "≤" target or a fall, higher otherwise); ties share
        the best rank (1, 1, 3). With n ranked units, rank r scores weight × (n − r + 1) / n: the
        first gets the full weight, the last weight / n, equal values equal scores. Alliances and
        member institutions are ranked separately.

    A unit without a value (nothing filed) scores 0 on any rule and is *flagged*: its row's
    ``met`` is empty. ``met`` is also empty when the value exists but the target cannot be judged
    (a direction target without last year's value); such a unit scores 0 under the met rule.

Ranks
    An item row's ``rank`` is the unit's place by score among the units of its level the item
    applies to (ties share, units without a value are not ranked). A total row (``item`` empty)
    holds the sum of the unit's item scores; totals are ranked by the score as a share of the
    full marks of the items that apply to the unit (得分率), ties share. Alliances all have the
    same full marks, so their ranking is the ranking by total score; members do not (a lead
    hospital is scored on more items than a township centre), hence the share.

Cost
    A constant number of queries whatever the number of alliances, institutions or items: the
    items, the memberships, the engine's grouped reads (elements, the period, the same period last
    year, and the institutions for indicators that average unit values), the run, and one bulk
    insert of the scores (on SQLite Django splits a bulk insert into batches of 111 rows, the
    999-parameter limit, so a very large county costs one more INSERT per 111 rows there).

Re-running a scheme for the same county and period makes a new run; the old ones are kept
(``latest_run`` picks the newest).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from alliances.models import Alliance, AllianceMembership, Institution, Region
from alliances.views.common import natural_key
from core.periods import Period, PeriodError, PeriodKind
from indicators.engine import HOSPITAL_KINDS, PRIMARY_KINDS, TOWNSHIP_KINDS, Engine, Result, Units, parsed
from indicators.models import EvaluationRun, EvaluationScheme, EvaluationScore, Indicator, SchemeItem

ALLIANCE, INSTITUTION = "alliance", "institution"
CENT = Decimal("0.01")
VALUE_PLACES = Decimal("0.000001")  # EvaluationScore.value and baseline keep 6 decimal places
VALUE_LIMIT = Decimal(10) ** 14  # max_digits 20 − 6 decimals
ZERO = Decimal(0)
ONE = Decimal(1)


# Scoring (pure functions, no database) -------------------------------------------------------------

def higher_is_better(indicator: Indicator) -> bool:
    """Whether a larger value is the better one: not for a "≤" target or an indicator that should fall."""
    if indicator.has_threshold and indicator.target_operator == Indicator.Operator.LE:
        return False
    if indicator.has_direction and indicator.direction == Indicator.Direction.DOWN:
        return False
    return True


def threshold_ratio(indicator: Indicator, value: Decimal) -> Decimal:
    """How far ``value`` has come towards the indicator's threshold, from 0 to 1."""
    target = indicator.target_value
    if indicator.target_operator == Indicator.Operator.LE:
        if value <= target:
            return ONE
        return target / value if target > 0 else ZERO
    if indicator.threshold_met(value):
        return ONE
    return value / target if value > 0 and target > 0 else ZERO


def score_ratio(rule: str, result: Result) -> Decimal:
    """The share of the weight ``result`` earns under the met or proportional rule."""
    if result.value is None:
        return ZERO
    if result.met is True:
        return ONE
    indicator = result.indicator
    if rule != SchemeItem.Rule.PROPORTIONAL:
        return ZERO
    if not indicator.has_threshold or indicator.target_value is None:
        return ZERO  # direction only (or no target): all or nothing
    if indicator.target_kind == Indicator.TargetKind.ALL and result.met_direction is not True:
        return ZERO  # "≥ x and rising": the share only counts once the rise is there
    return threshold_ratio(indicator, result.value)


def competition_ranks(values: dict[Hashable, Decimal], *, descending: bool = True) -> dict[Hashable, int]:
    """Standard competition ranking ("1224"): equal values share the best rank."""
    ordered = sorted(values.items(), key=lambda kv: kv[1], reverse=descending)
    ranks: dict[Hashable, int] = {}
    previous = None
    for position, (key, value) in enumerate(ordered, start=1):
        if previous is None or value != previous[1]:
            previous = (position, value)
        ranks[key] = previous[0]
    return ranks


def rank_score(weight: Decimal, rank: int, ranked: int) -> Decimal:
    """The linear rank rule: rank 1 of n earns the weight, rank n earns weight / n."""
    return weight * Decimal(ranked - rank + 1) / Decimal(ranked)


def quantize_score(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _stored(value: Decimal | None) -> Decimal | None:
    if value is None or abs(value) >= VALUE_LIMIT:
        return None
    return value.quantize(VALUE_PLACES, rounding=ROUND_HALF_UP)


def reaches_institution(indicator: Indicator, kind: str, role: str) -> bool:
    """Whether every reference of the indicator's formulas can count an institution of ``kind``
    in ``role`` (so the indicator has a meaning for it)."""
    tests: dict[str, Callable[[], bool]] = {
        "all": lambda: True,
        "county": lambda: True,
        "lead": lambda: role == AllianceMembership.Role.LEAD,
        "member": lambda: role == AllianceMembership.Role.MEMBER,
        "primary": lambda: kind in PRIMARY_KINDS,
        "township": lambda: kind in TOWNSHIP_KINDS,
        "hospital": lambda: kind in HOSPITAL_KINDS,
    }
    for text in (indicator.numerator, indicator.denominator):
        formula = parsed(text)
        if formula is None:
            continue
        for ref in formula.refs:
            if not tests.get(ref.filter, lambda: False)():
                return False
    return True


@dataclass
class _Scored:
    """One unit's row on one item before it is stored."""

    unit: int
    result: Result
    score: Decimal = ZERO
    rank: int | None = None


def score_item(item: SchemeItem, results: Iterable[Result]) -> list[_Scored]:
    """Scores and ranks of the units in ``results`` (one level, the units the item applies to)."""
    rows = [_Scored(result.unit_id, result) for result in results]
    weight = item.weight
    if item.rule == SchemeItem.Rule.RANK:
        valued = {row.unit: row.result.value for row in rows if row.result.value is not None}
        places = competition_ranks(valued, descending=higher_is_better(item.indicator))
        for row in rows:
            if row.unit in places:
                row.score = quantize_score(rank_score(weight, places[row.unit], len(valued)))
    else:
        for row in rows:
            row.score = quantize_score(weight * score_ratio(item.rule, row.result))
    by_score = competition_ranks({row.unit: row.score for row in rows if row.result.value is not None})
    for row in rows:
        row.rank = by_score.get(row.unit)
    return rows


def rank_totals(totals: dict[int, Decimal], full_marks: dict[int, Decimal]) -> dict[int, int]:
    """Ranks of the totals by their share of the unit's full marks (ties share)."""
    rates = {unit: (total / full_marks[unit] if full_marks.get(unit) else ZERO) for unit, total in totals.items()}
    return competition_ranks(rates)


# The run -------------------------------------------------------------------------------------------

def _as_period(period: Period | str) -> Period:
    if isinstance(period, Period):
        return period
    try:
        return Period.parse(period)
    except PeriodError as exc:
        raise ValidationError(str(exc), code="period") from None


def _check(scheme: EvaluationScheme, county: Region, period: Period) -> None:
    if county.level != Region.Level.COUNTY:
        raise ValidationError(_("An evaluation is run for a county."), code="county")
    if scheme.county_id is not None and scheme.county_id != county.pk:
        raise ValidationError(_("This evaluation scheme belongs to another county."), code="scheme")
    if period.kind != scheme.period_kind:
        raise ValidationError(
            _("%(scheme)s is run per %(kind)s, not for %(period)s.")
            % {"scheme": scheme.name, "kind": Period(period.year, PeriodKind(scheme.period_kind), 1).kind_label,
               "period": period.label},
            code="period_kind",
        )


@dataclass
class _Members:
    alliance_ids: list[int] = field(default_factory=list)
    institution_ids: list[int] = field(default_factory=list)
    alliance_of: dict[int, int] = field(default_factory=dict)
    kind_of: dict[int, str] = field(default_factory=dict)
    role_of: dict[int, str] = field(default_factory=dict)


def _members(county: Region, period: Period) -> _Members:
    """The members in force on the period's last day and their alliances (one query)."""
    rows = (AllianceMembership.objects.on(period.end)
            .filter(alliance__county=county)
            .exclude(institution__kind=Institution.Kind.VILLAGE_CLINIC)
            .order_by("alliance_id", "institution_id")
            .values_list("institution_id", "alliance_id", "role", "institution__kind"))
    members = _Members()
    for institution_id, alliance_id, role, kind in rows:
        if institution_id in members.alliance_of:
            continue  # overlapping memberships cannot be saved; keep the first if one slipped in
        members.alliance_of[institution_id] = alliance_id
        members.kind_of[institution_id] = kind
        members.role_of[institution_id] = role
        members.institution_ids.append(institution_id)
    members.alliance_ids = sorted(set(members.alliance_of.values()))
    return members


def evaluation_run(*, scheme: EvaluationScheme, county: Region, period: Period | str, user=None) -> EvaluationRun:
    """Evaluate ``county`` for ``period`` by ``scheme`` and store the scores as a new run.

    Raises ``ValidationError`` (a message for the user) for a region that is not a county, a
    scheme of another county or a period of the wrong kind. Checks no permission: the caller
    decides who may run an evaluation. A constant number of queries (see the module docstring)."""
    period = _as_period(period)
    _check(scheme, county, period)
    items = list(SchemeItem.objects.filter(scheme=scheme).select_related("indicator").order_by("order", "pk"))
    members = _members(county, period)

    engine = Engine([item.indicator for item in items], [county.pk])
    alliance_units = Units(ALLIANCE, members.alliance_ids, {pk: county.pk for pk in members.alliance_ids})
    institution_units = Units(INSTITUTION, members.institution_ids,
                              {pk: county.pk for pk in members.institution_ids})
    computed = {
        ALLIANCE: engine.compute(period, ALLIANCE, units=alliance_units) if alliance_units.ids else {},
        INSTITUTION: engine.compute(period, INSTITUTION, units=institution_units) if institution_units.ids else {},
    }

    scores: list[EvaluationScore] = []
    totals: dict[str, dict[int, Decimal]] = {ALLIANCE: {}, INSTITUTION: {}}
    full_marks: dict[str, dict[int, Decimal]] = {ALLIANCE: {}, INSTITUTION: {}}
    units_of = {ALLIANCE: members.alliance_ids, INSTITUTION: members.institution_ids}
    for level in (ALLIANCE, INSTITUTION):
        for unit in units_of[level]:
            totals[level][unit] = ZERO
            full_marks[level][unit] = ZERO

    def unit_fields(level: str, unit: int) -> dict:
        if level == ALLIANCE:
            return {"alliance_id": unit}
        return {"institution_id": unit, "alliance_id": members.alliance_of[unit]}

    for item in items:
        indicator = item.indicator
        for level in (ALLIANCE, INSTITUTION):
            results = []
            for unit in units_of[level]:
                result = computed[level].get((indicator.pk, unit))
                if result is None:
                    continue  # the indicator means nothing at this level
                if level == INSTITUTION and not reaches_institution(
                        indicator, members.kind_of[unit], members.role_of[unit]):
                    continue
                results.append(result)
            for row in score_item(item, results):
                result = row.result
                totals[level][row.unit] += row.score
                full_marks[level][row.unit] += item.weight
                scores.append(EvaluationScore(
                    item=item, value=_stored(result.value), baseline=_stored(result.baseline), met=result.met,
                    score=row.score, rank=row.rank, **unit_fields(level, row.unit)))

    for level in (ALLIANCE, INSTITUTION):
        ranks = rank_totals(totals[level], full_marks[level])
        for unit, total in totals[level].items():
            scores.append(EvaluationScore(item=None, score=total, rank=ranks.get(unit), **unit_fields(level, unit)))

    with transaction.atomic():
        run = EvaluationRun.objects.create(scheme=scheme, county=county, period=str(period),
                                           created_at=timezone.now(), created_by=user)
        for score in scores:
            score.run = run
        EvaluationScore.objects.bulk_create(scores)
    return run


def latest_run(*, scheme: EvaluationScheme, county: Region, period: Period | str) -> EvaluationRun | None:
    """The newest run of ``scheme`` for ``county`` and ``period`` (one query), or None."""
    return (EvaluationRun.objects.filter(scheme=scheme, county=county, period=str(_as_period(period)))
            .order_by("-created_at", "-pk").first())


# Reading a run -------------------------------------------------------------------------------------

@dataclass
class Cell:
    """A unit's row on one item."""

    value: Decimal | None
    baseline: Decimal | None
    met: bool | None
    score: Decimal
    rank: int | None

    @property
    def flagged(self) -> bool:
        """Scored without a judgement: no value, or a target that could not be judged."""
        return self.met is None


@dataclass
class UnitScores:
    """An alliance's or a member's column of the table: its item cells and total."""

    level: str
    unit: Alliance | Institution
    alliance: Alliance  # the alliance itself, or the member's alliance at the period's end
    is_lead: bool = False
    cells: dict[int, Cell] = field(default_factory=dict)  # scheme item id -> cell (absent: does not apply)
    total: Decimal = ZERO
    full_marks: Decimal = ZERO
    rank: int | None = None

    @property
    def rate(self) -> Decimal | None:
        """The total as a percentage of the full marks of the items that apply (得分率)."""
        if not self.full_marks:
            return None
        return quantize_score(self.total / self.full_marks * 100)

    def cell(self, item: SchemeItem) -> Cell | None:
        return self.cells.get(item.pk)


@dataclass
class EvaluationTable:
    """A run as a table: the scheme's items in order × the alliances (and the members)."""

    run: EvaluationRun
    period: Period
    items: list[SchemeItem]
    alliances: list[UnitScores]
    members: list[UnitScores]

    @property
    def full_marks(self) -> Decimal:
        return sum((item.weight for item in self.items), ZERO)

    def members_of(self, alliance: Alliance) -> list[UnitScores]:
        return [m for m in self.members if m.alliance.pk == alliance.pk]


def evaluation_table(run: EvaluationRun) -> EvaluationTable:
    """Read ``run`` for display or export: the scheme's items (with their indicators) in order, the
    alliances by name, the members under their alliance (lead first, then by name). Three queries:
    the items, the scores with their units, the leads at the period's end."""
    period = Period.parse(run.period)
    items = list(SchemeItem.objects.filter(scheme_id=run.scheme_id).select_related("indicator")
                 .order_by("order", "pk"))
    scores = list(EvaluationScore.objects.filter(run=run).select_related("alliance", "institution")
                  .order_by("pk"))
    alliances: dict[int, UnitScores] = {}
    members: dict[int, UnitScores] = {}
    for score in scores:
        if score.institution_id is None:
            column = alliances.get(score.alliance_id)
            if column is None:
                column = alliances[score.alliance_id] = UnitScores(ALLIANCE, score.alliance, score.alliance)
        else:
            column = members.get(score.institution_id)
            if column is None:
                column = members[score.institution_id] = UnitScores(INSTITUTION, score.institution, score.alliance)
        if score.item_id is None:
            column.total, column.rank = score.score, score.rank
        else:
            column.cells[score.item_id] = Cell(score.value, score.baseline, score.met, score.score, score.rank)
    weights = {item.pk: item.weight for item in items}
    for column in [*alliances.values(), *members.values()]:
        column.full_marks = sum((weights.get(pk, ZERO) for pk in column.cells), ZERO)
    if members:
        leads = set(AllianceMembership.objects.on(period.end)
                    .filter(institution_id__in=list(members), role=AllianceMembership.Role.LEAD)
                    .values_list("institution_id", flat=True))
        for pk, column in members.items():
            column.is_lead = pk in leads
    alliance_list = sorted(alliances.values(), key=lambda c: (natural_key(c.unit.name), c.unit.pk))
    order = {column.unit.pk: n for n, column in enumerate(alliance_list)}
    member_list = sorted(members.values(), key=lambda c: (order.get(c.alliance.pk, len(order)), not c.is_lead,
                                                          c.unit.name, c.unit.pk))
    return EvaluationTable(run=run, period=period, items=items, alliances=alliance_list, members=member_list)

