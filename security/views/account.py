"""One's own account, from the menu under the user's name: the details and recent sign-ins (我的账号),
the password change (forced after an initial or reset password and when it is too old), two-factor
sign-in (enrolment with a QR code drawn by the server, verifying this session, recovery codes,
turning it off when the role allows) and the user's named API tokens.

Secrets (a new password, a token's key, recovery codes) appear once, in the answer to the POST that
made them, never in a page one can reload."""

from __future__ import annotations

from base64 import b32encode
from datetime import datetime, timedelta

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.signals import user_login_failed
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from accounts.middleware import SESSION_STARTED, needs_two_factor
from accounts.models import ApiToken, Grant, User
from accounts.passwords import must_change
from accounts.signals import CHANNEL_ATTR
from core import audit
from core.audit import Event
from core.models import SecurityEvent
from security import services
from security.account_forms import CodeForm, ProfileForm, TokenForm
from security.grants import grant_words
from security.own_tokens import token_name_taken, token_state
from security.views.login import lockout_response

# What "recent sign-ins and failures" lists on the profile page.
SIGN_IN_EVENTS = (Event.LOGIN, Event.LOGIN_FAILED, Event.LOCKOUT, Event.OTP_FAILED, Event.TOKEN_FAILED)
RECENT_EVENTS = 20
TOKENS_PER_PAGE = 50


def _is_safe(request, url: str | None) -> bool:
    return bool(url) and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                                         require_https=request.is_secure())


def _safe_next(request, url: str | None) -> str:
    return url if _is_safe(request, url) else reverse("home")


def _user_events(user: User):
    return SecurityEvent.objects.filter(target_type=User._meta.label_lower, target_id=str(user.pk))


def two_factor_required(user: User) -> bool:
    """Whether the user may not go without two-factor sign-in (``PORTAL_REQUIRE_2FA`` and the role)."""
    return bool(getattr(settings, "PORTAL_REQUIRE_2FA", False)) and needs_two_factor(user)


# 我的账号 -------------------------------------------------------------------------------------

def _previous_sign_in(request, user: User) -> SecurityEvent | None:
    """The last successful sign-in before this session's (the session's own is not news to the
    user). One query."""
    logins = _user_events(user).filter(event=Event.LOGIN, result=audit.SUCCESS).order_by("-seq")
    started = request.session.get(SESSION_STARTED)
    if started is None:
        return next(iter(logins[1:2]), None)
    return logins.filter(time__lt=datetime.fromtimestamp(started, tz=timezone.get_current_timezone())).first()


def _password_clock(user: User, now: datetime) -> dict:
    changed = user.password_changed_at or user.date_joined
    days = getattr(settings, "PASSWORD_MAX_AGE_DAYS", 0) or 0
    due = changed + timedelta(days=days) if (days and changed) else None
    return {"changed": user.password_changed_at, "age_days": (now - changed).days if changed else None,
            "due": due, "due_days": (due - now).days if due else None, "max_days": days}


@login_required
@never_cache
def profile(request):
    """The user's details (editable), grants in words, the previous sign-in, recent sign-ins and
    failures, the password's age and two-factor state. The same few queries whatever the history."""
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            changed = services.user_update(actor=user, user=user, full_name=data["full_name"], phone=data["phone"],
                                           email=data["email"], request=request, event=Event.PROFILE_EDIT)
            if changed:
                messages.success(request, _("Your details were saved."))
            else:
                messages.info(request, _("Nothing changed in your details."))
            return redirect("security:profile")
        status = 400
    else:
        form = ProfileForm(initial={"full_name": user.full_name, "phone": user.phone, "email": user.email})
        status = 200
    now = timezone.now()
    grants = Grant.objects.filter(user=user).select_related("region", "alliance", "institution").order_by("pk")
    recent = list(_user_events(user).filter(event__in=SIGN_IN_EVENTS).order_by("-seq")[:RECENT_EVENTS])
    for event in recent:
        event.label = audit.label(event.event)
    return render(request, "security/account/profile.html", {
        "form": form,
        "grants": [grant_words(g.role, g.scope) for g in grants],
        "previous_sign_in": _previous_sign_in(request, user),
        "recent": recent,
        "password": _password_clock(user, now),
        "two_factor": services.has_two_factor(user),
        "two_factor_required": two_factor_required(user),
    }, status=status)


# 修改密码 -------------------------------------------------------------------------------------

@sensitive_post_parameters()
@login_required
@never_cache
def password_change(request):
    """The user's own new password. When the change is forced (initial or reset password, or too
    old) the page says why; the middleware keeps the rest of the portal out of reach until then."""
    user = request.user
    why = must_change(user)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "POST":
        form = PasswordChangeForm(user, request.POST)
        if form.is_valid():
            services.password_change(user=user, new_password=form.cleaned_data["new_password1"], request=request)
            messages.success(request, _("Your password was changed."))
            return HttpResponseRedirect(_safe_next(request, next_url))
        if "old_password" in form.errors:
            audit.record(Event.PASSWORD_CHANGE, request=request, actor=user, target=user, result=audit.FAILURE,
                         details={"reason": "wrong_old_password"})
        status = 400
    else:
        form = PasswordChangeForm(user)
        status = 200
    return render(request, "security/account/password_change.html", {
        "form": form, "why": why, "next": next_url if _is_safe(request, next_url) else "",
        "max_days": getattr(settings, "PASSWORD_MAX_AGE_DAYS", 0) or 0,
    }, status=status)


# 双因素认证 ------------------------------------------------------------------------------------

def _qr_svg(device) -> str:
    """The enrolment QR code as inline SVG, drawn here (no outside service, no script)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, border=2, title=_("QR code to scan"))


def _secret_groups(device) -> str:
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _two_factor_context(request, **extra) -> dict:
    user = request.user
    device = services.totp_device(user)
    pending = services.totp_device(user, confirmed=False)
    context = {
        "device": device,
        "pending": pending,
        "verified": bool(device is not None and request.user.is_verified()),
        "required": two_factor_required(user),
        "codes_left": StaticToken.objects.filter(device__user=user, device__confirmed=True).count(),
    }
    if pending is not None:
        context["qr_svg"] = _qr_svg(pending)
        context["secret"] = _secret_groups(pending)
    context.update(extra)
    return context


def _render_two_factor(request, status: int = 200, **extra):
    return render(request, "security/account/two_factor.html", _two_factor_context(request, **extra), status=status)


def _verify_session(request, code: str):
    """This session proves the second factor (an account that enrolled elsewhere, or signed in
    before enrolling). A wrong code counts toward the lockout, as on the sign-in page."""
    from axes.handlers.proxy import AxesProxyHandler

    user = request.user
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        return lockout_response(request, credentials=credentials)
    if not code:
        return _render_two_factor(request, status=400, verify_error=_("Enter the code your app shows now."))
    device = services.verify_second_factor(user, code)
    if device is None:
        setattr(request, CHANNEL_ATTR, "otp")
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False):
            return lockout_response(request, credentials=credentials)
        return _render_two_factor(request, status=400, verify_error=_(
            "The code is wrong or has expired. Enter the 6-digit code your app shows now, or a recovery code."))
    request.session.cycle_key()
    otp_login(request, device)
    AxesProxyHandler.user_logged_in(sender=__name__, request=request, user=user)  # clears the failures
    if isinstance(device, StaticDevice):
        left = device.token_set.count()
        audit.record(Event.OTP_RECOVERY_USED, request=request, actor=user, target=user,
                     details={"left": left, "channel": "session"})
        messages.warning(request, _("You used a recovery code; %(left)d are left. Make new ones below if you are "
                                    "running out.") % {"left": left})
    else:
        messages.success(request, _("Two-factor sign-in verified for this session."))
    return redirect("security:two_factor")


def _wrong_code(request, channel: str, **extra):
    audit.record(Event.OTP_FAILED, request=request, actor=request.user, target=request.user, result=audit.FAILURE,
                 details={"channel": channel})
    return _render_two_factor(request, status=400, **extra)


def _codes_page(request, codes: list[str], *, enrolled: bool):
    return render(request, "security/account/recovery_codes.html", {"codes": codes, "enrolled": enrolled})


@sensitive_post_parameters("code")
@login_required
@never_cache
def two_factor(request):
    """Status and every step of two-factor sign-in (TOTP, any authenticator app, offline):

    - ``start``: a new secret (QR code and the secret in groups); ``confirm``: a code from the app
      turns it on and shows the ten recovery codes, once;
    - ``verify``: a code proves the second factor for this session;
    - ``disable``: with a current code, for users whose role does not require it."""
    if request.method != "POST":
        return _render_two_factor(request)
    user = request.user
    action = request.POST.get("action")
    device = services.totp_device(user)
    verified = device is not None and user.is_verified()
    form = CodeForm(request.POST)
    code = form.cleaned_data["code"] if form.is_valid() else ""
    if device is not None and not verified:
        # Nothing else before this session has proved the second factor.
        if action == "verify":
            return _verify_session(request, code)
        return redirect("security:two_factor")
    if action == "start":
        services.totp_start(user)
        return redirect("security:two_factor")
    if action == "confirm":
        pending = services.totp_device(user, confirmed=False)
        if pending is None:
            if device is not None:
                messages.info(request, _("Two-factor sign-in is already on. If you did not save the recovery "
                                         "codes, make new ones below."))
            else:
                messages.warning(request, _("Start the set-up again: scan the new QR code."))
            return redirect("security:two_factor")
        if not code:
            return _render_two_factor(request, status=400, confirm_error=_("Enter the code your app shows now."))
        codes = services.totp_confirm(user=user, device=pending, token=code, request=request)
        if codes is None:
            return _render_two_factor(request, status=400, confirm_error=_(
                "The code is wrong or has expired. Enter the 6-digit code your app shows now."))
        request.session.cycle_key()
        otp_login(request, pending)
        return _codes_page(request, codes, enrolled=True)
    if action == "disable" and device is not None:
        if two_factor_required(user):
            messages.error(request, _("Your role requires two-factor sign-in: it cannot be turned off."))
            return redirect("security:two_factor")
        if not code:
            return _render_two_factor(request, status=400, disable_error=_("Enter the code your app shows now."))
        if not (code.isdigit() and device.verify_token(code)):
            return _wrong_code(request, "disable", disable_error=_(
                "The code is wrong or has expired. Enter the 6-digit code your app shows now."))
        services.otp_reset(actor=user, user=user, request=request)
        messages.success(request, _("Two-factor sign-in is off."))
        return redirect("security:two_factor")
    return redirect("security:two_factor")


@sensitive_post_parameters("code")
@login_required
@never_cache
@require_POST
def recovery_codes(request):
    """Ten new recovery codes (the old ones stop working), for a current code from the app; shown once."""
    user = request.user
    device = services.totp_device(user)
    if device is None:
        messages.warning(request, _("Turn on two-factor sign-in first."))
        return redirect("security:two_factor")
    if not user.is_verified():
        return redirect("security:two_factor")
    form = CodeForm(request.POST)
    code = form.cleaned_data["code"] if form.is_valid() else ""
    if not code:
        return _render_two_factor(request, status=400, recovery_error=_("Enter the code your app shows now."))
    if not (code.isdigit() and device.verify_token(code)):
        return _wrong_code(request, "recovery_codes", recovery_error=_(
            "The code is wrong or has expired. Enter the 6-digit code your app shows now."))
    with transaction.atomic():
        codes = services.recovery_codes_new(user)
        audit.record(Event.OTP_RECOVERY_NEW, request=request, actor=user, target=user,
                     details={"codes": len(codes)})
    return _codes_page(request, codes, enrolled=False)


# 我的API令牌 -----------------------------------------------------------------------------------

@login_required
@never_cache
def token_list(request):
    """The user's own tokens (name, the key's beginning, created, last used, expires, state); POST
    makes one, whose key is shown once in the answer. Three queries whatever the number."""
    user = request.user
    now = timezone.now()
    status = 200
    if request.method == "POST":
        form = TokenForm(request.POST)
        if form.is_valid():
            name = form.cleaned_data["name"]
            with transaction.atomic():
                if token_name_taken(user, name, now):
                    form.add_error("name", _("You already have an active token named %(name)s. Choose another "
                                             "name, or revoke that one first. (If you just made it, its key was "
                                             "shown once on the previous page.)") % {"name": name})
                else:
                    token, key = services.api_token_create(user=user, name=name, request=request)
                    return render(request, "security/account/token_created.html", {"token": token, "key": key})
        status = 400
    else:
        form = TokenForm()
    page = Paginator(ApiToken.objects.filter(user=user).order_by("-created_at", "-pk"),
                     TOKENS_PER_PAGE).get_page(request.GET.get("page"))
    for token in page:
        token.state = token_state(token, now)
    return render(request, "security/account/token_list.html", {"form": form, "page": page}, status=status)


@login_required
@require_POST
def token_revoke(request, token_pk):
    """Revoke one of the user's own tokens (another user's answers 404). A second click is fine."""
    token = get_object_or_404(ApiToken, pk=token_pk, user=request.user)
    if services.api_token_revoke(user=request.user, token=token, request=request):
        messages.success(request, _("The token %(name)s is revoked: it no longer works.") % {"name": token.name})
    else:
        messages.info(request, _("The token %(name)s was already revoked.") % {"name": token.name})
    return redirect("security:token_list")
