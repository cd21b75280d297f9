"""Who runs which accounts, and who reads which part of the security log. Registered with
``alliances.scoping`` (one scoping function per model), so pages, API and exports ask the same place.

- Accounts (``User``, ``Grant``): a superuser all; a county's security administrator (and its
  bureau administrator unless ``PORTAL_SEPARATE_DUTIES``) the accounts kept by the county or
  holding a grant inside it; a platform administrator those of the counties below its city or
  province. Superusers' accounts are shown to superusers only. To change an account, every grant
  it holds must lie in counties the user runs (so nobody takes over a city account or another
  county's through a shared user).
- The security log (``SecurityEvent``): a superuser all; an auditor the events of its counties
  (a city's or province's auditor: the counties below).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import Grant, User
from alliances import scoping
from alliances.scoping import CHANGE, Scope
from core.models import SecurityEvent


def _grants_in(counties: set[int]) -> Q:
    return (Q(region_id__in=counties) | Q(alliance__county_id__in=counties)
            | Q(institution__county_id__in=counties))


def users_in(counties: set[int]) -> QuerySet[User]:
    """Accounts kept by these counties or holding a grant inside them (no superusers)."""
    holders = Grant.objects.filter(_grants_in(counties)).values("user_id")
    return User.objects.filter(Q(county_id__in=counties) | Q(pk__in=holders)).exclude(is_superuser=True)


def changeable_users_in(counties: set[int]) -> QuerySet[User]:
    """Of ``users_in``: those whose every grant lies inside these counties, kept by one of them or
    by none."""
    outside = Grant.objects.exclude(_grants_in(counties)).values("user_id")
    return (users_in(counties).exclude(pk__in=outside)
            .filter(Q(county__isnull=True) | Q(county_id__in=counties)))


@scoping.register(User, security=True)
def _users(scope: Scope, action) -> QuerySet[User]:
    if scope.everything:
        return User.objects.all()
    counties = scope.account_counties
    if not counties:
        return User.objects.none()
    return changeable_users_in(counties) if action == CHANGE else users_in(counties)


@scoping.register(Grant, security=True)
def _grants(scope: Scope, action) -> QuerySet[Grant]:
    if scope.everything:
        return Grant.objects.all()
    counties = scope.account_counties
    if not counties:
        return Grant.objects.none()
    # A grant is seen with its account; it is changed only inside the user's counties.
    if action == CHANGE:
        return Grant.objects.filter(_grants_in(counties), user__in=changeable_users_in(counties))
    return Grant.objects.filter(user__in=users_in(counties))


@scoping.register(SecurityEvent, security=True)
def _security_events(scope: Scope, action) -> QuerySet[SecurityEvent]:
    if action == CHANGE:
        return SecurityEvent.objects.none()  # the log is never changed
    if scope.everything:
        return SecurityEvent.objects.all()
    if not scope.audit_counties:
        return SecurityEvent.objects.none()
    return SecurityEvent.objects.filter(county_id__in=scope.audit_counties)


def account_counties(user) -> set[int] | None:
    """The counties whose accounts ``user`` runs; None for a superuser (all)."""
    scope = scoping.scope_of(user)
    if scope.everything:
        return None
    return scope.account_counties


def runs_accounts(user) -> bool:
    return scoping.scope_of(user).runs_accounts


def audits(user) -> bool:
    return scoping.scope_of(user).audits
