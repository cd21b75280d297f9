"""Sign-in, sign-out, failures and lockouts go into the security log (``core.audit``); a sign-in
starts the session's clocks. Connected in ``AccountsConfig.ready``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from accounts.middleware import LOGOUT_REASON_ATTR, start_session_clock
from core import audit
from core.audit import Event

# Set on the request by a sign-in path other than the sign-in page, so its failures are logged as
# what they are: "api_token" (POST /api/token/) or "otp" (the second step of a two-factor sign-in).
CHANNEL_ATTR = "_portal_auth_channel"
# Set by the two-factor step before ``login``: how the user proved who they are.
METHOD_ATTR = "_portal_login_method"


def user_county_id(user) -> int | None:
    """The county an account belongs to: the one that keeps it, else that of its first grant within a
    county. One query when the account has no county of its own (cached on the object)."""
    if getattr(user, "county_id", None):
        return user.county_id
    cached = getattr(user, "_portal_audit_county", False)
    if cached is not False:
        return cached
    from accounts.models import Grant

    county_id = None
    for grant in Grant.objects.filter(user_id=user.pk).select_related("region", "alliance", "institution"
                                                                        ).order_by("pk"):
        county_id = grant_county_id(grant)
        if county_id:
            break
    user._portal_audit_county = county_id
    return county_id


def grant_county_id(grant) -> int | None:
    if grant.region_id:
        return grant.region_id if grant.region.level == "county" else None
    if grant.alliance_id:
        return grant.alliance.county_id
    return grant.institution.county_id


def _logged_in(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    start_session_clock(request)
    method = getattr(request, METHOD_ATTR, "password")
    audit.record(Event.LOGIN, request=request, actor=user, target=user, details={"method": method})


def _logged_out(sender, request, user, **kwargs):
    if user is None:
        return
    reason = getattr(request, LOGOUT_REASON_ATTR, None)
    event = {"idle": Event.IDLE_TIMEOUT, "expired": Event.SESSION_EXPIRED}.get(reason, Event.LOGOUT)
    audit.record(event, request=request, actor=user, target=user)


def _login_failed(sender, credentials, request=None, **kwargs):
    username = str((credentials or {}).get("username") or "")[:150]
    channel = getattr(request, CHANNEL_ATTR, "page") if request is not None else "page"
    event = {"api_token": Event.TOKEN_FAILED, "otp": Event.OTP_FAILED}.get(channel, Event.LOGIN_FAILED)
    account = get_user_model().objects.filter(username=username).first() if username else None
    details = {"channel": channel}
    if request is not None and getattr(request, "axes_locked_out", False):
        details["locked_out"] = True
    audit.record(event, request=request, actor=None, username=username, target=account,
                 result=audit.FAILURE, details=details)


def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    # Sent when the limit is reached, and again at each attempt while locked; the second kind is
    # already a failed sign-in with "locked_out", so only the moment of locking is an event.
    if request is None or getattr(request, "axes_failures_since_start", None) is None:
        return
    account = get_user_model().objects.filter(username=username).first() if username else None
    audit.record(Event.LOCKOUT, request=request, actor=None, username=username or "", target=account,
                 result=audit.DENIED, details={"failures": request.axes_failures_since_start})


def connect() -> None:
    from axes.signals import user_locked_out

    from accounts.models import Grant, User

    audit.register_county(User, user_county_id)
    audit.register_county(Grant, grant_county_id)
    user_logged_in.connect(_logged_in, dispatch_uid="portal_audit_logged_in")
    user_logged_out.connect(_logged_out, dispatch_uid="portal_audit_logged_out")
    user_login_failed.connect(_login_failed, dispatch_uid="portal_audit_login_failed")
    user_locked_out.connect(_locked_out, dispatch_uid="portal_audit_locked_out")
