"""Granting and revoking roles: the rules of 访问控制 in one place.

Nobody grants outside the counties whose accounts they run, nor a role above their own: only a
superuser makes a province or city grant (platform administrators, city and province viewers and
auditors) or a superuser; inside a county, its security administrator (and its bureau
administrator unless duties are separated) grants every county role, bureau_admin included. A
county keeps at least one active account able to run its accounts. With ``PORTAL_SEPARATE_DUTIES``
(三员分立) the auditor holds no other role and the security administrator no business role.

A refused grant raises ``GrantRefused`` with a Chinese message, writes nothing but its security
event (result "denied"), and callers show the message.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import ROLE_SCOPES, SECURITY_ROLES, Grant, Role, User
from alliances import scoping
from alliances.models import Alliance, Institution, Region
from alliances.scoping import forget_scope, separate_duties
from core import audit
from core.audit import Event

# Roles that may only be granted on a county (not on a city or province).
COUNTY_ONLY = {Role.BUREAU_ADMIN, Role.BUREAU_STAFF, Role.SUPERVISOR, Role.SECURITY_ADMIN, Role.HR_OFFICER}
# Roles that may only be granted on a city or a province.
ABOVE_COUNTY_ONLY = {Role.PLATFORM_ADMIN}
BUSINESS_ROLES = {r for r in Role.values if r not in SECURITY_ROLES}


class GrantRefused(Exception):
    """A grant or revocation the rules refuse; ``str()`` is the Chinese message for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def security_capable_roles() -> set[str]:
    """Roles that run a county's accounts."""
    return {Role.SECURITY_ADMIN} if separate_duties() else {Role.SECURITY_ADMIN, Role.BUREAU_ADMIN}


def scope_kind(scope_obj) -> str:
    if isinstance(scope_obj, Region):
        return "region"
    if isinstance(scope_obj, Alliance):
        return "alliance"
    if isinstance(scope_obj, Institution):
        return "institution"
    raise GrantRefused(_("A grant's scope is a region, an alliance or an institution."))


def scope_county_id(scope_obj) -> int | None:
    """The county a scope lies in (None for a city or province)."""
    if isinstance(scope_obj, Region):
        return scope_obj.pk if scope_obj.level == Region.Level.COUNTY else None
    return scope_obj.county_id


def grant_words(role: str, scope_obj) -> str:
    """A grant in words, e.g. 填报员 · 郁南县都城镇卫生院."""
    return f"{Role(role).label} · {scope_obj}"


def _describe(grants) -> list[str]:
    return [grant_words(g.role, g.scope) for g in grants]


def check_grant(*, actor, user: User, role: str, scope_obj, held: list[Grant] | None = None,
                changeable: bool | None = None) -> None:
    """Raise ``GrantRefused`` (with the reason) unless ``actor`` may grant ``role`` on ``scope_obj``
    to ``user`` (which may be new and unsaved). Two or three queries; none when the caller gives
    ``held`` (the grants the account holds) and ``changeable`` (whether ``actor`` may change the
    account), as an import checking hundreds of rows at once does."""
    if role not in Role.values:
        raise GrantRefused(_("Unknown role: %(role)s.") % {"role": role})
    kind = scope_kind(scope_obj)
    label = Role(role).label
    if kind not in ROLE_SCOPES.get(role, ()):
        raise GrantRefused(_("The role %(role)s cannot be granted on a %(scope)s.") % {
            "role": label, "scope": {"region": _("region"), "alliance": _("alliance"),
                                     "institution": _("institution")}[kind]})
    county_id = scope_county_id(scope_obj)
    if role in COUNTY_ONLY and county_id is None:
        raise GrantRefused(_("The role %(role)s is granted on a county, not on a city or province.")
                           % {"role": label})
    if role in ABOVE_COUNTY_ONLY and county_id is not None:
        raise GrantRefused(_("The role %(role)s is granted on a city or province.") % {"role": label})
    scope = scoping.scope_of(actor)
    if not scope.everything:
        if county_id is None:
            raise GrantRefused(_("Only a superuser grants roles on a city or province."))
        if user.pk is not None and user.pk == actor.pk:
            raise GrantRefused(_("You cannot change your own grants; ask another administrator."))
        if county_id not in scope.account_counties:
            raise GrantRefused(_("This scope does not exist or is outside the counties whose accounts you run."))
        if user.pk is not None and not (changeable if changeable is not None else scoping.queryset_for(
                actor, User, scoping.CHANGE).filter(pk=user.pk).exists()):
            raise GrantRefused(_("This account is outside the counties whose accounts you run."))
    if user.pk is not None and not user.is_active:
        raise GrantRefused(_("This account is deactivated; reactivate it first."))
    if held is None:
        held = list(Grant.objects.filter(user_id=user.pk)) if user.pk is not None else []
    if any(g.role == role and g.scope_kind == kind and getattr(g, f"{kind}_id") == scope_obj.pk for g in held):
        raise GrantRefused(_("The account already has this grant."))
    if separate_duties():
        held_roles = {g.role for g in held}
        if role == Role.AUDITOR and held_roles - {Role.AUDITOR}:
            raise GrantRefused(_("Separation of duties (三员分立): an auditor holds no other role."))
        if Role.AUDITOR in held_roles and role != Role.AUDITOR:
            raise GrantRefused(_("Separation of duties (三员分立): an auditor holds no other role."))
        if role == Role.SECURITY_ADMIN and held_roles & BUSINESS_ROLES:
            raise GrantRefused(_("Separation of duties (三员分立): a security administrator holds no business role."))
        if Role.SECURITY_ADMIN in held_roles and role in BUSINESS_ROLES:
            raise GrantRefused(_("Separation of duties (三员分立): a security administrator holds no business role."))


def _refused(*, actor, user, request, action: str, role: str, scope_obj, reason: str) -> None:
    audit.record(Event.GRANT_DENIED, request=request, actor=actor, target=user if user.pk else None,
                 result=audit.DENIED, county_id=scope_county_id(scope_obj) if scope_obj is not None else None,
                 details={"action": action, "role": role, "scope": str(scope_obj) if scope_obj is not None else "",
                          "username": user.username, "reason": reason})


def grant_add(*, actor, user: User, role: str, scope_obj, request=None) -> Grant:
    """Grant ``role`` on ``scope_obj`` to ``user``, or raise ``GrantRefused`` (its refusal logged)."""
    try:
        check_grant(actor=actor, user=user, role=role, scope_obj=scope_obj)
    except GrantRefused as refused:
        _refused(actor=actor, user=user, request=request, action="add", role=role, scope_obj=scope_obj,
                 reason=refused.message)
        raise
    with transaction.atomic():
        # One grant change of an account at a time (two clicks, two administrators).
        User.objects.select_for_update().filter(pk=user.pk).first()
        before = list(Grant.objects.filter(user=user).select_related("region", "alliance", "institution"))
        kind = scope_kind(scope_obj)
        if any(g.role == role and g.scope_kind == kind and g.scope.pk == scope_obj.pk for g in before):
            raise GrantRefused(_("The account already has this grant."))
        grant = Grant(user=user, role=role, **{kind: scope_obj})
        grant.full_clean()
        grant.save()
        forget_scope(user)
        user._portal_needs_2fa = None
        audit.record(Event.GRANT_ADD, request=request, actor=actor, target=user,
                     county_id=scope_county_id(scope_obj),
                     details={"grant": grant_words(role, scope_obj), "role": role, "scope_type": kind,
                              "scope_id": scope_obj.pk, "before": _describe(before),
                              "after": _describe([*before, grant])})
    return grant


def last_security_holder(grant: Grant) -> bool:
    """Whether ``grant`` is the last grant of an active account able to run its county's accounts."""
    if grant.role not in security_capable_roles() or not grant.region_id:
        return False
    others = (Grant.objects.filter(region_id=grant.region_id, role__in=security_capable_roles(),
                                   user__is_active=True).exclude(user_id=grant.user_id))
    return not others.exists()


def check_remove(*, actor, grant: Grant) -> None:
    scope = scoping.scope_of(actor)
    county_id = scope_county_id(grant.scope)
    if not scope.everything:
        if county_id is None:
            raise GrantRefused(_("Only a superuser grants roles on a city or province."))
        if grant.user_id == actor.pk:
            raise GrantRefused(_("You cannot change your own grants; ask another administrator."))
        if county_id not in scope.account_counties or not scoping.queryset_for(
                actor, Grant, scoping.CHANGE).filter(pk=grant.pk).exists():
            raise GrantRefused(_("This scope does not exist or is outside the counties whose accounts you run."))
    if last_security_holder(grant):
        raise GrantRefused(_("This is the county's last account able to run its accounts; grant the role to "
                             "someone else first."))


def grant_remove(*, actor, grant: Grant, request=None) -> None:
    """Revoke ``grant``, or raise ``GrantRefused`` (its refusal logged)."""
    user = grant.user
    refused = None
    with transaction.atomic():
        if grant.region_id:
            # Serialise revocations in one county, so two cannot remove its last two administrators.
            Region.objects.select_for_update().filter(pk=grant.region_id).first()
        try:
            check_remove(actor=actor, grant=grant)
        except GrantRefused as error:
            refused = error
        else:
            before = list(Grant.objects.filter(user=user).select_related("region", "alliance", "institution"))
            deleted, _rows = Grant.objects.filter(pk=grant.pk).delete()
            if deleted:  # else removed by a concurrent click: nothing more to do
                forget_scope(user)
                audit.record(Event.GRANT_REMOVE, request=request, actor=actor, target=user,
                             county_id=scope_county_id(grant.scope),
                             details={"grant": grant_words(grant.role, grant.scope), "role": grant.role,
                                      "before": _describe(before),
                                      "after": _describe([g for g in before if g.pk != grant.pk])})
    if refused is not None:
        _refused(actor=actor, user=user, request=request, action="remove", role=grant.role,
                 scope_obj=grant.scope, reason=refused.message)
        raise refused
