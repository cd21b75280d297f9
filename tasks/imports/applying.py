"""Writing a checked ledger import in one transaction: the ledger, the departments the user chose
to create (or the aliases of those mapped), the sections, the items and their assignments. New
rows are written in bulk with their status computed beforehand, so a ledger of ten thousand rows
costs a few dozen queries; a row that did not change is not written at all."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction

from core.bulk import insert_rows
from core.issues import ImportFailed
from tasks.imports.planning import CREATE, CREATE_OTHER, LedgerPlan, PlannedItem
from tasks.models import Assignment, Department, LedgerSection, TaskItem
from tasks.models.assignments import SEVERITY
from tasks.services.ledgers import (
    WantedUnit,
    assignments_sync,
    department_get_or_create,
    ledger_create,
)
from tasks.services.rollups import rollups_deferred, rollups_touch
from tasks.services.status import assignments_refresh, rules_by_county
from tasks.status import assignment_status, local_date
from tasks.units import UnitRef

BATCH = 1000
ITEM_FIELDS = ["number", "text", "section", "lead_units_text", "coop_units_text", "deadline_text", "deadline_kind",
               "due_date", "recurrence", "deadline_note", "milestones", "target_text", "source_row", "order",
               "is_active"]


def apply_plan(plan: LedgerPlan, *, user, now: datetime) -> dict[str, int]:
    """Write ``plan`` (which must be free of errors). One transaction: on any error nothing is saved."""
    if not plan.ok:
        raise ImportFailed(plan.errors)
    with transaction.atomic(), rollups_deferred(now=now):
        ledger = _ledger(plan, user)
        departments = _units(plan, user)
        sections = _sections(ledger, plan.items)
        created, updated, wanted_of = [], [], {}
        for order, planned in enumerate(plan.items, start=1):
            if planned.action == "create":
                created.append((order, planned))
            elif planned.action == "update":
                item = planned.existing
                item.ledger = ledger
                _fill(item, planned, sections, order)
                wanted_of[item.pk] = _wanted(plan, planned)
                updated.append((item, planned))
        assignments = _create_items(plan, ledger, sections, created, user=user, now=now)
        TaskItem.objects.bulk_update([item for item, _p in updated], ITEM_FIELDS, batch_size=BATCH)
        # Changed items: their units made again where they changed, their statuses refreshed (the
        # deadline may have changed) where they did not.
        unchanged_units = {item.pk: item for item, planned in updated if not planned.units_changed}
        for item, planned in updated:
            if planned.units_changed:
                assignments_sync(item=item, wanted=wanted_of[item.pk], now=now)
        refresh = list(Assignment.objects.filter(item_id__in=list(unchanged_units), is_active=True))
        for assignment in refresh:
            assignment.item = unchanged_units[assignment.item_id]
        assignments_refresh(refresh, now=now)
        rollups_touch([ledger.county_id], now=now)  # the new assignments, made without a refresh
    return {"ledger": ledger.pk, "create": len(created), "update": len(updated),
            "unchanged": sum(1 for p in plan.items if p.action == "unchanged"),
            "assignments": assignments, "departments": departments}


def _ledger(plan: LedgerPlan, user):
    meta, table = plan.meta, plan.table
    issued_on = date.fromisoformat(meta["issued_on"]) if meta.get("issued_on") else None
    if plan.ledger is None:
        return ledger_create(county=plan.county, user=user, title=meta["title"], year=meta["year"],
                             doc_number=meta["doc_number"], issuer=meta["issuer"], issued_on=issued_on,
                             layout=table.layout, source_filename=table.filename)
    ledger = plan.ledger
    changed = []
    for name, value in (("doc_number", meta["doc_number"]), ("issuer", meta["issuer"]), ("issued_on", issued_on),
                        ("source_filename", table.filename[:200]), ("layout", table.layout)):
        if value and getattr(ledger, name) != value:
            setattr(ledger, name, value)
            changed.append(name)
    if changed:
        ledger.save(update_fields=[*changed, "updated_at"])
    return ledger


def _units(plan: LedgerPlan, user) -> int:
    """Carry out the decision on each unknown unit; returns how many departments were created."""
    directory, created = plan.directory, 0
    for name, unknown in plan.unknown.items():
        decision = plan.decision_for(unknown)
        if decision in (CREATE, CREATE_OTHER):
            kind = Department.Kind.GOVERNMENT if decision == CREATE else Department.Kind.OTHER
            existed = Department.objects.filter(county=plan.county, name=unknown.proposed_name).exists()
            aliases = [name] if name != unknown.proposed_name else []
            department = department_get_or_create(county=plan.county, name=unknown.proposed_name, user=user,
                                                  kind=kind, aliases=aliases)
            created += 0 if existed else 1
            directory.extra[name] = [UnitRef("department", department.pk, department.name)]
            continue
        kind, _sep, pk = decision.partition(":")
        if kind == "department":
            department = Department.objects.get(pk=int(pk), county=plan.county)
            # Remember the spelling, so the next import knows it.
            department_get_or_create(county=plan.county, name=department.name, user=user, aliases=[name])
            directory.extra[name] = [UnitRef("department", department.pk, department.name)]
        else:
            unit = next(u for u in (directory.institutions if kind == "institution" else directory.alliances)
                        if u.pk == int(pk))
            directory.extra[name] = [UnitRef(kind, unit.pk, unit.display_name)]
    return created


def _sections(ledger, items: list[PlannedItem]) -> dict[str, LedgerSection]:
    """Every section the items need, made in two bulk inserts (level 1, then level 2)."""
    sections = {s.path: s for s in ledger.sections.all()}
    order = len(sections)
    for level in (1, 2):
        missing: dict[str, LedgerSection] = {}
        for planned in items:
            labels = planned.raw.sections[:level]
            if len(labels) < level:
                continue
            path = "|".join(labels)[:650]
            if path in sections or path in missing:
                continue
            order += 1
            parent = sections.get("|".join(labels[:-1])) if level == 2 else None
            missing[path] = LedgerSection(ledger=ledger, parent=parent, level=level, label=labels[-1][:300],
                                          path=path, order=order)
        LedgerSection.objects.bulk_create(list(missing.values()), batch_size=BATCH)
        sections.update(missing)
    return sections


def _fill(item: TaskItem, planned: PlannedItem, sections, order: int) -> None:
    raw = planned.raw
    item.number, item.text = raw.number, raw.text
    item.section = sections.get(planned.section_path[:650]) if raw.sections else None
    item.lead_units_text, item.coop_units_text = raw.lead, raw.coop
    item.deadline_text = planned.deadline.text[:200]
    if not item.deadline_corrected:  # a deadline set by a person is kept
        parsed = planned.deadline
        item.deadline_kind, item.due_date, item.recurrence = parsed.kind, parsed.due_date, parsed.recurrence
        item.deadline_note = parsed.note[:300]
        item.milestones = _milestones(parsed)
    if not item.target_text:
        item.target_text = planned.target_text
    item.source_row, item.order, item.is_active = raw.row, order, True


def _milestones(parsed) -> list[str]:
    return [d.isoformat() for d in parsed.milestones]


def _wanted(plan: LedgerPlan, planned: PlannedItem) -> list[WantedUnit]:
    wanted = []
    for role, resolutions in ((Assignment.Role.LEAD, planned.lead), (Assignment.Role.COOPERATING, planned.coop)):
        for resolution in resolutions:
            units = plan.directory.extra.get(resolution.text, []) if resolution.unknown else resolution.units
            wanted += [WantedUnit(role, unit, resolution.text) for unit in units]
    return wanted


ITEM_INSERT = ["ledger_id", "section_id", "number", "key", "text", "lead_units_text", "coop_units_text",
               "deadline_text", "deadline_kind", "due_date", "recurrence", "deadline_note", "milestones", "target_text",
               "source_row", "order", "is_active", "created_by_id"]
ASSIGNMENT_INSERT = ["item_id", "county_id", "role", "department_id", "institution_id", "alliance_id", "source_text",
                     "status", "light", "behind", "next_change_at", "severity", "due_date", "created_at"]


def _create_items(plan: LedgerPlan, ledger, sections, created: list[tuple[int, PlannedItem]], *, user,
                  now: datetime) -> int:
    """The new items and their assignments, as plain rows (``core.bulk.insert_rows``: no model
    instances, COPY on PostgreSQL). A new assignment's status depends only on its role and its
    item's deadline, so it is computed once for each such pair. No event: the import itself is what
    the bureau sees. Returns the number of assignments made."""
    item_rows = []
    for order, planned in created:
        raw, parsed = planned.raw, planned.deadline
        section = sections.get(planned.section_path[:650]) if raw.sections else None
        item_rows.append((ledger.pk, section.pk if section else None, raw.number, planned.key, raw.text, raw.lead,
                          raw.coop, parsed.text[:200], parsed.kind, parsed.due_date, parsed.recurrence,
                          parsed.note[:300], _milestones(parsed), planned.target_text, raw.row, order, True, user.pk if user else None))
    item_ids = insert_rows(TaskItem, ITEM_INSERT, item_rows)
    rules = rules_by_county([ledger.county_id])[ledger.county_id]
    start = max(ledger.start_date, local_date(now))
    statuses: dict[tuple, tuple] = {}
    rows = []
    for item_id, (_order, planned) in zip(item_ids, created, strict=True):
        by_unit: dict[tuple[str, int], WantedUnit] = {}
        for entry in _wanted(plan, planned):
            key = (entry.unit.kind, entry.unit.pk)
            if key not in by_unit or entry.role == Assignment.Role.LEAD:
                by_unit[key] = entry
        kind, due = planned.deadline.kind, planned.deadline.due_date
        for (unit_kind, pk), entry in by_unit.items():
            key = (entry.role, kind, due)
            if key not in statuses:
                result = assignment_status(is_lead=entry.role == Assignment.Role.LEAD, kind=kind, due_date=due,
                                           start_date=start, completed=False, percent=0, last_report_at=None,
                                           now=now, rules=rules)
                statuses[key] = (result.status, result.light, result.behind, result.next_change_at,
                                 SEVERITY.get(result.light, 0), due)
            rows.append((item_id, ledger.county_id, entry.role, pk if unit_kind == "department" else None,
                         pk if unit_kind == "institution" else None, pk if unit_kind == "alliance" else None,
                         entry.source_text[:100], *statuses[key], now))
    insert_rows(Assignment, ASSIGNMENT_INSERT, rows, returning_ids=False)
    return len(rows)
