"""Indicator-backed task items: proposals of links from an item's target text, and the judging of
linked items against their indicators. Here because it needs both the task ledgers and the indicators
(``tasks`` and ``indicators`` are siblings that do not import each other).

Judging is set-based: every linked item of the counties asked for is read in one query, their
indicators in one, the forms that feed them in one, and the indicator engine computes all of them
per (period, level) in its few grouped queries — the same number of queries for 5 items or 500.

An item is judged at the last complete period of its indicator's form kind (the coarsest kind among
the county's forms that carry the indicator's data elements: a quarterly element makes a quarterly
indicator), against the same period last year (rise/fall) and the previous period (the trend), for
the county or for each assigned alliance. ``tasks.services.targets.targets_record`` keeps the
figures and records the status changes they cause, once.

When: after a filing's review (``indicators.signals.filing_reviewed``: approve, return, unlock) for
the items of that county fed by that form, and nightly for every county (``reports.jobs``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import F, Q
from django.utils import timezone

from core.clock import local_date
from core.periods import Period, PeriodKind
from indicators.engine import Engine, parsed
from indicators.models import FormElement, Indicator
from tasks.models import Assignment, Ledger, TaskItem
from tasks.services.targets import Judgement, item_link_target, targets_record
from tasks.targets import Proposal, propose_targets, target_label, target_met, target_trend

logger = logging.getLogger(__name__)

KIND_ORDER = [PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF_YEAR, PeriodKind.YEAR]
FOUR_PLACES = Decimal("0.0001")


# Indicators a county may link -------------------------------------------------------------------

def indicators_by_code(county_ids: Iterable[int], codes: Iterable[str] | None = None) -> dict[tuple[int, str], Indicator]:
    """``{(county id, code): Indicator}``: the active indicators each county may use, its own
    before the shared catalogue's of the same code. One query."""
    county_ids = set(county_ids)
    qs = Indicator.objects.filter(is_active=True).filter(Q(county__isnull=True) | Q(county_id__in=county_ids))
    if codes is not None:
        qs = qs.filter(code__in=set(codes))
    found: dict[tuple[int, str], Indicator] = {}
    for indicator in qs.order_by(F("county_id").asc(nulls_first=True), "pk"):
        for county_id in county_ids if indicator.county_id is None else [indicator.county_id]:
            if county_id in county_ids:
                found[(county_id, indicator.code)] = indicator  # a county's own comes last and wins
    return found


def levels_of(indicator: Indicator) -> list[str]:
    """The link levels an indicator allows (county; alliance when it means something there)."""
    return [level for level in (TaskItem.TargetLevel.COUNTY, TaskItem.TargetLevel.ALLIANCE)
            if indicator.applies_at(level)]


# Proposals --------------------------------------------------------------------------------------

@dataclass
class ProposalRow:
    item: TaskItem
    proposal: Proposal
    indicator: Indicator | None
    linked: bool  # the item is linked to exactly this already

    @property
    def linkable(self) -> bool:
        return self.indicator is not None

    @property
    def target(self) -> str:
        return target_label(self.proposal.operator, self.proposal.value, self.proposal.points)

    @property
    def level(self) -> str:
        """The level a confirmation links at: the county when the indicator means something there."""
        levels = levels_of(self.indicator) if self.indicator is not None else []
        return levels[0] if levels else ""


def proposals_for(items: Iterable[TaskItem], county_id: int) -> list[ProposalRow]:
    """What the items' target texts propose, each with the indicator it would link (None: "not in
    the catalogue", not linkable). One query."""
    items = list(items)
    by_item = [(item, propose_targets(item.target_text)) for item in items]
    codes = {p.code for _item, proposals in by_item for p in proposals}
    indicators = indicators_by_code([county_id], codes) if codes else {}
    rows = []
    for item, proposals in by_item:
        for proposal in proposals:
            linked = (item.is_linked and item.indicator_code == proposal.code
                      and item.target_operator == proposal.operator and item.target_value == proposal.value
                      and item.target_points == proposal.points)
            rows.append(ProposalRow(item, proposal, indicators.get((county_id, proposal.code)), linked))
    return rows


def ledger_proposals(ledger: Ledger) -> list[ProposalRow]:
    """The proposals of every active item of ``ledger`` with a target text. Two queries."""
    items = ledger.items.filter(is_active=True).exclude(target_text="").order_by("order", "pk")
    return proposals_for(items, ledger.county_id)


def confirm_first_proposals(ledger: Ledger, *, user, now, request=None, auto_complete: bool = True) -> int:
    """Link each unlinked item of ``ledger`` to its first linkable proposal, then judge them once.
    Returns how many items were linked. Items already linked are left as the bureau set them."""
    chosen = {}
    for row in ledger_proposals(ledger):
        if row.linkable and row.level and not row.item.is_linked and row.item.pk not in chosen:
            chosen[row.item.pk] = row
    for row in chosen.values():
        proposal = row.proposal
        item_link_target(item=row.item, user=user, indicator_code=proposal.code, level=row.level,
                         operator=proposal.operator, value=proposal.value,
                         points=proposal.points,
                         auto_complete=auto_complete, now=now, request=request)
    if chosen:
        items = list(TaskItem.objects.filter(pk__in=list(chosen)).select_related("ledger"))
        judge_items(items, now=now)
    return len(chosen)


# Judging ----------------------------------------------------------------------------------------

@dataclass
class JudgeStats:
    items: int = 0
    judged: int = 0
    events: int = 0
    unjudged: list[int] = field(default_factory=list)  # items whose indicator is missing or fed by no form

    def as_dict(self) -> dict:
        return {"items": self.items, "judged": self.judged, "events": self.events, "unjudged": len(self.unjudged)}


def _element_codes(indicator: Indicator) -> set[str]:
    codes: set[str] = set()
    for text in (indicator.numerator, indicator.denominator):
        formula = parsed(text)
        if formula is not None:
            codes.update(formula.codes)
    return codes


def last_complete_period(kind: PeriodKind, now: datetime) -> Period:
    """The last period of ``kind`` that has ended by ``now`` (Asia/Shanghai)."""
    return Period.containing_date(kind, local_date(now)).previous


def _quantized(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(FOUR_PLACES)


def judge_items(items: Iterable[TaskItem], *, now: datetime, form_id: int | None = None) -> JudgeStats:
    """Judge the linked ``items`` (with ``ledger`` loaded) and keep the results; with ``form_id``,
    only those whose indicator that form feeds. A constant number of queries."""
    items = [item for item in items if item.is_linked]
    stats = JudgeStats()
    if not items:
        return stats
    county_ids = {item.ledger.county_id for item in items}
    indicators = indicators_by_code(county_ids, {item.indicator_code for item in items})
    codes_of = {indicator.pk: _element_codes(indicator) for indicator in indicators.values()}
    all_codes = set().union(*codes_of.values()) if codes_of else set()
    # (county, element code) -> the forms' period kinds and ids
    feeds: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
    for county_id, form_pk, kind, code in (FormElement.objects.filter(
            form__county_id__in=county_ids, form__is_active=True, element__code__in=all_codes)
            .values_list("form__county_id", "form_id", "form__period_kind", "element__code")):
        feeds[(county_id, code)].append((form_pk, kind))

    plan: dict[tuple[Period, str], list[tuple[TaskItem, Indicator]]] = defaultdict(list)
    for item in items:
        county_id = item.ledger.county_id
        indicator = indicators.get((county_id, item.indicator_code))
        forms = [f for code in codes_of.get(indicator.pk, ()) for f in feeds.get((county_id, code), ())] \
            if indicator else []
        if form_id is not None and form_id not in {pk for pk, _kind in forms}:
            continue
        stats.items += 1
        if indicator is None or not forms or not indicator.applies_at(item.target_level):
            stats.unjudged.append(item.pk)
            continue
        kind = max((PeriodKind(kind) for _pk, kind in forms), key=KIND_ORDER.index)
        plan[(last_complete_period(kind, now), item.target_level)].append((item, indicator))
    if form_id is not None and not stats.items:
        return stats

    judged_items = [item for rows in plan.values() for item, _i in rows]
    unjudged = [item for item in items if item.pk in set(stats.unjudged)]
    assignments = list(Assignment.objects.filter(item__in=[*judged_items, *unjudged], is_active=True))
    item_by_pk = {item.pk: item for item in items}
    for assignment in assignments:
        assignment.item = item_by_pk[assignment.item_id]
    by_item: dict[int, list[Assignment]] = defaultdict(list)
    for assignment in assignments:
        by_item[assignment.item_id].append(assignment)

    judgements: dict[tuple[str, int], Judgement] = {}
    for item in unjudged:
        label = target_label(item.target_operator, item.target_value, item.target_points)
        empty = Judgement("", None, None, None, label, None, "")
        if item.judged_by_alliance:
            judgements.update({("assignment", a.pk): empty for a in by_item[item.pk] if a.alliance_id})
        else:
            judgements[("item", item.pk)] = empty

    if plan:
        engine = Engine({indicator.pk: indicator for rows in plan.values() for _item, indicator in rows}.values(),
                        county_ids)
        for (period, level), rows in plan.items():
            if level == TaskItem.TargetLevel.ALLIANCE:
                unit_ids = {a.alliance_id for item, _i in rows for a in by_item[item.pk] if a.alliance_id}
            else:
                unit_ids = {item.ledger.county_id for item, _i in rows}
            if not unit_ids:
                continue
            units = engine.units(level, unit_ids)
            figures = {p: engine.compute(p, level, units=units)
                       for p in (period, period.same_period_last_year, period.previous)}
            for item, indicator in rows:
                stats.judged += 1
                if level == TaskItem.TargetLevel.ALLIANCE:
                    for assignment in by_item[item.pk]:
                        if assignment.alliance_id:
                            judgements[("assignment", assignment.pk)] = _judged(
                                item, indicator, assignment.alliance_id, period, figures)
                else:
                    judgements[("item", item.pk)] = _judged(item, indicator, item.ledger.county_id, period, figures)
    events = targets_record(items=[*judged_items, *unjudged], assignments=assignments, judgements=judgements,
                            now=now)
    stats.events = len(events)
    return stats


def _judged(item: TaskItem, indicator: Indicator, unit_id: int, period: Period, figures: dict) -> Judgement:
    """The judgement of ``item`` for one unit from the engine's results of the three periods."""
    value, last_year, previous = (
        _quantized(getattr(figures[p].get((indicator.pk, unit_id)), "value", None))
        for p in (period, period.same_period_last_year, period.previous))
    met = target_met(operator=item.target_operator, value=value, target=item.target_value,
                     points=item.target_points, last_year=last_year)
    trend = target_trend(operator=item.target_operator, value=value, previous=previous)
    label = target_label(item.target_operator, item.target_value, item.target_points)
    return Judgement(str(period), value, last_year, previous, label, met, trend)


def linked_items(county_ids: Iterable[int] | None = None):
    """Every active linked item (of active ledgers) of ``county_ids`` (all counties: None)."""
    qs = (TaskItem.objects.filter(is_active=True, ledger__is_active=True).exclude(indicator_code="")
          .exclude(target_operator="").exclude(target_level="").select_related("ledger"))
    if county_ids is not None:
        qs = qs.filter(ledger__county_id__in=list(county_ids))
    return qs.order_by("pk")


def judge_counties(*, now: datetime, county_ids: Iterable[int] | None = None, form_id: int | None = None) -> JudgeStats:
    """Judge every linked item of the counties (all: None), by county so that a province's night
    reads one county's figures at a time."""
    totals = JudgeStats()
    items = list(linked_items(county_ids))
    by_county: dict[int, list[TaskItem]] = defaultdict(list)
    for item in items:
        by_county[item.ledger.county_id].append(item)
    for county_items in by_county.values():
        stats = judge_items(county_items, now=now, form_id=form_id)
        totals.items += stats.items
        totals.judged += stats.judged
        totals.events += stats.events
        totals.unjudged += stats.unjudged
    return totals


def on_filing_reviewed(sender, *, county_id: int, form_id: int, period: str, action: str, **kwargs) -> None:
    """Receiver of ``indicators.signals.filing_reviewed``: re-judge the county's items fed by the form."""
    stats = judge_counties(now=timezone.now(), county_ids=[county_id], form_id=form_id)
    logger.info("targets re-judged after %s of form %s %s: %s", action, form_id, period, stats.as_dict())
