from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Scheduled reports")

    def ready(self) -> None:
        from reports import scoping  # noqa: F401  (registers the scoping functions)
