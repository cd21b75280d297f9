"""Who sees and changes what. The one place that decides it.

Every page, API viewset, export, import and job asks this module for its
querysets. One scoping function per model, registered in ``_SCOPERS``;
``queryset_for(user, Model)`` and ``get_for_user(user, Model, pk)`` are the
entry points. An object outside the user's scope answers the same 404 as a
missing one.

Rules (a user may hold several grants; they add up):

- a superuser sees and changes everything;
- a grant on a county: bureau_admin and bureau_staff see and change the
  county's master data; supervisor and viewer see it;
- a grant on a city or a province: every county below, read-only, whatever
  the role;
- a grant on an alliance: the alliance, every institution that has been its
  member (with their village clinics) and their memberships; alliance_admin
  may change the alliance and its current members;
- a grant on an institution: that institution and the village clinics it
  manages, with their membership history; read-only for master data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import SECURITY_ROLES, Grant, Role
from alliances.models import Alliance, AllianceMembership, Institution, JointOffice, Region

Action = Literal["view", "change"]
VIEW: Action = "view"
CHANGE: Action = "change"

# Roles that may change master data of the county they are granted on.
COUNTY_EDITOR_ROLES = {Role.BUREAU_ADMIN, Role.BUREAU_STAFF}
# Roles that supervise a county's tasks (督办, 督查).
SUPERVISOR_ROLES = {Role.SUPERVISOR, Role.BUREAU_ADMIN}
# Roles that report for the institution or alliance they are granted on (progress, later filings);
# viewers only read.
REPORTER_ROLES = {Role.ALLIANCE_ADMIN, Role.INSTITUTION_FILER, Role.INSTITUTION_REVIEWER}


@dataclass
class Scope:
    """What one user's grants add up to. Built once per user object (two queries)."""

    everything: bool = False
    view_counties: set[int] = field(default_factory=set)
    change_counties: set[int] = field(default_factory=set)
    view_alliances: set[int] = field(default_factory=set)
    change_alliances: set[int] = field(default_factory=set)
    view_institutions: set[int] = field(default_factory=set)
    # Counties the user's alliance/institution grants lie in (to show the county's name).
    context_counties: set[int] = field(default_factory=set)
    # Regions granted directly (cities and provinces included).
    granted_regions: set[int] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    # Counties whose tasks the user supervises (督办单, 督查); only counties, never a city or province.
    supervise_counties: set[int] = field(default_factory=set)
    # Institutions and alliances the user reports for (task progress, filings).
    report_institutions: set[int] = field(default_factory=set)
    report_alliances: set[int] = field(default_factory=set)
    # Where the user is an HR officer (the roster, identity numbers in full).
    hr_counties: set[int] = field(default_factory=set)
    hr_alliances: set[int] = field(default_factory=set)
    hr_institutions: set[int] = field(default_factory=set)
    # The security side, apart from the business data (a security role alone sees none of it):
    # counties whose accounts the user runs (security_admin; bureau_admin unless duties are
    # separated), counties whose security log the user reads (auditor, county or above), and
    # counties below a platform administrator's city or province.
    security_counties: set[int] = field(default_factory=set)
    audit_counties: set[int] = field(default_factory=set)
    platform_regions: set[int] = field(default_factory=set)
    platform_counties: set[int] = field(default_factory=set)

    @property
    def is_empty(self) -> bool:
        return not (self.everything or self.view_counties or self.view_alliances or self.view_institutions)

    def can_change_county(self, county_id: int | None) -> bool:
        return self.everything or (county_id is not None and county_id in self.change_counties)

    def can_supervise_county(self, county_id: int | None) -> bool:
        return self.everything or (county_id is not None and county_id in self.supervise_counties)

    @property
    def read_only(self) -> bool:
        return not (self.everything or self.change_counties or self.change_alliances)

    @property
    def runs_accounts(self) -> bool:
        """Whether the user manages accounts anywhere (user management)."""
        return bool(self.everything or self.security_counties or self.platform_counties)

    @property
    def account_counties(self) -> set[int]:
        """The counties whose accounts the user runs (all of them for a superuser: see ``everything``)."""
        return self.security_counties | self.platform_counties

    @property
    def audits(self) -> bool:
        """Whether the user reads a security log (auditor, superuser)."""
        return bool(self.everything or self.audit_counties)


class _GrantRow(NamedTuple):
    """A grant as the scope reads it: the field names are the query's (``values_list``)."""
    role: str
    region_id: int | None
    region__level: str | None
    alliance_id: int | None
    alliance__county_id: int | None
    institution_id: int | None
    institution__county_id: int | None


def scope_of(user) -> Scope:
    """The user's ``Scope``, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Scope()
    cached = getattr(user, "_portal_scope", None)
    if cached is not None:
        return cached
    scope = Scope(everything=user.is_superuser)
    grants = _grant_rows(user.pk)
    higher_regions: set[int] = set()
    audit_higher: set[int] = set()
    for grant in grants:
        scope.roles.add(grant.role)
        if grant.role in SECURITY_ROLES:
            if not grant.region_id:
                continue
            is_county = grant.region__level == Region.Level.COUNTY
            if grant.role == Role.SECURITY_ADMIN and is_county:
                scope.security_counties.add(grant.region_id)
            elif grant.role == Role.AUDITOR:
                (scope.audit_counties if is_county else audit_higher).add(grant.region_id)
            elif grant.role == Role.PLATFORM_ADMIN and not is_county:
                scope.platform_regions.add(grant.region_id)
            continue
        if grant.role == Role.BUREAU_ADMIN and grant.region_id and not separate_duties():
            if grant.region__level == Region.Level.COUNTY:
                scope.security_counties.add(grant.region_id)
        if grant.region_id:
            scope.granted_regions.add(grant.region_id)
            if grant.region__level == Region.Level.COUNTY:
                scope.view_counties.add(grant.region_id)
                if grant.role in COUNTY_EDITOR_ROLES:
                    scope.change_counties.add(grant.region_id)
                if grant.role in SUPERVISOR_ROLES:
                    scope.supervise_counties.add(grant.region_id)
                if grant.role == Role.HR_OFFICER:
                    scope.hr_counties.add(grant.region_id)
            else:
                higher_regions.add(grant.region_id)
        elif grant.alliance_id:
            scope.view_alliances.add(grant.alliance_id)
            scope.context_counties.add(grant.alliance__county_id)
            if grant.role == Role.ALLIANCE_ADMIN:
                scope.change_alliances.add(grant.alliance_id)
            if grant.role in REPORTER_ROLES:
                scope.report_alliances.add(grant.alliance_id)
            if grant.role == Role.HR_OFFICER:
                scope.hr_alliances.add(grant.alliance_id)
        else:
            scope.view_institutions.add(grant.institution_id)
            scope.context_counties.add(grant.institution__county_id)
            if grant.role in REPORTER_ROLES:
                scope.report_institutions.add(grant.institution_id)
            if grant.role == Role.HR_OFFICER:
                scope.hr_institutions.add(grant.institution_id)
    if higher_regions:
        scope.view_counties |= counties_below(higher_regions)
    if audit_higher:
        scope.audit_counties |= counties_below(audit_higher)
    if scope.platform_regions:
        scope.platform_counties = counties_below(scope.platform_regions)
    user._portal_scope = scope
    return scope


_GRANTS_SQL: str | None = None


def _grant_rows(user_id: int) -> list[_GrantRow]:
    """The user's grants as plain rows. This runs on every request that reads a scope: the ORM
    spent four times as long building the statement (three joins) as the database answering it, so
    the statement is built once per process and run with the user's id."""
    global _GRANTS_SQL
    if _GRANTS_SQL is None:
        sql, params = Grant.objects.filter(user_id=-1).order_by("pk").values_list(*_GrantRow._fields).query \
            .sql_with_params()
        if list(params) != [-1]:  # the user's id must be the statement's only parameter
            raise RuntimeError(f"unexpected parameters of the grants query: {params!r}")
        _GRANTS_SQL = sql
    with connection.cursor() as cursor:
        cursor.execute(_GRANTS_SQL, [user_id])
        return [_GrantRow(*row) for row in cursor.fetchall()]


def counties_below(region_ids: set[int]) -> set[int]:
    """The counties below cities or provinces (one query). The tree has three levels: a county's
    parent is a city, the city's parent a province."""
    return set(
        Region.objects.filter(level=Region.Level.COUNTY)
        .filter(Q(parent_id__in=region_ids) | Q(parent__parent_id__in=region_ids))
        .values_list("pk", flat=True)
    )


def separate_duties() -> bool:
    """三员分立 (``PORTAL_SEPARATE_DUTIES``): only security administrators run accounts."""
    from django.conf import settings

    return bool(getattr(settings, "PORTAL_SEPARATE_DUTIES", False))


def forget_scope(user) -> None:
    """Drop the cached scope, after the user's grants changed."""
    if hasattr(user, "_portal_scope"):
        del user._portal_scope


# Scoping functions, one per model --------------------------------------------------------

def _regions(scope: Scope, action: Action) -> QuerySet[Region]:
    qs = Region.objects.all()
    if scope.everything:
        return qs
    if action == CHANGE:
        return qs.none()
    counties = scope.view_counties | scope.context_counties
    # Granted regions, the counties visible below them, and the ancestors of those counties.
    return qs.filter(
        Q(pk__in=scope.granted_regions)
        | Q(pk__in=counties)
        | Q(children__pk__in=counties)
        | Q(children__children__pk__in=counties)
    ).distinct()


def _alliances(scope: Scope, action: Action) -> QuerySet[Alliance]:
    qs = Alliance.objects.all()
    if scope.everything:
        return qs
    if action == CHANGE:
        return qs.filter(Q(county_id__in=scope.change_counties) | Q(pk__in=scope.change_alliances))
    return qs.filter(Q(county_id__in=scope.view_counties) | Q(pk__in=scope.view_alliances))


def alliance_member_ids(alliance_ids: set[int], *, current_only: bool) -> QuerySet:
    memberships = AllianceMembership.objects.filter(alliance_id__in=alliance_ids)
    if current_only:
        memberships = memberships.on(timezone.localdate())
    return memberships.values("institution_id")


def _institutions(scope: Scope, action: Action) -> QuerySet[Institution]:
    qs = Institution.objects.all()
    if scope.everything:
        return qs
    if action == CHANGE:
        condition = Q(county_id__in=scope.change_counties)
        if scope.change_alliances:
            members = alliance_member_ids(scope.change_alliances, current_only=True)
            condition |= Q(pk__in=members) | Q(parent_id__in=members)
        return qs.filter(condition)
    condition = Q(county_id__in=scope.view_counties)
    if scope.view_alliances:
        members = alliance_member_ids(scope.view_alliances, current_only=False)
        condition |= Q(pk__in=members) | Q(parent_id__in=members)
    if scope.view_institutions:
        condition |= Q(pk__in=scope.view_institutions) | Q(parent_id__in=scope.view_institutions)
    return qs.filter(condition)


def _memberships(scope: Scope, action: Action) -> QuerySet[AllianceMembership]:
    qs = AllianceMembership.objects.all()
    if scope.everything:
        return qs
    if action == CHANGE:
        # Moving institutions between alliances is the bureau's decision.
        return qs.filter(alliance__county_id__in=scope.change_counties)
    return qs.filter(
        Q(alliance__county_id__in=scope.view_counties)
        | Q(alliance_id__in=scope.view_alliances)
        | Q(institution_id__in=scope.view_institutions)
        # A village clinic's user sees the membership of the centre that manages it.
        | Q(institution__children__pk__in=scope.view_institutions)
    ).distinct()


def _joint_offices(scope: Scope, action: Action) -> QuerySet[JointOffice]:
    qs = JointOffice.objects.all()
    if scope.everything:
        return qs
    if action == CHANGE:
        return qs.filter(first__county_id__in=scope.change_counties)
    visible = _institutions(scope, VIEW).values("pk")
    return qs.filter(Q(first_id__in=visible) | Q(second_id__in=visible))


_SCOPERS: dict[type[Model], Callable[[Scope, Action], QuerySet]] = {
    Region: _regions,
    Alliance: _alliances,
    Institution: _institutions,
    AllianceMembership: _memberships,
    JointOffice: _joint_offices,
}


# Models of the security side (accounts, the security log): a user with no business scope at all
# (a security administrator, an auditor) still has rows of these.
_SECURITY_MODELS: set[type[Model]] = set()


def register(model: type[Model], *, security: bool = False):
    """Register the scoping function of a model of another app (decorator). ``security``: the model
    belongs to the security side, whose users may have no business scope."""

    def decorator(func: Callable[[Scope, Action], QuerySet]):
        if model in _SCOPERS:
            raise RuntimeError(f"{model.__name__} already has a scoping function")
        _SCOPERS[model] = func
        if security:
            _SECURITY_MODELS.add(model)
        return func

    return decorator


def scoped_models() -> list[type[Model]]:
    return list(_SCOPERS)


# Entry points ----------------------------------------------------------------------------

def queryset_for(user, model: type[Model], action: Action = VIEW) -> QuerySet:
    """The rows of ``model`` that ``user`` may see (or change, with ``action="change"``)."""
    try:
        scoper = _SCOPERS[model]
    except KeyError:
        raise LookupError(f"{model.__name__} has no scoping function") from None
    scope = scope_of(user)
    if scope.is_empty and model not in _SECURITY_MODELS:
        return model._default_manager.none()
    return scoper(scope, action)


def queryset_for_scope(scope: Scope, model: type[Model], action: Action = VIEW) -> QuerySet:
    """Like ``queryset_for`` for a ``Scope`` built by hand (a part of a user's grants)."""
    if scope.is_empty and model not in _SECURITY_MODELS:
        return model._default_manager.none()
    return _SCOPERS[model](scope, action)


def get_for_user(user, model: type[Model], pk, action: Action = VIEW, queryset: QuerySet | None = None):
    """One row the user may see. A missing row and a row of another county both raise the
    same ``Http404``; a row the user sees but may not change raises ``PermissionDenied``."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404(_("Not found.")) from None
    base = queryset if queryset is not None else queryset_for(user, model, VIEW)
    obj = base.filter(pk=pk).first()
    if obj is None:
        raise Http404(_("Not found."))
    if action == CHANGE and not queryset_for(user, model, CHANGE).filter(pk=pk).exists():
        raise PermissionDenied(_("You may view this record but not change it."))
    return obj


def can_change(user, obj: Model) -> bool:
    return queryset_for(user, type(obj), CHANGE).filter(pk=obj.pk).exists()


def reads_region_rollup(user, region: Region) -> bool:
    """Whether ``user`` reads the roll-up of a city or province (its counties' quarterly evaluation
    side by side): a grant on the region or on the province above it. A county user sees the city's
    name, not its roll-up."""
    if region.is_county:
        return False
    scope = scope_of(user)
    return scope.everything or region.pk in scope.granted_regions or region.parent_id in scope.granted_regions


def counties_for(user, action: Action = VIEW) -> QuerySet[Region]:
    """The counties a user can create alliances and institutions in (``change``) or see in full (``view``)."""
    scope = scope_of(user)
    qs = Region.objects.filter(level=Region.Level.COUNTY)
    if scope.everything:
        return qs
    ids = scope.change_counties if action == CHANGE else scope.view_counties
    return qs.filter(pk__in=ids)
