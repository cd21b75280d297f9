from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    """Task ledgers (台账), assignments, progress and supervision."""

    name = "tasks"
    verbose_name = _("Task ledgers")

    def ready(self) -> None:
        from core.imports import registry
        from tasks import scoping  # noqa: F401  (registers the scoping functions)
        from tasks.imports.register import LedgerRegister

        registry.add(LedgerRegister())
