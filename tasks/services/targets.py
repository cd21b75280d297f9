"""Indicator-backed task items: linking an item to an indicator with a target, and keeping the
judgements of the indicator (made by ``reports.targets``, which reads the indicators) on the item or
its alliances' assignments, with the status changes they cause recorded as events once.

Linking is the bureau's and goes to the security log (link, change, unlink). Recording a judgement
is idempotent: the same figures judged twice change nothing and record nothing; an event is unique
per (assignment, kind, key) and its key holds the period and the value that caused it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core import audit
from tasks.models import JUDGED_FIELDS, Assignment, AssignmentEvent, TaskItem
from tasks.services.rollups import rollups_touch
from tasks.services.status import BATCH, FIELDS, rules_by_county, status_events
from tasks.status import Behind, Status
from tasks.targets import target_label

LINK_FIELDS = ("indicator_code", "target_level", "target_operator", "target_value", "target_points", "auto_complete")
THRESHOLD_OPERATORS = ("ge", "gt", "le")
DIRECTION_OPERATORS = ("rise", "fall")


@dataclass(frozen=True)
class Judgement:
    """One judgement of an item's indicator for the county or one alliance."""

    period: str
    value: Decimal | None
    last_year: Decimal | None
    previous: Decimal | None
    target: str
    met: bool | None
    trend: str

    def apply(self, row, now: datetime) -> None:
        """Write the judgement on ``row`` (an item or an assignment, not saved)."""
        row.judged_value, row.judged_last_year, row.judged_previous = self.value, self.last_year, self.previous
        row.judged_period, row.judged_target = self.period, self.target[:60]
        row.target_met, row.target_trend = self.met, self.trend
        row.target_checked_at = now

    def detail(self) -> str:
        def shown(value: Decimal | None) -> str:
            return "—" if value is None else _plain(value)

        return (_("%(period)s: %(value)s (target %(target)s; same period last year %(last_year)s; previous "
                  "period %(previous)s)") % {"period": self.period, "value": shown(self.value), "target": self.target,
                                             "last_year": shown(self.last_year), "previous": shown(self.previous)}
                )[:300]

    def key(self, kind: str) -> str:
        return f"{kind}:{self.period}:{_plain(self.value) if self.value is not None else '-'}"[:40]


def _plain(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# Linking ----------------------------------------------------------------------------------------

def _clean_link(*, level: str, operator: str, value: Decimal | None, points: Decimal | None) -> None:
    errors: dict[str, list[str]] = {}
    if level not in (TaskItem.TargetLevel.COUNTY, TaskItem.TargetLevel.ALLIANCE):
        errors["target_level"] = [_("Choose whether the target is judged for the county or for each alliance.")]
    if operator not in THRESHOLD_OPERATORS + DIRECTION_OPERATORS:
        errors["target_operator"] = [_("Choose the kind of target: at least, more than, at most, rise or fall.")]
    elif operator in THRESHOLD_OPERATORS and value is None:
        errors["target_value"] = [_("Give the target value the indicator must reach.")]
    if points is not None and points < 0:
        errors["target_points"] = [_("The points of a rise or fall cannot be negative.")]
    if points is not None and operator in THRESHOLD_OPERATORS:
        errors["target_points"] = [_("Points apply to a rise or fall against last year only.")]
    if errors:
        raise ValidationError(errors)


def item_link_target(*, item: TaskItem, user, indicator_code: str, level: str, operator: str,
                     value: Decimal | None, points: Decimal | None, auto_complete: bool, now: datetime,
                     request=None) -> str:
    """Link ``item`` to the indicator ``indicator_code`` (the caller has checked that the county may
    use it and that it means something at ``level``) with its target. Returns "link", "change" or
    "" when nothing changed (a double submit). The old judgement is cleared: ``reports.targets``
    judges the new link. Raises ValidationError by field."""
    _clean_link(level=level, operator=operator, value=value, points=points)
    wanted = {"indicator_code": indicator_code, "target_level": level, "target_operator": operator,
              "target_value": value, "target_points": points, "auto_complete": bool(auto_complete)}
    with transaction.atomic():
        item = TaskItem.objects.select_for_update().select_related("ledger").get(pk=item.pk)
        before = {field: getattr(item, field) for field in LINK_FIELDS}
        if before == wanted:
            return ""
        action = "change" if item.is_linked else "link"
        for field, new in wanted.items():
            setattr(item, field, new)
        item.clear_judgement()
        item.save(update_fields=[*LINK_FIELDS, *JUDGED_FIELDS, "updated_at"])
        _clear_assignments(item, now)
        event = audit.Event.TARGET_CHANGE if action == "change" else audit.Event.TARGET_LINK
        audit.record(event, request=request, actor=user, target=item, county_id=item.ledger.county_id, now=now,
                     details={"item": item.number, "ledger": item.ledger_id,
                              "before": {k: str(v) for k, v in before.items()} if action == "change" else {},
                              "after": {k: str(v) for k, v in wanted.items()}})
    return action


def item_unlink_target(*, item: TaskItem, user, now: datetime, request=None) -> bool:
    """Remove the item's link (the target text stays). False when it was not linked."""
    with transaction.atomic():
        item = TaskItem.objects.select_for_update().select_related("ledger").get(pk=item.pk)
        if not item.is_linked:
            return False
        before = {field: str(getattr(item, field)) for field in LINK_FIELDS}
        item.indicator_code, item.target_level, item.target_operator = "", "", ""
        item.target_value = item.target_points = None
        item.auto_complete = False
        item.clear_judgement()
        item.save(update_fields=[*LINK_FIELDS, *JUDGED_FIELDS, "updated_at"])
        _clear_assignments(item, now)
        audit.record(audit.Event.TARGET_UNLINK, request=request, actor=user, target=item,
                     county_id=item.ledger.county_id, now=now, details={"item": item.number, "before": before})
    return True


def _clear_assignments(item: TaskItem, now: datetime) -> None:
    """Forget the assignments' judgements of an old link and refresh their status (an item done by
    its old target opens again; the event says so)."""
    rows = list(item.assignments.filter(is_active=True))
    for row in rows:
        row.item = item
        row.clear_judgement()
    targets_record(items=[item], assignments=rows, judgements={}, now=now)


# Recording judgements ---------------------------------------------------------------------------

def _events(assignment: Assignment, result, judgement: Judgement | None, now: datetime) -> list[AssignmentEvent]:
    """Events of the status changes a judgement causes (compared with the cached status)."""
    was_by_target = assignment.status == Status.DONE and assignment.completed_at is None
    kinds = []
    if result.by_target and not was_by_target:
        kinds.append(AssignmentEvent.Kind.TARGET_MET)
    if was_by_target and not result.by_target:
        kinds.append(AssignmentEvent.Kind.TARGET_UNMET)
    if result.behind == Behind.TREND and assignment.behind != Behind.TREND:
        kinds.append(AssignmentEvent.Kind.TARGET_AWAY)
    rows = []
    for kind in kinds:
        if judgement is not None:
            key, detail = judgement.key(kind), judgement.detail()
        else:
            key, detail = f"{kind}:{now:%Y%m%d%H%M%S}", _("The item's indicator was unlinked or changed.")
        rows.append(AssignmentEvent(assignment=assignment, county_id=assignment.county_id, kind=kind, key=key[:40],
                                    detail=detail, happened_at=now))
    return rows


def targets_record(*, items: Iterable[TaskItem], assignments: Iterable[Assignment],
                   judgements: dict[tuple[str, int], Judgement], now: datetime) -> list[AssignmentEvent]:
    """Keep ``judgements`` — ``{("item", item id) or ("assignment", assignment id): Judgement}`` — on
    the items (judged for the county) and the assignments (judged per alliance), refresh the status
    of ``assignments`` (each with ``item`` set to one of ``items``, whose ``ledger`` is loaded) and
    record the changes as events. Saves only rows whose figures or status changed; a few queries
    whatever the number of rows."""
    items = list(items)
    rows = list(assignments)
    changed_items = []
    for item in items:
        judgement = judgements.get(("item", item.pk))
        if judgement is not None:
            judgement.apply(item, now)
            changed_items.append(item)
    rules = rules_by_county(a.county_id for a in rows) if rows else {}
    events: list[AssignmentEvent] = []
    changed = []
    for assignment in rows:
        judgement = judgements.get(("assignment", assignment.pk))
        moved = judgement is not None
        if moved:
            judgement.apply(assignment, now)
        if judgement is None and assignment.item.is_linked and not assignment.item.judged_by_alliance:
            judgement = judgements.get(("item", assignment.item_id))
        result = assignment.status_at(now, rules[assignment.county_id])
        events += status_events(assignment, result, now)
        events += _events(assignment, result, judgement, now)
        before = tuple(getattr(assignment, f) for f in FIELDS)
        assignment.set_status(result)
        if moved or tuple(getattr(assignment, f) for f in FIELDS) != before:
            changed.append(assignment)
    if not changed_items and not changed and not events:
        return []
    with transaction.atomic():
        TaskItem.objects.bulk_update(changed_items, list(JUDGED_FIELDS), batch_size=BATCH)
        Assignment.objects.bulk_update(changed, [*FIELDS, *JUDGED_FIELDS], batch_size=BATCH)
        AssignmentEvent.objects.bulk_create(events, ignore_conflicts=True)
        if changed:
            rollups_touch({a.county_id for a in changed}, now=now)
    return events


def target_text_of(item: TaskItem) -> str:
    """The item's linked target in words (≥90%; 同比提升≥1个百分点或≥90)."""
    return target_label(item.target_operator, item.target_value, item.target_points)
