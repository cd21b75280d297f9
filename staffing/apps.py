from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffingConfig(AppConfig):
    """Unified staffing: establishment, posts, the roster, moves, recruitment, training, targets."""

    name = "staffing"
    verbose_name = _("Staffing")

    def ready(self) -> None:
        from core import demo
        from core.imports import registry
        from staffing import scoping  # noqa: F401  (registers the scoping functions)
        from staffing.roster_register import RosterRegister

        registry.add(RosterRegister())

        demo.register(demo.DemoPart(
            name="staffing", loader="staffing.demo.load_demo_part", needs=("organisation", "ledgers", "filings"),
            skip_flag="--without-staffing",
            skip_help="Do not load the demo roster (about 6,000 people) and its monthly snapshots."))
