"""Users and grants. A user holds one or more grants ``(role, scope)``; the
scope is a region, an alliance or an institution. What a grant lets a user see
and change is decided in one place: ``alliances.scoping``."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    full_name = models.CharField(_("full name"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    # The county whose security administrator keeps this account (null: kept by superusers, e.g.
    # city and province users). Set when the account is made; grants may add other scopes.
    county = models.ForeignKey("alliances.Region", verbose_name=_("managed by county"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="managed_users")
    # After an initial or reset password the user can do nothing but set a new one.
    must_change_password = models.BooleanField(_("must change password"), default=False)
    # When the password was last set; its age decides the forced change (PASSWORD_MAX_AGE_DAYS).
    password_changed_at = models.DateTimeField(_("password changed at"), null=True, blank=True)
    # Accounts are never deleted (names stay in every history): they are deactivated, with a reason.
    deactivated_at = models.DateTimeField(_("deactivated at"), null=True, blank=True)
    deactivation_reason = models.CharField(_("deactivation reason"), max_length=200, blank=True)
    # The dormant-account rule counts from the last sign-in, the account's creation or this, the latest.
    reactivated_at = models.DateTimeField(_("reactivated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username


class Role(models.TextChoices):
    BUREAU_ADMIN = "bureau_admin", _("Bureau administrator")
    BUREAU_STAFF = "bureau_staff", _("Bureau staff")
    SUPERVISOR = "supervisor", _("Supervisor")
    ALLIANCE_ADMIN = "alliance_admin", _("Alliance office")
    INSTITUTION_FILER = "institution_filer", _("Institution filer")
    INSTITUTION_REVIEWER = "institution_reviewer", _("Institution reviewer")
    VIEWER = "viewer", _("Viewer")
    HR_OFFICER = "hr_officer", _("HR officer")
    # The security side (三员分立): accounts and grants; the security log; counties of the platform.
    SECURITY_ADMIN = "security_admin", _("Security administrator")
    AUDITOR = "auditor", _("Auditor")
    PLATFORM_ADMIN = "platform_admin", _("Platform administrator")


# Which kinds of scope each role may be granted on.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    Role.BUREAU_ADMIN: ("region",),
    Role.BUREAU_STAFF: ("region",),
    Role.SUPERVISOR: ("region",),
    Role.ALLIANCE_ADMIN: ("alliance",),
    Role.INSTITUTION_FILER: ("institution", "alliance"),
    Role.INSTITUTION_REVIEWER: ("institution", "alliance"),
    Role.VIEWER: ("region", "alliance", "institution"),
    Role.HR_OFFICER: ("region", "alliance", "institution"),
    Role.SECURITY_ADMIN: ("region",),
    Role.AUDITOR: ("region",),
    Role.PLATFORM_ADMIN: ("region",),
}

# Roles whose grant gives no business data, only their security function.
SECURITY_ROLES = frozenset({Role.SECURITY_ADMIN, Role.AUDITOR, Role.PLATFORM_ADMIN})
# Roles that must use two-factor sign-in when PORTAL_REQUIRE_2FA is on (superusers too).
TWO_FACTOR_ROLES = frozenset({Role.BUREAU_ADMIN, Role.SECURITY_ADMIN, Role.HR_OFFICER})


class Grant(models.Model):
    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="grants")
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    region = models.ForeignKey("alliances.Region", verbose_name=_("region"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="grants")
    alliance = models.ForeignKey("alliances.Alliance", verbose_name=_("alliance"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="grants")
    institution = models.ForeignKey("alliances.Institution", verbose_name=_("institution"), null=True, blank=True,
                                    on_delete=models.CASCADE, related_name="grants")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(region__isnull=False, alliance__isnull=True, institution__isnull=True)
                    | Q(region__isnull=True, alliance__isnull=False, institution__isnull=True)
                    | Q(region__isnull=True, alliance__isnull=True, institution__isnull=False)
                ),
                name="grant_exactly_one_scope",
                violation_error_message=_("A grant has exactly one scope: a region, an alliance or an institution."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.scope}"

    @property
    def scope(self):
        return self.region or self.alliance or self.institution

    @property
    def scope_kind(self) -> str:
        if self.region_id:
            return "region"
        if self.alliance_id:
            return "alliance"
        return "institution"

    def clean(self) -> None:
        set_scopes = [s for s in ("region", "alliance", "institution") if getattr(self, f"{s}_id")]
        if len(set_scopes) != 1:
            raise ValidationError(_("A grant has exactly one scope: a region, an alliance or an institution."))
        allowed = ROLE_SCOPES.get(self.role, ())
        if set_scopes[0] not in allowed:
            raise ValidationError(
                _("The role %(role)s cannot be granted on a %(scope)s.")
                % {"role": self.get_role_display(), "scope": {"region": _("region"), "alliance": _("alliance"),
                                                              "institution": _("institution")}[set_scopes[0]]}
            )


class PasswordHistory(models.Model):
    """The hashes of a user's recent passwords, so that none of the last few is used again."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "-created_at"], name="pwhistory_user_recent")]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.created_at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A named API credential of one user. Only a digest of the key is kept: the key is shown once,
    when it is made. ``Authorization: Token <key>``."""

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=60)
    prefix = models.CharField(_("key begins"), max_length=8)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
