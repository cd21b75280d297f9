from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IndicatorsConfig(AppConfig):
    """Report forms, filings, indicators and evaluation."""

    name = "indicators"
    verbose_name = _("Filing and indicators")

    def ready(self) -> None:
        from core import demo
        from core.imports import registry
        from indicators import scoping, signals  # noqa: F401  (registers the scoping functions, the signals)
        from indicators.history_register import HistoryRegister

        registry.add(HistoryRegister())

        demo.register(demo.DemoPart(
            name="filings", loader="indicators.demo.load_demo_part", needs=("organisation",),
            skip_flag="--without-filings", skip_help="Do not load the report forms, indicators and demo filings."))
        from indicators import excel_register

        excel_register.register()  # the import API's registers "filing" and "alliance_filing"
