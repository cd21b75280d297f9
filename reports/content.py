"""What each report says, as plain data (stored with the version, so the printable page and the
workbook show the same figures whatever changes afterwards).

The monthly 进度监测表 of a county and of each of its alliances share one ``MonthlyContext``: the
county's assignments with their latest progress, the filing completeness of the month and the key
indicators are read once per county (a constant number of queries), then cut per scope in Python.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from django.utils.translation import gettext as _

from alliances.models import Alliance, AllianceMembership, Institution, Region
from core.periods import Period, PeriodKind
from indicators.engine import Engine, Units
from indicators.indicator_tables import MET_LABELS, met_state, target_text, value_text
from indicators.models import Indicator, ReportForm
from indicators.selectors import completeness
from tasks.exports import STATUS_TEXTS, progress_lines
from tasks.models import Assignment, Department, ProgressReport, TaskItem, target_inputs
from tasks.services.status import rules_by_county
from tasks.status import Light, Status, assignment_status, local_date

LIGHTS = (Light.RED, Light.YELLOW, Light.BLUE)
STATUS_ORDER = (Status.NOT_STARTED, Status.ON_TRACK, Status.DUE_SOON, Status.OVERDUE, Status.DONE,
                Status.CONTINUOUS)
PROGRESS_CHARS = 200


def monthly_title(county: Region, alliance: Alliance | None, period: Period) -> str:
    if alliance is not None:
        return _("%(unit)s进度监测表（%(period)s）") % {"unit": alliance.name, "period": period.label}
    return _("%(county)s紧密型县域医共体进度监测表（%(period)s）") % {"county": county.name, "period": period.label}


def quarterly_title(county: Region, period: Period) -> str:
    return _("%(county)s紧密型县域医共体季度评价指标表（%(period)s）") % {"county": county.name, "period": period.label}


def alert_title(county: Region, period: Period) -> str:
    return _("%(county)s%(period)s季度评价指标表待签发提醒") % {"county": county.name, "period": period.label}


def reminder_title(county: Region, period: Period, day: int) -> str:
    return _("%(county)s%(period)s数据填报提醒（%(month)s月%(day)s日）") % {
        "county": county.name, "period": period.label, "month": period.next.index if period.kind == PeriodKind.MONTH
        else period.next.first_month, "day": day}


def finance_half_title(alliance: Alliance, period: Period) -> str:
    return _("%(unit)s%(period)s财务分析") % {"unit": alliance.name, "period": period.label}


def late_title(county: Region, alliance: Alliance | None, period: Period) -> str:
    unit = alliance.name if alliance is not None else county.name
    return _("%(unit)s%(period)s逾期未报名单") % {"unit": unit, "period": period.label}


def _counts(assignments: list[Row]) -> dict:
    statuses = Counter(a.status for a in assignments)
    lights = Counter(a.light for a in assignments)
    row = {"assignments": len(assignments), "items": len({a.item.pk for a in assignments})}
    row.update({str(s): statuses.get(s, 0) for s in STATUS_ORDER})
    row.update({str(lt): lights.get(lt, 0) for lt in LIGHTS})
    return row


def _short(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass
class MonthlyContext:
    """Everything the monthly tables of one county need, read once."""

    county: Region
    period: Period
    as_of: date
    assignments: list[Row] = field(default_factory=list)
    latest: dict = field(default_factory=dict)
    alliance_of: dict[int, int] = field(default_factory=dict)  # institution id -> alliance id on the period's end
    completeness: list = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)
    results: dict = field(default_factory=dict)  # (level, indicator id, unit id) -> Result

    @classmethod
    def load(cls, county: Region, period: Period, now: datetime) -> MonthlyContext:
        """Read the county's figures; each assignment's status is worked out at ``now`` (the
        stored copy may wait for the morning job)."""
        context = cls(county, period, local_date(now))
        rules = rules_by_county([county.pk])[county.pk]
        # Items, units and assignments read apart and joined here: a select_related over seven tables
        # would make one copy of each item and unit per assignment.
        items = {item.pk: item for item in TaskItem.objects.filter(
            ledger__county=county, is_active=True, ledger__is_active=True)
            .select_related("ledger", "section", "section__parent")}
        names = {
            "department": dict(Department.objects.filter(county=county).values_list("pk", "name")),
            "institution": dict(Institution.objects.filter(county=county).values_list("pk", "name")),
            "alliance": dict(Alliance.objects.filter(county=county).values_list("pk", "name")),
        }
        ledger_start = {item.pk: item.ledger.start_date for item in items.values()}
        rows = (Assignment.objects.filter(county=county, is_active=True, item_id__in=list(items))
                .order_by("item__ledger_id", "item__order", "item_id", "role", "pk")
                .values_list("pk", "item_id", "role", "department_id", "institution_id", "alliance_id", "percent",
                             "last_report_at", "completed_at", "created_at", "target_met", "target_trend"))
        for (pk, item_id, role, department_id, institution_id, alliance_id, percent, last_report, completed, made,
             met, trend) in rows:
            item = items[item_id]
            is_lead = role == Assignment.Role.LEAD
            result = assignment_status(
                is_lead=is_lead, kind=item.deadline_kind, due_date=item.due_date,
                start_date=max(ledger_start[item_id], local_date(made)) if made else ledger_start[item_id],
                completed=completed is not None, percent=percent, last_report_at=last_report, now=now, rules=rules,
                **target_inputs(item, alliance_id=alliance_id, met=met, trend=trend))
            unit = (names["department"].get(department_id) if department_id else
                    names["institution"].get(institution_id) if institution_id else names["alliance"].get(alliance_id))
            context.assignments.append(Row(pk, item, is_lead, unit or "", alliance_id, institution_id, percent,
                                           result.status, result.light, item.due_date))
        context.latest = newest_reports([a.pk for a in context.assignments])
        context.alliance_of = dict(AllianceMembership.objects.on(period.end)
                                   .filter(institution__county=county).values_list("institution_id", "alliance_id"))
        forms = ReportForm.objects.filter(county=county, is_active=True, period_kind=PeriodKind.MONTH,
                                          filer_level=ReportForm.FilerLevel.INSTITUTION).order_by("code", "pk")
        for form in forms:
            if form.files_from() and form.files_from().start > period.start:
                continue
            context.completeness.append(completeness(form, period, trend_periods=1))
        context.indicators = [
            i for i in Indicator.objects.filter(is_active=True).filter(Q(county__isnull=True) | Q(county=county))
            .exclude(target_kind=Indicator.TargetKind.NONE).order_by("order", "code", "pk")
            if i.has_threshold and i.target_value is not None]
        if context.indicators:
            engine = Engine(context.indicators, [county.pk])
            for level in ("county", "alliance"):
                if level == "county":
                    units = Units("county", [county.pk], {county.pk: county.pk})
                else:
                    units = engine.units("alliance")
                if not units.ids:
                    continue
                for (indicator_id, unit_id), result in engine.compute(period, level, units=units).items():
                    context.results[(level, indicator_id, unit_id)] = result
        return context

    # One scope ----------------------------------------------------------------------------
    def _assignments_of(self, alliance: Alliance | None) -> list[Row]:
        if alliance is None:
            return self.assignments
        return [a for a in self.assignments if a.alliance_id == alliance.pk
                or (a.institution_id and self.alliance_of.get(a.institution_id) == alliance.pk)]

    def data(self, alliance: Alliance | None, title: str) -> dict:
        assignments = self._assignments_of(alliance)
        by_item: dict[int, list[Row]] = defaultdict(list)
        for a in assignments:
            by_item[a.item.pk].append(a)
        sections: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
        items = []
        for rows in by_item.values():
            item = rows[0].item
            action, key_task = _section_labels(item)
            sections[(item.ledger.title, action, key_task)].extend(rows)
            worst = _worst(rows)
            items.append({
                "ledger": item.ledger.title, "number": item.number, "task": _short(item.text, 120),
                "action": action, "key_task": key_task,
                "units": "、".join(a.unit_name for a in rows if a.is_lead) or "、".join(a.unit_name for a in rows),
                "due": item.due_date.isoformat() if item.due_date else "", "deadline": item.deadline_text,
                "status": _(STATUS_TEXTS[worst.status]), "light": worst.light,
                "done": sum(1 for a in rows if a.status == Status.DONE), "total": len(rows),
                "latest": progress_lines(rows, self.latest),
            })
        overdue = []
        for a in assignments:
            if a.status != Status.OVERDUE:
                continue
            due = a.due_date or a.item.due_date
            report = self.latest.get(a.pk)
            overdue.append({
                "number": a.item.number, "task": _short(a.item.text, 80), "unit": a.unit_name,
                "due": due.isoformat() if due else "", "days_late": (self.as_of - due).days if due else None,
                "percent": a.percent,
                "latest": _short(report.text, PROGRESS_CHARS) if report else "",
                "latest_period": report.period if report else "",
            })
        overdue.sort(key=lambda r: (-(r["days_late"] or 0), r["number"]))
        return {
            "title": title,
            "county": self.county.name,
            "unit": alliance.name if alliance else self.county.name,
            "level": "alliance" if alliance else "county",
            "period": str(self.period),
            "period_label": self.period.label,
            "as_of": self.as_of.isoformat(),
            "summary": _counts(assignments),
            "sections": [{"ledger": ledger, "action": action, "key_task": key_task, **_counts(rows)}
                         for (ledger, action, key_task), rows in sections.items()],
            "items": items,
            "overdue": overdue,
            "completeness": self._completeness(alliance),
            "indicators": self._indicators(alliance),
        }

    def _completeness(self, alliance: Alliance | None) -> list[dict]:
        rows = []
        for c in self.completeness:
            if alliance is None:
                tally = c.total
            else:
                tally = next((g for g in c.groups if g.alliance is not None and g.alliance.pk == alliance.pk), None)
                if tally is None:
                    continue
            rows.append({
                "form": c.form.name, "due": c.due_date.isoformat(), "expected": tally.expected,
                "filed": tally.filed, "on_time": tally.on_time, "late": tally.late,
                "missing": len(tally.missing),
                "rate": _text(tally.rate), "timely_rate": _text(tally.timely_rate),
                "missing_names": "、".join(i.name for i, _status in tally.missing),
            })
        return rows

    def _indicators(self, alliance: Alliance | None) -> list[dict]:
        level, unit = ("alliance", alliance.pk) if alliance else ("county", self.county.pk)
        rows = []
        for indicator in self.indicators:
            if not indicator.applies_at(level):
                continue
            result = self.results.get((level, indicator.pk, unit))
            state = met_state(result)
            rows.append({
                "code": indicator.code, "name": indicator.name, "category": indicator.category,
                "value": value_text(indicator, result.value if result else None),
                "target": target_text(indicator), "met": state, "met_label": str(MET_LABELS[state]),
            })
        return rows


class Row(NamedTuple):
    """An assignment as the tables need it, its status worked out at the report's moment."""

    pk: int
    item: TaskItem
    is_lead: bool
    unit_name: str
    alliance_id: int | None
    institution_id: int | None
    percent: int
    status: str
    light: str
    due_date: date | None


class Latest(NamedTuple):
    """An assignment's newest progress report: what ``tasks.exports.progress_lines`` shows."""

    text: str
    period: str
    state: str


def newest_reports(assignment_ids: list[int]) -> dict[int, Latest]:
    """The newest progress report of each assignment (as ``tasks.selectors.latest_reports``), read
    in one pass with DISTINCT ON where PostgreSQL offers it, as plain tuples."""
    qs = ProgressReport.objects.filter(assignment_id__in=assignment_ids)
    if connection.vendor == "postgresql":
        qs = qs.order_by("assignment_id", "-submitted_at", "-pk").distinct("assignment_id")
    else:
        newest = (ProgressReport.objects.filter(assignment_id=OuterRef("assignment_id"))
                  .order_by("-submitted_at", "-pk").values("pk")[:1])
        qs = qs.filter(pk=Subquery(newest))
    return {a: Latest(text, period, state) for a, text, period, state in
            qs.values_list("assignment_id", "text", "period", "state")}


def _text(value: Decimal | None) -> str:
    return "" if value is None else f"{value}%"


def _section_labels(item) -> tuple[str, str]:
    section = item.section
    if section is None:
        return "", ""
    if section.level == 2 and section.parent is not None:
        return section.parent.label, section.label
    return section.label, ""


WORST_FIRST = (Status.OVERDUE, Status.DUE_SOON, Status.NOT_STARTED, Status.ON_TRACK, Status.CONTINUOUS, Status.DONE)


def _worst(rows: list[Row]) -> Row:
    return min(rows, key=lambda a: (WORST_FIRST.index(a.status), a.pk))
