"""Who sees and changes what of the task ledgers: one scoping function per model, registered
with ``alliances.scoping`` (the one place that decides access).

- A county grant (bureau, supervisor, viewer) and a city or province grant see every ledger,
  item, assignment, report and order of their counties; bureau staff change them.
- An alliance grant sees the assignments of the alliance and of the institutions that are or
  were its members, and the items and ledgers those hang on.
- An institution grant sees the assignments of its institution (and of the village clinics it
  manages), with their items and ledgers.
- Inspections, departments and the county's settings are the county's: county grants only.

``CHANGE`` on ledgers, items, assignments and departments means the county bureau (import, edit,
review). Reporting progress and replying to orders are decided by ``tasks.permissions``.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from alliances import scoping
from alliances.models import Institution
from alliances.scoping import CHANGE, Scope
from tasks.models import (
    Assignment,
    AssignmentEvent,
    CountyMonthRollup,
    Department,
    EscalationRule,
    Evidence,
    Inspection,
    InspectionFinding,
    Ledger,
    LedgerRollup,
    ProgressReport,
    SupervisionOrder,
    TaskItem,
    TaskSettings,
    UnitRollup,
)


def _counties(scope: Scope, action) -> set[int]:
    return scope.change_counties if action == CHANGE else scope.view_counties


def _unit_condition(scope: Scope, prefix: str = "") -> Q:
    """Assignments an alliance or institution grant sees: its alliance, and the institutions the
    grant sees (members past and present of the alliance, the institution and its clinics)."""
    condition = Q(pk__in=[])
    if scope.view_alliances:
        condition |= Q(**{f"{prefix}alliance_id__in": scope.view_alliances})
    if scope.view_alliances or scope.view_institutions:
        units_only = Scope(view_alliances=scope.view_alliances, view_institutions=scope.view_institutions)
        visible = scoping.queryset_for_scope(units_only, Institution, scoping.VIEW)
        condition |= Q(**{f"{prefix}institution_id__in": visible.values("pk")})
    return condition


def _county_or_units(scope: Scope, action, field: str) -> Q:
    """Rows of the counties seen whole, or — only for alliance and institution grants, so that a
    county user's query keeps to the county index — of the assignments the grants see."""
    condition = Q(county_id__in=scope.view_counties)
    if scope.view_alliances or scope.view_institutions:
        condition |= Q(**{f"{field}__in": _assignments(scope, action).values("pk")})
    return condition


@scoping.register(Assignment)
def _assignments(scope: Scope, action) -> QuerySet[Assignment]:
    qs = Assignment.objects.all()
    if scope.everything:
        return qs
    condition = Q(county_id__in=_counties(scope, action))
    if action != CHANGE:
        condition |= _unit_condition(scope)
    return qs.filter(condition)


@scoping.register(TaskItem)
def _items(scope: Scope, action) -> QuerySet[TaskItem]:
    qs = TaskItem.objects.all()
    if scope.everything:
        return qs
    condition = Q(ledger__county_id__in=_counties(scope, action))
    if action != CHANGE and (scope.view_alliances or scope.view_institutions):
        condition |= Q(pk__in=_assignments(scope, action).values("item_id"))
    return qs.filter(condition)


@scoping.register(Ledger)
def _ledgers(scope: Scope, action) -> QuerySet[Ledger]:
    qs = Ledger.objects.all()
    if scope.everything:
        return qs
    condition = Q(county_id__in=_counties(scope, action))
    if action != CHANGE and (scope.view_alliances or scope.view_institutions):
        condition |= Q(pk__in=_assignments(scope, action).values("item__ledger_id"))
    return qs.filter(condition)


@scoping.register(ProgressReport)
def _reports(scope: Scope, action) -> QuerySet[ProgressReport]:
    qs = ProgressReport.objects.all()
    if scope.everything:
        return qs
    if action == CHANGE:  # reviewing is the bureau's
        return qs.filter(county_id__in=scope.change_counties)
    return qs.filter(_county_or_units(scope, action, "assignment_id"))


@scoping.register(Evidence)
def _evidence(scope: Scope, action) -> QuerySet[Evidence]:
    qs = Evidence.objects.all()
    if scope.everything:
        return qs
    condition = Q(county_id__in=_counties(scope, action))
    if scope.view_alliances or scope.view_institutions:
        condition |= Q(report_id__in=_reports(scope, action).values("pk"))
    return qs.filter(condition)


@scoping.register(SupervisionOrder)
def _orders(scope: Scope, action) -> QuerySet[SupervisionOrder]:
    qs = SupervisionOrder.objects.all()
    if scope.everything:
        return qs
    if action == CHANGE:  # issuing and escalating is the supervisors'
        return qs.filter(county_id__in=scope.supervise_counties)
    return qs.filter(_county_or_units(scope, action, "assignment_id"))


def _county_only(model):
    def scoper(scope: Scope, action) -> QuerySet:
        qs = model.objects.all()
        if scope.everything:
            return qs
        if action == CHANGE and model in (Inspection, InspectionFinding, EscalationRule):
            return qs.filter(county_id__in=scope.supervise_counties)
        return qs.filter(county_id__in=_counties(scope, action))

    scoper.__name__ = f"_{model._meta.model_name}s"
    return scoper


for _model in (Department, Inspection, InspectionFinding, EscalationRule, TaskSettings, AssignmentEvent,
               UnitRollup, CountyMonthRollup, LedgerRollup):
    scoping.register(_model)(_county_only(_model))

