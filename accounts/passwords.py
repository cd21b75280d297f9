"""The password policy's own rules (the length and common-password rules are Django's), and the
bookkeeping of a password change: its time and the history of hashes.

Each rule names itself in its message, so a user who breaks two rules reads both."""

from __future__ import annotations

import string

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

CLASSES = (
    ("upper", lambda c: c.isupper()),
    ("lower", lambda c: c.islower()),
    ("digit", lambda c: c.isdigit()),
    ("symbol", lambda c: c in string.punctuation or (not c.isalnum() and not c.isspace())),
)


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's length rule with its message in the portal's catalogue: Django 5.2 changed the
    message's text and its Chinese catalogue does not have the new one yet (it showed in English)."""

    def get_error_message(self):
        return ngettext("The password must be at least %(count)d character long.",
                        "The password must be at least %(count)d characters long.",
                        self.min_length) % {"count": self.min_length}


class CharacterClassesValidator:
    """At least ``min_classes`` of: upper-case letters, lower-case letters, digits, symbols."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    def validate(self, password, user=None):
        found = sum(1 for _name, test in CLASSES if any(test(c) for c in password))
        if found < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self):
        return _("The password must contain at least %(count)d of these four kinds of character: upper-case "
                 "letters, lower-case letters, digits and symbols.") % {"count": self.min_classes}


class UsernameNotContainedValidator:
    """The password may not contain the user name (whatever the case)."""

    def validate(self, password, user=None):
        username = (getattr(user, "username", "") or "").strip().lower()
        if username and username in password.lower():
            raise ValidationError(self.get_help_text(), code="password_contains_username")

    def get_help_text(self):
        return _("The password must not contain the user name.")


class PasswordHistoryValidator:
    """None of the user's last ``remember`` passwords (the current one included). Records each new
    password's hash and time when a password is set (``password_changed``)."""

    def __init__(self, remember: int = 5):
        self.remember = remember

    def validate(self, password, user=None):
        if user is None or user.pk is None:
            return
        from accounts.models import PasswordHistory

        recent = list(PasswordHistory.objects.filter(user_id=user.pk).values_list("password", flat=True)
                      [:self.remember])
        if user.password and user.password not in recent:
            recent = [user.password, *recent][:self.remember]
        if any(check_password(password, encoded) for encoded in recent if encoded):
            raise ValidationError(self.get_help_text(), code="password_reused")

    def password_changed(self, password, user=None):
        if user is None or user.pk is None:
            return
        password_set(user)

    def get_help_text(self):
        return ngettext("The password must differ from your last password.",
                        "The password must differ from your last %(count)d passwords.",
                        self.remember) % {"count": self.remember}


def remembered() -> int:
    for validator in settings.AUTH_PASSWORD_VALIDATORS:
        if validator["NAME"].endswith("PasswordHistoryValidator"):
            return int(validator.get("OPTIONS", {}).get("remember", 5))
    return 5


def password_set(user, now=None) -> None:
    """Record that ``user``'s password (already saved) was set now: its time, and its hash in the
    history (the oldest beyond what the policy remembers are dropped)."""
    from accounts.models import PasswordHistory, User

    now = now or timezone.now()
    User.objects.filter(pk=user.pk).update(password_changed_at=now)
    user.password_changed_at = now
    PasswordHistory.objects.create(user_id=user.pk, password=user.password, created_at=now)
    stale = PasswordHistory.objects.filter(user_id=user.pk).values_list("pk", flat=True)[remembered():]
    PasswordHistory.objects.filter(pk__in=list(stale)).delete()


def password_expired(user, now=None) -> bool:
    """Whether the user's password is older than ``PASSWORD_MAX_AGE_DAYS`` (never when 0)."""
    days = getattr(settings, "PASSWORD_MAX_AGE_DAYS", 0)
    if not days:
        return False
    changed = user.password_changed_at or user.date_joined
    if changed is None:
        return False
    return ((now or timezone.now()) - changed).total_seconds() >= days * 86400


def must_change(user, now=None) -> str | None:
    """Why the user must set a new password before anything else ("initial", "expired"), or None."""
    if user.must_change_password:
        return "initial"
    if password_expired(user, now):
        return "expired"
    return None
