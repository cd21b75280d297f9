from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    """Task ledgers (台账), assignments, progress and supervision."""

    name = "tasks"
    verbose_name = _("Task ledgers")

    def ready(self) -> None:
        from core import demo
        from core.imports import registry
        from tasks import scoping  # noqa: F401  (registers the scoping functions)
        from tasks.imports.register import LedgerRegister

        registry.add(LedgerRegister())
        demo.register(demo.DemoPart(
            name="ledgers", loader="tasks.demo.load_demo_part", needs=("organisation",),
            skip_flag="--without-ledgers",
            skip_help="Load the organisation and logins only, not the demo task ledgers."))
