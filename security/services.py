"""Writes of the security side: accounts, passwords, two-factor devices, tokens, new counties. Each
leaves its event in the security log (``core.audit``), written last in the caller's transaction.

The callers (pages, API, importer, jobs) check who may do what with ``security.access`` and
``alliances.scoping``; the grant rules are ``security.grants``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import tokens
from accounts.models import ApiToken, Grant, User
from accounts.passwords import must_change
from alliances.models import Region
from core import audit
from core.audit import Event
from security.grants import GrantRefused, grant_add, last_security_holder, security_capable_roles

# One-time passwords: no characters that read alike (0/O, 1/l/I).
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_LOWER = "abcdefghijkmnpqrstuvwxyz"
_DIGITS = "23456789"
_SYMBOLS = "#%+=@!?"
RECOVERY_CODES = 10


def one_time_password(length: int = 12) -> str:
    """A random password that meets the policy (every kind of character), for a new account or a reset."""
    pools = (_UPPER, _LOWER, _DIGITS, _SYMBOLS)
    chars = [secrets.choice(pool) for pool in pools]
    alphabet = "".join(pools)
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _fields(user: User) -> dict:
    return {"full_name": user.full_name, "phone": user.phone, "email": user.email,
            "county": str(user.county) if user.county_id else ""}


# Accounts -----------------------------------------------------------------------------------------

@dataclass
class NewAccount:
    user: User
    password: str
    grant: Grant | None


def validate_username(username: str) -> str:
    username = (username or "").strip()
    field = User._meta.get_field("username")
    try:
        field.run_validators(username)
        for validator in field.validators:
            validator(username)
    except ValidationError as error:
        raise ValidationError({"username": error.messages}) from None
    if not username:
        raise ValidationError({"username": _("The user name is required.")})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("The user name %(name)s is taken.") % {"name": username}})
    return username


def user_create(*, actor, username: str, full_name: str, phone: str = "", email: str = "", county: Region | None,
                role: str | None = None, scope_obj=None, request=None, password: str | None = None) -> NewAccount:
    """A new account with a one-time password (the user must change it at first sign-in) and its first
    grant. The grant is checked before anything is written: a refused grant raises ``GrantRefused``
    and nothing but its refusal is recorded."""
    from security.grants import check_grant

    username = validate_username(username)
    user = User(username=username, full_name=full_name.strip(), phone=phone.strip(), email=email.strip(),
                county=county, must_change_password=True)
    if role:
        try:
            check_grant(actor=actor, user=user, role=role, scope_obj=scope_obj)
        except GrantRefused as refused:
            from security.grants import _refused

            _refused(actor=actor, user=user, request=request, action="add", role=role, scope_obj=scope_obj,
                     reason=refused.message)
            raise
    password = password or one_time_password()
    with transaction.atomic():
        user.set_password(password)
        user.save()
        audit.record(Event.USER_CREATE, request=request, actor=actor, target=user,
                     county_id=county.pk if county else None,
                     details={"username": username, **_fields(user)})
        grant = grant_add(actor=actor, user=user, role=role, scope_obj=scope_obj, request=request) if role else None
    return NewAccount(user=user, password=password, grant=grant)


def user_update(*, actor, user: User, full_name: str, phone: str, email: str, request=None,
                event: str = Event.USER_EDIT) -> bool:
    """Change an account's name, phone and e-mail; logs the fields changed (before → after). False when
    nothing changed."""
    before = _fields(user)
    user.full_name, user.phone, user.email = full_name.strip(), phone.strip(), email.strip()
    after = _fields(user)
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changed:
        return False
    user.save(update_fields=["full_name", "phone", "email"])
    audit.record(event, request=request, actor=actor, target=user, details={"changed": changed})
    return True


def last_security_account(user: User) -> bool:
    """Whether deactivating ``user`` would leave one of its counties without an active account able to
    run that county's accounts."""
    return any(last_security_holder(g) for g in
               Grant.objects.filter(user=user, role__in=security_capable_roles(), region__isnull=False))


def user_deactivate(*, actor, user: User, reason: str = "", request=None, now: datetime | None = None) -> bool:
    """Deactivate (never delete) an account: it can no longer sign in and its tokens stop working.
    Refused for one's own account and for a county's last account able to run accounts. False when it
    was already inactive (a second click)."""
    if actor is not None and actor.pk == user.pk:
        raise GrantRefused(_("You cannot deactivate your own account."))
    now = now or timezone.now()
    with transaction.atomic():
        for region_id in Grant.objects.filter(user=user, region__isnull=False).values_list("region_id", flat=True):
            Region.objects.select_for_update().filter(pk=region_id).first()
        if last_security_account(user):
            raise GrantRefused(_("This is the county's last account able to run its accounts; grant the role to "
                                 "someone else first."))
        changed = User.objects.filter(pk=user.pk, is_active=True).update(
            is_active=False, deactivated_at=now, deactivation_reason=reason[:200])
        if not changed:
            return False
        user.is_active, user.deactivated_at, user.deactivation_reason = False, now, reason[:200]
        audit.record(Event.USER_DEACTIVATE, request=request, actor=actor, target=user, now=now,
                     details={"reason": reason[:200]})
    return True


def user_reactivate(*, actor, user: User, request=None) -> bool:
    now = timezone.now()
    changed = User.objects.filter(pk=user.pk, is_active=False).update(
        is_active=True, deactivated_at=None, deactivation_reason="", reactivated_at=now)
    if not changed:
        return False
    # The dormant-account clock starts again from the reactivation.
    user.is_active, user.deactivated_at, user.deactivation_reason, user.reactivated_at = True, None, "", now
    audit.record(Event.USER_REACTIVATE, request=request, actor=actor, target=user)
    return True


def password_reset(*, actor, user: User, request=None) -> str:
    """A new one-time password for ``user`` (returned once, never stored in clear); the user must
    change it at the next sign-in, and every session of the user ends (the password's hash changed)."""
    password = one_time_password()
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    audit.record(Event.PASSWORD_RESET, request=request, actor=actor, target=user)
    return password


def password_change(*, user: User, new_password: str, request=None) -> None:
    """The user's own new password (already validated by the form): the forced change ends; the
    current session stays signed in, others end."""
    from django.contrib.auth import update_session_auth_hash

    reason = must_change(user) or "voluntary"  # "initial", "expired" or "voluntary"
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    if request is not None:
        update_session_auth_hash(request, user)
    audit.record(Event.PASSWORD_CHANGE, request=request, actor=user, target=user, details={"reason": reason})


def validate_new_password(password: str, user: User) -> None:
    password_validation.validate_password(password, user)


# Lockout ----------------------------------------------------------------------------------------

def locked_usernames(usernames=None) -> set[str]:
    """User names locked out now (django-axes: the failure limit reached within the cool-off time).
    One query."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
                                            attempt_time__gte=since)
    if usernames is not None:
        attempts = attempts.filter(username__in=list(usernames))
    return set(attempts.values_list("username", flat=True))


def locked_q(prefix: str = "") -> Q:
    """A filter of accounts locked out now (for a user list)."""
    return Q(**{f"{prefix}username__in": list(locked_usernames())})


def user_unlock(*, actor, user: User, request=None) -> int:
    """Clear the failed sign-ins of ``user`` from every address. Returns how many records went."""
    removed = axes_reset(username=user.username)
    audit.record(Event.USER_UNLOCK, request=request, actor=actor, target=user, details={"attempts": removed})
    return removed


# Two-factor ---------------------------------------------------------------------------------------

def totp_device(user: User, *, confirmed: bool | None = True) -> TOTPDevice | None:
    devices = TOTPDevice.objects.filter(user=user)
    if confirmed is not None:
        devices = devices.filter(confirmed=confirmed)
    return devices.order_by("-pk").first()


def has_two_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def totp_start(user: User) -> TOTPDevice:
    """An unconfirmed TOTP device (a new secret) for enrolment; an earlier unconfirmed one is replaced."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)


def totp_confirm(*, user: User, device: TOTPDevice, token: str, request=None) -> list[str] | None:
    """Confirm enrolment with a code from the app: the device becomes the user's only one and ten new
    recovery codes are returned (shown once). None when the code is wrong."""
    if not device.verify_token((token or "").strip()):
        audit.record(Event.OTP_FAILED, request=request, actor=user, target=user, result=audit.FAILURE,
                     details={"channel": "enrol"})
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        device.confirmed = True
        codes = recovery_codes_new(user)
        audit.record(Event.OTP_ENROL, request=request, actor=user, target=user)
    return codes


def recovery_codes_new(user: User) -> list[str]:
    """Ten new one-time recovery codes (the old ones stop working)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=_("Recovery codes"), confirmed=True)
    codes = ["-".join([secrets.token_hex(2), secrets.token_hex(2)]) for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def verify_second_factor(user: User, token: str):
    """The device that accepts ``token`` (a TOTP code, or a recovery code, used up), or None."""
    token = (token or "").strip().replace(" ", "")
    if not token:
        return None
    device = totp_device(user)
    if device is not None and token.isdigit() and device.verify_token(token):
        return device
    code = token.lower()
    if len(code) == 8 and "-" not in code:
        code = f"{code[:4]}-{code[4:]}"  # typed without its hyphen
    for static in StaticDevice.objects.filter(user=user, confirmed=True):
        if static.verify_token(code):
            return static
    return None


def otp_reset(*, actor, user: User, request=None) -> int:
    """Remove the user's two-factor devices and recovery codes: the user must enrol again."""
    removed = TOTPDevice.objects.filter(user=user).delete()[0]
    removed += StaticDevice.objects.filter(user=user).delete()[0]
    audit.record(Event.OTP_RESET, request=request, actor=actor, target=user, details={"removed": removed})
    return removed


# Tokens -------------------------------------------------------------------------------------------

def api_token_create(*, user: User, name: str, request=None, hours: int | None = None,
                     channel: str = "page") -> tuple[ApiToken, str]:
    now = timezone.now()
    expires = now + timedelta(hours=hours) if hours else None
    token, key = tokens.token_create(user=user, name=name, now=now, expires_at=expires)
    audit.record(Event.TOKEN_CREATE, request=request, actor=user, target=user,
                 details={"name": token.name, "prefix": token.prefix, "channel": channel,
                          "expires": expires})
    return token, key


def api_token_revoke(*, user: User, token: ApiToken, request=None, actor=None) -> bool:
    if not tokens.token_revoke(token):
        return False
    audit.record(Event.TOKEN_REVOKE, request=request, actor=actor or user, target=user,
                 details={"name": token.name, "prefix": token.prefix})
    return True


# New counties -------------------------------------------------------------------------------------

def county_code_problem(code: str, city: Region) -> str | None:
    """Why ``code`` cannot be a county of ``city`` (GB/T 2260), or None."""
    code = (code or "").strip()
    if len(code) != 6 or not code.isdigit():
        return _("A county code has six digits (GB/T 2260), e.g. 445322.")
    if code[:4] != city.code[:4]:
        return _("A county of %(city)s has a code beginning with %(prefix)s.") % {"city": city.name,
                                                                                   "prefix": city.code[:4]}
    if code[4:] == "00":
        return _("A code ending in 00 is the city itself, not a county.")
    if Region.objects.filter(code=code).exists():
        return _("The region code %(code)s is taken.") % {"code": code}
    return None


def county_create(*, actor, city: Region, code: str, name: str, security_admin: dict, bureau_admin: dict,
                  request=None) -> tuple[Region, list[NewAccount]]:
    """A new county under ``city`` and its first security and bureau administrators (one-time passwords,
    returned once). ``security_admin`` and ``bureau_admin``: ``{"username", "full_name", "phone",
    "email"}``. All or nothing."""
    from accounts.models import Role
    from alliances.scoping import forget_scope

    problem = county_code_problem(code, city)
    if problem:
        raise ValidationError({"code": problem})
    if not (name or "").strip():
        raise ValidationError({"name": _("The county's name is required.")})
    with transaction.atomic():
        county = Region(code=code.strip(), name=name.strip(), level=Region.Level.COUNTY, parent=city)
        county.full_clean()
        county.save()
        forget_scope(actor)  # a platform administrator's counties now include it
        audit.record(Event.COUNTY_CREATE, request=request, actor=actor, target=county, county_id=county.pk,
                     details={"code": county.code, "name": county.name, "city": city.name})
        accounts = []
        for person, role in ((security_admin, Role.SECURITY_ADMIN), (bureau_admin, Role.BUREAU_ADMIN)):
            accounts.append(user_create(actor=actor, username=person.get("username", ""),
                                        full_name=person.get("full_name", ""), phone=person.get("phone", ""),
                                        email=person.get("email", ""), county=county, role=role, scope_obj=county,
                                        request=request))
    return county, accounts
