"""Named API tokens: made (the key shown once), used with ``Authorization: Token <key>``, revoked.
Only a SHA-256 digest of each key is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.models import ApiToken

# last_used_at is written at most this often per token, not on every request.
TOUCH_EVERY = timedelta(minutes=1)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(*, user, name: str, now: datetime | None = None, expires_at: datetime | None = None
                 ) -> tuple[ApiToken, str]:
    """A new token for ``user``: (the row, the key — shown once, never kept)."""
    now = now or timezone.now()
    key = secrets.token_hex(20)
    token = ApiToken.objects.create(user=user, name=name[:60], prefix=key[:8], digest=digest(key),
                                    created_at=now, expires_at=expires_at)
    return token, key


def token_revoke(token: ApiToken, now: datetime | None = None) -> bool:
    """Revoke once: True when this call revoked it (a second click changes nothing)."""
    return bool(ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()))


class ApiTokenAuthentication(TokenAuthentication):
    """DRF authentication by a named token (``Token <key>``). A revoked or expired token, or one
    of a deactivated user, is refused with 401."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        now = timezone.now()
        token = ApiToken.objects.select_related("user").filter(digest=digest(key)).first()
        if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
