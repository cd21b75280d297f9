"""Ledgers, their sections and items, and the assignments of an item, written by hand or by the
import (``tasks.imports`` calls the same functions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from alliances.models import Region
from tasks.deadlines import DeadlineKind, Recurrence, parse_deadline
from tasks.models import Assignment, Department, InspectionFinding, Ledger, LedgerSection, TaskItem
from tasks.services.rollups import rollups_deferred, rollups_touch
from tasks.services.status import assignments_refresh
from tasks.status import local_date
from tasks.targets import extract_targets
from tasks.units import UnitRef, split_units

UNIT_FIELDS = {"department": "department_id", "institution": "institution_id", "alliance": "alliance_id"}


def item_key(number: str) -> str:
    """The key an item number is compared by: （12） and (12) and 12 are one; 1.1 and 1．1 too."""
    import unicodedata

    text = unicodedata.normalize("NFKC", number or "")
    for ch in " ()（）[]【】、.．。":
        text = text.replace(ch, "." if ch in ".．。" else "")
    return text.strip(".")


def ledger_create(*, county: Region, user, title: str, year: int, doc_number: str = "", issuer: str = "",
                  issued_on: date | None = None, note: str = "", layout: str = Ledger.Layout.MANUAL,
                  source_filename: str = "") -> Ledger:
    ledger = Ledger(county=county, title=(title or "").strip(), year=year, doc_number=(doc_number or "").strip(),
                    issuer=(issuer or "").strip(), issued_on=issued_on, note=note or "", layout=layout,
                    source_filename=source_filename[:200], created_by=user)
    ledger.full_clean()
    ledger.save()
    return ledger


def section_for(ledger: Ledger, labels: Iterable[str], cache: dict[str, LedgerSection] | None = None,
                order: int = 0) -> LedgerSection | None:
    """The section under the headings ``labels`` (level 1, then level 2), made if missing."""
    cache = {} if cache is None else cache
    parent = None
    path = ""
    for level, label in enumerate((label for label in labels if label), start=1):
        path = f"{path}|{label}" if path else label
        if path not in cache:
            section, _created = LedgerSection.objects.get_or_create(
                ledger=ledger, path=path[:650],
                defaults={"parent": parent, "level": level, "label": label[:300], "order": order})
            cache[path] = section
        parent = cache[path]
    return parent


@dataclass(frozen=True)
class WantedUnit:
    role: str  # Assignment.Role
    unit: UnitRef
    source_text: str


def assignments_sync(*, item: TaskItem, wanted: list[WantedUnit], now: datetime) -> dict[str, int]:
    """Make the item's assignments those of ``wanted``: create the missing, change roles, withdraw
    the others (kept, inactive, when they have reports or orders; deleted otherwise). A unit named
    both responsible and cooperating is responsible."""
    by_unit: dict[tuple[str, int], WantedUnit] = {}
    for entry in wanted:
        key = (entry.unit.kind, entry.unit.pk)
        if key not in by_unit or entry.role == Assignment.Role.LEAD:
            by_unit[key] = entry
    existing = {(a.unit_kind, a.unit.pk): a for a in item.assignments.select_related(
        "department", "institution", "alliance")}
    counts = {"created": 0, "changed": 0, "withdrawn": 0}
    touched: list[Assignment] = []
    for key, entry in by_unit.items():
        assignment = existing.pop(key, None)
        if assignment is None:
            assignment = Assignment(item=item, county_id=item.ledger.county_id, role=entry.role,
                                    source_text=entry.source_text[:100], **{UNIT_FIELDS[key[0]]: key[1]})
            assignment.save()
            counts["created"] += 1
            touched.append(assignment)
        elif assignment.role != entry.role or not assignment.is_active:
            assignment.role, assignment.is_active = entry.role, True
            assignment.save(update_fields=["role", "is_active"])
            counts["changed"] += 1
            touched.append(assignment)
    for assignment in existing.values():
        if not assignment.is_active:
            continue
        if assignment.reports.exists() or assignment.supervision_orders.exists():
            assignment.is_active = False
            assignment.next_change_at = None
            assignment.save(update_fields=["is_active", "next_change_at"])
        else:
            assignment.delete()
        counts["withdrawn"] += 1
    if counts["withdrawn"]:
        rollups_touch([item.ledger.county_id], now=now)
    for assignment in touched:
        assignment.item = item
    assignments_refresh(touched, now=now)
    return counts


def item_apply_deadline(item: TaskItem, text, *, year: int) -> None:
    """Set the item's deadline from the phrase (not saved). A deadline a person set is kept."""
    parsed = parse_deadline(text, year=year)
    item.deadline_text = parsed.text[:200]
    if item.deadline_corrected:
        return
    item.deadline_kind, item.due_date = parsed.kind, parsed.due_date
    item.recurrence, item.deadline_note = parsed.recurrence, parsed.note[:300]
    item.milestones = [d.isoformat() for d in parsed.milestones]


def item_set_deadline(*, item: TaskItem, user, kind: str, due_date: date | None, recurrence: str = "",
                      now: datetime) -> TaskItem:
    """A person sets the deadline; the correction is kept over later imports."""
    errors = {}
    if kind not in DeadlineKind.values or kind == DeadlineKind.UNKNOWN:
        errors["deadline_kind"] = [_("Choose what kind of deadline this is.")]
    elif kind == DeadlineKind.CONTINUOUS:
        due_date = None
    elif due_date is None:
        errors["due_date"] = [_("A fixed deadline or a milestone needs its date.")]
    elif not date(2000, 1, 1) <= due_date <= date(2100, 12, 31):
        errors["due_date"] = [_("The date must be between 2000 and 2100.")]
    if recurrence not in Recurrence.values:
        errors["recurrence"] = [_("Choose how often it recurs.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        item.deadline_kind, item.due_date, item.recurrence = kind, due_date, recurrence or ""
        item.deadline_note = ""
        item.deadline_corrected_by, item.deadline_corrected_at = user, now
        item.save(update_fields=["deadline_kind", "due_date", "recurrence", "deadline_note", "deadline_corrected_by",
                                 "deadline_corrected_at", "updated_at"])
        assignments_refresh(list(item.assignments.filter(is_active=True).select_related("item__ledger")), now=now)
    return item


def units_for(directory, text: str, role: str, *, create_unknown: bool, user, errors: list[str],
              created: dict[str, Department]) -> list[WantedUnit]:
    """The units named in ``text`` for a hand-written item: unknown names are an error unless
    ``create_unknown``, when each becomes a new department of the county."""
    wanted = []
    for name in split_units(text):
        resolution = directory.resolve(name)
        if resolution.unknown:
            if not create_unknown:
                errors.append(_("“%(name)s” is not a department, institution or alliance of %(county)s.")
                              % {"name": name, "county": directory.county.name})
                continue
            department = created.get(resolution.proposed_name) or department_get_or_create(
                county=directory.county, name=resolution.proposed_name, user=user)
            created[resolution.proposed_name] = department
            directory.extra[name] = [UnitRef("department", department.pk, department.name)]
            resolution = directory.resolve(name)
        wanted += [WantedUnit(role, unit, name) for unit in resolution.units]
    return wanted


def department_get_or_create(*, county: Region, name: str, user, kind: str = Department.Kind.GOVERNMENT,
                             aliases: list[str] | None = None) -> Department:
    department, created = Department.objects.get_or_create(
        county=county, name=name[:100], defaults={"kind": kind, "created_by": user, "aliases": aliases or []})
    if not created and aliases:
        new = [a for a in aliases if a not in department.aliases and a != department.name]
        if new:
            department.aliases = [*department.aliases, *new]
            department.save(update_fields=["aliases"])
    return department


def item_save(*, ledger: Ledger, user, number: str, text: str, lead_units_text: str, coop_units_text: str = "",
              deadline_text: str = "", target_text: str | None = None, section_labels: Iterable[str] = (),
              create_unknown: bool = False, item: TaskItem | None = None, now: datetime) -> TaskItem:
    """Create an item by hand (or change ``item``): its units from the text, its deadline parsed
    from the phrase (a person's correction is kept). Raises ValidationError by field."""
    from tasks.units import UnitDirectory

    errors: dict[str, list[str]] = {}
    number, text = (number or "").strip(), (text or "").strip()
    key = item_key(number)
    if not key:
        errors["number"] = [_("Give the item its number (序号), e.g. 1.1 or 12.")]
    elif len(number) > 30:
        errors["number"] = [_("The item number is at most %(n)s characters.") % {"n": 30}]
    elif ledger.items.filter(key=key).exclude(pk=getattr(item, "pk", None)).exists():
        errors["number"] = [_("The ledger already has an item numbered %(number)s.") % {"number": number}]
    if not text:
        errors["text"] = [_("Describe the task.")]
    directory = UnitDirectory(ledger.county, on=local_date(now))
    unit_errors: list[str] = []
    created: dict[str, Department] = {}
    with transaction.atomic(), rollups_deferred(now=now):
        wanted = units_for(directory, lead_units_text, Assignment.Role.LEAD, create_unknown=create_unknown,
                           user=user, errors=unit_errors, created=created)
        if unit_errors:
            errors["lead_units_text"] = list(unit_errors)
            unit_errors.clear()
        wanted += units_for(directory, coop_units_text, Assignment.Role.COOPERATING, create_unknown=create_unknown,
                            user=user, errors=unit_errors, created=created)
        if unit_errors:
            errors["coop_units_text"] = unit_errors
        if not errors and not any(w.role == Assignment.Role.LEAD for w in wanted):
            errors["lead_units_text"] = [_("Name at least one responsible unit.")]
        if errors:
            transaction.set_rollback(True)
            raise ValidationError(errors)
        item = item or TaskItem(ledger=ledger, created_by=user,
                                order=(ledger.items.order_by("-order").values_list("order", flat=True).first() or 0) + 1)
        item.number, item.key, item.text = number, key, text
        item.lead_units_text, item.coop_units_text = (lead_units_text or "")[:500], (coop_units_text or "")[:500]
        item.section = section_for(ledger, section_labels) if any(section_labels) else item.section
        item_apply_deadline(item, deadline_text, year=ledger.year)
        item.target_text = extract_targets(text) if target_text is None else target_text.strip()
        item.full_clean()
        item.save()
        assignments_sync(item=item, wanted=wanted, now=now)
    return item


def finding_to_task(*, finding: InspectionFinding, user, deadline_text: str, now: datetime) -> TaskItem:
    """Make a finding a task of the county's rectification ledger of the year (made if missing),
    assigned to the finding's unit."""
    if finding.task_item_id:
        raise ValidationError(_("This finding is a task already."), code="already_task")
    if finding.unit is None:
        raise ValidationError({"unit": [_("Name the unit responsible for the finding first.")]})
    if not (deadline_text or "").strip():
        raise ValidationError({"deadline_text": [_("Set the deadline of the rectification, e.g. 12月底.")]})
    inspection = finding.inspection
    year = local_date(now).year
    county = Region.objects.get(pk=finding.county_id)
    with transaction.atomic():
        ledger, _created = Ledger.objects.get_or_create(
            county=county, title=_("%(county)s督查整改任务") % {"county": county.name}, year=year,
            defaults={"layout": Ledger.Layout.MANUAL, "created_by": user,
                      "note": _("Tasks made from inspection findings.")})
        number = f"督{ledger.items.count() + 1}"
        unit = finding.unit
        item = item_save(ledger=ledger, user=user, number=number, text=finding.text,
                         lead_units_text=getattr(unit, "name", str(unit)), deadline_text=deadline_text,
                         section_labels=[inspection.title], now=now)
        finding.task_item = item
        finding.save(update_fields=["task_item"])
    return item
