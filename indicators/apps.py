from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IndicatorsConfig(AppConfig):
    """Report forms, filings, indicators and evaluation."""

    name = "indicators"
    verbose_name = _("Filing and indicators")

    def ready(self) -> None:
        from indicators import scoping, signals  # noqa: F401  (registers the scoping functions, the signals)
