"""Keeping the cached status of assignments true, and recording the changes worth telling people
(detect, then act: ``tasks.services.digests`` sends what is recorded here).

Every write that can change a status (a report, a review, a deadline set by a person, a new
assignment) calls ``assignments_refresh``; the daily job and the dashboard call
``assignments_refresh_due`` for the rows whose ``next_change_at`` has passed, which an index
finds. The update is conditional on the ``next_change_at`` read, so two runs at once record each
change once; events are unique per (assignment, kind, key) besides.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from tasks.models import Assignment, AssignmentEvent, TaskSettings
from tasks.services.rollups import rollups_touch
from tasks.status import DEFAULT_RULES, Behind, Status, StatusResult, StatusRules

BATCH = 500


def rules_by_county(county_ids: Iterable[int]) -> dict[int, StatusRules]:
    """Each county's light rules (defaults where it has none). One query."""
    ids = set(county_ids)
    rules = {pk: DEFAULT_RULES for pk in ids}
    for settings in TaskSettings.objects.filter(county_id__in=ids):
        rules[settings.county_id] = settings.rules
    return rules


def status_events(assignment: Assignment, result: StatusResult, now: datetime) -> list[AssignmentEvent]:
    """What changed between the cached status and ``result``, as events (not saved)."""
    events = []
    due = assignment.item.due_date.isoformat() if assignment.item.due_date else ""
    if result.status == Status.DUE_SOON and assignment.status != Status.DUE_SOON:
        events.append(AssignmentEvent.Kind.DUE_SOON)
    if result.status == Status.OVERDUE and assignment.status != Status.OVERDUE:
        events.append(AssignmentEvent.Kind.OVERDUE)
    rows = [AssignmentEvent(assignment=assignment, county_id=assignment.county_id, kind=kind, key=due,
                            happened_at=now) for kind in events]
    # Behind by the indicator's trend is recorded with its figures by tasks.services.targets.
    if (result.behind and result.behind != assignment.behind and result.status != Status.OVERDUE
            and result.behind != Behind.TREND):
        month = now.strftime("%Y-%m")
        rows.append(AssignmentEvent(assignment=assignment, county_id=assignment.county_id,
                                    kind=AssignmentEvent.Kind.BEHIND, key=f"{result.behind}:{month}",
                                    detail=result.behind, happened_at=now))
    return rows


FIELDS = ("status", "light", "behind", "next_change_at", "severity", "due_date")


def assignments_refresh(assignments: Iterable[Assignment], *, now: datetime,
                        rules: dict[int, StatusRules] | None = None) -> list[AssignmentEvent]:
    """Recompute and save the cached status of ``assignments`` (with ``item__ledger`` loaded) at
    ``now``, recording the changes as events. For writes made by a person: unconditional."""
    rows = list(assignments)
    if not rows:
        return []
    rules = rules or rules_by_county(a.county_id for a in rows)
    events: list[AssignmentEvent] = []
    changed = []
    for assignment in rows:
        result = assignment.status_at(now, rules[assignment.county_id])
        events += status_events(assignment, result, now)
        before = tuple(getattr(assignment, f) for f in FIELDS)
        assignment.set_status(result)
        if tuple(getattr(assignment, f) for f in FIELDS) != before:
            changed.append(assignment)
    with transaction.atomic():
        Assignment.objects.bulk_update(changed, FIELDS, batch_size=BATCH)
        AssignmentEvent.objects.bulk_create(events, ignore_conflicts=True)
        # The write that called this changed these counties' assignments or reports.
        rollups_touch({a.county_id for a in rows}, now=now)
    return events


def assignments_refresh_due(*, now: datetime, county_ids: Iterable[int] | None = None) -> int:
    """Refresh every assignment whose status may have changed by ``now`` (``next_change_at`` has
    passed), in batches; each row is updated only if nobody refreshed it meanwhile. Returns the
    number of rows refreshed."""
    refreshed = 0
    touched: set[int] = set()
    # Each row leaves the query once refreshed (its next change lies after ``now``), by this run or
    # by another; the bound only guards against a bug looping for ever.
    for _round in range(10_000):
        qs = (Assignment.objects.filter(next_change_at__lte=now, is_active=True)
              .select_related("item__ledger").order_by("next_change_at", "pk"))
        if county_ids is not None:
            qs = qs.filter(county_id__in=list(county_ids))
        batch = list(qs[:BATCH])
        if not batch:
            # Once, after every batch: the counties' locks are taken last (see tasks.services.rollups).
            rollups_touch(touched, now=now)
            return refreshed
        rules = rules_by_county(a.county_id for a in batch)
        events: list[AssignmentEvent] = []
        for assignment in batch:
            result = assignment.status_at(now, rules[assignment.county_id])
            read = assignment.next_change_at
            events += status_events(assignment, result, now)  # compared with the status read, before set_status
            assignment.set_status(result)
            won = Assignment.objects.filter(pk=assignment.pk, next_change_at=read).update(
                **{f: getattr(assignment, f) for f in FIELDS})
            if won:
                refreshed += 1
                touched.add(assignment.county_id)
            else:
                events = [e for e in events if e.assignment is not assignment]
        AssignmentEvent.objects.bulk_create(events, ignore_conflicts=True)
    return refreshed
