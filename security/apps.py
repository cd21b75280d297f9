from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    """Accounts a county runs itself: one's own account (password, two-factor, tokens), user
    management and grants, new counties, and the security log for auditors."""

    name = "security"
    verbose_name = _("Security")

    def ready(self) -> None:
        from core.imports import registry
        from security import access  # noqa: F401  (registers the scoping of accounts and the log)
        from security.import_register import UsersRegister

        registry.add(UsersRegister())  # the user accounts through the import API
