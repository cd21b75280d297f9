from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    """Unified finance — built in a later issue."""

    name = "finance"
    verbose_name = _("Finance")
