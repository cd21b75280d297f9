"""Reads about a user's own API tokens, shared by the page and ``/api/tokens/``."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from accounts.models import ApiToken, User


def token_state(token: ApiToken, now: datetime) -> str:
    """"active", "revoked" or "expired" at ``now`` (no query)."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def active_tokens(user: User, now: datetime) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def token_name_taken(user: User, name: str, now: datetime) -> bool:
    """Whether an active token of the user has this name. Locks the user's row first (call it in a
    transaction), so two clicks of one form make one token. Two queries."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    return active_tokens(user, now).filter(name=name).exists()
