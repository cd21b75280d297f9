from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffingConfig(AppConfig):
    """Unified staffing: establishment, posts, the roster, moves, recruitment, training, targets."""

    name = "staffing"
    verbose_name = _("Staffing")

    def ready(self) -> None:
        from staffing import scoping  # noqa: F401  (registers the scoping functions)
