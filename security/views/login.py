"""Signing in and out: the password step, the second step for accounts with two-factor sign-in, the
lockout answer (page or JSON), and the sign-in page's reasons (idle timeout, time limit)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from accounts.signals import CHANNEL_ATTR, METHOD_ATTR
from core import audit
from core.audit import Event
from security import services

# The password step's result, kept in the session until the second step (not signed in before it).
PENDING_USER = "_portal_2fa_user"
PENDING_AT = "_portal_2fa_at"
PENDING_NEXT = "_portal_2fa_next"
PENDING_BACKEND = "_portal_2fa_backend"
PENDING_SECONDS = 300

REASONS = {
    "idle": lambda: _("You were signed out after %(minutes)d minutes without activity. Sign in again.")
    % {"minutes": settings.SESSION_IDLE_MINUTES},
    "expired": lambda: _("Your session reached its limit of %(hours)d hours. Sign in again.")
    % {"hours": settings.SESSION_ABSOLUTE_HOURS},
}


def _lockout_context(request, credentials=None) -> dict:
    return {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "cooloff_timedelta": settings.AXES_COOLOFF_TIME,
        "username": (credentials or {}).get("username", ""),
    }


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out sign-in (``AXES_LOCKOUT_CALLABLE``): JSON for the API,
    the lockout page otherwise; 429 either way."""
    context = _lockout_context(request, credentials)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Too many failed attempts: this account is locked for %(minutes)d "
                                         "minutes from this address.") % {"minutes": context["cooloff_minutes"]}},
                            status=429)
    return render(request, "registration/lockout.html", context, status=429)


class LoginView(auth_views.LoginView):
    """The password step. An account with two-factor sign-in goes on to the code step before it is
    signed in; any other is signed in here."""

    template_name = "registration/login.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["failure_limit"] = settings.AXES_FAILURE_LIMIT
        context["cooloff_minutes"] = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        reason = self.request.GET.get("reason")
        context["reason_message"] = REASONS[reason]() if reason in REASONS else ""
        return context

    def form_valid(self, form):
        user = form.get_user()
        if services.has_two_factor(user):
            session = self.request.session
            session.cycle_key()
            session[PENDING_USER] = user.pk
            session[PENDING_AT] = timezone.now().timestamp()
            session[PENDING_NEXT] = self.get_success_url()
            session[PENDING_BACKEND] = user.backend
            return HttpResponseRedirect(reverse("security:two_factor_verify"))
        return super().form_valid(form)


def _pending_user(request):
    session = request.session
    pk, at = session.get(PENDING_USER), session.get(PENDING_AT)
    if pk is None or at is None or timezone.now().timestamp() - at > PENDING_SECONDS:
        return None
    return get_user_model().objects.filter(pk=pk, is_active=True).first()


def _clear_pending(request) -> None:
    for key in (PENDING_USER, PENDING_AT, PENDING_NEXT, PENDING_BACKEND):
        request.session.pop(key, None)


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def two_factor_verify(request):
    """The second step of a two-factor sign-in: a code from the authenticator app, or a recovery code
    (each works once). A wrong code counts toward the lockout like a wrong password."""
    from axes.handlers.proxy import AxesProxyHandler

    user = _pending_user(request)
    if user is None:
        _clear_pending(request)
        messages.warning(request, _("Sign in again: the two-factor step expired or was not started."))
        return HttpResponseRedirect(reverse("login"))
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        return lockout_response(request, credentials=credentials)
    error = ""
    if request.method == "POST":
        device = services.verify_second_factor(user, request.POST.get("code", ""))
        if device is not None:
            next_url = request.session.get(PENDING_NEXT) or reverse("home")
            backend = request.session.get(PENDING_BACKEND) or settings.AUTHENTICATION_BACKENDS[-1]
            _clear_pending(request)
            recovery = isinstance(device, StaticDevice)
            setattr(request, METHOD_ATTR, "recovery_code" if recovery else "totp")
            login(request, user, backend=backend)
            otp_login(request, device)
            if recovery:
                left = device.token_set.count()
                audit.record(Event.OTP_RECOVERY_USED, request=request, actor=user, target=user,
                             details={"left": left})
                messages.warning(request, _("You signed in with a recovery code; %(left)d are left. Make new ones "
                                            "on the two-factor page if you are running out.") % {"left": left})
            if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
                next_url = reverse("home")
            return HttpResponseRedirect(next_url)
        setattr(request, CHANNEL_ATTR, "otp")
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False):
            _clear_pending(request)
            return lockout_response(request, credentials=credentials)
        error = _("The code is wrong or has expired. Enter the 6-digit code your app shows now, or a recovery code.")
    return render(request, "registration/two_factor_verify.html", {"pending_user": user, "error": error},
                  status=400 if error else 200)


class LogoutView(auth_views.LogoutView):
    """Sign-out (POST): the session is cleared; the sign-in page says so."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You have signed out."))
        return response
