from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Scheduled reports")

    def ready(self) -> None:
        from core import demo
        from indicators.signals import filing_reviewed
        from reports import (
            alerts,
            scoping,  # noqa: F401  (registers the scoping functions)
            targets,
        )

        # A review that changes which figures count re-judges the county's indicator-backed task items
        # and its alert rules (预警) fed by that form.
        filing_reviewed.connect(targets.on_filing_reviewed, dispatch_uid="reports_targets_filing_reviewed")
        filing_reviewed.connect(alerts.on_filing_reviewed, dispatch_uid="reports_alerts_filing_reviewed")

        demo.register(demo.DemoPart(
            name="reports", loader="reports.demo.load_demo_part", needs=("organisation", "ledgers", "filings"),
            skip_flag="--without-reports",
            skip_help="Do not run the report schedule over the past months (the report archive stays empty)."))
