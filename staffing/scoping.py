"""Who sees and changes the staffing records (registered with ``alliances.scoping``).

- Seeing: whoever sees an institution sees the staff who work there or whose home (编制) it is — a
  member's users their own staff, the alliance office all members', the bureau and higher levels
  the county's.
- Changing the roster, moves and training: HR officers over their institution, alliance or county,
  the alliance office over its current members, the county bureau over the county.
- Identity numbers in full: HR officers of the right scope only (``may_see_identity``).
- Establishment (编制 / 员额) and the county's population: the county bureau; posts and recruitment
  plans: the bureau and the alliance office (and HR officers of the alliance or county).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from alliances import scoping
from alliances.models import Institution
from alliances.scoping import CHANGE, VIEW, Scope, alliance_member_ids
from staffing.models import (
    Establishment,
    IdentityView,
    Move,
    Population,
    PostQuota,
    RecruitmentPlan,
    Staff,
    TrainingRecord,
)


def _within(counties: set[int], alliances: set[int], institutions: set[int]) -> Q:
    """Institutions of ``counties``, current members of ``alliances`` and ``institutions`` (each with the
    village clinics it manages)."""
    condition = Q(county_id__in=counties)
    if alliances:
        members = alliance_member_ids(alliances, current_only=True)
        condition |= Q(pk__in=members) | Q(parent_id__in=members)
    if institutions:
        condition |= Q(pk__in=institutions) | Q(parent_id__in=institutions)
    return condition


def roster_institutions(scope: Scope, action) -> QuerySet[Institution]:
    """Institutions whose staff the scope sees (``VIEW``) or keeps (``CHANGE``)."""
    if scope.everything:
        return Institution.objects.all()
    if action == CHANGE:
        return Institution.objects.filter(_within(scope.change_counties | scope.hr_counties,
                                                  scope.change_alliances | scope.hr_alliances,
                                                  scope.hr_institutions))
    return scoping.queryset_for_scope(scope, Institution, VIEW)


def hr_institutions(scope: Scope) -> QuerySet[Institution]:
    """Institutions whose staff's identity numbers the scope may see in full."""
    if scope.everything:
        return Institution.objects.all()
    return Institution.objects.filter(_within(scope.hr_counties, scope.hr_alliances, scope.hr_institutions))


def may_see_identity(user, staff: Staff) -> bool:
    scope = scoping.scope_of(user)
    if scope.everything:
        return True
    if not (scope.hr_counties or scope.hr_alliances or scope.hr_institutions):
        return False
    return hr_institutions(scope).filter(pk__in=[staff.institution_id, staff.home_id]).exists()


def identity_institution_ids(user) -> set[int]:
    """The institutions whose staff's numbers ``user`` sees whole (one query; empty for most users)."""
    scope = scoping.scope_of(user)
    if not (scope.everything or scope.hr_counties or scope.hr_alliances or scope.hr_institutions):
        return set()
    return set(hr_institutions(scope).values_list("pk", flat=True))


def _by_institution(model, scope: Scope, action, *fields: str) -> QuerySet:
    if scope.everything:
        return model.objects.all()
    visible = roster_institutions(scope, action).values("pk")
    condition = Q()
    for name in fields:
        condition |= Q(**{f"{name}__in": visible})
    return model.objects.filter(condition)


@scoping.register(Staff)
def _staff(scope: Scope, action) -> QuerySet[Staff]:
    return _by_institution(Staff, scope, action, "institution_id", "home_id")


@scoping.register(Move)
def _moves(scope: Scope, action) -> QuerySet[Move]:
    return Move.objects.filter(staff__in=_staff(scope, action))


@scoping.register(TrainingRecord)
def _trainings(scope: Scope, action) -> QuerySet[TrainingRecord]:
    return TrainingRecord.objects.filter(staff__in=_staff(scope, action))


@scoping.register(Establishment)
def _establishments(scope: Scope, action) -> QuerySet[Establishment]:
    if scope.everything:
        return Establishment.objects.all()
    if action == CHANGE:
        return Establishment.objects.filter(county_id__in=scope.change_counties)
    return Establishment.objects.filter(institution__in=scoping.queryset_for_scope(scope, Institution, VIEW))


def _planners(scope: Scope) -> Q:
    return _within(scope.change_counties | scope.hr_counties, scope.change_alliances | scope.hr_alliances, set())


@scoping.register(PostQuota)
def _posts(scope: Scope, action) -> QuerySet[PostQuota]:
    if scope.everything:
        return PostQuota.objects.all()
    if action == CHANGE:
        return PostQuota.objects.filter(institution__in=Institution.objects.filter(_planners(scope)))
    return PostQuota.objects.filter(institution__in=scoping.queryset_for_scope(scope, Institution, VIEW))


@scoping.register(RecruitmentPlan)
def _plans(scope: Scope, action) -> QuerySet[RecruitmentPlan]:
    if scope.everything:
        return RecruitmentPlan.objects.all()
    if action == CHANGE:
        return RecruitmentPlan.objects.filter(Q(county_id__in=scope.change_counties | scope.hr_counties)
                                              | Q(alliance_id__in=scope.change_alliances | scope.hr_alliances))
    return RecruitmentPlan.objects.filter(Q(county_id__in=scope.view_counties) | Q(alliance_id__in=scope.view_alliances)
                                          | Q(institution_id__in=scope.view_institutions))


@scoping.register(Population)
def _population(scope: Scope, action) -> QuerySet[Population]:
    if scope.everything:
        return Population.objects.all()
    counties = scope.change_counties if action == CHANGE else scope.view_counties | scope.context_counties
    return Population.objects.filter(county_id__in=counties)


@scoping.register(IdentityView)
def _identity_views(scope: Scope, action) -> QuerySet[IdentityView]:
    """The log of full views: the county bureau's editors and the county's HR officers read it; nobody
    changes it."""
    if scope.everything:
        return IdentityView.objects.all()
    if action == CHANGE:
        return IdentityView.objects.none()
    return IdentityView.objects.filter(county_id__in=scope.change_counties | scope.hr_counties)
