from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    """Unified finance: the working-day calendar and the 医保 global budget (more to come)."""

    name = "finance"
    verbose_name = _("Finance")

    def ready(self) -> None:
        from core import demo
        from core.imports import registry
        from finance import scoping  # noqa: F401  (registers the scoping functions)
        from finance.budget_register import BudgetRegister
        from finance.procurement_register import ProcurementRegister

        demo.register(demo.DemoPart(name="finance", loader="finance.demo.load_demo_part",
                                    needs=("organisation", "ledgers", "filings")))
        registry.add(BudgetRegister())
        registry.add(ProcurementRegister())
