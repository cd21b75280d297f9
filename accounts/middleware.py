"""Session rules of 等保 身份鉴别 that hold on every request:

- ``SessionSecurityMiddleware``: a session ends after ``SESSION_IDLE_MINUTES`` without a request and,
  whatever happens, ``SESSION_ABSOLUTE_HOURS`` after sign-in; the next request goes to the sign-in
  page, which says why.
- ``PasswordChangeRequiredMiddleware``: after an initial or reset password, or when the password is
  older than ``PASSWORD_MAX_AGE_DAYS``, the user reaches nothing but the password change.
- ``TwoFactorRequiredMiddleware``: with ``PORTAL_REQUIRE_2FA``, the roles that need two-factor sign-in
  reach nothing before they have enrolled (and verified this session).

None of them costs a query on an ordinary request (the user and session are loaded anyway), except
the two-factor rule when it is on (the user's roles: the grants, read once for the request's scope).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.passwords import must_change

SESSION_STARTED = "_portal_started"
SESSION_SEEN = "_portal_seen"
# How often the time of the last request is written into the session (not on every request).
SEEN_RESOLUTION_SECONDS = 10
# Set on the request when the session ends by a rule, so the sign-out is logged as that rule.
LOGOUT_REASON_ATTR = "_portal_logout_reason"


def start_session_clock(request) -> None:
    """Called at sign-in: the absolute limit and the idle time count from now."""
    now = timezone.now().timestamp()
    request.session[SESSION_STARTED] = now
    request.session[SESSION_SEEN] = now


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _redirect(request, url: str):
    """Where to send a user a rule stops: a redirect; for HTMX the HX-Redirect header; for the API
    a JSON answer with ``status``."""
    if request.headers.get("HX-Request"):
        response = HttpResponseRedirect(url)
        response.status_code = 204
        # A fragment the page itself loads (the navigation's unread badge) must not send the browser
        # to the page it is already on: that would reload it for ever.
        if urlsplit(request.headers.get("HX-Current-URL", "")).path != urlsplit(url).path:
            response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


def _next_query(request) -> str:
    if request.method == "GET" and not request.headers.get("HX-Request"):
        return urlencode({"next": request.get_full_path()})
    return ""


class SessionSecurityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get("_auth_user_id"):
            ended = self._ended(request)
            if ended is not None:
                return ended
        return self.get_response(request)

    def _ended(self, request):
        session = request.session
        now = timezone.now().timestamp()
        started = session.get(SESSION_STARTED)
        seen = session.get(SESSION_SEEN)
        idle = (getattr(settings, "SESSION_IDLE_MINUTES", 0) or 0) * 60
        absolute = (getattr(settings, "SESSION_ABSOLUTE_HOURS", 0) or 0) * 3600
        if started is None or seen is None:
            # A session from before these rules (or made without a sign-in page): count from now.
            session[SESSION_STARTED] = session.get(SESSION_STARTED) or now
            session[SESSION_SEEN] = now
            return None
        reason = None
        if idle and now - seen >= idle:
            reason = "idle"
        elif absolute and now - started >= absolute:
            reason = "expired"
        if reason is None:
            if idle and now - seen >= SEEN_RESOLUTION_SECONDS:
                session[SESSION_SEEN] = now
            return None
        setattr(request, LOGOUT_REASON_ATTR, reason)
        next_path = request.get_full_path() if request.method == "GET" else ""
        logout(request)  # logged by the sign-out signal as the idle timeout or the time limit
        if _is_api(request):
            return JsonResponse({"detail": _("Your session has ended. Sign in again.")}, status=401)
        query = {"reason": reason}
        if next_path and not request.headers.get("HX-Request"):
            query["next"] = next_path
        return _redirect(request, f"{reverse('login')}?{urlencode(query)}")


def _exempt(request, names: tuple[str, ...]) -> bool:
    path = request.path
    if path.startswith((settings.STATIC_URL, "/i18n/")):
        return True
    match = getattr(request, "resolver_match", None)
    if match is None:
        from django.urls import Resolver404, resolve

        try:
            match = resolve(path)
        except Resolver404:
            return False
    return match.view_name in names


class PasswordChangeRequiredMiddleware:
    EXEMPT = ("login", "logout", "health", "security:password_change", "set_language")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not getattr(request, "auth", None):
            why = must_change(user)
            if why and not _exempt(request, self.EXEMPT):
                if _is_api(request):
                    return JsonResponse({"detail": _("You must change your password before anything else.")},
                                        status=403)
                query = _next_query(request)
                return _redirect(request, reverse("security:password_change") + (f"?{query}" if query else ""))
        return self.get_response(request)


# The roles a user holds, as the request's scope has them (the grants, read once per request). The
# scope lives in ``alliances.scoping``, a layer above accounts: alliances registers it at start
# (``AlliancesConfig.ready``) instead of accounts importing it.
_roles_source: Callable[[object], set[str]] | None = None


def register_roles_source(func: Callable[[object], set[str]]) -> None:
    """Set the function that gives a user's roles (``alliances`` does, at start)."""
    global _roles_source
    _roles_source = func


def roles_of(user) -> set[str]:
    if _roles_source is None:
        raise ImproperlyConfigured("No source of users' roles registered (the alliances app registers it).")
    return _roles_source(user)


def needs_two_factor(user) -> bool:
    """Whether the user's roles require two-factor sign-in (one query, cached on the user)."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_portal_needs_2fa", None)
    if cached is None:
        # From the user's roles as the request's scope has them: the grants are read once per
        # request, here or by the view, never twice.
        from accounts.models import TWO_FACTOR_ROLES

        cached = bool(roles_of(user) & set(TWO_FACTOR_ROLES))
        user._portal_needs_2fa = cached
    return cached


class TwoFactorRequiredMiddleware:
    EXEMPT = ("login", "logout", "health", "security:password_change", "security:two_factor",
              "security:two_factor_verify", "set_language")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if getattr(settings, "PORTAL_REQUIRE_2FA", False):
            user = request.user
            if (user.is_authenticated and needs_two_factor(user) and not user.is_verified()
                    and not _exempt(request, self.EXEMPT)):
                if _is_api(request):
                    return JsonResponse({"detail": _("Two-factor sign-in is required for your role. Enrol first.")},
                                        status=403)
                return _redirect(request, reverse("security:two_factor"))
        return self.get_response(request)
