"""What importing a ledger table into a county would do, checked against the database as it is
now: the ledger (found by county, title and year, or new), each row's item (新建 / 更新 / 不变, keyed
by ledger and item number), its parsed deadline, the assignments it will make, and the units the
county does not know yet, each with the user's decision (create a department, or map to a unit).

A constant number of queries whatever the number of rows. Nothing is written here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils.translation import gettext as _

from alliances.models import Region
from core.issues import Issue
from tasks.deadlines import DeadlineKind, ParsedDeadline, parse_deadline
from tasks.imports.reading import LedgerTable, RawItem, deadline_value
from tasks.models import Assignment, Ledger, TaskItem
from tasks.services.ledgers import item_key
from tasks.status import local_date
from tasks.targets import extract_targets
from tasks.units import Resolution, UnitDirectory, UnitRef, is_none_text, split_units

CREATE, CREATE_OTHER = "create", "create_other"
_OTHER_ENDINGS = ("机构", "单位", "成员单位", "医疗机构")


@dataclass
class UnknownUnit:
    """A unit name the county does not know, the rows that use it, and what to do with it."""

    name: str
    proposed_name: str
    suggestion: UnitRef | None
    rows: list[int] = field(default_factory=list)
    decision: str = CREATE

    @property
    def default_decision(self) -> str:
        """Map to the one department whose name contains it (市保障局 → 市医疗保障局), else create."""
        if self.suggestion is not None:
            return self.suggestion.ref
        return CREATE_OTHER if self.proposed_name.endswith(_OTHER_ENDINGS) else CREATE


@dataclass
class PlannedItem:
    raw: RawItem
    key: str
    deadline: ParsedDeadline
    lead: list[Resolution]
    coop: list[Resolution]
    target_text: str
    existing: TaskItem | None = None
    action: str = "create"  # create / update / unchanged / error
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (field label, old, new)
    deadline_kept: bool = False  # a person's correction stays
    units_changed: bool = True
    new_assignments: int = 0
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if not i.warning]

    @property
    def section_path(self) -> str:
        return "|".join(self.raw.sections)


@dataclass
class LedgerPlan:
    table: LedgerTable
    county: Region
    meta: dict
    ledger: Ledger | None
    items: list[PlannedItem]
    unknown: dict[str, UnknownUnit]
    issues: list[Issue]  # not tied to an item: the ledger's title or year
    directory: UnitDirectory
    # The user's choice for each unknown unit: create / create_other / <kind>:<id>. Applied when the
    # import is confirmed, so they do not change what the preview showed (its fingerprint).
    decisions: dict[str, str] = field(default_factory=dict)

    def decision_for(self, unknown: UnknownUnit) -> str:
        return self.decisions.get(unknown.name, unknown.default_decision)

    @property
    def all_issues(self) -> list[Issue]:
        issues = list(self.table.issues) + list(self.issues)
        for item in self.items:
            issues += item.issues
        return sorted(issues, key=lambda i: (i.warning, i.row or 0))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.all_issues if not i.warning]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.all_issues if i.warning]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def counts(self) -> dict[str, int]:
        counts = {"create": 0, "update": 0, "unchanged": 0, "error": 0}
        for item in self.items:
            counts[item.action] += 1
        counts["assignments"] = sum(item.new_assignments for item in self.items if item.action != "error")
        counts["unknown_units"] = len(self.unknown)
        counts["needs_deadline"] = sum(1 for item in self.items
                                       if item.deadline.kind == DeadlineKind.UNKNOWN and not item.deadline_kept)
        return counts

    @property
    def has_changes(self) -> bool:
        return self.ledger is None or any(i.action in ("create", "update") for i in self.items) or bool(self.unknown)

    def fingerprint(self) -> str:
        """What the import would do, as a hash: the confirmation applies only what was previewed."""
        plan = [self.meta, getattr(self.ledger, "pk", None), sorted(self.unknown),
                [[i.raw.row, i.key, i.action, i.changes, [[r.ref for res in i.lead for r in res.units],
                                                        [r.ref for res in i.coop for r in res.units]]]
                 for i in self.items]]
        return hashlib.sha256(json.dumps(plan, ensure_ascii=False, default=str).encode()).hexdigest()


def _meta(table: LedgerTable, overrides: dict) -> tuple[dict, list[Issue]]:
    meta = dict(table.meta)
    for key, value in (overrides or {}).items():
        if value not in (None, ""):
            meta[key] = value
    issues = []
    meta["title"] = str(meta.get("title") or "").strip()[:200]
    if not meta["title"]:
        issues.append(Issue(_("The ledger needs its title: the file has none above the header; enter it in the "
                              "form.")))
    year = str(meta.get("year") or "").strip()
    try:
        meta["year"] = int(year)
        if not 2000 <= meta["year"] <= 2100:
            raise ValueError
    except ValueError:
        meta["year"] = None
        issues.append(Issue(_("The ledger needs its year (2000 to 2100): the deadlines “12月底” and the like are "
                              "read in it. The file gives “%(year)s”; enter it in the form.") % {"year": year or "—"}))
    meta["doc_number"] = str(meta.get("doc_number") or "").strip()[:100]
    meta["issuer"] = str(meta.get("issuer") or "").strip()[:100]
    issued_on = meta.get("issued_on")
    meta["issued_on"] = issued_on.isoformat() if isinstance(issued_on, date) else (issued_on or None)
    return meta, issues


def plan_import(table: LedgerTable, *, county: Region, user, now: datetime, overrides: dict | None = None,
                decisions: dict[str, str] | None = None) -> LedgerPlan:
    """Check ``table`` against ``county`` and its existing ledger; ``decisions`` maps each unknown
    unit name to ``create``, ``create_other`` or ``department:<id>`` / ``institution:<id>`` /
    ``alliance:<id>``."""
    meta, issues = _meta(table, overrides or {})
    ledger = None
    existing: dict[str, TaskItem] = {}
    assigned: dict[int, set[str]] = {}
    if meta["title"] and meta["year"]:
        ledger = Ledger.objects.filter(county=county, title=meta["title"], year=meta["year"]).first()
    if ledger is not None:
        existing = {i.key: i for i in ledger.items.select_related("section")}
        for item_id, department, institution, alliance in Assignment.objects.filter(
                item__ledger=ledger, is_active=True).values_list("item_id", "department_id", "institution_id",
                                                                 "alliance_id"):
            ref = (f"department:{department}" if department else f"institution:{institution}" if institution
                   else f"alliance:{alliance}")
            assigned.setdefault(item_id, set()).add(ref)
    directory = UnitDirectory(county, on=local_date(now))
    plan = LedgerPlan(table=table, county=county, meta=meta, ledger=ledger, items=[], unknown={}, issues=issues,
                      directory=directory)
    plan.decisions = _valid_decisions(directory, decisions or {})
    year = meta["year"] or local_date(now).year
    resolved: dict[str, Resolution] = {}

    def resolve(names: list[str], row: int) -> list[Resolution]:
        results = []
        for name in names:
            if name not in resolved:
                resolved[name] = directory.resolve(name)
            resolution = resolved[name]
            if resolution.unknown:
                unknown = plan.unknown.get(name)
                if unknown is None:
                    unknown = plan.unknown[name] = UnknownUnit(name, resolution.proposed_name, resolution.suggestion)
                    unknown.decision = unknown.default_decision
                unknown.rows.append(row)
            results.append(resolution)
        return results

    seen: dict[str, int] = {}
    lead_letter, lead_title = table.column("lead")
    coop_letter, coop_title = table.column("coop")
    deadline_letter, deadline_title = table.column("deadline")
    number_key = "number" if "number" in table.columns else "content"
    number_letter, number_title = table.column(number_key)
    # A ledger repeats its phrases ("12月底", "县卫生健康局、各医共体") from row to row: each distinct
    # phrase is read once.
    deadlines: dict[tuple, object] = {}
    names: dict[str, list[str]] = {}

    def deadline_of(cell: list):
        key = (cell[0], cell[1])
        if key not in deadlines:
            deadlines[key] = parse_deadline(deadline_value(cell), year=year)
        return deadlines[key]

    def units_in(text: str) -> list[str]:
        if text not in names:
            names[text] = split_units(text)
        return names[text]

    for raw in table.items:
        key = item_key(raw.number)
        item = PlannedItem(raw=raw, key=key, deadline=deadline_of(raw.deadline),
                           lead=resolve(units_in(raw.lead), raw.row), coop=resolve(units_in(raw.coop), raw.row),
                           target_text=raw.target or extract_targets(raw.text))
        plan.items.append(item)
        if key:
            if key in seen:
                item.issues.append(Issue(_("the item number %(number)s is also in row %(row)s; each item appears once.")
                                         % {"number": raw.number, "row": seen[key]}, row=raw.row,
                                         column=number_letter, title=number_title))
            else:
                seen[key] = raw.row
        if any(i.row == raw.row and not i.warning for i in table.issues):
            item.action = "error"
        _check_units(item, lead_letter, lead_title, coop_letter, coop_title)
        item.existing = existing.get(key)
        if item.deadline.kind == DeadlineKind.UNKNOWN:
            if item.existing is not None and item.existing.deadline_corrected:
                item.deadline_kept = True
            else:
                item.issues.append(Issue(
                    _("%(note)s The item is imported and flagged until a person sets its deadline.")
                    % {"note": item.deadline.note}, row=raw.row, column=deadline_letter, title=deadline_title,
                    warning=True))
        _compare(item, assigned)
        if item.errors:
            item.action = "error"
    return plan


def _check_units(item: PlannedItem, lead_letter, lead_title, coop_letter, coop_title) -> None:
    raw = item.raw
    if not item.lead:
        item.issues.append(Issue(_("no responsible unit: nobody owns this item's deadline. Name one in the file or "
                                   "after the import."), row=raw.row, column=lead_letter, title=lead_title,
                                 warning=True))
    lead_names = {r.text for r in item.lead}
    both = [r.text for r in item.coop if r.text in lead_names]
    if both:
        item.issues.append(Issue(_("%(units)s is named as responsible and as cooperating; it is kept as responsible.")
                                 % {"units": "、".join(both)}, row=raw.row, column=coop_letter, title=coop_title,
                                 warning=True))
    for resolution in item.lead + item.coop:
        if resolution.fan_out and not resolution.units:
            item.issues.append(Issue(_("“%(text)s” names every alliance of the county, but the county has none.")
                                     % {"text": resolution.text}, row=raw.row, column=lead_letter,
                                     title=lead_title))


def _wanted_refs(item: PlannedItem) -> set[str]:
    refs = set()
    for resolution in item.lead + item.coop:
        refs |= {u.ref for u in resolution.units}
        if resolution.unknown:
            refs.add(f"new:{resolution.text}")
    return refs


def _plain(text: str) -> str:
    """How cell texts are compared: "——" and the like are the same as empty."""
    return "" if is_none_text(text) else (text or "")


def _compare(item: PlannedItem, assigned: dict[int, set[str]]) -> None:
    raw, existing = item.raw, item.existing
    wanted = _wanted_refs(item)
    if existing is None:
        item.action = "create"
        item.new_assignments = len(wanted)
        return
    have = assigned.get(existing.pk, set())
    item.new_assignments = len(wanted - have)
    labels = {"number": _("item number"), "text": _("task"), "section": _("section"),
              "lead": _("responsible units"), "coop": _("cooperating units"), "deadline": _("deadline")}
    comparisons = [
        ("number", existing.number, raw.number),
        ("text", existing.text, raw.text),
        ("section", existing.section.path if existing.section_id else "", item.section_path),
        ("lead", _plain(existing.lead_units_text), _plain(raw.lead)),
        ("coop", _plain(existing.coop_units_text), _plain(raw.coop)),
        ("deadline", _plain(existing.deadline_text), _plain(item.deadline.text)),
    ]
    item.changes = [(labels[key], old, new) for key, old, new in comparisons if (old or "") != (new or "")]
    item.units_changed = wanted != have
    item.action = "update" if item.changes or item.units_changed else "unchanged"


def _valid_decisions(directory: UnitDirectory, decisions: dict[str, str]) -> dict[str, str]:
    """The decisions that name something possible: create, or a unit of this county."""
    known = {
        "department": {d.pk for d in directory.departments},
        "institution": {i.pk for i in directory.institutions},
        "alliance": {a.pk for a in directory.alliances},
    }
    valid = {}
    for name, decision in decisions.items():
        kind, _sep, pk = str(decision).partition(":")
        if decision in (CREATE, CREATE_OTHER) or (kind in known and pk.isdigit() and int(pk) in known[kind]):
            valid[name] = decision
    return valid
