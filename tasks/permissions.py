"""Who may act on task ledgers beyond seeing them (seeing is ``alliances.scoping``):

- the county bureau (bureau_admin, bureau_staff) imports and edits ledgers, sets deadlines,
  reviews progress reports, and reports for government departments (they have no portal users);
- a unit's own people report progress and reply to supervision orders: the institution's filers
  and reviewers, the alliance office (and alliance-wide filers) for the alliance and for the
  institutions that are its members today;
- supervisors (supervisor, bureau_admin of the county) issue and escalate orders and record
  inspections.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from alliances import scoping
from alliances.models import AllianceMembership
from tasks.models import Assignment, ProgressReport, SupervisionOrder


def _member_ids(alliance_ids: set[int]):
    return (AllianceMembership.objects.on(timezone.localdate()).filter(alliance_id__in=alliance_ids)
            .values("institution_id"))


def reportable_condition(user) -> Q:
    """The assignments ``user`` reports for, as a condition on ``Assignment``."""
    scope = scoping.scope_of(user)
    if scope.everything:
        return Q()
    condition = Q(pk__in=[])
    if scope.change_counties:
        condition |= Q(county_id__in=scope.change_counties, department__isnull=False)
    if scope.report_institutions:
        condition |= Q(institution_id__in=scope.report_institutions)
    if scope.report_alliances:
        condition |= Q(alliance_id__in=scope.report_alliances)
        condition |= Q(institution_id__in=_member_ids(scope.report_alliances))
    return condition


def reportable_assignments(user) -> QuerySet[Assignment]:
    return Assignment.objects.filter(reportable_condition(user), is_active=True)


def can_report(user, assignment: Assignment) -> bool:
    scope = scoping.scope_of(user)
    if scope.everything:
        return True
    if assignment.department_id:
        return assignment.county_id in scope.change_counties
    if assignment.alliance_id:
        return assignment.alliance_id in scope.report_alliances
    if assignment.institution_id in scope.report_institutions:
        return True
    return bool(scope.report_alliances) and _member_ids(scope.report_alliances).filter(
        institution_id=assignment.institution_id).exists()


def can_review(user, report: ProgressReport) -> bool:
    return scoping.scope_of(user).can_change_county(report.county_id)


def can_edit_county(user, county_id: int) -> bool:
    return scoping.scope_of(user).can_change_county(county_id)


def can_supervise(user, county_id: int) -> bool:
    return scoping.scope_of(user).can_supervise_county(county_id)


def can_reply(user, order: SupervisionOrder) -> bool:
    return can_report(user, order.assignment)
