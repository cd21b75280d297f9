"""Reading accounts for user management: who runs accounts, the units they grant on, the user list
with its filters (the page, its export and ``/api/users/`` ask the same functions), and the states
shown beside each account (locked out, must change the password, two-factor missing).

The list costs the same few queries at any size: the page, its grants (one prefetch), the
locked-out user names (one query) and two-factor devices (a subquery)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import TWO_FACTOR_ROLES, Grant, Role, User
from alliances import scoping
from alliances.models import Alliance, Institution, Region
from alliances.scoping import Scope
from security import services
from security.access import _grants_in, users_in
from security.grants import ABOVE_COUNTY_ONLY, grant_words

# ``signin=dormant`` on the list: no sign-in (or creation, or reactivation) for this many days. The
# nightly deactivation counts ACCOUNT_DORMANT_DAYS (180); the list shows who is on the way there.
DORMANT_LIST_DAYS = 90


def account_scope(user) -> Scope:
    """The scope of a user who runs accounts; ``PermissionDenied`` (403) for anyone else."""
    scope = scoping.scope_of(user)
    if not scope.runs_accounts:
        raise PermissionDenied(_("Only the county's security administrator manages user accounts."))
    return scope


def grantable_roles(scope: Scope) -> list[tuple[str, str]]:
    """The roles offered to this administrator (``check_grant`` still decides each grant): a
    superuser every role; a county's administrator every role but those granted above a county."""
    return [(value, label) for value, label in Role.choices if scope.everything or value not in ABOVE_COUNTY_ONLY]


# Units ----------------------------------------------------------------------------------------

@dataclass
class Unit:
    """A scope a grant can be made on: a region, an alliance or an institution."""

    kind: str  # "region" | "alliance" | "institution"
    obj: Region | Alliance | Institution
    county_id: int | None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.obj.pk}"

    @property
    def name(self) -> str:
        return self.obj.name


@dataclass
class Units:
    """The units of some counties, grouped by county (three queries to build)."""

    counties: list[Region] = field(default_factory=list)
    others: list[Region] = field(default_factory=list)  # cities and provinces (superusers only)
    alliances: list[Alliance] = field(default_factory=list)
    institutions: list[Institution] = field(default_factory=list)

    def all(self) -> list[Unit]:
        units = [Unit("region", r, None) for r in self.others]
        for county in self.counties:
            units.append(Unit("region", county, county.pk))
            units += [Unit("alliance", a, a.county_id) for a in self.alliances if a.county_id == county.pk]
            units += [Unit("institution", i, i.county_id) for i in self.institutions if i.county_id == county.pk]
        return units

    def by_key(self) -> dict[str, Unit]:
        return {unit.key: unit for unit in self.all()}

    def choices(self) -> list:
        """Grouped choices for a select: each county with its alliances and institutions."""
        groups: list = []
        if self.others:
            groups.append((_("Cities and provinces"), [(f"region:{r.pk}", r.name) for r in self.others]))
        for county in self.counties:
            options = [(f"region:{county.pk}", _("%(county)s (the whole county)") % {"county": county.name})]
            options += [(f"alliance:{a.pk}", a.name) for a in self.alliances if a.county_id == county.pk]
            options += [(f"institution:{i.pk}", i.name) for i in self.institutions if i.county_id == county.pk]
            groups.append((county.name, options))
        return groups


def units_of(scope: Scope, county_ids: set[int] | None = None) -> Units:
    """The units of the counties whose accounts the user runs (all of them for a superuser, with the
    cities and provinces), or of ``county_ids`` among them. Three or four queries."""
    counties = Region.objects.filter(level=Region.Level.COUNTY)
    if not scope.everything:
        counties = counties.filter(pk__in=scope.account_counties)
    if county_ids is not None:
        counties = counties.filter(pk__in=county_ids)
    counties = list(counties.order_by("code"))
    ids = [c.pk for c in counties]
    units = Units(counties=counties)
    if scope.everything and county_ids is None:
        units.others = list(Region.objects.exclude(level=Region.Level.COUNTY).order_by("code"))
    units.alliances = list(Alliance.objects.filter(county_id__in=ids).order_by("county_id", "name", "pk"))
    units.institutions = list(Institution.objects.filter(county_id__in=ids).order_by("county_id", "kind", "name",
                                                                                      "pk"))
    return units


def unit_from_key(key: str, units: Units) -> Unit | None:
    return units.by_key().get((key or "").strip())


def any_unit(key: str) -> Unit | None:
    """The unit a ``kind:id`` names, wherever it is (one query); None when there is none. For a
    grant asked outside the administrator's counties: the grant rules refuse it and log it."""
    kind, _sep, pk = (key or "").partition(":")
    model = {"region": Region, "alliance": Alliance, "institution": Institution}.get(kind)
    if model is None or not pk.isdigit():
        return None
    obj = model.objects.filter(pk=int(pk)).first()
    if obj is None:
        return None
    county_id = (obj.pk if obj.level == Region.Level.COUNTY else None) if kind == "region" else obj.county_id
    return Unit(kind, obj, county_id)


# The list ---------------------------------------------------------------------------------------

@dataclass
class UserFilters:
    unit: str = ""
    role: str = ""
    active: str = ""  # "", "1", "0"
    locked: bool = False
    must_change: bool = False
    signin: str = ""  # "", "dormant", "never"
    q: str = ""

    @classmethod
    def from_params(cls, params) -> UserFilters:
        def flag(name: str) -> bool:
            return (params.get(name) or "").strip().lower() in ("1", "true", "yes", "on")

        active = (params.get("active") or "").strip().lower()
        active = {"true": "1", "false": "0"}.get(active, active)
        return cls(unit=(params.get("unit") or "").strip(),
                   role=params.get("role") if params.get("role") in Role.values else "",
                   active=active if active in ("1", "0") else "",
                   locked=flag("locked"), must_change=flag("must_change"),
                   signin=params.get("signin") if params.get("signin") in ("dormant", "never") else "",
                   q=" ".join((params.get("q") or "").split())[:100])


def last_activity_before(moment: datetime) -> Q:
    """Accounts whose last sign-in, creation and reactivation (the latest of them) are all before
    ``moment``."""
    return ((Q(last_login__isnull=True) | Q(last_login__lt=moment)) & Q(date_joined__lt=moment)
            & (Q(reactivated_at__isnull=True) | Q(reactivated_at__lt=moment)))


def filtered_users(user, filters: UserFilters, *, now: datetime, units: Units | None = None,
                   locked: set[str] | None = None) -> QuerySet[User]:
    """The accounts the user sees (``security.access``), filtered. ``locked``: the locked-out user
    names, when the caller has them already."""
    scope = scoping.scope_of(user)
    qs = scoping.queryset_for(user, User)
    inside = Q() if scope.everything else _grants_in(scope.account_counties)
    if filters.unit:
        unit = unit_from_key(filters.unit, units if units is not None else units_of(scope))
        if unit is None:
            qs = qs.none()
        elif unit.kind == "region" and unit.county_id is not None:
            qs = qs.filter(pk__in=users_in({unit.obj.pk}).values("pk"))
        else:
            qs = qs.filter(pk__in=Grant.objects.filter(**{f"{unit.kind}_id": unit.obj.pk}).values("user_id"))
    if filters.role:
        qs = qs.filter(pk__in=Grant.objects.filter(inside, role=filters.role).values("user_id"))
    if filters.active:
        qs = qs.filter(is_active=filters.active == "1")
    if filters.locked:
        qs = qs.filter(username__in=list(locked if locked is not None else services.locked_usernames()))
    if filters.must_change:
        qs = qs.filter(must_change_password=True)
    if filters.signin == "dormant":
        qs = qs.filter(last_activity_before(now - timedelta(days=DORMANT_LIST_DAYS)))
    elif filters.signin == "never":
        qs = qs.filter(last_login__isnull=True)
    if filters.q:
        qs = qs.filter(Q(full_name__icontains=filters.q) | Q(username__icontains=filters.q)
                       | Q(phone__contains=filters.q))
    return qs


def with_details(qs: QuerySet[User]) -> QuerySet[User]:
    """What a row of the list shows, without a query per row: grants with their scopes, the county,
    and whether a confirmed two-factor device exists."""
    grants = Grant.objects.select_related("region", "alliance", "institution").order_by("pk")
    return (qs.select_related("county").prefetch_related(Prefetch("grants", queryset=grants))
            .annotate(has_two_factor=Exists(TOTPDevice.objects.filter(user_id=OuterRef("pk"), confirmed=True)))
            .order_by("username", "pk"))


@dataclass
class AccountState:
    """What the list and the detail page say of an account."""

    grants: list[Grant]  # those inside the administrator's counties (all for a superuser)
    other_grants: int  # grants elsewhere (another county, a city), counted, not shown
    locked: bool
    needs_two_factor: bool  # required by its roles and PORTAL_REQUIRE_2FA, and not enrolled

    @property
    def words(self) -> list[str]:
        return [grant_words(g.role, g.scope) for g in self.grants]


def grant_county_id(grant: Grant) -> int | None:
    if grant.region_id:
        return grant.region_id if grant.region.level == Region.Level.COUNTY else None
    return (grant.alliance or grant.institution).county_id


def state_of(account: User, *, scope: Scope, locked: set[str]) -> AccountState:
    """From the prefetched grants and the ``has_two_factor`` annotation (``with_details``): no query."""
    grants = list(account.grants.all())
    if scope.everything:
        shown = grants
    else:
        shown = [g for g in grants if grant_county_id(g) in scope.account_counties]
    required = bool(getattr(settings, "PORTAL_REQUIRE_2FA", False)) and (
        account.is_superuser or any(g.role in TWO_FACTOR_ROLES for g in grants))
    return AccountState(grants=shown, other_grants=len(grants) - len(shown), locked=account.username in locked,
                        needs_two_factor=required and not getattr(account, "has_two_factor", False))


def decorate(accounts, *, scope: Scope, locked: set[str]) -> list[User]:
    """Each account with its ``state`` (``AccountState``)."""
    accounts = list(accounts)
    for account in accounts:
        account.state = state_of(account, scope=scope, locked=locked)
    return accounts
