"""``POST /api/token/``: a script signs in with user name and password (and the two-factor code when
the account has two-factor sign-in) and gets a token that expires after ``API_SIGN_IN_TOKEN_HOURS``.
Failed attempts count toward the same lockout as the sign-in page (django-axes, per user name and
address); every attempt is in the security log."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.middleware import needs_two_factor
from accounts.passwords import must_change
from accounts.signals import CHANNEL_ATTR
from security import services
from security.views.login import lockout_response


class ObtainTokenView(APIView):
    """Answers are returned, never raised: a raised error would roll back the request's transaction,
    and with it the failure that counts toward the lockout."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        request=inline_serializer("TokenRequest", {
            "username": serializers.CharField(), "password": serializers.CharField(),
            "otp": serializers.CharField(required=False, help_text="two-factor code, when the account has it")}),
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField(),
                                                            "expires": serializers.DateTimeField()}),
                   400: OpenApiResponse(description="wrong credentials"),
                   403: OpenApiResponse(description="password change or two-factor enrolment needed first"),
                   429: OpenApiResponse(description="locked out")},
        summary="Sign in a script: a token that expires")
    def post(self, request):
        from axes.handlers.proxy import AxesProxyHandler

        django_request = request._request
        setattr(django_request, CHANNEL_ATTR, "api_token")
        data = request.data if hasattr(request.data, "get") else {}
        username = str(data.get("username") or "")[:150]
        password = str(data.get("password") or "")
        credentials = {"username": username}
        if not username or not password:
            return Response({"detail": _("Give username and password.")}, status=status.HTTP_400_BAD_REQUEST)
        if not AxesProxyHandler.is_allowed(django_request, credentials):
            # Refused as on the sign-in page, and logged like it: a failed attempt while locked out.
            django_request.axes_locked_out = True
            user_login_failed.send(sender=__name__, credentials=credentials, request=django_request)
            return lockout_response(django_request, credentials=credentials)
        user = authenticate(django_request, username=username, password=password)
        if user is None:
            if getattr(django_request, "axes_locked_out", False):
                return lockout_response(django_request, credentials=credentials)
            return Response({"detail": _("Wrong user name or password.")}, status=status.HTTP_400_BAD_REQUEST)
        if services.has_two_factor(user):
            device = services.verify_second_factor(user, str(data.get("otp") or ""))
            if device is None:
                user_login_failed.send(sender=__name__, credentials=credentials, request=django_request)
                if getattr(django_request, "axes_locked_out", False):
                    return lockout_response(django_request, credentials=credentials)
                return Response({"detail": _("This account has two-factor sign-in: give the current code as "
                                             "\"otp\".")}, status=status.HTTP_400_BAD_REQUEST)
        elif getattr(settings, "PORTAL_REQUIRE_2FA", False) and needs_two_factor(user):
            return Response({"detail": _("Two-factor sign-in is required for your role. Enrol first.")},
                            status=status.HTTP_403_FORBIDDEN)
        if must_change(user):
            return Response({"detail": _("You must change your password before anything else.")},
                            status=status.HTTP_403_FORBIDDEN)
        from axes.handlers.proxy import AxesProxyHandler as Handler

        Handler.user_logged_in(sender=__name__, request=django_request, user=user)  # clears the failures
        token, key = services.api_token_create(user=user, name=_("Script sign-in (/api/token/)"),
                                               request=django_request, hours=settings.API_SIGN_IN_TOKEN_HOURS,
                                               channel="api_token")
        return Response({"token": key, "expires": token.expires_at})
