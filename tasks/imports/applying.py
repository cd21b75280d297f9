"""Writing a checked ledger import in one transaction: the ledger, the departments the user chose
to create (or the aliases of those mapped), the sections, the items and their assignments. New
rows are written in bulk with their status computed beforehand, so a ledger of ten thousand rows
costs a few dozen queries; a row that did not change is not written at all."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction

from core.bulk import bulk_insert
from core.issues import ImportFailed
from tasks.imports.planning import CREATE, CREATE_OTHER, LedgerPlan, PlannedItem
from tasks.models import Assignment, Department, LedgerSection, TaskItem
from tasks.services.ledgers import (
    UNIT_FIELDS,
    WantedUnit,
    assignments_sync,
    department_get_or_create,
    ledger_create,
)
from tasks.services.status import assignments_refresh, rules_by_county
from tasks.units import UnitRef

BATCH = 1000
ITEM_FIELDS = ["number", "text", "section", "lead_units_text", "coop_units_text", "deadline_text", "deadline_kind",
               "due_date", "recurrence", "deadline_note", "target_text", "source_row", "order", "is_active"]


def apply_plan(plan: LedgerPlan, *, user, now: datetime) -> dict[str, int]:
    """Write ``plan`` (which must be free of errors). One transaction: on any error nothing is saved."""
    if not plan.ok:
        raise ImportFailed(plan.errors)
    with transaction.atomic():
        ledger = _ledger(plan, user)
        departments = _units(plan, user)
        sections = _sections(ledger, plan.items)
        created, updated, wanted_of = [], [], {}
        for order, planned in enumerate(plan.items, start=1):
            if planned.action == "unchanged":
                continue
            item = planned.existing or TaskItem(ledger=ledger, created_by=user, key=planned.key)
            item.ledger = ledger
            _fill(item, planned, sections, order)
            wanted_of[id(item)] = _wanted(plan, planned)
            (updated if planned.existing else created).append((item, planned))
        bulk_insert([item for item, _p in created])
        TaskItem.objects.bulk_update([item for item, _p in updated], ITEM_FIELDS, batch_size=BATCH)
        assignments = _new_assignments(ledger, [item for item, _p in created], wanted_of, now)
        bulk_insert(assignments)
        # Changed items: their units made again where they changed, their statuses refreshed (the
        # deadline may have changed) where they did not.
        unchanged_units = {item.pk: item for item, planned in updated if not planned.units_changed}
        for item, planned in updated:
            if planned.units_changed:
                assignments_sync(item=item, wanted=wanted_of[id(item)], now=now)
        refresh = list(Assignment.objects.filter(item_id__in=list(unchanged_units), is_active=True))
        for assignment in refresh:
            assignment.item = unchanged_units[assignment.item_id]
        assignments_refresh(refresh, now=now)
    return {"ledger": ledger.pk, "create": len(created), "update": len(updated),
            "unchanged": sum(1 for p in plan.items if p.action == "unchanged"),
            "assignments": len(assignments), "departments": departments}


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
        missing = []
        for planned in items:
            labels = planned.raw.sections[:level]
            if len(labels) < level:
                continue
            path = "|".join(labels)[:650]
            if path in sections or any(s.path == path for s in missing):
                continue
            order += 1
            parent = sections.get("|".join(labels[:-1])) if level == 2 else None
            missing.append(LedgerSection(ledger=ledger, parent=parent, level=level, label=labels[-1][:300],
                                         path=path, order=order))
        LedgerSection.objects.bulk_create(missing, batch_size=BATCH)
        sections.update({s.path: s for s in missing})
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
    if not item.target_text:
        item.target_text = planned.target_text
    item.source_row, item.order, item.is_active = raw.row, order, True


def _wanted(plan: LedgerPlan, planned: PlannedItem) -> list[WantedUnit]:
    wanted = []
    for role, resolutions in ((Assignment.Role.LEAD, planned.lead), (Assignment.Role.COOPERATING, planned.coop)):
        for resolution in resolutions:
            units = plan.directory.extra.get(resolution.text, []) if resolution.unknown else resolution.units
            wanted += [WantedUnit(role, unit, resolution.text) for unit in units]
    return wanted


def _new_assignments(ledger, items: list[TaskItem], wanted_of: dict, now: datetime) -> list[Assignment]:
    """Assignments of new items with their status computed now (no event: the import itself is
    what the bureau sees). A new assignment's status depends only on its role and its item's
    deadline, so it is computed once for each such pair, not once per row."""
    rules = rules_by_county([ledger.county_id])[ledger.county_id]
    statuses: dict[tuple, object] = {}
    rows = []
    for item in items:
        by_unit: dict[tuple[str, int], WantedUnit] = {}
        for entry in wanted_of[id(item)]:
            key = (entry.unit.kind, entry.unit.pk)
            if key not in by_unit or entry.role == Assignment.Role.LEAD:
                by_unit[key] = entry
        for (kind, pk), entry in by_unit.items():
            assignment = Assignment(item=item, county_id=ledger.county_id, role=entry.role,
                                    source_text=entry.source_text[:100], created_at=now, **{UNIT_FIELDS[kind]: pk})
            key = (entry.role, item.deadline_kind, item.due_date)
            if key not in statuses:
                statuses[key] = assignment.status_at(now, rules)
            assignment.set_status(statuses[key])
            rows.append(assignment)
    return rows
