"""Reads of the task ledgers for pages, exports and the API. Each says what it costs; none costs
a query per row. The counts read the cached status of assignments, which the callers bring up to
date first with ``assignments_refresh_due`` (cheap: an index finds the rows whose time passed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from alliances import scoping
from alliances.models import Alliance, AllianceMembership, Institution
from alliances.selectors import alliance_by_institution_on
from core.periods import Period, PeriodKind
from tasks.deadlines import DeadlineKind
from tasks.models import Assignment, Department, ProgressReport, TaskItem
from tasks.status import Light, Status, first_of_month

AGING_BUCKETS = [(1, 7), (8, 30), (31, 90), (91, None)]
DATED = [DeadlineKind.FIXED, DeadlineKind.ONGOING, DeadlineKind.MILESTONE]
# The list's order: worst first (red, yellow, blue, none), then by due date (an index serves it).
WORST_FIRST = ("-severity", "due_date", "id")


def visible_assignments(user) -> QuerySet[Assignment]:
    """Active assignments ``user`` may see (scoped), without ordering."""
    return scoping.queryset_for(user, Assignment).filter(is_active=True)


def with_list_data(qs: QuerySet[Assignment]) -> QuerySet[Assignment]:
    """Everything a list row shows, in the same query."""
    return qs.select_related("item__ledger", "item__section", "department", "institution", "alliance")


def most_overdue(lead: QuerySet[Assignment], limit: int = 10) -> list[Assignment]:
    """The ``limit`` responsible assignments longest overdue (a partial index finds them), with what
    a list row shows. Two queries: the assignments with their units, then their items with ledger
    and section by primary key — joining the items in the first query costs PostgreSQL's planner
    more (tens of ms on a province's tables) than reading the rows does."""
    rows = list(lead.filter(status=Status.OVERDUE).select_related("department", "institution", "alliance")
                .order_by("due_date", "id")[:limit])
    items = TaskItem.objects.select_related("ledger", "section").in_bulk({a.item_id for a in rows})
    for assignment in rows:
        assignment.item = items[assignment.item_id]
    return rows


@dataclass
class Counts:
    total: int = 0
    not_started: int = 0
    on_track: int = 0
    due_soon: int = 0
    overdue: int = 0
    done: int = 0
    continuous: int = 0
    red: int = 0
    yellow: int = 0
    blue: int = 0

    @property
    def open(self) -> int:
        return self.total - self.done


def count_fields() -> dict:
    """Aggregates: the total, one count per status and per light (for ``annotate``/``aggregate``)."""
    fields = {"total": Count("pk")}
    for status in Status:
        fields[status.value] = Count("pk", filter=Q(status=status.value))
    for light in (Light.RED, Light.YELLOW, Light.BLUE):
        fields[light.value] = Count("pk", filter=Q(light=light.value))
    return fields


def status_counts(qs: QuerySet[Assignment]) -> Counts:
    """Counts by status and light. One query."""
    return Counts(**qs.aggregate(**count_fields()))


def counts_by_unit(qs: QuerySet[Assignment]) -> list[dict]:
    """Counts per responsible unit, worst first. Four queries (one grouped, three for names)."""
    rows = list(qs.values("department_id", "institution_id", "alliance_id").annotate(**count_fields())
                .order_by("-red", "-yellow", "-total"))
    return name_units(rows)


def name_units(rows: list[dict]) -> list[dict]:
    """Give each row of counts per unit its kind, pk and name. Three queries."""
    names = {
        "department": dict(Department.objects.filter(pk__in={r["department_id"] for r in rows if r["department_id"]})
                           .values_list("pk", "name")),
        "institution": {i.pk: i.display_name for i in Institution.objects.filter(
            pk__in={r["institution_id"] for r in rows if r["institution_id"]})},
        "alliance": {a.pk: a.display_name for a in Alliance.objects.filter(
            pk__in={r["alliance_id"] for r in rows if r["alliance_id"]})},
    }
    for row in rows:
        kind = "department" if row["department_id"] else "institution" if row["institution_id"] else "alliance"
        row["kind"], row["pk"] = kind, row[f"{kind}_id"]
        row["name"] = names[kind].get(row["pk"], "")
    return rows


def counts_by_alliance(qs: QuerySet[Assignment], today: date) -> list[dict]:
    """Counts per alliance: the alliance's own assignments and those of its members today.
    Departments' assignments belong to no alliance. Four queries: counts grouped by alliance and by
    institution, the institutions' alliances today, the alliances' names."""
    fields = count_fields()
    by_alliance = {r["alliance_id"]: r for r in qs.filter(alliance__isnull=False).values("alliance_id")
                   .annotate(**fields).order_by()}
    by_institution = list(qs.filter(institution__isnull=False).values("institution_id").annotate(**fields)
                          .order_by())
    return alliance_totals(by_alliance, by_institution, today, list(fields))


def alliance_totals(by_alliance: dict[int, dict], by_institution: list[dict], today: date,
                    fields: list[str]) -> list[dict]:
    """Counts per alliance from counts per alliance and per institution (an institution's counts go
    to its alliance today). Two queries."""
    alliance_of = alliance_by_institution_on(institution_ids=[r["institution_id"] for r in by_institution], on=today)
    return add_up_alliances(by_alliance.items(), ((alliance_of.get(r["institution_id"]), r) for r in by_institution),
                            fields=fields)


def add_up_alliances(*groups, fields: list[str]) -> list[dict]:
    """Rows of counts per alliance (None: no alliance) from ``groups`` of (alliance id, counts),
    named and sorted by name. One query."""
    totals: dict[int | None, dict] = {}
    for group in groups:
        for alliance_id, row in group:
            target = totals.setdefault(alliance_id, dict.fromkeys(fields, 0))
            for k in fields:
                target[k] += row[k]
    names = {a.pk: a for a in Alliance.objects.filter(pk__in=[pk for pk in totals if pk])}
    rows = [{**counts, "alliance": names.get(pk), "name": names[pk].display_name if pk in names else None}
            for pk, counts in totals.items()]
    return sorted(rows, key=lambda r: (r["alliance"] is None, r["name"] or ""))


def overdue_condition(day: date) -> Q:
    """Open at the end of ``day`` with a real date before it, lead units only (``due_date`` is set
    for dated deadlines only)."""
    return Q(role=Assignment.Role.LEAD, due_date__lt=day) & (
        Q(completed_at__isnull=True) | Q(completed_at__date__gt=day))


def overdue_aging(qs: QuerySet[Assignment], today: date) -> list[dict]:
    """Overdue assignments by days late: 1–7, 8–30, 31–90, over 90. One query."""
    fields = {}
    for low, high in AGING_BUCKETS:
        condition = Q(due_date__lte=today - timedelta(days=low))
        if high is not None:
            condition &= Q(due_date__gte=today - timedelta(days=high))
        fields[f"b{low}"] = Count("pk", filter=condition)
    counts = qs.filter(status=Status.OVERDUE).aggregate(**fields)
    return [{"low": low, "high": high, "count": counts[f"b{low}"]} for low, high in AGING_BUCKETS]


def monthly_trend(qs: QuerySet[Assignment], today: date, months: int = 12,
                  reports: QuerySet[ProgressReport] | None = None) -> list[dict]:
    """For each of the last ``months`` months: assignments overdue at its end (or today for the
    month under way), completed in it, and progress reports submitted in it — of ``reports`` when
    given (the caller knows when the reports of whole counties will do, which an index serves),
    else of the assignments of ``qs``. Two queries."""
    first = first_of_month(today, -(months - 1))
    periods = [Period.containing_date(PeriodKind.MONTH, first_of_month(first, n)) for n in range(months)]
    fields = {}
    for n, period in enumerate(periods):
        end = min(period.end, today)
        fields[f"overdue{n}"] = Count("pk", filter=overdue_condition(end))
        fields[f"done{n}"] = Count("pk", filter=Q(completed_at__date__gte=period.start, completed_at__date__lte=end))
    counts = qs.aggregate(**fields)
    if reports is None:
        reports = ProgressReport.objects.filter(assignment__in=qs.values("pk"))
    reports = dict(reports.filter(period__gte=str(periods[0])).values("period").annotate(n=Count("pk"))
                   .order_by().values_list("period", "n"))
    return [{"period": period, "label": f"{period.start:%Y-%m}", "overdue": counts[f"overdue{n}"],
             "done": counts[f"done{n}"], "reports": reports.get(str(period), 0)} for n, period in enumerate(periods)]


def filter_assignments(qs: QuerySet[Assignment], data: dict, today: date) -> QuerySet[Assignment]:
    """Apply the list's filters (cleaned form data) to ``qs``."""
    if data.get("county"):
        qs = qs.filter(county=data["county"])
    if data.get("ledger"):
        qs = qs.filter(item__ledger=data["ledger"])
    if data.get("status"):
        qs = qs.filter(status=data["status"])
    if data.get("light"):
        qs = qs.filter(light=data["light"])
    if data.get("role"):
        qs = qs.filter(role=data["role"])
    if data.get("alliance"):
        members = AllianceMembership.objects.on(today).filter(alliance=data["alliance"]).values("institution_id")
        qs = qs.filter(Q(alliance=data["alliance"]) | Q(institution_id__in=members))
    unit = data.get("unit") or ""
    kind, _sep, pk = unit.partition(":")
    if kind in ("department", "institution", "alliance") and pk.isdigit():
        qs = qs.filter(**{f"{kind}_id": int(pk)})
    if data.get("aging"):
        low, _sep, high = data["aging"].partition("-")
        qs = qs.filter(status=Status.OVERDUE, due_date__lte=today - timedelta(days=int(low)))
        if high:
            qs = qs.filter(due_date__gte=today - timedelta(days=int(high)))
    if data.get("q"):
        q = data["q"].strip()
        qs = qs.filter(Q(item__text__icontains=q) | Q(item__number__icontains=q) | Q(department__name__icontains=q)
                       | Q(institution__name__icontains=q) | Q(alliance__name__icontains=q))
    if data.get("needs_deadline"):
        qs = qs.filter(item__deadline_kind=DeadlineKind.UNKNOWN, item__deadline_corrected_at__isnull=True)
    return qs


def latest_reports(assignment_ids) -> dict[int, ProgressReport]:
    """The newest report of each assignment. One query (a subquery picks each assignment's newest)."""
    newest = (ProgressReport.objects.filter(assignment_id=OuterRef("assignment_id"))
              .order_by("-submitted_at", "-pk").values("pk")[:1])
    rows = ProgressReport.objects.filter(assignment_id__in=list(assignment_ids)).filter(pk=Subquery(newest))
    return {r.assignment_id: r for r in rows}


def ledger_progress(assignments: QuerySet[Assignment], ledger_ids) -> dict[int, dict]:
    """Per ledger: items, assignments, done, red/yellow/blue — over ``assignments`` (those the user
    sees). One query."""
    rows = (assignments.filter(item__ledger_id__in=list(ledger_ids)).order_by().values("item__ledger_id")
            .annotate(**count_fields()))
    return {r["item__ledger_id"]: r for r in rows}
